/* hash.h - Redis hashes over the collection layer (coll.h): one member record per field,
 * 'm' || version || 0x00 || field -> value, the exact field count and the OBJECT ENCODING byte in
 * the metadata. A hash with the random-pick index in the POSINLINE layout (coll.h) stores
 * ordinal (8, BE) || value instead: hash_get, hash_value and the handlers show the value alone. Knows no clients (cmd_hash.c parses and replies). Main thread only.
 *
 * Encoding (what OBJECT ENCODING reports; the storage is the same either way), as Redis 7.0:
 * a hash is created "listpack" (COLL_ENC_SMALL) and becomes "hashtable" (COLL_ENC_BIG) for good
 * when it gets more than config.hash_max_listpack_entries fields, or when a write brings a field
 * or value longer than config.hash_max_listpack_value (Redis checks the lengths of a command's
 * arguments before adding anything: hash_check_length, hashTypeTryConversion).
 *
 * Writes must run inside the command's write group (keyspace_begin .. keyspace_commit) and end
 * with one hash_save. */
#ifndef KEVO_HASH_H
#define KEVO_HASH_H
#include <stddef.h>

#include "coll.h"

/* coll_open for KTYPE_HASH: 1 exists, 0 absent, COLL_WRONGTYPE, or a negative code. */
int hash_open(coll *h, int db, const char *key, size_t klen, int flags);
/* Creates the hash when absent (empty, "listpack"). 0 or a negative code. */
int hash_create(coll *h);
/* hashTypeTryConversion for one argument length: a "listpack" hash becomes "hashtable" when len
 * passes hash-max-listpack-value. No engine write (hash_save stores the byte). */
void hash_check_length(coll *h, size_t len);

/* Reads a field's value into out: 1 found, 0 absent (or no hash), or a negative code. */
int hash_get(const coll *h, const void *f, size_t flen, lsm_buf *out);
/* Field existence: 1, 0 or a negative code. */
int hash_exists(const coll *h, const void *f, size_t flen);
/* The user's value of a field record read from the engine (raw / rawlen, e.g. from an iterator
 * over the hash's members): raw without the ordinal of a POSINLINE hash (*len set), or NULL when
 * the record is too short to hold one (corruption: report LSM_ECORRUPT). */
const char *hash_value(const coll *h, const char *raw, size_t rawlen, size_t *len);
/* Sets field to value. exists: 1 or 0 when the caller knows (from hash_get), -1 to look it up
 * (a POSINLINE hash reads an existing field's record again, for the ordinal it keeps).
 * The hash must exist (hash_create). Keeps count, encoding (lengths of field and value, field
 * count) and the random-pick index. Returns 1 field created, 0 updated, or a negative code. */
int hash_set(coll *h, const void *f, size_t flen, const void *v, size_t vlen, int exists);
/* Deletes a field: 1 deleted, 0 absent, or a negative code. */
int hash_del(coll *h, const void *f, size_t flen);
/* Writes the metadata (or removes the hash when it has no field left). */
int hash_save(coll *h);
#endif
