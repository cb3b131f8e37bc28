/* functions.h - Redis 7.0 functions: libraries of Lua functions loaded with FUNCTION LOAD and
 * called with FCALL / FCALL_RO (functions.c: libraries, FUNCTION commands, persistence, DUMP /
 * RESTORE; function_lua.c: the Lua engine that compiles a library and runs its functions).
 *
 * Names: library names are case-sensitive; function names are looked up and collide across
 * libraries case-insensitively (Redis's dict types), and only case-sensitively inside one
 * library. Both must match [A-Za-z0-9_]+. Main thread only. */
#ifndef KEVO_FUNCTIONS_H
#define KEVO_FUNCTIONS_H
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "script_run.h"

typedef struct fn_library fn_library;

typedef struct fn_function {
    char *name;
    char *desc;            /* NULL when none was given */
    uint64_t flags;        /* SCRIPT_FLAG_* */
    int ref;               /* the callback, in the function engine's Lua registry */
    fn_library *lib;
} fn_function;

struct fn_library {
    char *name;
    char *code;            /* the whole FUNCTION LOAD payload, shebang included */
    size_t code_len;
    fn_function **fns;     /* sorted by name once loaded */
    int nfns;
};

/* ---- function_lua.c: the engine ---- */
int fnlua_init(void);
/* Runs a library's code (code/len: after its shebang line, its newline kept) with the load-time
 * API (redis.register_function, redis.log, ...) so that it registers its functions into lib.
 * timeout_ms 0 = none (Redis's FUNCTION LOAD uses 500). 0, or -1 with Redis's message in err
 * ("Error compiling function: ...", "Error registering functions: ..."). */
int fnlua_create(fn_library *lib, const char *code, size_t len, long long timeout_ms, char *err, size_t errlen);
/* Calls f for run r with the keys and args tables; replies to r->caller. */
void fnlua_call(script_run *r, fn_function *f, const cmdarg *keys, int nkeys, const cmdarg *args, int nargs);
void fnlua_release(fn_function *f); /* drops the callback's registry reference */
size_t fnlua_memory(void);
struct client *fnlua_client(void);

/* ---- functions.c, for the engine ---- */
/* Adds a function to the library being loaded (Redis's functionLibCreateFunction); takes
 * ownership of name and desc on success. 0, or -1 with the message in err. */
int functions_lib_add(fn_library *lib, char *name, int ref, char *desc, uint64_t flags, char *err, size_t errlen);

/* ---- functions.c: the rest of the server ---- */
int functions_init(void);
int functions_load_stored(void);
uint32_t fcall_command_flags(struct client *c, uint32_t cmd_flags);
size_t functions_caches_memory(void);
size_t functions_count(void);
size_t functions_library_count(void);
/* Handlers (cmd_script.c's table). */
void fcall_command(struct client *c);
void fcall_ro_command(struct client *c);
void function_load_command(struct client *c);
void function_delete_command(struct client *c);
void function_flush_command(struct client *c);
void function_list_command(struct client *c);
void function_dump_command(struct client *c);
void function_restore_command(struct client *c);
void function_stats_command(struct client *c);
void function_kill_command(struct client *c);
void function_help_command(struct client *c);
#endif
