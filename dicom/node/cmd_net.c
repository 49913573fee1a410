/* cmd_net.c - the SCU commands for technicians and scripts:
 * `consort-node echo` and `consort-node send` (files and folders, one
 * association, progress on a terminal, summary, exit 1 if anything
 * failed). */
#define _GNU_SOURCE
#include "cmd.h"
#include "files.h"
#include "opts.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dcx/dataset.h"
#include "dcx/net.h"
#include "dcx/tags.h"
#include "dcx/uids.h"

int nd_parse_dest(const char *s, char *ae, size_t aelen, char *host,
                  size_t hostlen, int *port, const char **out_why)
{
    /* the last '@' and the ':' after it: neither may be in a host name */
    const char *at = strrchr(s, '@');
    const char *colon = at ? strrchr(at, ':') : NULL;
    size_t ae_n = at ? (size_t)(at - s) : 0;
    const char *why = NULL;
    if (!at)
        why = "no AE title (expected AE@HOST:PORT)";
    else if (ae_n == 0)
        why = "the AE title before '@' is empty";
    else if (ae_n > DCX_AE_LEN || ae_n >= aelen)
        why = "the AE title is longer than 16 characters";
    else if (!colon)
        why = "no port (expected AE@HOST:PORT)";
    else if (colon == at + 1)
        why = "the host is empty";
    else if ((size_t)(colon - at - 1) >= hostlen)
        why = "the host name is too long";
    for (const char *c = s; !why && c < at; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7E ||
            *c == '\\') /* PS3.5 6.2: AE is printable, no backslash */
            why = "the AE title must be printable ASCII without '\\'";
    long p = 0;
    if (!why) {
        char *end;
        errno = 0;
        p = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || p < 1 || p > 65535)
            why = "port must be 1-65535";
    }
    if (why) {
        *out_why = why;
        return -1;
    }
    snprintf(ae, aelen, "%.*s", (int)ae_n, s);
    snprintf(host, hostlen, "%.*s", (int)(colon - at - 1), at + 1);
    *port = (int)p;
    return 0;
}

int nd_check_dest(const char *cmd, const char *s, char *ae, size_t aelen,
                  char *host, size_t hostlen, int *port)
{
    const char *why;
    if (nd_parse_dest(s, ae, aelen, host, hostlen, port, &why) == 0)
        return 0;
    fprintf(stderr, "consort-node %s: '%s': %s\n", cmd, s, why);
    return -1;
}

/* ---- echo ---- */

static void echo_usage(FILE *to)
{
    nd_opts_usage(to,
                  "usage: consort-node echo AE@HOST:PORT [--aet OUR_AE] "
                  "[--count N]\n",
                  "\nSends C-ECHO (verification) and prints the round trip; "
                  "exit 1 if it fails.");
}

int nd_cmd_echo(int argc, char **argv)
{
    const char *aet = "CONSORT";
    int count = 1, n_pos;
    const struct nd_opt opts[] = {
        ND_STR("--aet", &aet),
        ND_INT("--count", &count, 1, 100000),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("echo", argc, argv, 1, opts, 1, &n_pos);
    char ae[DCX_AE_LEN + 1], host[256];
    int port;
    if (pr == ND_OPTS_OK && n_pos != 1) {
        fprintf(stderr, "consort-node echo: which peer? (AE@HOST:PORT)\n");
        pr = ND_OPTS_BAD;
    }
    if (pr == ND_OPTS_OK && nd_check_dest("echo", argv[0], ae, sizeof ae, host,
                                          sizeof host, &port) < 0)
        pr = ND_OPTS_BAD;
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, echo_usage);
    const char *dest = argv[0];
    static const char *const ts[] = {DCX_TS_EXPLICIT_LE, DCX_TS_IMPLICIT_LE};
    struct dcx_scu_context ctx = {"1.2.840.10008.1.1", ts, 2, 0};
    struct dcx_scu_opts o = {.calling_ae = aet, .called_ae = ae,
                             .host = host, .port = port};
    struct dcx_error e;
    dcx_scu *scu;
    double t0 = nd_now_s();
    if (dcx_scu_open(&o, &ctx, 1, &scu, &e) < 0) {
        fprintf(stderr, "consort-node echo: %s\n", e.msg);
        return 1;
    }
    double t1 = nd_now_s();
    int bad = 0;
    for (int i = 0; i < count; i++) {
        uint16_t st = 0;
        double a = nd_now_s();
        int rc = dcx_scu_echo(scu, &st);
        double b = nd_now_s();
        if (rc < 0 || st != 0) {
            fprintf(stderr, "consort-node echo: %s\n",
                    rc < 0 ? dcx_scu_errmsg(scu) : dcx_status_str(st));
            bad = 1;
            break;
        }
        printf("echo %s: ok, association %.1f ms, echo %.2f ms\n", dest,
               (t1 - t0) * 1e3, (b - a) * 1e3);
    }
    dcx_scu_close(scu);
    return bad;
}

