/* fs.c - the engine's file layer (fs.h): system calls, announced to test hooks when installed. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <sys/syscall.h>

static _Atomic(const fs_hooks *) hooks;

void fs_set_hooks(const fs_hooks *h) { atomic_store_explicit(&hooks, h, memory_order_release); }

static inline const fs_hooks *active(void) {
    return atomic_load_explicit(&hooks, memory_order_acquire);
}

/* Announces c; returns 0 to go on or the errno to fail with. */
static int announce(const fs_hooks *h, const fs_call *c, size_t *len) {
    size_t dummy = c->len;
    return h->before ? h->before(h->ctx, c, len ? len : &dummy) : 0;
}
static void report(const fs_hooks *h, const fs_call *c, long result, int err) {
    if (h->after) h->after(h->ctx, c, result, err);
}

/* Runs `expr` (a system call returning long, -1 on error) under the hooks. */
#define HOOKED(callinit, expr)                                                                  \
    do {                                                                                        \
        const fs_hooks *h_ = active();                                                          \
        if (!h_) return (expr);                                                                 \
        fs_call c_ = callinit;                                                                  \
        int e_ = announce(h_, &c_, NULL);                                                       \
        long r_;                                                                                \
        if (e_) {                                                                               \
            r_ = -1;                                                                            \
        } else {                                                                                \
            r_ = (long)(expr);                                                                  \
            e_ = r_ < 0 ? errno : 0;                                                            \
        }                                                                                       \
        report(h_, &c_, r_, e_);                                                                \
        if (e_) errno = e_;                                                                     \
        return r_;                                                                              \
    } while (0)

#define PCALL(o, ...) ((fs_call){.op = (o), .fd = -1, __VA_ARGS__}) /* a path operation */
#define FCALL(o, ...) ((fs_call){.op = (o), __VA_ARGS__})            /* an fd operation */

int fs_open(const char *path, int flags, mode_t mode) {
    HOOKED(PCALL(FS_OPEN, .path = path, .flags = flags), open(path, flags, mode));
}

int fs_close(int fd) {
    const fs_hooks *h = active();
    if (h) {
        fs_call c = FCALL(FS_CLOSE, .fd = fd);
        (void)announce(h, &c, NULL);
        int r = close(fd);
        int e = r < 0 ? errno : 0;
        report(h, &c, r, e);
        if (e) errno = e;
        return r;
    }
    return close(fd);
}

