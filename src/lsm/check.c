/* check.c - read-only verification of a database directory (check.h; the kevo-check tool).
 * Uses the engine's own decoders (wal reader, version edits, blocks, bloom, batches, crc32c)
 * but none of its state: nothing here opens a table through the table cache or writes a byte. */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "block.h"
#include "bloom.h"
#include "coding.h"
#include "crc32c.h"
#include "dbformat.h"
#include "lsm.h"
#include "sst_builder.h"
#include "sst_format.h"
#include "version.h"
#include "wal.h"

#define CHECK_MAX_PER_FILE 20   /* findings shown per file; the rest are counted */

typedef struct ck_file {       /* a table as the MANIFEST lists it */
    uint64_t number, size, min_seq, max_seq, entries;
    uint64_t deletions;         /* when deletions_known (MANIFEST tag 7) */
    int deletions_known;
    char *smallest, *largest;
    size_t sl, ll;
    int level;
} ck_file;

typedef struct ck {
    const char *dir;
    lsm_check_report_fn fn;
    void *ctx;
    lsm_check_stats *st;
    const char *cur_file;       /* findings budget per file */
    int cur_count, cur_hidden;
    /* directory contents */
    uint64_t *ssts, *logs, *manifests;
    int nssts, nlogs, nmanifests, cap_ssts, cap_logs, cap_manifests;
    /* recovered version */
    ck_file *files;
    int nfiles, cap_files;
    int has_current, has_log_number, has_next_file, has_last_seq;
    uint64_t manifest_number, log_number, next_file, last_seq;
} ck;

static void finding(ck *c, int sev, const char *file, int64_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void finding(ck *c, int sev, const char *file, int64_t off, const char *fmt, ...) {
    if (sev == LSM_CHECK_ERROR) c->st->errors++;
    else if (sev == LSM_CHECK_WARNING) c->st->warnings++;
    if (!c->cur_file || strcmp(c->cur_file, file) != 0) {
        c->cur_file = file;
        c->cur_count = 0;
    }
    if (++c->cur_count > CHECK_MAX_PER_FILE) {
        c->cur_hidden++;
        return;
    }
    if (!c->fn) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->fn(c->ctx, sev, file, off, msg);
}

/* Ends a file's findings: says how many were not shown. */
static void file_done(ck *c, const char *file) {
    if (c->cur_hidden && c->fn) {
        char msg[128];
        snprintf(msg, sizeof(msg), "... and %d more findings in this file", c->cur_hidden);
        c->fn(c->ctx, LSM_CHECK_ERROR, file, -1, msg);
    }
    c->cur_file = NULL;
    c->cur_count = c->cur_hidden = 0;
}

static int push_u64(uint64_t **a, int *n, int *cap, uint64_t v) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        uint64_t *na = realloc(*a, sizeof(*na) * (size_t)nc);
        if (!na) return -1;
        *a = na;
        *cap = nc;
    }
    (*a)[(*n)++] = v;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int has_u64(const uint64_t *a, int n, uint64_t v) {
    for (int i = 0; i < n; i++)
        if (a[i] == v) return 1;
    return 0;
}

/* Printable form of a key for messages (escaped, shortened). */
static const char *key_str(const char *k, size_t n, char *buf, size_t cap) {
    size_t w = 0;
    size_t ul = n >= IKEY_TRAILER ? n - IKEY_TRAILER : n;
    for (size_t i = 0; i < ul && w + 5 < cap; i++) {
        unsigned char ch = (unsigned char)k[i];
        if (i >= 40) { w += (size_t)snprintf(buf + w, cap - w, "..."); break; }
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') buf[w++] = (char)ch;
        else w += (size_t)snprintf(buf + w, cap - w, "\\x%02x", ch);
    }
    buf[w < cap ? w : cap - 1] = 0;
    if (n >= IKEY_TRAILER && w + 24 < cap)
        snprintf(buf + w, cap - w, "@%llu", (unsigned long long)ikey_seq(k, n));
    return buf;
}

/* Reads the whole file. 0, or -1 with errno (and *data NULL). */
static int read_all(const char *path, char **data, uint64_t *size) {
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) { int e = errno; close(fd); errno = e; return -1; }
    char *p = malloc((size_t)st.st_size + 1);
    if (!p) { close(fd); errno = ENOMEM; return -1; }
    uint64_t got = 0;
    while (got < (uint64_t)st.st_size) {
        ssize_t r = pread(fd, p + got, (size_t)((uint64_t)st.st_size - got), (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            free(p);
            close(fd);
            errno = e;
            return -1;
        }
        got += (uint64_t)r;
    }
    close(fd);
    *data = p;
    *size = got;
    return 0;
}

/* ------------------------------------------------------------------------------ directory */

