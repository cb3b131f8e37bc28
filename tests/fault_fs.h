/* fault_fs.h - a fault-injecting, power-loss-simulating file layer for engine tests, installed
 * through the engine's file-layer hooks (src/lsm/fs.h).
 *
 *   counting      every call the engine makes, per operation (ffs_state.count[op]) and in total
 *   failing       the call numbered ffs_state.fail_at (0-based, over the calls that count:
 *                 ffs_state.countable) fails: with an errno
 *                 (EIO, ENOSPC), or as a short write (half the bytes, then ENOSPC for the rest
 *                 of that write); ffs_state.fail_op restricts which operations count
 *   power loss    ffs_power_loss() puts every file back as it was at its last successful fsync
 *                 and removes names created or renamed since the last directory fsync, as
 *                 LevelDB's and RocksDB's fault-injection environments do; after a FAILED fsync
 *                 the file's unsynced changes are lost for good (a later fsync that succeeds
 *                 does not bring them back: Linux may have dropped the dirty pages)
 *   stalling      opens of a path (e.g. ".sst") wait while ffs_state.stall is set
 *   crash         ffs_state.crash_at: at that call, simulate the power loss and _exit(0) the process
 *                 (use in a forked child; the parent checks the directory)
 *
 * How unsynced data is tracked: before each write, mapped store or truncate, the bytes it will
 * overwrite and the file size are saved (an undo record); a successful fsync of the file drops
 * its records; a power loss applies the records in reverse. Unlinks are not undone (a file the
 * engine deletes never holds data that is needed).
 *
 * Every hooked call runs under one mutex (the engine's threads take turns), so a crash at a
 * call sees no other call half done. Header-only; one user per process; tests only. */
#ifndef KEVO_FAULT_FS_H
#define KEVO_FAULT_FS_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

typedef struct ffs_undo {
    uint64_t off, old_size;
    size_t len;      /* bytes saved from off (may be less than written: past the old EOF) */
    char *old;       /* malloc'ed, len bytes */
    struct ffs_undo *prev;
} ffs_undo;

typedef struct ffs_file {
    char path[512];
    int fds[8];       /* open descriptors on this file (-1: free) */
    ffs_undo *undo;   /* newest first */
    int poisoned;     /* a sync failed: undo is never dropped again */
    int created;      /* created since the last directory sync */
    struct ffs_file *next;
} ffs_file;

typedef struct ffs_rename {
    char from[512], to[512];
    char *old_to;     /* previous content of the target, or NULL if it did not exist */
    size_t old_to_len;
    struct ffs_rename *prev;
} ffs_rename;

enum { FFS_FAIL_ERRNO = 0, FFS_FAIL_SHORT = 1 };

static struct {
    pthread_mutex_t mu;
    long count[FS_NOPS];
    long total;             /* calls so far */
    long fail_at;           /* -1: none */
    int fail_errno;         /* with FFS_FAIL_ERRNO */
    int fail_mode;
    unsigned fail_ops;      /* bitmask of fs_op that count for fail_at; 0 = all */
    int writes_only;        /* reads and read-only opens never count for fail_at */
    const char *fail_path;  /* only calls on files whose path contains this count (NULL: all) */
    int fail_all;           /* every counted call from fail_at on fails, not just that one */
    const char *stall_path; /* opens of paths containing this wait while stall is set (a slow */
    _Atomic int stall;      /*   flush, say), outside the mutex: other calls go on meanwhile */
    long failed_calls;      /* calls failed so far */
    long countable;         /* calls so far that fail_at would count */
    int short_fd;           /* after a short write: the rest of it fails */
    long crash_at;          /* -1: none */
    int track;              /* keep undo records (power loss / crash) */
    ffs_file *files;
    ffs_rename *renames;    /* since the last directory sync, newest first */
    fs_hooks hooks;
} ffs_state;

