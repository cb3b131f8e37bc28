/* sst_builder.h - writes one SSTable (doc/sstable_format.md) from internal keys in order.
 * Thread: any single thread (flush and compaction workers). The file is written under a temp
 * name and published by sst_builder_finish: fsync, rename to path, fsync of the directory. */
#ifndef KEVO_SST_BUILDER_H
#define KEVO_SST_BUILDER_H
#include <stddef.h>
#include <stdint.h>

typedef struct sst_options {
    size_t block_size;          /* target uncompressed data block size (4 KiB) */
    int restart_interval;       /* 16 */
    int bloom_bits_per_key;     /* 10; 0 = no filter */
    int compression;            /* 1 = lz4 when it saves >= 1/8 */
    /* optional: expire-at (unix ms, 0 none) of a VALUE, for the "oldest expire" property */
    uint64_t (*expire_fn)(void *ctx, const void *key, size_t klen, const void *val, size_t vlen);
    void *expire_ctx;
} sst_options;

/* Properties of a finished table; smallest/largest are malloc'ed internal keys owned by the
 * struct (free with sst_props_free). */
typedef struct sst_props {
    uint64_t num_entries, num_deletions;
    uint64_t raw_key_bytes, raw_value_bytes;
    uint64_t min_seq, max_seq;
    uint64_t oldest_expire;     /* smallest nonzero expire-at among values; 0 if none */
    uint64_t file_size;
    uint64_t num_data_blocks;
    char *smallest; size_t smallest_len;
    char *largest; size_t largest_len;
} sst_props;
void sst_props_free(sst_props *p);

typedef struct sst_builder sst_builder;
/* Opens path.tmp for writing. NULL on error (errno set). */
sst_builder *sst_builder_new(const char *path, const sst_options *opts);
/* Adds an entry; internal keys must be strictly ascending (ikey_compare). 0 or LSM_EIO. */
int sst_builder_add(sst_builder *b, const char *ikey, size_t ikl, const char *val, size_t vl);
/* Bytes written so far plus the pending block: used to cut output files. */
uint64_t sst_builder_file_size(const sst_builder *b);
uint64_t sst_builder_entries(const sst_builder *b);
/* Writes filter, index, properties and footer; fsyncs; renames to path; fsyncs the directory;
 * fills *props; frees b. On error the temp file is removed and b is freed. 0 or LSM_E*. */
int sst_builder_finish(sst_builder *b, sst_props *props);
/* Sees every data block as the builder writes it: its offset in the file and its uncompressed
 * contents (valid during the call only). Called on the builder's thread. */
typedef void (*sst_block_hook)(void *ctx, uint64_t off, const char *raw, size_t n);
void sst_builder_set_block_hook(sst_builder *b, sst_block_hook fn, void *ctx);
/* Removes the temp file and frees b. */
void sst_builder_abandon(sst_builder *b);
#endif
