/* getload.c - a GET / SET load generator for bench/bench-scale.sh.
 *
 *   getload -p PORT [-c CLIENTS] [-d SECONDS] [-t get|set] [-n KEYS] [--lo L --hi H]
 *           [--dist uniform|skew|range] [--hot-lo L --hot-hi H --hot-pct 90]
 *           [-r RATE] [-v VALUE] [-s SEED] [--timeline FILE]
 *
 * CLIENTS connections to 127.0.0.1:PORT, all driven by one thread (non-blocking sockets, epoll),
 * one request in flight per connection (pipeline 1, closed loop as redis-benchmark), for SECONDS.
 * Keys are "key:%012llu" (16 bytes: what bench/scale.py writes), the id drawn per request:
 *   uniform   uniform over [0, KEYS)
 *   range     uniform over [lo, hi)
 *   skew      with probability hot-pct % uniform over the hot range [hot-lo, hot-hi), else
 *             uniform over the other ids of [0, KEYS)
 * -t set sends SET of VALUE random bytes (xoshiro256**, incompressible) to ids drawn the same way.
 * -r RATE paces each connection to RATE requests/s (a fixed schedule; a late request is sent as
 * soon as the previous reply is in, without a catch-up burst; latency is measured from the actual
 * send), 0 = closed loop.
 *
 * Prints one line of key=value: ops ops_per_s p50_us p90_us p99_us p999_us max_us mean_us
 * hits misses errors. Latencies are kept in a log-linear histogram (64 sub-buckets per power
 * of two: <1.6% error); a percentile is its bucket's upper bound. --timeline FILE writes one
 * row per second: second,ops,p99_us,max_us. Requests still in flight at the end are not counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#define SUB 64
#define NBUCKETS (128 + 58 * SUB)

typedef struct {
    uint64_t n, sum, max;
    uint64_t b[NBUCKETS];
} hist;

static int bucket_of(uint64_t v) {
    if (v < 128) return (int)v;
    int m = 63 - __builtin_clzll(v);
    int i = 128 + (m - 7) * SUB + (int)((v >> (m - 6)) & (SUB - 1));
    return i < NBUCKETS ? i : NBUCKETS - 1;
}

static uint64_t bucket_hi(int i) { /* upper bound (exclusive) of bucket i */
    if (i < 128) return (uint64_t)i + 1;
    int m = (i - 128) / SUB + 7, s = (i - 128) % SUB;
    return ((uint64_t)(SUB + s + 1)) << (m - 6);
}

static void hist_add(hist *h, uint64_t v) {
    h->n++;
    h->sum += v;
    if (v > h->max) h->max = v;
    h->b[bucket_of(v)]++;
}

static double hist_pct(const hist *h, double p) { /* in the histogram's unit */
    if (!h->n) return 0;
    uint64_t want = (uint64_t)(p / 100.0 * (double)h->n + 0.999999), acc = 0;
    if (want < 1) want = 1;
    for (int i = 0; i < NBUCKETS; i++) {
        acc += h->b[i];
        if (acc >= want) {
            uint64_t hi = bucket_hi(i);
            return (double)(hi > h->max ? h->max : hi);
        }
    }
    return (double)h->max;
}

/* xoshiro256** */
static uint64_t rs[4];
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t rnd(void) {
    uint64_t r = rotl(rs[1] * 5, 7) * 9, t = rs[1] << 17;
    rs[2] ^= rs[0]; rs[3] ^= rs[1]; rs[1] ^= rs[2]; rs[0] ^= rs[3];
    rs[2] ^= t; rs[3] = rotl(rs[3], 45);
    return r;
}
static uint64_t below(uint64_t n) { return n ? (uint64_t)(((unsigned __int128)rnd() * n) >> 64) : 0; }

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum { DIST_UNIFORM, DIST_RANGE, DIST_SKEW };
static int dist = DIST_UNIFORM, is_set = 0;
static uint64_t nkeys = 1000000, lo = 0, hi = 0, hot_lo = 0, hot_hi = 0;
static double hot_pct = 90;
static size_t vlen = 1024;

static uint64_t draw(void) {
    switch (dist) {
    case DIST_RANGE:
        return lo + below(hi - lo);
    case DIST_SKEW:
        if ((double)below(1000000) < hot_pct * 10000.0) return hot_lo + below(hot_hi - hot_lo);
        {
            uint64_t cold = nkeys - (hot_hi - hot_lo), x = below(cold);
            return x < hot_lo ? x : x + (hot_hi - hot_lo);
        }
    default:
        return below(nkeys);
    }
}

typedef struct {
    int fd;
    char *w;
    size_t wlen, woff;
    char *r;
    size_t rlen, rcap;
    uint64_t sent, next;
    int busy, want_out;
} conn;

