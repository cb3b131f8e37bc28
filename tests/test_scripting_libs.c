/* test_scripting_libs.c - the pieces of scripting that need no server: SHA-1 (FIPS 180 vectors
 * and the block boundaries), Redis's sdssplitargs (shebang parsing), the cmsgpack encoding
 * boundaries (each header size at its limit, Redis's quirks), struct's formats and errors, and
 * the sandbox's read-only proxies at the Lua level. */
#include <criterion/criterion.h>
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "lua_libs.h"
#include "lua_sandbox.h"
#include "sha1.h"
#include "splitargs.h"

/* ---------------------------------------------------------------- sha1 */

static void hex_of(const char *s, size_t len, char out[41]) { sha1_hex(out, s, len); }

Test(sha1, fips_vectors)
{
    char h[41];
    hex_of("", 0, h);
    cr_assert_str_eq(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    hex_of("abc", 3, h);
    cr_assert_str_eq(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(two, strlen(two), h);
    cr_assert_str_eq(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

Test(sha1, block_boundaries_and_incremental_updates_agree)
{
    char buf[300];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (char)(i * 7 + 3);
    /* 55, 56, 63, 64, 65 bytes: the padding spills into a second block at 56 */
    size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 299};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        char one[41], parts[41];
        sha1_hex(one, buf, lens[k]);
        sha1_ctx c;
        unsigned char d[20];
        sha1_init(&c);
        for (size_t i = 0; i < lens[k]; i += 13) sha1_update(&c, buf + i, lens[k] - i < 13 ? lens[k] - i : 13);
        sha1_final(&c, d);
        for (int i = 0; i < 20; i++) snprintf(parts + 2 * i, 3, "%02x", d[i]);
        cr_assert_str_eq(one, parts, "length %zu", lens[k]);
    }
    char m[41];
    hex_of("The quick brown fox jumps over the lazy dog", 43, m);
    cr_assert_str_eq(m, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
}

/* ---------------------------------------------------------------- splitargs */

Test(splitargs, words_quotes_and_escapes)
{
    char **v;
    const char *s = "#!lua  flags=no-writes \"a b\" 'c d' \"\\x41\\n\" 'it\\'s' \"\"";
    int n = split_args(s, strlen(s), &v);
    cr_assert_eq(n, 7);
    cr_assert_str_eq(v[0], "#!lua");
    cr_assert_str_eq(v[1], "flags=no-writes");
    cr_assert_str_eq(v[2], "a b");
    cr_assert_str_eq(v[3], "c d");
    cr_assert_str_eq(v[4], "A\n");
    cr_assert_str_eq(v[5], "it's");
    cr_assert_str_eq(v[6], "");
    split_args_free(v, n);
}

Test(splitargs, unbalanced_or_glued_quotes_fail_and_blank_is_empty)
{
    char **v;
    cr_assert_eq(split_args("\"open", 5, &v), -1);
    cr_assert_eq(split_args("'open", 5, &v), -1);
    cr_assert_eq(split_args("\"a\"b", 4, &v), -1);
    cr_assert_eq(split_args("'a'b", 4, &v), -1);
    int n = split_args("   \t ", 5, &v);
    cr_assert_eq(n, 0);
    split_args_free(v, n);
    /* a NUL ends the line, as in Redis's C-string walk */
    n = split_args("a\0b", 3, &v);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(v[0], "a");
    split_args_free(v, n);
}

/* ---------------------------------------------------------------- Lua helpers */

static lua_State *libs_state(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_pushcfunction(L, luaopen_cmsgpack);
    lua_call(L, 0, 0);
    lua_pushcfunction(L, luaopen_struct);
    lua_call(L, 0, 0);
    return L;
}

/* Runs code returning one string; copies it into out (returns its length), or -1 with the
 * error message in out. */
static int run_str(lua_State *L, const char *code, char *out, size_t cap)
{
    if (luaL_dostring(L, code)) {
        snprintf(out, cap, "%s", lua_tostring(L, -1));
        lua_settop(L, 0);
        return -1;
    }
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (!s) {
        lua_settop(L, 0);
        return -2;
    }
    if (len > cap) len = cap;
    memcpy(out, s, len);
    lua_settop(L, 0);
    return (int)len;
}

static void expect_bytes(lua_State *L, const char *code, const char *want, int wantlen)
{
    char out[256];
    int n = run_str(L, code, out, sizeof out);
    cr_assert_eq(n, wantlen, "%s: length %d (%s)", code, n, n < 0 ? out : "");
    cr_assert(memcmp(out, want, (size_t)wantlen) == 0, "%s: bytes differ", code);
}

/* ---------------------------------------------------------------- cmsgpack */

Test(cmsgpack, integer_headers_at_each_limit)
{
    lua_State *L = libs_state();
    expect_bytes(L, "return cmsgpack.pack(127)", "\x7f", 1);
    expect_bytes(L, "return cmsgpack.pack(128)", "\xcc\x80", 2);
    expect_bytes(L, "return cmsgpack.pack(255)", "\xcc\xff", 2);
    expect_bytes(L, "return cmsgpack.pack(256)", "\xcd\x01\x00", 3);
    expect_bytes(L, "return cmsgpack.pack(65536)", "\xce\x00\x01\x00\x00", 5);
    expect_bytes(L, "return cmsgpack.pack(4294967296)", "\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9);
    expect_bytes(L, "return cmsgpack.pack(-32)", "\xe0", 1);
    expect_bytes(L, "return cmsgpack.pack(-33)", "\xd0\xdf", 2);
    expect_bytes(L, "return cmsgpack.pack(-129)", "\xd1\xff\x7f", 3);
    expect_bytes(L, "return cmsgpack.pack(-32769)", "\xd2\xff\xff\x7f\xff", 5);
    expect_bytes(L, "return cmsgpack.pack(-2147483649)", "\xd3\xff\xff\xff\xff\x7f\xff\xff\xff", 9);
    lua_close(L);
}

Test(cmsgpack, floats_strings_tables_and_nesting_limit)
{
    lua_State *L = libs_state();
    expect_bytes(L, "return cmsgpack.pack(1.5)", "\xca\x3f\xc0\x00\x00", 5);   /* exact as float32 */
    expect_bytes(L, "return cmsgpack.pack(0.1)", "\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a", 9);
    expect_bytes(L, "return cmsgpack.pack(string.rep('a', 31)):sub(1, 1)", "\xbf", 1);
    expect_bytes(L, "return cmsgpack.pack(string.rep('a', 32)):sub(1, 2)", "\xd9\x20", 2);
    expect_bytes(L, "return cmsgpack.pack(string.rep('a', 256)):sub(1, 3)", "\xda\x01\x00", 3);
    expect_bytes(L, "return cmsgpack.pack({1, 2})", "\x92\x01\x02", 3);
    expect_bytes(L, "return cmsgpack.pack({[1] = 1, [3] = 3}):sub(1, 1)", "\x82", 1); /* a hole: a map */
    expect_bytes(L, "return cmsgpack.pack(true, false, nil)", "\xc3\xc2\xc0", 3);
    /* a table nested 16 deep is packed as nil (cycles end there) */
    expect_bytes(L, "local t = {} t[1] = t return cmsgpack.pack(t):sub(-2)", "\x91\xc0", 2);
    lua_close(L);
}

Test(cmsgpack, unpack_quirks_and_errors)
{
    lua_State *L = libs_state();
    char out[128];
    /* uint64 above 2^63-1 comes back negative, as in Redis */
    cr_assert_eq(run_str(L, "return tostring(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'))", out, sizeof out), 2);
    cr_assert(memcmp(out, "-1", 2) == 0);
    cr_assert_eq(run_str(L, "return cmsgpack.unpack('\\205\\1')", out, sizeof out), -1);
    cr_assert(strstr(out, "Missing bytes in input.") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "return cmsgpack.unpack('\\196')", out, sizeof out), -1);
    cr_assert(strstr(out, "Bad data format in input.") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "return cmsgpack.pack()", out, sizeof out), -1);
    cr_assert(strstr(out, "MessagePack pack needs input.") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "local a, b = cmsgpack.unpack_one(cmsgpack.pack(7, 8)) return a .. ',' .. b", out, sizeof out), 3);
    cr_assert(memcmp(out, "1,7", 3) == 0);
    cr_assert_eq(run_str(L, "local a, b = cmsgpack.unpack_one(cmsgpack.pack(7, 8), 1) return a .. ',' .. b", out, sizeof out), 4);
    cr_assert(memcmp(out, "-1,8", 4) == 0);
    lua_close(L);
}

/* ---------------------------------------------------------------- struct */

Test(lua_struct, formats_alignment_and_errors)
{
    lua_State *L = libs_state();
    expect_bytes(L, "return struct.pack('>I2', 513)", "\x02\x01", 2);
    expect_bytes(L, "return struct.pack('<i4', -2)", "\xfe\xff\xff\xff", 4);
    expect_bytes(L, "return struct.pack('!4 b i4', 1, 2)", "\x01\x00\x00\x00\x02\x00\x00\x00", 8);
    expect_bytes(L, "return struct.pack('s', 'ab')", "ab\0", 3);
    expect_bytes(L, "return struct.pack('>i10', -1)", "\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff", 10);
    char out[128];
    cr_assert_eq(run_str(L, "return tostring(struct.unpack('>i10', struct.pack('>i10', -5)))", out, sizeof out), 2);
    cr_assert(memcmp(out, "-5", 2) == 0);
    cr_assert_eq(run_str(L, "return tostring(struct.size('!4 b i4 d'))", out, sizeof out), 2);
    cr_assert(memcmp(out, "16", 2) == 0);
    cr_assert_eq(run_str(L, "return struct.pack('i33', 1)", out, sizeof out), -1);
    cr_assert(strstr(out, "integral size 33 is larger than limit of 32") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "return struct.pack('!3 i', 1)", out, sizeof out), -1);
    cr_assert(strstr(out, "alignment 3 is not a power of 2") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "return struct.unpack('>I4', 'ab')", out, sizeof out), -1);
    cr_assert(strstr(out, "data string too short") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "return struct.unpack('c0', 'xyz')", out, sizeof out), -1);
    cr_assert(strstr(out, "format 'c0' needs a previous size") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "return struct.unpack('s', 'abc')", out, sizeof out), -1);
    cr_assert(strstr(out, "unfinished string in data") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "return struct.pack('q', 1)", out, sizeof out), -1);
    cr_assert(strstr(out, "invalid format option 'q'") != NULL, "%s", out);
    lua_close(L);
}

