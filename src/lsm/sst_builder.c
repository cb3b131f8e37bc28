/* sst_builder.c - writes one SSTable (doc/sstable_format.md).
 *
 *   file   = data block* || filter block? || index block || properties block || footer(64)
 *   block  = contents || type(1: 0 raw, 1 lz4) || masked crc32c(contents || type) (4)
 *            lz4 contents = varint32 raw_len || LZ4 block (used only if <= 7/8 of raw)
 *   index  = block (restart interval 1): separator ikey -> varint64 offset || varint64 size
 *   footer = index, filter, props handles (fixed64 offset, fixed64 size each)
 *            || version fixed32 || masked crc32c of the previous 52 bytes fixed32
 *            || magic fixed64
 * Written to path.tmp through a 256 KiB buffer; finish fsyncs, renames, fsyncs the dir. */
#include "sst_builder.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "bloom.h"
#include "coding.h"
#include "crc32c.h"
#include "fs.h"
#include "dbformat.h"
#include "lsm.h"
#include "sst_format.h"

#define SST_WBUF_SIZE (256 * 1024)
#define SST_BYTES_PER_SYNC (1024 * 1024)

struct sst_builder {
    sst_options o;
    char *path, *tmp;
    int fd;
    int err;
    char *wbuf;
    size_t wlen;
    uint64_t offset;            /* logical file size (written + buffered) */
    uint64_t file_end;          /* bytes written to the file so far */
    uint64_t synced;            /* write-back started up to here */
    block_builder data, index;
    bloom_builder bloom;
    char *last;                 /* last key added */
    size_t last_len, last_cap;
    int pending_index;          /* a data block was written, its index entry waits */
    uint64_t pend_off, pend_size;
    char *cbuf;                 /* compression scratch */
    size_t ccap;
    char *smallest;
    size_t smallest_len;
    sst_props p;
    sst_block_hook hook;        /* sst_builder_set_block_hook */
    void *hook_ctx;
};

void sst_builder_set_block_hook(sst_builder *b, sst_block_hook fn, void *ctx) {
    b->hook = fn;
    b->hook_ctx = ctx;
}

void sst_props_free(sst_props *p) {
    if (!p) return;
    free(p->smallest);
    free(p->largest);
    p->smallest = p->largest = NULL;
    p->smallest_len = p->largest_len = 0;
}