static inline ffs_file *ffs_by_path(const char *path, int create)
{
    for (ffs_file *f = ffs_state.files; f; f = f->next)
        if (strcmp(f->path, path) == 0)
            return f;
    if (!create)
        return NULL;
    ffs_file *f = calloc(1, sizeof(*f));
    snprintf(f->path, sizeof f->path, "%s", path);
    for (int i = 0; i < 8; i++)
        f->fds[i] = -1;
    f->next = ffs_state.files;
    ffs_state.files = f;
    return f;
}

static inline ffs_file *ffs_by_fd(int fd)
{
    for (ffs_file *f = ffs_state.files; f; f = f->next)
        for (int i = 0; i < 8; i++)
            if (f->fds[i] == fd)
                return f;
    return NULL;
}

static inline void ffs_drop_undo(ffs_file *f)
{
    while (f->undo) {
        ffs_undo *u = f->undo;
        f->undo = u->prev;
        free(u->old);
        free(u);
    }
}

/* Saves what [off, off+len) holds now and the file size, before fd's file changes there. */
static inline void ffs_save_undo(int fd, uint64_t off, size_t len)
{
    ffs_file *f = ffs_by_fd(fd);
    if (!f)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return;
    ffs_undo *u = calloc(1, sizeof(*u));
    u->off = off;
    u->old_size = (uint64_t)st.st_size;
    if (off < u->old_size) {
        size_t n = (size_t)(u->old_size - off < len ? u->old_size - off : len);
        u->old = malloc(n ? n : 1);
        ssize_t r = pread(fd, u->old, n, (off_t)off);
        u->len = r > 0 ? (size_t)r : 0;
    }
    u->prev = f->undo;
    f->undo = u;
}

static inline char *ffs_slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    fstat(fd, &st);
    char *b = malloc((size_t)st.st_size + 1);
    ssize_t r = pread(fd, b, (size_t)st.st_size, 0);
    close(fd);
    *len = r > 0 ? (size_t)r : 0;
    return b;
}

static inline int ffs_counts(const fs_call *c)
{
    if (ffs_state.fail_path) {
        const char *p = c->path;
        if (c->fd >= 0) {
            ffs_file *f = ffs_by_fd(c->fd);
            p = f ? f->path : NULL;
        }
        if (!p || !strstr(p, ffs_state.fail_path))
            return 0;
    }
    if (ffs_state.writes_only && (c->op == FS_READ || (c->op == FS_OPEN && (c->flags & O_ACCMODE) == O_RDONLY)))
        return 0;
    return ffs_state.fail_ops == 0 || (ffs_state.fail_ops & (1u << c->op));
}

static inline void ffs_power_loss_locked(void);

