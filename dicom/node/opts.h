/* opts.h - the command-line options of consort-node's subcommands: one
 * table per command instead of a hand-written loop each, so that every
 * command takes "--name VALUE" and "--name=VALUE", ends its options at
 * "--", checks numbers against their range and names a mistake in one
 * line the same way. */
#ifndef ND_OPTS_H
#define ND_OPTS_H

#include <stdio.h>

enum nd_opt_kind {
    ND_OPT_FLAG, /* dst: int *, set to 1 */
    ND_OPT_STR,  /* dst: const char **, the value (argv's, not copied) */
    ND_OPT_INT,  /* dst: int *, a whole number in [min, max] */
    ND_OPT_CALL, /* call(dst, value): 0, or -1 after saying why */
};

struct nd_opt {
    const char *name; /* "--storage", "-o"; another spelling is another
                         entry with the same dst */
    enum nd_opt_kind kind;
    void *dst;
    long min, max; /* ND_OPT_INT */
    int (*call)(void *dst, const char *value);
};

/* The entries of a table, which ends with ND_OPT_END. */
#define ND_FLAG(name, dst) {name, ND_OPT_FLAG, dst, 0, 0, NULL}
#define ND_STR(name, dst) {name, ND_OPT_STR, dst, 0, 0, NULL}
#define ND_INT(name, dst, min, max) {name, ND_OPT_INT, dst, min, max, NULL}
#define ND_CALL(name, dst, fn) {name, ND_OPT_CALL, dst, 0, 0, fn}
#define ND_OPT_END {NULL, ND_OPT_FLAG, NULL, 0, 0, NULL}

enum { ND_OPTS_OK = 0, ND_OPTS_HELP = 1, ND_OPTS_BAD = 2 };

/* Reads argv[first..argc) against opts (ended by an entry with a NULL
 * name). Arguments that are not options are positional: they are moved,
 * in order, to argv[0..*n_pos) (argv itself is rearranged; at most
 * max_pos of them, more is a mistake). Returns ND_OPTS_OK; ND_OPTS_HELP
 * for --help or -h (the caller prints its usage on stdout); ND_OPTS_BAD
 * after saying on stderr, as "consort-node CMD: ...", what was wrong. */
int nd_opts_parse(const char *cmd, int argc, char **argv, int first,
                  const struct nd_opt *opts, int max_pos, int *n_pos);

/* A command's usage on to: the synopsis always; the details too on
 * stdout (--help asked for them; after a mistake the synopsis is enough). */
void nd_opts_usage(FILE *to, const char *synopsis, const char *details);

/* After nd_opts_parse returned rc (not ND_OPTS_OK): usage printed on
 * stdout for help, on stderr after a mistake; the exit status, 0 or 2. */
int nd_opts_exit(int rc, void (*usage)(FILE *out));

#endif
