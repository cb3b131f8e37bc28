/* cmd_blocking.c - the blocking commands (Redis 7.0 arities, flags, errors, reply shapes):
 * BZPOPMIN, BZPOPMAX, BZMPOP, BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH. Each parses its arguments as Redis does, tries its non-blocking
 * form through the pop code of its type's command file (cmd_coll.h), and when no key has data
 * blocks the client (blocking.h) - or, inside MULTI/EXEC, replies its nil at once as Redis
 * does for a client that may not block. When a key gets data the command runs again here
 * (blocking_rerunning): it then serves from the first of its keys with data of its type. */
#include "blocking.h"
#include "client.h"
#include "cmd_coll.h"
#include "command.h"
#include "keyspace.h"
#include "types/list.h"

#include <limits.h>
#include <strings.h>

/* BZPOPMIN/BZPOPMAX key [key ...] timeout: Redis's blockingGenericZpopCommand. */
static void bzpop_generic(client *c, int max)
{
    long long timeout;
    if (blocking_parse_timeout(c, &c->argv[c->argc - 1], &timeout)) return;
    int flags = ZPOP_EMITKEY | (blocking_rerunning(c) ? ZPOP_SKIP_WRONGTYPE : 0);
    if (cmd_zset_pop(c, &c->argv[1], c->argc - 2, max, -1, flags)) return;
    if (!blocking_may_block(c)) {
        reply_null_array(c);
        return;
    }
    blocking_block(c, &c->argv[1], c->argc - 2, KTYPE_ZSET, timeout);
}

static void cmd_bzpopmin(client *c) { bzpop_generic(c, 0); }
static void cmd_bzpopmax(client *c) { bzpop_generic(c, 1); }

/* BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: Redis's zmpopGenericCommand
 * (numkeys, the direction and COUNT are checked before the timeout). */
static void cmd_bzmpop(client *c)
{
    long long numkeys, count, timeout;
    int max;
    if (!cmd_coll_parse_mpop(c, 2, "min", "max", &numkeys, &max, &count)) return;
    if (blocking_parse_timeout(c, &c->argv[1], &timeout)) return;
    int flags = ZPOP_EMITKEY | ZPOP_NESTED | (blocking_rerunning(c) ? ZPOP_SKIP_WRONGTYPE : 0);
    if (cmd_zset_pop(c, &c->argv[3], (int)numkeys, max, count, flags)) return;
    if (!blocking_may_block(c)) {
        reply_null_array(c);
        return;
    }
    blocking_block(c, &c->argv[3], (int)numkeys, KTYPE_ZSET, timeout);
}

/* ---- lists ----------------------------------------------------------------------------------- */

/* Redis's blockingPopGenericCommand over keys[0..nkeys): count -1 BLPOP/BRPOP, else BLMPOP. */
static void blocking_list_pop(client *c, const cmdarg *keys, int nkeys, int where, long long count,
                              long long timeout)
{
    int flags = blocking_rerunning(c) ? LIST_POP_SKIP_WRONGTYPE : 0;
    if (cmd_list_pop(c, keys, nkeys, where, count, flags)) return;
    if (!blocking_may_block(c)) {
        reply_null_array(c);
        return;
    }
    blocking_block(c, keys, nkeys, KTYPE_LIST, timeout);
}

/* BLPOP/BRPOP key [key ...] timeout */
static void blpop_generic(client *c, int where)
{
    long long timeout;
    if (blocking_parse_timeout(c, &c->argv[c->argc - 1], &timeout)) return;
    blocking_list_pop(c, &c->argv[1], c->argc - 2, where, -1, timeout);
}

static void cmd_blpop(client *c) { blpop_generic(c, LIST_HEAD); }
static void cmd_brpop(client *c) { blpop_generic(c, LIST_TAIL); }

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: Redis's lmpopGenericCommand
 * (numkeys, the direction and COUNT are checked before the timeout). */
static void cmd_blmpop(client *c)
{
    long long numkeys, count, timeout;
    int right;
    if (!cmd_coll_parse_mpop(c, 2, "left", "right", &numkeys, &right, &count)) return;
    int where = right ? LIST_TAIL : LIST_HEAD;
    if (blocking_parse_timeout(c, &c->argv[1], &timeout)) return;
    blocking_list_pop(c, &c->argv[3], (int)numkeys, where, count, timeout);
}

