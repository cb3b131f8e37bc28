/* eval.c - the EVAL family and SCRIPT (see eval.h). */
#include "eval.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "command.h"
#include "log.h"
#include "lua_sandbox.h"
#include "script_lua.h"
#include "script_run.h"
#include "sha1.h"
#include "splitargs.h"
#include "util.h"

typedef struct eval_script {
    char sha[41];
    uint64_t flags;
    char *body;
    size_t len;
    struct eval_script *next;
} eval_script;

static lua_State *eval_L;
static client *eval_client;
static eval_script **scripts;
static size_t nbuckets, nscripts, scripts_mem;

/* The sha of the body of the EVAL whose flags the dispatcher just asked for (eval_command_flags),
 * used once by that EVAL's handler right after: it saves hashing the body twice. */
static const char *last_body;
static size_t last_len;
static int last_valid;
static char last_sha[41];

static size_t bucket_of(const char *sha)
{
    uint64_t h = 0;
    for (int i = 0; i < 16; i++) h = h << 4 | (uint64_t)(sha[i] <= '9' ? sha[i] - '0' : (sha[i] | 0x20) - 'a' + 10);
    return (size_t)h & (nbuckets - 1);
}

static eval_script *script_find(const char *sha)
{
    if (!nscripts) return NULL;
    for (eval_script *s = scripts[bucket_of(sha)]; s; s = s->next)
        if (!strncasecmp(s->sha, sha, 40)) return s;
    return NULL;
}

static int script_add(const char *sha, const char *body, size_t len, uint64_t flags)
{
    if (nscripts + 1 > nbuckets) {
        size_t nb = nbuckets ? nbuckets * 2 : 64;
        eval_script **n = calloc(nb, sizeof *n);
        if (!n) return -1;
        size_t ob = nbuckets;
        nbuckets = nb;
        for (size_t i = 0; i < ob; i++)
            for (eval_script *s = scripts[i], *next; s; s = next) {
                next = s->next;
                size_t b = bucket_of(s->sha);
                s->next = n[b];
                n[b] = s;
            }
        free(scripts);
        scripts = n;
    }
    eval_script *s = malloc(sizeof *s);
    char *b = malloc(len + 1);
    if (!s || !b) {
        free(s);
        free(b);
        return -1;
    }
    memcpy(s->sha, sha, 41);
    memcpy(b, body, len);
    b[len] = 0;
    s->body = b;
    s->len = len;
    s->flags = flags;
    size_t bk = bucket_of(sha);
    s->next = scripts[bk];
    scripts[bk] = s;
    nscripts++;
    scripts_mem += 48 + len + 1;
    return 0;
}

static void scripts_free(void)
{
    for (size_t i = 0; i < nbuckets; i++)
        for (eval_script *s = scripts[i], *next; s; s = next) {
            next = s->next;
            free(s->body);
            free(s);
        }
    free(scripts);
    scripts = NULL;
    nbuckets = nscripts = scripts_mem = 0;
    last_valid = 0;
}

static lua_State *eval_state_new(void)
{
    lua_State *L = lua_sandbox_new();
    if (!L) return NULL;
    script_lua_register_api(L, SL_EVAL);
    lua_sandbox_seal(L);
    return L;
}

int eval_init(void)
{
    eval_L = eval_state_new();
    if (!eval_client) eval_client = client_create_script();
    if (!eval_L || !eval_client) {
        log_msg(LL_WARNING, "Creating the Lua scripting environment failed: out of memory");
        return -1;
    }
    return 0;
}

size_t eval_vm_memory(void) { return eval_L ? (size_t)lua_gc(eval_L, LUA_GCCOUNT, 0) * 1024 : 0; }
size_t eval_scripts_memory(void) { return scripts_mem + nbuckets * sizeof(eval_script *); }
size_t eval_scripts_count(void) { return nscripts; }

/* ---------------------------------------------------------------- shebang and flags */

