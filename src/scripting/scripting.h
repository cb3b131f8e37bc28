/* scripting.h - Lua scripting as the rest of the server sees it: EVAL/EVALSHA/EVAL_RO/
 * EVALSHA_RO, SCRIPT, FUNCTION, FCALL/FCALL_RO with Redis 7.0's semantics (the commands are in
 * cmd_script.c; the pieces in src/scripting/: lua_sandbox, script_lua, script_run, eval,
 * function_lua, functions). Main thread only.
 *
 * Libraries persist in the engine under reserved keys (doc/scripting.md): FUNCTION LOAD /
 * DELETE / FLUSH / RESTORE write them in the command's write group, so an acknowledged change
 * survives kill -9; scripting_load_functions loads them at startup. */
#ifndef KEVO_SCRIPTING_H
#define KEVO_SCRIPTING_H
#include <stddef.h>
#include <stdint.h>

struct client;
struct command;

/* Creates the EVAL and function Lua states and the script clients. Once, after
 * command_table_init. 0, or -1 (logged) when out of memory. */
int scripting_init(void);
/* Loads the libraries stored in the engine (after the engine is open; not after a DEBUG
 * RELOAD, which keeps the ones in memory). A library that fails to load, or a read error
 * (a damaged table), is logged and the server starts anyway, as it does for damaged keys.
 * Returns 0 (-1 only when out of memory). */
int scripting_load_functions(void);

/* Redis's getCommandFlags for a CMD_SCRIPTED command in c->argv: the flags declared by the
 * script (shebang or function flags) replace write/denyoom/stale/may_replicate; scripts
 * without declared flags keep the command's. */
uint32_t script_command_flags(struct client *c, const struct command *cmd);

/* A script is running / has run past busy-reply-threshold (other clients get -BUSY). */
int scripting_script_running(void);
int scripting_busy(void);
/* The -BUSY error (no leading '-') for the running script's kind. */
const char *scripting_busy_error(void);
/* SHUTDOWN NOSAVE while a script is busy: see script_run.h. */
void scripting_shutdown_abort(void);

/* INFO memory fields (Redis 7.0's names and meanings). */
typedef struct scripting_memory {
    size_t eval_vm;           /* used_memory_vm_eval / used_memory_lua: the EVAL Lua heap */
    size_t eval_scripts;      /* used_memory_scripts_eval: cached script bodies + overhead */
    size_t cached_scripts;    /* number_of_cached_scripts */
    size_t functions_vm;      /* used_memory_vm_functions: the function engine's Lua heap */
    size_t functions_caches;  /* used_memory_functions: libraries' code + overhead */
    size_t functions;         /* number_of_functions */
    size_t libraries;         /* number_of_libraries */
} scripting_memory;
void scripting_memory_info(scripting_memory *m);
#endif
