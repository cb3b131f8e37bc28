/* worker.h - background threads. A worker runs jobs it receives from the owner thread through
 * an SPSC ring (queue.h) and returns each finished job through a second ring, then writes to an
 * eventfd so the owner's event loop wakes up and calls lsm_poll(). An idle worker sleeps on a
 * condition variable (the rings themselves take no lock). The periodic thread runs a callback
 * every interval (the everysec WAL fsync).
 * Thread: worker_start/submit/pop_result/stop are called by the owner thread only. */
#ifndef KEVO_WORKER_H
#define KEVO_WORKER_H
#include <pthread.h>
#include <stdatomic.h>
#include "queue.h"

typedef struct bg_job bg_job;
/* A job: embed as the FIRST member of a concrete job struct. run() executes on the worker
 * thread; it must not touch owner state except what the job itself carries. */
struct bg_job {
    void (*run)(bg_job *job);
    int type;
    int rc;          /* set by run() */
};

typedef struct worker {
    pthread_t th;
    spsc_ring in, out;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic int stop;
    int efd;         /* eventfd written after each result; not owned */
    int inflight;    /* owner thread: submitted and not yet popped */
    int started;
    int nice;        /* the thread's nice value (setpriority), 0 = the process's */
} worker;

/* 0 or -1. efd receives a write of 1 per finished job. name: the thread's name as ps, top and
 * perf show it (at most 15 characters; NULL = inherit the process name). nice: added to the
 * thread's scheduling niceness when it starts (0: none), so that background work yields the
 * CPU to the event loop (best effort: ignored when refused). */
int worker_start(worker *w, int efd, const char *name, int nice);
/* Adds nice to the calling thread's scheduling niceness (0: nothing; best effort: ignored when
 * refused). A thread can only lower its own priority this way, never raise it back. */
void thread_nice_self(int nice);
/* Starts fn(NULL) on a detached thread named name (what ps/top/perf show; at most 15 bytes).
 * 0, or -1 when it could not be created. Any thread. */
int thread_start_detached(void *(*fn)(void *), const char *name);
/* Hands a job to the worker (owner thread). 0, or -1 when the ring is full. */
int worker_submit(worker *w, bg_job *job);
/* A finished job or NULL (owner thread). */
bg_job *worker_pop_result(worker *w);
/* Asks the thread to exit after its current job, joins it, frees the rings. Jobs still queued
 * are not run; finished results not yet popped are returned by worker_pop_result until the
 * rings are destroyed, so pop them BEFORE calling this. */
void worker_stop(worker *w);

typedef struct periodic {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;          /* under mu */
    int interval_ms;
    void (*fn)(void *ctx);
    void *ctx;
    int started;
} periodic;
int periodic_start(periodic *p, int interval_ms, void (*fn)(void *ctx), void *ctx,
                   const char *name); /* name as for worker_start */
void periodic_stop(periodic *p); /* wakes and joins the thread */
#endif