sst_builder *sst_builder_new(const char *path, const sst_options *opts) {
    sst_builder *b = calloc(1, sizeof(*b));
    if (!b) { errno = ENOMEM; return NULL; }
    b->o = *opts;
    if (b->o.block_size == 0) b->o.block_size = 4 * 1024;
    if (b->o.restart_interval < 1) b->o.restart_interval = 16;
    size_t pl = strlen(path);
    b->path = malloc(pl + 1);
    b->tmp = malloc(pl + 5);
    b->wbuf = malloc(SST_WBUF_SIZE);
    if (!b->path || !b->tmp || !b->wbuf) goto oom;
    memcpy(b->path, path, pl + 1);
    memcpy(b->tmp, path, pl);
    memcpy(b->tmp + pl, ".tmp", 5);
    b->fd = fs_open(b->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (b->fd < 0) {
        int e = errno;
        free(b->path); free(b->tmp); free(b->wbuf); free(b);
        errno = e;
        return NULL;
    }
    block_builder_init(&b->data, b->o.restart_interval);
    block_builder_init(&b->index, 1);
    bloom_builder_init(&b->bloom, b->o.bloom_bits_per_key);
    return b;
oom:
    free(b->path); free(b->tmp); free(b->wbuf); free(b);
    errno = ENOMEM;
    return NULL;
}

/* Appends at the file's end (b->file_end: bytes already in the file). */
static int write_all(sst_builder *b, const char *p, size_t n) {
    size_t done = 0;
    int rc = fs_pwrite_all(b->fd, p, n, b->file_end, &done) ? LSM_EIO : 0;
    b->file_end += done;
    return rc;
}

static int flush_wbuf(sst_builder *b) {
    if (b->wlen == 0) return 0;
    int rc = write_all(b, b->wbuf, b->wlen);
    b->wlen = 0;
    /* start write-back of what is written so far (async), so the final fsync has little left
     * and a 64 MiB compaction output does not hit the disk in one burst */
    if (!rc) {
        uint64_t written = b->offset;
        if (written - b->synced >= SST_BYTES_PER_SYNC) {
            (void)sync_file_range(b->fd, (off_t)b->synced, (off_t)(written - b->synced),
                                  SYNC_FILE_RANGE_WRITE);
            b->synced = written;
        }
    }
    return rc;
}

static int emit(sst_builder *b, const char *p, size_t n) {
    if (b->wlen + n > SST_WBUF_SIZE) {
        int rc = flush_wbuf(b);
        if (rc) return rc;
    }
    if (n >= SST_WBUF_SIZE) {
        int rc = write_all(b, p, n);
        if (rc) return rc;
    } else {
        memcpy(b->wbuf + b->wlen, p, n);
        b->wlen += n;
    }
    b->offset += n;
    return 0;
}

/* Writes contents || type || crc, LZ4-compressing when allowed and worth >= 1/8. */
static int write_block(sst_builder *b, const char *raw, size_t n, int allow_compress,
                       uint64_t *off, uint64_t *size) {
    const char *out = raw;
    size_t outn = n;
    char type = SST_COMP_NONE;
    if (allow_compress && b->o.compression == 1 && n >= 64 && n <= (size_t)LZ4_MAX_INPUT_SIZE) {
        size_t need = 5 + (size_t)LZ4_compressBound((int)n);
        if (need > b->ccap) {
            char *q = realloc(b->cbuf, need);
            if (!q) return LSM_ENOMEM;
            b->cbuf = q;
            b->ccap = need;
        }
        size_t h = encode_varint32(b->cbuf, (uint32_t)n);
        int c = LZ4_compress_default(raw, b->cbuf + h, (int)n, (int)(b->ccap - h));
        if (c > 0 && h + (size_t)c <= n - n / 8) {
            out = b->cbuf;
            outn = h + (size_t)c;
            type = SST_COMP_LZ4;
        }
    }
    char trailer[SST_BLOCK_TRAILER];
    trailer[0] = type;
    uint32_t crc = crc32c_extend(crc32c(out, outn), trailer, 1);
    encode_fixed32(trailer + 1, crc32c_mask(crc));
    *off = b->offset;
    *size = outn;
    int rc = emit(b, out, outn);
    if (!rc) rc = emit(b, trailer, sizeof(trailer));
    return rc;
}

static int flush_data_block(sst_builder *b) {
    size_t n;
    const char *raw = block_builder_finish(&b->data, &n);
    if (!raw) return LSM_ENOMEM;
    int rc = write_block(b, raw, n, 1, &b->pend_off, &b->pend_size);
    if (rc) return rc;
    if (b->hook) b->hook(b->hook_ctx, b->pend_off, raw, n);
    b->pending_index = 1;
    b->p.num_data_blocks++;
    block_builder_reset(&b->data);
    return 0;
}

static int add_index_entry(sst_builder *b, const char *sep, size_t sl) {
    char h[20];
    size_t hl = encode_varint64(h, b->pend_off);
    hl += encode_varint64(h + hl, b->pend_size);
    b->pending_index = 0;
    return block_builder_add(&b->index, sep, sl, h, hl);
}

/* Index separator between a (last key of a block) and n (first key of the next): the shortest
 * user key u with a_user < u < n_user, tagged with the max sequence so it sorts first among
 * u's entries; a itself when no shorter one exists. a <= sep < n either way. */
static int add_separator(sst_builder *b, const char *a, size_t al, const char *n, size_t nl) {
    size_t au = al - IKEY_TRAILER, nu = nl - IKEY_TRAILER;
    size_t m = au < nu ? au : nu, d = 0;
    while (d < m && a[d] == n[d]) d++;
    if (d < m) {
        unsigned char ab = (unsigned char)a[d], nb = (unsigned char)n[d];
        if (ab < 0xff && ab + 1 < nb && d + 1 < au) {
            char sep[256 + IKEY_TRAILER];
            if (d + 1 <= 256) {
                memcpy(sep, a, d);
                sep[d] = (char)(ab + 1);
                encode_fixed64(sep + d + 1, ikey_pack_trailer(MAX_SEQUENCE, KIND_VALUE));
                return add_index_entry(b, sep, d + 1 + IKEY_TRAILER);
            }
        }
    }
    return add_index_entry(b, a, al);
}

int sst_builder_add(sst_builder *b, const char *ikey, size_t ikl, const char *val, size_t vl) {
    if (b->err) return b->err;
    if (ikl < IKEY_TRAILER) return LSM_EINVAL;
    int rc = 0;
    size_t ukl = ikl - IKEY_TRAILER;
    int first = b->p.num_entries == 0;
    if (!first && ikey_compare(b->last, b->last_len, ikey, ikl) >= 0) return LSM_EINVAL;
    if (b->pending_index) {
        rc = add_separator(b, b->last, b->last_len, ikey, ikl);
        if (rc) goto fail;
    }
    if (b->o.bloom_bits_per_key > 0 &&
        (first || ukey_compare(b->last, b->last_len - IKEY_TRAILER, ikey, ukl) != 0)) {
        rc = bloom_builder_add(&b->bloom, ikey, ukl);
        if (rc) goto fail;
    }
    rc = block_builder_add(&b->data, ikey, ikl, val, vl);
    if (rc) goto fail;

    uint64_t tr = ikey_trailer(ikey, ikl);
    uint64_t seq = tr >> 8;
    int kind = (int)(tr & 0xff);
    if (first) {
        b->p.min_seq = b->p.max_seq = seq;
        b->smallest = malloc(ikl);
        if (!b->smallest) { rc = LSM_ENOMEM; goto fail; }
        memcpy(b->smallest, ikey, ikl);
        b->smallest_len = ikl;
    } else {
        if (seq < b->p.min_seq) b->p.min_seq = seq;
        if (seq > b->p.max_seq) b->p.max_seq = seq;
    }
    b->p.num_entries++;
    if (kind == KIND_DELETE) b->p.num_deletions++;
    b->p.raw_key_bytes += ikl;
    b->p.raw_value_bytes += vl;
    if (kind == KIND_VALUE && b->o.expire_fn) {
        uint64_t e = b->o.expire_fn(b->o.expire_ctx, ikey, ukl, val, vl);
        if (e && (b->p.oldest_expire == 0 || e < b->p.oldest_expire)) b->p.oldest_expire = e;
    }
    if (ikl > b->last_cap) {
        size_t n = b->last_cap ? b->last_cap : 64;
        while (n < ikl) n *= 2;
        char *q = realloc(b->last, n);
        if (!q) { rc = LSM_ENOMEM; goto fail; }
        b->last = q;
        b->last_cap = n;
    }
    memcpy(b->last, ikey, ikl);
    b->last_len = ikl;
    if (block_builder_size(&b->data) >= b->o.block_size) {
        rc = flush_data_block(b);
        if (rc) goto fail;
    }
    return 0;
fail:
    b->err = rc;
    return rc;
}

uint64_t sst_builder_file_size(const sst_builder *b) {
    return b->offset + (block_builder_empty(&b->data) ? 0 : block_builder_size(&b->data));
}

uint64_t sst_builder_entries(const sst_builder *b) { return b->p.num_entries; }

static void builder_free(sst_builder *b) {
    if (b->fd >= 0) fs_close(b->fd);
    block_builder_free(&b->data);
    block_builder_free(&b->index);
    bloom_builder_free(&b->bloom);
    free(b->last);
    free(b->cbuf);
    free(b->smallest);
    free(b->wbuf);
    free(b->path);
    free(b->tmp);
    free(b);
}

void sst_builder_abandon(sst_builder *b) {
    if (!b) return;
    fs_unlink(b->tmp);
    builder_free(b);
}

static int props_add_u64(block_builder *pb, const char *name, uint64_t v) {
    char buf[10];
    return block_builder_add(pb, name, strlen(name), buf, encode_varint64(buf, v));
}

static int write_props(sst_builder *b, uint64_t *off, uint64_t *size) {
    block_builder pb;
    block_builder_init(&pb, 1);
    int rc = 0;
    /* names in ascending order */
    rc |= props_add_u64(&pb, SST_PROP_DATA_BLOCKS, b->p.num_data_blocks);
    rc |= props_add_u64(&pb, SST_PROP_DELETIONS, b->p.num_deletions);
    rc |= props_add_u64(&pb, SST_PROP_ENTRIES, b->p.num_entries);
    rc |= block_builder_add(&pb, SST_PROP_LARGEST, strlen(SST_PROP_LARGEST), b->last,
                            b->p.num_entries ? b->last_len : 0);
    rc |= props_add_u64(&pb, SST_PROP_MAX_SEQ, b->p.max_seq);
    rc |= props_add_u64(&pb, SST_PROP_MIN_SEQ, b->p.min_seq);
    rc |= props_add_u64(&pb, SST_PROP_OLDEST_EXPIRE, b->p.oldest_expire);
    rc |= props_add_u64(&pb, SST_PROP_RAW_KEY, b->p.raw_key_bytes);
    rc |= props_add_u64(&pb, SST_PROP_RAW_VALUE, b->p.raw_value_bytes);
    rc |= block_builder_add(&pb, SST_PROP_SMALLEST, strlen(SST_PROP_SMALLEST), b->smallest,
                            b->smallest_len);
    size_t n;
    const char *raw = rc ? NULL : block_builder_finish(&pb, &n);
    rc = raw ? write_block(b, raw, n, 0, off, size) : LSM_ENOMEM;
    block_builder_free(&pb);
    return rc;
}

int sst_builder_finish(sst_builder *b, sst_props *props) {
    int rc = b->err;
    uint64_t hoff[3] = {0, 0, 0}, hsize[3] = {0, 0, 0}; /* index, filter, props */
    if (rc) goto fail;
    if (!block_builder_empty(&b->data) && (rc = flush_data_block(b))) goto fail;
    if (b->pending_index && (rc = add_index_entry(b, b->last, b->last_len))) goto fail;
    if (b->o.bloom_bits_per_key > 0) {
        size_t fl;
        char *f = bloom_builder_finish(&b->bloom, &fl);
        if (!f) { rc = LSM_ENOMEM; goto fail; }
        rc = write_block(b, f, fl, 0, &hoff[1], &hsize[1]);
        free(f);
        if (rc) goto fail;
    }
    size_t il;
    const char *ib = block_builder_finish(&b->index, &il);
    if (!ib) { rc = LSM_ENOMEM; goto fail; }
    if ((rc = write_block(b, ib, il, 0, &hoff[0], &hsize[0]))) goto fail;
    if ((rc = write_props(b, &hoff[2], &hsize[2]))) goto fail;

    char footer[SST_FOOTER_SIZE];
    for (int i = 0; i < 3; i++) {
        encode_fixed64(footer + i * 16, hoff[i]);
        encode_fixed64(footer + i * 16 + 8, hsize[i]);
    }
    encode_fixed32(footer + 48, SST_FORMAT_VERSION);
    encode_fixed32(footer + 52, crc32c_mask(crc32c(footer, 52)));
    encode_fixed64(footer + 56, SST_MAGIC);
    if ((rc = emit(b, footer, sizeof(footer)))) goto fail;
    if ((rc = flush_wbuf(b))) goto fail;
    if (fs_fsync(b->fd)) { rc = LSM_EIO; goto fail; }
    int cfd = b->fd;
    b->fd = -1;
    if (fs_close(cfd)) { rc = LSM_EIO; goto fail; }
    if (fs_rename(b->tmp, b->path)) { rc = LSM_EIO; goto fail; }
    if (fs_sync_parent_dir(b->path)) {
        /* the file is in place but its name may not survive a power loss: not a table yet */
        int e = errno;
        fs_unlink(b->path);
        builder_free(b);
        errno = e;
        return LSM_EIO;
    }
    if (props) {
        *props = b->p;
        props->file_size = b->offset;
        props->smallest = b->smallest;
        props->smallest_len = b->smallest_len;
        b->smallest = NULL;
        props->largest = NULL;
        props->largest_len = 0;
        if (b->p.num_entries) {
            props->largest = malloc(b->last_len);
            if (!props->largest) {
                /* the table is written; report what we can */
                free(props->smallest);
                props->smallest = NULL;
                props->smallest_len = 0;
                builder_free(b);
                return LSM_ENOMEM;
            }
            memcpy(props->largest, b->last, b->last_len);
            props->largest_len = b->last_len;
        }
    }
    builder_free(b);
    return 0;
fail: {
    int e = errno; /* for the caller's message: cleanup must not change it */
    sst_builder_abandon(b);
    errno = e;
    return rc;
}
}
