/* script_lua.c - Redis's Lua API: the redis table, pcall, math.random, the error handler and
 * running a script (see script_lua.h; conversions: script_convert.c). */
#include "script_lua.h"

#include <lauxlib.h>
#include <lualib.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "config.h"
#include "log.h"
#include "lua_sandbox.h"
#include "script_convert.h"
#include "server.h"
#include "sha1.h"

#define SL_HOOK_EVERY 100000 /* Lua instructions between busy checks, as Redis */
#define SL_GC_PERIOD 50      /* a GC step every this many scripts, as Redis */

static char reg_handler; /* registry key of the error handler */

/* Redis reports 7.0.0's version as Kevo does in INFO */
#define SL_REDIS_VERSION KEVO_VERSION
#define SL_REDIS_VERSION_NUM 0x00070000

/* ---------------------------------------------------------------- redis.call */

/* The script client's arguments: copies of the Lua values (numbers as "%.17g"). */
static cmdarg *call_argv;
static int call_argv_cap;
static char *call_buf;
static size_t call_buf_cap;

/* Builds call_argv from the Lua arguments 1..argc; returns 0, or -1 when one is neither a
 * string nor a number. */
static int build_argv(lua_State *L, int argc)
{
    if (argc > call_argv_cap) {
        int cap = call_argv_cap ? call_argv_cap : 16;
        while (cap < argc) cap *= 2;
        cmdarg *n = realloc(call_argv, (size_t)cap * sizeof *n);
        if (!n) luaL_error(L, "not enough memory");
        call_argv = n;
        call_argv_cap = cap;
    }
    size_t total = 0;
    char nums[64];
    for (int j = 1; j <= argc; j++) {
        int t = lua_type(L, j);
        if (t == LUA_TNUMBER) total += (size_t)snprintf(nums, sizeof nums, "%.17g", (double)lua_tonumber(L, j)) + 1;
        else if (t == LUA_TSTRING) total += lua_objlen(L, j) + 1;
        else return -1;
    }
    if (total > call_buf_cap) {
        char *n = realloc(call_buf, total);
        if (!n) luaL_error(L, "not enough memory");
        call_buf = n;
        call_buf_cap = total;
    }
    char *p = call_buf;
    for (int j = 1; j <= argc; j++) {
        size_t len;
        if (lua_type(L, j) == LUA_TNUMBER) {
            len = (size_t)snprintf(p, 64, "%.17g", (double)lua_tonumber(L, j));
        } else {
            const char *s = lua_tolstring(L, j, &len);
            memcpy(p, s, len);
            p[len] = 0;
        }
        call_argv[j - 1].ptr = p;
        call_argv[j - 1].len = len;
        p += len + 1;
    }
    return 0;
}

static int call_inuse;

static int redis_generic_call(lua_State *L, int raise)
{
    script_run *r = script_current();
    if (!r) {
        script_lua_push_error(L, "redis.call/pcall can only be called inside a script invocation");
        return lua_error(L);
    }
    int argc = lua_gettop(L);
    if (argc == 0) {
        script_lua_push_error(L, "Please specify at least one argument for this redis lib call");
        return raise ? lua_error(L) : 1;
    }
    if (build_argv(L, argc) < 0) {
        lua_settop(L, 0);
        script_lua_push_error(L, "Lua redis lib command arguments must be strings or integers");
        return raise ? lua_error(L) : 1;
    }
    lua_settop(L, 0);
    if (call_inuse) {
        const char *w = "luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?";
        log_msg(LL_WARNING, "%s", w);
        script_lua_push_error(L, w);
        return 1;
    }
    call_inuse = 1;
    client *c = r->c;
    c->argc = argc;
    c->argv = call_argv;
    char err[512];
    if (script_call(r, err, sizeof err) < 0) {
        script_lua_push_counted_error(L, err);
    } else {
        size_t len;
        const char *reply = client_reply_contents(c, &len);
        if (!(len > 0 && reply[0] == '-')) raise = 0;
        script_resp_to_lua(L, reply, reply + len);
        client_reply_reset(c);
    }
    c->argc = 0;
    c->argv = NULL;
    call_inuse = 0;
    if (call_buf_cap > 1024 * 1024) { /* huge arguments: their copy is not kept */
        free(call_buf);
        call_buf = NULL;
        call_buf_cap = 0;
    }
    if (raise) return lua_error(L);
    return 1;
}

