/* lua_sandbox.c - Redis 7.0's script sandbox on the stock Lua 5.1 interpreter (see
 * lua_sandbox.h for what is emulated and how). */
#include "lua_sandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <lua-bitop.h>
#include <lua-cjson.h>
#include <string.h>

#include "lua_libs.h"

/* Registry keys (addresses of these statics). */
static char reg_proxies;   /* weak-keyed table: proxy -> the table it stands for */
static char reg_g0;        /* the real globals */
static char reg_gmeta;     /* the globals proxy's metatable (its __index is switched) */
static char reg_gview_mt;  /* read-only view of the error metatable (getmetatable(_G)) */
static char reg_strmt;     /* read-only view of the string metatable */

static const char READONLY_MSG[] = "Attempt to modify a readonly table";

int lua_sandbox_readonly_error(lua_State *L)
{
    lua_pushstring(L, READONLY_MSG);
    return lua_error(L);
}

/* __newindex of every proxy: an assignment in Lua code (the position is the assignment's). */
static int sb_newindex(lua_State *L) { return luaL_error(L, "%s", READONLY_MSG); }

/* __index of G0: a missing global (Redis's luaProtectedTableError). */
static int sb_missing_global(lua_State *L)
{
    if (lua_gettop(L) != 2) return luaL_error(L, "Wrong number of arguments to luaProtectedTableError");
    if (!lua_isstring(L, -1) && !lua_isnumber(L, -1))
        return luaL_error(L, "Second argument to luaProtectedTableError must be a string or number");
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", lua_tostring(L, -1));
}

static void push_reg(lua_State *L, void *key)
{
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

/* Pushes the table a proxy stands for, or nothing (returns 0) when idx is not a proxy. */
static int push_target(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE) return 0;
    idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
    push_reg(L, &reg_proxies);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

int lua_sandbox_is_proxy(lua_State *L, int idx)
{
    if (!push_target(L, idx)) return 0;
    lua_pop(L, 1);
    return 1;
}

void lua_sandbox_push_proxy(lua_State *L, int idx)
{
    idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
    lua_newtable(L);              /* the proxy */
    lua_newtable(L);              /* its metatable */
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sb_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    push_reg(L, &reg_proxies);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void lua_sandbox_set_error_metatable(lua_State *L, int idx)
{
    idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
    lua_newtable(L);
    lua_pushcfunction(L, sb_missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, idx);
}

/* ---------------------------------------------------------------- proxy-aware builtins */

static int sb_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    if (push_target(L, 1)) lua_replace(L, 1);
    lua_rawget(L, 1);
    return 1;
}

static int sb_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (lua_sandbox_is_proxy(L, 1)) return lua_sandbox_readonly_error(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int sb_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (push_target(L, 1)) lua_replace(L, 1);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

static int sb_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1)); /* our next */
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int sb_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (lua_type(L, 1) == LUA_TSTRING) {
        push_reg(L, &reg_strmt);
        return 1;
    }
    if (lua_sandbox_is_proxy(L, 1)) {
        /* the globals: a read-only view of their error metatable; library tables: none */
        push_reg(L, &reg_g0);
        int is_globals = 0;
        if (push_target(L, 1)) {
            is_globals = lua_rawequal(L, -1, -2);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (is_globals) push_reg(L, &reg_gview_mt);
        else lua_pushnil(L);
        return 1;
    }
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    luaL_getmetafield(L, 1, "__metatable");
    return 1;
}

static int sb_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (lua_sandbox_is_proxy(L, 1)) return lua_sandbox_readonly_error(L);
    if (luaL_getmetafield(L, 1, "__metatable")) return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* table.insert as Lua 5.1's, refusing to write into a proxy. */
