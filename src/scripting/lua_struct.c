/* lua_struct.c - the struct library of Redis scripts (see lua_libs.h): binary packing with the
 * formats of Roberto Ierusalimschy's struct.c as Redis ships it.
 *   > <  big / little endian      ![n] max alignment (default: the platform's)     ' ' ignored
 *   x  pad byte     b B h H l L T i[n] I[n]  integers (i/I default sizeof(int), n <= 32)
 *   f d  float/double     c[n]  n chars (pack: 0 = whole string; unpack: 0 = previous number)
 *   s  zero-terminated string
 * Integers travel as 64-bit values (wider sizes are zero/sign filled as Redis does). */
#include "lua_libs.h"

#include <ctype.h>
#include <lauxlib.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ST_MAXINTSIZE 32
#define ST_BIG 0
#define ST_LITTLE 1

struct st_align_probe {
    char c;
    double d;
};
#define ST_PADDING (sizeof(struct st_align_probe) - sizeof(double))
#define ST_MAXALIGN (ST_PADDING > sizeof(int) ? ST_PADDING : sizeof(int))

typedef struct st_header {
    int endian;
    int align;
} st_header;

static int st_native_endian(void)
{
    const int one = 1;
    return *(const char *)&one ? ST_LITTLE : ST_BIG;
}

static void st_defaults(st_header *h)
{
    h->endian = st_native_endian();
    h->align = 1;
}

/* The decimal number at *fmt (advanced past it), or df when there is none. */
static int st_getnum(lua_State *L, const char **fmt, int df)
{
    if (!isdigit((unsigned char)**fmt)) return df;
    int a = 0;
    do {
        if (a > INT_MAX / 10 || a * 10 > INT_MAX - (**fmt - '0')) luaL_error(L, "integral size overflow");
        a = a * 10 + *((*fmt)++) - '0';
    } while (isdigit((unsigned char)**fmt));
    return a;
}

static size_t st_optsize(lua_State *L, char opt, const char **fmt)
{
    switch (opt) {
    case 'B': case 'b': return sizeof(char);
    case 'H': case 'h': return sizeof(short);
    case 'L': case 'l': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)st_getnum(L, fmt, 1);
    case 'i': case 'I': {
        int sz = st_getnum(L, fmt, sizeof(int));
        if (sz > ST_MAXINTSIZE) luaL_error(L, "integral size %d is larger than limit of %d", sz, ST_MAXINTSIZE);
        return (size_t)sz;
    }
    default: return 0;
    }
}

/* Padding bytes before an item of size at offset len (the same arithmetic as the original,
 * sizes that are not powers of two included). */
static size_t st_toalign(size_t len, const st_header *h, int opt, size_t size)
{
    if (size == 0 || opt == 'c') return 0;
    if (size > (size_t)h->align) size = (size_t)h->align;
    return (size - (len & (size - 1))) & (size - 1);
}