/* Redis's blmoveGenericCommand: the source's type is checked, a missing source blocks (only on
 * the source; the destination's type is checked when an element moves, as LMOVE does). */
static void blmove_generic(client *c, int from, int to, long long timeout)
{
    if (cmd_list_move(c, &c->argv[1], &c->argv[2], from, to)) return;
    if (!blocking_may_block(c)) {
        reply_null(c); /* Redis: a nil bulk here, the nil array on a timeout */
        return;
    }
    blocking_block(c, &c->argv[1], 1, KTYPE_LIST, timeout);
}

/* BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout */
static void cmd_blmove(client *c)
{
    long long timeout;
    int from = cmd_list_position(c, &c->argv[3]);
    if (from < 0) return;
    int to = cmd_list_position(c, &c->argv[4]);
    if (to < 0) return;
    if (blocking_parse_timeout(c, &c->argv[5], &timeout)) return;
    blmove_generic(c, from, to, timeout);
}

/* BRPOPLPUSH source destination timeout */
static void cmd_brpoplpush(client *c)
{
    long long timeout;
    if (blocking_parse_timeout(c, &c->argv[3], &timeout)) return;
    blmove_generic(c, LIST_TAIL, LIST_HEAD, timeout);
}

#define W CMD_WRITE
#define NS CMD_NOSCRIPT
#define B CMD_BLOCKING

const struct command blocking_commands[] = {
    {"bzpopmin", cmd_bzpopmin, -3, W | NS | B | CMD_FAST, 1, -2, 1, "sorted-set",
     "Removes and returns the member with the lowest score from one or more sorted sets. Blocks "
     "until a member is available otherwise. Deletes the sorted set if the last element was "
     "popped.",
     "5.0.0", "key [key ...] timeout", NULL},
    {"bzpopmax", cmd_bzpopmax, -3, W | NS | B | CMD_FAST, 1, -2, 1, "sorted-set",
     "Removes and returns the member with the highest score from one or more sorted sets. Blocks "
     "until a member available otherwise.  Deletes the sorted set if the last element was "
     "popped.",
     "5.0.0", "key [key ...] timeout", NULL},
    {"bzmpop", cmd_bzmpop, -5, W | B | CMD_KEYNUM, 2, 2, 1, "sorted-set",
     "Removes and returns a member by score from one or more sorted sets. Blocks until a member "
     "is available otherwise. Deletes the sorted set if the last element was popped.",
     "7.0.0", "timeout numkeys key [key ...] MIN|MAX [COUNT count]", NULL},
    {"blpop", cmd_blpop, -3, W | NS | B, 1, -2, 1, "list",
     "Removes and returns the first element in a list. Blocks until an element is available "
     "otherwise. Deletes the list if the last element was popped.",
     "2.0.0", "key [key ...] timeout", NULL},
    {"brpop", cmd_brpop, -3, W | NS | B, 1, -2, 1, "list",
     "Removes and returns the last element in a list. Blocks until an element is available "
     "otherwise. Deletes the list if the last element was popped.",
     "2.0.0", "key [key ...] timeout", NULL},
    {"brpoplpush", cmd_brpoplpush, 4, W | CMD_DENYOOM | NS | B, 1, 2, 1, "list",
     "Pops an element from a list, pushes it to another list and returns it. Block until an "
     "element is available otherwise. Deletes the list if the last element was popped.",
     "2.2.0", "source destination timeout", NULL},
    {"blmove", cmd_blmove, 6, W | CMD_DENYOOM | NS | B, 1, 2, 1, "list",
     "Pops an element from a list, pushes it to another list and returns it. Blocks until an "
     "element is available otherwise. Deletes the list if the last element was moved.",
     "6.2.0", "source destination LEFT|RIGHT LEFT|RIGHT timeout", NULL},
    {"blmpop", cmd_blmpop, -5, W | B | CMD_KEYNUM, 2, 2, 1, "list",
     "Pops the first element from one of multiple lists. Blocks until an element is available "
     "otherwise. Deletes the list if the last element was popped.",
     "7.0.0", "timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
