/* reply.c - reply buffer and RESP encoders (see reply.h). */
#include "reply.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reply_buf_init(reply_buf *rb)
{
    rb->bufpos = 0;
    rb->sent = 0;
    rb->head = rb->tail = NULL;
    rb->chunk_bytes = 0;
}

void reply_buf_free(reply_buf *rb)
{
    reply_chunk *ch = rb->head;
    while (ch) {
        reply_chunk *n = ch->next;
        free(ch);
        ch = n;
    }
    reply_buf_init(rb);
}

static reply_chunk *chunk_new(size_t cap)
{
    reply_chunk *ch = malloc(sizeof *ch + cap);
    if (!ch) return NULL;
    ch->next = NULL;
    ch->used = 0;
    ch->cap = cap;
    ch->deferred = 0;
    return ch;
}

static void chunk_link(reply_buf *rb, reply_chunk *ch)
{
    if (rb->tail) rb->tail->next = ch;
    else rb->head = ch;
    rb->tail = ch;
}

char *reply_buf_claim(reply_buf *rb, size_t len)
{
    if (!rb->head) {
        if (len > REPLY_FIXED_SIZE - rb->bufpos) return NULL;
        char *p = rb->buf + rb->bufpos;
        rb->bufpos += len;
        return p;
    }
    reply_chunk *t = rb->tail;
    if (t->deferred || len > t->cap - t->used) return NULL;
    char *p = t->data + t->used;
    t->used += len;
    rb->chunk_bytes += len;
    return p;
}

int reply_buf_append(reply_buf *rb, const void *p, size_t len)
{
    const char *s = p;
    if (!rb->head) {
        size_t room = REPLY_FIXED_SIZE - rb->bufpos;
        if (len <= room) {
            memcpy(rb->buf + rb->bufpos, s, len);
            rb->bufpos += len;
            return 0;
        }
        memcpy(rb->buf + rb->bufpos, s, room);
        rb->bufpos += room;
        s += room;
        len -= room;
    }
    reply_chunk *t = rb->tail;
    if (t && !t->deferred && t->used < t->cap) {
        size_t room = t->cap - t->used;
        size_t n = len < room ? len : room;
        memcpy(t->data + t->used, s, n);
        t->used += n;
        rb->chunk_bytes += n;
        s += n;
        len -= n;
    }
    if (len == 0) return 0;
    reply_chunk *ch = chunk_new(len > REPLY_CHUNK_SIZE ? len : REPLY_CHUNK_SIZE);
    if (!ch) return -1;
    memcpy(ch->data, s, len);
    ch->used = len;
    rb->chunk_bytes += len;
    chunk_link(rb, ch);
    return 0;
}

void *reply_buf_defer(reply_buf *rb)
{
    reply_chunk *ch = chunk_new(32);
    if (!ch) return NULL;
    ch->deferred = 1;
    chunk_link(rb, ch);
    return ch;
}

void reply_buf_set_deferred(reply_buf *rb, void *handle, const char *hdr, size_t len)
{
    reply_chunk *ch = handle;
    if (!ch) return;
    if (len > ch->cap) len = ch->cap;
    memcpy(ch->data, hdr, len);
    ch->used = len;
    rb->chunk_bytes += len;
}

size_t reply_buf_pending(const reply_buf *rb)
{
    if (rb->bufpos) return rb->bufpos - rb->sent + rb->chunk_bytes;
    return rb->chunk_bytes - rb->sent;
}

int reply_buf_iov(const reply_buf *rb, struct iovec *iov, int max)
{
    int n = 0;
    size_t skip = rb->sent;
    if (rb->bufpos && n < max) {
        iov[n].iov_base = (char *)rb->buf + skip;
        iov[n].iov_len = rb->bufpos - skip;
        n++;
        skip = 0;
    }
    for (reply_chunk *ch = rb->head; ch && n < max; ch = ch->next) {
        if (ch->used > skip) {
            iov[n].iov_base = ch->data + skip;
            iov[n].iov_len = ch->used - skip;
            n++;
        }
        skip = 0;
    }
    return n;
}