static void st_control(lua_State *L, int opt, const char **fmt, st_header *h)
{
    switch (opt) {
    case ' ': return;
    case '>': h->endian = ST_BIG; return;
    case '<': h->endian = ST_LITTLE; return;
    case '!': {
        int a = st_getnum(L, fmt, (int)ST_MAXALIGN);
        if (!(a > 0 && (a & (a - 1)) == 0)) luaL_error(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default:
        luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", opt));
    }
}

/* n as the 64-bit pattern the original's casts give on x86-64 (out-of-range values included). */
static uint64_t st_number_bits(lua_Number n)
{
    if (n != n) return (uint64_t)1 << 63;
    if (n < 0) return n < -9223372036854775808.0 ? (uint64_t)1 << 63 : (uint64_t)(int64_t)n;
    if (n >= 18446744073709551616.0) return 0;
    return (uint64_t)n;
}

static void st_put_integer(lua_State *L, luaL_Buffer *b, int arg, int endian, size_t size)
{
    uint64_t v = st_number_bits(luaL_checknumber(L, arg));
    char buf[ST_MAXINTSIZE];
    for (size_t i = 0; i < size; i++) {
        size_t at = endian == ST_LITTLE ? i : size - 1 - i;
        buf[at] = (char)(i < 8 ? (v >> (8 * i)) & 0xff : 0);
    }
    luaL_addlstring(b, buf, size);
}

static void st_fix_endian(char *p, size_t size, int endian)
{
    if (endian == st_native_endian()) return;
    for (size_t i = 0, j = size - 1; i < j; i++, j--) {
        char t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

static int st_pack(lua_State *L)
{
    const char *fmt = luaL_checkstring(L, 1);
    st_header h;
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;
    st_defaults(&h);
    lua_pushnil(L); /* separates the arguments from the buffer */
    luaL_buffinit(L, &b);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = st_optsize(L, (char)opt, &fmt);
        size_t pad = st_toalign(total, &h, opt, size);
        total += pad;
        while (pad-- > 0) luaL_addchar(&b, '\0');
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            st_put_integer(L, &b, arg++, h.endian, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            st_fix_endian((char *)&f, size, h.endian);
            luaL_addlstring(&b, (char *)&f, size);
            break;
        }
        case 'd': {
            double d = luaL_checknumber(L, arg++);
            st_fix_endian((char *)&d, size, h.endian);
            luaL_addlstring(&b, (char *)&d, size);
            break;
        }
        case 'c': case 's': {
            size_t l;
            const char *s = luaL_checklstring(L, arg++, &l);
            if (size == 0) size = l;
            luaL_argcheck(L, l >= size, arg, "string too short");
            luaL_addlstring(&b, s, size);
            if (opt == 's') {
                luaL_addchar(&b, '\0');
                size++;
            }
            break;
        }
        default:
            st_control(L, opt, &fmt, &h);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static lua_Number st_get_integer(const char *p, int endian, int issigned, size_t size)
{
    uint64_t l = 0;
    for (size_t i = 0; i < size; i++) {
        size_t at = endian == ST_BIG ? i : size - 1 - i;
        l = l << 8 | (unsigned char)p[at];
    }
    if (!issigned) return (lua_Number)l;
    /* the original's shift count wraps at 64 on x86-64 for sizes above 8 */
    uint64_t mask = ~(uint64_t)0 << ((size * 8 - 1) & 63);
    if (l & mask) l |= mask;
    return (lua_Number)(int64_t)l;
}

static int st_unpack(lua_State *L)
{
    st_header h;
    const char *fmt = luaL_checkstring(L, 1);
    size_t ld;
    const char *data = luaL_checklstring(L, 2, &ld);
    size_t pos = (size_t)luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, pos > 0, 3, "offset must be 1 or greater");
    pos--;
    int n = 0;
    st_defaults(&h);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = st_optsize(L, (char)opt, &fmt);
        pos += st_toalign(pos, &h, opt, size);
        luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            lua_pushnumber(L, st_get_integer(data + pos, h.endian, islower(opt), size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            memcpy(&f, data + pos, size);
            st_fix_endian((char *)&f, sizeof f, h.endian);
            lua_pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            memcpy(&d, data + pos, size);
            st_fix_endian((char *)&d, sizeof d, h.endian);
            lua_pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
                size = (size_t)lua_tonumber(L, -1);
                lua_pop(L, 1);
                n--;
                luaL_argcheck(L, size <= ld && pos <= ld - size, 2, "data string too short");
            }
            lua_pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *e = memchr(data + pos, '\0', ld - pos);
            if (!e) luaL_error(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            st_control(L, opt, &fmt, &h);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)(pos + 1));
    return n + 1;
}

static int st_size(lua_State *L)
{
    st_header h;
    const char *fmt = luaL_checkstring(L, 1);
    size_t pos = 0;
    st_defaults(&h);
    while (*fmt) {
        int opt = *fmt++;
        size_t size = st_optsize(L, (char)opt, &fmt);
        pos += st_toalign(pos, &h, opt, size);
        if (opt == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!isalnum(opt)) st_control(L, opt, &fmt, &h);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int luaopen_struct(lua_State *L)
{
    static const luaL_Reg fns[] = {{"pack", st_pack}, {"unpack", st_unpack}, {"size", st_size}, {NULL, NULL}};
    luaL_register(L, "struct", fns);
    return 1;
}