static int list_dir(ck *c) {
    DIR *d = opendir(c->dir);
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        size_t nl = strlen(name);
        char *endp;
        if (strcmp(name, "CURRENT") == 0) { c->has_current = 1; continue; }
        if (strcmp(name, "LOCK") == 0) continue;
        if (nl > 4 && strcmp(name + nl - 4, ".tmp") == 0) {
            finding(c, LSM_CHECK_WARNING, name, -1,
                    "temp file left by an interrupted write (lsm_open deletes it)");
            continue;
        }
        if (strncmp(name, "MANIFEST-", 9) == 0 && name[9] >= '0' && name[9] <= '9') {
            uint64_t n = strtoull(name + 9, &endp, 10);
            if (*endp == 0) {
                if (push_u64(&c->manifests, &c->nmanifests, &c->cap_manifests, n)) goto oom;
                continue;
            }
        }
        if (name[0] >= '0' && name[0] <= '9') {
            uint64_t n = strtoull(name, &endp, 10);
            if (strcmp(endp, ".sst") == 0) {
                if (push_u64(&c->ssts, &c->nssts, &c->cap_ssts, n)) goto oom;
                continue;
            }
            if (strcmp(endp, ".log") == 0) {
                if (push_u64(&c->logs, &c->nlogs, &c->cap_logs, n)) goto oom;
                continue;
            }
        }
        finding(c, LSM_CHECK_WARNING, name, -1, "unknown file (not part of the database)");
    }
    closedir(d);
    if (c->nlogs > 1) qsort(c->logs, (size_t)c->nlogs, sizeof(uint64_t), cmp_u64);
    if (c->nssts > 1) qsort(c->ssts, (size_t)c->nssts, sizeof(uint64_t), cmp_u64);
    return 0;
oom:
    closedir(d);
    errno = ENOMEM;
    return -1;
}

/* A running server holds LOCK exclusively: probe with a shared lock, released at once. */
static void probe_lock(ck *c) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/LOCK", c->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            c->st->locked = 1;
            finding(c, LSM_CHECK_WARNING, "LOCK", -1,
                    "the directory is locked by a running process (kevo-server?): files may "
                    "change while they are checked, so findings may not be real damage");
        }
    } else {
        flock(fd, LOCK_UN);
    }
    close(fd);
}

/* ------------------------------------------------------------------------- CURRENT / MANIFEST */

/* 0 and c->manifest_number set, or -1 (finding reported). */
static int check_current(ck *c) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/CURRENT", c->dir);
    char *d;
    uint64_t n;
    if (read_all(path, &d, &n) != 0) {
        c->st->io_error = 1;
        finding(c, LSM_CHECK_ERROR, "CURRENT", -1, "cannot read: %s", strerror(errno));
        return -1;
    }
    c->st->bytes += n;
    int rc = -1;
    uint64_t i = 0;
    if (n < 9 || memcmp(d, "MANIFEST-", 9) != 0) {
        for (i = 0; i < 9 && i < n && d[i] == "MANIFEST-"[i]; i++) {}
        finding(c, LSM_CHECK_ERROR, "CURRENT", (int64_t)i,
                "malformed: does not start with \"MANIFEST-\"");
        goto out;
    }
    for (i = 9; i < n && d[i] >= '0' && d[i] <= '9'; i++) {}
    if (i == 9 || i >= n || d[i] != '\n' || i + 1 != n || i - 9 > 19) {
        finding(c, LSM_CHECK_ERROR, "CURRENT", (int64_t)i,
                "malformed: expected \"MANIFEST-<digits>\\n\" and nothing else (%llu bytes)",
                (unsigned long long)n);
        goto out;
    }
    d[i] = 0;
    c->manifest_number = strtoull(d + 9, NULL, 10);
    if (!has_u64(c->manifests, c->nmanifests, c->manifest_number)) {
        finding(c, LSM_CHECK_ERROR, "CURRENT", 9, "names %s, which does not exist", d);
        goto out;
    }
    rc = 0;
out:
    free(d);
    file_done(c, "CURRENT");
    return rc;
}

static ck_file *find_file(ck *c, uint64_t number) {
    for (int i = 0; i < c->nfiles; i++)
        if (c->files[i].number == number) return &c->files[i];
    return NULL;
}

static void drop_file(ck *c, int i) {
    free(c->files[i].smallest);
    free(c->files[i].largest);
    c->files[i] = c->files[--c->nfiles];
}

/* Replays the MANIFEST as recovery does, reporting every bad record. 0, or -1 when nothing
 * usable was recovered (no version to check). */
/* Opens the log file dir/name (a MANIFEST or a WAL), counting its bytes (*size); NULL after
 * reporting it unreadable. */
static wal_reader *open_log(ck *c, const char *name, uint64_t *size) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    struct stat sb;
    memset(&sb, 0, sizeof(sb));
    if (stat(path, &sb) == 0) c->st->bytes += (uint64_t)sb.st_size;
    *size = (uint64_t)sb.st_size;
    wal_reader *r = wal_reader_open(path);
    if (!r) {
        c->st->io_error = 1;
        finding(c, LSM_CHECK_ERROR, name, -1, "cannot read: %s", strerror(errno));
        file_done(c, name);
    }
    return r;
}

