/* kevo_check.c - kevo-check DIR: verifies a Kevo data directory offline, without changing it.
 *
 * Prints one line per finding, "<dir>/<file>: offset <n>: error|warning: <what>" (no offset when
 * the finding is about the file as a whole), then a summary. Exit status: 0 intact (warnings
 * allowed), 1 damage found, 2 the directory or a file could not be read, 64 bad usage.
 * What is verified: see src/lsm/check.h and README.md ("Checking a data directory"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

typedef struct out_ctx {
    const char *dir;
    int quiet;          /* -q: errors only */
} out_ctx;

static void report(void *ctx, int sev, const char *file, int64_t off, const char *msg) {
    out_ctx *o = ctx;
    if (o->quiet && sev < LSM_CHECK_ERROR) return;
    const char *s = sev >= LSM_CHECK_ERROR ? "error" : sev == LSM_CHECK_WARNING ? "warning" : "info";
    if (off >= 0)
        printf("%s/%s: offset %lld: %s: %s\n", o->dir, file, (long long)off, s, msg);
    else
        printf("%s/%s: %s: %s\n", o->dir, file, s, msg);
}

static void usage(FILE *f) {
    fprintf(f, "usage: kevo-check [-q] DIR\n"
               "Verifies every checksum and invariant of a Kevo data directory (CURRENT, MANIFEST,\n"
               "SSTables, WALs) without modifying it.\n"
               "  -q   print errors only (no warnings)\n"
               "Exit status: 0 intact, 1 damage found, 2 cannot read, 64 usage.\n");
}

int main(int argc, char **argv) {
    out_ctx o = {NULL, 0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0) o.quiet = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) { usage(stdout); return 0; }
        else if (argv[i][0] == '-' && argv[i][1]) { usage(stderr); return 64; }
        else if (!o.dir) o.dir = argv[i];
        else { usage(stderr); return 64; }
    }
    if (!o.dir) { usage(stderr); return 64; }
    size_t dl = strlen(o.dir);
    char *dir = strdup(o.dir);
    if (!dir) return 2;
    while (dl > 1 && dir[dl - 1] == '/') dir[--dl] = 0;
    o.dir = dir;
    lsm_check_stats st;
    int rc = lsm_check_dir(dir, report, &o, &st);
    printf("kevo-check %s: %llu tables (%llu data blocks, %llu entries), %llu MANIFEST edits, "
           "%llu WALs (%llu records), %llu bytes verified: ",
           dir, (unsigned long long)st.tables, (unsigned long long)st.data_blocks,
           (unsigned long long)st.entries, (unsigned long long)st.manifest_edits,
           (unsigned long long)st.wal_files, (unsigned long long)st.wal_records,
           (unsigned long long)st.bytes);
    if (rc == 0) printf("intact");
    else if (rc == 1) printf("DAMAGED");
    else printf("CANNOT READ");
    printf(" (%llu errors, %llu warnings)%s\n", (unsigned long long)st.errors,
           (unsigned long long)st.warnings, st.locked ? " [locked by a running server]" : "");
    free(dir);
    return rc;
}