static int sl_redis_call(lua_State *L) { return redis_generic_call(L, 1); }
static int sl_redis_pcall(lua_State *L) { return redis_generic_call(L, 0); }

/* ---------------------------------------------------------------- the rest of the redis table */

static int sl_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1) {
        script_lua_push_error(L, "wrong number of arguments");
        return lua_error(L);
    }
    size_t len = 0;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    sha1_hex(hex, s ? s : "", s ? len : 0);
    lua_pushstring(L, hex);
    return 1;
}

static int sl_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_lua_push_error(L, "wrong number or type of arguments");
        return 1;
    }
    const char *e = lua_tostring(L, -1);
    if (e[0] == '-') {
        script_lua_push_error(L, e);
    } else {
        size_t n = strlen(e);
        char *b = malloc(n + 2);
        if (!b) return luaL_error(L, "not enough memory");
        b[0] = '-';
        memcpy(b + 1, e, n + 1);
        script_lua_push_error(L, b);
        free(b);
    }
    return 1;
}

static int sl_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_lua_push_error(L, "wrong number or type of arguments");
        return 1;
    }
    lua_newtable(L);
    lua_pushliteral(L, "ok");
    lua_pushvalue(L, -3);
    lua_settable(L, -3);
    return 1;
}

static int sl_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2) {
        script_lua_push_error(L, "redis.log() requires two arguments or more.");
        return lua_error(L);
    }
    if (!lua_isnumber(L, -argc)) {
        script_lua_push_error(L, "First argument must be a number (log level).");
        return lua_error(L);
    }
    int level = (int)lua_tonumber(L, -argc);
    if (level < LL_DEBUG || level > LL_WARNING) {
        script_lua_push_error(L, "Invalid debug level.");
        return lua_error(L);
    }
    if (level < log_get_level()) return 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int first = 1;
    for (int j = 2; j <= argc; j++) {
        size_t len;
        const char *s = lua_tolstring(L, j, &len);
        if (!s) continue;
        if (!first) luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, len);
        first = 0;
    }
    luaL_pushresult(&b);
    log_str(level, lua_tostring(L, -1));
    return 0;
}

static int sl_setresp(lua_State *L)
{
    script_run *r = script_current();
    if (!r) {
        script_lua_push_error(L, "redis.setresp can only be called inside a script invocation");
        return lua_error(L);
    }
    if (lua_gettop(L) != 1) {
        script_lua_push_error(L, "redis.setresp() requires one argument.");
        return lua_error(L);
    }
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3) {
        script_lua_push_error(L, "RESP version must be 2 or 3.");
        return lua_error(L);
    }
    r->c->resp = resp;
    return 0;
}

static int sl_set_repl(lua_State *L)
{
    if (!script_current()) {
        script_lua_push_error(L, "redis.set_repl can only be called inside a script invocation");
        return lua_error(L);
    }
    if (lua_gettop(L) != 1) {
        script_lua_push_error(L, "redis.set_repl() requires two arguments.");
        return lua_error(L);
    }
    int flags = (int)lua_tonumber(L, -1);
    if (flags & ~3) {
        script_lua_push_error(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
        return lua_error(L);
    }
    return 0; /* Kevo has no replication: accepted, nothing to change */
}

static int sl_acl_check_cmd(lua_State *L)
{
    if (!script_current()) {
        script_lua_push_error(L, "redis.acl_check_cmd can only be called inside a script invocation");
        return lua_error(L);
    }
    int argc = lua_gettop(L);
    if (argc == 0) {
        script_lua_push_error(L, "Please specify at least one argument for this redis lib call");
        return lua_error(L);
    }
    if (build_argv(L, argc) < 0) {
        script_lua_push_error(L, "Lua redis lib command arguments must be strings or integers");
        return lua_error(L);
    }
    const struct command *cmd = command_lookup(call_argv[0].ptr, call_argv[0].len);
    if (cmd && !cmd->proc && cmd->subcommands && argc >= 2)
        cmd = command_lookup_sub(cmd, call_argv[1].ptr, call_argv[1].len);
    if (!cmd) {
        script_lua_push_error(L, "Invalid command passed to redis.acl_check_cmd()");
        return lua_error(L);
    }
    lua_pushboolean(L, 1); /* one user, every permission (no ACLs) */
    return 1;
}

static int sl_replicate_commands(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int sl_breakpoint(lua_State *L)
{
    lua_pushboolean(L, 0); /* no debugger session */
    return 1;
}

static int sl_debug(lua_State *L)
{
    (void)L;
    return 0;
}

/* Redis's pcall: an error table raised by redis.call comes back as its message string. */
static int sl_pcall(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc == 0) { /* Redis's version ends up calling its own placeholder */
        lua_pushboolean(L, 0);
        lua_pushliteral(L, "attempt to call a boolean value");
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0)) {
        lua_remove(L, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1)) lua_replace(L, -2);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, 1);
    }
    return lua_gettop(L);
}