static int check_manifest(ck *c) {
    char name[64];
    snprintf(name, sizeof(name), "MANIFEST-%06llu", (unsigned long long)c->manifest_number);
    uint64_t fsize;
    wal_reader *r = open_log(c, name, &fsize);
    if (!r) return -1;
    const char *rec;
    size_t len;
    int records = 0;
    for (;;) {
        int s = wal_reader_next(r, &rec, &len);
        if (s == WAL_READ_EOF) break;
        if (s < 0) {
            finding(c, LSM_CHECK_ERROR, name, (int64_t)wal_reader_offset(r),
                    "corrupt record (bad checksum, length or fragment sequence) followed by "
                    "valid records: recovery refuses to open");
            break;
        }
        int64_t off = (int64_t)wal_reader_offset(r);
        version_edit e;
        edit_init(&e);
        int d = edit_decode(&e, rec, len);
        if (d) {
            for (int i = 0; i < e.nadded; i++) file_meta_free(e.added[i].f);
            edit_free(&e);
            finding(c, LSM_CHECK_ERROR, name, off,
                    "version edit does not decode (a valid checksum over bad contents)");
            continue;
        }
        records++;
        for (int i = 0; i < e.ndeleted; i++) {
            int found = 0;
            for (int j = 0; j < c->nfiles; j++)
                if (c->files[j].number == e.deleted[i].number &&
                    c->files[j].level == e.deleted[i].level) {
                    drop_file(c, j);
                    found = 1;
                    break;
                }
            if (!found)
                finding(c, LSM_CHECK_ERROR, name, off,
                        "edit deletes table %06llu at level %d, which the version does not have",
                        (unsigned long long)e.deleted[i].number, e.deleted[i].level);
        }
        for (int i = 0; i < e.nadded; i++) {
            file_meta *f = e.added[i].f;
            if (find_file(c, f->number)) {
                finding(c, LSM_CHECK_ERROR, name, off, "edit adds table %06llu a second time",
                        (unsigned long long)f->number);
                continue;
            }
            if (c->nfiles == c->cap_files) {
                int nc = c->cap_files ? c->cap_files * 2 : 16;
                ck_file *na = realloc(c->files, sizeof(*na) * (size_t)nc);
                if (!na) break;
                c->files = na;
                c->cap_files = nc;
            }
            ck_file *cf = &c->files[c->nfiles++];
            memset(cf, 0, sizeof(*cf));
            cf->number = f->number;
            cf->size = f->size;
            cf->min_seq = f->min_seq;
            cf->max_seq = f->max_seq;
            cf->entries = f->num_entries;
            cf->deletions = f->num_deletions;
            cf->deletions_known = f->deletions_known;
            cf->level = e.added[i].level;
            cf->smallest = f->smallest; f->smallest = NULL;
            cf->largest = f->largest; f->largest = NULL;
            cf->sl = f->smallest_len;
            cf->ll = f->largest_len;
            if (ikey_compare(cf->smallest, cf->sl, cf->largest, cf->ll) > 0)
                finding(c, LSM_CHECK_ERROR, name, off,
                        "edit adds table %06llu with smallest key > largest key",
                        (unsigned long long)cf->number);
            if (cf->min_seq > cf->max_seq)
                finding(c, LSM_CHECK_ERROR, name, off,
                        "edit adds table %06llu with min seq %llu > max seq %llu",
                        (unsigned long long)cf->number, (unsigned long long)cf->min_seq,
                        (unsigned long long)cf->max_seq);
        }
        for (int i = 0; i < e.nadded; i++) file_meta_free(e.added[i].f);
        if (e.has_log_number) {
            if (!c->has_log_number || e.log_number > c->log_number) c->log_number = e.log_number;
            c->has_log_number = 1;
        }
        if (e.has_next_file) {
            if (!c->has_next_file || e.next_file > c->next_file) c->next_file = e.next_file;
            c->has_next_file = 1;
        }
        if (e.has_last_seq) {
            if (!c->has_last_seq || e.last_seq > c->last_seq) c->last_seq = e.last_seq;
            c->has_last_seq = 1;
        }
        if (e.has_counters) memcpy(c->st->counters, e.counters, sizeof(e.counters));
        edit_free(&e);
    }
    uint64_t dropped = wal_reader_tail_dropped(r);
    if (dropped)
        finding(c, LSM_CHECK_ERROR, name, (int64_t)(fsize - dropped),
                "torn or corrupt last record (%llu bytes): recovery ignores it; harmless only "
                "if the server crashed while writing it, otherwise an acknowledged edit is lost",
                (unsigned long long)dropped);
    wal_reader_close(r);
    c->st->manifest_edits = (uint64_t)records;
    int rc = 0;
    if (records == 0) {
        finding(c, LSM_CHECK_ERROR, name, -1, "no valid version edit: recovery refuses to open");
        rc = -1;
    }
    file_done(c, name);
    return rc;
}

/* ---------------------------------------------------------------------------------- tables */

typedef struct tbl {
    ck *c;
    const char *name;
    const char *data;
    uint64_t size;
    int bad;                    /* findings in this table */
} tbl;

#define TERR(t, off, ...)                                                                  \
    do {                                                                                   \
        (t)->bad++;                                                                        \
        finding((t)->c, LSM_CHECK_ERROR, (t)->name, (int64_t)(off), __VA_ARGS__);          \
    } while (0)