static inline int ffs_before(void *ctx, const fs_call *c, size_t *len)
{
    (void)ctx;
    if (c->op == FS_OPEN && ffs_state.stall_path && strstr(c->path, ffs_state.stall_path))
        while (atomic_load(&ffs_state.stall))
            usleep(1000);
    pthread_mutex_lock(&ffs_state.mu); /* released in ffs_after */
    long n = ffs_state.total++;
    ffs_state.count[c->op]++;
    if (ffs_state.crash_at >= 0 && n >= ffs_state.crash_at) {
        ffs_power_loss_locked();
        _exit(0);
    }
    int fail = 0;
    int counts = ffs_counts(c) && c->op != FS_MAP_STORE && c->op != FS_CLOSE;
    ffs_state.countable += counts;
    if (c->op == FS_WRITE && ffs_state.short_fd == c->fd) {
        ffs_state.short_fd = -1;
        fail = ENOSPC;
    } else if (ffs_state.fail_at >= 0 && counts) {
        if (ffs_state.fail_all && ffs_state.fail_at == 0) {
            ffs_state.failed_calls++;
            fail = ffs_state.fail_errno ? ffs_state.fail_errno : EIO;
        } else if (ffs_state.fail_at-- == 0) {
            ffs_state.failed_calls++;
            if (ffs_state.fail_mode == FFS_FAIL_SHORT && c->op == FS_WRITE && c->len > 1) {
                *len = c->len / 2;
                ffs_state.short_fd = c->fd;
            } else {
                fail = ffs_state.fail_errno ? ffs_state.fail_errno : EIO;
            }
        }
    }
    if (fail) {
        if (c->op == FS_SYNC) { /* the kernel may have dropped the dirty pages: for good */
            ffs_file *f = ffs_by_fd(c->fd);
            if (f)
                f->poisoned = 1;
        }
        return fail;
    }
    if (ffs_state.track) {
        if (c->op == FS_WRITE)
            ffs_save_undo(c->fd, c->off, *len);
        else if (c->op == FS_MAP_STORE)
            ffs_save_undo(c->fd, c->off, c->len);
        else if (c->op == FS_TRUNCATE)
            ffs_save_undo(c->fd, c->len, UINT32_MAX);
        else if (c->op == FS_RENAME) {
            ffs_rename *r = calloc(1, sizeof(*r));
            snprintf(r->from, sizeof r->from, "%s", c->path);
            snprintf(r->to, sizeof r->to, "%s", c->path2);
            r->old_to = ffs_slurp(c->path2, &r->old_to_len);
            r->prev = ffs_state.renames;
            ffs_state.renames = r;
        } else if (c->op == FS_OPEN && (c->flags & O_CREAT) && access(c->path, F_OK) != 0) {
            ffs_by_path(c->path, 1)->created = 1;
        }
    }
    return 0;
}

static inline void ffs_after(void *ctx, const fs_call *c, long result, int err)
{
    (void)ctx, (void)err;
    if (result >= 0) {
        if (c->op == FS_OPEN) {
            ffs_file *f = ffs_by_path(c->path, 1);
            for (int i = 0; i < 8; i++)
                if (f->fds[i] < 0) {
                    f->fds[i] = (int)result;
                    break;
                }
        } else if (c->op == FS_CLOSE) {
            ffs_file *f = ffs_by_fd(c->fd);
            for (int i = 0; f && i < 8; i++)
                if (f->fds[i] == c->fd)
                    f->fds[i] = -1;
        } else if (c->op == FS_SYNC) {
            ffs_file *f = ffs_by_fd(c->fd);
            if (f && !f->poisoned)
                ffs_drop_undo(f);
        } else if (c->op == FS_RENAME) {
            ffs_file *f = ffs_by_path(c->path, 0);
            ffs_file *t = ffs_by_path(c->path2, 0);
            if (t && t != f) { /* the old target is gone: its state goes with it */
                ffs_drop_undo(t);
                t->path[0] = 0;
            }
            if (f)
                snprintf(f->path, sizeof f->path, "%s", c->path2);
        } else if (c->op == FS_SYNC_DIR) {
            for (ffs_file *f = ffs_state.files; f; f = f->next)
                f->created = 0;
            while (ffs_state.renames) {
                ffs_rename *r = ffs_state.renames;
                ffs_state.renames = r->prev;
                free(r->old_to);
                free(r);
            }
        } else if (c->op == FS_UNLINK) {
            ffs_file *f = ffs_by_path(c->path, 0);
            if (f) {
                ffs_drop_undo(f);
                f->created = 0;
                f->path[0] = 0;
            }
        }
    } else if (c->op == FS_RENAME) { /* not renamed: nothing to undo */
        ffs_rename *r = ffs_state.renames;
        if (r && strcmp(r->from, c->path) == 0) {
            ffs_state.renames = r->prev;
            free(r->old_to);
            free(r);
        }
    }
    pthread_mutex_unlock(&ffs_state.mu);
}

