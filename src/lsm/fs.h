/* fs.h - the engine's file layer: every system call the engine makes on its data directory
 * (open, read, write, mapping stores, fsync/fdatasync, truncate, rename, unlink, directory
 * fsync, close) goes through these wrappers, so that tests can count the calls, fail any one
 * of them (an error, a short write, ENOSPC, EIO on fsync) and simulate a power loss (drop every
 * byte and directory entry not yet made durable). See tests/fault_fs.h for the injector.
 *
 * Without hooks installed (production) each wrapper is the plain system call plus one relaxed
 * atomic load. With hooks installed, each call is announced to hooks->before (which may fail it
 * or shorten a write) and reported to hooks->after with its result.
 *
 * Errors: wrappers return what the system call returns (-1 / MAP_FAILED with errno set), so the
 * callers' error handling is the one that runs in production.
 *
 * Outside the layer on purpose: advisory calls that change no data (sync_file_range write-back
 * hints, posix_fadvise/madvise), munmap, the LOCK file, and kevo-check (read-only, offline).
 *
 * Threads: any engine thread may call any wrapper; the hooks must be thread-safe. Hooks are
 * installed by tests only (fs_set_hooks), before the engine is opened. */
#ifndef KEVO_FS_H
#define KEVO_FS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum fs_op {
    FS_OPEN,       /* path, flags; after: result is the fd */
    FS_CLOSE,      /* fd */
    FS_READ,       /* fd, off, len (pread, or a read-only mapping of the whole file) */
    FS_WRITE,      /* fd, off, len (pwrite at an explicit offset) */
    FS_MAP,        /* fd, off, len: a shared writable mapping (the mapped WAL) */
    FS_MAP_STORE,  /* fd, off, len: bytes stored through a shared mapping; cannot fail */
    FS_SYNC,       /* fd: fsync or fdatasync */
    FS_TRUNCATE,   /* fd, len = the new size */
    FS_RENAME,     /* path -> path2 */
    FS_UNLINK,     /* path */
    FS_SYNC_DIR,   /* path: fsync of a directory */
    FS_NOPS
} fs_op;

typedef struct fs_call {
    fs_op op;
    int fd;             /* -1 for path operations */
    const char *path;   /* OPEN, RENAME (source), UNLINK, SYNC_DIR; else NULL */
    const char *path2;  /* RENAME target; else NULL */
    uint64_t off;       /* READ, WRITE, MAP, MAP_STORE: file offset */
    size_t len;         /* READ, WRITE, MAP, MAP_STORE: byte count; TRUNCATE: new size */
    int flags;          /* OPEN: open(2) flags */
} fs_call;

typedef struct fs_hooks {
    /* Before the call. Returns 0 to perform it, or an errno value to fail it without performing
     * it. For FS_WRITE, lowering *len performs a short write of that many bytes. The return
     * value is ignored for FS_MAP_STORE and FS_CLOSE (they cannot fail by injection). */
    int (*before)(void *ctx, const fs_call *c, size_t *len);
    /* After the call (performed or failed): result as the system call returned it, err its
     * errno when result < 0. */
    void (*after)(void *ctx, const fs_call *c, long result, int err);
    void *ctx;
} fs_hooks;

/* Installs hooks (NULL removes them). The struct must outlive the installation. Tests only. */
void fs_set_hooks(const fs_hooks *h);

int fs_open(const char *path, int flags, mode_t mode);
int fs_close(int fd);
/* pread of exactly n bytes unless EOF or an error: returns bytes read, or -1 (errno). */
ssize_t fs_pread(int fd, void *buf, size_t n, uint64_t off);
/* As fs_pread, from the page cache only (preadv2 with RWF_NOWAIT): the bytes read when they were
 * all cached, else -1 with errno EAGAIN (also where the kernel or file system cannot do it).
 * For a thread that must not wait for the disk. */
ssize_t fs_pread_nowait(int fd, void *buf, size_t n, uint64_t off);
/* pwrite of all n bytes at off (retries EINTR and partial writes): 0, or -1 with errno (a short
 * write that cannot continue reports ENOSPC or EIO). *written, if not NULL, gets the bytes that
 * did reach the file. */
int fs_pwrite_all(int fd, const void *buf, size_t n, uint64_t off, size_t *written);
int fs_fsync(int fd);
int fs_fdatasync(int fd);
int fs_ftruncate(int fd, uint64_t len);
int fs_rename(const char *from, const char *to);
int fs_unlink(const char *path);
/* fsync of directory dir: 0 or -1 (errno). */
int fs_sync_dir(const char *dir);
/* fsync of the directory that holds path. */
int fs_sync_parent_dir(const char *path);
/* Size of the open file: 0 or -1 (errno). */
int fs_file_size(int fd, uint64_t *size);
/* Shared writable mapping of [off, off+len) of fd, or NULL (errno) — callers fall back to
 * writes. */
void *fs_map_shared(int fd, size_t len, uint64_t off);
/* Read-only private mapping of the first len bytes, or NULL (callers fall back to pread). */
void *fs_map_read(int fd, size_t len);
/* Stores n bytes at dst, which maps file offset off of fd (from fs_map_shared), strictly front
 * to back: if the process dies during the store, the mapping holds a prefix of the bytes. */
void fs_map_store(int fd, char *dst, uint64_t off, const void *src, size_t n);
#endif
