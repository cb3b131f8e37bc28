/* util.c - Redis-exact number parsing/formatting and glob matching (see util.h). Pure. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int string2ll(const char *s, size_t len, long long *out) {
    if (len == 0 || len > 20) return 0; /* 20 = strlen("-9223372036854775808") */
    if (len == 1 && s[0] == '0') {
        if (out) *out = 0;
        return 1;
    }
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) return 0;
    }
    /* first digit 1-9: no leading zeros, no "-0" */
    if (s[i] < '1' || s[i] > '9') return 0;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1ull) return 0;
        if (out) *out = (v == (unsigned long long)LLONG_MAX + 1ull) ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return 0;
        if (out) *out = (long long)v;
    }
    return 1;
}

#define UTIL_MAX_LD_CHARS 5120 /* as Redis's MAX_LONG_DOUBLE_CHARS */

int string2ld(const char *s, size_t len, long double *out) {
    char stackbuf[UTIL_MAX_LD_CHARS];
    if (len == 0 || len >= sizeof(stackbuf)) return 0;
    memcpy(stackbuf, s, len);
    stackbuf[len] = '\0';
    if (isspace((unsigned char)stackbuf[0])) return 0;
    errno = 0;
    char *end = NULL;
    long double v = strtold(stackbuf, &end);
    if (end != stackbuf + len) return 0;
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO))
        return 0;
    if (isnan(v)) return 0;
    if (out) *out = v;
    return 1;
}

int ll2string(char *dst, size_t cap, long long v) {
    char tmp[24];
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[n++] = '-';
    if ((size_t)n + 1 > cap) {
        if (cap) dst[0] = '\0';
        return 0;
    }
    for (int i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
    dst[n] = '\0';
    return n;
}

int ld2string(char *dst, size_t cap, long double v) {
    if (cap == 0) return 0;
    if (isinf(v)) {
        const char *s = v > 0 ? "inf" : "-inf";
        size_t l = strlen(s);
        if (l + 1 > cap) { dst[0] = '\0'; return 0; }
        memcpy(dst, s, l + 1);
        return (int)l;
    }
    int l = snprintf(dst, cap, "%.17Lf", v);
    if (l < 0 || (size_t)l + 1 > cap) { dst[0] = '\0'; return 0; }
    if (memchr(dst, '.', (size_t)l)) {
        while (l > 0 && dst[l - 1] == '0') l--;
        if (l > 0 && dst[l - 1] == '.') l--;
        dst[l] = '\0';
    }
    if (l == 2 && dst[0] == '-' && dst[1] == '0') {
        dst[0] = '0';
        dst[1] = '\0';
        l = 1;
    }
    return l;
}

/* ---- glob ----------------------------------------------------------------------------------
 * Every token but '*' matches exactly one character, so the classic single-backtrack algorithm
 * (remember the last '*', retry from one character further on mismatch) is exact and runs in
 * O(plen * slen) with no recursion (Redis's recursive matcher needed a nesting limit). */

static int glob_lower(int ch, int nocase) { return nocase ? tolower(ch) : ch; }

/* Matches the single-character token at pat[*pi] against ch; advances *pi past the token.
 * Returns 1 on match. The token is not '*'. */
static int glob_token(const char *pat, size_t plen, size_t *pi, unsigned char ch, int nocase) {
    size_t i = *pi;
    unsigned char c = (unsigned char)pat[i];
    if (c == '?') {
        *pi = i + 1;
        return 1;
    }
    if (c == '\\' && i + 1 < plen) {
        *pi = i + 2;
        return glob_lower((unsigned char)pat[i + 1], nocase) == glob_lower(ch, nocase);
    }
    if (c == '[') {
        i++;
        int not = 0, match = 0;
        if (i < plen && pat[i] == '^') {
            not = 1;
            i++;
        }
        for (;;) {
            if (i >= plen) break; /* unterminated class: Redis ends it at the pattern's end */
            unsigned char pc = (unsigned char)pat[i];
            if (pc == ']') {
                i++;
                break;
            }
            if (pc == '\\' && i + 1 < plen) {
                if ((unsigned char)pat[i + 1] == ch) match = 1;
                i += 2;
            } else if (i + 2 < plen && pat[i + 1] == '-') {
                int start = (unsigned char)pat[i], end = (unsigned char)pat[i + 2];
                int cc = ch;
                if (start > end) {
                    int t = start;
                    start = end;
                    end = t;
                }
                if (nocase) {
                    start = tolower(start);
                    end = tolower(end);
                    cc = tolower(cc);
                }
                if (cc >= start && cc <= end) match = 1;
                i += 3;
            } else {
                if (glob_lower(pc, nocase) == glob_lower(ch, nocase)) match = 1;
                i++;
            }
        }
        *pi = i;
        return not ? !match : match;
    }
    *pi = i + 1;
    return glob_lower(c, nocase) == glob_lower(ch, nocase);
}

int glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase) {
    /* Redis's stringmatchlen never enters its loop for an empty string: only an empty pattern
     * matches it ("*" does not; KEYS/SCAN treat a lone "*" as "everything" themselves) */
    if (slen == 0) return plen == 0;
    size_t pi = 0, si = 0;
    size_t star_p = (size_t)-1, star_s = 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            while (pi < plen && pat[pi] == '*') pi++;
            if (pi == plen) return 1;
            star_p = pi;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            size_t np = pi;
            if (glob_token(pat, plen, &np, (unsigned char)s[si], nocase)) {
                pi = np;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1) return 0;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && pat[pi] == '*') pi++;
    return pi == plen;
}