/* Verifies and decodes the block at (off, size): *out malloc'ed contents (raw). 0 or -1. */
static int tbl_block(tbl *t, const char *what, uint64_t off, uint64_t size, char **out,
                     size_t *outlen) {
    *out = NULL;
    *outlen = 0;
    if (off > t->size || size > SST_MAX_BLOCK_SIZE || size + SST_BLOCK_TRAILER > t->size - off) {
        TERR(t, off, "%s block handle (offset %llu, size %llu) outside the file", what,
             (unsigned long long)off, (unsigned long long)size);
        return -1;
    }
    const char *b = t->data + off;
    uint32_t want = crc32c_unmask(decode_fixed32(b + size + 1));
    if (crc32c(b, (size_t)size + 1) != want) {
        TERR(t, off, "%s block (%llu bytes): checksum mismatch", what, (unsigned long long)size);
        return -1;
    }
    int type = (unsigned char)b[size];
    if (type == SST_COMP_NONE) {
        char *p = malloc((size_t)size + 1);
        if (!p) return -1;
        memcpy(p, b, (size_t)size);
        *out = p;
        *outlen = (size_t)size;
        return 0;
    }
    if (type != SST_COMP_LZ4) {
        TERR(t, off + size, "%s block: unknown compression type %d", what, type);
        return -1;
    }
    uint32_t raw;
    const char *p = decode_varint32(b, b + size, &raw);
    if (!p || raw > SST_MAX_BLOCK_SIZE || raw > (uint32_t)LZ4_MAX_INPUT_SIZE) {
        TERR(t, off, "%s block: bad LZ4 length prefix", what);
        return -1;
    }
    char *d = malloc(raw ? raw : 1);
    if (!d) return -1;
    int n = LZ4_decompress_safe(p, d, (int)(b + size - p), (int)raw);
    if (n < 0 || (uint32_t)n != raw) {
        free(d);
        TERR(t, off, "%s block: LZ4 payload does not decompress to %u bytes", what, raw);
        return -1;
    }
    *out = d;
    *outlen = raw;
    return 0;
}

static int decode_handle(const char *p, size_t n, uint64_t *off, uint64_t *size) {
    const char *lim = p + n;
    p = decode_varint64(p, lim, off);
    if (!p) return -1;
    p = decode_varint64(p, lim, size);
    return p == lim ? 0 : -1;
}

typedef struct tstats {         /* what the data blocks hold */
    uint64_t entries, deletions, raw_key, raw_value, min_seq, max_seq, blocks;
    char *first, *last;
    size_t fl, ll, fcap, lcap;
} tstats;

static void set_key(char **dst, size_t *dl, size_t *cap, const char *k, size_t kl) {
    if (kl > *cap) {
        char *n = realloc(*dst, kl);
        if (!n) return;
        *dst = n;
        *cap = kl;
    }
    memcpy(*dst, k, kl);
    *dl = kl;
}

