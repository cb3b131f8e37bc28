/* batch.h - the write batch's internal side: its WAL payload encoding (doc/wal_format.md).
 *
 * Payload (on-disk: never change):
 *   first_sequence fixed64 || op_count fixed32 || ops... || counter_count varint || counters...
 *   op      = kind(1) || varint klen || key || (kind == VALUE: varint vlen || value)
 *   counter = varint idx || varint zigzag(delta)
 * Operation i gets sequence first_sequence + i. A batch with 0 ops may still carry counters
 * (it then consumes no sequence number). The public functions are in lsm.h. */
#ifndef KEVO_BATCH_H
#define KEVO_BATCH_H
#include <stddef.h>
#include <stdint.h>
#include "lsm.h"

void batch_set_sequence(lsm_batch *b, uint64_t first_seq);
uint64_t batch_sequence(const lsm_batch *b);
/* The encoded payload (valid until the batch changes). */
const char *batch_data(const lsm_batch *b, size_t *len);
/* Replaces the batch's contents with a payload read from a WAL. LSM_ECORRUPT if malformed. */
int batch_set_data(lsm_batch *b, const char *data, size_t len);

typedef int (*batch_op_fn)(void *ctx, uint64_t seq, int kind, const char *key, size_t klen,
                           const char *val, size_t vlen);
typedef void (*batch_counter_fn)(void *ctx, int idx, int64_t delta);
/* Calls op for each op in order (stops and returns its nonzero result), then counter for each
 * counter delta. Returns 0, the callback's result, or LSM_ECORRUPT. */
int batch_iterate(const lsm_batch *b, batch_op_fn op, batch_counter_fn counter, void *ctx);
/* Total key+value bytes of the ops (for stats). */
uint64_t batch_user_bytes(const lsm_batch *b);
#endif
