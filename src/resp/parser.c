/* parser.c - incremental RESP request parser (see parser.h). */
#include "parser.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void resp_parser_init(resp_parser *p, long long max_bulk_len)
{
    memset(p, 0, sizeof *p);
    p->bulklen = -1;
    p->max_bulk_len = max_bulk_len;
}

void resp_parser_free(resp_parser *p)
{
    free(p->argoff);
    free(p->arglen);
    p->argoff = p->arglen = NULL;
    p->argcap = 0;
}

void resp_parser_reset(resp_parser *p)
{
    p->reqtype = RESP_REQ_NONE;
    p->multibulklen = 0;
    p->bulklen = -1;
    p->pos = 0;
    p->need = 0;
    p->argc = 0;
    p->err = NULL;
}

static int parser_reserve(resp_parser *p, int n)
{
    if (n <= p->argcap) return 0;
    int nc = p->argcap ? p->argcap : 8;
    while (nc < n) nc *= 2;
    size_t *o = realloc(p->argoff, (size_t)nc * sizeof *o);
    if (!o) return -1;
    p->argoff = o;
    size_t *l = realloc(p->arglen, (size_t)nc * sizeof *l);
    if (!l) return -1;
    p->arglen = l;
    p->argcap = nc;
    return 0;
}

static int parser_fail(resp_parser *p, const char *msg)
{
    p->err = msg;
    return RESP_PARSE_ERROR;
}

/* Redis finds line ends with strchr over its NUL-terminated query buffer, so a NUL byte before
 * the terminator hides it: the line stays "incomplete" until a size limit trips. Same here:
 * returns the first ch in buf[from..len) with no NUL before it, or NULL; *stop (if not NULL) is
 * where the search ended (the NUL, or len), so a caller may resume there. */
static char *find_line_end(char *buf, size_t from, size_t len, int ch, size_t *stop)
{
    if (from >= len) {
        if (stop) *stop = len;
        return NULL;
    }
    char *e = memchr(buf + from, ch, len - from);
    size_t lim = e ? (size_t)(e - buf) : len;
    char *z = memchr(buf + from, '\0', lim - from);
    if (z) {
        if (stop) *stop = (size_t)(z - buf);
        return NULL;
    }
    if (stop) *stop = len;
    return e;
}

/* Separators ending an unquoted inline argument (sdssplitargs): not every isspace() byte
 * (\v and \f are part of an argument), while blanks before an argument are skipped with
 * isspace(). */
static int inline_sep(int c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Splits line[0..n) into arguments as Redis's sdssplitargs (quotes, escapes), writing the
 * unescaped arguments back into the line (the write position never passes the read position:
 * every argument is followed by a separator or the line end, which pays for its NUL).
 * Returns 0 or -1 on unbalanced quotes. */
static int parser_split_inline(resp_parser *p, char *line, size_t n)
{
    size_t r = 0, w = 0;
    for (;;) {
        while (r < n && isspace((unsigned char)line[r])) r++;
        if (r >= n) return 0;
        size_t start = w;
        int inq = 0, insq = 0, done = 0;
        while (!done) {
            if (inq) {
                if (r >= n) return -1;
                if (line[r] == '\\' && r + 3 < n && line[r + 1] == 'x' && hexval(line[r + 2]) >= 0 &&
                    hexval(line[r + 3]) >= 0) {
                    line[w++] = (char)(hexval(line[r + 2]) * 16 + hexval(line[r + 3]));
                    r += 4;
                } else if (line[r] == '\\' && r + 1 < n) {
                    char c;
                    switch (line[r + 1]) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = line[r + 1]; break;
                    }
                    line[w++] = c;
                    r += 2;
                } else if (line[r] == '"') {
                    /* closing quote must be followed by a space or nothing */
                    if (r + 1 < n && !isspace((unsigned char)line[r + 1])) return -1;
                    r++;
                    done = 1;
                } else {
                    line[w++] = line[r++];
                }
            } else if (insq) {
                if (r >= n) return -1;
                if (line[r] == '\\' && r + 1 < n && line[r + 1] == '\'') {
                    line[w++] = '\'';
                    r += 2;
                } else if (line[r] == '\'') {
                    if (r + 1 < n && !isspace((unsigned char)line[r + 1])) return -1;
                    r++;
                    done = 1;
                } else {
                    line[w++] = line[r++];
                }
            } else {
                if (r >= n) {
                    done = 1;
                } else if (inline_sep((unsigned char)line[r])) {
                    done = 1;
                } else if (line[r] == '"') {
                    inq = 1;
                    r++;
                } else if (line[r] == '\'') {
                    insq = 1;
                    r++;
                } else {
                    line[w++] = line[r++];
                }
            }
        }
        if (parser_reserve(p, p->argc + 1) < 0) return -1;
        p->argoff[p->argc] = start;
        p->arglen[p->argc] = w - start;
        p->argc++;
        /* the NUL goes where a consumed byte was: the separator just skipped, or the line end
         * (line[n] is '\r' or '\n', owned by this command) */
        line[w++] = '\0';
        if (r < n) r++; /* skip the separator (counted for the NUL) */
    }
}