/* Every byte and name not made durable is lost (call with ffs_state.mu held, or single-threaded). */
static inline void ffs_power_loss_locked(void)
{
    for (ffs_file *f = ffs_state.files; f; f = f->next) {
        if (!f->path[0] || !f->undo)
            continue;
        int fd = open(f->path, O_RDWR);
        if (fd < 0)
            continue;
        for (ffs_undo *u = f->undo; u; u = u->prev) { /* newest first: reverse order */
            if (u->len && pwrite(fd, u->old, u->len, (off_t)u->off) < 0)
                perror("ffs: undo");
            if (ftruncate(fd, (off_t)u->old_size) != 0)
                perror("ffs: undo truncate");
        }
        close(fd);
    }
    for (ffs_rename *r = ffs_state.renames; r; r = r->prev) { /* newest first */
        if (rename(r->to, r->from) != 0)
            continue;
        if (r->old_to) {
            int fd = open(r->to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                if (write(fd, r->old_to, r->old_to_len) < 0)
                    perror("ffs: restore");
                close(fd);
            }
        }
    }
    for (ffs_file *f = ffs_state.files; f; f = f->next)
        if (f->path[0] && f->created)
            unlink(f->path);
}

static inline void ffs_power_loss(void)
{
    pthread_mutex_lock(&ffs_state.mu);
    ffs_power_loss_locked();
    pthread_mutex_unlock(&ffs_state.mu);
}

/* Arms a failure while engine threads may be running (under the layer's mutex): the call
 * numbered at (-1: none) among the calls of the operations in ops (0: all) on paths containing
 * path (NULL: any) fails. */
static inline void ffs_arm(long at, unsigned ops, const char *path)
{
    pthread_mutex_lock(&ffs_state.mu);
    ffs_state.fail_ops = ops;
    ffs_state.fail_path = path;
    ffs_state.fail_at = at;
    pthread_mutex_unlock(&ffs_state.mu);
}

/* Calls failed so far (engine threads may be running). */
static inline long ffs_failed(void)
{
    pthread_mutex_lock(&ffs_state.mu);
    long n = ffs_state.failed_calls;
    pthread_mutex_unlock(&ffs_state.mu);
    return n;
}

/* Installs the layer: counting only, nothing failing or crashing, tracking off. */
static inline void ffs_install(void)
{
    pthread_mutex_init(&ffs_state.mu, NULL);
    memset(ffs_state.count, 0, sizeof ffs_state.count);
    ffs_state.total = 0;
    ffs_state.fail_at = -1;
    ffs_state.crash_at = -1;
    ffs_state.fail_errno = EIO;
    ffs_state.fail_mode = FFS_FAIL_ERRNO;
    ffs_state.fail_ops = 0;
    ffs_state.writes_only = 0;
    ffs_state.fail_path = NULL;
    ffs_state.fail_all = 0;
    ffs_state.stall_path = NULL;
    atomic_store(&ffs_state.stall, 0);
    ffs_state.failed_calls = 0;
    ffs_state.countable = 0;
    ffs_state.short_fd = -1;
    ffs_state.track = 0;
    ffs_state.hooks.before = ffs_before;
    ffs_state.hooks.after = ffs_after;
    ffs_state.hooks.ctx = NULL;
    fs_set_hooks(&ffs_state.hooks);
}

static inline void ffs_uninstall(void)
{
    fs_set_hooks(NULL);
    while (ffs_state.files) {
        ffs_file *f = ffs_state.files;
        ffs_state.files = f->next;
        ffs_drop_undo(f);
        free(f);
    }
    while (ffs_state.renames) {
        ffs_rename *r = ffs_state.renames;
        ffs_state.renames = r->prev;
        free(r->old_to);
        free(r);
    }
}

static inline const char *ffs_op_name(int op)
{
    static const char *names[FS_NOPS] = {"open", "close", "read", "write", "map", "map-store",
                                         "sync", "truncate", "rename", "unlink", "sync-dir"};
    return op >= 0 && op < FS_NOPS ? names[op] : "?";
}
#endif
