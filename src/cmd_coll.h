/* cmd_coll.h - what the collection command files share (cmd_hash.c, cmd_set.c): the HSCAN /
 * SSCAN walk and argument helpers with Redis's error strings. Main thread. */
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
#endif