static int parse_inline(resp_parser *p, char *buf, size_t len)
{
    size_t stop;
    char *nl = find_line_end(buf, p->pos, len, '\n', &stop);
    if (!nl) {
        if (len > RESP_INLINE_MAX_SIZE) return parser_fail(p, "Protocol error: too big inline request");
        p->pos = stop; /* resume there: after a NUL, never (as Redis) */
        return RESP_PARSE_INCOMPLETE;
    }
    size_t linelen = (size_t)(nl - buf);
    if (linelen > 0 && buf[linelen - 1] == '\r') linelen--;
    p->argc = 0;
    if (parser_split_inline(p, buf, linelen) < 0)
        return parser_fail(p, "Protocol error: unbalanced quotes in request");
    p->pos = (size_t)(nl - buf) + 1;
    return RESP_PARSE_OK;
}

int resp_parse(resp_parser *p, char *buf, size_t len)
{
    if (p->reqtype == RESP_REQ_NONE) {
        if (len == 0) return RESP_PARSE_INCOMPLETE;
        p->reqtype = buf[0] == '*' ? RESP_REQ_MULTIBULK : RESP_REQ_INLINE;
    }
    if (p->reqtype == RESP_REQ_INLINE) return parse_inline(p, buf, len);

    if (p->multibulklen == 0) {
        char *cr = find_line_end(buf, 0, len, '\r', NULL);
        if (!cr) {
            if (len > RESP_INLINE_MAX_SIZE) return parser_fail(p, "Protocol error: too big mbulk count string");
            return RESP_PARSE_INCOMPLETE;
        }
        if ((size_t)(cr - buf) + 1 >= len) return RESP_PARSE_INCOMPLETE; /* need the '\n' */
        long long ll;
        if (!string2ll(buf + 1, (size_t)(cr - buf) - 1, &ll) || ll > INT_MAX)
            return parser_fail(p, "Protocol error: invalid multibulk length");
        if (ll > 10 && p->unauthenticated)
            return parser_fail(p, "Protocol error: unauthenticated multibulk length");
        p->pos = (size_t)(cr - buf) + 2;
        if (ll <= 0) {
            p->argc = 0;
            return RESP_PARSE_OK;
        }
        if (parser_reserve(p, ll < 1024 ? (int)ll : 1024) < 0)
            return parser_fail(p, "Protocol error: out of memory");
        p->multibulklen = (long)ll;
        p->argc = 0;
        p->bulklen = -1;
    }
    while (p->multibulklen > 0) {
        if (p->bulklen == -1) {
            if (p->pos >= len) return RESP_PARSE_INCOMPLETE;
            char *cr = find_line_end(buf, p->pos, len, '\r', NULL);
            if (!cr) {
                if (len - p->pos > RESP_INLINE_MAX_SIZE)
                    return parser_fail(p, "Protocol error: too big bulk count string");
                return RESP_PARSE_INCOMPLETE;
            }
            if ((size_t)(cr - buf) + 1 >= len) return RESP_PARSE_INCOMPLETE;
            if (buf[p->pos] != '$') {
                snprintf(p->errbuf, sizeof p->errbuf, "Protocol error: expected '$', got '%c'", buf[p->pos]);
                return parser_fail(p, p->errbuf);
            }
            long long ll;
            if (!string2ll(buf + p->pos + 1, (size_t)(cr - (buf + p->pos)) - 1, &ll) || ll < 0 ||
                ll > p->max_bulk_len)
                return parser_fail(p, "Protocol error: invalid bulk length");
            if (ll > 16384 && p->unauthenticated)
                return parser_fail(p, "Protocol error: unauthenticated bulk length");
            p->pos = (size_t)(cr - buf) + 2;
            p->bulklen = ll;
        }
        size_t end = p->pos + (size_t)p->bulklen + 2;
        if (len < end) {
            p->need = end;
            return RESP_PARSE_INCOMPLETE;
        }
        p->need = 0;
        if (p->argc >= p->argcap && parser_reserve(p, p->argc + 1) < 0)
            return parser_fail(p, "Protocol error: out of memory");
        p->argoff[p->argc] = p->pos;
        p->arglen[p->argc] = (size_t)p->bulklen;
        buf[p->pos + (size_t)p->bulklen] = '\0';
        p->argc++;
        p->pos = end;
        p->bulklen = -1;
        p->multibulklen--;
    }
    return RESP_PARSE_OK;
}
