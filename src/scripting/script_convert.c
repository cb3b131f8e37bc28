/* script_convert.c - the conversions between RESP replies and Lua values, with Redis 7.0's
 * rules (see script_convert.h), and Redis's error tables. */
#include "script_convert.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

void script_lua_push_error(lua_State *L, const char *err)
{
    const char *code = "ERR", *msg = err;
    size_t codelen = 3;
    if (err[0] == '-') {
        const char *sp = strchr(err, ' ');
        if (!sp) {
            msg = err + 1;
        } else {
            code = err + 1;
            codelen = (size_t)(sp - err - 1);
            msg = sp + 1;
        }
    }
    size_t ml = strlen(msg);
    while (ml && (*msg == '\r' || *msg == '\n')) msg++, ml--;
    while (ml && (msg[ml - 1] == '\r' || msg[ml - 1] == '\n')) ml--;
    lua_newtable(L);
    lua_pushliteral(L, "err");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, codelen);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, ml);
    luaL_pushresult(&b);
    lua_settable(L, -3);
}

/* Pushes the error table for a command's error reply ("-..." bytes, no CRLF needed) marked as
 * already counted in the error stats. */
void script_lua_push_counted_error(lua_State *L, const char *err)
{
    script_lua_push_error(L, err);
    lua_pushliteral(L, "ignore_error_stats_update");
    lua_pushboolean(L, 1);
    lua_settable(L, -3);
}