static void check_table(ck *c, uint64_t number, const ck_file *meta) {
    char name[64], path[4096], kb[200], kb2[200];
    snprintf(name, sizeof(name), "%06llu.sst", (unsigned long long)number);
    snprintf(path, sizeof(path), "%s/%s", c->dir, name);
    char *data;
    uint64_t size;
    if (read_all(path, &data, &size) != 0) {
        if (errno == ENOENT) {
            finding(c, LSM_CHECK_ERROR, name, -1,
                    "listed in the MANIFEST (level %d) but missing", meta ? meta->level : -1);
        } else {
            c->st->io_error = 1;
            finding(c, LSM_CHECK_ERROR, name, -1, "cannot read: %s", strerror(errno));
        }
        file_done(c, name);
        return;
    }
    c->st->tables++;
    c->st->bytes += size;
    tbl t = {c, name, data, size, 0};
    char *ib = NULL, *pb = NULL, *fb = NULL;
    size_t il = 0, pl = 0, flen = 0;
    tstats ts;
    memset(&ts, 0, sizeof(ts));
    ts.min_seq = UINT64_MAX;
    uint64_t (*hd)[2] = NULL;      /* data block handles from the index */
    char **seps = NULL;
    size_t *sepl = NULL;
    size_t nh = 0, caph = 0;
    sst_props pr;
    memset(&pr, 0, sizeof(pr));

    if (meta && meta->size != size)
        TERR(&t, -1, "size %llu, the MANIFEST says %llu", (unsigned long long)size,
             (unsigned long long)meta->size);
    if (size < SST_FOOTER_SIZE) {
        TERR(&t, 0, "%llu bytes: shorter than the %d-byte footer", (unsigned long long)size,
             SST_FOOTER_SIZE);
        goto out;
    }
    const char *f = data + size - SST_FOOTER_SIZE;
    uint64_t foff = size - SST_FOOTER_SIZE;
    if (decode_fixed64(f + 56) != SST_MAGIC) {
        TERR(&t, foff + 56, "bad magic number (not a table, or its end is damaged or cut)");
        goto out;
    }
    if (crc32c_unmask(decode_fixed32(f + 52)) != crc32c(f, 52)) {
        TERR(&t, foff, "footer checksum mismatch");
        goto out;
    }
    if (decode_fixed32(f + 48) != SST_FORMAT_VERSION) {
        TERR(&t, foff + 48, "unknown format version %u", decode_fixed32(f + 48));
        goto out;
    }
    uint64_t ho[3], hs[3];
    for (int i = 0; i < 3; i++) {
        ho[i] = decode_fixed64(f + i * 16);
        hs[i] = decode_fixed64(f + i * 16 + 8);
    }
    int has_filter = !(ho[1] == 0 && hs[1] == 0);
    /* the blocks tile the file: data blocks, [filter], index, properties, footer */
    uint64_t idx_start = has_filter ? ho[1] : ho[0];
    if (has_filter && ho[1] + hs[1] + SST_BLOCK_TRAILER != ho[0])
        TERR(&t, ho[1], "filter block does not end where the index block starts");
    if (ho[0] + hs[0] + SST_BLOCK_TRAILER != ho[2])
        TERR(&t, ho[0], "index block does not end where the properties block starts");
    if (ho[2] + hs[2] + SST_BLOCK_TRAILER != foff)
        TERR(&t, ho[2], "properties block does not end where the footer starts");

    /* index */
    if (tbl_block(&t, "index", ho[0], hs[0], &ib, &il) == 0) {
        block b;
        if (block_parse(&b, ib, il) != 0) {
            TERR(&t, ho[0], "index block: bad restart array");
        } else {
            block_iter it;
            block_iter_init(&it, &b);
            char *prev = NULL;
            size_t prevl = 0, prevcap = 0;
            for (block_iter_seek_first(&it); block_iter_valid(&it); block_iter_next(&it)) {
                size_t kl, vl;
                const char *k = block_iter_key(&it, &kl);
                const char *v = block_iter_value(&it, &vl);
                uint64_t o = 0, s = 0;
                if (kl < IKEY_TRAILER) { TERR(&t, ho[0], "index block: key shorter than 8 bytes"); break; }
                if (prevl && ikey_compare(prev, prevl, k, kl) >= 0)
                    TERR(&t, ho[0], "index block: keys not ascending at entry %zu", nh);
                set_key(&prev, &prevl, &prevcap, k, kl);
                if (decode_handle(v, vl, &o, &s) != 0) {
                    TERR(&t, ho[0], "index block: entry %zu has a bad block handle", nh);
                    break;
                }
                if (nh == caph) {
                    size_t nc = caph ? caph * 2 : 64;
                    void *a = realloc(hd, nc * sizeof(*hd));
                    void *b2 = realloc(seps, nc * sizeof(*seps));
                    void *c2 = realloc(sepl, nc * sizeof(*sepl));
                    if (a) hd = a;
                    if (b2) seps = b2;
                    if (c2) sepl = c2;
                    if (!a || !b2 || !c2) break;
                    caph = nc;
                }
                hd[nh][0] = o;
                hd[nh][1] = s;
                seps[nh] = malloc(kl);
                if (seps[nh]) memcpy(seps[nh], k, kl);
                sepl[nh] = seps[nh] ? kl : 0;
                nh++;
            }
            if (it.status) TERR(&t, ho[0], "index block: an entry does not decode");
            block_iter_cleanup(&it);
            free(prev);
        }
    }
    /* filter */
    if (has_filter && tbl_block(&t, "filter", ho[1], hs[1], &fb, &flen) == 0 && flen > 0) {
        unsigned char last = (unsigned char)fb[flen - 1];
        int k = last & 0x7f;
        int local_ok = (last & BLOOM_LOCAL_FLAG) && k >= 1 && k <= 30 && flen > 1 &&
                       (flen - 1) % BLOOM_LINE_BYTES == 0;
        int legacy_ok = last >= 1 && last <= 30;
        if (!local_ok && !legacy_ok)
            finding(c, LSM_CHECK_WARNING, name, (int64_t)(ho[1] + flen - 1),
                    "filter block has a reserved layout byte 0x%02x (readers treat it as "
                    "matching every key)", last);
    }
    /* properties */
    int have_props = 0;
    if (tbl_block(&t, "properties", ho[2], hs[2], &pb, &pl) == 0) {
        block b;
        if (block_parse(&b, pb, pl) != 0) {
            TERR(&t, ho[2], "properties block: bad restart array");
        } else {
            block_iter it;
            block_iter_init(&it, &b);
            have_props = 1;
            for (block_iter_seek_first(&it); block_iter_valid(&it); block_iter_next(&it)) {
                size_t kl, vl;
                const char *k = block_iter_key(&it, &kl);
                const char *v = block_iter_value(&it, &vl);
                uint64_t *dst = NULL;
                char **sp = NULL;
                size_t *slen = NULL;
#define PROP_IS(nm) (kl == sizeof(nm) - 1 && memcmp(k, nm, kl) == 0)
                if (PROP_IS(SST_PROP_DATA_BLOCKS)) dst = &pr.num_data_blocks;
                else if (PROP_IS(SST_PROP_DELETIONS)) dst = &pr.num_deletions;
                else if (PROP_IS(SST_PROP_ENTRIES)) dst = &pr.num_entries;
                else if (PROP_IS(SST_PROP_MAX_SEQ)) dst = &pr.max_seq;
                else if (PROP_IS(SST_PROP_MIN_SEQ)) dst = &pr.min_seq;
                else if (PROP_IS(SST_PROP_OLDEST_EXPIRE)) dst = &pr.oldest_expire;
                else if (PROP_IS(SST_PROP_RAW_KEY)) dst = &pr.raw_key_bytes;
                else if (PROP_IS(SST_PROP_RAW_VALUE)) dst = &pr.raw_value_bytes;
                else if (PROP_IS(SST_PROP_SMALLEST)) { sp = &pr.smallest; slen = &pr.smallest_len; }
                else if (PROP_IS(SST_PROP_LARGEST)) { sp = &pr.largest; slen = &pr.largest_len; }
#undef PROP_IS
                if (dst) {
                    const char *e = decode_varint64(v, v + vl, dst);
                    if (e != v + vl) TERR(&t, ho[2], "property %.*s: bad varint", (int)kl, k);
                } else if (sp && vl) {
                    if (vl < IKEY_TRAILER) TERR(&t, ho[2], "property %.*s: key too short", (int)kl, k);
                    else if ((*sp = malloc(vl))) { memcpy(*sp, v, vl); *slen = vl; }
                }
            }
            if (it.status) { TERR(&t, ho[2], "properties block: an entry does not decode"); have_props = 0; }
            block_iter_cleanup(&it);
        }
    }
    /* data blocks */
    uint64_t expect_off = 0;
    for (size_t i = 0; i < nh; i++) {
        uint64_t o = hd[i][0], s = hd[i][1];
        if (o != expect_off)
            TERR(&t, expect_off, "data block %zu starts at %llu, expected %llu (gap or overlap)",
                 i, (unsigned long long)o, (unsigned long long)expect_off);
        expect_off = o + s + SST_BLOCK_TRAILER;
        ts.blocks++;
        c->st->data_blocks++;
        char *db;
        size_t dl;
        if (tbl_block(&t, "data", o, s, &db, &dl) != 0) continue;
        block b;
        if (block_parse(&b, db, dl) != 0) {
            TERR(&t, o, "data block: bad restart array");
            free(db);
            continue;
        }
        block_iter it;
        block_iter_init(&it, &b);
        int first_in_block = 1;
        for (block_iter_seek_first(&it); block_iter_valid(&it); block_iter_next(&it)) {
            size_t kl, vl;
            const char *k = block_iter_key(&it, &kl);
            (void)block_iter_value(&it, &vl);
            if (kl < IKEY_TRAILER) { TERR(&t, o, "data block: key shorter than 8 bytes"); break; }
            int kind = ikey_kind(k, kl);
            uint64_t seq = ikey_seq(k, kl);
            if (kind != KIND_VALUE && kind != KIND_DELETE)
                TERR(&t, o, "data block: key %s has unknown kind %d", key_str(k, kl, kb, sizeof kb), kind);
            if (ts.ll && ikey_compare(ts.last, ts.ll, k, kl) >= 0)
                TERR(&t, o, "data block: key %s does not sort after %s%s",
                     key_str(k, kl, kb, sizeof kb), key_str(ts.last, ts.ll, kb2, sizeof kb2),
                     first_in_block ? " (the previous block's last key)" : "");
            if (first_in_block && i > 0 && sepl[i - 1] && ikey_compare(k, kl, seps[i - 1], sepl[i - 1]) <= 0)
                TERR(&t, o, "data block: first key %s is not after the previous index separator",
                     key_str(k, kl, kb, sizeof kb));
            first_in_block = 0;
            /* bloom: a key in the table must never be ruled out */
            if (fb && flen && (!ts.ll || ukey_compare(ts.last, ts.ll - IKEY_TRAILER, k, kl - IKEY_TRAILER) != 0) &&
                !bloom_may_contain(fb, flen, k, kl - IKEY_TRAILER))
                TERR(&t, ho[1], "filter rules out key %s present in the data block at %llu",
                     key_str(k, kl, kb, sizeof kb), (unsigned long long)o);
            if (!ts.fl) set_key(&ts.first, &ts.fl, &ts.fcap, k, kl);
            set_key(&ts.last, &ts.ll, &ts.lcap, k, kl);
            ts.entries++;
            if (kind == KIND_DELETE) ts.deletions++;
            ts.raw_key += kl;
            ts.raw_value += vl;
            if (seq < ts.min_seq) ts.min_seq = seq;
            if (seq > ts.max_seq) ts.max_seq = seq;
        }
        if (it.status) TERR(&t, o, "data block: an entry does not decode");
        block_iter_cleanup(&it);
        if (ts.ll && sepl[i] && ikey_compare(ts.last, ts.ll, seps[i], sepl[i]) > 0)
            TERR(&t, ho[0], "index separator of block %zu sorts before the block's last key", i);
        free(db);
    }
    if (nh && expect_off != idx_start)
        TERR(&t, expect_off, "data blocks end at %llu but the next block starts at %llu",
             (unsigned long long)expect_off, (unsigned long long)idx_start);
    if (!nh && ib && idx_start != 0)
        TERR(&t, 0, "no data blocks in the index but %llu bytes before the first meta block",
             (unsigned long long)idx_start);
    c->st->entries += ts.entries;
    if (ts.entries == 0) ts.min_seq = 0;
    /* properties vs contents (only meaningful when every block was read) */
    if (have_props && ib && t.bad == 0) {
        if (pr.num_entries != ts.entries || pr.num_deletions != ts.deletions ||
            pr.num_data_blocks != ts.blocks || pr.raw_key_bytes != ts.raw_key ||
            pr.raw_value_bytes != ts.raw_value)
            TERR(&t, ho[2], "properties (entries %llu, deletions %llu, blocks %llu) do not match "
                 "the contents (%llu, %llu, %llu) or the raw byte counts differ",
                 (unsigned long long)pr.num_entries, (unsigned long long)pr.num_deletions,
                 (unsigned long long)pr.num_data_blocks, (unsigned long long)ts.entries,
                 (unsigned long long)ts.deletions, (unsigned long long)ts.blocks);
        if (ts.entries && (pr.min_seq != ts.min_seq || pr.max_seq != ts.max_seq))
            TERR(&t, ho[2], "properties sequence range %llu..%llu, contents %llu..%llu",
                 (unsigned long long)pr.min_seq, (unsigned long long)pr.max_seq,
                 (unsigned long long)ts.min_seq, (unsigned long long)ts.max_seq);
        if (ts.entries && (pr.smallest_len != ts.fl || memcmp(pr.smallest, ts.first, ts.fl) != 0 ||
                           pr.largest_len != ts.ll || memcmp(pr.largest, ts.last, ts.ll) != 0))
            TERR(&t, ho[2], "properties smallest/largest keys differ from the first/last entries");
    }
    /* MANIFEST vs contents */
    if (meta && t.bad == 0 && ib) {
        if (ts.entries == 0) {
            TERR(&t, -1, "table has no entries but is listed in the MANIFEST");
        } else {
            if (meta->sl != ts.fl || memcmp(meta->smallest, ts.first, ts.fl) != 0)
                TERR(&t, -1, "MANIFEST smallest key %s, table's first key %s",
                     key_str(meta->smallest, meta->sl, kb, sizeof kb),
                     key_str(ts.first, ts.fl, kb2, sizeof kb2));
            if (meta->ll != ts.ll || memcmp(meta->largest, ts.last, ts.ll) != 0)
                TERR(&t, -1, "MANIFEST largest key %s, table's last key %s",
                     key_str(meta->largest, meta->ll, kb, sizeof kb),
                     key_str(ts.last, ts.ll, kb2, sizeof kb2));
            if (meta->min_seq != ts.min_seq || meta->max_seq != ts.max_seq)
                TERR(&t, -1, "MANIFEST sequence range %llu..%llu, table %llu..%llu",
                     (unsigned long long)meta->min_seq, (unsigned long long)meta->max_seq,
                     (unsigned long long)ts.min_seq, (unsigned long long)ts.max_seq);
            if (meta->entries && meta->entries != ts.entries)
                TERR(&t, -1, "MANIFEST says %llu entries, table has %llu",
                     (unsigned long long)meta->entries, (unsigned long long)ts.entries);
            if (meta->deletions_known && meta->deletions != ts.deletions)
                TERR(&t, -1, "MANIFEST says %llu deletes, table has %llu",
                     (unsigned long long)meta->deletions, (unsigned long long)ts.deletions);
        }
    }
out:
    for (size_t i = 0; i < nh; i++) free(seps[i]);
    free(seps);
    free(sepl);
    free(hd);
    free(ib);
    free(pb);
    free(fb);
    sst_props_free(&pr);
    free(ts.first);
    free(ts.last);
    free(data);
    file_done(c, name);
}

