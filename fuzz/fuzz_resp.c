/* fuzz_resp.c - libFuzzer target for the RESP request parser (src/resp/parser.c).
 *
 * Input: flags(1) || bytes a client sends. flags bit 0: unauthenticated client (Redis's
 * smaller limits); bits 1-3: proto-max-bulk-len = 16 << (2 * bits) (small limits are
 * reachable); bits 4-7: seed of the read sizes for the chunked pass.
 *
 * Pass 1 parses the whole stream command by command, as a client buffer holding everything.
 * Pass 2 feeds the same bytes in pseudo-random chunks (1..64 bytes per "read") into a buffer
 * reallocated to exactly the bytes received, as the server does across reads; ASan thus sees
 * any read past what has arrived. Invariants:
 *   - OK: 0 < pos <= bytes given; every argument lies inside the command (off + len < pos, the
 *     byte after it is the NUL the parser wrote); argc >= 0;
 *   - ERROR: err is set; INCOMPLETE: need (if set) is beyond the bytes given;
 *   - both passes yield the same commands (argc and argument bytes) and the same final state
 *     (error or not), whatever the split (inputs under the 64 KiB inline limit, whose errors
 *     depend on the read sizes as in Redis). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "parser.h"

typedef struct outcome {
    uint64_t *cmds; /* hash of each command */
    size_t ncmds;
    int error;      /* ended on RESP_PARSE_ERROR */
} outcome;

static uint64_t check_command(const resp_parser *p, const char *buf, size_t given) {
    FUZZ_CHECK(p->pos > 0 && p->pos <= given);
    FUZZ_CHECK(p->argc >= 0);
    uint64_t h = fuzz_hash(FUZZ_HASH_INIT, &p->argc, sizeof(p->argc));
    for (int i = 0; i < p->argc; i++) {
        FUZZ_CHECK(p->argoff[i] <= p->pos && p->arglen[i] < p->pos - p->argoff[i]);
        FUZZ_CHECK(buf[p->argoff[i] + p->arglen[i]] == '\0');
        h = fuzz_hash(h, &p->arglen[i], sizeof(p->arglen[i]));
        h = fuzz_hash(h, buf + p->argoff[i], p->arglen[i]);
    }
    return h;
}

static void record(outcome *o, uint64_t h, size_t cap) {
    FUZZ_CHECK(o->ncmds < cap);
    o->cmds[o->ncmds++] = h;
}

/* Pass 1: the whole stream at once. */
static void parse_whole(const uint8_t *data, size_t n, int unauth, long long maxbulk, outcome *o,
                        size_t cap) {
    char *buf = malloc(n ? n : 1);
    if (n) memcpy(buf, data, n);
    resp_parser p;
    resp_parser_init(&p, maxbulk);
    p.unauthenticated = unauth;
    size_t start = 0;
    for (;;) {
        int rc = resp_parse(&p, buf + start, n - start);
        if (rc == RESP_PARSE_OK) {
            record(o, check_command(&p, buf + start, n - start), cap);
            start += p.pos;
            resp_parser_reset(&p);
            continue;
        }
        if (rc == RESP_PARSE_ERROR) {
            FUZZ_CHECK(p.err != NULL);
            o->error = 1;
        } else {
            FUZZ_CHECK(rc == RESP_PARSE_INCOMPLETE);
            FUZZ_CHECK(p.need == 0 || p.need > n - start);
        }
        break;
    }
    resp_parser_free(&p);
    free(buf);
}

/* Pass 2: reads of 1..64 bytes; the command's bytes live in a buffer of exactly that size. */
static void parse_chunked(const uint8_t *data, size_t n, int unauth, long long maxbulk,
                          unsigned seed, outcome *o, size_t cap) {
    resp_parser p;
    resp_parser_init(&p, maxbulk);
    p.unauthenticated = unauth;
    uint32_t rng = 0x9e3779b9u * (seed + 1);
    size_t start = 0, have = 0; /* command start in data; command bytes received */
    char *buf = NULL;
    for (;;) {
        if (start + have >= n) break; /* nothing more arrives */
        rng = rng * 1103515245u + 12345u;
        size_t chunk = 1 + (rng >> 16) % 64;
        if (chunk > n - start - have) chunk = n - start - have;
        char *nb = realloc(buf, have + chunk);
        FUZZ_CHECK(nb != NULL);
        buf = nb;
        memcpy(buf + have, data + start + have, chunk);
        have += chunk;
        int rc;
        while ((rc = resp_parse(&p, buf, have)) == RESP_PARSE_OK) {
            record(o, check_command(&p, buf, have), cap);
            size_t used = p.pos;
            memmove(buf, buf + used, have - used); /* the rest is the next command's start */
            start += used;
            have -= used;
            resp_parser_reset(&p);
            if (have == 0) break;
            nb = realloc(buf, have); /* exactly the bytes still held */
            FUZZ_CHECK(nb != NULL);
            buf = nb;
        }
        if (rc == RESP_PARSE_ERROR) {
            FUZZ_CHECK(p.err != NULL);
            o->error = 1;
            break;
        }
    }
    resp_parser_free(&p);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    int unauth = flags & 1;
    long long maxbulk = 16ll << (2 * ((flags >> 1) & 7));
    size_t cap = size + 1; /* every command takes at least one byte */
    outcome a = {calloc(cap, sizeof(uint64_t)), 0, 0};
    outcome b = {calloc(cap, sizeof(uint64_t)), 0, 0};
    parse_whole(data, size, unauth, maxbulk, &a, cap);
    parse_chunked(data, size, unauth, maxbulk, flags >> 4, &b, cap);
    if (size < RESP_INLINE_MAX_SIZE) {
        FUZZ_CHECK(a.ncmds == b.ncmds);
        FUZZ_CHECK(memcmp(a.cmds, b.cmds, a.ncmds * sizeof(uint64_t)) == 0);
        FUZZ_CHECK(a.error == b.error);
    }
    free(a.cmds);
    free(b.cmds);
    return 0;
}
