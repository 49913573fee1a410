/* cmd_verify.c - `consort-node verify`: the archive checked against its
 * index, read-only and beside a running node, for an operator (or a
 * nightly cron job): every indexed instance's file is there, with the size
 * the index and its own size mark say (--deep: also parsed, holding the
 * SOP Instance UID it is indexed under); every file in data/ is indexed;
 * and what waits for a person: files kept aside in conflicts/, forwarding
 * items that went dead. One line per problem, a summary, exit 1 if the
 * archive and its index disagree. */
#define _GNU_SOURCE
#include "cmd.h"
#include "opts.h"

#include "archive.h"
#include "config.h"
#include "files.h"
#include "index.h"
#include "nd.h"
#include "queue.h"
#include "record.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct check {
    nd_archive *ar;
    int deep, show;
    long n, missing, wrong_size, unreadable, orphans;
    double bytes;
    struct nd_files paths; /* indexed paths, in order (for orphans) */
    long total;            /* for the progress bar */
    double t0;
};

static void usage(FILE *to)
{
    nd_opts_usage(
        to,
        "usage: consort-node verify [--storage DIR | --config FILE] "
        "[--deep]\n"
        "                           [--no-progress]\n",
        "\nChecks the archive against its index, read-only (the node "
        "may run):\nevery indexed instance's file is there with its "
        "size; every file in\ndata/ is indexed. --deep also parses each "
        "file and compares its SOP\nInstance UID with the index. Says "
        "what waits for an operator (files in\nconflicts/, dead "
        "forwarding items). One line per problem and a summary;\nexit 1 "
        "if the archive and its index disagree.");
}

static void problem(struct check *c, const char *what, const char *path,
                    const char *study)
{
    if (c->show)
        fputc('\n', stderr);
    printf("%-12s %s  (study %s)\n", what, path, study);
}

/* The indexed paths alone (the second look for files not indexed). */
static int path_only(void *user, const char *sop_uid, const char *study_uid,
                     const char *path, int64_t size)
{
    (void)sop_uid;
    (void)study_uid;
    (void)size;
    return nd_files_push(user, path);
}

