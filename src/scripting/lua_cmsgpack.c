/* lua_cmsgpack.c - the cmsgpack library of Redis scripts (see lua_libs.h): MessagePack encoding
 * of Lua values with the same choices Redis's lua-cmsgpack makes, so a payload packed by a Kevo
 * script is byte-identical to Redis's and both unpack the same values. */
#include "lua_libs.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MP_MAX_NESTING 16 /* deeper tables are packed as nil (cycles end there) */

/* ---------------------------------------------------------------- encoding */

/* The output buffer is a Lua userdata at stack slot idx (grown by replacing it), so a Lua error
 * in the middle of packing leaks nothing and the stack above it stays free for the encoder. */
typedef struct mp_out {
    lua_State *L;
    int idx;
    unsigned char *p;
    size_t len, cap;
} mp_out;

static void mp_put(mp_out *o, const void *p, size_t n)
{
    if (o->cap - o->len < n) {
        size_t cap = o->cap ? o->cap : 64;
        while (cap - o->len < n) {
            if (cap > SIZE_MAX / 2) luaL_error(o->L, "not enough memory");
            cap *= 2;
        }
        unsigned char *np = lua_newuserdata(o->L, cap);
        if (o->len) memcpy(np, o->p, o->len);
        lua_replace(o->L, o->idx);
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

/* Writes the big-endian bytes of v (n bytes) after the type byte t. */
static void mp_put_be(mp_out *o, unsigned char t, uint64_t v, int n)
{
    unsigned char b[9];
    b[0] = t;
    for (int i = 0; i < n; i++) b[1 + i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    mp_put(o, b, (size_t)n + 1);
}

static void mp_pack_bytes(mp_out *o, const char *s, size_t len)
{
    if (len < 32) {
        unsigned char t = (unsigned char)(0xa0 | len);
        mp_put(o, &t, 1);
    } else if (len <= 0xff) {
        mp_put_be(o, 0xd9, len, 1);
    } else if (len <= 0xffff) {
        mp_put_be(o, 0xda, len, 2);
    } else {
        mp_put_be(o, 0xdb, len & 0xffffffffu, 4);
    }
    mp_put(o, s, len);
}

static void mp_pack_int(mp_out *o, int64_t n)
{
    if (n >= 0) {
        if (n <= 127) {
            unsigned char t = (unsigned char)n;
            mp_put(o, &t, 1);
        } else if (n <= 0xff) {
            mp_put_be(o, 0xcc, (uint64_t)n, 1);
        } else if (n <= 0xffff) {
            mp_put_be(o, 0xcd, (uint64_t)n, 2);
        } else if (n <= 0xffffffffLL) {
            mp_put_be(o, 0xce, (uint64_t)n, 4);
        } else {
            mp_put_be(o, 0xcf, (uint64_t)n, 8);
        }
    } else {
        if (n >= -32) {
            unsigned char t = (unsigned char)(n & 0xff);
            mp_put(o, &t, 1);
        } else if (n >= -128) {
            mp_put_be(o, 0xd0, (uint64_t)n & 0xff, 1);
        } else if (n >= -32768) {
            mp_put_be(o, 0xd1, (uint64_t)n & 0xffff, 2);
        } else if (n >= -2147483648LL) {
            mp_put_be(o, 0xd2, (uint64_t)n & 0xffffffffu, 4);
        } else {
            mp_put_be(o, 0xd3, (uint64_t)n, 8);
        }
    }
}

static void mp_pack_double(mp_out *o, double d)
{
    float f = (float)d;
    if ((double)f == d) { /* exact as a float: 5 bytes */
        uint32_t u;
        memcpy(&u, &f, 4);
        mp_put_be(o, 0xca, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &d, 8);
        mp_put_be(o, 0xcb, u, 8);
    }
}

/* n is an int64 without loss (finite, in range, no fraction). */
static int mp_is_int64(double n)
{
    return n >= -9223372036854775808.0 && n < 9223372036854775808.0 && (double)(int64_t)n == n;
}

static void mp_pack_value(lua_State *L, mp_out *o, int level);

/* 1 when the table on top holds exactly the keys 1..N (N = its number of keys). */
static int mp_table_is_array(lua_State *L)
{
    int top = lua_gettop(L);
    long count = 0;
    double max = 0;
    luaL_checkstack(L, 2, "in function table_is_an_array");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        double n;
        if (lua_type(L, -1) != LUA_TNUMBER || (n = lua_tonumber(L, -1)) <= 0 || n > INT_MAX ||
            (double)(int)n != n) {
            lua_settop(L, top);
            return 0;
        }
        if (n > max) max = n;
        count++;
    }
    lua_settop(L, top);
    return (double)count == max;
}

static void mp_pack_table(lua_State *L, mp_out *o, int level)
{
    if (mp_table_is_array(L)) {
        size_t len = lua_objlen(L, -1);
        if (len <= 15) {
            unsigned char t = (unsigned char)(0x90 | len);
            mp_put(o, &t, 1);
        } else if (len <= 0xffff) {
            mp_put_be(o, 0xdc, len, 2);
        } else {
            mp_put_be(o, 0xdd, len & 0xffffffffu, 4);
        }
        luaL_checkstack(L, 1, "in function mp_encode_lua_table_as_array");
        for (size_t j = 1; j <= len; j++) {
            lua_pushnumber(L, (lua_Number)j);
            lua_gettable(L, -2);
            mp_pack_value(L, o, level + 1);
        }
        return;
    }
    size_t n = 0;
    luaL_checkstack(L, 3, "in function mp_encode_lua_table_as_map");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        n++;
    }
    if (n <= 15) {
        unsigned char t = (unsigned char)(0x80 | n);
        mp_put(o, &t, 1);
    } else if (n <= 0xffff) {
        mp_put_be(o, 0xde, n, 2);
    } else {
        mp_put_be(o, 0xdf, n & 0xffffffffu, 4);
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        mp_pack_value(L, o, level + 1); /* key */
        mp_pack_value(L, o, level + 1); /* value */
    }
}

/* Packs the value on top of the stack and pops it. */
static void mp_pack_value(lua_State *L, mp_out *o, int level)
{
    int t = lua_type(L, -1);
    if (t == LUA_TTABLE && level == MP_MAX_NESTING) t = LUA_TNIL;
    switch (t) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        mp_pack_bytes(o, s, len);
        break;
    }
    case LUA_TBOOLEAN: {
        unsigned char b = lua_toboolean(L, -1) ? 0xc3 : 0xc2;
        mp_put(o, &b, 1);
        break;
    }
    case LUA_TNUMBER: {
        double n = lua_tonumber(L, -1);
        if (mp_is_int64(n)) mp_pack_int(o, (int64_t)n);
        else mp_pack_double(o, n);
        break;
    }
    case LUA_TTABLE:
        mp_pack_table(L, o, level);
        break;
    default: {
        unsigned char b = 0xc0;
        mp_put(o, &b, 1);
    }
    }
    lua_pop(L, 1);
}

