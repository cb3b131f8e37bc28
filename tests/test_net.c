/* test_net.c - the connection-admission rules that are pure functions: which peer addresses
 * count as local (Redis 7.0's islocalClient) and the protected-mode decision. */
#include <criterion/criterion.h>
#include <string.h>

#include "net.h"

Test(net, loopback_is_exactly_127_0_0_1_and_ipv6_1)
{
    cr_assert(net_ip_is_loopback("127.0.0.1"));
    cr_assert(net_ip_is_loopback("::1"));
    /* Redis compares the text: the rest of 127/8 and v4-mapped loopback are remote */
    cr_assert_not(net_ip_is_loopback("127.0.0.2"));
    cr_assert_not(net_ip_is_loopback("127.1.2.3"));
    cr_assert_not(net_ip_is_loopback("::ffff:127.0.0.1"));
    cr_assert_not(net_ip_is_loopback("192.0.2.2"));
    cr_assert_not(net_ip_is_loopback("0.0.0.0"));
    cr_assert_not(net_ip_is_loopback(""));
    cr_assert_not(net_ip_is_loopback(NULL));
}

Test(net, protected_mode_refuses_only_remote_clients_without_password)
{
    /* protected mode on, no password: remote refused, loopback accepted */
    cr_assert(net_protected_mode_refuses(1, 0, "192.0.2.2"));
    cr_assert(net_protected_mode_refuses(1, 0, "127.0.0.2"));
    cr_assert(net_protected_mode_refuses(1, 0, "2001:db8::1"));
    cr_assert_not(net_protected_mode_refuses(1, 0, "127.0.0.1"));
    cr_assert_not(net_protected_mode_refuses(1, 0, "::1"));
    /* a password, or protected mode off: everyone may connect (and AUTH) */
    cr_assert_not(net_protected_mode_refuses(1, 1, "192.0.2.2"));
    cr_assert_not(net_protected_mode_refuses(0, 0, "192.0.2.2"));
    cr_assert_not(net_protected_mode_refuses(0, 1, "192.0.2.2"));
}

Test(net, denied_message_is_one_redis_error_line)
{
    const char *m = NET_DENIED_MSG;
    size_t n = strlen(m);
    cr_assert(strncmp(m, "-DENIED Redis is running in protected mode", 42) == 0);
    cr_assert(n > 2 && m[n - 2] == '\r' && m[n - 1] == '\n');
    cr_assert_null(memchr(m, '\n', n - 1), "a single line");
    cr_assert_eq(n, 1067, "Redis 7.0's message is 1067 bytes with its CRLF");
}
