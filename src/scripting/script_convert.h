/* script_convert.h - Lua values <-> RESP, with Redis 7.0's rules (script_lua.c in Redis):
 *   reply -> Lua (what redis.call returns): integer -> number, bulk -> string, null bulk or
 *     null array -> false (RESP3 null -> nil), status -> {ok=s}, error -> {err="CODE msg"},
 *     RESP3 map -> {map={...}}, set -> {set={k=true}}, double -> {double=d}, boolean, big
 *     number -> {big_number=s}, verbatim -> {verbatim_string={format=, string=}}, attributes
 *     skipped;
 *   Lua -> reply (what a script returns): string -> bulk, number -> integer (truncated), true ->
 *     1 (RESP3 script: #t), false/nil -> null, tables -> {err=} error, {ok=} status, {double=},
 *     {big_number=}, {verbatim_string=}, {map=}, {set=}, else an array up to the first nil.
 * Main thread only. */
#ifndef KEVO_SCRIPT_CONVERT_H
#define KEVO_SCRIPT_CONVERT_H
#include <lua.h>
#include <stddef.h>

#include "client.h"

/* Pushes the Lua value of the RESP reply at [p, end) (a reply Kevo itself produced); returns
 * the position after it. Raises a Lua error when the Lua stack cannot grow. */
const char *script_resp_to_lua(lua_State *L, const char *p, const char *end);
/* Replies the value on top of the stack to c and pops it; script_resp is the protocol the
 * script chose with redis.setresp (it decides how booleans go out). Recursion is bounded by
 * the Lua stack ("reached lua stack limit", as Redis). */
void script_lua_reply(client *c, int script_resp, lua_State *L);
/* Pushes Redis's error table {err = "CODE msg"} for err in Redis's forms "-CODE msg" or "msg"
 * (code ERR), trimmed of CR/LF at both ends (luaPushErrorBuff). */
void script_lua_push_error(lua_State *L, const char *err);
/* The same, marked as already counted in the error stats (ignore_error_stats_update). */
void script_lua_push_counted_error(lua_State *L, const char *err);
/* The "err" message of an error value at idx as Redis's luaExtractErrorInformation sees it,
 * into buf ("ERR <string>" for a string, the err field for a table, "" when neither). */
void script_lua_error_message(lua_State *L, int idx, char *buf, size_t cap);
#endif
