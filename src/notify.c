/* notify.c - keyspace notifications over pub/sub (see notify.h). */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pubsub.h"

static const struct {
    char letter;
    int flag;
} classes[] = {
    {'g', NOTIFY_GENERIC}, {'$', NOTIFY_STRING},  {'l', NOTIFY_LIST},    {'s', NOTIFY_SET},
    {'h', NOTIFY_HASH},    {'z', NOTIFY_ZSET},    {'x', NOTIFY_EXPIRED}, {'e', NOTIFY_EVICTED},
    {'t', NOTIFY_STREAM},  {'d', NOTIFY_MODULE},  {'n', NOTIFY_NEW},     {'K', NOTIFY_KEYSPACE},
    {'E', NOTIFY_KEYEVENT}, {'m', NOTIFY_KEY_MISS},
};

int notify_flags_parse(const char *s) {
    int flags = 0;
    for (; *s; s++) {
        if (*s == 'A') {
            flags |= NOTIFY_ALL;
            continue;
        }
        size_t i;
        for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
            if (classes[i].letter == *s) break;
        if (i == sizeof(classes) / sizeof(classes[0])) return -1;
        flags |= classes[i].flag;
    }
    return flags;
}

size_t notify_flags_format(int flags, char *buf) {
    size_t n = 0;
    if ((flags & NOTIFY_ALL) == NOTIFY_ALL) {
        buf[n++] = 'A';
    } else {
        /* g $ l s h z x e t d n: the type letters, in Redis's order */
        for (size_t i = 0; i < 11; i++)
            if (flags & classes[i].flag) buf[n++] = classes[i].letter;
    }
    if (flags & NOTIFY_KEYSPACE) buf[n++] = 'K';
    if (flags & NOTIFY_KEYEVENT) buf[n++] = 'E';
    if (flags & NOTIFY_KEY_MISS) buf[n++] = 'm';
    buf[n] = 0;
    return n;
}

/* "__keyspace@" db "__:" suffix into a stack buffer (heap for long keys). */
static void publish_on(const char *kind, int db, const char *suffix, size_t slen, const char *msg,
                       size_t mlen) {
    char stack[256];
    char head[40];
    int hl = snprintf(head, sizeof(head), "__%s@%d__:", kind, db);
    size_t need = (size_t)hl + slen;
    char *ch = need <= sizeof(stack) ? stack : malloc(need);
    if (!ch) return;
    memcpy(ch, head, (size_t)hl);
    if (slen) memcpy(ch + hl, suffix, slen);
    pubsub_publish(ch, need, msg, mlen, 0);
    if (ch != stack) free(ch);
}

void notify_keyspace_event(int type, const char *event, int db, const char *key, size_t klen) {
    int flags = config.notify_keyspace_events;
    if (!(flags & type)) return;
    if (!pubsub_has_subscribers()) return; /* nobody can receive it: skip building channels */
    size_t elen = strlen(event);
    if (flags & NOTIFY_KEYSPACE) publish_on("keyspace", db, key, klen, event, elen);
    if (flags & NOTIFY_KEYEVENT) publish_on("keyevent", db, event, elen, key, klen);
}
