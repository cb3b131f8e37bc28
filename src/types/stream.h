/* stream.h - Redis streams (Redis 7.0 semantics) over the collection layer (coll.h): entries,
 * macro nodes, consumer groups, their pending entries lists (PEL) and consumers, every one its
 * own engine record under the stream's version. Knows no clients (cmd_stream.c parses and
 * replies). Main thread only.
 *
 * Layout (on-disk: never change; doc/keyspace_format.md "Streams"). IDs are 16 bytes: ms (8,
 * big-endian) || seq (8, big-endian), so bytewise order is ID order.
 *   'k' || db || key  -> header || version || length (8, LE) || enc (0) || extra (64 bytes):
 *                        last-id (16) | entries-added (8, LE) | first-id (16) | tail node (16) |
 *                        entries (4, LE) and listpack bytes (4, LE) appended to the tail node
 *                        since its record was written
 *   'm' || ver || 0x00 || id             -> entry: varint n, then n x (varint len, field,
 *                                           varint len, value)
 *   'm' || ver || 0x10                   -> state: max-deleted-id (16) | groups (8, LE) |
 *                                           nodes (8, LE) | head node (16) | its live
 *                                           count (8, LE)            (absent: all zero)
 *   'm' || ver || 0x11 || master id      -> macro node: live (8) | deleted (8) | body bytes (8) |
 *                                           last id (16) | nfields (4) | nfields x (len (4) |
 *                                           field)                    (integers LE)
 *   'm' || ver || 0x20 || group          -> group: last-delivered-id (16) | entries-read (8, LE,
 *                                           -1 = unknown) | pel (8) | consumers (8) | first
 *                                           pending ID (16, 0-0 when none)
 *   'm' || ver || 0x21 || G || id        -> PEL entry: delivery time (8) | delivery count (8) |
 *                                           consumer name            (G = glen (4, BE) | group)
 *   'm' || ver || 0x22 || G || C || id   -> "" : the consumer's PEL   (C = clen (4, BE) | name)
 *   'm' || ver || 0x23 || G || consumer  -> consumer: seen time (8) | pel (8)
 *
 * Macro nodes mirror Redis's radix tree of listpacks: each records the master ID (its first
 * entry) and what Redis's listpack would hold (live and deleted entry counts, the master
 * fields, the byte size the listpack would have). XADD starts a new node exactly when Redis
 * would (stream-node-max-bytes / -max-entries), so approximate trimming (MAXLEN ~, MINID ~,
 * LIMIT), which removes whole nodes only, removes exactly what Redis removes, and XINFO reports
 * Redis's radix-tree-keys. Entries are never rewritten: a node is bookkeeping only.
 *
 * The tail node's record is not rewritten by every XADD: what XADD appends to it (entry count and
 * listpack bytes) rides in the metadata, which XADD writes anyway, and its last ID is then the
 * stream's; the record takes them when the node is done (a new node starts), when XDEL or a
 * trim changes that node (they read it with what was appended), or before XSETID moves the last
 * ID.
 *
 * Costs: XADD reads the metadata and the tail node and writes the entry and the metadata (the
 * node records too, once per node); XRANGE/XREAD read what they return (seeking to first-id, so a head trimmed by
 * XTRIM does not make walks step over its tombstones); XLEN reads the metadata; XDEL one entry
 * reads it and its node; a trim deletes its entries one by one in key order (O(trimmed)); group
 * operations read and write the records they name.
 *
 * Writes must run inside the command's write group (keyspace_begin .. keyspace_commit) and end
 * with one stream_save. */
#ifndef KEVO_STREAM_H
#define KEVO_STREAM_H
#include <stddef.h>
#include <stdint.h>

#include "coll.h"

typedef struct stream_id {
    uint64_t ms, seq;
} stream_id;

/* record kinds (on-disk: never change) */
#define STREAM_SUB_ENTRY 0x00
#define STREAM_SUB_STATE 0x10
#define STREAM_SUB_NODE 0x11
#define STREAM_SUB_GROUP 0x20
#define STREAM_SUB_PEL 0x21
#define STREAM_SUB_CPEL 0x22
#define STREAM_SUB_CONSUMER 0x23
#define STREAM_EXTRA_LEN 80    /* the metadata extra, with trimmed-below (16) at 64 */
#define STREAM_EXTRA_LEN_V1 64 /* written before trimmed-below existed: it reads as 0-0 */

