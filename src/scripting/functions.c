/* functions.c - libraries and the FUNCTION / FCALL commands (see functions.h), with Redis 7.0's
 * replies and errors (functions.c in Redis).
 *
 * Persistence: each library is stored in the engine as
 *     'M' || "fnlib:" || <library name>  ->  the FUNCTION LOAD payload (shebang included)
 * written in the command's engine batch (FUNCTION LOAD / DELETE / FLUSH / RESTORE), so it is
 * durable once acknowledged (group commit) and loaded again at startup.
 *
 * FUNCTION DUMP payload (Kevo's own; RESTORE accepts only this):
 *     "KVFN" | version (1 byte, = 1) | count (u32 LE) | count x (len u32 LE | payload bytes)
 *     | crc32c of everything before (u32 LE)
 * doc/scripting.md has the byte diagram and an example. */
#include "functions.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crc32c.h"
#include "eval.h"
#include "keyspace.h"
#include "log.h"
#include "lsm.h"
#include "server.h"
#include "splitargs.h"
#include "util.h"

#define FN_LOAD_TIMEOUT_MS 500
#define FN_KEY_PREFIX "Mfnlib:" /* on-disk: never change */
#define FN_KEY_PREFIX_LEN (sizeof FN_KEY_PREFIX - 1)
#define FN_DUMP_MAGIC "KVFN"    /* on-disk (DUMP payloads): never change */
#define FN_DUMP_VERSION 1

/* ---------------------------------------------------------------- a library context */

/* Libraries and the function index over them (Redis's functionsLibCtx). Small sorted arrays:
 * a lookup is a binary search. */
typedef struct fn_ctx {
    fn_library **libs;     /* sorted by name (case-sensitive) */
    int nlibs, libcap;
    fn_function **fns;     /* sorted by name, case-insensitively */
    int nfns, fncap;
} fn_ctx;

static fn_ctx curr;

static int lib_cmp(const char *a, const char *b) { return strcmp(a, b); }

