/* event.c - epoll event loop (see event.h). Modelled on the shape of Redis's ae.c: per-fd
 * read/write handlers in an fd-indexed array, a small list of timers, a before-sleep hook. */
#include "event.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef struct ev_file {
    int mask;
    ev_file_proc rproc, wproc;
    void *data;
} ev_file;

typedef struct ev_timer {
    long long id;
    long long when_ms;
    ev_timer_proc proc;
    void *data;
    struct ev_timer *next;
} ev_timer;

struct event_loop {
    int epfd;
    int setsize;
    ev_file *files;
    struct epoll_event *fired;
    int nfired_cap;
    ev_timer *timers;
    long long next_timer_id;
    ev_hook_proc before_sleep;
    ev_hook_proc idle;           /* ev_set_idle: between empty busy polls */
    int stop;
    int no_wait_once; /* ev_dont_wait */
    /* busy polling (ev_set_busy_poll): limit and current adaptive window, in ns */
    long long poll_limit_ns, poll_window_ns;
    ev_busy_poll_stats poll_stats;
};

static long long ev_nstime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long ev_mstime(void) { return ev_nstime() / 1000000; }

event_loop *ev_create(int setsize)
{
    event_loop *el = calloc(1, sizeof *el);
    if (!el) return NULL;
    if (setsize < 64) setsize = 64;
    el->epfd = epoll_create1(EPOLL_CLOEXEC);
    el->setsize = setsize;
    el->files = calloc((size_t)setsize, sizeof *el->files);
    el->nfired_cap = 1024;
    el->fired = calloc((size_t)el->nfired_cap, sizeof *el->fired);
    if (el->epfd < 0 || !el->files || !el->fired) {
        ev_free(el);
        return NULL;
    }
    el->next_timer_id = 1;
    return el;
}

void ev_free(event_loop *el)
{
    if (!el) return;
    if (el->epfd >= 0) close(el->epfd);
    free(el->files);
    free(el->fired);
    while (el->timers) {
        ev_timer *t = el->timers;
        el->timers = t->next;
        free(t);
    }
    free(el);
}

static int ev_grow(event_loop *el, int fd)
{
    int ns = el->setsize;
    while (ns <= fd) ns *= 2;
    ev_file *nf = realloc(el->files, (size_t)ns * sizeof *nf);
    if (!nf) return -1;
    memset(nf + el->setsize, 0, (size_t)(ns - el->setsize) * sizeof *nf);
    el->files = nf;
    el->setsize = ns;
    return 0;
}

static uint32_t ev_to_epoll(int mask)
{
    uint32_t e = 0;
    if (mask & EV_READABLE) e |= EPOLLIN;
    if (mask & EV_WRITABLE) e |= EPOLLOUT;
    return e;
}

int ev_add(event_loop *el, int fd, int mask, ev_file_proc proc, void *data)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (fd >= el->setsize && ev_grow(el, fd) < 0) {
        errno = ENOMEM;
        return -1;
    }
    ev_file *f = &el->files[fd];
    int op = f->mask == EV_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    struct epoll_event ee;
    memset(&ee, 0, sizeof ee);
    ee.events = ev_to_epoll(f->mask | mask);
    ee.data.fd = fd;
    if (epoll_ctl(el->epfd, op, fd, &ee) < 0) return -1;
    f->mask |= mask;
    if (mask & EV_READABLE) f->rproc = proc;
    if (mask & EV_WRITABLE) f->wproc = proc;
    f->data = data;
    return 0;
}

void ev_del(event_loop *el, int fd, int mask)
{
    if (fd < 0 || fd >= el->setsize) return;
    ev_file *f = &el->files[fd];
    if (f->mask == EV_NONE || !(f->mask & mask)) return;
    int nm = f->mask & ~mask;
    struct epoll_event ee;
    memset(&ee, 0, sizeof ee);
    ee.events = ev_to_epoll(nm);
    ee.data.fd = fd;
    epoll_ctl(el->epfd, nm == EV_NONE ? EPOLL_CTL_DEL : EPOLL_CTL_MOD, fd, &ee);
    f->mask = nm;
    if (nm == EV_NONE) f->data = NULL;
}

int ev_get_mask(event_loop *el, int fd)
{
    if (fd < 0 || fd >= el->setsize) return 0;
    return el->files[fd].mask;
}

long long ev_timer_add(event_loop *el, long long ms, ev_timer_proc proc, void *data)
{
    ev_timer *t = malloc(sizeof *t);
    if (!t) return -1;
    t->id = el->next_timer_id++;
    t->when_ms = ev_mstime() + ms;
    t->proc = proc;
    t->data = data;
    t->next = el->timers;
    el->timers = t;
    return t->id;
}

int ev_timer_del(event_loop *el, long long id)
{
    for (ev_timer *t = el->timers; t; t = t->next)
        if (t->id == id && t->proc) {
            t->proc = NULL; /* unlinked by ev_run_timers: a proc running now may hold t */
            return 0;
        }
    return -1;
}

void ev_set_before_sleep(event_loop *el, ev_hook_proc proc) { el->before_sleep = proc; }
void ev_set_idle(event_loop *el, ev_hook_proc proc) { el->idle = proc; }
void ev_stop(event_loop *el) { el->stop = 1; }

static int ev_run_timers(event_loop *el)
{
    int processed = 0;
    long long now = ev_mstime();
    ev_timer **pp = &el->timers;
    while (*pp) {
        ev_timer *t = *pp;
        if (!t->proc) { /* deleted */
            *pp = t->next;
            free(t);
            continue;
        }
        if (t->when_ms <= now) {
            long long next = t->proc(el, t->id, t->data);
            processed++;
            if (next < 0 || !t->proc) { /* done, or deleted by its own proc */
                *pp = t->next;
                free(t);
                continue;
            }
            t->when_ms = ev_mstime() + next;
        }
        pp = &t->next;
    }
    return processed;
}

