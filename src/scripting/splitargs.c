/* splitargs.c - Redis's sdssplitargs (see splitargs.h). */
#include "splitargs.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_add(sbuf *b, char c)
{
    if (b->len + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        char *n = realloc(b->p, cap);
        if (!n) return -1;
        b->p = n;
        b->cap = cap;
    }
    b->p[b->len++] = c;
    b->p[b->len] = 0;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void split_args_free(char **v, int n)
{
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

int split_args(const char *s, size_t len, char ***out)
{
    /* a NUL-terminated copy: the original walks a C string */
    char *line = malloc(len + 1);
    if (!line) return -1;
    memcpy(line, s, len);
    line[len] = 0;
    const char *p = line;
    char **v = NULL;
    int n = 0;
    for (;;) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        int inq = 0, insq = 0, done = 0;
        sbuf cur = {NULL, 0, 0};
        if (sb_add(&cur, 0) < 0) goto err; /* an empty argument is "" */
        cur.len = 0;
        while (!done) {
            if (inq) {
                if (p[0] == '\\' && p[1] == 'x' && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
                    if (sb_add(&cur, (char)(hexval(p[2]) * 16 + hexval(p[3]))) < 0) goto err_cur;
                    p += 3;
                } else if (p[0] == '\\' && p[1]) {
                    char c;
                    p++;
                    switch (*p) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = *p; break;
                    }
                    if (sb_add(&cur, c) < 0) goto err_cur;
                } else if (*p == '"') {
                    if (p[1] && !isspace((unsigned char)p[1])) goto err_cur;
                    done = 1;
                } else if (!*p) {
                    goto err_cur;
                } else if (sb_add(&cur, *p) < 0) {
                    goto err_cur;
                }
            } else if (insq) {
                if (p[0] == '\\' && p[1] == '\'') {
                    p++;
                    if (sb_add(&cur, '\'') < 0) goto err_cur;
                } else if (*p == '\'') {
                    if (p[1] && !isspace((unsigned char)p[1])) goto err_cur;
                    done = 1;
                } else if (!*p) {
                    goto err_cur;
                } else if (sb_add(&cur, *p) < 0) {
                    goto err_cur;
                }
            } else {
                switch (*p) {
                case ' ': case '\n': case '\r': case '\t': case '\0':
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    break;
                case '\'':
                    insq = 1;
                    break;
                default:
                    if (sb_add(&cur, *p) < 0) goto err_cur;
                }
            }
            if (*p) p++;
        }
        char **nv = realloc(v, (size_t)(n + 1) * sizeof *nv);
        if (!nv) goto err_cur;
        v = nv;
        v[n++] = cur.p;
        continue;
    err_cur:
        free(cur.p);
        goto err;
    }
    free(line);
    *out = v;
    return n;
err:
    free(line);
    split_args_free(v, n);
    return -1;
}