/* ---------------------------------------------------------------- math.random */

/* The 48-bit linear congruential generator of Redis's rand.c (drand48's constants), so a
 * script seeding math.randomseed gets Redis's sequence. The state is global, as in Redis. */
static uint64_t rand48_state = 0x1234ABCD330EULL;
#define RAND48_MAX 2147483647

static int32_t rand48_next(void)
{
    rand48_state = (rand48_state * 0x5DEECE66DULL + 0xB) & 0xFFFFFFFFFFFFULL;
    return (int32_t)(rand48_state >> 17);
}

static int sl_math_random(lua_State *L)
{
    if (!script_current()) return luaL_error(L, "math.random can only be called inside a script invocation");
    lua_Number r = (lua_Number)(rand48_next() % RAND48_MAX) / (lua_Number)RAND48_MAX;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1);
        int u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int sl_math_randomseed(lua_State *L)
{
    if (!script_current()) return luaL_error(L, "math.randomseed can only be called inside a script invocation");
    uint32_t seed = (uint32_t)luaL_checkint(L, 1);
    rand48_state = ((uint64_t)seed << 16) | 0x330E;
    return 0;
}

/* ---------------------------------------------------------------- registration */

static void set_fn(lua_State *L, const char *name, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
}

static void set_num(lua_State *L, const char *name, lua_Number n)
{
    lua_pushnumber(L, n);
    lua_setfield(L, -2, name);
}

