/* test_version.c - version edits and MANIFEST replay: encode/decode round trip, edits applied in
 * order, CURRENT switch to a new MANIFEST, torn MANIFEST tail, L0 ordering by sequence. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbformat.h"
#include "version.h"

static char dir[256];

static void setup(void) {
    snprintf(dir, sizeof(dir), "/tmp/kevo_version_XXXXXX");
    cr_assert(mkdtemp(dir));
}
static void teardown(void) {
    DIR *dd = opendir(dir);
    struct dirent *de;
    char p[512];
    while (dd && (de = readdir(dd))) {
        if (de->d_name[0] == '.') continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (dd) closedir(dd);
    rmdir(dir);
}

TestSuite(version, .init = setup, .fini = teardown, .timeout = 30);

static file_meta *mk(uint64_t num, const char *lo, const char *hi, uint64_t minseq, uint64_t maxseq) {
    char a[64], b[64];
    size_t al = ikey_encode(a, lo, strlen(lo), maxseq, KIND_VALUE);
    size_t bl = ikey_encode(b, hi, strlen(hi), minseq, KIND_VALUE);
    file_meta *f = file_meta_new(num, 1000 + num, a, al, b, bl, minseq, maxseq);
    cr_assert_not_null(f);
    return f;
}

static int has_file(version *v, int level, uint64_t num) {
    for (int i = 0; i < v->nfiles[level]; i++)
        if (v->files[level][i]->number == num) return 1;
    return 0;
}

/* Found by fuzz/fuzz_manifest.c: an edit with no fields encodes to no bytes (edit_encode gives
 * a NULL buffer of length 0), and decoding that did arithmetic on the NULL pointer (undefined
 * behaviour, reported by clang's UBSan in the fuzz build; gcc's does not flag NULL + 0). An
 * empty record is an empty edit. */
Test(version, empty_edit_round_trip) {
    version_edit e, d;
    edit_init(&e);
    edit_init(&d);
    char *buf = NULL;
    size_t len = 1;
    cr_assert_eq(edit_encode(&e, &buf, &len), 0);
    cr_assert_eq(len, 0);
    cr_assert_eq(edit_decode(&d, buf, len), 0);
    cr_assert_eq(edit_decode(&d, NULL, 0), 0);
    cr_assert(!d.has_log_number && !d.has_next_file && !d.has_last_seq && !d.has_counters);
    cr_assert_eq(d.nadded, 0);
    cr_assert_eq(d.ndeleted, 0);
    free(buf);
    edit_free(&d);
}

Test(version, edit_encode_decode_round_trip) {
    version_edit e, d;
    edit_init(&e);
    edit_init(&d);
    e.has_log_number = 1; e.log_number = 17;
    e.has_next_file = 1; e.next_file = 99;
    e.has_last_seq = 1; e.last_seq = 123456789;
    e.has_counters = 1; e.counters[0] = -5; e.counters[63] = 1ll << 40;
    file_meta *f = mk(12, "apple", "mango", 3, 9);
    cr_assert_eq(edit_add_file(&e, 2, f), 0);
    cr_assert_eq(edit_delete_file(&e, 1, 7), 0);
    char *buf; size_t len;
    cr_assert_eq(edit_encode(&e, &buf, &len), 0);
    cr_assert_eq(edit_decode(&d, buf, len), 0);
    cr_assert_eq(d.log_number, 17);
    cr_assert_eq(d.next_file, 99);
    cr_assert_eq(d.last_seq, 123456789);
    cr_assert_eq(d.counters[0], -5);
    cr_assert_eq(d.counters[63], 1ll << 40);
    cr_assert_eq(d.nadded, 1);
    cr_assert_eq(d.added[0].level, 2);
    cr_assert_eq(d.added[0].f->number, 12);
    cr_assert_eq(d.added[0].f->size, 1012);
    cr_assert_eq(d.added[0].f->min_seq, 3);
    cr_assert_eq(d.added[0].f->max_seq, 9);
    cr_assert_eq(d.added[0].f->smallest_len, f->smallest_len);
    cr_assert_eq(memcmp(d.added[0].f->largest, f->largest, f->largest_len), 0);
    cr_assert_eq(d.ndeleted, 1);
    cr_assert_eq(d.deleted[0].number, 7);
    /* truncated input is corruption, not a crash */
    version_edit t;
    edit_init(&t);
    cr_assert_eq(edit_decode(&t, buf, len - 3), LSM_ECORRUPT);
    for (int i = 0; i < t.nadded; i++) file_meta_free(t.added[i].f);
    edit_free(&t);
    free(buf);
    file_meta_free(d.added[0].f);
    edit_free(&d);
    file_meta_free(f);
    edit_free(&e);
}

