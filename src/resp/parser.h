/* parser.h - incremental RESP request parser (multibulk and inline commands).
 *
 * The parser works IN PLACE over the caller's buffer holding the bytes of the current command
 * from its first byte: each call continues where the previous one stopped (the only carried
 * state is in resp_parser: a position and the argument offsets found so far), so a command split
 * at any byte across reads costs O(bytes) in total. Offsets are relative to the command start,
 * so the caller may move (memmove/realloc) the buffer between calls as long as the command's
 * bytes stay together and in order.
 *
 * On RESP_PARSE_OK the arguments are buf+argoff[i] (arglen[i] bytes) and each is NUL-terminated
 * in place (the parser overwrites the '\r' after a bulk; inline arguments are unescaped in place),
 * and p->pos is the number of bytes the command took. argc may be 0 (empty line, "*0"): the
 * caller just skips those bytes. Call resp_parser_reset before parsing the next command.
 * Single-threaded per parser; no global state. */
#ifndef KEVO_RESP_PARSER_H
#define KEVO_RESP_PARSER_H
#include <stddef.h>

enum { RESP_PARSE_INCOMPLETE = 0, RESP_PARSE_OK = 1, RESP_PARSE_ERROR = -1 };
enum { RESP_REQ_NONE = 0, RESP_REQ_MULTIBULK = 1, RESP_REQ_INLINE = 2 };

#define RESP_INLINE_MAX_SIZE (64 * 1024) /* as Redis's PROTO_INLINE_MAX_SIZE */

typedef struct resp_parser {
    int reqtype;          /* RESP_REQ_* of the current command */
    long multibulklen;    /* multibulk: arguments still to read; 0 before the header */
    long long bulklen;    /* length of the bulk being read, -1 while reading its "$n" header */
    size_t pos;           /* bytes of the current command consumed so far */
    size_t need;          /* when INCOMPLETE inside a bulk: command bytes needed to finish it
                             (callers size their read with it), else 0 */
    int argc, argcap;
    size_t *argoff, *arglen;
    long long max_bulk_len; /* proto-max-bulk-len */
    int unauthenticated;    /* apply Redis's limits for clients that still must AUTH */
    const char *err;        /* on RESP_PARSE_ERROR: the message, without "-ERR " */
    char errbuf[64];
} resp_parser;

void resp_parser_init(resp_parser *p, long long max_bulk_len);
void resp_parser_free(resp_parser *p);
/* Forgets the current command (call after consuming p->pos bytes). Keeps the allocations. */
void resp_parser_reset(resp_parser *p);
/* Parses buf[0..len) (the current command's bytes, possibly with more after it). Returns
 * RESP_PARSE_OK, RESP_PARSE_INCOMPLETE (call again with more bytes), or RESP_PARSE_ERROR
 * (p->err says why, e.g. "Protocol error: invalid bulk length"; the connection must close). */
int resp_parse(resp_parser *p, char *buf, size_t len);
#endif
