/* cmd_queue.c - `consort-node queue`: the operator's view of forwarding
 * (per destination: what waits, what is dead, what went and how fast),
 * the items themselves, and retry / drop of dead ones. Works on a running
 * node's index (SQLite serialises the writes). */
#include "cmd.h"
#include "opts.h"

#include "config.h"
#include "index.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcx/dcx.h"

static void usage(FILE *to)
{
    fputs("usage: consort-node queue [--storage DIR | --config FILE] [--json]\n"
          "       consort-node queue list [--dest AE] [--dead] [--json] ...\n"
          "       consort-node queue retry [--dest AE] [--id N] ...\n"
          "       consort-node queue drop [--dest AE] (--id N | --dead) ...\n"
          "\n"
          "Without a subcommand: per destination, items pending (ready to go\n"
          "now), in flight, dead; the age of the oldest; instances and bytes\n"
          "sent, bytes as stored, the effective rate and the last error.\n"
          "list: the items. retry: dead items (or item N) go again now.\n"
          "drop: delete dead items (or item N) from the queue; the instances\n"
          "stay in the archive.\n",
          to);
}

static void age(int64_t s, char *out, size_t len)
{
    if (s <= 0)
        snprintf(out, len, "-");
    else if (s < 3600)
        snprintf(out, len, "%lldm%02llds", (long long)(s / 60),
                 (long long)(s % 60));
    else
        snprintf(out, len, "%lldh%02lldm", (long long)(s / 3600),
                 (long long)(s % 3600 / 60));
}

struct out {
    int json, n;
    int64_t now;
};

static int stat_row(void *user, const struct nd_qstat *st)
{
    struct out *o = user;
    double rate = st->busy_ms > 0 ? st->bytes / 1e3 / (double)st->busy_ms : 0;
    int64_t oldest = st->oldest ? o->now - st->oldest : 0;
    if (o->json) {
        printf("%s{\"dest\":", o->n++ ? ",\n " : "[");
        dcx_json_print(stdout, st->dest);
        printf(",\"pending\":%lld,\"ready\":%lld,\"in_flight\":%lld,"
               "\"dead\":%lld,\"oldest_s\":%lld,\"sent\":%lld,\"bytes\":%lld,"
               "\"stored_bytes\":%lld,\"busy_ms\":%lld,\"rate_mb_s\":%.3f,"
               "\"last_ok\":%lld,\"last_error_at\":%lld,\"last_error\":",
               (long long)st->pending, (long long)st->ready,
               (long long)st->inflight, (long long)st->dead, (long long)oldest,
               (long long)st->sent, (long long)st->bytes,
               (long long)st->raw_bytes, (long long)st->busy_ms, rate,
               (long long)st->last_ok, (long long)st->last_error_at);
        dcx_json_print(stdout, st->last_error);
        printf("}");
        return 0;
    }
    if (o->n++ == 0)
        printf("%-16s %8s %8s %9s %6s %8s %8s %10s %10s %6s %9s  %s\n",
               "destination", "pending", "ready", "in flight", "dead",
               "oldest", "sent", "MB sent", "MB stored", "ratio", "MB/s",
               "last error");
    char a[32];
    age(oldest, a, sizeof a);
    char ratio[16] = "-";
    if (st->raw_bytes > 0)
        snprintf(ratio, sizeof ratio, "%.2f",
                 (double)st->bytes / (double)st->raw_bytes);
    char err[300] = "";
    if (st->last_error[0] && st->last_error_at > st->last_ok) {
        char when[32];
        age(o->now - st->last_error_at, when, sizeof when);
        snprintf(err, sizeof err, "%s ago: %s", when, st->last_error);
    }
    printf("%-16s %8lld %8lld %9lld %6lld %8s %8lld %10.1f %10.1f %6s %9.2f  "
           "%s\n",
           st->dest, (long long)st->pending, (long long)st->ready,
           (long long)st->inflight, (long long)st->dead, a,
           (long long)st->sent, st->bytes / 1e6, st->raw_bytes / 1e6, ratio,
           rate, err);
    return 0;
}