/* ---- send ---- */

struct item {
    char *path;
    char sop_class[68], ts[68];
    const char *skip; /* reason, or NULL if sendable */
    char why[256];    /* a skip reason made for this file */
};

struct list {
    struct item *v;
    size_t n, cap;
};

/* The items of the files named. */
static int collect(struct list *l, char **paths, size_t n)
{
    struct nd_files f = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = nd_files_add("send", &f, paths[i]);
    if (rc == 0 && f.n) {
        l->v = calloc(f.n, sizeof *l->v);
        if (!l->v)
            rc = -1;
        for (size_t i = 0; l->v && i < f.n; i++) {
            l->v[i].path = f.v[i]; /* taken over */
            f.v[i] = NULL;
        }
        l->n = l->cap = l->v ? f.n : 0;
    }
    nd_files_free(&f);
    return rc;
}

static void describe(struct item *it)
{
    struct dcx_open_opts oo = {.no_pixels = 1, .no_charset_guess = 1};
    dcx_ds *ds;
    struct dcx_error e;
    if (dcx_ds_open(it->path, &oo, &ds, &e) < 0) {
        it->skip = "not a readable DICOM file";
        return;
    }
    /* a DICOMDIR names its class in the meta only */
    int dicomdir =
        strcmp(dcx_ds_media_class(ds), "1.2.840.10008.1.3.10") == 0;
    dcx_ds_close(ds);
    if (dicomdir) {
        it->skip = "DICOMDIR (a media index, not an instance)";
        return;
    }
    /* the UIDs as the C-STORE will name them: proposing anything else
     * (the hex a UID stored with VR UN reads as) made the peer refuse a
     * context no file needed, and the file fail with a bogus class */
    char inst[68];
    int rc = dcx_store_head(it->path, it->sop_class, sizeof it->sop_class, inst,
                            sizeof inst, it->ts, sizeof it->ts, &e);
    if (rc < 0) {
        snprintf(it->why, sizeof it->why, "%s", e.msg);
        it->skip = it->why;
    }
}

static int is_plain(const char *ts)
{
    return strcmp(ts, DCX_TS_IMPLICIT_LE) == 0 ||
           strcmp(ts, DCX_TS_EXPLICIT_LE) == 0 ||
           strcmp(ts, DCX_TS_EXPLICIT_BE) == 0;
}

/* Presentation contexts: per SOP class, each file syntax on its own
 * (sent as stored), plus explicit/implicit little endian as the fallback
 * the peer can always take (DCMTK converts when it must). */
struct ctxs {
    struct dcx_scu_context c[128];
    const char *ts[128][3];
    size_t n;
};

static int add_ctx(struct ctxs *cx, const char *as, const char *t0,
                   const char *t1, const char *t2)
{
    for (size_t i = 0; i < cx->n; i++)
        if (strcmp(cx->c[i].abstract_syntax, as) == 0 &&
            strcmp(cx->ts[i][0], t0) == 0)
            return 0;
    if (cx->n >= 128)
        return -1;
    size_t k = cx->n++;
    cx->ts[k][0] = t0;
    cx->ts[k][1] = t1;
    cx->ts[k][2] = t2;
    cx->c[k].abstract_syntax = as;
    cx->c[k].transfer_syntaxes = cx->ts[k];
    cx->c[k].n_transfer_syntaxes = t2 ? 3 : t1 ? 2 : 1;
    return 0;
}

static int build_ctxs(struct ctxs *cx, struct list *l)
{
    cx->n = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct item *it = &l->v[i];
        if (it->skip)
            continue;
        int rc;
        if (is_plain(it->ts))
            rc = add_ctx(cx, it->sop_class, it->ts,
                         strcmp(it->ts, DCX_TS_EXPLICIT_LE) ? DCX_TS_EXPLICIT_LE
                                                            : DCX_TS_IMPLICIT_LE,
                         strcmp(it->ts, DCX_TS_EXPLICIT_LE) &&
                                 strcmp(it->ts, DCX_TS_IMPLICIT_LE)
                             ? DCX_TS_IMPLICIT_LE
                             : NULL);
        else
            rc = add_ctx(cx, it->sop_class, it->ts, NULL, NULL) ||
                 add_ctx(cx, it->sop_class, DCX_TS_EXPLICIT_LE,
                         DCX_TS_IMPLICIT_LE, NULL);
        if (rc)
            return -1;
    }
    return 0;
}