void script_lua_register_log_and_version(lua_State *L, int idx)
{
    lua_pushvalue(L, idx);
    set_fn(L, "log", sl_log);
    set_num(L, "LOG_DEBUG", LL_DEBUG);
    set_num(L, "LOG_VERBOSE", LL_VERBOSE);
    set_num(L, "LOG_NOTICE", LL_NOTICE);
    set_num(L, "LOG_WARNING", LL_WARNING);
    set_num(L, "REDIS_VERSION_NUM", SL_REDIS_VERSION_NUM);
    lua_pushstring(L, SL_REDIS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    lua_pop(L, 1);
}

/* The error handler: adds the position of the failing Lua code to the error table (Redis's
 * __redis__err__handler); it keeps the debug library to itself. Its statements sit on the same
 * lines as in Redis's chunk "@err_handler_def": an error inside the handler itself (err is a
 * read-only table) names the same line. */
static const char ERR_HANDLER_SRC[] =
    "local dbg = debug\n"
    "debug = nil\n"
    "return function(err)\n"
    "  local i = dbg.getinfo(2, 'nSl')\n"
    "  if i and i.what == 'C' then\n"
    "    i = dbg.getinfo(3, 'nSl')\n"
    "  end\n"
    "  if type(err) ~= 'table' then\n"
    "    err = {err = 'ERR ' .. tostring(err)} end if i then\n"
    "    err['source'] = i.source\n"
    "    err['line'] = i.currentline\n"
    "  end return err\n"
    "end\n";

void script_lua_register_api(lua_State *L, int kind)
{
    lua_pushcfunction(L, sl_pcall);
    lua_setglobal(L, "pcall");
    lua_newtable(L);
    set_fn(L, "call", sl_redis_call);
    set_fn(L, "pcall", sl_redis_pcall);
    script_lua_register_log_and_version(L, lua_gettop(L));
    set_fn(L, "setresp", sl_setresp);
    set_fn(L, "sha1hex", sl_sha1hex);
    set_fn(L, "error_reply", sl_error_reply);
    set_fn(L, "status_reply", sl_status_reply);
    set_fn(L, "set_repl", sl_set_repl);
    set_num(L, "REPL_NONE", 0);
    set_num(L, "REPL_AOF", 1);
    set_num(L, "REPL_SLAVE", 2);
    set_num(L, "REPL_REPLICA", 2);
    set_num(L, "REPL_ALL", 3);
    set_fn(L, "acl_check_cmd", sl_acl_check_cmd);
    if (kind == SL_EVAL) {
        set_fn(L, "breakpoint", sl_breakpoint);
        set_fn(L, "debug", sl_debug);
        set_fn(L, "replicate_commands", sl_replicate_commands);
    }
    lua_setglobal(L, "redis");
    lua_getglobal(L, LUA_MATHLIBNAME);
    set_fn(L, "random", sl_math_random);
    set_fn(L, "randomseed", sl_math_randomseed);
    lua_pop(L, 1);
    /* the error handler */
    if (luaL_loadbuffer(L, ERR_HANDLER_SRC, sizeof ERR_HANDLER_SRC - 1, "@err_handler_def") || lua_pcall(L, 0, 1, 0)) {
        log_msg(LL_WARNING, "Lua error handler: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    lua_pushlightuserdata(L, &reg_handler);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    if (kind == SL_EVAL) lua_setglobal(L, "__redis__err__handler");
    else lua_pop(L, 1);
}

void script_lua_push_error_handler(lua_State *L)
{
    lua_pushlightuserdata(L, &reg_handler);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* ---------------------------------------------------------------- running */

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    script_run *r = script_current();
    if (r && script_interrupt(r) == SCRIPT_KILL) {
        log_msg(LL_WARNING, "Lua script killed by user with SCRIPT KILL.");
        /* every line from now on: a pcall in the script cannot swallow the kill */
        lua_sethook(L, count_hook, LUA_MASKLINE, 0);
        script_lua_push_error(L, "Script killed by user with SCRIPT KILL...");
        lua_error(L);
    }
}

static void push_array(lua_State *L, const cmdarg *a, int n)
{
    lua_createtable(L, n, 0);
    for (int j = 0; j < n; j++) {
        lua_pushlstring(L, a[j].ptr, a[j].len);
        lua_rawseti(L, -2, j + 1);
    }
}

void script_lua_call(script_run *r, lua_State *L, int kind, const cmdarg *keys, int nkeys, const cmdarg *args,
                     int nargs)
{
    client *c = r->caller;
    int delhook = 0;
    if (config.busy_reply_threshold > 0) {
        lua_sethook(L, count_hook, LUA_MASKCOUNT, SL_HOOK_EVERY);
        delhook = 1;
    }
    int err;
    if (kind == SL_EVAL) {
        lua_sandbox_push_g0(L);
        push_array(L, keys, nkeys);
        lua_setfield(L, -2, "KEYS"); /* G0 has no __newindex: a raw set */
        push_array(L, args, nargs);
        lua_setfield(L, -2, "ARGV");
        lua_pop(L, 1);
        err = lua_pcall(L, 0, 1, -2);
    } else {
        push_array(L, keys, nkeys);
        push_array(L, args, nargs);
        err = lua_pcall(L, 2, 1, -4);
    }
    static long gc_count;
    if (++gc_count == SL_GC_PERIOD) {
        lua_gc(L, LUA_GCSTEP, SL_GC_PERIOD);
        gc_count = 0;
    }
    if (err) {
        if (!lua_istable(L, -1)) {
            const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
            reply_errorf(c, "ERR Error running script %s, %.100s\n", r->funcname, msg);
        } else {
            const char *msg = NULL, *source = NULL, *line = NULL;
            int nostats = 0;
            int t = lua_gettop(L);
            lua_getfield(L, t, "err");
            if (lua_isstring(L, -1)) msg = lua_tostring(L, -1);
            lua_getfield(L, t, "source");
            if (lua_isstring(L, -1)) source = lua_tostring(L, -1);
            lua_getfield(L, t, "line");
            if (lua_isstring(L, -1)) line = lua_tostring(L, -1);
            lua_getfield(L, t, "ignore_error_stats_update");
            if (lua_isboolean(L, -1)) nostats = lua_toboolean(L, -1);
            if (!msg) msg = "ERR unknown error";
            size_t cap = strlen(msg) + strlen(r->funcname) + (source ? strlen(source) : 0) + (line ? strlen(line) : 0) + 32;
            char *e = malloc(cap);
            if (e) {
                if (line && source) snprintf(e, cap, "-%s script: %s, on %s:%s.", msg, r->funcname, source, line);
                else snprintf(e, cap, "-%s", msg);
                if (nostats) reply_error_nostats(c, e);
                else reply_error(c, e);
                free(e);
            }
            lua_settop(L, t);
        }
        lua_pop(L, 1); /* the error */
    } else {
        script_lua_reply(c, r->c->resp, L);
    }
    lua_pop(L, 1); /* the handler */
    if (delhook) lua_sethook(L, NULL, 0, 0);
}