static ssize_t pread_once(int fd, void *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ssize_t fs_pread(int fd, void *buf, size_t n, uint64_t off) {
    HOOKED(FCALL(FS_READ, .fd = fd, .off = off, .len = n), pread_once(fd, buf, n, off));
}

/* cachestat(2) (Linux 6.5): how many pages of a range are in the page cache, asked without
 * reading anything. Older headers lack it; the number is the same on every architecture. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct fs_cachestat_range {
    uint64_t off, len;
};
struct fs_cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
static atomic_int cachestat_missing; /* the kernel said ENOSYS (or the like) once */

/* 1 when every page of [off, off + n) is in the page cache, 0 when one is not, -1 when the
 * kernel cannot tell (no cachestat). */
static int all_cached(int fd, uint64_t off, size_t n) {
    if (atomic_load_explicit(&cachestat_missing, memory_order_relaxed)) return -1;
    long ps = sysconf(_SC_PAGESIZE); /* what cachestat counts in (glibc keeps it: no call) */
    uint64_t page = ps > 0 ? (uint64_t)ps : 4096;
    uint64_t a = off & ~(page - 1), e = (off + n + page - 1) & ~(page - 1);
    struct fs_cachestat_range range = {a, e - a};
    struct fs_cachestat cs;
    if (syscall(__NR_cachestat, fd, &range, &cs, 0) != 0) {
        if (errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)
            atomic_store_explicit(&cachestat_missing, 1, memory_order_relaxed);
        return -1;
    }
    return cs.nr_cache >= (e - a) / page;
}

/* preadv2(RWF_NOWAIT) does not wait, but when the pages are missing it still starts reading
 * them (readahead) before it says EAGAIN: a disk read issued from the calling thread (the loop:
 * a device kick, a VM exit here) for data that is then read again elsewhere. So the pages are
 * first asked for with cachestat, which reads nothing. */
static ssize_t pread_nowait_once(int fd, void *buf, size_t n, uint64_t off) {
    if (n && all_cached(fd, off, n) == 0) {
        errno = EAGAIN;
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        struct iovec iov = {(char *)buf + got, n - got};
        ssize_t r = preadv2(fd, &iov, 1, (off_t)(off + got), RWF_NOWAIT);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            if (errno != EAGAIN) errno = EAGAIN; /* EOPNOTSUPP, EINVAL: not possible here */
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

ssize_t fs_pread_nowait(int fd, void *buf, size_t n, uint64_t off) {
    HOOKED(FCALL(FS_READ, .fd = fd, .off = off, .len = n), pread_nowait_once(fd, buf, n, off));
}

/* One pwrite call's worth of bytes under the hooks: returns bytes written or -1. */
static ssize_t pwrite_step(const fs_hooks *h, int fd, const char *p, size_t n, uint64_t off) {
    if (!h) return pwrite(fd, p, n, (off_t)off);
    fs_call c = FCALL(FS_WRITE, .fd = fd, .off = off, .len = n);
    size_t len = n;
    int e = announce(h, &c, &len);
    ssize_t r;
    if (e) {
        r = -1;
    } else {
        if (len > n) len = n;
        r = len ? pwrite(fd, p, len, (off_t)off) : 0;
        e = r < 0 ? errno : 0;
    }
    report(h, &c, (long)r, e);
    if (e) errno = e;
    return r;
}

int fs_pwrite_all(int fd, const void *buf, size_t n, uint64_t off, size_t *written) {
    const fs_hooks *h = active();
    const char *p = buf;
    size_t done = 0;
    int rc = 0;
    while (done < n) {
        ssize_t r = pwrite_step(h, fd, p + done, n - done, off + done);
        if (r < 0) {
            if (errno == EINTR) continue;
            rc = -1;
            break;
        }
        if (r == 0) { /* a regular file never does this unless full: do not spin */
            errno = ENOSPC;
            rc = -1;
            break;
        }
        done += (size_t)r;
    }
    if (written) *written = done;
    return rc;
}

int fs_fsync(int fd) { HOOKED(FCALL(FS_SYNC, .fd = fd), fsync(fd)); }
int fs_fdatasync(int fd) { HOOKED(FCALL(FS_SYNC, .fd = fd), fdatasync(fd)); }

int fs_ftruncate(int fd, uint64_t len) {
    HOOKED(FCALL(FS_TRUNCATE, .fd = fd, .len = (size_t)len), ftruncate(fd, (off_t)len));
}

int fs_rename(const char *from, const char *to) {
    HOOKED(PCALL(FS_RENAME, .path = from, .path2 = to), rename(from, to));
}

int fs_unlink(const char *path) { HOOKED(PCALL(FS_UNLINK, .path = path), unlink(path)); }

static int sync_dir_now(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r < 0) errno = e; /* close must not hide why the sync failed */
    return r;
}

int fs_sync_dir(const char *dir) { HOOKED(PCALL(FS_SYNC_DIR, .path = dir), sync_dir_now(dir)); }

int fs_sync_parent_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (!slash) {
        dir[0] = '.';
        n = 1;
    } else {
        if (n == 0) n = 1; /* "/file" */
        if (n >= sizeof(dir)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(dir, path, n);
    }
    dir[n] = 0;
    return fs_sync_dir(dir);
}

int fs_file_size(int fd, uint64_t *size) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    *size = (uint64_t)st.st_size;
    return 0;
}

static void *map_or_null(void *p) { return p == MAP_FAILED ? NULL : p; }

void *fs_map_shared(int fd, size_t len, uint64_t off) {
    const fs_hooks *h = active();
    if (!h) return map_or_null(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off));
    fs_call c = FCALL(FS_MAP, .fd = fd, .off = off, .len = len);
    int e = announce(h, &c, NULL);
    void *p = NULL;
    if (!e) {
        p = map_or_null(mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off));
        e = p ? 0 : errno;
    }
    report(h, &c, p ? 0 : -1, e);
    if (e) errno = e;
    return p;
}

void *fs_map_read(int fd, size_t len) {
    const fs_hooks *h = active();
    if (!h) return map_or_null(mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0));
    fs_call c = FCALL(FS_READ, .fd = fd, .off = 0, .len = len);
    int e = announce(h, &c, NULL);
    void *p = NULL;
    if (!e) {
        p = map_or_null(mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0));
        e = p ? 0 : errno;
    }
    report(h, &c, p ? (long)len : -1, e);
    if (e) errno = e;
    return p;
}

/* Stores front to back, a word at a time. A process killed in the middle of a store into a
 * shared file mapping leaves exactly what was stored so far in the page cache, so this order
 * makes the result a prefix of the bytes. memcpy gives no such order (glibc's stores its first
 * vector last), and a kill at a page fault inside it left zeros at a record boundary followed
 * by complete records: corruption in the middle of the log, not a torn tail. */
static void ordered_copy(char *dst, const char *src, size_t n) {
    while (n && ((uintptr_t)dst & 7)) {
        *(volatile char *)dst++ = *src++;
        n--;
    }
    for (; n >= 8; n -= 8, dst += 8, src += 8) {
        uint64_t w;
        memcpy(&w, src, 8);
        *(volatile uint64_t *)(void *)dst = w;
    }
    while (n--) *(volatile char *)dst++ = *src++;
}

void fs_map_store(int fd, char *dst, uint64_t off, const void *src, size_t n) {
    const fs_hooks *h = active();
    if (!h) {
        ordered_copy(dst, src, n);
        return;
    }
    fs_call c = FCALL(FS_MAP_STORE, .fd = fd, .off = off, .len = n);
    (void)announce(h, &c, NULL);
    ordered_copy(dst, src, n);
    report(h, &c, (long)n, 0);
}