void script_lua_error_message(lua_State *L, int idx, char *buf, size_t cap)
{
    buf[0] = 0;
    if (lua_isstring(L, idx)) {
        snprintf(buf, cap, "ERR %s", lua_tostring(L, idx));
        return;
    }
    if (!lua_istable(L, idx)) return;
    lua_getfield(L, idx, "err");
    if (lua_isstring(L, -1)) snprintf(buf, cap, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* ---------------------------------------------------------------- RESP -> Lua */

/* Reads "<n>\r\n" at *p; returns n (no sanity checks needed: the bytes are our own reply). */
static long long resp_len(const char **p, const char *end)
{
    const char *s = *p;
    int neg = 0;
    long long v = 0;
    if (s < end && *s == '-') neg = 1, s++;
    while (s < end && *s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    while (s < end && *s != '\n') s++;
    *p = s < end ? s + 1 : end;
    return neg ? -v : v;
}

/* The line at *p up to CRLF: returns its start, *len set, *p past the CRLF. */
static const char *resp_line(const char **p, const char *end, size_t *len)
{
    const char *s = *p, *e = s;
    while (e < end && *e != '\r') e++;
    *len = (size_t)(e - s);
    *p = e + 2 <= end ? e + 2 : end;
    return s;
}

static const char *resp_to_lua(lua_State *L, const char *p, const char *end, int push);


/* The error table of an error reply line (s, len: after the '-'). Out of line: resp_to_lua
 * recurses. */
__attribute__((noinline)) static void push_reply_error(lua_State *L, const char *s, size_t len)
{
    char stackbuf[512];
    char *e = len + 2 <= sizeof stackbuf ? stackbuf : malloc(len + 2);
    if (!e) luaL_error(L, "not enough memory");
    e[0] = '-';
    memcpy(e + 1, s, len);
    e[len + 1] = 0;
    script_lua_push_counted_error(L, e);
    if (e != stackbuf) free(e);
}

__attribute__((noinline)) static void push_reply_double(lua_State *L, const char *s, size_t len)
{
    char num[128];
    size_t l = len < sizeof num - 1 ? len : sizeof num - 1;
    memcpy(num, s, l);
    num[l] = 0;
    lua_newtable(L);
    lua_pushliteral(L, "double");
    lua_pushnumber(L, strtod(num, NULL));
    lua_settable(L, -3);
}

static void need_stack(lua_State *L, int n)
{
    if (!lua_checkstack(L, n)) luaL_error(L, "reached lua stack limit");
}

/* Converts one reply element at p into a Lua value (Redis's redisProtocolToLuaType); when push
 * is 0 the element is skipped (attributes). Returns the position after it. */
static const char *resp_to_lua(lua_State *L, const char *p, const char *end, int push)
{
    if (p >= end) {
        if (push) lua_pushnil(L);
        return end;
    }
    char t = *p++;
    size_t len;
    const char *s;
    if (push) need_stack(L, 5);
    switch (t) {
    case '+':
        s = resp_line(&p, end, &len);
        if (push) {
            lua_newtable(L);
            lua_pushliteral(L, "ok");
            lua_pushlstring(L, s, len);
            lua_settable(L, -3);
        }
        return p;
    case '-':
        s = resp_line(&p, end, &len);
        if (push) push_reply_error(L, s, len);
        return p;
    case ':': {
        long long v = resp_len(&p, end);
        if (push) lua_pushnumber(L, (lua_Number)v);
        return p;
    }
    case '$': {
        long long n = resp_len(&p, end);
        if (n < 0) {
            if (push) lua_pushboolean(L, 0);
            return p;
        }
        if ((size_t)(end - p) < (size_t)n) n = end - p;
        if (push) lua_pushlstring(L, p, (size_t)n);
        p += n;
        return p + 2 <= end ? p + 2 : end;
    }
    case '*': {
        long long n = resp_len(&p, end);
        if (n < 0) {
            if (push) lua_pushboolean(L, 0);
            return p;
        }
        if (push) lua_newtable(L);
        for (long long j = 0; j < n; j++) {
            if (push) lua_pushnumber(L, (lua_Number)(j + 1));
            p = resp_to_lua(L, p, end, push);
            if (push) lua_settable(L, -3);
        }
        return p;
    }
    case '%': {
        long long n = resp_len(&p, end);
        if (push) {
            lua_newtable(L);
            lua_pushliteral(L, "map");
            lua_newtable(L);
        }
        for (long long j = 0; j < n; j++) {
            p = resp_to_lua(L, p, end, push);
            p = resp_to_lua(L, p, end, push);
            if (push) lua_settable(L, -3);
        }
        if (push) lua_settable(L, -3);
        return p;
    }
    case '~': {
        long long n = resp_len(&p, end);
        if (push) {
            lua_newtable(L);
            lua_pushliteral(L, "set");
            lua_newtable(L);
        }
        for (long long j = 0; j < n; j++) {
            p = resp_to_lua(L, p, end, push);
            if (push) {
                need_stack(L, 1);
                lua_pushboolean(L, 1);
                lua_settable(L, -3);
            }
        }
        if (push) lua_settable(L, -3);
        return p;
    }
    case '|': { /* attributes are not shown to scripts: skip them, then the value itself */
        long long n = resp_len(&p, end);
        for (long long j = 0; j < n; j++) {
            p = resp_to_lua(L, p, end, 0);
            p = resp_to_lua(L, p, end, 0);
        }
        return resp_to_lua(L, p, end, push);
    }
    case '_':
        resp_line(&p, end, &len);
        if (push) lua_pushnil(L);
        return p;
    case '#':
        s = resp_line(&p, end, &len);
        if (push) lua_pushboolean(L, len > 0 && s[0] == 't');
        return p;
    case ',':
        s = resp_line(&p, end, &len);
        if (push) push_reply_double(L, s, len);
        return p;
    case '(':
        s = resp_line(&p, end, &len);
        if (push) {
            lua_newtable(L);
            lua_pushliteral(L, "big_number");
            lua_pushlstring(L, s, len);
            lua_settable(L, -3);
        }
        return p;
    case '=': {
        long long n = resp_len(&p, end);
        if ((size_t)(end - p) < (size_t)n) n = end - p;
        if (push) {
            lua_newtable(L);
            lua_pushliteral(L, "verbatim_string");
            lua_newtable(L);
            lua_pushliteral(L, "string");
            lua_pushlstring(L, n >= 4 ? p + 4 : p, n >= 4 ? (size_t)n - 4 : 0);
            lua_settable(L, -3);
            lua_pushliteral(L, "format");
            lua_pushlstring(L, p, n >= 3 ? 3 : (size_t)n);
            lua_settable(L, -3);
            lua_settable(L, -3);
        }
        p += n;
        return p + 2 <= end ? p + 2 : end;
    }
    default:
        if (push) lua_pushnil(L);
        return end;
    }
}

/* ---------------------------------------------------------------- Lua -> RESP */

/* (long long) of a Lua number with the x86-64 result for values out of range (Redis casts). */
static long long number_to_ll(lua_Number d)
{
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) return (long long)d;
    return LLONG_MIN;
}

/* Replies the error table on top of the stack ({err = "CODE msg"}) and pops it. */
__attribute__((noinline)) static void error_reply_from_table(client *c, lua_State *L)
{
    const char *msg = NULL;
    int nostats = 0;
    int t = lua_gettop(L);
    lua_getfield(L, t, "err");
    if (lua_isstring(L, -1)) msg = lua_tostring(L, -1);
    lua_getfield(L, t, "ignore_error_stats_update");
    if (lua_isboolean(L, -1)) nostats = lua_toboolean(L, -1);
    size_t ml = msg ? strlen(msg) : 0;
    char stackbuf[512];
    char *e = ml + 2 <= sizeof stackbuf ? stackbuf : malloc(ml + 2);
    if (e) {
        e[0] = '-';
        memcpy(e + 1, msg ? msg : "", ml);
        e[ml + 1] = 0;
        if (nostats) reply_error_nostats(c, e);
        else reply_error(c, e);
        if (e != stackbuf) free(e);
    }
    lua_settop(L, t - 1);
}

/* Status reply of s: one line (CR/LF become spaces), ending at a NUL as Redis's copy. Out of
 * line: script_lua_reply recurses as deep as the Lua stack allows, its frame must stay small. */
__attribute__((noinline)) static void reply_status_line(client *c, const char *s)
{
    size_t n = strlen(s);
    char stackbuf[256];
    char *o = n + 1 <= sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!o) return;
    for (size_t i = 0; i < n; i++) o[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    o[n] = 0;
    reply_simple(c, o);
    if (o != stackbuf) free(o);
}

/* Replies the value on top of the stack to c and pops it (Redis's luaReplyToRedisReply);
 * script_resp is the RESP version the script chose (redis.setresp) for booleans. */
void script_lua_reply(client *c, int script_resp, lua_State *L)
{
    if (!lua_checkstack(L, 4)) {
        reply_error(c, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    int t = lua_type(L, -1);
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        reply_bulk(c, s, len);
        break;
    }
    case LUA_TBOOLEAN:
        if (script_resp == 2) {
            if (lua_toboolean(L, -1)) reply_int(c, 1);
            else reply_null(c);
        } else {
            reply_bool(c, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        reply_int(c, number_to_ll(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE: {
        lua_pushliteral(L, "err");
        lua_rawget(L, -2);
        t = lua_type(L, -1);
        lua_pop(L, 1);
        if (t == LUA_TSTRING) {
            error_reply_from_table(c, L);
            return; /* popped */
        }
        lua_pushliteral(L, "ok");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            reply_status_line(c, lua_tostring(L, -1));
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "double");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            reply_double(c, lua_tonumber(L, -1));
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "big_number");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            char *o = malloc(n + 1);
            if (o) {
                for (size_t i = 0; i < n; i++) o[i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
                reply_bignum(c, o, n);
                free(o);
            }
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "verbatim_string");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushliteral(L, "format");
            lua_rawget(L, -2);
            if (lua_type(L, -1) == LUA_TSTRING) {
                const char *f = lua_tostring(L, -1);
                lua_pushliteral(L, "string");
                lua_rawget(L, -3);
                if (lua_type(L, -1) == LUA_TSTRING) {
                    size_t n;
                    const char *s = lua_tolstring(L, -1, &n);
                    char fmt[4];
                    for (int i = 0; i < 3; i++) fmt[i] = *f ? *f++ : ' '; /* short formats: spaces */
                    fmt[3] = 0;
                    reply_verbatim(c, s, n, fmt);
                    lua_pop(L, 4);
                    return;
                }
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "map");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            long n = 0;
            void *h = reply_defer_len(c);
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pushvalue(L, -2);
                script_lua_reply(c, script_resp, L); /* key */
                script_lua_reply(c, script_resp, L); /* value */
                n++;
            }
            reply_set_deferred_map(c, h, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        lua_pushliteral(L, "set");
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TTABLE) {
            long n = 0;
            void *h = reply_defer_len(c);
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                script_lua_reply(c, script_resp, L);
                n++;
            }
            reply_set_deferred_set(c, h, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
        /* an array: up to the first nil */
        void *h = reply_defer_len(c);
        long n = 0;
        for (int j = 1;; j++) {
            lua_pushnumber(L, j);
            lua_rawget(L, -2);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            script_lua_reply(c, script_resp, L);
            n++;
        }
        reply_set_deferred_array(c, h, n);
        break;
    }
    default:
        reply_null(c);
    }
    lua_pop(L, 1);
}

const char *script_resp_to_lua(lua_State *L, const char *p, const char *end) { return resp_to_lua(L, p, end, 1); }