/* cmsgpack.pack(v1, v2, ...): the concatenation of every value's encoding. */
static int mp_pack(lua_State *L)
{
    int nargs = lua_gettop(L);
    if (nargs == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    if (!lua_checkstack(L, nargs)) return luaL_argerror(L, 0, "Too many arguments for MessagePack pack.");
    lua_pushnil(L); /* the buffer's slot */
    mp_out o = {L, lua_gettop(L), NULL, 0, 0};
    for (int i = 1; i <= nargs; i++) {
        luaL_checkstack(L, 1, "in function mp_check");
        lua_pushvalue(L, i);
        mp_pack_value(L, &o, 0);
    }
    lua_pushlstring(L, (const char *)o.p, o.len);
    return 1;
}

/* ---------------------------------------------------------------- decoding */

enum { MP_OK = 0, MP_EOF = 1, MP_BADFMT = 2 };

typedef struct mp_in {
    const unsigned char *p;
    size_t left;
    int err;
} mp_in;

static uint64_t mp_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static void mp_unpack_value(lua_State *L, mp_in *c);

static void mp_unpack_array(lua_State *L, mp_in *c, size_t len)
{
    lua_newtable(L);
    luaL_checkstack(L, 1, "in function mp_decode_to_lua_array");
    for (size_t i = 1; i <= len; i++) {
        lua_pushnumber(L, (lua_Number)i);
        mp_unpack_value(L, c);
        if (c->err) return;
        lua_settable(L, -3);
    }
}

static void mp_unpack_map(lua_State *L, mp_in *c, size_t len)
{
    lua_newtable(L);
    while (len--) {
        mp_unpack_value(L, c);
        if (c->err) return;
        mp_unpack_value(L, c);
        if (c->err) return;
        lua_settable(L, -3);
    }
}

#define MP_NEED(n)                                                                                   \
    do {                                                                                             \
        if (c->left < (size_t)(n)) {                                                                 \
            c->err = MP_EOF;                                                                         \
            return;                                                                                  \
        }                                                                                            \
    } while (0)
#define MP_SKIP(n) (c->p += (n), c->left -= (n))

static void mp_unpack_str(lua_State *L, mp_in *c, int hdr)
{
    MP_NEED(1 + hdr);
    size_t l = (size_t)mp_be(c->p + 1, hdr);
    MP_SKIP(1 + (size_t)hdr);
    MP_NEED(l);
    lua_pushlstring(L, (const char *)c->p, l);
    MP_SKIP(l);
}

/* Decodes one value onto the stack; c->err is set (and the stack unspecified) on failure. */
static void mp_unpack_value(lua_State *L, mp_in *c)
{
    MP_NEED(1);
    /* the caller cannot know how many values a stream holds: grow one at a time */
    luaL_checkstack(L, 1, "too many return values at once; use unpack_one or unpack_limit instead.");
    unsigned char t = c->p[0];
    switch (t) {
    case 0xcc: MP_NEED(2); lua_pushnumber(L, c->p[1]); MP_SKIP(2); return;
    case 0xcd: MP_NEED(3); lua_pushnumber(L, (lua_Number)mp_be(c->p + 1, 2)); MP_SKIP(3); return;
    case 0xce: MP_NEED(5); lua_pushnumber(L, (lua_Number)mp_be(c->p + 1, 4)); MP_SKIP(5); return;
    case 0xcf: /* as Redis: the value goes through a signed 64-bit integer */
        MP_NEED(9); lua_pushnumber(L, (lua_Number)(int64_t)mp_be(c->p + 1, 8)); MP_SKIP(9); return;
    case 0xd0: MP_NEED(2); lua_pushnumber(L, (int8_t)c->p[1]); MP_SKIP(2); return;
    case 0xd1: MP_NEED(3); lua_pushnumber(L, (int16_t)mp_be(c->p + 1, 2)); MP_SKIP(3); return;
    case 0xd2: MP_NEED(5); lua_pushnumber(L, (int32_t)mp_be(c->p + 1, 4)); MP_SKIP(5); return;
    case 0xd3: MP_NEED(9); lua_pushnumber(L, (lua_Number)(int64_t)mp_be(c->p + 1, 8)); MP_SKIP(9); return;
    case 0xc0: lua_pushnil(L); MP_SKIP(1); return;
    case 0xc2: lua_pushboolean(L, 0); MP_SKIP(1); return;
    case 0xc3: lua_pushboolean(L, 1); MP_SKIP(1); return;
    case 0xca: {
        MP_NEED(5);
        uint32_t u = (uint32_t)mp_be(c->p + 1, 4);
        float f;
        memcpy(&f, &u, 4);
        lua_pushnumber(L, f);
        MP_SKIP(5);
        return;
    }
    case 0xcb: {
        MP_NEED(9);
        uint64_t u = mp_be(c->p + 1, 8);
        double d;
        memcpy(&d, &u, 8);
        lua_pushnumber(L, d);
        MP_SKIP(9);
        return;
    }
    case 0xd9: mp_unpack_str(L, c, 1); return;
    case 0xda: mp_unpack_str(L, c, 2); return;
    case 0xdb: mp_unpack_str(L, c, 4); return;
    case 0xdc: case 0xdd: {
        int h = t == 0xdc ? 2 : 4;
        MP_NEED(1 + h);
        size_t l = (size_t)mp_be(c->p + 1, h);
        MP_SKIP(1 + (size_t)h);
        mp_unpack_array(L, c, l);
        return;
    }
    case 0xde: case 0xdf: {
        int h = t == 0xde ? 2 : 4;
        MP_NEED(1 + h);
        size_t l = (size_t)mp_be(c->p + 1, h);
        MP_SKIP(1 + (size_t)h);
        mp_unpack_map(L, c, l);
        return;
    }
    default:
        break;
    }
    if ((t & 0x80) == 0) { /* positive fixint */
        lua_pushnumber(L, t);
        MP_SKIP(1);
    } else if ((t & 0xe0) == 0xe0) { /* negative fixint */
        lua_pushnumber(L, (int8_t)t);
        MP_SKIP(1);
    } else if ((t & 0xe0) == 0xa0) { /* fixstr */
        size_t l = t & 0x1f;
        MP_NEED(1 + l);
        lua_pushlstring(L, (const char *)c->p + 1, l);
        MP_SKIP(1 + l);
    } else if ((t & 0xf0) == 0x90) { /* fixarray */
        MP_SKIP(1);
        mp_unpack_array(L, c, t & 0xf);
    } else if ((t & 0xf0) == 0x80) { /* fixmap */
        MP_SKIP(1);
        mp_unpack_map(L, c, t & 0xf);
    } else {
        c->err = MP_BADFMT; /* bin, ext and the reserved byte: not understood, as Redis */
    }
}

/* limit == 0 && offset == 0: every value, no offset returned; else at most limit values starting
 * at offset, preceded by the next offset (-1 once the input is consumed). */
static int mp_unpack_stream(lua_State *L, lua_Integer limit, lua_Integer offset)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int all = !limit && !offset;
    if (offset < 0 || limit < 0) /* the length in place of the limit, as Redis says it */
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", (int)offset, (int)len);
    if ((size_t)offset > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset, (int)len);
    if (all) limit = INT_MAX;
    mp_in c = {(const unsigned char *)s + offset, len - (size_t)offset, MP_OK};
    int cnt;
    for (cnt = 0; c.left > 0 && cnt < limit; cnt++) {
        mp_unpack_value(L, &c);
        if (c.err == MP_EOF) return luaL_error(L, "Missing bytes in input.");
        if (c.err == MP_BADFMT) return luaL_error(L, "Bad data format in input.");
    }
    if (!all) {
        luaL_checkstack(L, 1, "in function mp_unpack_full");
        lua_pushinteger(L, c.left == 0 ? -1 : (lua_Integer)(len - c.left));
        lua_insert(L, 2);
        cnt++;
    }
    return cnt;
}

static int mp_unpack(lua_State *L) { return mp_unpack_stream(L, 0, 0); }

/* Drops the arguments after the first (with none, the stack stays empty: "got no value"). */
static void keep_first_arg(lua_State *L)
{
    if (lua_gettop(L) > 1) lua_settop(L, 1);
}

static int mp_unpack_one(lua_State *L)
{
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    keep_first_arg(L);
    return mp_unpack_stream(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L)
{
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    keep_first_arg(L);
    return mp_unpack_stream(L, limit, offset);
}

int luaopen_cmsgpack(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"pack", mp_pack}, {"unpack", mp_unpack}, {"unpack_one", mp_unpack_one}, {"unpack_limit", mp_unpack_limit},
        {NULL, NULL},
    };
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "Copyright (C) 2012, Salvatore Sanfilippo");
    lua_setfield(L, -2, "_COPYRIGHT");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    lua_pushvalue(L, -1);
    lua_setglobal(L, "cmsgpack");
    return 1;
}