static version_set *open_vs(int expect_found) {
    version_set *vs = vset_new(dir, 7);
    cr_assert_not_null(vs);
    int found = -1;
    cr_assert_eq(vset_recover(vs, &found), 0, "%s", vs->errmsg);
    cr_assert_eq(found, expect_found);
    return vs;
}

Test(version, manifest_replays_edits_in_order) {
    version_set *vs = open_vs(0);
    cr_assert_eq(vset_write_snapshot(vs), 0);
    version_edit e;
    edit_init(&e);
    edit_add_file(&e, 0, mk(10, "a", "m", 1, 10));
    edit_add_file(&e, 0, mk(11, "c", "z", 11, 20));
    e.has_log_number = 1; e.log_number = 9;
    e.has_last_seq = 1; e.last_seq = 20;
    e.has_counters = 1; e.counters[1] = 42;
    cr_assert_eq(vset_log_and_apply(vs, &e), 0);
    edit_free(&e);
    /* L0 newest first by sequence, not by number */
    cr_assert_eq(vs->current->files[0][0]->number, 11);
    edit_init(&e);
    edit_delete_file(&e, 0, 10);
    edit_delete_file(&e, 0, 11);
    edit_add_file(&e, 1, mk(13, "n", "z", 1, 20));
    edit_add_file(&e, 1, mk(12, "a", "m", 1, 20));
    e.has_log_number = 1; e.log_number = 14;
    e.has_counters = 1; e.counters[1] = 43;
    cr_assert_eq(vset_log_and_apply(vs, &e), 0);
    edit_free(&e);
    vset_free(vs);

    vs = open_vs(1);
    version *v = vs->current;
    cr_assert_eq(v->nfiles[0], 0);
    cr_assert_eq(v->nfiles[1], 2);
    cr_assert_eq(v->files[1][0]->number, 12, "level 1 sorted by key");
    cr_assert_eq(v->files[1][1]->number, 13);
    cr_assert_eq(vs->log_number, 14);
    cr_assert_eq(vs->last_seq, 20);
    cr_assert_eq(vs->counters[1], 43);
    cr_assert_geq(atomic_load(&vs->next_file), 15);
    cr_assert_eq(version_find_file(v, 1, "b", 1), 0);
    cr_assert_eq(version_find_file(v, 1, "p", 1), 1);
    cr_assert_eq(version_key_may_exist_below(v, 0, "b", 1), 1);
    cr_assert_eq(version_key_may_exist_below(v, 1, "b", 1), 0);
    vset_free(vs);
}

static int count_manifests(void) {
    DIR *dd = opendir(dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(dd))) n += strncmp(de->d_name, "MANIFEST-", 9) == 0;
    closedir(dd);
    return n;
}

Test(version, current_switches_to_new_manifest) {
    version_set *vs = open_vs(0);
    cr_assert_eq(vset_write_snapshot(vs), 0);
    version_edit e;
    edit_init(&e);
    edit_add_file(&e, 2, mk(5, "k", "q", 1, 2));
    cr_assert_eq(vset_log_and_apply(vs, &e), 0);
    edit_free(&e);
    uint64_t first = vs->manifest_number;
    cr_assert_eq(vset_write_snapshot(vs), 0);
    cr_assert_neq(vs->manifest_number, first);
    cr_assert_eq(count_manifests(), 1, "the old MANIFEST is removed");
    char path[512], buf[64] = {0};
    snprintf(path, sizeof(path), "%s/CURRENT", dir);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_gt(read(fd, buf, sizeof(buf) - 1), 0);
    close(fd);
    char want[64];
    snprintf(want, sizeof(want), "MANIFEST-%06llu\n", (unsigned long long)vs->manifest_number);
    cr_assert_str_eq(buf, want);
    vset_free(vs);
    vs = open_vs(1);
    cr_assert_eq(vs->current->nfiles[2], 1);
    cr_assert(has_file(vs->current, 2, 5));
    vset_free(vs);
}

