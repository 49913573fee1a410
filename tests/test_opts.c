/* test_opts.c - consort-node's option tables (dicom/node/opts.c): both
 * spellings of a value, flags, ranges, repeated options, positionals
 * moved to the front, "--", help, and each mistake refused. */
#include "opts.h"
#include "t.h"

#include <stdlib.h>

struct seen {
    const char *keys[4];
    int n;
};

static int add(void *dst, const char *v)
{
    struct seen *s = dst;
    if (s->n >= 4 || strcmp(v, "bad") == 0)
        return -1;
    s->keys[s->n++] = v;
    return 0;
}

struct r {
    const char *str;
    int flag, num, n_pos;
    struct seen keys;
};

/* parses the NULL-ended words (argv[0] is the command) */
static int parse(struct r *r, int max_pos, char **words)
{
    memset(r, 0, sizeof *r);
    r->num = -1;
    int argc = 0;
    while (words[argc])
        argc++;
    const struct nd_opt opts[] = {
        ND_STR("--str", &r->str),
        ND_FLAG("--flag", &r->flag),
        ND_INT("--num", &r->num, 0, 100),
        ND_CALL("-k", &r->keys, add),
        ND_CALL("--key", &r->keys, add),
        ND_OPT_END,
    };
    return nd_opts_parse("test", argc, words, 1, opts, max_pos, &r->n_pos);
}

int main(void)
{
    struct r r;
    char *a1[] = {"t", "one", "--str", "x", "two", "--num=42", "--flag",
                  "-k", "A=1", "--key=B=2", "--", "--three", NULL};
    CHECK(parse(&r, 8, a1) == ND_OPTS_OK);
    CHECK(r.str && strcmp(r.str, "x") == 0);
    CHECK(r.flag == 1 && r.num == 42);
    CHECK(r.keys.n == 2 && strcmp(r.keys.keys[0], "A=1") == 0 &&
          strcmp(r.keys.keys[1], "B=2") == 0);
    /* positionals in order at the front of argv, "--three" after "--" */
    CHECK(r.n_pos == 3 && strcmp(a1[0], "one") == 0 &&
          strcmp(a1[1], "two") == 0 && strcmp(a1[2], "--three") == 0);
    char *a2[] = {"t", "-", NULL}; /* "-" is a file (stdin), not an option */
    CHECK(parse(&r, 1, a2) == ND_OPTS_OK && r.n_pos == 1);

    char *h[] = {"t", "--num", "1", "-h", NULL};
    CHECK(parse(&r, 0, h) == ND_OPTS_HELP);
    char *h2[] = {"t", "--help", NULL};
    CHECK(parse(&r, 0, h2) == ND_OPTS_HELP);

    fprintf(stderr, "-- the refusals below are expected:\n");
    char *b1[] = {"t", "--num", "abc", NULL}; /* was atoi: 0 */
    CHECK(parse(&r, 0, b1) == ND_OPTS_BAD);
    char *b2[] = {"t", "--num=101", NULL};
    CHECK(parse(&r, 0, b2) == ND_OPTS_BAD);
    char *b3[] = {"t", "--num", "5x", NULL};
    CHECK(parse(&r, 0, b3) == ND_OPTS_BAD);
    char *b4[] = {"t", "--str", NULL}; /* no value */
    CHECK(parse(&r, 0, b4) == ND_OPTS_BAD);
    char *b5[] = {"t", "--flag=1", NULL};
    CHECK(parse(&r, 0, b5) == ND_OPTS_BAD);
    char *b6[] = {"t", "--nope", NULL};
    CHECK(parse(&r, 0, b6) == ND_OPTS_BAD);
    char *b7[] = {"t", "a", "b", NULL}; /* one positional allowed */
    CHECK(parse(&r, 1, b7) == ND_OPTS_BAD);
    char *b8[] = {"t", "-k", "bad", NULL}; /* the callback refuses */
    CHECK(parse(&r, 0, b8) == ND_OPTS_BAD);
    char *b9[] = {"t", "--st", "x", NULL}; /* no abbreviations */
    CHECK(parse(&r, 0, b9) == ND_OPTS_BAD);
    char *b10[] = {"t", "-str", "x", NULL};
    CHECK(parse(&r, 0, b10) == ND_OPTS_BAD);
    return T_DONE();
}
