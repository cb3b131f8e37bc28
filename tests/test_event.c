/* test_event.c - the event loop: file events, timers, and the adaptive busy poll (its window
 * shrinks to 0 on waits that outlast the limit, grows back on short waits, and an event that
 * arrives while polling is taken without blocking). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"

typedef struct pipe_state {
    int fds[2];
    int reads;
} pipe_state;

static void on_readable(event_loop *el, int fd, void *data, int mask)
{
    (void)el, (void)mask;
    pipe_state *p = data;
    char buf[64];
    if (read(fd, buf, sizeof buf) > 0) p->reads++;
}

/* A loop watching the read end of a new pipe. */
static event_loop *loop_with_pipe(pipe_state *p)
{
    event_loop *el = ev_create(64);
    cr_assert_not_null(el);
    memset(p, 0, sizeof *p);
    cr_assert_eq(pipe(p->fds), 0);
    cr_assert_eq(ev_add(el, p->fds[0], EV_READABLE, on_readable, p), 0);
    return el;
}

static void loop_with_pipe_free(event_loop *el, pipe_state *p)
{
    close(p->fds[0]);
    close(p->fds[1]);
    ev_free(el);
}

static long long on_timer(event_loop *el, long long id, void *data)
{
    (void)el, (void)id;
    ++*(int *)data;
    return 5; /* every 5 ms: each wait for it blocks far longer than a 100 us limit */
}

static int cpus_available(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

Test(event, file_events_and_timers_fire)
{
    pipe_state p;
    event_loop *el = loop_with_pipe(&p);
    int ticks = 0;
    ev_timer_add(el, 1, on_timer, &ticks);
    cr_assert_eq(write(p.fds[1], "x", 1), 1);
    while (p.reads == 0 || ticks == 0) ev_process(el, 0);
    cr_assert_eq(p.reads, 1);
    ev_del(el, p.fds[0], EV_READABLE);
    cr_assert_eq(ev_get_mask(el, p.fds[0]), EV_NONE);
    loop_with_pipe_free(el, &p);
}

static long long on_timer_once(event_loop *el, long long id, void *data)
{
    (void)el, (void)id;
    ++*(int *)data;
    return -1;
}

struct del_ctx {
    long long victim;
    int fired;
};

/* deletes another timer, then itself (returning a delay that must be ignored) */
static long long on_timer_deleter(event_loop *el, long long id, void *data)
{
    struct del_ctx *d = data;
    d->fired++;
    cr_assert_eq(ev_timer_del(el, d->victim), 0);
    cr_assert_eq(ev_timer_del(el, id), 0);
    return 1;
}

Test(event, deleted_timers_never_fire)
{
    event_loop *el = ev_create(64);
    int a = 0, b = 0, c = 0;
    long long ta = ev_timer_add(el, 1, on_timer_once, &a);
    long long tb = ev_timer_add(el, 30, on_timer_once, &b);
    cr_assert_eq(ev_timer_del(el, ta), 0);
    cr_assert_eq(ev_timer_del(el, ta), -1, "a deleted timer is gone");
    struct del_ctx d = {tb, 0};
    ev_timer_add(el, 2, on_timer_deleter, &d);
    ev_timer_add(el, 60, on_timer_once, &c);
    while (c == 0) ev_process(el, 0);
    cr_assert_eq(a, 0);
    cr_assert_eq(b, 0, "deleted by another timer's proc before its time");
    cr_assert_eq(d.fired, 1, "a proc that deleted itself runs once");
    cr_assert_eq(ev_timer_del(el, tb), -1);
    /* the wait is computed from live timers only: a 0 ms timer fires in the next iteration */
    int e = 0;
    ev_timer_add(el, 0, on_timer_once, &e);
    ev_process(el, 0);
    cr_assert_eq(e, 1);
    ev_free(el);
}

Test(event, busy_poll_off_never_polls)
{
    event_loop *el = ev_create(64);
    int ticks = 0;
    ev_timer_add(el, 1, on_timer, &ticks);
    ev_set_busy_poll(el, 0);
    while (ticks < 5) ev_process(el, 0);
    ev_busy_poll_stats st = ev_get_busy_poll_stats(el);
    cr_assert_eq(st.limit_us, 0);
    cr_assert_eq(st.window_us, 0);
    cr_assert_eq(st.hits + st.misses, 0);
    ev_free(el);
}

Test(event, idle_waits_shrink_the_window_to_zero)
{
    if (cpus_available() < 2) cr_skip_test("busy polling is off with one CPU");
    event_loop *el = ev_create(64);
    int ticks = 0;
    ev_timer_add(el, 5, on_timer, &ticks);
    ev_set_busy_poll(el, 100);
    cr_assert_eq(ev_get_busy_poll_stats(el).window_us, 100);
    /* every wait polls the window in vain, then blocks ~5 ms (> limit): the window halves */
    long long prev = 100;
    for (int i = 0; i < 4; i++) {
        int before = ticks;
        while (ticks == before) ev_process(el, 0);
        long long w = ev_get_busy_poll_stats(el).window_us;
        cr_assert_lt(w, prev, "wait %d: window %lld did not shrink from %lld", i, w, prev);
        prev = w;
    }
    while (ev_get_busy_poll_stats(el).window_us > 0 && ticks < 20) ev_process(el, 0);
    ev_busy_poll_stats st = ev_get_busy_poll_stats(el);
    cr_assert_eq(st.window_us, 0, "an idle loop still polls %lld us", st.window_us);
    cr_assert_gt(st.misses, 0);
    /* at 0 it stays 0 while idle: no more polls are spent */
    long long misses = st.misses;
    int before = ticks;
    while (ticks < before + 3) ev_process(el, 0);
    cr_assert_eq(ev_get_busy_poll_stats(el).misses, misses);
    cr_assert_eq(ev_get_busy_poll_stats(el).window_us, 0);
    ev_free(el);
}

typedef struct delayed_write {
    int fd;
    long delay_us;
} delayed_write;

static void *write_later(void *arg)
{
    delayed_write *d = arg;
    sleep_us(d->delay_us);
    ssize_t r = write(d->fd, "y", 1);
    (void)r;
    return NULL;
}

/* Waits for one byte written by a thread delay_us from now; returns the stats afterwards. */
static ev_busy_poll_stats wait_for_delayed_byte(event_loop *el, pipe_state *p, long delay_us)
{
    int before = p->reads;
    delayed_write d = {p->fds[1], delay_us};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, write_later, &d), 0);
    while (p->reads == before) ev_process(el, 0);
    pthread_join(th, NULL);
    return ev_get_busy_poll_stats(el);
}