static int sb_tinsert(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int e = (int)lua_objlen(L, 1) + 1;
    int pos;
    switch (lua_gettop(L)) {
    case 2:
        pos = e;
        break;
    case 3:
        pos = luaL_checkint(L, 2);
        if (pos > e) e = pos;
        if (e > pos && lua_sandbox_is_proxy(L, 1)) return lua_sandbox_readonly_error(L);
        for (int i = e; i > pos; i--) {
            lua_rawgeti(L, 1, i - 1);
            lua_rawseti(L, 1, i);
        }
        break;
    default:
        return luaL_error(L, "wrong number of arguments to 'insert'");
    }
    if (lua_sandbox_is_proxy(L, 1)) return lua_sandbox_readonly_error(L);
    lua_rawseti(L, 1, pos);
    return 0;
}

/* table.remove as Lua 5.1's (a proxy has no elements: nothing to remove). */
static int sb_tremove(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int e = (int)lua_objlen(L, 1);
    int pos = luaL_optint(L, 2, e);
    if (!(1 <= pos && pos <= e)) return 0;
    lua_rawgeti(L, 1, pos);
    for (; pos < e; pos++) {
        lua_rawgeti(L, 1, pos + 1);
        lua_rawseti(L, 1, pos);
    }
    lua_pushnil(L);
    lua_rawseti(L, 1, e);
    return 1;
}

/* loadstring / load: a chunk starting with the bytecode signature is parsed as text, as Redis's
 * parser (which cannot load bytecode) does: one leading space makes the stock lexer see it. */
static int load_result(lua_State *L, int status)
{
    if (status == 0) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

static int sb_loadstring(lua_State *L)
{
    size_t l;
    const char *s = luaL_checklstring(L, 1, &l);
    const char *chunkname = luaL_optstring(L, 2, s);
    if (l > 0 && s[0] == LUA_SIGNATURE[0]) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, l);
        luaL_pushresult(&b);
        size_t bl;
        const char *bs = lua_tolstring(L, -1, &bl);
        return load_result(L, luaL_loadbuffer(L, bs, bl, chunkname));
    }
    return load_result(L, luaL_loadbuffer(L, s, l, chunkname));
}

typedef struct sb_reader {
    int state; /* 0 first call, 1 the stashed first piece is due, 2 normal */
} sb_reader;

/* Stack: 1 reader function, 2 chunkname, 3 the current piece (kept alive here). */
static const char *sb_generic_reader(lua_State *L, void *ud, size_t *size)
{
    sb_reader *r = ud;
    if (r->state == 1) {
        r->state = 2;
        return lua_tolstring(L, 3, size);
    }
    luaL_checkstack(L, 2, "too many nested functions");
    lua_pushvalue(L, 1);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
        *size = 0;
        return NULL;
    }
    if (!lua_isstring(L, -1)) luaL_error(L, "reader function must return a string");
    lua_replace(L, 3);
    const char *p = lua_tolstring(L, 3, size);
    if (r->state == 0) {
        r->state = 2;
        if (*size > 0 && p[0] == LUA_SIGNATURE[0]) {
            r->state = 1;
            *size = 1;
            return " ";
        }
    }
    return p;
}

static int sb_load(lua_State *L)
{
    const char *cname = luaL_optstring(L, 2, "=(load)");
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 3);
    sb_reader r = {0};
    return load_result(L, lua_load(L, sb_generic_reader, &r, cname));
}

/* ---------------------------------------------------------------- construction */

static void open_lib(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    /* Lua 5.1 libraries register their global themselves; cjson may not: make sure */
    if (name[0] && lua_istable(L, -1)) {
        lua_getglobal(L, name);
        int have = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (!have) {
            lua_pushvalue(L, -1);
            lua_setglobal(L, name);
        }
    }
    lua_pop(L, 1);
}