/* ---------------------------------------------------------------- sandbox */

static lua_State *sealed_state(void)
{
    lua_State *L = lua_sandbox_new();
    cr_assert_not_null(L);
    lua_sandbox_seal(L);
    return L;
}

Test(lua_sandbox, globals_and_libraries_are_read_only)
{
    lua_State *L = sealed_state();
    char out[256];
    cr_assert_eq(run_str(L, "x = 1", out, sizeof out), -1);
    cr_assert(strstr(out, "Attempt to modify a readonly table") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "return nosuch", out, sizeof out), -1);
    cr_assert(strstr(out, "Script attempted to access nonexistent global variable 'nosuch'") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "string.x = 1", out, sizeof out), -1);
    cr_assert(strstr(out, "Attempt to modify a readonly table") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "rawset(string, 'x', 1)", out, sizeof out), -1);
    cr_assert_str_eq(out, "Attempt to modify a readonly table");
    cr_assert_eq(run_str(L, "setmetatable(_G, nil)", out, sizeof out), -1);
    cr_assert_str_eq(out, "Attempt to modify a readonly table");
    cr_assert_eq(run_str(L, "getmetatable('').__index = nil", out, sizeof out), -1);
    cr_assert(strstr(out, "Attempt to modify a readonly table") != NULL, "%s", out);
    cr_assert_eq(run_str(L, "table.insert(_G, 1)", out, sizeof out), -1);
    cr_assert_str_eq(out, "Attempt to modify a readonly table");
    cr_assert_eq(run_str(L, "return os", out, sizeof out), -1);
    cr_assert_eq(run_str(L, "return debug", out, sizeof out), -1);
    cr_assert_eq(run_str(L, "return coroutine.wrap(function() y = 1 end)()", out, sizeof out), -1);
    cr_assert(strstr(out, "Attempt to modify a readonly table") != NULL, "%s", out);
    /* still usable: the proxies read through */
    cr_assert_eq(run_str(L, "return string.upper('ok') .. ('x'):rep(2) .. tostring(rawget(string, 'len') ~= nil)", out, sizeof out), 8);
    cr_assert(memcmp(out, "OKxxtrue", 8) == 0);
    cr_assert_eq(run_str(L, "local n = 0 for k in pairs(string) do n = n + 1 end return tostring(n)", out, sizeof out), 2);
    cr_assert(memcmp(out, "15", 2) == 0);
    lua_close(L);
}

Test(lua_sandbox, bytecode_is_parsed_as_text)
{
    lua_State *L = sealed_state();
    char out[256];
    int n = run_str(L, "local f, e = loadstring(string.dump(function() return 1 end)) return e", out, sizeof out);
    cr_assert_gt(n, 0);
    out[n] = 0;
    cr_assert(strstr(out, "unexpected symbol near 'char(27)'") != NULL, "%s", out);
    n = run_str(L, "return loadstring('return \"txt\"')()", out, sizeof out);
    cr_assert_eq(n, 3);
    lua_close(L);
}
