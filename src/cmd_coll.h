/* cmd_coll.h - what the collection command files share (cmd_hash.c, cmd_set.c, cmd_zset.c,
 * cmd_blocking.c): the HSCAN / SSCAN walk, argument helpers with Redis's error strings, the pops
 * the blocking commands reuse. Main thread. */
#ifndef KEVO_CMD_COLL_H
#define KEVO_CMD_COLL_H
#include "client.h"
#include "types/coll.h"

/* Parses a SCAN cursor as Redis's parseScanCursorOrReply (strtoul: no leading space, the whole
 * argument, in range). 1 ok, 0 invalid ("ERR invalid cursor" is the caller's reply). */
int cmd_coll_parse_cursor(const cmdarg *a, unsigned long long *out);

/* The rest of HSCAN/SSCAN key cursor [MATCH pattern] [COUNT count] once the cursor parsed and the
 * key was found as the right type (co open, existing): parses the options (errors as Redis) and
 * replies [next-cursor, [elements]]. pairs: each member is followed by its value (HSCAN); MATCH
 * applies to members. A small collection (the encoding Redis keeps as a listpack / intset) is
 * returned whole with cursor 0, as Redis does; a big one is walked COUNT members per call. */
void cmd_coll_scan(client *c, coll *co, unsigned long long cursor, int pairs);

/* HSCAN / SSCAN key cursor ...: the whole command for a collection of type (WRONGTYPE, a
 * missing key as an empty walk, then cmd_coll_scan). */
void cmd_coll_scan_command(client *c, uint8_t type, int pairs);

/* Parses argv as a long in [min, max] as Redis's getRangeLongFromObjectOrReply: 1 ok; 0 replied
 * (msg replaces every error text when not NULL, as in Redis). */
int cmd_coll_range_long(client *c, const cmdarg *a, long long min, long long max,
                        const char *msg, long long *out);

/* The arguments of LMPOP/ZMPOP and their blocking forms from argv[numkeys_idx] on: numkeys
 * key... dir [COUNT count], in Redis's order of checks (numkeys, the direction, COUNT) with its
 * errors. dir is 0 for the word dir0, 1 for dir1 (case-insensitive: "left"/"right",
 * "min"/"max"); count is 1 without COUNT. 1 ok, 0 replied. */
int cmd_coll_parse_mpop(client *c, int numkeys_idx, const char *dir0, const char *dir1,
                        long long *numkeys, int *dir, long long *count);

/* The reply side of opening a collection: r is what coll_open (or a type's *_open) returned;
 * gives 1 exists, 0 absent, or -1 after replying WRONGTYPE or the engine error. */
int cmd_coll_opened(client *c, int r);

/* ---- sorted-set pops (cmd_zset.c), shared with the blocking commands (cmd_blocking.c) ---- */
#define ZPOP_EMITKEY 1        /* the reply names the key: BZPOPMIN [key, member, score] or, with
                                 ZPOP_NESTED, ZMPOP's [key, [[member, score] ...]] */
#define ZPOP_NESTED 2         /* each member/score pair is an array (RESP3 ZPOPMIN count, ZMPOP) */
#define ZPOP_SKIP_WRONGTYPE 4 /* a key of another type counts as absent (a blocked command's
                                 re-run, blocking_rerunning) instead of replying WRONGTYPE */
/* Redis's genericZpopCommand: pops up to count members (count -1: one, the single-pop reply
 * shape; 0: an empty array) from the lowest (max 0) or highest scores of the first of
 * keys[0..nkeys) that exists, in the command's own write group, and replies. Returns 1 when it
 * replied (the pop, WRONGTYPE or an engine error), 0 when no key exists (nothing replied). */
int cmd_zset_pop(client *c, const cmdarg *keys, int nkeys, int max, long long count, int flags);

/* ---- list pops and moves (cmd_list.c), shared with the blocking commands (cmd_blocking.c) ---- */
#define LIST_POP_SKIP_WRONGTYPE 1 /* a key of another type counts as absent (a blocked command's
                                     re-run) instead of replying WRONGTYPE */
/* LEFT / RIGHT (Redis's getListPositionFromObjectOrReply): LIST_HEAD / LIST_TAIL, or -1 after
 * replying a syntax error. */
int cmd_list_position(client *c, const cmdarg *a);
/* LMPOP's core: pops from the first of keys[0..nkeys) that exists (a list: a missing key is
 * skipped, another type replies WRONGTYPE), at where (LIST_HEAD/LIST_TAIL), in the command's own
 * write group, and replies: count -1 one element as [key, element] (BLPOP/BRPOP), count >= 1 up
 * to count elements as [key, [element ...]] (LMPOP/BLMPOP). Returns 1 when it replied (the pop,
 * WRONGTYPE or an engine error), 0 when no key exists (nothing replied). */
int cmd_list_pop(client *c, const cmdarg *keys, int nkeys, int where, long long count, int flags);
/* LMOVE's core: when src exists, pops at from and pushes at to of dst (dst's type checked before
 * popping; src == dst rotates) in one write group and replies the element (or the error).
 * Returns 1 when it replied, 0 when src does not exist (nothing replied). */
int cmd_list_move(client *c, const cmdarg *src, const cmdarg *dst, int from, int to);
#endif
