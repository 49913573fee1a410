/* cmd.h - subcommands of the consort-node executable. Each returns the
 * process exit status (0 ok, 1 failure, 2 usage). */
#ifndef ND_CMD_H
#define ND_CMD_H

#include <stddef.h>

int nd_cmd_info(int argc, char **argv);
int nd_cmd_decode(int argc, char **argv);
int nd_cmd_serve(int argc, char **argv);
int nd_cmd_send(int argc, char **argv);
int nd_cmd_echo(int argc, char **argv);
int nd_cmd_ls(int argc, char **argv);
int nd_cmd_queue(int argc, char **argv);
int nd_cmd_find(int argc, char **argv);
int nd_cmd_get(int argc, char **argv);
int nd_cmd_move(int argc, char **argv);
int nd_cmd_audit(int argc, char **argv);
int nd_cmd_delete(int argc, char **argv);
int nd_cmd_export(int argc, char **argv);
int nd_cmd_import(int argc, char **argv);
int nd_cmd_verify(int argc, char **argv);
int nd_cmd_conflicts(int argc, char **argv);

/* "AE@host:port" into its parts; 0, or -1 if malformed with *out_why a
 * static phrase naming what is wrong ("port must be 1-65535"). */
int nd_parse_dest(const char *s, char *ae, size_t aelen, char *host,
                  size_t hostlen, int *port, const char **out_why);

/* Says on stderr what is wrong with peer address s for cmd, as
 * "consort-node CMD: 'S': WHY"; -1 if it is wrong, 0 if not. */
int nd_check_dest(const char *cmd, const char *s, char *ae, size_t aelen,
                  char *host, size_t hostlen, int *port);

/* The archive index of a storage command: the storage folder of
 * cfg_path (may be NULL) or storage (overrides it), opened for writing
 * (migrated if needed), or read-only for a user who may not write the
 * archive when the command only reads (write 0). NULL after saying why on
 * stderr as "consort-node <cmd>: ...". The folder goes to storage_out. */
struct nd_index;
struct nd_index *nd_cmd_open_index(const char *cmd, const char *cfg_path,
                                   const char *storage, int write,
                                   char *storage_out, size_t len);

/* The configuration of a command that changes the archive: cfg_path's
 * (may be NULL) or the defaults, the storage folder storage if given
 * (then, without a configuration file, its own audit log there). 0, or
 * -1 after saying why on stderr as "consort-node <cmd>: ...". */
struct nd_config;
int nd_cmd_config(const char *cmd, const char *cfg_path, const char *storage,
                  struct nd_config *cfg);

/* Who runs a command, for the audit trail: given (--user), else
 * $SUDO_USER (the person behind sudo), else $USER, else "uid N". Never
 * NULL; the fallback is static. */
const char *nd_cmd_user(const char *given);

/* Prints "consort-node: <file>: <msg>" as one line on stderr. */
void nd_fail_line(const char *file, const char *msg);

#endif