lua_State *lua_sandbox_new(void)
{
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    open_lib(L, "", luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, LUA_DBLIBNAME, luaopen_debug);
    open_lib(L, "cjson", luaopen_cjson);
    open_lib(L, "struct", luaopen_struct);
    open_lib(L, "cmsgpack", luaopen_cmsgpack);
    open_lib(L, "bit", luaopen_bit);
    static const char *const removed[] = {"dofile", "loadfile", "print", "getfenv", "setfenv", "newproxy", NULL};
    for (const char *const *n = removed; *n; n++) {
        lua_pushnil(L);
        lua_setglobal(L, *n);
    }
    /* the proxy registry (weak keys: a proxy nobody references may go) */
    lua_pushlightuserdata(L, &reg_proxies);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    /* proxy-aware builtins */
    static const luaL_Reg builtins[] = {
        {"rawget", sb_rawget},           {"rawset", sb_rawset}, {"next", sb_next},
        {"getmetatable", sb_getmetatable}, {"setmetatable", sb_setmetatable},
        {"loadstring", sb_loadstring},   {"load", sb_load},     {NULL, NULL},
    };
    for (const luaL_Reg *f = builtins; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setglobal(L, f->name);
    }
    lua_getglobal(L, "next");
    lua_pushcclosure(L, sb_pairs, 1);
    lua_setglobal(L, "pairs");
    lua_getglobal(L, LUA_TABLIBNAME);
    lua_pushcfunction(L, sb_tinsert);
    lua_setfield(L, -2, "insert");
    lua_pushcfunction(L, sb_tremove);
    lua_setfield(L, -2, "remove");
    lua_pop(L, 1);
    return L;
}

void lua_sandbox_push_g0(lua_State *L) { push_reg(L, &reg_g0); }

void lua_sandbox_set_globals_view(lua_State *L, int idx)
{
    idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
    push_reg(L, &reg_gmeta);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    /* the builtins see through the globals proxy to the current view */
    push_reg(L, &reg_proxies);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

void lua_sandbox_seal(lua_State *L)
{
    lua_pushvalue(L, LUA_GLOBALSINDEX); /* G0 */
    int g0 = lua_gettop(L);
    lua_pushnil(L); /* the debug library is for the error handler only (it took its copy) */
    lua_setfield(L, g0, LUA_DBLIBNAME);
    lua_pushlightuserdata(L, &reg_g0);
    lua_pushvalue(L, g0);
    lua_rawset(L, LUA_REGISTRYINDEX);

    /* the string metatable as scripts see it: {__index = string} read-only (taken before the
     * library tables are replaced, then pointed at the string proxy below) */
    lua_newtable(L);
    int strview = lua_gettop(L);

    /* every table-valued global (the libraries, redis, ...) becomes a proxy */
    lua_pushnil(L);
    while (lua_next(L, g0)) {
        if (lua_istable(L, -1) && !lua_rawequal(L, -1, g0) && !lua_sandbox_is_proxy(L, -1)) {
            lua_pushvalue(L, -2); /* key */
            lua_sandbox_push_proxy(L, -2);
            lua_rawset(L, g0); /* replacing an existing key's value is allowed during lua_next */
        }
        lua_pop(L, 1);
    }
    lua_getfield(L, g0, LUA_STRLIBNAME);
    lua_setfield(L, strview, "__index");
    lua_pushlightuserdata(L, &reg_strmt);
    lua_sandbox_push_proxy(L, strview);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1); /* strview */

    /* G0's misses raise the nonexistent-global error; getmetatable(_G) shows a read-only view */
    lua_sandbox_set_error_metatable(L, g0);
    lua_pushlightuserdata(L, &reg_gview_mt);
    lua_getmetatable(L, g0);
    lua_sandbox_push_proxy(L, -1);
    lua_remove(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);

    /* the globals proxy: what every chunk and coroutine sees as its globals */
    lua_newtable(L);
    int pg = lua_gettop(L);
    lua_newtable(L);
    lua_pushvalue(L, g0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sb_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushlightuserdata(L, &reg_gmeta);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, pg);
    push_reg(L, &reg_proxies);
    lua_pushvalue(L, pg);
    lua_pushvalue(L, g0);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_pushvalue(L, pg);
    lua_setfield(L, g0, "_G");
    lua_replace(L, LUA_GLOBALSINDEX); /* pops pg */
    lua_pop(L, 1);                    /* g0 */
}
