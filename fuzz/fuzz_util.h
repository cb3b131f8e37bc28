/* fuzz_util.h - small helpers shared by the libFuzzer targets in fuzz/ (header-only).
 *
 *  - fuzz_dir(): one private scratch directory per fuzzer process, on tmpfs (/dev/shm) when
 *    there is one, removed at exit;
 *  - fuzz_write_file(): writes bytes to a file in it (the readers under test open paths);
 *  - fuzz_src: a byte reader over the fuzzer's input that returns 0s once it runs dry, so a
 *    target can take "choices" from the input without bounds checks at every step;
 *  - FUZZ_CHECK(): an invariant check that aborts with a message (libFuzzer reports a crash).
 * Single-threaded, as libFuzzer calls the targets. */
#ifndef KEVO_FUZZ_UTIL_H
#define KEVO_FUZZ_UTIL_H
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_CHECK(cond)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static char fuzz_dir_path[256];

static inline void fuzz_rm_dir(void) {
    DIR *d = opendir(fuzz_dir_path);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            snprintf(p, sizeof(p), "%s/%s", fuzz_dir_path, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(fuzz_dir_path);
}

static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_path[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/kevo-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_dir_path)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_rm_dir);
    }
    return fuzz_dir_path;
}

/* Writes data[0..n) to <fuzz_dir>/name (truncating); the full path goes to path[cap]. */
static inline void fuzz_write_file(const char *name, const void *data, size_t n, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", fuzz_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        perror("open");
        abort();
    }
    const char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            perror("write");
            abort();
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

typedef struct fuzz_src {
    const uint8_t *p;
    size_t n;
} fuzz_src;

static inline uint8_t fuzz_u8(fuzz_src *s) {
    if (!s->n) return 0;
    s->n--;
    return *s->p++;
}
static inline uint16_t fuzz_u16(fuzz_src *s) {
    uint16_t lo = fuzz_u8(s);
    return (uint16_t)(lo | (uint16_t)fuzz_u8(s) << 8);
}
/* Up to want bytes from the input (fewer when it runs dry); *got says how many. */
static inline const uint8_t *fuzz_bytes(fuzz_src *s, size_t want, size_t *got) {
    const uint8_t *p = s->p;
    *got = want < s->n ? want : s->n;
    s->p += *got;
    s->n -= *got;
    return p;
}

/* FNV-1a, to compare results cheaply. */
static inline uint64_t fuzz_hash(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
#define FUZZ_HASH_INIT 0xcbf29ce484222325ull

/* Reads every byte of p[0..n) (so ASan checks the range) into a sink the compiler keeps. */
static volatile uint64_t fuzz_sink;
static inline void fuzz_touch(const void *p, size_t n) {
    if (n) fuzz_sink += fuzz_hash(FUZZ_HASH_INIT, p, n);
}

/* ---- sorted internal-key entries taken from the input (block and SSTable round trips) ---- */
#include "dbformat.h"

typedef struct fuzz_kv {
    char *k;  /* internal key: user key || trailer */
    size_t kl;
    char *v;
    size_t vl;
} fuzz_kv;

static inline int fuzz_kv_cmp(const void *a, const void *b) {
    const fuzz_kv *x = a, *y = b;
    return ikey_compare(x->k, x->kl, y->k, y->kl);
}

/* Up to max entries: each = ulen(1, % 24) || user key || seq(1) || kind bit + vlen(1) || value,
 * short user keys drawn from a small alphabet so keys repeat with several versions. Sorted by
 * internal key, duplicates removed. Returns the count; free with fuzz_kv_free. */
static inline size_t fuzz_kv_make(fuzz_src *s, fuzz_kv **out, size_t max) {
    fuzz_kv *e = calloc(max ? max : 1, sizeof(*e));
    size_t n = 0;
    while (s->n && n < max) {
        size_t ul = fuzz_u8(s) % 24, got;
        const uint8_t *u = fuzz_bytes(s, ul, &got);
        uint64_t seq = fuzz_u8(s);
        uint8_t kv = fuzz_u8(s);
        int kind = kv & 1 ? KIND_DELETE : KIND_VALUE;
        size_t vl = kind == KIND_VALUE ? (size_t)(kv >> 1) * 3 : 0;
        e[n].k = malloc(got + IKEY_TRAILER);
        char ub[24];
        for (size_t i = 0; i < got; i++) ub[i] = (char)('a' + u[i] % 4);
        e[n].kl = ikey_encode(e[n].k, ub, got, seq, kind);
        e[n].v = malloc(vl ? vl : 1);
        for (size_t i = 0; i < vl; i++) e[n].v[i] = (char)(i * 13 + seq);
        e[n].vl = vl;
        n++;
    }
    qsort(e, n, sizeof(*e), fuzz_kv_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && fuzz_kv_cmp(&e[w - 1], &e[i]) == 0) {
            free(e[i].k);
            free(e[i].v);
            continue;
        }
        e[w++] = e[i];
    }
    *out = e;
    return w;
}

static inline void fuzz_kv_free(fuzz_kv *e, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(e[i].k);
        free(e[i].v);
    }
    free(e);
}
#endif
