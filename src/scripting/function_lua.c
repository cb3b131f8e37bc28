/* function_lua.c - the Lua engine of functions (Redis's function_lua.c semantics): one sandboxed
 * state whose globals are the load-time API while a library loads ({redis = {register_function,
 * log, LOG_*, REDIS_VERSION, REDIS_VERSION_NUM}}, nothing else) and the full script API while
 * its functions run (without KEYS/ARGV globals: they are the function's arguments). */
#include "functions.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "lua_sandbox.h"
#include "script_lua.h"

#define FN_HOOK_EVERY 100000

static lua_State *fL;
static client *fn_client;
static int lib_api_ref = LUA_NOREF; /* the load-time globals */
static int g0_ref = LUA_NOREF;      /* the run-time globals */
static fn_library *loading;         /* the library whose code is running (register_function) */
static uint64_t load_start_us;
static long long load_timeout_ms;

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (load_timeout_ms > 0 && (long long)((mono_us() - load_start_us) / 1000) > load_timeout_ms) {
        lua_sethook(L, load_hook, LUA_MASKLINE, 0);
        script_lua_push_error(L, "FUNCTION LOAD timeout");
        lua_error(L);
    }
}

/* The string at idx as a malloc'ed copy, or NULL when it is not a string (numbers count). */
static char *dup_string(lua_State *L, int idx)
{
    if (!lua_isstring(L, idx)) return NULL;
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = 0;
    }
    return d;
}

/* flags = {'no-writes', ...} on top of the stack: 0 with *flags, -1 on an unknown flag. */
static int read_flags(lua_State *L, uint64_t *flags)
{
    uint64_t f = 0;
    for (int j = 1;; j++) {
        lua_pushnumber(L, j);
        lua_gettable(L, -2);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            return -1;
        }
        const char *s = lua_tostring(L, -1);
        const script_flag_def *d;
        for (d = script_flag_defs; d->name; d++)
            if (!strcasecmp(d->name, s)) break;
        lua_pop(L, 1);
        if (!d->name) return -1;
        f |= d->flag;
    }
    *flags = f;
    return 0;
}

static int register_fail(lua_State *L, char *name, char *desc, int ref, const char *err)
{
    free(name);
    free(desc);
    if (ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, ref);
    script_lua_push_error(L, err);
    return lua_error(L);
}

/* redis.register_function(name, callback) or redis.register_function{function_name=...,
 * callback=..., flags={...}, description=...} */
static int fn_register(lua_State *L)
{
    if (!loading) {
        script_lua_push_error(L, "redis.register_function can only be called on FUNCTION LOAD command");
        return lua_error(L);
    }
    int argc = lua_gettop(L);
    if (argc < 1 || argc > 2) return register_fail(L, NULL, NULL, LUA_NOREF, "wrong number of arguments to redis.register_function");
    char *name = NULL, *desc = NULL;
    int ref = LUA_NOREF;
    uint64_t flags = 0;
    if (argc == 2) {
        if (!(name = dup_string(L, 1)))
            return register_fail(L, name, desc, ref, "first argument to redis.register_function must be a string");
        if (!lua_isfunction(L, 2))
            return register_fail(L, name, desc, ref, "second argument to redis.register_function must be a function");
        ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        if (!lua_istable(L, 1))
            return register_fail(L, name, desc, ref,
                                 "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (!lua_isstring(L, -2))
                return register_fail(L, name, desc, ref, "named argument key given to redis.register_function is not a string");
            const char *key = lua_tostring(L, -2);
            if (!strcasecmp(key, "function_name")) {
                free(name);
                if (!(name = dup_string(L, -1)))
                    return register_fail(L, name, desc, ref, "function_name argument given to redis.register_function must be a string");
            } else if (!strcasecmp(key, "description")) {
                free(desc);
                if (!(desc = dup_string(L, -1)))
                    return register_fail(L, name, desc, ref, "description argument given to redis.register_function must be a string");
            } else if (!strcasecmp(key, "callback")) {
                if (!lua_isfunction(L, -1))
                    return register_fail(L, name, desc, ref, "callback argument given to redis.register_function must be a function");
                if (ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, ref);
                ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the value */
                continue;
            } else if (!strcasecmp(key, "flags")) {
                if (!lua_istable(L, -1))
                    return register_fail(L, name, desc, ref, "flags argument to redis.register_function must be a table representing function flags");
                if (read_flags(L, &flags) < 0) return register_fail(L, name, desc, ref, "unknown flag given");
            } else {
                return register_fail(L, name, desc, ref, "unknown argument given to redis.register_function");
            }
            lua_pop(L, 1);
        }
        if (!name) return register_fail(L, name, desc, ref, "redis.register_function must get a function name argument");
        if (ref == LUA_NOREF) return register_fail(L, name, desc, ref, "redis.register_function must get a callback argument");
    }
    char err[256];
    if (functions_lib_add(loading, name, ref, desc, flags, err, sizeof err) < 0) return register_fail(L, name, desc, ref, err);
    return 0;
}