Test(version, torn_manifest_tail_is_ignored) {
    version_set *vs = open_vs(0);
    cr_assert_eq(vset_write_snapshot(vs), 0);
    version_edit e;
    edit_init(&e);
    edit_add_file(&e, 1, mk(20, "a", "b", 1, 1));
    cr_assert_eq(vset_log_and_apply(vs, &e), 0);
    edit_free(&e);
    edit_init(&e);
    edit_add_file(&e, 1, mk(21, "c", "d", 2, 2));
    cr_assert_eq(vset_log_and_apply(vs, &e), 0);
    edit_free(&e);
    char path[512];
    snprintf(path, sizeof(path), "%s/MANIFEST-%06llu", dir, (unsigned long long)vs->manifest_number);
    vset_free(vs);
    /* cut the last record in half: an edit whose write never completed */
    int fd = open(path, O_RDWR);
    off_t size = lseek(fd, 0, SEEK_END);
    cr_assert_eq(ftruncate(fd, size - 10), 0);
    close(fd);
    vs = open_vs(1);
    cr_assert(has_file(vs->current, 1, 20));
    cr_assert_not(has_file(vs->current, 1, 21));
    vset_free(vs);
}

Test(version, level0_overlap_widens_range) {
    version_set *vs = open_vs(0);
    version_edit e;
    edit_init(&e);
    edit_add_file(&e, 0, mk(1, "a", "c", 1, 1));
    edit_add_file(&e, 0, mk(2, "b", "f", 2, 2));
    edit_add_file(&e, 0, mk(3, "x", "z", 3, 3));
    cr_assert_eq(vset_log_and_apply(vs, &e), 0); /* no MANIFEST: in-memory only */
    edit_free(&e);
    file_meta **ov;
    int n = version_overlapping(vs->current, 0, "a", 1, "a", 1, &ov);
    cr_assert_eq(n, 2, "a..c overlaps b..f");
    free(ov);
    n = version_overlapping(vs->current, 0, NULL, 0, NULL, 0, &ov);
    cr_assert_eq(n, 3);
    free(ov);
    vset_free(vs);
}

/* A file number at the top of the range (found by fuzz_manifest: 2^64-1 made next_file wrap, so
 * a live table's number was not below it) is corruption, as are log and next-file numbers there. */
Test(version, edit_with_a_file_number_beyond_the_range_is_corrupt) {
    version_edit e;
    edit_init(&e);
    char k[9] = "a";
    file_meta *f = file_meta_new(VSET_MAX_FILE_NUMBER, 100, k, 9, k, 9, 1, 1);
    cr_assert_eq(edit_add_file(&e, 1, f), 0);
    char *buf;
    size_t len;
    cr_assert_eq(edit_encode(&e, &buf, &len), 0);
    version_edit d;
    edit_init(&d);
    cr_assert_eq(edit_decode(&d, buf, len), LSM_ECORRUPT);
    edit_free_added(&d);
    edit_free(&d);
    free(buf);
    edit_free_added(&e);
    edit_free(&e);
    edit_init(&e);
    e.has_log_number = 1;
    e.log_number = VSET_MAX_FILE_NUMBER;
    cr_assert_eq(edit_encode(&e, &buf, &len), 0);
    edit_init(&d);
    cr_assert_eq(edit_decode(&d, buf, len), LSM_ECORRUPT);
    edit_free(&d);
    free(buf);
    edit_free(&e);
}

static void free_decoded(version_edit *d) {
    for (int i = 0; i < d->nadded; i++) file_meta_free(d->added[i].f);
    edit_free(d);
}

