/* lua_sandbox.h - a Lua 5.1 state with Redis 7.0's script sandbox, built on the stock
 * interpreter (Debian's liblua5.1), which has no read-only tables of its own.
 *
 * Libraries: base (without dofile, loadfile, print, getfenv, setfenv, newproxy), table, string,
 * math, cjson, bit, struct, cmsgpack; debug only until lua_sandbox_seal. No io, os, package.
 *
 * Read-only tables are emulated with proxies: a proxy is an empty table whose metatable sends
 * reads to the real table and assignments to an error. Sealing
 *   - replaces every library table reachable from the globals (and the globals themselves) by
 *     a proxy; the real globals table ("G0") is reachable only through the proxy's metatable;
 *   - makes the proxy of the globals the state's global table (LUA_GLOBALSINDEX), so every chunk
 *     loaded afterwards, and every coroutine, sees only the proxy;
 *   - sets a metatable on G0 whose __index raises "Script attempted to access nonexistent global
 *     variable 'x'", as Redis does for a missing global.
 * Assignments from Lua code raise "<chunk>:<line>: Attempt to modify a readonly table" (the
 * position of the assignment, as Redis's VM check). The builtins that could bypass a metatable
 * are replaced by proxy-aware versions: rawset, setmetatable and table.insert raise "Attempt to
 * modify a readonly table" (no position, as Redis's C API check); rawget, next and pairs see
 * through a proxy; getmetatable returns read-only views (strings' metatable included), never a
 * proxy's own metatable. loadstring/load refuse precompiled chunks the way Redis's patched
 * parser does (the chunk is parsed as text: "unexpected symbol near 'char(27)'").
 * Known differences from Redis's VM-level flag: '#' and ipairs on a library table see nothing
 * (Redis's library tables have no array part either), and table.sort / table.concat /
 * table.foreach on a library table see an empty table.
 *
 * Main thread only; a state is used by one subsystem (EVAL, or the function engine). */
#ifndef KEVO_LUA_SANDBOX_H
#define KEVO_LUA_SANDBOX_H
#include <lua.h>

/* A new state with the libraries above loaded into its (still writable) globals, and the
 * proxy-aware builtins installed. NULL when out of memory. */
lua_State *lua_sandbox_new(void);
/* Pushes a read-only proxy of the table at idx (registered, so the builtins recognise it). */
void lua_sandbox_push_proxy(lua_State *L, int idx);
/* 1 when the value at idx is a proxy made by this module. */
int lua_sandbox_is_proxy(lua_State *L, int idx);
/* Pushes a new table whose metatable raises the nonexistent-global error for any missing key
 * (Redis's luaSetErrorMetatable) - the caller fills it, then usually proxies it. */
void lua_sandbox_set_error_metatable(lua_State *L, int idx);
/* Seals the state (see above). The globals at this point become G0. Call once. */
void lua_sandbox_seal(lua_State *L);
/* After sealing: pushes G0 (the hidden real globals; its contents are what scripts read). */
void lua_sandbox_push_g0(lua_State *L);
/* After sealing: the table at idx becomes what global reads resolve to (the function engine
 * switches between the library-load API and G0); idx must have the error metatable set. */
void lua_sandbox_set_globals_view(lua_State *L, int idx);
/* Raises Redis's plain read-only error ("Attempt to modify a readonly table", no position). */
int lua_sandbox_readonly_error(lua_State *L);
#endif
