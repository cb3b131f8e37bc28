/* unlinker.c - unlinks files on a thread of its own (see unlinker.h). */
#include "unlinker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

typedef struct pending_path {
    struct pending_path *next;
    char path[];
} pending_path;

struct unlinker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;   /* a path was queued, or stop */
    pthread_cond_t idle;   /* the queue emptied and nothing is being unlinked */
    pending_path *head, *tail; /* FIFO, under mu */
    int busy;              /* the thread is unlinking a path it took (under mu) */
    int stop;              /* under mu */
    _Atomic uint64_t done;
};

static void *unlinker_main(void *arg) {
    unlinker *u = arg;
    pthread_mutex_lock(&u->mu);
    for (;;) {
        while (!u->head && !u->stop) pthread_cond_wait(&u->work, &u->mu);
        if (!u->head) break; /* stopping with nothing left */
        pending_path *p = u->head;
        u->head = p->next;
        if (!u->head) u->tail = NULL;
        u->busy = 1;
        pthread_mutex_unlock(&u->mu);
        fs_unlink(p->path); /* a file already gone (ENOENT) is what was wanted */
        free(p);
        atomic_fetch_add_explicit(&u->done, 1, memory_order_relaxed);
        pthread_mutex_lock(&u->mu);
        u->busy = 0;
        if (!u->head) pthread_cond_broadcast(&u->idle);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

unlinker *unlinker_start(void) {
    unlinker *u = calloc(1, sizeof(*u));
    if (!u) return NULL;
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->work, NULL);
    pthread_cond_init(&u->idle, NULL);
    if (pthread_create(&u->thread, NULL, unlinker_main, u) != 0) {
        pthread_mutex_destroy(&u->mu);
        pthread_cond_destroy(&u->work);
        pthread_cond_destroy(&u->idle);
        free(u);
        return NULL;
    }
    pthread_setname_np(u->thread, "kevo-unlink"); /* what ps/top/perf show */
    return u;
}

int unlinker_add(unlinker *u, const char *path) {
    size_t n = strlen(path) + 1;
    pending_path *p = malloc(sizeof(*p) + n);
    if (!p) return -1;
    memcpy(p->path, path, n);
    p->next = NULL;
    pthread_mutex_lock(&u->mu);
    if (u->stop) {
        pthread_mutex_unlock(&u->mu);
        free(p);
        return -1;
    }
    if (u->tail) u->tail->next = p;
    else u->head = p;
    u->tail = p;
    pthread_cond_signal(&u->work);
    pthread_mutex_unlock(&u->mu);
    return 0;
}

void unlinker_drain(unlinker *u) {
    if (!u) return;
    pthread_mutex_lock(&u->mu);
    while (u->head || u->busy) pthread_cond_wait(&u->idle, &u->mu);
    pthread_mutex_unlock(&u->mu);
}

uint64_t unlinker_done(unlinker *u) {
    return u ? atomic_load_explicit(&u->done, memory_order_relaxed) : 0;
}

void unlinker_stop(unlinker *u) {
    if (!u) return;
    pthread_mutex_lock(&u->mu);
    u->stop = 1; /* the thread unlinks what is queued, then exits */
    pthread_cond_signal(&u->work);
    pthread_mutex_unlock(&u->mu);
    pthread_join(u->thread, NULL);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->work);
    pthread_cond_destroy(&u->idle);
    free(u);
}
