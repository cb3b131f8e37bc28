/* pubsub.h - publish/subscribe state and delivery (Redis 7.0's pubsub.c semantics): channels,
 * patterns (glob_match, Redis's stringmatchlen) and shard channels (standalone: a separate
 * namespace, no patterns), per-client subscriptions, and the messages:
 *   RESP2  *3 message <channel> <msg>      *4 pmessage <pattern> <channel> <msg>
 *          *3 subscribe <channel> <count>  ... (count: the client's channels + patterns, or its
 *          shard channels for ssubscribe/sunsubscribe/smessage)
 *   RESP3  the same with the push type (>) instead of *.
 * A client with at least one subscription has CLIENT_PUBSUB (RESP2: only (P|S)SUBSCRIBE,
 * (P|S)UNSUBSCRIBE, PING, QUIT and RESET are allowed; command.c enforces it).
 *
 * Ownership: channel and pattern names are copied; a client's state is freed by
 * pubsub_client_free (disconnect, RESET). Message delivery appends to the receivers' reply
 * buffers at once (client_push_begin/end): they are written in before-sleep with the replies,
 * in the order Redis would produce them. Loop thread only. */
#ifndef KEVO_PUBSUB_H
#define KEVO_PUBSUB_H
#include <stddef.h>

struct client;

#define PUBSUB_GLOBAL 0 /* SUBSCRIBE / PUBLISH channels */
#define PUBSUB_SHARD  1 /* SSUBSCRIBE / SPUBLISH shard channels */

/* Subscribes c to channel (kind PUBSUB_*) and replies the subscribe message. 1 when new, 0 when
 * c was subscribed already (the message is sent anyway, as Redis), -1 out of memory (error
 * replied). Sets CLIENT_PUBSUB. */
int pubsub_subscribe(struct client *c, const char *ch, size_t len, int kind);
/* Unsubscribes c from channel; with notify, replies the unsubscribe message (even when c was
 * not subscribed). 1 when c was subscribed. Does not touch CLIENT_PUBSUB (pubsub_update_mode). */
int pubsub_unsubscribe(struct client *c, const char *ch, size_t len, int kind, int notify);
/* Every channel of kind; with notify one message each, or one with a null channel when there
 * were none. Returns the count. */
int pubsub_unsubscribe_all(struct client *c, int kind, int notify);
/* Patterns: the same for PSUBSCRIBE / PUNSUBSCRIBE (a client's patterns keep their order). */
int pubsub_psubscribe(struct client *c, const char *pat, size_t len);
int pubsub_punsubscribe(struct client *c, const char *pat, size_t len, int notify);
int pubsub_punsubscribe_all(struct client *c, int notify);
/* Clears CLIENT_PUBSUB when c has no subscription left. */
void pubsub_update_mode(struct client *c);
/* Disconnect / RESET: every subscription of c silently, then its state is freed. */
void pubsub_client_free(struct client *c);

/* Sends msg on channel to every subscriber (and, for PUBSUB_GLOBAL, every client whose pattern
 * matches); returns the number of receivers (a client matching by several patterns counts once
 * per pattern, as Redis). */
long long pubsub_publish(const char *ch, size_t len, const char *msg, size_t mlen, int kind);
/* 1 when any client is subscribed to a global channel or a pattern. */
int pubsub_has_subscribers(void);

/* Counts for CLIENT LIST (sub= psub= ssub=), INFO (pubsub_channels...), PUBSUB NUMSUB/NUMPAT. */
int pubsub_client_count(const struct client *c, int what); /* 0 channels, 1 patterns, 2 shard */
long long pubsub_channel_count(int kind);   /* channels with at least one subscriber */
long long pubsub_pattern_count(void);       /* distinct patterns */
long long pubsub_numsub(const char *ch, size_t len, int kind);
/* Replies the array of active channels of kind matching pat (NULL: all), unspecified order. */
void pubsub_reply_channels(struct client *c, const char *pat, size_t plen, int kind);
#endif
