/* splitargs.h - Redis's sdssplitargs: a line split into arguments the way redis-cli and
 * redis.conf do ("double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes' with
 * \' ). Used for script shebangs ("#!lua flags=no-writes") and library metadata
 * ("#!lua name=mylib"). Pure, any thread. */
#ifndef KEVO_SPLITARGS_H
#define KEVO_SPLITARGS_H
#include <stddef.h>

/* Splits the first len bytes of s (stopping at a NUL, as Redis's C-string loop does). Returns
 * the number of arguments with *out a malloc'ed array of malloc'ed NUL-terminated strings
 * (free with split_args_free), or -1 on unbalanced quotes (or a closing quote followed by
 * something else than a space) or when out of memory. */
int split_args(const char *s, size_t len, char ***out);
void split_args_free(char **v, int n);
#endif
