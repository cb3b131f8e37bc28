/* test_crc32c.c - CRC-32C vectors, streaming, masking, hardware == portable. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"

uint32_t crc32c_extend_portable(uint32_t init, const void *data, size_t n);

Test(crc32c, check_value_123456789) {
    cr_assert_eq(crc32c("123456789", 9), 0xE3069283u);
    cr_assert_eq(crc32c_extend_portable(0, "123456789", 9), 0xE3069283u);
}

Test(crc32c, thirty_two_zero_bytes) {
    char b[32];
    memset(b, 0, sizeof b);
    cr_assert_eq(crc32c(b, 32), 0x8A9136AAu);
    cr_assert_eq(crc32c_extend_portable(0, b, 32), 0x8A9136AAu);
}

Test(crc32c, thirty_two_ff_bytes) {
    char b[32];
    memset(b, 0xff, sizeof b);
    cr_assert_eq(crc32c(b, 32), 0x62A8AB43u);
    cr_assert_eq(crc32c_extend_portable(0, b, 32), 0x62A8AB43u);
}

Test(crc32c, ascending_and_descending_bytes) {
    unsigned char b[32];
    for (int i = 0; i < 32; i++) b[i] = (unsigned char)i;
    cr_assert_eq(crc32c(b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) b[i] = (unsigned char)(31 - i);
    cr_assert_eq(crc32c(b, 32), 0x113FDB5Cu);
}

Test(crc32c, empty_input_is_zero) {
    cr_assert_eq(crc32c("", 0), 0u);
    cr_assert_eq(crc32c_extend(0x1234, "", 0), 0x1234u);
}

Test(crc32c, extend_of_every_split_equals_one_shot) {
    unsigned char b[301];
    for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)(i * 131 + 7);
    for (size_t off = 0; off < 16; off++) { /* also every alignment of the start */
        size_t n = sizeof b - off;
        uint32_t whole = crc32c(b + off, n);
        for (size_t cut = 0; cut <= n; cut++) {
            uint32_t c = crc32c_extend(crc32c(b + off, cut), b + off + cut, n - cut);
            cr_assert_eq(c, whole, "off %zu cut %zu", off, cut);
        }
    }
}

Test(crc32c, hardware_and_portable_agree_at_every_length_and_alignment) {
    unsigned char b[600];
    for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)((i * 2654435761u) >> 13);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= sizeof b; n += (n < 40 ? 1 : 37))
            cr_assert_eq(crc32c_extend(7, b + off, n), crc32c_extend_portable(7, b + off, n));
}

Test(crc32c, mask_round_trip_and_mask_changes_value) {
    uint32_t vals[] = {0, 1, 0xffffffffu, 0xE3069283u, 0x80000000u, 0xa282ead8u};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint32_t c = vals[i];
        cr_assert_neq(crc32c_mask(c), c);
        cr_assert_eq(crc32c_unmask(crc32c_mask(c)), c);
        cr_assert_neq(crc32c_mask(crc32c_mask(c)), crc32c_mask(c));
    }
}
