/* scripting.c - the scripting subsystem's entry points for the rest of the server (see
 * scripting.h). */
#include "scripting.h"

#include <string.h>

#include "client.h"
#include "command.h"
#include "eval.h"
#include "functions.h"
#include "script_run.h"

int scripting_init(void)
{
    if (eval_init() < 0) return -1;
    if (functions_init() < 0) return -1;
    return 0;
}

int scripting_load_functions(void) { return functions_load_stored(); }

uint32_t script_command_flags(client *c, const struct command *cmd)
{
    const char *n = cmd->name;
    if (!strcmp(n, "fcall") || !strcmp(n, "fcall_ro")) return fcall_command_flags(c, cmd->flags);
    if (!strcmp(n, "evalsha") || !strcmp(n, "evalsha_ro")) return eval_command_flags(c, cmd->flags, 1);
    return eval_command_flags(c, cmd->flags, 0);
}

int scripting_script_running(void) { return script_is_running(); }
int scripting_busy(void) { return script_is_timedout(); }
const char *scripting_busy_error(void) { return script_busy_error(); }
void scripting_shutdown_abort(void) { script_shutdown_abort(); }

void scripting_memory_info(scripting_memory *m)
{
    m->eval_vm = eval_vm_memory();
    m->eval_scripts = eval_scripts_memory();
    m->cached_scripts = eval_scripts_count();
    m->functions_vm = fnlua_memory();
    m->functions_caches = functions_caches_memory();
    m->functions = functions_count();
    m->libraries = functions_library_count();
}
