/* reply.h - RESP2/RESP3 output: the per-client reply buffer (a fixed 16 KiB buffer plus a list
 * of overflow chunks, Redis style) and the encoders client.c's reply functions use.
 * Single-threaded per buffer; no global state. */
#ifndef KEVO_RESP_REPLY_H
#define KEVO_RESP_REPLY_H
#include <stddef.h>
#include <sys/uio.h>

#define REPLY_FIXED_SIZE (16 * 1024)
#define REPLY_CHUNK_SIZE (16 * 1024)

typedef struct reply_chunk {
    struct reply_chunk *next;
    size_t used, cap;
    int deferred;      /* a reserved slot for a deferred aggregate header: never appended to */
    char data[];
} reply_chunk;

/* Bytes are written in order: buf[sent..bufpos) first, then the chunks from head. When buf is
 * empty (fully sent), `sent` is the offset already written in the head chunk. Appends go to buf
 * while there is no chunk, else to the tail chunk, so the order is always preserved. */
typedef struct reply_buf {
    size_t bufpos;
    size_t sent;
    reply_chunk *head, *tail;
    size_t chunk_bytes;        /* bytes held in chunks (output limit accounting) */
    char buf[REPLY_FIXED_SIZE];
} reply_buf;

/* A position in the output, to drop everything appended after it (commit failure). Valid only
 * while nothing is written out between reply_buf_mark and reply_buf_truncate. */
typedef struct reply_mark {
    size_t bufpos;
    reply_chunk *tail;
    size_t tail_used;
} reply_mark;

void reply_buf_init(reply_buf *rb);
void reply_buf_free(reply_buf *rb);      /* frees the chunks; rb is empty afterwards */
/* Appends len bytes. 0, or -1 when out of memory (nothing appended). */
int reply_buf_append(reply_buf *rb, const void *p, size_t len);
/* The next len bytes of the output, when they fit in the space already allocated (the fixed
 * buffer, or the tail chunk): appended at once, and the caller MUST write all of them before
 * anything else touches rb. NULL when they do not fit (use reply_buf_append). */
char *reply_buf_claim(reply_buf *rb, size_t len);
/* Reserves a slot for an aggregate header whose count is known later; the handle is valid until
 * reply_buf_set_deferred (which must be called before the buffer is written out). */
void *reply_buf_defer(reply_buf *rb);
void reply_buf_set_deferred(reply_buf *rb, void *handle, const char *hdr, size_t len);
size_t reply_buf_pending(const reply_buf *rb);   /* bytes not yet written */
/* Fills up to max iovecs with the pending bytes in order; returns the count. */
int reply_buf_iov(const reply_buf *rb, struct iovec *iov, int max);
/* Marks n bytes (from the front) as written, freeing finished chunks. */
void reply_buf_consume(reply_buf *rb, size_t n);
void reply_buf_mark(const reply_buf *rb, reply_mark *m);
void reply_buf_truncate(reply_buf *rb, const reply_mark *m);
/* Copies the pending bytes into dst (cap bytes at most); returns the number copied (tests). */
size_t reply_buf_copy(const reply_buf *rb, char *dst, size_t cap);

/* ---- encoders (pure) ---- */
/* Writes "<type><n>\r\n" into dst (>= 24 bytes); returns the length. */
size_t resp_fmt_header(char *dst, char type, long long n);
/* d as Redis 7.0 formats a double reply: "%.17g" ("inf", "-inf", "nan" for the special values),
 * NUL-terminated, into dst (>= 32 bytes); returns the length. */
size_t resp_fmt_double(char *dst, double d);
#endif