int eval_shebang_flags(const char *body, size_t len, uint64_t *flags, size_t *shebang_len, char *err, size_t errlen)
{
    uint64_t f = SCRIPT_FLAG_EVAL_COMPAT_MODE;
    size_t sl = 0;
    if (len >= 2 && body[0] == '#' && body[1] == '!') {
        /* the first line, as a C string (Redis's strchr stops at a NUL) */
        const char *nl = NULL;
        for (size_t i = 0; i < len && body[i]; i++)
            if (body[i] == '\n') {
                nl = body + i;
                break;
            }
        if (!nl) {
            snprintf(err, errlen, "Invalid script shebang");
            return -1;
        }
        sl = (size_t)(nl - body);
        char **parts;
        int n = split_args(body, sl, &parts);
        if (n <= 0) {
            if (n == 0) split_args_free(parts, 0);
            snprintf(err, errlen, "Invalid engine in script shebang");
            return -1;
        }
        if (strcmp(parts[0], "#!lua")) {
            snprintf(err, errlen, "Unexpected engine in script shebang: %s", parts[0]);
            split_args_free(parts, n);
            return -1;
        }
        f &= ~SCRIPT_FLAG_EVAL_COMPAT_MODE;
        for (int j = 1; j < n; j++) {
            if (strncmp(parts[j], "flags=", 6)) {
                snprintf(err, errlen, "Unknown lua shebang option: %s", parts[j]);
                split_args_free(parts, n);
                return -1;
            }
            const char *p = parts[j] + 6;
            while (*p) {
                const char *e = strchr(p, ',');
                size_t fl = e ? (size_t)(e - p) : strlen(p);
                const script_flag_def *d;
                for (d = script_flag_defs; d->name; d++)
                    if (strlen(d->name) == fl && !strncmp(d->name, p, fl)) break;
                if (!d->name) {
                    snprintf(err, errlen, "Unexpected flag in script shebang: %.*s", (int)fl, p);
                    split_args_free(parts, n);
                    return -1;
                }
                f |= d->flag;
                if (!e) break;
                p = e + 1;
                if (!*p) { /* "a," ends with an empty flag */
                    snprintf(err, errlen, "Unexpected flag in script shebang: ");
                    split_args_free(parts, n);
                    return -1;
                }
            }
        }
        split_args_free(parts, n);
    }
    *flags = f;
    if (shebang_len) *shebang_len = sl;
    return 0;
}

uint32_t script_flags_to_cmd_flags(uint32_t cmd_flags, uint64_t sf)
{
    cmd_flags &= ~(CMD_STALE | CMD_DENYOOM | CMD_WRITE | CMD_MAY_REPLICATE);
    if (!(sf & (SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES))) cmd_flags |= CMD_DENYOOM;
    if (!(sf & SCRIPT_FLAG_NO_WRITES)) cmd_flags |= CMD_WRITE;
    if (sf & SCRIPT_FLAG_ALLOW_STALE) cmd_flags |= CMD_STALE;
    return cmd_flags;
}

/* The lowercase sha naming the script of an EVAL (hash of the body) or EVALSHA (argument).
 * from_flags: computed for eval_command_flags (remembered for the handler); else the handler's
 * call, which takes the remembered one when it is for this very argument. */
static const char *script_sha(const cmdarg *a, int evalsha, int from_flags)
{
    static char sha[41];
    if (evalsha) {
        for (int j = 0; j < 40; j++) sha[j] = (a->ptr[j] >= 'A' && a->ptr[j] <= 'Z') ? (char)(a->ptr[j] + 32) : a->ptr[j];
        sha[40] = 0;
        return sha;
    }
    if (from_flags) {
        sha1_hex(last_sha, a->ptr, a->len);
        last_body = a->ptr;
        last_len = a->len;
        last_valid = 1;
        return last_sha;
    }
    if (last_valid && last_body == a->ptr && last_len == a->len) {
        last_valid = 0;
        return last_sha;
    }
    last_valid = 0;
    sha1_hex(sha, a->ptr, a->len);
    return sha;
}

uint32_t eval_command_flags(client *c, uint32_t cmd_flags, int evalsha)
{
    if (c->argc < 2 || (evalsha && c->argv[1].len != 40)) return cmd_flags;
    const char *sha = script_sha(&c->argv[1], evalsha, 1);
    eval_script *s = script_find(sha);
    uint64_t sf;
    if (s) {
        sf = s->flags;
    } else {
        char err[8];
        if (evalsha || eval_shebang_flags(c->argv[1].ptr, c->argv[1].len, &sf, NULL, err, sizeof err) < 0)
            return cmd_flags;
    }
    if (sf & SCRIPT_FLAG_EVAL_COMPAT_MODE) return cmd_flags;
    return script_flags_to_cmd_flags(cmd_flags, sf);
}

/* ---------------------------------------------------------------- compiling */

/* Compiles body under sha (f_<sha> in the registry) and caches it. NULL with the error
 * replied to c (when c is not NULL). */
