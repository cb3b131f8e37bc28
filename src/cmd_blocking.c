/* cmd_blocking.c - the blocking commands (Redis 7.0 arities, flags, errors, reply shapes):
 * BZPOPMIN, BZPOPMAX, BZMPOP. Each parses its arguments as Redis does, tries its non-blocking
 * form through the pop code of its type's command file (cmd_coll.h), and when no key has data
 * blocks the client (blocking.h) - or, inside MULTI/EXEC, replies its nil at once as Redis
 * does for a client that may not block. When a key gets data the command runs again here
 * (blocking_rerunning): it then serves from the first of its keys with data of its type. */
#include "blocking.h"
#include "client.h"
#include "cmd_coll.h"
#include "command.h"
#include "keyspace.h"

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
    long long numkeys, count = -1, timeout;
    if (!cmd_coll_range_long(c, &c->argv[2], 1, LLONG_MAX, "ERR numkeys should be greater than 0", &numkeys))
        return;
    if (numkeys >= c->argc - 3) { /* where_idx = numkeys + 3 must be < argc */
        reply_error(c, ERR_SYNTAX);
        return;
    }
    int where_idx = (int)numkeys + 3, max;
    if (!strcasecmp(c->argv[where_idx].ptr, "min")) {
        max = 0;
    } else if (!strcasecmp(c->argv[where_idx].ptr, "max")) {
        max = 1;
    } else {
        reply_error(c, ERR_SYNTAX);
        return;
    }
    for (int j = where_idx + 1; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (count == -1 && !strcasecmp(c->argv[j].ptr, "count") && more) {
            j++;
            if (!cmd_coll_range_long(c, &c->argv[j], 1, LLONG_MAX, "ERR count should be greater than 0", &count))
                return;
        } else {
            reply_error(c, ERR_SYNTAX);
            return;
        }
    }
    if (count == -1) count = 1;
    if (blocking_parse_timeout(c, &c->argv[1], &timeout)) return;
    int flags = ZPOP_EMITKEY | ZPOP_NESTED | (blocking_rerunning(c) ? ZPOP_SKIP_WRONGTYPE : 0);
    if (cmd_zset_pop(c, &c->argv[3], (int)numkeys, max, count, flags)) return;
    if (!blocking_may_block(c)) {
        reply_null_array(c);
        return;
    }
    blocking_block(c, &c->argv[3], (int)numkeys, KTYPE_ZSET, timeout);
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
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
