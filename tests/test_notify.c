/* test_notify.c - notify-keyspace-events: every class letter, Redis's canonical CONFIG GET form
 * (A folds g$lshzxetd and hides n, K E m last), invalid characters. */
#include <criterion/criterion.h>
#include <string.h>

#include "notify.h"

static const char *canon(const char *s) {
    static char buf[32];
    int f = notify_flags_parse(s);
    cr_assert_geq(f, 0, "'%s' parses", s);
    notify_flags_format(f, buf);
    return buf;
}

Test(notify_flags, every_letter_maps_to_its_class) {
    cr_assert_eq(notify_flags_parse("K"), NOTIFY_KEYSPACE);
    cr_assert_eq(notify_flags_parse("E"), NOTIFY_KEYEVENT);
    cr_assert_eq(notify_flags_parse("g"), NOTIFY_GENERIC);
    cr_assert_eq(notify_flags_parse("$"), NOTIFY_STRING);
    cr_assert_eq(notify_flags_parse("l"), NOTIFY_LIST);
    cr_assert_eq(notify_flags_parse("s"), NOTIFY_SET);
    cr_assert_eq(notify_flags_parse("h"), NOTIFY_HASH);
    cr_assert_eq(notify_flags_parse("z"), NOTIFY_ZSET);
    cr_assert_eq(notify_flags_parse("x"), NOTIFY_EXPIRED);
    cr_assert_eq(notify_flags_parse("e"), NOTIFY_EVICTED);
    cr_assert_eq(notify_flags_parse("t"), NOTIFY_STREAM);
    cr_assert_eq(notify_flags_parse("m"), NOTIFY_KEY_MISS);
    cr_assert_eq(notify_flags_parse("d"), NOTIFY_MODULE);
    cr_assert_eq(notify_flags_parse("n"), NOTIFY_NEW);
    cr_assert_eq(notify_flags_parse("A"), NOTIFY_ALL);
    cr_assert_eq(notify_flags_parse(""), 0);
}

Test(notify_flags, invalid_characters_are_refused) {
    cr_assert_eq(notify_flags_parse("KEa"), -1, "letters are case-sensitive");
    cr_assert_eq(notify_flags_parse("K E"), -1);
    cr_assert_eq(notify_flags_parse("!"), -1);
    cr_assert_str_eq(NOTIFY_INVALID_MSG, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
}

Test(notify_flags, canonical_form_as_config_get_shows_it) {
    cr_assert_str_eq(canon(""), "");
    cr_assert_str_eq(canon("KEA"), "AKE");
    cr_assert_str_eq(canon("EKA"), "AKE");
    cr_assert_str_eq(canon("Kg$lshzxetd"), "AK", "all the type letters are A");
    cr_assert_str_eq(canon("Kg$lshzxet"), "g$lshzxetK", "without d it is not A");
    cr_assert_str_eq(canon("mEzK"), "zKEm");
    cr_assert_str_eq(canon("nm"), "nm");
    cr_assert_str_eq(canon("AKEn"), "AKE", "n is not shown next to A (as Redis)");
    cr_assert_str_eq(canon("AAAA"), "A");
    cr_assert_str_eq(canon("xKx"), "xK");
}

Test(notify_flags, a_excludes_new_and_key_miss) {
    int a = notify_flags_parse("A");
    cr_assert_eq(a & NOTIFY_NEW, 0);
    cr_assert_eq(a & NOTIFY_KEY_MISS, 0);
    cr_assert_eq(a & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT), 0, "A names classes, not channels");
}