#define STREAM_LISTPACK_MAX_SIZE (1ull << 30) /* Redis: no entry may be bigger */
#define STREAM_ENTRIES_READ_INVALID (-1)      /* Redis's SCG_INVALID_ENTRIES_READ */

/* errors of stream_add (besides engine codes) */
#define STREAM_ERR_ID (-201)      /* the ID is not greater than the stream's last ID */
#define STREAM_ERR_TOOBIG (-202)  /* "Elements are too large to be stored" (Redis's other error) */

typedef struct stream {
    coll c;                   /* c.count is the length */
    stream_id last_id;        /* last-generated-id */
    uint64_t entries_added;
    stream_id first_id;       /* recorded-first-entry-id: the first live entry, 0-0 when empty */
    stream_id tail;           /* master ID of the last macro node, 0-0 when there is none */
    uint32_t tail_add_n;      /* entries appended to the tail since its record was written */
    uint32_t tail_add_bytes;  /* their listpack bytes */
    int state_loaded, state_dirty;
    stream_id max_deleted;    /* max-deleted-entry-id */
    uint64_t ngroups, nnodes;
    stream_id head;           /* master ID of the first macro node (0-0: none): walks over the
                                 nodes seek there, past the records of nodes trimmed before */
    uint64_t head_live;       /* live entries in the head node's record (what XADD appended
                                 to it as the tail is not in it): XADD MAXLEN ~ decides from it */
    stream_id trimmed;        /* every entry with an ID <= trimmed is deleted, whether its record
                                 is still there or not: a trim raises it instead of deleting the
                                 entries one by one (O(macro nodes), not O(entries)). Also the
                                 value of the version's 'v' record, where the compaction filter
                                 reads it to drop those records (coll_compaction_filter) */
    int trimmed_dirty;        /* trimmed moved: stream_save writes the 'v' record */
} stream;

/* ---- IDs ---- */
int stream_id_cmp(const stream_id *a, const stream_id *b);
int stream_id_is_zero(const stream_id *a);
/* Successor / predecessor; -1 (and the ID wrapped as Redis does) at the end of the range. */
int stream_id_incr(stream_id *id);
int stream_id_decr(stream_id *id);
void stream_id_encode(char dst[16], const stream_id *id);
void stream_id_decode(const char src[16], stream_id *id);
/* "<ms>-<seq>" into dst (capacity >= 42); returns the length. */
int stream_id_format(char *dst, const stream_id *id);
/* Redis's streamGenericParseIDOrReply on a NUL-terminated argument (which may hold NULs: only
 * the part before the first NUL counts, as in Redis): "-" and "+" (unless strict), "<ms>",
 * "<ms>-<seq>", and "<ms>-*" when seq_given is not NULL (*seq_given = 0 then, else 1). A missing
 * seq is missing_seq. Numbers as Redis's string2ull (strtoull rules). 1 ok, 0 invalid. */
int stream_id_parse(const char *s, size_t len, stream_id *id, uint64_t missing_seq, int strict,
                    int *seq_given);

/* ---- the stream ---- */
/* coll_open for KTYPE_STREAM and the metadata: 1 exists, 0 absent, COLL_WRONGTYPE, or < 0. */
int stream_open(stream *s, int db, const char *key, size_t klen, int flags);
void stream_close(stream *s);
/* Creates the empty stream when absent. 0 or a negative code. */
int stream_create(stream *s);
/* Loads the state record (max-deleted-id, group and node counts) once. 0 or < 0. */
int stream_load_state(stream *s);
/* Writes what changed: the state record and the metadata (an empty stream stays). quiet: the
 * command is one Redis runs without signalModifiedKey (coll_save_keep). */
int stream_save(stream *s, int quiet);

/* Appends an entry of npairs field/value pairs (f[i], fl[i], v[i], vl[i]) as Redis's
 * streamAppendItem: use_id NULL = "*" (from now_ms and the last ID), else the given ID
 * (seq_given 0: "<ms>-*"). *added gets the ID. 0, STREAM_ERR_ID, STREAM_ERR_TOOBIG or < 0. */
