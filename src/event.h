/* event.h - the epoll event loop: file events (readable/writable per fd), timers, and a
 * before-sleep hook run once per iteration before waiting. Main thread only. */
#ifndef KEVO_EVENT_H
#define KEVO_EVENT_H

#define EV_NONE 0
#define EV_READABLE 1
#define EV_WRITABLE 2

typedef struct event_loop event_loop;
/* Called with the mask that fired (EV_READABLE or EV_WRITABLE). */
typedef void (*ev_file_proc)(event_loop *el, int fd, void *data, int mask);
/* Returns the delay in ms until the next run, or -1 to delete the timer. */
typedef long long (*ev_timer_proc)(event_loop *el, long long id, void *data);
typedef void (*ev_hook_proc)(event_loop *el);

/* setsize: initial number of fd slots (grows on demand). NULL on failure. */
event_loop *ev_create(int setsize);
void ev_free(event_loop *el);
/* Registers interest in mask for fd (adds to what is registered); proc is the handler for the
 * given mask bit(s), data is passed back (one data pointer per fd). 0 or -1 (errno). */
int ev_add(event_loop *el, int fd, int mask, ev_file_proc proc, void *data);
/* Removes interest in mask for fd (the fd's slot is freed when no interest remains). */
void ev_del(event_loop *el, int fd, int mask);
int ev_get_mask(event_loop *el, int fd);
/* Timer firing after ms; returns its id (> 0). */
long long ev_timer_add(event_loop *el, long long ms, ev_timer_proc proc, void *data);
/* Removes the timer id before it fires (from inside any handler, its own proc included).
 * 0, or -1 when no such timer exists (fired for good, or deleted). */
int ev_timer_del(event_loop *el, long long id);
void ev_set_before_sleep(event_loop *el, ev_hook_proc proc);
/* Idle hook: called between the polls of a busy-poll window that found nothing (below), to do a
 * short slice of deferrable work (a few us: the next request waits for it) in time the loop
 * would otherwise spend polling. Never called when the loop blocks or does not poll. */
void ev_set_idle(event_loop *el, ev_hook_proc proc);
/* The current iteration's wait (or the next one's, when called from a file event or timer) does
 * not block: work was left for the next iteration (a before-sleep hook that ran out of its time
 * slice). */
void ev_dont_wait(event_loop *el);
/* Busy polling: before a wait that would block, poll the ready list (epoll_wait with timeout 0)
 * for up to a window of at most limit_us. A client's request then arrives at a loop that is
 * not asleep: neither side pays for a wakeup, which on loopback and in VMs is a large part of a
 * small request's cost. The window adapts (event.c): it shrinks to 0 while waits outlast the
 * limit (idle or light load), so polling costs CPU only while requests arrive closer together
 * than the limit. 0 disables; also disabled when this thread may run on only one CPU. */
void ev_set_busy_poll(event_loop *el, long long limit_us);
typedef struct ev_busy_poll_stats {
    long long limit_us, window_us; /* effective limit, current window */
    long long hits, misses;        /* polls that found events / that ran the window out */
} ev_busy_poll_stats;
ev_busy_poll_stats ev_get_busy_poll_stats(const event_loop *el);
void ev_reset_busy_poll_stats(event_loop *el); /* hits, misses = 0 (CONFIG RESETSTAT) */
/* Runs until ev_stop. */
void ev_main(event_loop *el);
void ev_stop(event_loop *el);
/* One iteration: before-sleep hook, wait (at most until the next timer; 0 = don't block when
 * dont_wait), file events, timers. Returns the number of events processed. */
int ev_process(event_loop *el, int dont_wait);
/* File events only, without waiting, no timers, no before-sleep hook: for a handler that runs
 * for long (a busy script) and lets other clients be served meanwhile. May be called from
 * inside a file event handler (it does not touch the outer iteration's state). Returns the
 * number of events processed. */
int ev_process_file_events_nested(event_loop *el);
#endif
