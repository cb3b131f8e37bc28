/* hyperloglog.h - Redis's HyperLogLog representation (PFADD/PFCOUNT/PFMERGE values), byte for
 * byte: a value written by redis-server is read here and every value written here is the one
 * redis-server 7.0 would hold. Pure code: no clients, no keyspace, no globals; any thread.
 *
 * Value layout (on-disk, and Redis's: never change):
 *
 *   +------+-----+---------+------------------+--------------------------------+
 *   | HYLL | enc | 3 bytes | card (8, LE)     | registers                      |
 *   +------+-----+---------+------------------+--------------------------------+
 *     0      4     5         8                  16
 *
 *   enc 0 = dense: 16384 registers of 6 bits, packed from the LSB of byte 0 upwards
 *           (register i is bits 6i..6i+5 of the little-endian bit stream): 12288 bytes, so a
 *           dense value is exactly 12304 bytes.
 *   enc 1 = sparse: run-length opcodes covering the 16384 registers in order:
 *           00xxxxxx           ZERO   xxxxxx+1 (1..64) registers are 0
 *           01xxxxxx yyyyyyyy  XZERO  (xxxxxx<<8 | yyyyyyyy)+1 (1..16384) registers are 0
 *           1vvvvvxx           VAL    xx+1 (1..4) registers hold vvvvv+1 (1..32)
 *           e.g. the empty HLL is one XZERO:16384 = 7f ff.
 *   card: the cached cardinality; bit 7 of byte 15 set = stale (PFADD/PFMERGE only set that bit,
 *         the other card bytes keep their old value, as Redis does). The 3 bytes after enc are
 *         carried along unchanged.
 *
 * Hash: MurmurHash64A (seed 0xadc83b19) of the element; its low 14 bits pick the register, the
 * register gets 1 + the number of trailing zero bits of the rest (1..51), if larger. A sparse
 * value turns dense when a register needs more than 32, or when an update would make it longer
 * than sparse_max bytes (hll-sparse-max-bytes). The estimator is Redis 7.0's (Ertl's "new"
 * estimator, hllSigma/hllTau).
 *
 * A sparse value is whole when its opcodes cover exactly 16384 registers. The functions that
 * read every register (count, merge, to_dense) refuse any other value, stopping at the first
 * opcode that would go past register 16383: that is Redis with the CVE-2025-32023 fix (7.2.10,
 * 6.2.19, and the Debian 7.0.15 package we test against); before it, opcodes after a VAL that
 * ended exactly at 16384 were ignored. An update (PFADD) only walks up to the register it
 * changes, as Redis's does. Corrupted values never make a function read or write outside the
 * value (plus the terminator byte an `hll` keeps, see below): they make it return HLL_CORRUPT
 * where Redis answers INVALIDOBJ. */
#ifndef KEVO_HYPERLOGLOG_H
#define KEVO_HYPERLOGLOG_H
#include <stddef.h>
#include <stdint.h>

#define HLL_P 14
#define HLL_Q (64 - HLL_P)                  /* 50 */
#define HLL_REGISTERS (1 << HLL_P)          /* 16384 */
#define HLL_BITS 6
#define HLL_REGISTER_MAX ((1 << HLL_BITS) - 1)
#define HLL_HDR_SIZE 16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8) /* 12304 */
#define HLL_DENSE 0                          /* on-disk: never change */
#define HLL_SPARSE 1                         /* on-disk: never change */
#define HLL_SEED 0xadc83b19u
#define HLL_SPARSE_VAL_MAX_VALUE 32

/* results */
#define HLL_CORRUPT (-1)  /* a sparse value that is not whole (see above) */
#define HLL_NOMEM   (-2)

/* A value being modified. p holds len bytes followed by at least one more byte: Redis's code
 * relies on the string's terminator (an sds string always has one) when it reads the second
 * byte of an XZERO cut off at the end, and we reproduce that, so p[len] reads as the
 * terminator. Owned by the struct (malloc); reuse one across commands to amortize. */
