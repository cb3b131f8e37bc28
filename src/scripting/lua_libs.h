/* lua_libs.h - the Lua libraries Redis embeds that Kevo implements itself (the Debian packages
 * provide cjson and bit: luaopen_cjson, luaopen_bit). Each luaopen_* pushes the library table
 * and also sets it as the global of the same name (Lua 5.1 style), as Redis's copies do.
 *
 *   cmsgpack (lua_cmsgpack.c)  pack(v...) / unpack(s) / unpack_one(s [,offset]) /
 *                              unpack_limit(s, limit [,offset]): MessagePack with the encoding
 *                              choices and quirks of Redis's lua-cmsgpack 0.4.0 (float32 when
 *                              exact, str8 headers, tables nested deeper than 16 packed as nil,
 *                              uint64 > 2^63-1 unpacked as a negative number, ...).
 *   struct   (lua_struct.c)    pack(fmt, v...) / unpack(fmt, s [,pos]) / size(fmt): Roberto
 *                              Ierusalimschy's struct library as Redis ships it (the same
 *                              formats, alignment rules and error messages).
 * Main thread (they run inside the scripting Lua states). */
#ifndef KEVO_LUA_LIBS_H
#define KEVO_LUA_LIBS_H
#include <lua.h>

int luaopen_cmsgpack(lua_State *L);
int luaopen_struct(lua_State *L);
#endif