int stream_add(stream *s, const stream_id *use_id, int seq_given, uint64_t now_ms,
               const char *const *f, const size_t *fl, const char *const *v, const size_t *vl,
               long npairs, stream_id *added);

#define STREAM_TRIM_NONE 0
#define STREAM_TRIM_MAXLEN 1
#define STREAM_TRIM_MINID 2
typedef struct stream_trim_args {
    int strategy;             /* STREAM_TRIM_* */
    int approx;               /* ~: whole macro nodes only */
    long long limit;          /* at most this many entries (0 = no limit) */
    long long maxlen;
    stream_id minid;
} stream_trim_args;
/* Redis's streamTrim: removes entries from the head; *deleted gets how many. 0 or < 0. */
int stream_trim(stream *s, const stream_trim_args *a, int64_t *deleted);
/* XSETID's new last ID (the tail node's record is brought up to date first). 0 or < 0. */
int stream_set_last_id(stream *s, const stream_id *id);
/* Deletes one entry (XDEL): 1 deleted, 0 absent, < 0. Keeps first-id and max-deleted-id. */
int stream_delete(stream *s, const stream_id *id);
/* The last live entry's ID (streamLastValidID): 1 found, 0 empty, < 0. */
int stream_last_entry(const stream *s, stream_id *id);

/* ---- entries ---- */
/* An entry's encoded value: fields and values (valid while the source buffer is). */
typedef struct stream_fields {
    const char *p, *end;
    long n;                   /* pairs */
} stream_fields;
/* Parses an entry value: 0 ok, LSM_ECORRUPT. */
int stream_fields_open(stream_fields *sf, const char *v, size_t vlen);
/* Next pair: 1, 0 at the end, LSM_ECORRUPT. */
int stream_fields_next(stream_fields *sf, const char **f, size_t *fl, const char **v, size_t *vl);
/* Reads entry id's value into out: 1 found, 0 absent, < 0. */
int stream_get(const stream *s, const stream_id *id, lsm_buf *out);

/* A walk over the entries in [start, end], forward or reverse. */
typedef struct stream_iter {
    coll_iter ci;
    stream_id start, end;
    int rev, started, valid;
    const stream *s;
} stream_iter;
int stream_iter_open(stream_iter *it, const stream *s, const stream_id *start,
                     const stream_id *end, int rev);
/* Moves to the next entry of the walk: 1 (id and value set, valid until the next move), 0 at
 * the end, < 0 engine error. */
int stream_iter_next(stream_iter *it, stream_id *id, const char **v, size_t *vlen);
void stream_iter_close(stream_iter *it);

/* ---- XINFO figures ---- */
/* Redis's rax node count of the macro nodes' keys (radix-tree-nodes), computed from the node
 * records: O(nodes). *out gets it. 0 or < 0. */
int stream_radix_nodes(const stream *s, long long *out);
/* Redis's lag bookkeeping: streamRangeHasTombstones and
 * streamEstimateDistanceFromFirstEverEntry (-1 when not obtainable). Need the state. */
int stream_range_has_tombstones(const stream *s, const stream_id *start, const stream_id *end);
long long stream_estimate_distance(const stream *s, const stream_id *id);

/* ---- consumer groups ---- */
typedef struct stream_group {
    const char *name;         /* borrowed */
    size_t nlen;
    stream_id last_id;
    long long entries_read;   /* STREAM_ENTRIES_READ_INVALID when unknown */
    uint64_t pel;             /* PEL size */
    uint64_t consumers;
    stream_id pel_head;       /* the first pending ID (0-0: none), kept by stream_nack_put/del and
                                 stream_consumer_delete: walks over the PEL seek there, past the
                                 records of acknowledged entries */
    int head_stale;           /* in memory: pel_head was removed; stream_group_put seeks the next
                                 one (once for a command's many removals). Walks must not be
                                 opened on a group in that state. */
} stream_group;
/* 1 found (g filled, g->name = name), 0 absent, < 0. */
int stream_group_get(const stream *s, const char *name, size_t nlen, stream_group *g);
/* Writes g (creating it when new: the caller counts s->ngroups), its first pending ID brought
 * up to date. */