static eval_script *script_create(client *c, const char *body, size_t len, const char *sha)
{
    eval_script *s = script_find(sha);
    if (s) return s;
    uint64_t flags;
    size_t sl;
    char err[512];
    if (eval_shebang_flags(body, len, &flags, &sl, err, sizeof err) < 0) {
        if (c) reply_errorf(c, "ERR %s", err);
        return NULL;
    }
    /* the shebang line is skipped, its newline kept: line numbers stay the user's */
    if (luaL_loadbuffer(eval_L, body + sl, len - sl, "@user_script")) {
        if (c) {
            const char *m = lua_tostring(eval_L, -1);
            size_t ml = strlen(m);
            char *e = malloc(ml + 64);
            if (e) {
                snprintf(e, ml + 64, "ERR Error compiling script (new function): %s", m);
                reply_error(c, e);
                free(e);
            }
        }
        lua_pop(eval_L, 1);
        return NULL;
    }
    char fname[43] = "f_";
    memcpy(fname + 2, sha, 41);
    lua_setfield(eval_L, LUA_REGISTRYINDEX, fname);
    if (script_add(sha, body, len, flags) < 0) {
        lua_pushnil(eval_L);
        lua_setfield(eval_L, LUA_REGISTRYINDEX, fname);
        if (c) reply_error(c, "ERR out of memory");
        return NULL;
    }
    return script_find(sha);
}

/* ---------------------------------------------------------------- EVAL */

static void eval_generic(client *c, int evalsha, int ro)
{
    long long numkeys;
    if (!string2ll(c->argv[2].ptr, c->argv[2].len, &numkeys)) {
        reply_error(c, ERR_NOT_INT);
        return;
    }
    if (numkeys > c->argc - 3) {
        reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    } else if (numkeys < 0) {
        reply_error(c, "ERR Number of keys can't be negative");
        return;
    }
    char sha[41];
    memcpy(sha, script_sha(&c->argv[1], evalsha, 0), 41);
    char fname[43] = "f_";
    memcpy(fname + 2, sha, 41);
    lua_State *L = eval_L;
    script_lua_push_error_handler(L);
    lua_getfield(L, LUA_REGISTRYINDEX, fname);
    eval_script *s;
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        if (evalsha) {
            lua_pop(L, 1);
            reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        if (!(s = script_create(c, c->argv[1].ptr, c->argv[1].len, sha))) {
            lua_pop(L, 1);
            return;
        }
        lua_getfield(L, LUA_REGISTRYINDEX, fname);
    } else {
        s = script_find(sha);
    }
    script_run r;
    if (!s || script_prepare_run(&r, eval_client, c, s->sha, s->flags, ro) < 0) {
        lua_pop(L, 2);
        return;
    }
    r.flags |= SCRIPT_RUN_EVAL_MODE;
    script_lua_call(&r, L, SL_EVAL, c->argv + 3, (int)numkeys, c->argv + 3 + numkeys, c->argc - 3 - (int)numkeys);
    script_reset_run(&r);
}

void eval_command(client *c) { eval_generic(c, 0, 0); }
void eval_ro_command(client *c) { eval_generic(c, 0, 1); }

void evalsha_command(client *c)
{
    if (c->argv[1].len != 40) {
        reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    eval_generic(c, 1, 0);
}

void evalsha_ro_command(client *c)
{
    if (c->argv[1].len != 40) {
        reply_error(c, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    eval_generic(c, 1, 1);
}

/* ---------------------------------------------------------------- SCRIPT */

void script_exists_command(client *c)
{
    reply_array(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++)
        reply_int(c, c->argv[j].len == 40 && script_find(c->argv[j].ptr) ? 1 : 0);
}

void script_flush_command(client *c)
{
    if (!(c->argc == 2 || (c->argc == 3 && (!strcasecmp(c->argv[2].ptr, "sync") || !strcasecmp(c->argv[2].ptr, "async"))))) {
        reply_error(c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    /* a new interpreter and an empty cache (ASYNC frees the same way: it is quick) */
    lua_State *n = eval_state_new();
    if (!n) {
        reply_error(c, "ERR out of memory");
        return;
    }
    lua_close(eval_L);
    eval_L = n;
    scripts_free();
    reply_ok(c);
}

void script_load_command(client *c)
{
    char sha[41];
    sha1_hex(sha, c->argv[2].ptr, c->argv[2].len);
    eval_script *s = script_create(c, c->argv[2].ptr, c->argv[2].len, sha);
    if (!s) return;
    reply_bulk(c, s->sha, 40);
}

void script_kill_command(client *c) { script_kill(c, 1); }

void script_debug_command(client *c)
{
    if (!strcasecmp(c->argv[2].ptr, "no")) {
        reply_ok(c);
    } else if (!strcasecmp(c->argv[2].ptr, "yes") || !strcasecmp(c->argv[2].ptr, "sync")) {
        reply_error(c, "ERR SCRIPT DEBUG is not supported by Kevo (no Lua debugger)");
    } else {
        reply_error(c, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

void script_help_command(client *c)
{
    static const char *const lines[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof lines / sizeof lines[0];
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++) reply_simple(c, lines[i]);
}
