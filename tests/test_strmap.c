/* test_strmap.c - the byte-string hash table behind pub/sub and client tracking: binary keys,
 * growth, deleting the entry an iteration just returned, random picks. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

Test(strmap, binary_keys_and_the_empty_key_are_distinct) {
    strmap *m = strmap_new();
    cr_assert_not_null(m);
    int a = 1, b = 2, e = 3;
    cr_assert_eq(strmap_add(m, "a\0b", 3, &a), 1);
    cr_assert_eq(strmap_add(m, "a\0c", 3, &b), 1);
    cr_assert_eq(strmap_add(m, "", 0, &e), 1);
    cr_assert_eq(strmap_add(m, "a\0b", 3, &b), 0, "present: not replaced");
    void *v = NULL;
    cr_assert(strmap_find(m, "a\0b", 3, &v));
    cr_assert_eq(v, &a);
    cr_assert(strmap_find(m, "", 0, &v));
    cr_assert_eq(v, &e);
    cr_assert_not(strmap_find(m, "a", 1, NULL), "a prefix is another key");
    cr_assert_eq(strmap_set(m, "a\0b", 3, &e), 0, "set replaces");
    cr_assert(strmap_find(m, "a\0b", 3, &v));
    cr_assert_eq(v, &e);
    cr_assert_eq(strmap_size(m), 3);
    strmap_free(m, NULL);
}

Test(strmap, growth_keeps_every_entry) {
    strmap *m = strmap_new();
    char k[32];
    for (long i = 0; i < 20000; i++) {
        int n = snprintf(k, sizeof k, "key:%ld", i);
        cr_assert_eq(strmap_add(m, k, (size_t)n, (void *)(intptr_t)(i + 1)), 1);
    }
    cr_assert_eq(strmap_size(m), 20000);
    for (long i = 0; i < 20000; i++) {
        int n = snprintf(k, sizeof k, "key:%ld", i);
        void *v;
        cr_assert(strmap_find(m, k, (size_t)n, &v));
        cr_assert_eq((intptr_t)v, i + 1);
    }
    strmap_free(m, NULL);
}

static int freed;
static void count_free(void *v) {
    freed++;
    free(v);
}

Test(strmap, deleting_the_returned_entry_during_iteration) {
    strmap *m = strmap_new();
    char k[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(k, sizeof k, "%d", i);
        cr_assert_eq(strmap_add(m, k, (size_t)n, malloc(8)), 1);
    }
    strmap_iter it = {0};
    const char *key;
    size_t len;
    void *v;
    int seen = 0;
    while (strmap_next(m, &it, &key, &len, &v)) {
        seen++;
        char copy[32];
        memcpy(copy, key, len);
        free(v);
        cr_assert(strmap_del(m, copy, len, NULL)); /* the entry key points into goes */
    }
    cr_assert_eq(seen, 1000, "every entry visited once");
    cr_assert_eq(strmap_size(m), 0);
    /* an emptied table is usable again */
    cr_assert_eq(strmap_add(m, "x", 1, malloc(8)), 1);
    freed = 0;
    strmap_free(m, count_free);
    cr_assert_eq(freed, 1);
}

Test(strmap, random_picks_reach_every_entry) {
    strmap *m = strmap_new();
    const char *keys[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) strmap_add(m, keys[i], 1, NULL);
    int hit[5] = {0};
    uint64_t r = 88172645463325252ull;
    for (int i = 0; i < 2000; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        const char *k;
        size_t len;
        cr_assert(strmap_random(m, r, &k, &len, NULL));
        cr_assert_eq(len, 1);
        hit[k[0] - 'a']++;
    }
    for (int i = 0; i < 5; i++) cr_assert_gt(hit[i], 0, "key %s never picked", keys[i]);
    strmap *empty = strmap_new();
    cr_assert_not(strmap_random(empty, 1, NULL, NULL, NULL));
    strmap_free(empty, NULL);
    strmap_free(m, NULL);
}