static int ep;
static conn *conns;
static int nconn = 50;
static uint64_t interval = 0; /* ns between requests of one connection, 0 = closed loop */
static hist total, sec;
static uint64_t hits, misses, errors;
static char *wbuf_all;

static void die(const char *what) {
    fprintf(stderr, "getload: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void build_request(conn *c) {
    char key[32];
    snprintf(key, sizeof(key), "key:%012llu", (unsigned long long)draw());
    if (!is_set) {
        c->wlen = (size_t)sprintf(c->w, "*2\r\n$3\r\nGET\r\n$16\r\n%s\r\n", key);
    } else {
        int h = sprintf(c->w, "*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$%zu\r\n", key, vlen);
        for (size_t i = 0; i < vlen; i += 8) {
            uint64_t x = rnd();
            memcpy(c->w + h + i, &x, vlen - i < 8 ? vlen - i : 8);
        }
        memcpy(c->w + h + vlen, "\r\n", 2);
        c->wlen = (size_t)h + vlen + 2;
    }
    c->woff = 0;
}

static void set_out(conn *c, int on) {
    if (c->want_out == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = on;
}

static void flush_out(conn *c) {
    while (c->woff < c->wlen) {
        ssize_t n = write(c->fd, c->w + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            die("write");
        }
        c->woff += (size_t)n;
    }
    set_out(c, c->woff < c->wlen);
}

static void send_req(conn *c, uint64_t t) {
    build_request(c);
    c->busy = 1;
    c->sent = t;
    flush_out(c);
}

/* length of one complete reply at the start of buf, 0 if incomplete; *kind: 0 ok/hit, 1 nil,
 * 2 error */
static size_t parse_reply(const char *b, size_t n, int *kind) {
    const char *e = memchr(b, '\n', n);
    if (!e) return 0;
    size_t line = (size_t)(e - b) + 1;
    switch (b[0]) {
    case '+': case ':': *kind = 0; return line;
    case '-': *kind = 2; return line;
    case '$': {
        long len = strtol(b + 1, NULL, 10);
        if (len < 0) { *kind = 1; return line; }
        if (n < line + (size_t)len + 2) return 0;
        *kind = 0;
        return line + (size_t)len + 2;
    }
    default:
        fprintf(stderr, "getload: unexpected reply byte 0x%02x\n", (unsigned char)b[0]);
        exit(1);
    }
}

static void on_read(conn *c, uint64_t measuring_until) {
    for (;;) {
        if (c->rcap - c->rlen < 4096) {
            c->rcap *= 2;
            c->r = realloc(c->r, c->rcap);
            if (!c->r) die("realloc");
        }
        ssize_t n = read(c->fd, c->r + c->rlen, c->rcap - c->rlen);
        if (n == 0) { fprintf(stderr, "getload: server closed the connection\n"); exit(1); }
        if (n < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            die("read");
        }
        c->rlen += (size_t)n;
    }
    size_t off = 0;
    int kind;
    size_t m;
    while (c->busy && (m = parse_reply(c->r + off, c->rlen - off, &kind)) > 0) {
        uint64_t t = now_ns();
        off += m;
        c->busy = 0;
        if (t <= measuring_until) {
            uint64_t us = (t - c->sent + 500) / 1000;
            hist_add(&total, us);
            hist_add(&sec, us);
            if (kind == 0) hits++;
            else if (kind == 1) misses++;
            else errors++;
        }
        if (interval) {
            c->next += interval;
            if (c->next < t) c->next = t; /* late: no catch-up burst */
        } else {
            send_req(c, t);
        }
    }
    if (off) {
        memmove(c->r, c->r + off, c->rlen - off);
        c->rlen -= off;
    }
}

static void usage(void) {
    fprintf(stderr, "usage: getload -p PORT [-c clients] [-d seconds] [-t get|set] [-n keys] "
                    "[--dist uniform|range|skew] [--lo L --hi H] [--hot-lo L --hot-hi H "
                    "--hot-pct P] [-r rate per client] [-v value bytes] [-s seed] "
                    "[--timeline file]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int port = 0;
    double secs = 10, rate = 0;
    uint64_t seed = 1;
    const char *timeline = NULL;
    static struct option lopts[] = {
        {"dist", 1, 0, 'D'}, {"lo", 1, 0, 'L'}, {"hi", 1, 0, 'H'}, {"hot-lo", 1, 0, 'a'},
        {"hot-hi", 1, 0, 'b'}, {"hot-pct", 1, 0, 'P'}, {"timeline", 1, 0, 'T'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "p:c:d:t:n:r:v:s:", lopts, NULL)) != -1) {
        switch (o) {
        case 'p': port = atoi(optarg); break;
        case 'c': nconn = atoi(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 't': is_set = !strcmp(optarg, "set"); break;
        case 'n': nkeys = strtoull(optarg, NULL, 10); break;
        case 'r': rate = atof(optarg); break;
        case 'v': vlen = strtoull(optarg, NULL, 10); break;
        case 's': seed = strtoull(optarg, NULL, 10); break;
        case 'D':
            dist = !strcmp(optarg, "range") ? DIST_RANGE : !strcmp(optarg, "skew") ? DIST_SKEW
                                                                                  : DIST_UNIFORM;
            break;
        case 'L': lo = strtoull(optarg, NULL, 10); break;
        case 'H': hi = strtoull(optarg, NULL, 10); break;
        case 'a': hot_lo = strtoull(optarg, NULL, 10); break;
        case 'b': hot_hi = strtoull(optarg, NULL, 10); break;
        case 'P': hot_pct = atof(optarg); break;
        case 'T': timeline = optarg; break;
        default: usage();
        }
    }
    if (!port || nconn < 1) usage();
    if (dist == DIST_RANGE && hi <= lo) usage();
    if (dist == DIST_SKEW && (hot_hi <= hot_lo || hot_hi > nkeys || hot_hi - hot_lo >= nkeys)) usage();
    signal(SIGPIPE, SIG_IGN);
    rs[0] = seed * 0x9E3779B97F4A7C15ull + 1;
    rs[1] = rs[0] ^ 0xD1B54A32D192ED03ull;
    rs[2] = rs[1] * 3 + (uint64_t)getpid();
    rs[3] = 0x2545F4914F6CDD1Dull;
    for (int i = 0; i < 16; i++) rnd();
    if (rate > 0) interval = (uint64_t)(1e9 / rate);

    ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    conns = calloc((size_t)nconn, sizeof(conn));
    size_t wcap = 128 + (is_set ? vlen : 0);
    wbuf_all = malloc(wcap * (size_t)nconn);
    if (!conns || !wbuf_all) die("malloc");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < nconn; i++) {
        conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0) die("socket");
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) die("connect");
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        c->w = wbuf_all + wcap * (size_t)i;
        c->rcap = 8192 + (is_set ? 0 : vlen * 2);
        c->r = malloc(c->rcap);
        if (!c->r) die("malloc");
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    }
    FILE *tl = NULL;
    if (timeline) {
        tl = fopen(timeline, "w");
        if (!tl) die(timeline);
        fprintf(tl, "second,ops,p99_us,max_us\n");
    }

    uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9), sec_end = start + 1000000000ull;
    int secno = 0;
    for (int i = 0; i < nconn; i++) {
        if (interval) conns[i].next = start + interval * (uint64_t)i / (uint64_t)nconn;
        else send_req(&conns[i], start);
    }
    struct epoll_event evs[256];
    for (;;) {
        uint64_t t = now_ns();
        if (t >= sec_end || t >= end) {
            if (tl) fprintf(tl, "%d,%llu,%.0f,%llu\n", secno, (unsigned long long)sec.n,
                            hist_pct(&sec, 99), (unsigned long long)sec.max);
            memset(&sec, 0, sizeof(sec));
            secno++;
            sec_end += 1000000000ull;
        }
        if (t >= end) break;
        uint64_t wake = end < sec_end ? end : sec_end;
        if (interval) {
            for (int i = 0; i < nconn; i++) {
                conn *c = &conns[i];
                if (c->busy) continue;
                if (c->next <= t) send_req(c, t);
                else if (c->next < wake) wake = c->next;
            }
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 0};
        if (wake > t) {
            ts.tv_sec = (time_t)((wake - t) / 1000000000ull);
            ts.tv_nsec = (long)((wake - t) % 1000000000ull);
        }
        int n = epoll_pwait2(ep, evs, 256, &ts, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_pwait2");
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT) flush_out(c);
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_read(c, end);
        }
    }
    double el = (double)(end - start) / 1e9;
    if (tl) fclose(tl);
    printf("ops=%llu secs=%.2f ops_per_s=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f "
           "max_us=%llu mean_us=%.1f hits=%llu misses=%llu errors=%llu\n",
           (unsigned long long)total.n, el, (double)total.n / el, hist_pct(&total, 50),
           hist_pct(&total, 90), hist_pct(&total, 99), hist_pct(&total, 99.9),
           (unsigned long long)total.max, total.n ? (double)total.sum / (double)total.n : 0.0,
           (unsigned long long)hits, (unsigned long long)misses, (unsigned long long)errors);
    return 0;
}