void reply_buf_consume(reply_buf *rb, size_t n)
{
    if (rb->bufpos) {
        size_t left = rb->bufpos - rb->sent;
        if (n < left) {
            rb->sent += n;
            return;
        }
        n -= left;
        rb->bufpos = 0;
        rb->sent = 0;
    }
    while (rb->head && n > 0) {
        reply_chunk *ch = rb->head;
        size_t left = ch->used - rb->sent;
        if (n < left) {
            rb->sent += n;
            return;
        }
        n -= left;
        rb->chunk_bytes -= ch->used;
        rb->sent = 0;
        rb->head = ch->next;
        if (!rb->head) rb->tail = NULL;
        free(ch);
    }
}

void reply_buf_mark(const reply_buf *rb, reply_mark *m)
{
    m->bufpos = rb->bufpos;
    m->tail = rb->tail;
    m->tail_used = rb->tail ? rb->tail->used : 0;
}

void reply_buf_truncate(reply_buf *rb, const reply_mark *m)
{
    if (!m->tail) {
        reply_chunk *ch = rb->head;
        while (ch) {
            reply_chunk *n = ch->next;
            free(ch);
            ch = n;
        }
        rb->head = rb->tail = NULL;
        rb->chunk_bytes = 0;
        if (rb->bufpos > m->bufpos) rb->bufpos = m->bufpos;
        return;
    }
    reply_chunk *ch = m->tail->next;
    while (ch) {
        reply_chunk *n = ch->next;
        rb->chunk_bytes -= ch->used;
        free(ch);
        ch = n;
    }
    m->tail->next = NULL;
    rb->tail = m->tail;
    rb->chunk_bytes -= m->tail->used - m->tail_used;
    m->tail->used = m->tail_used;
}

size_t reply_buf_copy(const reply_buf *rb, char *dst, size_t cap)
{
    size_t out = 0;
    size_t skip = rb->sent;
    if (rb->bufpos) {
        size_t n = rb->bufpos - skip;
        if (n > cap) n = cap;
        memcpy(dst, rb->buf + skip, n);
        out += n;
        skip = 0;
    }
    for (reply_chunk *ch = rb->head; ch && out < cap; ch = ch->next) {
        if (ch->used > skip) {
            size_t n = ch->used - skip;
            if (n > cap - out) n = cap - out;
            memcpy(dst + out, ch->data + skip, n);
            out += n;
        }
        skip = 0;
    }
    return out;
}

size_t resp_fmt_header(char *dst, char type, long long n)
{
    if (n >= 0 && n < 1000) { /* most headers: short strings, small aggregates */
        size_t len = 0;
        dst[len++] = type;
        if (n >= 100) dst[len++] = (char)('0' + n / 100);
        if (n >= 10) dst[len++] = (char)('0' + n / 10 % 10);
        dst[len++] = (char)('0' + n % 10);
        dst[len++] = '\r';
        dst[len++] = '\n';
        return len;
    }
    char tmp[24];
    int i = 0;
    unsigned long long v = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t len = 0;
    dst[len++] = type;
    if (n < 0) dst[len++] = '-';
    while (i) dst[len++] = tmp[--i];
    dst[len++] = '\r';
    dst[len++] = '\n';
    return len;
}

size_t resp_fmt_double(char *dst, double d)
{
    if (isinf(d)) {
        strcpy(dst, d > 0 ? "inf" : "-inf");
        return strlen(dst);
    }
    if (isnan(d)) {
        strcpy(dst, "nan");
        return 3;
    }
    /* Redis 7.0's addReplyDouble: "%.17g" (0.1 is 0.10000000000000001). An integral value
     * below 1e15 prints as its digits under %.17g: format those without printf. */
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d && !(d == 0 && signbit(d))) {
        long long v = (long long)d;
        char tmp[24];
        int n = 0;
        unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
        do {
            tmp[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        size_t len = 0;
        if (v < 0) dst[len++] = '-';
        while (n) dst[len++] = tmp[--n];
        dst[len] = 0;
        return len;
    }
    return (size_t)snprintf(dst, 32, "%.17g", d);
}
