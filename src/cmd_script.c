/* cmd_script.c - the command table of scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT,
 * FCALL, FCALL_RO, FUNCTION (the handlers are in src/scripting/: eval.c, functions.c). Flags and
 * arities as Redis 7.0's command table. */
#include "command.h"
#include "eval.h"
#include "functions.h"

#define NS CMD_NOSCRIPT
#define LS (CMD_LOADING | CMD_STALE)
/* EVAL/FCALL: numkeys at argv[2], the keys after it; effective flags from the script */
#define SCRIPTED (CMD_NOSCRIPT | CMD_STALE | CMD_SKIP_MONITOR | CMD_NO_MANDATORY_KEYS | CMD_KEYNUM | CMD_SCRIPTED)

static const struct command script_subcommands[] = {
    {"debug", script_debug_command, 3, NS, 0, 0, 0, "scripting", "Sets the debug mode of server-side Lua scripts.", "3.2.0", "YES|SYNC|NO", NULL},
    {"exists", script_exists_command, -3, NS, 0, 0, 0, "scripting", "Determines whether server-side Lua scripts exist in the script cache.", "2.6.0", "sha1 [sha1 ...]", NULL},
    {"flush", script_flush_command, -2, NS, 0, 0, 0, "scripting", "Removes all server-side Lua scripts from the script cache.", "2.6.0", "[ASYNC|SYNC]", NULL},
    {"help", script_help_command, 2, LS, 0, 0, 0, "scripting", "Returns helpful text about the different subcommands.", "5.0.0", "", NULL},
    {"kill", script_kill_command, 2, NS | CMD_ALLOW_BUSY, 0, 0, 0, "scripting", "Terminates a server-side Lua script during execution.", "2.6.0", "", NULL},
    {"load", script_load_command, 3, NS | CMD_STALE, 0, 0, 0, "scripting", "Loads a server-side Lua script to the script cache.", "2.6.0", "script", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

static const struct command function_subcommands[] = {
    {"delete", function_delete_command, 3, CMD_WRITE | NS, 0, 0, 0, "scripting", "Deletes a library and its functions.", "7.0.0", "library-name", NULL},
    {"dump", function_dump_command, 2, NS, 0, 0, 0, "scripting", "Dumps all libraries into a serialized binary payload.", "7.0.0", "", NULL},
    {"flush", function_flush_command, -2, CMD_WRITE | NS, 0, 0, 0, "scripting", "Deletes all libraries and functions.", "7.0.0", "[ASYNC|SYNC]", NULL},
    {"help", function_help_command, 2, LS, 0, 0, 0, "scripting", "Returns helpful text about the different subcommands.", "7.0.0", "", NULL},
    {"kill", function_kill_command, 2, NS | CMD_ALLOW_BUSY, 0, 0, 0, "scripting", "Terminates a function during execution.", "7.0.0", "", NULL},
    {"list", function_list_command, -2, NS, 0, 0, 0, "scripting", "Returns information about all libraries.", "7.0.0", "[LIBRARYNAME library-name-pattern] [WITHCODE]", NULL},
    {"load", function_load_command, -3, CMD_WRITE | CMD_DENYOOM | NS, 0, 0, 0, "scripting", "Creates a library.", "7.0.0", "[REPLACE] function-code", NULL},
    {"restore", function_restore_command, -3, CMD_WRITE | CMD_DENYOOM | NS, 0, 0, 0, "scripting", "Restores all libraries from a payload.", "7.0.0", "serialized-value [FLUSH|APPEND|REPLACE]", NULL},
    {"stats", function_stats_command, 2, NS | CMD_ALLOW_BUSY, 0, 0, 0, "scripting", "Returns information about a function during execution.", "7.0.0", "", NULL},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const struct command script_commands[] = {
    {"eval", eval_command, -3, SCRIPTED | CMD_MAY_REPLICATE, 2, 0, 1, "scripting", "Executes a server-side Lua script.", "2.6.0", "script numkeys [key [key ...]] [arg [arg ...]]", NULL},
    {"evalsha", evalsha_command, -3, SCRIPTED | CMD_MAY_REPLICATE, 2, 0, 1, "scripting", "Executes a server-side Lua script by SHA1 digest.", "2.6.0", "sha1 numkeys [key [key ...]] [arg [arg ...]]", NULL},
    {"eval_ro", eval_ro_command, -3, SCRIPTED | CMD_READONLY, 2, 0, 1, "scripting", "Executes a read-only server-side Lua script.", "7.0.0", "script numkeys [key [key ...]] [arg [arg ...]]", NULL},
    {"evalsha_ro", evalsha_ro_command, -3, SCRIPTED | CMD_READONLY, 2, 0, 1, "scripting", "Executes a read-only server-side Lua script by SHA1 digest.", "7.0.0", "sha1 numkeys [key [key ...]] [arg [arg ...]]", NULL},
    {"fcall", fcall_command, -3, SCRIPTED | CMD_MAY_REPLICATE, 2, 0, 1, "scripting", "Invokes a function.", "7.0.0", "function numkeys [key [key ...]] [arg [arg ...]]", NULL},
    {"fcall_ro", fcall_ro_command, -3, SCRIPTED | CMD_READONLY, 2, 0, 1, "scripting", "Invokes a read-only function.", "7.0.0", "function numkeys [key [key ...]] [arg [arg ...]]", NULL},
    {"script", NULL, -2, 0, 0, 0, 0, "scripting", "A container for Lua scripts management commands.", "2.6.0", "", script_subcommands},
    {"function", NULL, -2, 0, 0, 0, 0, "scripting", "A container for function commands.", "7.0.0", "", function_subcommands},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL},
};