static int lib_pos(const fn_ctx *x, const char *name, int *found)
{
    int lo = 0, hi = x->nlibs;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = lib_cmp(x->libs[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = 0;
    return lo;
}

static fn_library *lib_find(const fn_ctx *x, const char *name)
{
    int f, p = lib_pos(x, name, &f);
    return f ? x->libs[p] : NULL;
}

static int fn_pos(const fn_ctx *x, const char *name, int *found)
{
    int lo = 0, hi = x->nfns;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = strcasecmp(x->fns[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = 0;
    return lo;
}

static fn_function *fn_find(const fn_ctx *x, const char *name)
{
    int f, p = fn_pos(x, name, &f);
    return f ? x->fns[p] : NULL;
}

static void function_free(fn_function *f)
{
    fnlua_release(f);
    free(f->name);
    free(f->desc);
    free(f);
}

static void library_free(fn_library *l)
{
    if (!l) return;
    for (int i = 0; i < l->nfns; i++) function_free(l->fns[i]);
    free(l->fns);
    free(l->name);
    free(l->code);
    free(l);
}

/* Adds l and its functions to x (names already checked). 0 or -1 (out of memory, x unchanged). */
static int lib_link(fn_ctx *x, fn_library *l)
{
    if (x->nlibs + 1 > x->libcap) {
        int cap = x->libcap ? x->libcap * 2 : 8;
        fn_library **n = realloc(x->libs, (size_t)cap * sizeof *n);
        if (!n) return -1;
        x->libs = n;
        x->libcap = cap;
    }
    if (x->nfns + l->nfns > x->fncap) {
        int cap = x->fncap ? x->fncap : 8;
        while (cap < x->nfns + l->nfns) cap *= 2;
        fn_function **n = realloc(x->fns, (size_t)cap * sizeof *n);
        if (!n) return -1;
        x->fns = n;
        x->fncap = cap;
    }
    int f, p = lib_pos(x, l->name, &f);
    memmove(x->libs + p + 1, x->libs + p, (size_t)(x->nlibs - p) * sizeof *x->libs);
    x->libs[p] = l;
    x->nlibs++;
    for (int i = 0; i < l->nfns; i++) {
        p = fn_pos(x, l->fns[i]->name, &f);
        memmove(x->fns + p + 1, x->fns + p, (size_t)(x->nfns - p) * sizeof *x->fns);
        x->fns[p] = l->fns[i];
        x->nfns++;
    }
    return 0;
}

/* Removes l and its functions from x (l itself is not freed). */
static void lib_unlink(fn_ctx *x, fn_library *l)
{
    int f, p;
    for (int i = 0; i < l->nfns; i++) {
        p = fn_pos(x, l->fns[i]->name, &f);
        if (f && x->fns[p] == l->fns[i]) {
            memmove(x->fns + p, x->fns + p + 1, (size_t)(x->nfns - p - 1) * sizeof *x->fns);
            x->nfns--;
        }
    }
    p = lib_pos(x, l->name, &f);
    if (f) {
        memmove(x->libs + p, x->libs + p + 1, (size_t)(x->nlibs - p - 1) * sizeof *x->libs);
        x->nlibs--;
    }
}

static void ctx_clear(fn_ctx *x)
{
    for (int i = 0; i < x->nlibs; i++) library_free(x->libs[i]);
    free(x->libs);
    free(x->fns);
    memset(x, 0, sizeof *x);
}

/* ---------------------------------------------------------------- creating a library */

/* [A-Za-z0-9_]+ (Redis's functionsVerifyName) */
static int name_ok(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return 0;
    return 1;
}

int functions_lib_add(fn_library *lib, char *name, int ref, char *desc, uint64_t flags, char *err, size_t errlen)
{
    if (!name_ok(name)) {
        snprintf(err, errlen, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
        return -1;
    }
    for (int i = 0; i < lib->nfns; i++)
        if (!strcmp(lib->fns[i]->name, name)) {
            snprintf(err, errlen, "Function already exists in the library");
            return -1;
        }
    fn_function *f = calloc(1, sizeof *f);
    fn_function **n = realloc(lib->fns, (size_t)(lib->nfns + 1) * sizeof *n);
    if (!f || !n) {
        free(f);
        if (n) lib->fns = n;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    lib->fns = n;
    f->name = name;
    f->desc = desc;
    f->flags = flags;
    f->ref = ref;
    f->lib = lib;
    lib->fns[lib->nfns++] = f;
    return 0;
}

static int fn_sort_cmp(const void *a, const void *b)
{
    return strcmp((*(fn_function *const *)a)->name, (*(fn_function *const *)b)->name);
}

/* The library metadata of a payload (Redis's functionExtractLibMetaData): 0 with the name
 * (malloc'ed) and the offset of the code (the shebang's newline), or -1 with the error. */
static int lib_metadata(const char *payload, size_t len, char **name, size_t *code_off, char *engine, size_t enginecap,
                        char *err, size_t errlen)
{
    if (len < 2 || payload[0] != '#' || payload[1] != '!') {
        snprintf(err, errlen, "Missing library metadata");
        return -1;
    }
    const char *nl = NULL;
    for (size_t i = 0; i < len && payload[i]; i++)
        if (payload[i] == '\n') {
            nl = payload + i;
            break;
        }
    if (!nl) {
        snprintf(err, errlen, "Invalid library metadata");
        return -1;
    }
    char **parts;
    int n = split_args(payload, (size_t)(nl - payload), &parts);
    if (n <= 0) {
        if (n == 0) split_args_free(parts, 0);
        snprintf(err, errlen, "Invalid library metadata");
        return -1;
    }
    snprintf(engine, enginecap, "%s", parts[0] + 2);
    *name = NULL;
    for (int i = 1; i < n; i++) {
        if (!strncasecmp(parts[i], "name=", 5)) {
            if (*name) {
                snprintf(err, errlen, "Invalid metadata value, name argument was given multiple times");
                goto fail;
            }
            *name = strdup(parts[i] + 5);
            continue;
        }
        snprintf(err, errlen, "Invalid metadata value given: %s", parts[i]);
        goto fail;
    }
    if (!*name) {
        snprintf(err, errlen, "Library name was not given");
        goto fail;
    }
    split_args_free(parts, n);
    *code_off = (size_t)(nl - payload);
    return 0;
fail:
    free(*name);
    *name = NULL;
    split_args_free(parts, n);
    return -1;
}

/* Compiles payload into a new library of x (Redis's functionsCreateWithLibraryCtx) without
 * linking it: returns it, with *old set to the library of the same name it replaces (still
 * linked), or NULL with the error. */
static fn_library *lib_create(fn_ctx *x, const char *payload, size_t len, int replace, long long timeout,
                              fn_library **old, char *err, size_t errlen)
{
    char *name = NULL, engine[64];
    size_t off;
    *old = NULL;
    if (lib_metadata(payload, len, &name, &off, engine, sizeof engine, err, errlen) < 0) return NULL;
    if (!name_ok(name)) {
        snprintf(err, errlen, "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
        free(name);
        return NULL;
    }
    if (strcasecmp(engine, "lua")) {
        snprintf(err, errlen, "Engine '%s' not found", engine);
        free(name);
        return NULL;
    }
    fn_library *prev = lib_find(x, name);
    if (prev && !replace) {
        snprintf(err, errlen, "Library '%s' already exists", name);
        free(name);
        return NULL;
    }
    fn_library *l = calloc(1, sizeof *l);
    char *code = malloc(len + 1);
    if (!l || !code) {
        free(l);
        free(code);
        free(name);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(code, payload, len);
    code[len] = 0;
    l->name = name;
    l->code = code;
    l->code_len = len;
    if (prev) lib_unlink(x, prev); /* its function names are free for the new version */
    if (fnlua_create(l, payload + off, len - off, timeout, err, errlen) < 0) goto fail;
    if (l->nfns == 0) {
        snprintf(err, errlen, "No functions registered");
        goto fail;
    }
    for (int i = 0; i < l->nfns; i++)
        if (fn_find(x, l->fns[i]->name)) {
            snprintf(err, errlen, "Function %s already exists", l->fns[i]->name);
            goto fail;
        }
    qsort(l->fns, (size_t)l->nfns, sizeof *l->fns, fn_sort_cmp);
    if (prev) lib_link(x, prev); /* linked again: the caller decides */
    *old = prev;
    return l;
fail:
    library_free(l);
    if (prev) lib_link(x, prev);
    return NULL;
}

/* Replaces old (may be NULL) by l in x. */
static int lib_install(fn_ctx *x, fn_library *l, fn_library *old)
{
    if (old) lib_unlink(x, old);
    if (lib_link(x, l) < 0) {
        if (old) lib_link(x, old);
        return -1;
    }
    library_free(old);
    return 0;
}

/* ---------------------------------------------------------------- persistence */

static size_t lib_key(char *dst, size_t cap, const char *name)
{
    return (size_t)snprintf(dst, cap, "%s%s", FN_KEY_PREFIX, name);
}

/* Writes a batch of library puts/deletes; 0, or a negative engine code. */
static int store_write(lsm_batch *b)
{
    if (!server.engine) return LSM_EIO;
    int r = lsm_write(server.engine, b);
    if (r == 0) server.dirty++;
    return r;
}

static int batch_put_lib(lsm_batch *b, const fn_library *l)
{
    char k[300];
    size_t kl = lib_key(k, sizeof k, l->name);
    return lsm_batch_put(b, k, kl, l->code, l->code_len);
}

static int batch_del_lib(lsm_batch *b, const char *name)
{
    char k[300];
    size_t kl = lib_key(k, sizeof k, name);
    return lsm_batch_delete(b, k, kl);
}

int functions_load_stored(void)
{
    if (!server.engine) return 0;
    lsm_iter *it = lsm_iter_new(server.engine);
    if (!it) return -1;
    int loaded = 0, failed = 0;
    for (lsm_iter_seek(it, FN_KEY_PREFIX, FN_KEY_PREFIX_LEN); lsm_iter_valid(it); lsm_iter_next(it)) {
        size_t kl, vl;
        const char *k = lsm_iter_key(it, &kl);
        if (kl < FN_KEY_PREFIX_LEN || memcmp(k, FN_KEY_PREFIX, FN_KEY_PREFIX_LEN)) break;
        const char *v = lsm_iter_value(it, &vl);
        char err[1024];
        fn_library *old;
        fn_library *l = lib_create(&curr, v, vl, 1, 0, &old, err, sizeof err);
        if (!l || lib_install(&curr, l, old) < 0) {
            log_msg(LL_WARNING, "Failed loading the stored library '%.*s': %s", (int)(kl - FN_KEY_PREFIX_LEN),
                    k + FN_KEY_PREFIX_LEN, l ? "out of memory" : err);
            if (l) library_free(l);
            failed++;
            continue;
        }
        loaded++;
    }
    int st = lsm_iter_status(it);
    lsm_iter_free(it);
    if (loaded || failed) log_msg(LL_NOTICE, "Loaded %d function libraries (%d failed)", loaded, failed);
    if (st) /* as for any key: the server starts, the damage shows where it is */
        log_msg(LL_WARNING, "Reading the stored function libraries: %s (%s); the libraries after it are not loaded",
                lsm_strerror(st), lsm_last_error(server.engine));
    return 0;
}

/* ---------------------------------------------------------------- FUNCTION LOAD / DELETE / FLUSH */

static void reply_engine_failure(client *c, int r)
{
    const char *why = "";
    if (!server.engine || !lsm_write_error(server.engine, &why) || !*why) why = lsm_strerror(r);
    reply_errorf(c, "MISCONF Errors writing to the write-ahead log (%.200s): the libraries were not changed", why);
}

void function_load_command(client *c)
{
    int replace = 0, pos = 2;
    while (pos < c->argc - 1) {
        const cmdarg *a = &c->argv[pos++];
        if (!strcasecmp(a->ptr, "replace")) {
            replace = 1;
            continue;
        }
        reply_errorf(c, "ERR Unknown option given: %s", a->ptr);
        return;
    }
    if (pos >= c->argc) {
        reply_error(c, "ERR Function code is missing");
        return;
    }
    const cmdarg *code = &c->argv[pos];
    char err[2048];
    fn_library *old;
    fn_library *l = lib_create(&curr, code->ptr, code->len, replace, FN_LOAD_TIMEOUT_MS, &old, err, sizeof err);
    if (!l) {
        reply_errorf(c, "ERR %s", err);
        return;
    }
    lsm_batch *b = lsm_batch_new();
    int r = b ? batch_put_lib(b, l) : LSM_ENOMEM;
    if (r == 0) r = store_write(b);
    lsm_batch_free(b);
    if (r || lib_install(&curr, l, old) < 0) {
        library_free(l);
        if (r) reply_engine_failure(c, r);
        else reply_error(c, "ERR out of memory");
        return;
    }
    reply_bulk_cstr(c, l->name);
}

void function_delete_command(client *c)
{
    fn_library *l = lib_find(&curr, c->argv[2].ptr);
    if (!l || strlen(l->name) != c->argv[2].len) {
        reply_error(c, "ERR Library not found");
        return;
    }
    lsm_batch *b = lsm_batch_new();
    int r = b ? batch_del_lib(b, l->name) : LSM_ENOMEM;
    if (r == 0) r = store_write(b);
    lsm_batch_free(b);
    if (r) {
        reply_engine_failure(c, r);
        return;
    }
    lib_unlink(&curr, l);
    library_free(l);
    reply_ok(c);
}

static void reply_subcommand_syntax_error(client *c)
{
    char up[32];
    size_t i;
    for (i = 0; i + 1 < sizeof up && c->argv[0].ptr[i]; i++) up[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
    up[i] = 0;
    reply_errorf(c, "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try %s HELP.", c->argv[1].ptr, up);
}

/* Deletes every stored library of x in b. */
static int batch_del_all(lsm_batch *b, const fn_ctx *x)
{
    for (int i = 0; i < x->nlibs; i++) {
        int r = batch_del_lib(b, x->libs[i]->name);
        if (r) return r;
    }
    return 0;
}

void function_flush_command(client *c)
{
    if (c->argc > 3) {
        reply_subcommand_syntax_error(c);
        return;
    }
    if (c->argc == 3 && strcasecmp(c->argv[2].ptr, "sync") && strcasecmp(c->argv[2].ptr, "async")) {
        reply_error(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    lsm_batch *b = lsm_batch_new();
    int r = b ? batch_del_all(b, &curr) : LSM_ENOMEM;
    if (r == 0 && curr.nlibs) r = store_write(b);
    else if (r == 0) server.dirty++;
    lsm_batch_free(b);
    if (r) {
        reply_engine_failure(c, r);
        return;
    }
    ctx_clear(&curr);
    reply_ok(c);
}

/* ---------------------------------------------------------------- FUNCTION LIST / STATS */

static void reply_fn_flags(client *c, uint64_t flags)
{
    long n = 0;
    for (const script_flag_def *d = script_flag_defs; d->name; d++)
        if (flags & d->flag) n++;
    reply_set(c, n);
    for (const script_flag_def *d = script_flag_defs; d->name; d++)
        if (flags & d->flag) reply_simple(c, d->name);
}

void function_list_command(client *c)
{
    int with_code = 0;
    const cmdarg *pattern = NULL;
    for (int i = 2; i < c->argc; i++) {
        const cmdarg *a = &c->argv[i];
        if (!with_code && !strcasecmp(a->ptr, "withcode")) {
            with_code = 1;
            continue;
        }
        if (!pattern && !strcasecmp(a->ptr, "libraryname")) {
            if (i >= c->argc - 1) {
                reply_error(c, "ERR library name argument was not given");
                return;
            }
            pattern = &c->argv[++i];
            continue;
        }
        reply_errorf(c, "ERR Unknown argument %s", a->ptr);
        return;
    }
    void *h = NULL;
    if (pattern) h = reply_defer_len(c);
    else reply_array(c, curr.nlibs);
    long n = 0;
    for (int i = 0; i < curr.nlibs; i++) {
        fn_library *l = curr.libs[i];
        if (pattern && !glob_match(pattern->ptr, pattern->len, l->name, strlen(l->name), 1)) continue;
        n++;
        reply_map(c, with_code ? 4 : 3);
        reply_bulk_cstr(c, "library_name");
        reply_bulk_cstr(c, l->name);
        reply_bulk_cstr(c, "engine");
        reply_bulk_cstr(c, "LUA");
        reply_bulk_cstr(c, "functions");
        reply_array(c, l->nfns);
        for (int j = 0; j < l->nfns; j++) {
            fn_function *f = l->fns[j];
            reply_map(c, 3);
            reply_bulk_cstr(c, "name");
            reply_bulk_cstr(c, f->name);
            reply_bulk_cstr(c, "description");
            if (f->desc) reply_bulk_cstr(c, f->desc);
            else reply_null(c);
            reply_bulk_cstr(c, "flags");
            reply_fn_flags(c, f->flags);
        }
        if (with_code) {
            reply_bulk_cstr(c, "library_code");
            reply_bulk(c, l->code, l->code_len);
        }
    }
    if (pattern) reply_set_deferred_array(c, h, n);
}

void function_stats_command(client *c)
{
    if (script_is_running() && script_is_eval()) {
        reply_error(c, script_busy_error());
        return;
    }
    reply_map(c, 2);
    reply_bulk_cstr(c, "running_script");
    if (!script_is_running()) {
        reply_null(c);
    } else {
        script_run *r = script_current();
        reply_map(c, 3);
        reply_bulk_cstr(c, "name");
        reply_bulk_cstr(c, r->funcname);
        reply_bulk_cstr(c, "command");
        reply_array(c, r->caller->argc);
        for (int i = 0; i < r->caller->argc; i++) reply_bulk(c, r->caller->argv[i].ptr, r->caller->argv[i].len);
        reply_bulk_cstr(c, "duration_ms");
        reply_int(c, script_run_duration_ms());
    }
    reply_bulk_cstr(c, "engines");
    reply_map(c, 1);
    reply_bulk_cstr(c, "LUA");
    reply_map(c, 2);
    reply_bulk_cstr(c, "libraries_count");
    reply_int(c, curr.nlibs);
    reply_bulk_cstr(c, "functions_count");
    reply_int(c, curr.nfns);
}

void function_kill_command(client *c) { script_kill(c, 0); }

/* ---------------------------------------------------------------- DUMP / RESTORE */

static void put_u32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (char)(v >> (8 * i));
}

static uint32_t get_u32(const char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | (unsigned char)p[i];
    return v;
}

void function_dump_command(client *c)
{
    size_t total = 4 + 1 + 4 + 4;
    for (int i = 0; i < curr.nlibs; i++) total += 4 + curr.libs[i]->code_len;
    char *p = malloc(total);
    if (!p) {
        reply_error(c, "ERR out of memory");
        return;
    }
    size_t off = 0;
    memcpy(p, FN_DUMP_MAGIC, 4);
    off = 4;
    p[off++] = FN_DUMP_VERSION;
    put_u32(p + off, (uint32_t)curr.nlibs);
    off += 4;
    for (int i = 0; i < curr.nlibs; i++) {
        put_u32(p + off, (uint32_t)curr.libs[i]->code_len);
        off += 4;
        memcpy(p + off, curr.libs[i]->code, curr.libs[i]->code_len);
        off += curr.libs[i]->code_len;
    }
    put_u32(p + off, crc32c(p, off));
    off += 4;
    reply_bulk(c, p, off);
    free(p);
}

/* Libraries of a DUMP payload compiled into x: 0, or -1 with the error. */
static int restore_parse(const char *d, size_t len, fn_ctx *x, char *err, size_t errlen)
{
    if (len < 13 || memcmp(d, FN_DUMP_MAGIC, 4) || d[4] != FN_DUMP_VERSION || get_u32(d + len - 4) != crc32c(d, len - 4)) {
        snprintf(err, errlen, "DUMP payload version or checksum are wrong");
        return -1;
    }
    uint32_t n = get_u32(d + 5);
    size_t off = 9, end = len - 4;
    for (uint32_t i = 0; i < n; i++) {
        if (end - off < 4 || end - off - 4 < get_u32(d + off)) {
            snprintf(err, errlen, "failed loading the given functions payload");
            return -1;
        }
        size_t l = get_u32(d + off);
        off += 4;
        fn_library *old;
        fn_library *lib = lib_create(x, d + off, l, 0, 0, &old, err, errlen);
        if (!lib) return -1;
        if (lib_install(x, lib, old) < 0) {
            library_free(lib);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        off += l;
    }
    if (off != end) {
        snprintf(err, errlen, "failed loading the given functions payload");
        return -1;
    }
    return 0;
}

/* Redis's libraryJoin, checked first: whether src's libraries can join dst (replace: the same
 * names replace dst's). 0, or -1 with the error. */
static int join_check(const fn_ctx *dst, const fn_ctx *src, int replace, char *err, size_t errlen)
{
    for (int i = 0; i < src->nlibs; i++)
        if (!replace && lib_find(dst, src->libs[i]->name)) {
            snprintf(err, errlen, "Library %s already exists", src->libs[i]->name);
            return -1;
        }
    for (int i = 0; i < src->nfns; i++) {
        fn_function *f = fn_find(dst, src->fns[i]->name);
        /* a function of a library being replaced does not collide */
        if (f && !(replace && lib_find(src, f->lib->name))) {
            snprintf(err, errlen, "Function %s already exists", src->fns[i]->name);
            return -1;
        }
    }
    return 0;
}

void function_restore_command(client *c)
{
    if (c->argc > 4) {
        reply_subcommand_syntax_error(c);
        return;
    }
    enum { APPEND, REPLACE, FLUSH } policy = APPEND;
    if (c->argc == 4) {
        const char *p = c->argv[3].ptr;
        if (!strcasecmp(p, "append")) policy = APPEND;
        else if (!strcasecmp(p, "replace")) policy = REPLACE;
        else if (!strcasecmp(p, "flush")) policy = FLUSH;
        else {
            reply_error(c, "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    char err[2048];
    fn_ctx x = {0};
    lsm_batch *b = NULL;
    int r = 0;
    if (restore_parse(c->argv[2].ptr, c->argv[2].len, &x, err, sizeof err) < 0) goto fail;
    if (policy != FLUSH && join_check(&curr, &x, policy == REPLACE, err, sizeof err) < 0) goto fail;
    b = lsm_batch_new();
    if (!b) r = LSM_ENOMEM;
    if (r == 0 && policy == FLUSH) r = batch_del_all(b, &curr);
    for (int i = 0; r == 0 && i < x.nlibs; i++) r = batch_put_lib(b, x.libs[i]);
    if (r == 0) r = store_write(b);
    lsm_batch_free(b);
    if (r) {
        ctx_clear(&x);
        reply_engine_failure(c, r);
        return;
    }
    if (policy == FLUSH) ctx_clear(&curr);
    while (x.nlibs) {
        fn_library *l = x.libs[0];
        lib_unlink(&x, l);
        fn_library *old = lib_find(&curr, l->name);
        if (lib_install(&curr, l, old) < 0) library_free(l);
    }
    ctx_clear(&x);
    reply_ok(c);
    return;
fail:
    ctx_clear(&x);
    reply_errorf(c, "ERR %s", err);
}

void function_help_command(client *c)
{
    static const char *const lines[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++) reply_simple(c, lines[i]);
}

/* ---------------------------------------------------------------- FCALL */

uint32_t fcall_command_flags(client *c, uint32_t cmd_flags)
{
    if (c->argc < 2) return cmd_flags;
    fn_function *f = fn_find(&curr, c->argv[1].ptr);
    if (!f) return cmd_flags;
    return script_flags_to_cmd_flags(cmd_flags, f->flags);
}

static void fcall_generic(client *c, int ro)
{
    fn_function *f = fn_find(&curr, c->argv[1].ptr);
    if (!f) {
        reply_error(c, "ERR Function not found");
        return;
    }
    long long numkeys;
    if (!string2ll(c->argv[2].ptr, c->argv[2].len, &numkeys)) {
        reply_error(c, "ERR Bad number of keys provided");
        return;
    }
    if (numkeys > c->argc - 3) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    } else if (numkeys < 0) {
        reply_error(c, "ERR Number of keys can't be negative");
        return;
    }
    script_run r;
    if (script_prepare_run(&r, fnlua_client(), c, f->name, f->flags, ro) < 0) return;
    fnlua_call(&r, f, c->argv + 3, (int)numkeys, c->argv + 3 + numkeys, c->argc - 3 - (int)numkeys);
    script_reset_run(&r);
}

void fcall_command(client *c) { fcall_generic(c, 0); }
void fcall_ro_command(client *c) { fcall_generic(c, 1); }

/* ---------------------------------------------------------------- init, INFO */

int functions_init(void) { return fnlua_init(); }

size_t functions_caches_memory(void)
{
    size_t m = sizeof curr + (size_t)curr.libcap * sizeof(void *) + (size_t)curr.fncap * sizeof(void *);
    for (int i = 0; i < curr.nlibs; i++) {
        fn_library *l = curr.libs[i];
        m += sizeof *l + strlen(l->name) + 1 + l->code_len + 1;
        for (int j = 0; j < l->nfns; j++)
            m += sizeof *l->fns[j] + sizeof(void *) + strlen(l->fns[j]->name) + 1 + (l->fns[j]->desc ? strlen(l->fns[j]->desc) + 1 : 0);
    }
    return m;
}

size_t functions_count(void) { return (size_t)curr.nfns; }
size_t functions_library_count(void) { return (size_t)curr.nlibs; }
