/* cmd.h - subcommands of the consort-node executable. Each returns the
 * process exit status (0 ok, 1 failure, 2 usage). */
#ifndef ND_CMD_H
#define ND_CMD_H

int nd_cmd_info(int argc, char **argv);
int nd_cmd_decode(int argc, char **argv);

/* Prints "consort-node: <file>: <msg>" as one line on stderr. */
void nd_fail_line(const char *file, const char *msg);

#endif
