/* eval.h - EVAL / EVALSHA / EVAL_RO / EVALSHA_RO and SCRIPT: the script cache (sha1 -> body and
 * shebang flags, the compiled function in the EVAL Lua state's registry as f_<sha>) and the
 * EVAL Lua state, reset by SCRIPT FLUSH (Redis's eval.c). Main thread only. */
#ifndef KEVO_EVAL_H
#define KEVO_EVAL_H
#include <stddef.h>
#include <stdint.h>

struct client;

int eval_init(void);
/* Handlers (cmd_script.c's table). */
void eval_command(struct client *c);
void evalsha_command(struct client *c);
void eval_ro_command(struct client *c);
void evalsha_ro_command(struct client *c);
void script_exists_command(struct client *c);
void script_flush_command(struct client *c);
void script_load_command(struct client *c);
void script_kill_command(struct client *c);
void script_debug_command(struct client *c);
void script_help_command(struct client *c);
/* Redis's evalGetCommandFlags: cmd_flags adjusted to the script's shebang flags. */
uint32_t eval_command_flags(struct client *c, uint32_t cmd_flags, int evalsha);
/* Shebang parsing (Redis's evalExtractShebangFlags): 0 with *flags (and *shebang_len, the bytes
 * before the first newline, 0 without a shebang), or -1 with Redis's message in err. */
int eval_shebang_flags(const char *body, size_t len, uint64_t *flags, size_t *shebang_len, char *err, size_t errlen);
/* Redis's scriptFlagsToCmdFlags. */
uint32_t script_flags_to_cmd_flags(uint32_t cmd_flags, uint64_t script_flags);
size_t eval_vm_memory(void);
size_t eval_scripts_memory(void);
size_t eval_scripts_count(void);
#endif