/* ------------------------------------------------------------------------------------ WALs */

typedef struct wal_ctx {
    lsm_check_stats *st;
} wal_ctx;

static void wal_counter(void *ctx, int idx, int64_t delta) {
    wal_ctx *w = ctx;
    if (idx >= 0 && idx < 64) w->st->counters[idx] += delta;
}

static void check_wal(ck *c, uint64_t number, uint64_t *seq) {
    char name[64];
    snprintf(name, sizeof(name), "%06llu.log", (unsigned long long)number);
    uint64_t fsize;
    wal_reader *r = open_log(c, name, &fsize);
    if (!r) return;
    c->st->wal_files++;
    lsm_batch *b = lsm_batch_new();
    wal_ctx wc = {c->st};
    const char *rec;
    size_t len;
    for (;;) {
        int s = wal_reader_next(r, &rec, &len);
        if (s == WAL_READ_EOF) break;
        if (s < 0) {
            finding(c, LSM_CHECK_ERROR, name, (int64_t)wal_reader_offset(r),
                    "corrupt record (bad checksum, length or fragment sequence) followed by valid "
                    "records: recovery refuses to open (wal-skip-corrupt yes would skip the rest "
                    "of its block)");
            break;
        }
        int64_t off = (int64_t)wal_reader_offset(r);
        c->st->wal_records++;
        if (!b || batch_set_data(b, rec, len) != 0) {
            finding(c, LSM_CHECK_ERROR, name, off,
                    "write batch does not decode (a valid checksum over bad contents)");
            continue;
        }
        uint64_t first = batch_sequence(b), n = lsm_batch_count(b);
        if (n) {
            if (first <= *seq)
                finding(c, LSM_CHECK_ERROR, name, off,
                        "batch sequence %llu does not follow the previous batch's %llu",
                        (unsigned long long)first, (unsigned long long)*seq);
            *seq = first + n - 1;
        }
        (void)batch_iterate(b, NULL, wal_counter, &wc);
    }
    uint64_t dropped = wal_reader_tail_dropped(r);
    if (dropped)
        finding(c, LSM_CHECK_ERROR, name, (int64_t)(fsize - dropped),
                "torn tail: the last %llu bytes are not a complete record and recovery drops "
                "them (a write never acknowledged if the server crashed while writing it; "
                "otherwise damage)", (unsigned long long)dropped);
    lsm_batch_free(b);
    wal_reader_close(r);
    file_done(c, name);
}