/* The window adapts as cpuidle-haltpoll's does: a wait that blocked for no longer than the limit
 * would have been caught by polling longer, so the window doubles (from limit/8) up to the
 * limit; a wait that blocked for longer than the limit means polling was wasted, so it halves
 * (to 0 below 1 us). An idle or lightly loaded server thus stops polling within a few waits. */
static void ev_adapt_window(event_loop *el, long long blocked_ns)
{
    long long w = el->poll_window_ns;
    if (blocked_ns <= el->poll_limit_ns) {
        w = w < el->poll_limit_ns / 8 ? el->poll_limit_ns / 8 : w * 2;
        if (w > el->poll_limit_ns) w = el->poll_limit_ns;
    } else {
        w /= 2;
        if (w < 1000) w = 0;
    }
    el->poll_window_ns = w;
}

/* epoll_wait with busy polling in front of any wait that would block. */
static int ev_wait(event_loop *el, int timeout)
{
    if (timeout == 0 || el->poll_limit_ns == 0)
        return epoll_wait(el->epfd, el->fired, el->nfired_cap, timeout);
    int n;
    long long now;
    if (el->poll_window_ns > 0) {
        long long start = ev_nstime();
        int polls = 0;
        do {
            n = epoll_wait(el->epfd, el->fired, el->nfired_cap, 0);
            if (n != 0) {
                if (polls > 0 && n > 0) el->poll_stats.hits++;
                return n;
            }
            polls++;
            if (el->idle) el->idle(el); /* a slice of background work instead of a bare poll */
            now = ev_nstime();
        } while (now - start < el->poll_window_ns);
        el->poll_stats.misses++;
    } else {
        now = ev_nstime();
    }
    n = epoll_wait(el->epfd, el->fired, el->nfired_cap, timeout);
    ev_adapt_window(el, ev_nstime() - now);
    return n;
}

void ev_dont_wait(event_loop *el) { el->no_wait_once = 1; }

void ev_set_busy_poll(event_loop *el, long long limit_us)
{
    cpu_set_t cpus;
    if (limit_us < 0) limit_us = 0;
    /* with one CPU, polling would only take time from the processes we wait for */
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) < 2) limit_us = 0;
    el->poll_limit_ns = limit_us * 1000;
    el->poll_window_ns = el->poll_limit_ns;
}

ev_busy_poll_stats ev_get_busy_poll_stats(const event_loop *el)
{
    ev_busy_poll_stats st = el->poll_stats;
    st.limit_us = el->poll_limit_ns / 1000;
    st.window_us = el->poll_window_ns / 1000;
    return st;
}

void ev_reset_busy_poll_stats(event_loop *el) { el->poll_stats.hits = el->poll_stats.misses = 0; }

int ev_process(event_loop *el, int dont_wait)
{
    if (el->before_sleep) el->before_sleep(el);
    int timeout = -1;
    if (dont_wait || el->no_wait_once) {
        el->no_wait_once = 0;
        timeout = 0;
    } else if (el->timers) {
        long long now = ev_mstime(), nearest = -1;
        for (ev_timer *t = el->timers; t; t = t->next)
            if (t->proc && (nearest < 0 || t->when_ms < nearest)) nearest = t->when_ms;
        if (nearest >= 0) {
            long long d = nearest - now;
            timeout = d <= 0 ? 0 : d > 24 * 3600 * 1000LL ? 24 * 3600 * 1000 : (int)d;
        }
    }
    int n = ev_wait(el, timeout);
    int processed = 0;
    for (int i = 0; i < n; i++) {
        int fd = el->fired[i].data.fd;
        uint32_t ev = el->fired[i].events;
        if (fd >= el->setsize) continue;
        ev_file *f = &el->files[fd];
        int fired_read = 0;
        /* errors and hangups are reported to both handlers so reads/writes see them */
        if ((f->mask & EV_READABLE) && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
            f->rproc(el, fd, f->data, EV_READABLE);
            fired_read = 1;
        }
        f = &el->files[fd]; /* the handler may have grown or changed the table */
        if ((f->mask & EV_WRITABLE) && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            if (!fired_read || f->wproc != f->rproc) f->wproc(el, fd, f->data, EV_WRITABLE);
        }
        processed++;
    }
    if (n == el->nfired_cap) {
        struct epoll_event *nf = realloc(el->fired, (size_t)el->nfired_cap * 2 * sizeof *nf);
        if (nf) {
            el->fired = nf;
            el->nfired_cap *= 2;
        }
    }
    processed += ev_run_timers(el);
    return processed;
}

int ev_process_file_events_nested(event_loop *el)
{
    struct epoll_event fired[128]; /* not el->fired: the outer iteration is still reading it */
    int n = epoll_wait(el->epfd, fired, (int)(sizeof fired / sizeof fired[0]), 0);
    int processed = 0;
    for (int i = 0; i < n; i++) {
        int fd = fired[i].data.fd;
        uint32_t ev = fired[i].events;
        if (fd >= el->setsize) continue;
        ev_file *f = &el->files[fd];
        int fired_read = 0;
        if ((f->mask & EV_READABLE) && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
            f->rproc(el, fd, f->data, EV_READABLE);
            fired_read = 1;
        }
        f = &el->files[fd];
        if ((f->mask & EV_WRITABLE) && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            if (!fired_read || f->wproc != f->rproc) f->wproc(el, fd, f->data, EV_WRITABLE);
        }
        processed++;
    }
    return processed;
}

void ev_main(event_loop *el)
{
    el->stop = 0;
    while (!el->stop) ev_process(el, 0);
}