static int one(void *user, const char *sop_uid, const char *study_uid,
               const char *path, int64_t size)
{
    struct check *c = user;
    c->n++;
    c->bytes += (double)size;
    if (nd_files_push(&c->paths, path) < 0) /* for the files not indexed */
        return ND_ENOMEM;
    char full[1400];
    snprintf(full, sizeof full, "%s/%s", nd_archive_root(c->ar), path);
    struct stat st;
    if (stat(full, &st) != 0) {
        c->missing++;
        problem(c, "MISSING", path, study_uid);
    } else if (st.st_size != size || nd_archive_complete(c->ar, path) == 0) {
        c->wrong_size++;
        problem(c, "WRONG SIZE", path, study_uid);
    } else if (c->deep) {
        struct nd_record rec;
        char why[300];
        if (nd_record_read(full, -1, &rec, why, sizeof why) < 0 ||
            strcmp(rec.sop_uid, sop_uid) != 0) {
            c->unreadable++;
            problem(c, "UNREADABLE", path, study_uid);
        }
    }
    if (c->show && (c->n % 256 == 0 || c->n == c->total))
        nd_files_progress((size_t)c->n, (size_t)c->total, c->bytes,
                          nd_now_s() - c->t0, 0);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int indexed(const struct check *c, const char *rel)
{
    const char *key = rel;
    return c->paths.n &&
           bsearch(&key, c->paths.v, c->paths.n, sizeof *c->paths.v,
                   cmp_str) != NULL;
}

/* Files in data/ the index does not name. */
struct orphans {
    const struct check *c;
    struct nd_files found;
};

static int orphan(void *user, const char *rel)
{
    struct orphans *o = user;
    return indexed(o->c, rel) ? 0 : nd_files_push(&o->found, rel);
}

static long count_files(const char *dir)
{
    DIR *d = opendir(dir);
    long n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int dead_items(void *user, const struct nd_qstat *st)
{
    *(int64_t *)user += st->dead;
    return 0;
}

int nd_cmd_verify(int argc, char **argv)
{
    const char *cfg_path = NULL, *storage = NULL;
    int deep = 0, no_progress = 0, n_pos;
    const struct nd_opt opts[] = {
        ND_STR("--config", &cfg_path),
        ND_STR("--storage", &storage),
        ND_FLAG("--deep", &deep),
        ND_FLAG("--no-progress", &no_progress),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("verify", argc, argv, 1, opts, 0, &n_pos);
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    char dir[1024], err[512];
    nd_index *ix = nd_cmd_open_index("verify", cfg_path, storage, 0, dir,
                                     sizeof dir);
    if (!ix)
        return 1;
    struct check c = {.deep = deep, .show = !no_progress && isatty(2),
                      .t0 = nd_now_s()};
    struct orphans o = {.c = &c};
    int rc = 1;
    /* NULL out_purged: read-only, tmp/ is the running node's */
    if (nd_archive_open(dir, 0, &c.ar, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "consort-node verify: %s\n", err);
        goto out;
    }
    int64_t totals[5];
    if (nd_index_totals(ix, totals) == 0)
        c.total = (long)totals[3];
    int r = nd_index_files(ix, one, &c);
    if (c.show && c.n)
        fputc('\n', stderr);
    if (r < 0) {
        fprintf(stderr, "consort-node verify: cannot read the index: %s\n",
                nd_index_errmsg(ix));
        goto out;
    }
    /* the index's own order is SQLite's; bsearch wants strcmp's */
    qsort(c.paths.v, c.paths.n, sizeof *c.paths.v, cmp_str);
    if (nd_archive_walk(c.ar, 0, orphan, &o) < 0) {
        fprintf(stderr, "consort-node verify: cannot read %s/data\n", dir);
        goto out;
    }
    /* a running node indexes a file just after it gets its name (and
     * `delete` removes the file just after its rows): a file caught in
     * between is looked up again before it counts */
    for (size_t i = 0; i < o.found.n; i++) {
        if (i == 0) {
            sleep(1);
            nd_files_free(&c.paths);
            if (nd_index_files(ix, path_only, &c.paths) == 0)
                qsort(c.paths.v, c.paths.n, sizeof *c.paths.v, cmp_str);
        }
        char full[1300];
        snprintf(full, sizeof full, "%s/%s", dir, o.found.v[i]);
        if (access(full, F_OK) == 0 && !indexed(&c, o.found.v[i])) {
            c.orphans++;
            printf("%-12s %s\n", "NOT INDEXED", o.found.v[i]);
        }
    }
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/conflicts", dir);
    long conflicts = count_files(sub);
    int64_t dead = 0;
    nd_queue_stats(ix, (int64_t)time(NULL), dead_items, &dead);
    long bad = c.missing + c.wrong_size + c.unreadable + c.orphans;
    printf("%ld instance(s), %.1f MB, checked%s in %.1f s: ", c.n,
           c.bytes / 1e6, deep ? " (parsed)" : "", nd_now_s() - c.t0);
    if (!bad)
        printf("the archive and its index agree");
    const char *sep = "";
    if (c.missing) {
        printf("%ld missing", c.missing);
        sep = "; ";
    }
    if (c.wrong_size) {
        printf("%s%ld of the wrong size", sep, c.wrong_size);
        sep = "; ";
    }
    if (c.unreadable) {
        printf("%s%ld unreadable", sep, c.unreadable);
        sep = "; ";
    }
    if (c.orphans)
        printf("%s%ld not indexed (a starting node indexes them)", sep,
               c.orphans);
    printf("\n");
    if (conflicts)
        printf("%ld file(s) in %s wait for an operator (an instance sent "
               "again with other content): `consort-node conflicts`\n",
               conflicts, sub);
    if (dead)
        printf("%lld forwarding item(s) are dead: `consort-node queue list "
               "--dead`, then retry or drop\n",
               (long long)dead);
    rc = bad ? 1 : 0;
out:
    nd_files_free(&o.found);
    nd_files_free(&c.paths);
    nd_archive_close(c.ar);
    nd_index_close(ix);
    return rc;
}
