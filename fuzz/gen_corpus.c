/* gen_corpus.c - writes the seed corpora of the fuzz targets (fuzz/fuzz_*.c) from files the real
 * engine produces, so the seeds are real and reproducible: `make fuzz-corpus` (= gen_corpus
 * fuzz/corpus). The RESP seeds are hand-written files in fuzz/corpus/resp/ and are not touched.
 *
 * It opens a database in a temp dir with small blocks and memtables, writes keys (values of
 * several sizes, deletes, a multi-op batch with counters, a value spanning WAL blocks), flushes
 * twice (two SSTables, several MANIFEST edits) and writes more that stays in the WAL, closes it,
 * then writes for each target a handful of files: the target's mode byte || the engine's file
 * (or, for the round-trip modes, a spec that builds similar data). Deterministic: same engine,
 * same seeds. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"
#include "coding.h"
#include "lsm.h"
#include "sst_format.h"
#include "wal.h"

static const char *g_out;

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(sz ? (size_t)sz : 1);
    if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) { perror(path); exit(1); }
    fclose(f);
    *n = (size_t)sz;
    return b;
}

/* Writes <out>/<target>/<name> = mode || a || b. */
static void seed(const char *target, const char *name, int mode, const void *a, size_t an,
                 const void *b, size_t bn) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", g_out, target);
    if (mkdir(path, 0755) && errno != EEXIST) { perror(path); exit(1); }
    snprintf(path, sizeof(path), "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    unsigned char m = (unsigned char)mode;
    fwrite(&m, 1, 1, f);
    if (an) fwrite(a, 1, an, f);
    if (bn) fwrite(b, 1, bn, f);
    fclose(f);
}

static void check(int rc, const char *what) {
    if (rc) { fprintf(stderr, "gen_corpus: %s: %s\n", what, lsm_strerror(rc)); exit(1); }
}

static void make_db(const char *dir) {
    lsm_options o;
    lsm_options_init(&o);
    o.memtable_size = 1 << 20;
    o.block_size = 512;
    o.block_cache_size = 1 << 20;
    o.sync_mode = LSM_SYNC_NO;
    lsm_t *db;
    check(lsm_open(dir, &o, &db), "open");
    char k[32], v[200];
    for (int i = 0; i < 120; i++) { /* table 1: values of 10..130 bytes, some compressible */
        int kl = snprintf(k, sizeof(k), "k%05d", i * 3);
        int vl = 10 + i % 120;
        for (int j = 0; j < vl; j++) v[j] = (char)(i % 4 ? 'a' + j % 3 : 'a' + (j * 7 + i) % 26);
        check(lsm_put(db, k, (size_t)kl, v, (size_t)vl), "put");
    }
    check(lsm_delete(db, "k00003", 6), "delete");
    check(lsm_put(db, "empty", 5, "", 0), "put empty");
    check(lsm_flush(db, 1), "flush");
    lsm_batch *b = lsm_batch_new();
    for (int i = 0; i < 60; i++) { /* table 2: overwrites and deletes over table 1's range */
        int kl = snprintf(k, sizeof(k), "k%05d", i * 5);
        if (i % 4 == 0) check(lsm_batch_delete(b, k, (size_t)kl), "batch delete");
        else check(lsm_batch_put(b, k, (size_t)kl, "v2", 2), "batch put");
    }
    check(lsm_batch_counter_add(b, 0, 42), "counter");
    check(lsm_batch_counter_add(b, 3, -7), "counter");
    check(lsm_write(db, b), "write");
    check(lsm_flush(db, 1), "flush");
    /* left in the WAL: small records, a batch, a value spanning WAL blocks */
    lsm_batch_clear(b);
    check(lsm_batch_put(b, "x1", 2, "one", 3), "batch put");
    check(lsm_batch_delete(b, "k00006", 6), "batch delete");
    check(lsm_batch_counter_add(b, 1, 5), "counter");
    check(lsm_write(db, b), "write");
    lsm_batch_free(b);
    check(lsm_put(db, "y", 1, "why", 3), "put");
    char *big = malloc(40000);
    for (int j = 0; j < 40000; j++) big[j] = (char)(j % 251);
    check(lsm_put(db, "big", 3, big, 40000), "put big");
    free(big);
    check(lsm_put(db, "z", 1, "zed", 3), "put");
    check(lsm_commit(db), "commit");
    check(lsm_close(db), "close");
}

/* Block seeds: the index and properties blocks and the first data blocks of a table, when
 * stored uncompressed (the contents the block reader parses). */
