/* notify.h - keyspace notifications (Redis 7.0's notify.c): a key event becomes a pub/sub
 * message on  __keyspace@<db>__:<key>  (message: the event name) and/or
 * __keyevent@<db>__:<event>  (message: the key), as the notify-keyspace-events classes say.
 *
 * THE API FOR COMMAND FILES: after a command changed a key (and its write group committed), call
 *     notify_keyspace_event(NOTIFY_<class>, "<event>", c->db, key, klen);
 * with Redis 7.0's class and event name for that command (see doc/commands.md, "Keyspace
 * events"), at the place Redis calls notifyKeyspaceEvent relative to the reply (a RESP3 client
 * subscribed to its own events sees them in that order). Emit only what Redis emits: most
 * events fire only when something changed. Events the keyspace emits by itself, don't repeat
 * them: "new" (keyspace_put of an absent key), "expired" (lazy and active expiry) and
 * "keymiss" (a KS_LOOKUP_READ lookup that finds nothing).
 * Examples (cmd_list.c): NOTIFY_LIST "lpush" after LPUSH's reply; LMOVE: "lpush"/"rpush" on the
 * destination, the reply, then "lpop"/"rpop" on the source and NOTIFY_GENERIC "del" when that
 * left it empty. Streams would publish NOTIFY_STREAM "xadd", "xtrim", "xdel", "xgroup-create"...
 * A command that writes several keys in an order other than Redis's may turn the keyspace's own
 * "new" events and modification signals off around its writes and publish them itself in
 * Redis's order (keyspace_new_events, keyspace_auto_signals: MSET does).
 *
 * All functions: loop thread only. Publishing costs nothing when the class is off. */
#ifndef KEVO_NOTIFY_H
#define KEVO_NOTIFY_H
#include <stddef.h>

/* Classes (Redis's NOTIFY_* values and letters). */
#define NOTIFY_KEYSPACE (1 << 0)  /* K */
#define NOTIFY_KEYEVENT (1 << 1)  /* E */
#define NOTIFY_GENERIC  (1 << 2)  /* g */
#define NOTIFY_STRING   (1 << 3)  /* $ */
#define NOTIFY_LIST     (1 << 4)  /* l */
#define NOTIFY_SET      (1 << 5)  /* s */
#define NOTIFY_HASH     (1 << 6)  /* h */
#define NOTIFY_ZSET     (1 << 7)  /* z */
#define NOTIFY_EXPIRED  (1 << 8)  /* x */
#define NOTIFY_EVICTED  (1 << 9)  /* e (Kevo never evicts: accepted, never fires) */
#define NOTIFY_STREAM   (1 << 10) /* t */
#define NOTIFY_KEY_MISS (1 << 11) /* m (not part of A) */
#define NOTIFY_MODULE   (1 << 13) /* d (no modules: accepted, never fires) */
#define NOTIFY_NEW      (1 << 14) /* n (not part of A) */
#define NOTIFY_ALL (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | \
                    NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

/* Publishes event for key of logical db when config.notify_keyspace_events enables type. The
 * strings are copied as needed (borrowed for the call only). */
void notify_keyspace_event(int type, const char *event, int db, const char *key, size_t klen);

/* The classes of a notify-keyspace-events string ("KEA", "Ex", ""), or -1 when it holds a
 * character that names no class (Redis's keyspaceEventsStringToFlags). Pure. */
int notify_flags_parse(const char *s);
/* The canonical string CONFIG GET shows for flags (Redis's keyspaceEventsFlagsToString: "A"
 * for all of NOTIFY_ALL, else the letters in g$lshzxetdn order, then K, E, m; note that, as in
 * Redis, "n" is not shown when A is). buf needs 16 bytes. Returns the length. Pure. */
size_t notify_flags_format(int flags, char *buf);
#define NOTIFY_INVALID_MSG "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
#endif
