/* fuzz_manifest.c - libFuzzer target for MANIFEST reading (src/lsm/version.c): version-edit
 * decoding (edit_decode) and recovery of the version set (vset_recover) from a directory
 * holding CURRENT and the MANIFEST it names.
 *
 * Input: mode(1) || rest. mode bits 0-1:
 *   0 edit:    the rest is one version-edit record. If edit_decode accepts it, encoding the
 *              result and decoding that again gives the same edit (every field, in order);
 *   1 raw:     the rest is the MANIFEST file (log format) as is;
 *   2, 3 framed: the rest is a list of edit records (u16 length || bytes) written into the
 *              MANIFEST with the real log writer, so mutations reach the edits behind the log
 *              CRCs.
 * mode bits 2-4: the version set's level count (2 + n % 6), so edits may name a level >= it.
 * Recovery invariants: LSM_ECORRUPT / LSM_EIO come with a message in errmsg (a clear error,
 * never a crash); on success found = 1, L0 is ordered newest first, levels >= 1 by smallest
 * key, level_bytes is the sum of the sizes, and the next file number is above every live file,
 * the MANIFEST and the log number (new files never reuse a live number). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbformat.h"
#include "fuzz_util.h"
#include "lsm.h"
#include "version.h"
#include "wal.h"

static int same_file(const edit_file *a, const edit_file *b, int added) {
    if (a->level != b->level) return 0;
    if (!added) return a->number == b->number;
    const file_meta *x = a->f, *y = b->f;
    return x->number == y->number && x->size == y->size && x->min_seq == y->min_seq &&
           x->max_seq == y->max_seq && x->num_entries == y->num_entries &&
           x->deletions_known == y->deletions_known &&
           (!x->deletions_known || x->num_deletions == y->num_deletions) &&
           x->smallest_len == y->smallest_len && x->largest_len == y->largest_len &&
           memcmp(x->smallest, y->smallest, x->smallest_len) == 0 &&
           memcmp(x->largest, y->largest, x->largest_len) == 0;
}

static void free_edit(version_edit *e) {
    for (int i = 0; i < e->nadded; i++) file_meta_free(e->added[i].f);
    edit_free(e);
}

static void edit_round_trip(const uint8_t *data, size_t size) {
    char *rec = malloc(size ? size : 1); /* exactly the record: ASan sees any overread */
    if (size) memcpy(rec, data, size);
    version_edit a, b;
    edit_init(&a);
    edit_init(&b);
    int rc = edit_decode(&a, rec, size);
    FUZZ_CHECK(rc == 0 || rc == LSM_ECORRUPT || rc == LSM_ENOMEM);
    if (rc == 0) {
        char *enc;
        size_t el;
        FUZZ_CHECK(edit_encode(&a, &enc, &el) == 0);
        FUZZ_CHECK(edit_decode(&b, enc, el) == 0);
        free(enc);
        FUZZ_CHECK(a.has_log_number == b.has_log_number && a.has_next_file == b.has_next_file &&
                   a.has_last_seq == b.has_last_seq && a.has_counters == b.has_counters);
        FUZZ_CHECK(!a.has_log_number || a.log_number == b.log_number);
        FUZZ_CHECK(!a.has_next_file || a.next_file == b.next_file);
        FUZZ_CHECK(!a.has_last_seq || a.last_seq == b.last_seq);
        FUZZ_CHECK(!a.has_counters || memcmp(a.counters, b.counters, sizeof(a.counters)) == 0);
        FUZZ_CHECK(a.nadded == b.nadded && a.ndeleted == b.ndeleted);
        for (int i = 0; i < a.nadded; i++) FUZZ_CHECK(same_file(&a.added[i], &b.added[i], 1));
        for (int i = 0; i < a.ndeleted; i++) FUZZ_CHECK(same_file(&a.deleted[i], &b.deleted[i], 0));
    }
    free_edit(&a);
    free_edit(&b);
    free(rec);
}

static void check_version(const version_set *vs) {
    const version *v = vs->current;
    uint64_t next = atomic_load(&vs->next_file);
    FUZZ_CHECK(next > vs->manifest_number && next > vs->log_number);
    for (int l = 0; l < v->num_levels; l++) {
        uint64_t bytes = 0;
        for (int i = 0; i < v->nfiles[l]; i++) {
            const file_meta *f = v->files[l][i];
            bytes += f->size;
            FUZZ_CHECK(f->number < next);
            FUZZ_CHECK(f->smallest_len >= IKEY_TRAILER && f->largest_len >= IKEY_TRAILER);
            if (i == 0) continue;
            const file_meta *p = v->files[l][i - 1];
            if (l == 0)
                FUZZ_CHECK(p->max_seq > f->max_seq ||
                           (p->max_seq == f->max_seq && p->min_seq >= f->min_seq));
            else
                FUZZ_CHECK(ikey_compare(p->smallest, p->smallest_len, f->smallest,
                                        f->smallest_len) <= 0);
        }
        FUZZ_CHECK(bytes == v->level_bytes[l]);
    }
}

static void recover(const uint8_t *data, size_t size, int framed, int num_levels) {
    char path[512];
    const char *cur = "MANIFEST-000001\n";
    fuzz_write_file("CURRENT", cur, strlen(cur), path, sizeof(path));
    if (!framed) {
        fuzz_write_file("MANIFEST-000001", data, size, path, sizeof(path));
    } else {
        snprintf(path, sizeof(path), "%s/MANIFEST-000001", fuzz_dir());
        wal_writer *w = wal_writer_create(path);
        FUZZ_CHECK(w != NULL);
        fuzz_src s = {data, size};
        while (s.n) {
            size_t got;
            const uint8_t *rec = fuzz_bytes(&s, fuzz_u16(&s), &got);
            FUZZ_CHECK(wal_writer_add(w, rec, got) == 0);
        }
        FUZZ_CHECK(wal_writer_close(w, 0) == 0);
    }
    version_set *vs = vset_new(fuzz_dir(), num_levels);
    FUZZ_CHECK(vs != NULL);
    int found = -1;
    int rc = vset_recover(vs, &found);
    if (rc == 0) {
        FUZZ_CHECK(found == 1);
        check_version(vs);
    } else {
        FUZZ_CHECK(rc == LSM_ECORRUPT || rc == LSM_EIO || rc == LSM_ENOMEM);
        FUZZ_CHECK(rc == LSM_ENOMEM || vs->errmsg[0] != '\0');
    }
    vset_free(vs); /* closing: never deletes files */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0], layout = mode & 3, num_levels = 2 + ((mode >> 2) & 7) % 6;
    if (layout == 0) edit_round_trip(data + 1, size - 1);
    else recover(data + 1, size - 1, layout >= 2, num_levels);
    return 0;
}