Test(event, an_event_arriving_while_polling_is_taken_without_blocking)
{
    if (cpus_available() < 2) cr_skip_test("busy polling is off with one CPU");
    pipe_state p;
    event_loop *el = loop_with_pipe(&p);
    /* the writer sleeps 50 us into a 20 ms window; a loaded machine (other processes on both
     * CPUs, a sanitizer build) may delay some of them past the window (a miss, then the blocking
     * wait takes the byte), but not all 200: without polling none would be a hit */
    ev_busy_poll_stats st = {0};
    for (int i = 0; i < 200 && st.hits == 0; i++) {
        ev_set_busy_poll(el, 20000); /* full window again whatever the last wait did */
        st = wait_for_delayed_byte(el, &p, 50);
    }
    cr_assert_gt(st.hits, 0, "no event was caught by polling (misses %lld)", st.misses);
    cr_assert_gt(p.reads, 0);
    loop_with_pipe_free(el, &p);
}

Test(event, a_short_blocking_wait_grows_the_window_back)
{
    if (cpus_available() < 2) cr_skip_test("busy polling is off with one CPU");
    pipe_state p;
    event_loop *el = loop_with_pipe(&p);
    int ticks = 0;
    ev_timer_add(el, 5, on_timer, &ticks);
    ev_set_busy_poll(el, 1000);
    while (ev_get_busy_poll_stats(el).window_us > 0 && ticks < 50) ev_process(el, 0);
    cr_assert_eq(ev_get_busy_poll_stats(el).window_us, 0, "idle waits did not shrink the window");
    /* from 0 the loop blocks at once; a byte 50 us later ends the wait well inside the limit,
     * so the window restarts at limit/8 (retried: a stalled writer may overshoot 1 ms) */
    long long w = 0;
    for (int i = 0; i < 50 && w == 0; i++) w = wait_for_delayed_byte(el, &p, 50).window_us;
    cr_assert_geq(w, 1000 / 8, "window %lld after a short wait", w);
    cr_assert_leq(w, 1000);
    loop_with_pipe_free(el, &p);
}

static int hook_calls;
static void hook_dont_wait_once(event_loop *el)
{
    if (hook_calls++ == 0) ev_dont_wait(el);
}

/* ev_dont_wait from the before-sleep hook (work left for the next iteration): that iteration's
 * wait returns at once although nothing is ready and no timer is set; the one after blocks as
 * usual (here until a timer fires 200 ms later). */
Test(event, dont_wait_makes_one_wait_return_at_once, .timeout = 10)
{
    pipe_state p;
    event_loop *el = loop_with_pipe(&p);
    ev_set_busy_poll(el, 0);
    hook_calls = 0;
    ev_set_before_sleep(el, hook_dont_wait_once);
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(ev_process(el, 0), 0, "nothing was ready");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long first_ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    cr_assert_lt(first_ms, 150, "the wait after ev_dont_wait did not block (%lld ms)", first_ms);
    int fired = 0;
    ev_timer_add(el, 200, on_timer, &fired);
    ev_process(el, 0);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    long long second_ms = (t2.tv_sec - t1.tv_sec) * 1000LL + (t2.tv_nsec - t1.tv_nsec) / 1000000;
    cr_assert_eq(fired, 1);
    cr_assert_geq(second_ms, 150, "the next wait blocked until the timer (%lld ms)", second_ms);
    cr_assert_eq(hook_calls, 2);
    loop_with_pipe_free(el, &p);
}