typedef struct hll {
    uint8_t *p;
    size_t len;
    size_t cap;
} hll;

/* Frees the buffer; h is then empty and may be reused. */
void hll_free(hll *h);
/* Sets h to a new empty HLL exactly as Redis creates one (sparse, XZERO:16384, card 0).
 * 0 or HLL_NOMEM. */
int hll_set_empty(hll *h);
/* Sets h to a copy of the value v (len bytes). 0 or HLL_NOMEM. */
int hll_set_copy(hll *h, const void *v, size_t len);

/* Redis's isHLLObjectOrReply test on a string value: 1 when it is at least a header, starts
 * with "HYLL", has encoding 0 or 1, and a dense one is exactly HLL_DENSE_SIZE bytes; else 0.
 * Every function below that takes a value requires one that passed this test. */
int hll_is_valid(const void *v, size_t len);
/* HLL_DENSE or HLL_SPARSE */
int hll_encoding(const void *v);

/* The cached cardinality: 1 with *card set when it is valid (bit 63 clear), else 0. */
int hll_cache_get(const void *v, uint64_t *card);
/* Stores card (little-endian) in the header of the value starting at v. */
void hll_cache_set(void *v, uint64_t card);
/* Marks the cache stale (sets bit 63 only). */
void hll_cache_invalidate(void *v);

/* MurmurHash64A as Redis's (endian neutral). */
uint64_t hll_murmur64a(const void *key, size_t len, uint32_t seed);
/* Register index (0..16383) and count (1..51) of an element. */
int hll_pattern(const void *ele, size_t len, long *reg);

/* Adds one element: 1 when a register grew, 0 when nothing changed, HLL_CORRUPT (h unchanged)
 * or HLL_NOMEM (h unchanged). An update of a sparse value marks the cache stale, as Redis's
 * does; for a dense one (or a promotion) the caller does (PFADD, PFMERGE). A sparse h may
 * become dense (see the header). */
int hll_add(hll *h, const void *ele, size_t len, size_t sparse_max);
/* Raises register index (0..16383) to count (1..63) if lower: as hll_add. */
int hll_set_register(hll *h, long index, uint8_t count, size_t sparse_max);
/* Sparse to dense, keeping the header (magic, the 3 bytes, card). 0 (also when already
 * dense), HLL_CORRUPT (h unchanged) or HLL_NOMEM. */
int hll_to_dense(hll *h);

/* Register i of dense registers (the bytes after the header). */
uint8_t hll_dense_get(const uint8_t *regs, long i);
/* Sets register i of dense registers to val (0..63). */
void hll_dense_set(uint8_t *regs, long i, uint8_t val);

/* Cardinality estimate of a value (as Redis's hllCount); *invalid is set to 1 for a corrupt
 * sparse value (and left alone otherwise); the estimate is then meaningless. */
uint64_t hll_count(const void *v, size_t len, int *invalid);
/* Estimate of plain registers, one byte each (0..63): PFCOUNT of several keys. */
uint64_t hll_count_raw(const uint8_t regs[HLL_REGISTERS]);
/* max[i] = MAX(max[i], register i of v). 0 or HLL_CORRUPT (max then partly updated). */
int hll_merge(uint8_t max[HLL_REGISTERS], const void *v, size_t len);

/* PFDEBUG DECODE text of a sparse value ("Z:1000 v:2,1 z:19 ..."): malloc'd, NUL-terminated,
 * length in *outlen; NULL on out of memory. */
char *hll_sparse_decode(const void *v, size_t len, size_t *outlen);

/* PFSELFTEST: register access and estimator error (10M elements, dense and sparse agree).
 * 0, or -1 with Redis's TESTFAILED message in err. Seconds of CPU; uses rand(). */
int hll_selftest(size_t sparse_max, char *err, size_t errlen);
#endif
