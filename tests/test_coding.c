/* test_coding.c - fixed-width LE/BE and varint encodings at their boundaries. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "coding.h"

Test(coding, fixed32_fixed64_little_endian_layout) {
    char b[8];
    encode_fixed32(b, 0x04030201u);
    cr_assert(memcmp(b, "\x01\x02\x03\x04", 4) == 0);
    cr_assert_eq(decode_fixed32(b), 0x04030201u);
    encode_fixed64(b, 0x0807060504030201ull);
    cr_assert(memcmp(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
    cr_assert_eq(decode_fixed64(b), 0x0807060504030201ull);
    encode_fixed64(b, UINT64_MAX);
    cr_assert_eq(decode_fixed64(b), UINT64_MAX);
    encode_fixed32(b, 0xffffffffu);
    cr_assert_eq(decode_fixed32(b), 0xffffffffu);
}

Test(coding, fixed64_big_endian_sorts_bytewise) {
    char a[8], b[8];
    uint64_t vals[] = {0, 1, 255, 256, 65535, 1ull << 32, (1ull << 63) - 1, 1ull << 63, UINT64_MAX};
    size_t n = sizeof vals / sizeof vals[0];
    for (size_t i = 0; i < n; i++) {
        encode_fixed64_be(a, vals[i]);
        cr_assert_eq(decode_fixed64_be(a), vals[i]);
        if (i + 1 < n) {
            encode_fixed64_be(b, vals[i + 1]);
            cr_assert_lt(memcmp(a, b, 8), 0);
        }
    }
    encode_fixed64_be(a, 0x0102030405060708ull);
    cr_assert(memcmp(a, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
}

/* Every value 2^(7k)-1 / 2^(7k) is a length boundary; also 2^63 and UINT64_MAX. */
Test(coding, varint64_round_trip_at_every_length_boundary) {
    for (int k = 1; k <= 9; k++) {
        uint64_t edge = (uint64_t)1 << (7 * k);
        uint64_t cases[] = {edge - 1, edge, edge + 1};
        size_t want[] = {(size_t)k, (size_t)k + 1, (size_t)k + 1};
        for (int c = 0; c < 3; c++) {
            char b[10];
            size_t n = encode_varint64(b, cases[c]);
            cr_assert_eq(n, want[c], "value %llu", (unsigned long long)cases[c]);
            cr_assert_eq(varint_length(cases[c]), n);
            uint64_t v = 0;
            cr_assert_eq(decode_varint64(b, b + n, &v), b + n);
            cr_assert_eq(v, cases[c]);
        }
    }
    uint64_t big[] = {0, 1, 127, 128, (uint64_t)1 << 63, ((uint64_t)1 << 63) - 1, UINT64_MAX};
    size_t blen[] = {1, 1, 1, 2, 10, 9, 10};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        char b[10];
        size_t n = encode_varint64(b, big[i]);
        cr_assert_eq(n, blen[i]);
        uint64_t v;
        cr_assert_eq(decode_varint64(b, b + n, &v), b + n);
        cr_assert_eq(v, big[i]);
    }
}

Test(coding, varint_truncated_input_returns_null_at_every_cut) {
    uint64_t vals[] = {128, 300, (uint64_t)1 << 35, (uint64_t)1 << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char b[10];
        size_t n = encode_varint64(b, vals[i]);
        for (size_t cut = 0; cut < n; cut++) {
            uint64_t v;
            cr_assert_null(decode_varint64(b, b + cut, &v), "value %zu cut %zu", i, cut);
        }
    }
    uint64_t v;
    cr_assert_null(decode_varint64("", (const char *)"", &v));
}

Test(coding, varint_overlong_eleven_bytes_returns_null) {
    char b[11];
    memset(b, 0x80, sizeof b);
    b[10] = 0;
    uint64_t v;
    cr_assert_null(decode_varint64(b, b + 11, &v));
}

Test(coding, varint32_boundaries_and_overflow) {
    char b[10];
    uint32_t v;
    size_t n = encode_varint32(b, UINT32_MAX);
    cr_assert_eq(n, 5);
    cr_assert_eq(decode_varint32(b, b + n, &v), b + n);
    cr_assert_eq(v, UINT32_MAX);
    n = encode_varint64(b, (uint64_t)UINT32_MAX + 1);
    cr_assert_null(decode_varint32(b, b + n, &v));
    n = encode_varint32(b, 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(decode_varint32(b, b + n, &v), b + 1);
    cr_assert_eq(v, 0);
}

Test(coding, varint_decode_stops_at_terminator_not_limit) {
    char b[16];
    size_t n = encode_varint64(b, 1000);
    b[n] = 0x7f; /* following byte must not be consumed */
    uint64_t v;
    cr_assert_eq(decode_varint64(b, b + n + 1, &v), b + n);
    cr_assert_eq(v, 1000);
}