/* ------------------------------------------------------------------------------------ main */

static int cmp_file_small(const void *a, const void *b) {
    const ck_file *x = *(ck_file *const *)a, *y = *(ck_file *const *)b;
    return ikey_compare(x->smallest, x->sl, y->smallest, y->sl);
}

static void check_version(ck *c) {
    char mname[64], kb[200], kb2[200];
    snprintf(mname, sizeof(mname), "MANIFEST-%06llu", (unsigned long long)c->manifest_number);
    ck_file **lv = malloc(sizeof(*lv) * (size_t)(c->nfiles ? c->nfiles : 1));
    if (!lv) return;
    for (int l = 1; l < LSM_MAX_LEVELS; l++) {
        int n = 0;
        for (int i = 0; i < c->nfiles; i++)
            if (c->files[i].level == l) lv[n++] = &c->files[i];
        if (n > 1) qsort(lv, (size_t)n, sizeof(*lv), cmp_file_small);
        for (int i = 0; i + 1 < n; i++)
            if (ukey_compare(lv[i]->largest, lv[i]->ll - IKEY_TRAILER, lv[i + 1]->smallest,
                             lv[i + 1]->sl - IKEY_TRAILER) >= 0)
                finding(c, LSM_CHECK_ERROR, mname, -1,
                        "level %d: tables %06llu (up to %s) and %06llu (from %s) overlap", l,
                        (unsigned long long)lv[i]->number,
                        key_str(lv[i]->largest, lv[i]->ll, kb, sizeof kb),
                        (unsigned long long)lv[i + 1]->number,
                        key_str(lv[i + 1]->smallest, lv[i + 1]->sl, kb2, sizeof kb2));
    }
    free(lv);
    for (int i = 0; i < c->nfiles; i++) {
        const ck_file *f = &c->files[i];
        if (c->has_next_file && f->number >= c->next_file)
            finding(c, LSM_CHECK_ERROR, mname, -1, "table %06llu >= next file number %llu",
                    (unsigned long long)f->number, (unsigned long long)c->next_file);
        if (c->has_last_seq && f->max_seq > c->last_seq)
            finding(c, LSM_CHECK_ERROR, mname, -1,
                    "table %06llu holds sequence %llu > the last sequence %llu",
                    (unsigned long long)f->number, (unsigned long long)f->max_seq,
                    (unsigned long long)c->last_seq);
    }
    if (!c->has_log_number)
        finding(c, LSM_CHECK_ERROR, mname, -1, "no log number recorded");
    else if (!has_u64(c->logs, c->nlogs, c->log_number))
        finding(c, LSM_CHECK_ERROR, mname, -1,
                "log number %llu: WAL %06llu.log, which holds the writes not yet in tables, is "
                "missing (a MANIFEST that lost its last edits, or a deleted WAL)",
                (unsigned long long)c->log_number, (unsigned long long)c->log_number);
    file_done(c, mname);
}

