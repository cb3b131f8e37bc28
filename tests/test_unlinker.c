/* test_unlinker.c - the background unlinker (src/lsm/unlinker.h): queued paths are unlinked by
 * its thread, drain waits for them, stop unlinks what is still queued, a missing file is fine. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unlinker.h"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof(dir), "/tmp/kevo_unlinker_XXXXXX");
    cr_assert(mkdtemp(dir));
}
static void teardown(void) { rmdir(dir); }

TestSuite(unlinker, .init = setup, .fini = teardown, .timeout = 30);

static void file_path(char *path, size_t cap, int i) { snprintf(path, cap, "%s/%06d.sst", dir, i); }

/* Creates files 0..n-1 and queues each on u; path holds the last one's. */
static void queue_files(unlinker *u, int n, char *path, size_t cap) {
    for (int i = 0; i < n; i++) {
        file_path(path, cap, i);
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, "x", 1), 1);
        close(fd);
        cr_assert_eq(unlinker_add(u, path), 0);
    }
}

static void assert_files_gone(int n, const char *when) {
    char path[128];
    for (int i = 0; i < n; i++) {
        file_path(path, sizeof(path), i);
        cr_assert_neq(access(path, F_OK), 0, "%s still exists %s", path, when);
    }
}

Test(unlinker, queued_files_are_gone_after_drain) {
    unlinker *u = unlinker_start();
    cr_assert_not_null(u);
    char path[128];
    queue_files(u, 50, path, sizeof(path));
    unlinker_drain(u);
    assert_files_gone(50, "after drain");
    cr_assert_eq(unlinker_done(u), 50);
    /* a path whose file is already gone counts as done too (ENOENT is what was wanted) */
    cr_assert_eq(unlinker_add(u, path), 0);
    unlinker_drain(u);
    cr_assert_eq(unlinker_done(u), 51);
    unlinker_stop(u);
}

Test(unlinker, stop_unlinks_what_is_still_queued) {
    unlinker *u = unlinker_start();
    cr_assert_not_null(u);
    char path[128];
    queue_files(u, 200, path, sizeof(path));
    unlinker_stop(u); /* no drain first */
    assert_files_gone(200, "after stop");
    unlinker_stop(NULL); /* nothing to stop: no crash */
    unlinker_drain(NULL);
    cr_assert_eq(unlinker_done(NULL), 0);
}