int stream_group_put(stream *s, stream_group *g);
/* Removes the group, its PEL and consumers (O(PEL + consumers)); s->ngroups decremented. */
int stream_group_destroy(stream *s, const stream_group *g);
/* Decodes a group record value (walks over groups). 0 or LSM_ECORRUPT. */
int stream_group_decode(const char *v, size_t vlen, stream_group *g);

typedef struct stream_consumer {
    const char *name;         /* borrowed */
    size_t nlen;
    uint64_t seen_time;
    uint64_t pel;
} stream_consumer;
/* 1 found, 0 absent, < 0. */
int stream_consumer_get(const stream *s, const stream_group *g, const char *name, size_t nlen,
                        stream_consumer *co);
/* Writes the consumer (the caller counts g->consumers for a new one). */
int stream_consumer_put(stream *s, const stream_group *g, const stream_consumer *co);
int stream_consumer_decode(const char *v, size_t vlen, stream_consumer *co);
/* Removes a consumer and its pending entries (both PEL indexes); g->pel and g->consumers are
 * adjusted (the caller writes g). */
int stream_consumer_delete(stream *s, stream_group *g, const stream_consumer *co);

/* A pending entry (NACK). */
typedef struct stream_nack {
    uint64_t delivery_time;
    uint64_t delivery_count;
    const char *consumer;     /* into the read buffer, or borrowed for a write */
    size_t clen;
} stream_nack;
/* Reads id's PEL entry of g: 1 (n->consumer points into buf), 0 absent, < 0. */
int stream_nack_get(const stream *s, const stream_group *g, const stream_id *id, stream_nack *n,
                    lsm_buf *buf);
/* Writes id's PEL entry (both indexes; old_consumer: the owner it had, NULL when new, whose
 * consumer-PEL record is deleted when the owner changes). Counts are the caller's; g's first
 * pending ID is kept (the caller writes g). */
int stream_nack_put(stream *s, stream_group *g, const stream_id *id, const stream_nack *n,
                    const char *old_consumer, size_t old_clen);
/* Deletes id's PEL entry owned by consumer (both indexes). Counts are the caller's; g's first
 * pending ID is kept (the caller writes g). */
int stream_nack_del(stream *s, stream_group *g, const stream_id *id, const char *consumer,
                    size_t clen);
int stream_nack_decode(const char *v, size_t vlen, stream_nack *n);
/* Adds delta to consumer name's pel count (read-modify-write; absent consumers are skipped). */
int stream_consumer_pel_add(stream *s, const stream_group *g, const char *name, size_t nlen,
                            int64_t delta);

/* Walks over records of one group: kind STREAM_SUB_PEL (by ID, from `from`), STREAM_SUB_CPEL
 * (one consumer's, by ID), STREAM_SUB_CONSUMER (by name). */
typedef struct stream_gwalk {
    coll_iter ci;
    char *prefix;             /* the member bytes every record of the walk starts with */
    size_t plen;
    int rev, started;
    uint64_t left;            /* records the walk may still return */
} stream_gwalk;
/* consumer: for STREAM_SUB_CPEL; from: the first ID (NULL: the first record); rev: from the
 * last record backwards (PEL only, from ignored). The walk returns at most limit records (and
 * never more than the group's PEL / consumers hold: pass the consumer's count for CPEL), so it
 * stops on its last record instead of stepping over deleted ones after it; forward PEL and
 * CPEL walks start at the group's first pending ID at the earliest. 0 or < 0. */
int stream_gwalk_open(stream_gwalk *w, const stream *s, uint8_t kind, const stream_group *g,
                      const char *consumer, size_t clen, const stream_id *from, int rev,
                      uint64_t limit);
/* 1 with the record's key tail (an ID, or a consumer name) and value; 0 at the end; < 0. */
int stream_gwalk_next(stream_gwalk *w, const char **k, size_t *klen, const char **v,
                      size_t *vlen);
void stream_gwalk_close(stream_gwalk *w);
#endif