static int list_row(void *user, const struct nd_qentry *e)
{
    struct out *o = user;
    static const char *const names[] = {"pending", "in-flight", "?", "dead"};
    const char *state = e->state >= 0 && e->state <= 3 ? names[e->state] : "?";
    if (o->json) {
        printf("%s{\"id\":%lld,\"dest\":", o->n++ ? ",\n " : "[",
               (long long)e->id);
        dcx_json_print(stdout, e->dest);
        printf(",\"state\":\"%s\",\"attempts\":%d,\"next_try\":%lld,"
               "\"created\":%lld,\"sop_uid\":",
               state, e->attempts, (long long)e->next_try,
               (long long)e->created);
        dcx_json_print(stdout, e->sop_uid);
        printf(",\"study_uid\":");
        dcx_json_print(stdout, e->study_uid);
        printf(",\"last_error\":");
        dcx_json_print(stdout, e->last_error);
        printf("}");
        return 0;
    }
    if (o->n++ == 0)
        printf("%8s %-16s %-9s %8s %8s  %-64s %s\n", "id", "destination",
               "state", "attempts", "next in", "SOP Instance UID",
               "last error");
    char next[32];
    age(e->next_try - o->now, next, sizeof next);
    printf("%8lld %-16s %-9s %8d %8s  %-64s %s\n", (long long)e->id, e->dest,
           state, e->attempts, next, e->sop_uid, e->last_error);
    return 0;
}

struct ids {
    int64_t v[64];
    int n;
};

static int add_id(void *dst, const char *value)
{
    struct ids *ids = dst;
    char *end;
    long long v = strtoll(value, &end, 10);
    if (end == value || *end || v <= 0 || ids->n >= 64) {
        fprintf(stderr, "consort-node queue: %s '%s'\n",
                ids->n >= 64 ? "more than 64 ids at" : "bad id", value);
        return -1;
    }
    ids->v[ids->n++] = v;
    return 0;
}

int nd_cmd_queue(int argc, char **argv)
{
    const char *storage = NULL, *cfg_path = NULL, *dest = NULL, *sub = NULL;
    struct ids ids = {.n = 0};
    int dead = 0, n_pos;
    struct out o = {0, 0, (int64_t)time(NULL)};
    const struct nd_opt opts[] = {
        ND_STR("--storage", &storage),
        ND_STR("--config", &cfg_path),
        ND_STR("--dest", &dest),
        ND_CALL("--id", &ids, add_id),
        ND_FLAG("--dead", &dead),
        ND_FLAG("--json", &o.json),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("queue", argc, argv, 1, opts, 1, &n_pos);
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    if (n_pos)
        sub = argv[0];
    if (sub && strcmp(sub, "list") && strcmp(sub, "retry") &&
        strcmp(sub, "drop")) {
        fprintf(stderr, "consort-node queue: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    if (sub && strcmp(sub, "drop") == 0 && !dead && ids.n == 0) {
        fprintf(stderr, "consort-node queue drop: say which: --dead or --id "
                        "N\n");
        return 2;
    }
    char dir[1024];
    nd_index *ix = nd_cmd_open_index("queue", cfg_path, storage,
                                     sub && strcmp(sub, "list") != 0, dir,
                                     sizeof dir);
    if (!ix)
        return 1;
    int rc = 0;
    if (!sub) {
        rc = nd_queue_stats(ix, o.now, stat_row, &o);
        if (rc == 0 && o.json)
            puts(o.n ? "]" : "[]");
        else if (rc == 0 && o.n == 0)
            puts("nothing queued and nothing forwarded yet");
    } else if (strcmp(sub, "list") == 0) {
        rc = nd_queue_list(ix, dest, dead ? ND_Q_DEAD : -1, list_row, &o);
        if (rc == 0 && o.json)
            puts(o.n ? "]" : "[]");
        else if (rc == 0 && o.n == 0)
            puts("no items");
    } else {
        int retry = strcmp(sub, "retry") == 0;
        long long total = 0;
        for (int k = 0; rc >= 0 && k < (ids.n ? ids.n : 1); k++) {
            int64_t id = ids.n ? ids.v[k] : 0;
            rc = retry ? nd_queue_retry(ix, dest, id, o.now)
                       : nd_queue_drop(ix, dest, id);
            if (rc >= 0)
                total += rc;
        }
        if (rc >= 0) {
            printf("%lld item(s) %s\n", total,
                   retry ? "queued again" : "dropped");
            rc = 0;
        }
    }
    if (rc < 0)
        fprintf(stderr, "consort-node queue: %s\n", nd_index_errmsg(ix));
    nd_index_close(ix);
    return rc < 0 ? 1 : 0;
}