/* Tag 7: a table's DELETE count rides after its added-file field; a MANIFEST written before
 * the tag existed decodes with the count unknown. */
Test(version, deletions_tag_round_trip_and_older_edits_decode_as_unknown) {
    version_edit e, d;
    edit_init(&e);
    edit_init(&d);
    file_meta *known = mk(12, "apple", "mango", 3, 9);
    known->num_entries = 40;
    known->num_deletions = 25;
    known->deletions_known = 1;
    file_meta *unknown = mk(13, "nut", "zebra", 10, 11);
    unknown->num_entries = 5;
    cr_assert_eq(edit_add_file(&e, 2, known), 0);
    cr_assert_eq(edit_add_file(&e, 2, unknown), 0);
    char *buf; size_t len;
    cr_assert_eq(edit_encode(&e, &buf, &len), 0);
    cr_assert_eq(edit_decode(&d, buf, len), 0);
    cr_assert_eq(d.nadded, 2);
    cr_assert(d.added[0].f->deletions_known);
    cr_assert_eq(d.added[0].f->num_deletions, 25);
    cr_assert_eq(d.added[0].f->num_entries, 40);
    cr_assert(!d.added[1].f->deletions_known, "no tag 7 written for an unknown count");
    free_decoded(&d);
    free(buf);

    /* an edit as the engine wrote it before tag 7: deletions unknown */
    known->deletions_known = 0;
    cr_assert_eq(edit_encode(&e, &buf, &len), 0);
    edit_init(&d);
    cr_assert_eq(edit_decode(&d, buf, len), 0);
    cr_assert(!d.added[0].f->deletions_known && !d.added[1].f->deletions_known);
    free_decoded(&d);
    free(buf);
    file_meta_free(known);
    file_meta_free(unknown);
    edit_free(&e);
}

/* A tag 7 that does not follow the added file it names, or counts more deletes than the file
 * has entries, is corruption. */
Test(version, deletions_tag_misplaced_or_too_large_is_corrupt) {
    char rec[64];
    size_t n = 0;
    /* alone, with no added file before it */
    rec[n++] = 7; rec[n++] = 12; rec[n++] = 1;
    version_edit d;
    edit_init(&d);
    cr_assert_eq(edit_decode(&d, rec, n), LSM_ECORRUPT);
    free_decoded(&d);

    version_edit e;
    edit_init(&e);
    file_meta *f = mk(12, "a", "b", 1, 2);
    f->num_entries = 3;
    cr_assert_eq(edit_add_file(&e, 1, f), 0);
    char *buf; size_t len;
    cr_assert_eq(edit_encode(&e, &buf, &len), 0);
    char big[256];
    memcpy(big, buf, len);
    size_t bl = len;
    big[bl++] = 7; big[bl++] = 13; big[bl++] = 1; /* names another file */
    edit_init(&d);
    cr_assert_eq(edit_decode(&d, big, bl), LSM_ECORRUPT);
    free_decoded(&d);
    bl = len;
    big[bl++] = 7; big[bl++] = 12; big[bl++] = 4; /* 4 deletes of 3 entries */
    edit_init(&d);
    cr_assert_eq(edit_decode(&d, big, bl), LSM_ECORRUPT);
    free_decoded(&d);
    bl = len;
    big[bl++] = 3; big[bl++] = 5;                  /* another field in between */
    big[bl++] = 7; big[bl++] = 12; big[bl++] = 2;
    edit_init(&d);
    cr_assert_eq(edit_decode(&d, big, bl), LSM_ECORRUPT);
    free_decoded(&d);
    bl = len;
    big[bl++] = 7; big[bl++] = 12; big[bl++] = 3; /* all deletes: fine */
    edit_init(&d);
    cr_assert_eq(edit_decode(&d, big, bl), 0);
    cr_assert(d.added[0].f->deletions_known);
    cr_assert_eq(d.added[0].f->num_deletions, 3);
    free_decoded(&d);
    free(buf);
    file_meta_free(f);
    edit_free(&e);
}