int fnlua_init(void)
{
    fL = lua_sandbox_new();
    if (!fn_client) fn_client = client_create_script();
    if (!fL || !fn_client) {
        log_msg(LL_WARNING, "Creating the Lua function engine failed: out of memory");
        return -1;
    }
    script_lua_register_api(fL, SL_FUNCTION);
    lua_sandbox_seal(fL);
    lua_sandbox_push_g0(fL);
    g0_ref = luaL_ref(fL, LUA_REGISTRYINDEX);
    /* the load-time globals: {redis = <read-only {register_function, log, ...}>} */
    lua_newtable(fL);
    lua_newtable(fL);
    lua_pushcfunction(fL, fn_register);
    lua_setfield(fL, -2, "register_function");
    script_lua_register_log_and_version(fL, lua_gettop(fL));
    lua_sandbox_set_error_metatable(fL, -1);
    lua_sandbox_push_proxy(fL, -1);
    lua_remove(fL, -2);
    lua_setfield(fL, -2, "redis");
    lua_sandbox_set_error_metatable(fL, -1);
    lib_api_ref = luaL_ref(fL, LUA_REGISTRYINDEX);
    return 0;
}

static void set_view(int ref)
{
    lua_rawgeti(fL, LUA_REGISTRYINDEX, ref);
    lua_sandbox_set_globals_view(fL, -1);
    lua_pop(fL, 1);
}

int fnlua_create(fn_library *lib, const char *code, size_t len, long long timeout_ms, char *err, size_t errlen)
{
    int ret = -1;
    set_view(lib_api_ref);
    if (luaL_loadbuffer(fL, code, len, "@user_function")) {
        snprintf(err, errlen, "Error compiling function: %s", lua_tostring(fL, -1));
        lua_pop(fL, 1);
        goto done;
    }
    loading = lib;
    load_start_us = mono_us();
    load_timeout_ms = timeout_ms;
    lua_sethook(fL, load_hook, LUA_MASKCOUNT, FN_HOOK_EVERY);
    if (lua_pcall(fL, 0, 0, 0)) {
        char msg[1024];
        script_lua_error_message(fL, -1, msg, sizeof msg);
        snprintf(err, errlen, "Error registering functions: %s", msg);
        lua_pop(fL, 1);
        goto done;
    }
    ret = 0;
done:
    set_view(g0_ref);
    lua_sethook(fL, NULL, 0, 0);
    loading = NULL;
    return ret;
}

void fnlua_call(script_run *r, fn_function *f, const cmdarg *keys, int nkeys, const cmdarg *args, int nargs)
{
    script_lua_push_error_handler(fL);
    lua_rawgeti(fL, LUA_REGISTRYINDEX, f->ref);
    script_lua_call(r, fL, SL_FUNCTION, keys, nkeys, args, nargs);
}

void fnlua_release(fn_function *f)
{
    if (fL && f->ref != LUA_NOREF) luaL_unref(fL, LUA_REGISTRYINDEX, f->ref);
    f->ref = LUA_NOREF;
}

size_t fnlua_memory(void) { return fL ? (size_t)lua_gc(fL, LUA_GCCOUNT, 0) * 1024 : 0; }
client *fnlua_client(void) { return fn_client; }