static void send_usage(FILE *to)
{
    nd_opts_usage(
        to,
        "usage: consort-node send PATH... --to AE@HOST:PORT "
        "[--aet OUR_AE] [--timeout S] [--no-progress]\n",
        "\nSends DICOM files, and the files in folders (recursively), "
        "over one\nassociation (C-STORE). Each file is offered in its "
        "own transfer syntax,\nwith uncompressed as fallback. Prints "
        "a progress bar on a terminal and\na summary; exit 1 if any "
        "file failed (files that are not DICOM are\nskipped).");
}

int nd_cmd_send(int argc, char **argv)
{
    const char *dest = NULL, *aet = "CONSORT";
    int timeout = 30, no_progress = 0, n_pos;
    struct list l = {0};
    const struct nd_opt opts[] = {
        ND_STR("--to", &dest),
        ND_STR("--aet", &aet),
        ND_INT("--timeout", &timeout, 1, 86400),
        ND_FLAG("--no-progress", &no_progress),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("send", argc, argv, 1, opts, argc, &n_pos);
    char ae[DCX_AE_LEN + 1], host[256];
    int port;
    if (pr == ND_OPTS_OK && (!dest || n_pos == 0)) {
        fprintf(stderr, "consort-node send: %s\n",
                !dest ? "where to? (--to AE@HOST:PORT)"
                      : "no file or folder to send");
        pr = ND_OPTS_BAD;
    }
    if (pr == ND_OPTS_OK && nd_check_dest("send", dest, ae, sizeof ae, host,
                                          sizeof host, &port) < 0)
        pr = ND_OPTS_BAD;
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, send_usage);
    int show = !no_progress && isatty(2);
    char **paths = argv;
    size_t npaths = (size_t)n_pos;
    int rc = collect(&l, paths, npaths);
    if (rc < 0)
        return 1;
    size_t sendable = 0;
    for (size_t i = 0; i < l.n; i++) {
        describe(&l.v[i]);
        sendable += !l.v[i].skip;
    }
    static struct ctxs cx;
    if (build_ctxs(&cx, &l) < 0) {
        fprintf(stderr, "consort-node send: more than 128 SOP class / "
                        "transfer syntax combinations; send the folders "
                        "one at a time\n");
        return 1;
    }
    /* all of them, also those after a failed association */
    size_t sent = 0, failed = 0, skipped = l.n - sendable;
    double bytes = 0, t0 = nd_now_s();
    dcx_scu *scu = NULL;
    struct dcx_scu_opts o = {.calling_ae = aet, .called_ae = ae, .host = host,
                             .port = port, .timeout = timeout};
    int reconnects = 0;
    char **why = calloc(l.n ? l.n : 1, sizeof *why);
    for (size_t i = 0; i < l.n; i++) {
        struct item *it = &l.v[i];
        if (it->skip)
            continue;
        if (!scu) {
            struct dcx_error e;
            if (dcx_scu_open(&o, cx.c, cx.n, &scu, &e) < 0) {
                if (show)
                    fputc('\n', stderr);
                fprintf(stderr, "consort-node send: %s\n", e.msg);
                failed += sendable - sent - failed;
                break;
            }
        }
        uint16_t st = 0;
        int r = dcx_scu_store(scu, it->path, &st);
        if (r == DCX_ENET && reconnects < 3) {
            /* the link broke: a new association, this file again */
            dcx_scu_close(scu);
            scu = NULL;
            reconnects++;
            i--;
            continue;
        }
        if (r < 0 || (st != 0 && (st & 0xF000) != 0xB000)) {
            failed++;
            char *msg = NULL;
            if (asprintf(&msg, "%s",
                         r < 0 ? dcx_scu_errmsg(scu) : dcx_status_str(st)) >= 0)
                why[i] = msg;
            if (r == DCX_ENET) {
                dcx_scu_close(scu);
                scu = NULL;
            }
        } else {
            sent++;
            struct stat sb;
            if (stat(it->path, &sb) == 0)
                bytes += (double)sb.st_size;
        }
        if (show)
            nd_files_progress(sent + failed, sendable, bytes, nd_now_s() - t0,
                              0);
    }
    dcx_scu_close(scu);
    if (show && sendable)
        nd_files_progress(sent + failed, sendable, bytes, nd_now_s() - t0, 1);
    double dt = nd_now_s() - t0;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].skip)
            printf("skipped  %s: %s\n", l.v[i].path, l.v[i].skip);
        else if (why[i])
            printf("FAILED   %s: %s\n", l.v[i].path, why[i]);
        free(why[i]);
        free(l.v[i].path);
    }
    printf("send to %s: %zu sent, %zu failed, %zu skipped; %.1f MB in "
           "%.1f s\n",
           dest, sent, failed, skipped, bytes / 1e6, dt);
    free(why);
    free(l.v);
    if (sendable == 0)
        fprintf(stderr, "consort-node send: no DICOM files to send\n");
    return failed || sendable == 0 ? 1 : 0;
}