static void block_seeds(const char *name, const char *f, size_t n) {
    const char *ft = f + n - SST_FOOTER_SIZE;
    char sname[128];
    static const char *what[3] = {"index", "filter", "props"};
    for (int i = 0; i < 3; i += 2) {
        uint64_t off = decode_fixed64(ft + i * 16), size = decode_fixed64(ft + i * 16 + 8);
        if (f[off + size] != SST_COMP_NONE) continue;
        snprintf(sname, sizeof(sname), "%s-%s", name, what[i]);
        seed("block", sname, 0, f + off, size, NULL, 0);
        if (i) continue;
        block b;
        if (block_parse(&b, f + off, size)) continue;
        block_iter it;
        block_iter_init(&it, &b);
        int nd = 0;
        for (block_iter_seek_first(&it); block_iter_valid(&it) && nd < 2; block_iter_next(&it)) {
            size_t hl;
            const char *h = block_iter_value(&it, &hl), *lim = h + hl;
            uint64_t doff, dsize;
            if (!(h = decode_varint64(h, lim, &doff)) || !decode_varint64(h, lim, &dsize)) continue;
            if (f[doff + dsize] != SST_COMP_NONE) continue;
            snprintf(sname, sizeof(sname), "%s-data%d", name, nd++);
            seed("block", sname, 0, f + doff, dsize, NULL, 0);
        }
        block_iter_cleanup(&it);
    }
}

/* u16 length || record, for the framed modes. */
static size_t frame(char *dst, const char *rec, size_t len) {
    dst[0] = (char)(len & 0xff);
    dst[1] = (char)(len >> 8);
    memcpy(dst + 2, rec, len);
    return len + 2;
}

static void log_seeds(const char *dir, const char *file, const char *target) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    size_t n;
    char *f = slurp(path, &n);
    char name[128];
    int manifest = strcmp(target, "manifest") == 0;
    snprintf(name, sizeof(name), "%s", file);
    seed(target, name, manifest ? 1 : 0, f, n, NULL, 0);       /* raw */
    if (!manifest) {
        snprintf(name, sizeof(name), "%s-skip", file);
        seed(target, name, 1, f, n, NULL, 0);                   /* raw, skip mode */
        snprintf(name, sizeof(name), "%s-fixcrc-pad", file);    /* 20 bytes before a block end */
        seed(target, name, 2 | 8, "\x14", 1, f, n < 4096 ? n : 4096);
    }
    /* its records: framed (short ones), and each MANIFEST edit alone */
    wal_reader *r = wal_reader_open(path);
    const char *rec;
    size_t len, fl = 0;
    char *fr = malloc(n + 4096);
    int i = 0;
    while (wal_reader_next(r, &rec, &len) == WAL_READ_RECORD) {
        if (len < 2048) fl += frame(fr + fl, rec, len);
        if (manifest && i < 4) {
            snprintf(name, sizeof(name), "%s-edit%d", file, i);
            seed(target, name, 0, rec, len, NULL, 0);
        }
        i++;
    }
    wal_reader_close(r);
    snprintf(name, sizeof(name), "%s-framed", file);
    if (manifest) {
        seed(target, name, 2, fr, fl, NULL, 0);
    } else {
        char cut[2] = {0, (char)0xc0}; /* then cut at 3/4 */
        seed(target, name, 2 << 1, cut, 2, fr, fl);
        snprintf(name, sizeof(name), "%s-framed-prealloc", file);
        seed(target, name, 3 << 1, cut, 2, fr, fl);
    }
    free(fr);
    free(f);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: gen_corpus <corpus-dir>\n"); return 2; }
    g_out = argv[1];
    mkdir(g_out, 0755);
    char dir[] = "/tmp/kevo-gen-corpus-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    make_db(dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    int nsst = 0;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        size_t l = strlen(nm);
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, nm);
        if (l > 4 && strcmp(nm + l - 4, ".sst") == 0) {
            size_t n;
            char *f = slurp(path, &n);
            char name[128];
            snprintf(name, sizeof(name), "%s", nm);
            seed("sst", name, 0, f, n, NULL, 0);          /* raw */
            snprintf(name, sizeof(name), "%s-fixcrc-cached", nm);
            seed("sst", name, 1 | 4, f, n, NULL, 0);      /* fixcrc, block cache */
            block_seeds(nm, f, n);
            free(f);
            nsst++;
        } else if (l > 4 && strcmp(nm + l - 4, ".log") == 0) {
            log_seeds(dir, nm, "wal");
        } else if (strncmp(nm, "MANIFEST-", 9) == 0) {
            log_seeds(dir, nm, "manifest");
        }
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
    /* round-trip specs (fuzz_util.h fuzz_kv_make): ulen || key || seq || kind/vlen */
    static const char spec[] = "\003abc\011\010" "\003abc\005\001" "\002ab\007\040" "\001d\001\003"
                               "\004dcba\377\100" "\000\002\006" "\002cc\003\001" "\003abd\010\177";
    seed("block", "round-trip", 1 | (3 << 4), spec, sizeof(spec) - 1, NULL, 0);
    seed("sst", "build", 2, "\x0a", 1, spec, sizeof(spec) - 1);          /* block 256, restart 2 */
    seed("sst", "build-bloom-cached", 2 | 4, "\x80", 1, spec, sizeof(spec) - 1);
    seed("sst", "damage", 3, "\x08\x02\x10\x00\x55\x40\x00\x01", 8, spec, sizeof(spec) - 1);
    fprintf(stderr, "gen_corpus: %d tables, corpora in %s\n", nsst, g_out);
    return nsst ? 0 : 1;
}
