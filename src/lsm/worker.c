/* worker.c - background job threads and the periodic (everysec fsync) thread. See worker.h. */
#include "worker.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

void thread_nice_self(int nice) {
    if (!nice) return;
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0); /* the calling thread's, inherited from its creator */
    if (errno == 0) (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), base + nice);
}

int thread_start_detached(void *(*fn)(void *), const char *name) {
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &a, fn, NULL);
    pthread_attr_destroy(&a);
    if (rc) return -1;
    pthread_setname_np(th, name);
    return 0;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    thread_nice_self(w->nice);
    for (;;) {
        bg_job *j = spsc_pop(&w->in);
        if (!j) {
            pthread_mutex_lock(&w->mu);
            while (!atomic_load(&w->stop) && spsc_size(&w->in) == 0)
                pthread_cond_wait(&w->cv, &w->mu);
            pthread_mutex_unlock(&w->mu);
            if (atomic_load(&w->stop)) break;
            continue;
        }
        j->run(j);
        while (spsc_push(&w->out, j) != 0) { /* owner bounds inflight jobs: cannot stay full */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        uint64_t one = 1;
        ssize_t n;
        do n = write(w->efd, &one, sizeof(one));
        while (n < 0 && errno == EINTR);
    }
    return NULL;
}

int worker_start(worker *w, int efd, const char *name, int nice) {
    w->efd = efd;
    w->nice = nice;
    w->inflight = 0;
    atomic_init(&w->stop, 0);
    if (spsc_init(&w->in, 64) != 0) return -1;
    if (spsc_init(&w->out, 64) != 0) {
        spsc_destroy(&w->in);
        return -1;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
        spsc_destroy(&w->in);
        spsc_destroy(&w->out);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return -1;
    }
    if (name) pthread_setname_np(w->th, name); /* best effort: only what ps/top/perf show */
    w->started = 1;
    return 0;
}

int worker_submit(worker *w, bg_job *job) {
    if (spsc_push(&w->in, job) != 0) return -1;
    w->inflight++;
    pthread_mutex_lock(&w->mu);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

bg_job *worker_pop_result(worker *w) {
    if (!w->started) return NULL;
    bg_job *j = spsc_pop(&w->out);
    if (j) w->inflight--;
    return j;
}

void worker_stop(worker *w) {
    if (!w->started) return;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->stop, 1);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    spsc_destroy(&w->in);
    spsc_destroy(&w->out);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    w->started = 0;
}

static void *periodic_main(void *arg) {
    periodic *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += p->interval_ms / 1000;
        ts.tv_nsec += (long)(p->interval_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        int rc = 0;
        while (!p->stop && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->stop) break;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->ctx);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int periodic_start(periodic *p, int interval_ms, void (*fn)(void *ctx), void *ctx,
                   const char *name) {
    p->stop = 0;
    p->interval_ms = interval_ms;
    p->fn = fn;
    p->ctx = ctx;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->th, NULL, periodic_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        return -1;
    }
    if (name) pthread_setname_np(p->th, name);
    p->started = 1;
    return 0;
}

void periodic_stop(periodic *p) {
    if (!p->started) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    p->started = 0;
}
