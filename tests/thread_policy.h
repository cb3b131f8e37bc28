/* thread_policy.h - tests: the scheduling policy of this process's thread with a given name. */
#ifndef KEVO_TEST_THREAD_POLICY_H
#define KEVO_TEST_THREAD_POLICY_H
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* sched_getscheduler of the first thread named name (waits up to 2 s for it to set itself up:
 * a thread changes its own policy when it starts), -1 when there is none. Returns as soon as the
 * policy is want. */
static inline int thread_policy_of(const char *name, int want) {
    int policy = -1;
    for (int tries = 0; tries < 200; tries++) {
        DIR *d = opendir("/proc/self/task");
        if (!d) return -1;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char path[300], comm[32] = "";
            snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
            FILE *f = fopen(path, "r");
            if (!f) continue;
            if (fgets(comm, sizeof(comm), f)) comm[strcspn(comm, "\n")] = 0;
            fclose(f);
            if (strcmp(comm, name) == 0) {
                policy = sched_getscheduler(atoi(e->d_name));
                break;
            }
        }
        closedir(d);
        if (policy == want) break;
        usleep(10000);
    }
    return policy;
}
#endif
