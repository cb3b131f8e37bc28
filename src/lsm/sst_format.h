/* sst_format.h - on-disk constants of an SSTable (doc/sstable_format.md).
 *
 *   file   = data block* || filter block? || index block || properties block || footer
 *   block on disk = contents || type(1) || masked crc32c(4) over contents||type
 *     type 0: contents are the raw block
 *     type 1: contents = varint32 raw_len || LZ4 block of raw_len bytes
 *   footer (SST_FOOTER_SIZE = 64 bytes, at the very end of the file):
 *     index handle  (fixed64 offset, fixed64 size)
 *     filter handle (fixed64 offset, fixed64 size; 0,0 = no filter)
 *     props handle  (fixed64 offset, fixed64 size)
 *     format version fixed32 || masked crc32c fixed32 over the 52 bytes before it
 *     magic fixed64
 *   A handle's size counts the contents only, not the 5-byte trailer.
 * Header-only constants, any thread. Everything here is on-disk: never change. */
#ifndef KEVO_SST_FORMAT_H
#define KEVO_SST_FORMAT_H
#include <stdint.h>

#define SST_MAGIC UINT64_C(0x4b65766f53535431)   /* "KevoSST1"; on-disk: never change */
#define SST_FORMAT_VERSION 1u                    /* on-disk: never change (add new ones) */
#define SST_FOOTER_SIZE 64                       /* on-disk: never change */
#define SST_BLOCK_TRAILER 5                      /* type(1) + crc(4); on-disk: never change */

enum { SST_COMP_NONE = 0, SST_COMP_LZ4 = 1 };    /* on-disk: never change */

/* Filter block contents: bit array (bytes) || k (1 byte). */

/* Property names in the properties block (a block with restart interval 1, names ascending,
 * values varint64 except smallest/largest which are internal keys). on-disk: never change. */
#define SST_PROP_DATA_BLOCKS   "kevo.data.blocks"
#define SST_PROP_DELETIONS     "kevo.deletions"
#define SST_PROP_ENTRIES       "kevo.entries"
#define SST_PROP_LARGEST       "kevo.largest"
#define SST_PROP_MAX_SEQ       "kevo.max.seq"
#define SST_PROP_MIN_SEQ       "kevo.min.seq"
#define SST_PROP_OLDEST_EXPIRE "kevo.oldest.expire"
#define SST_PROP_RAW_KEY       "kevo.raw.key.bytes"
#define SST_PROP_RAW_VALUE     "kevo.raw.value.bytes"
#define SST_PROP_SMALLEST      "kevo.smallest"

/* Largest block the reader accepts (guards allocations against a corrupt length). */
#define SST_MAX_BLOCK_SIZE (UINT64_C(1) << 30)
#endif
