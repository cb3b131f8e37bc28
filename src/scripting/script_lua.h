/* script_lua.h - Redis's Lua API inside a sandboxed state (lua_sandbox.h): the redis table
 * (call, pcall, error_reply, status_reply, sha1hex, log, setresp, set_repl, ...), Redis's pcall
 * and math.random, the error handler, and running a script with the reply going to its caller
 * (script_lua.c in Redis; the value conversions are script_convert.h's). Main thread only. */
#ifndef KEVO_SCRIPT_LUA_H
#define KEVO_SCRIPT_LUA_H
#include <lua.h>

#include "client.h"
#include "script_convert.h"
#include "script_run.h"

#define SL_EVAL 1      /* the EVAL state: redis.breakpoint/debug/replicate_commands, KEYS/ARGV
                          globals, __redis__err__handler global */
#define SL_FUNCTION 2  /* the function engine's state: the handler lives in the registry */

/* Registers the API into the globals of an unsealed sandbox (before lua_sandbox_seal): the
 * redis table, Redis's pcall, math.random/randomseed, and the error handler (which also takes
 * debug away). */
void script_lua_register_api(lua_State *L, int kind);
/* Fills t (the table at idx) with redis.log, LOG_* and REDIS_VERSION(_NUM): the part of the API
 * a function library sees while it loads. */
void script_lua_register_log_and_version(lua_State *L, int idx);
/* Pushes the error handler (after sealing). */
void script_lua_push_error_handler(lua_State *L);
/* Calls the function on top of the stack (with the error handler under it) for run r, the
 * keys and args as KEYS/ARGV globals (kind SL_EVAL) or as the function's two table arguments
 * (SL_FUNCTION), and replies the result (or the error) to r->caller. Pops the function and the
 * handler. A count hook lets busy scripts be served (script_interrupt). */
void script_lua_call(script_run *r, lua_State *L, int kind, const cmdarg *keys, int nkeys, const cmdarg *args,
                     int nargs);
#endif
