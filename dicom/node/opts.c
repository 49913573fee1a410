/* opts.c - see opts.h. */
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The entry of opts that arg ("--name" or "--name=VALUE") names; *value
 * the text after '=' or NULL. */
static const struct nd_opt *find(const struct nd_opt *opts, const char *arg,
                                 const char **value)
{
    const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    *value = eq ? eq + 1 : NULL;
    for (const struct nd_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0)
            return o;
    return NULL;
}

static int set(const char *cmd, const struct nd_opt *o, const char *v)
{
    switch (o->kind) {
    case ND_OPT_STR:
        *(const char **)o->dst = v;
        return 0;
    case ND_OPT_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end || n < o->min || n > o->max) {
            fprintf(stderr, "consort-node %s: %s: '%s' is not a number in "
                            "%ld-%ld\n",
                    cmd, o->name, v, o->min, o->max);
            return -1;
        }
        *(int *)o->dst = (int)n;
        return 0;
    }
    case ND_OPT_CALL:
        return o->call(o->dst, v);
    case ND_OPT_FLAG:
        break;
    }
    return -1;
}

int nd_opts_parse(const char *cmd, int argc, char **argv, int first,
                  const struct nd_opt *opts, int max_pos, int *n_pos)
{
    int n = 0, only_pos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') { /* "-": stdin */
            if (n >= max_pos) {
                fprintf(stderr, "consort-node %s: unexpected argument '%s'\n",
                        cmd, a);
                return ND_OPTS_BAD;
            }
            argv[n++] = argv[i]; /* n <= i: nothing unread is overwritten */
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return ND_OPTS_HELP;
        const char *v;
        const struct nd_opt *o = find(opts, a, &v);
        if (!o) {
            fprintf(stderr, "consort-node %s: unknown option '%s'\n", cmd, a);
            return ND_OPTS_BAD;
        }
        if (o->kind == ND_OPT_FLAG) {
            if (v) {
                fprintf(stderr, "consort-node %s: %s takes no value\n", cmd,
                        o->name);
                return ND_OPTS_BAD;
            }
            *(int *)o->dst = 1;
            continue;
        }
        if (!v) {
            if (i + 1 >= argc) {
                fprintf(stderr, "consort-node %s: %s needs a value\n", cmd,
                        o->name);
                return ND_OPTS_BAD;
            }
            v = argv[++i];
        }
        if (set(cmd, o, v) < 0)
            return ND_OPTS_BAD;
    }
    *n_pos = n;
    return ND_OPTS_OK;
}

int nd_opts_exit(int rc, void (*usage)(FILE *out))
{
    usage(rc == ND_OPTS_HELP ? stdout : stderr);
    return rc == ND_OPTS_HELP ? 0 : 2;
}

void nd_opts_usage(FILE *to, const char *synopsis, const char *details)
{
    fputs(synopsis, to);
    if (to == stdout && details)
        puts(details);
}