int lsm_check_dir(const char *dir, lsm_check_report_fn report, void *ctx, lsm_check_stats *out) {
    lsm_check_stats local;
    lsm_check_stats *st = out ? out : &local;
    memset(st, 0, sizeof(*st));
    ck c;
    memset(&c, 0, sizeof(c));
    c.dir = dir;
    c.fn = report;
    c.ctx = ctx;
    c.st = st;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || list_dir(&c) != 0) {
        if (report) {
            char msg[512];
            snprintf(msg, sizeof(msg), "cannot read the directory: %s",
                     errno ? strerror(errno) : "not a directory");
            report(ctx, LSM_CHECK_ERROR, ".", -1, msg);
        }
        st->io_error = 1;
        free(c.ssts);
        free(c.logs);
        free(c.manifests);
        return 2;
    }
    probe_lock(&c);
    int have_version = 0;
    if (!c.has_current) {
        if (c.nssts || c.nmanifests)
            finding(&c, LSM_CHECK_ERROR, "CURRENT", -1,
                    "missing, but the directory has %s: recovery refuses to open",
                    c.nssts ? "tables" : "a MANIFEST");
    } else if (check_current(&c) == 0 && check_manifest(&c) == 0) {
        have_version = 1;
    }
    for (int i = 0; i < c.nmanifests; i++)
        if (!c.has_current || c.manifests[i] != c.manifest_number) {
            char name[64];
            snprintf(name, sizeof(name), "MANIFEST-%06llu", (unsigned long long)c.manifests[i]);
            finding(&c, LSM_CHECK_WARNING, name, -1,
                    "stale MANIFEST (not named by CURRENT; lsm_open deletes it)");
        }
    if (have_version) {
        check_version(&c);
        for (int i = 0; i < c.nfiles; i++) check_table(&c, c.files[i].number, &c.files[i]);
        for (int i = 0; i < c.nssts; i++)
            if (!find_file(&c, c.ssts[i])) {
                char name[64];
                snprintf(name, sizeof(name), "%06llu.sst", (unsigned long long)c.ssts[i]);
                finding(&c, LSM_CHECK_WARNING, name, -1,
                        "orphan table: not in the version (output of a job never installed, or "
                        "of an edit the MANIFEST lost); lsm_open deletes it");
            }
    }
    /* WALs: those below the log number are obsolete; the rest are replayed in order */
    uint64_t seq = 0;
    for (int i = 0; i < c.nlogs; i++) {
        if (have_version && c.logs[i] < c.log_number) {
            char name[64];
            snprintf(name, sizeof(name), "%06llu.log", (unsigned long long)c.logs[i]);
            finding(&c, LSM_CHECK_WARNING, name, -1,
                    "obsolete WAL (below the log number %llu: its writes are in tables; "
                    "lsm_open deletes it)", (unsigned long long)c.log_number);
            continue;
        }
        /* without a version (CURRENT or MANIFEST unusable) every WAL is checked */
        check_wal(&c, c.logs[i], &seq);
    }
    st->last_seq = seq > c.last_seq ? seq : c.last_seq;
    for (int i = 0; i < c.nfiles; i++) {
        free(c.files[i].smallest);
        free(c.files[i].largest);
    }
    free(c.files);
    free(c.ssts);
    free(c.logs);
    free(c.manifests);
    if (st->io_error) return 2;
    return st->errors ? 1 : 0;
}
