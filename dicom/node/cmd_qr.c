/* cmd_qr.c - Query/Retrieve SCU commands: `consort-node find` (table or
 * JSON), `consort-node get` (C-GET into a folder) and `consort-node move`
 * (C-MOVE to a third AE). */
#define _GNU_SOURCE
#include "cmd.h"
#include "opts.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcx/dataset.h"
#include "dcx/dcx.h"
#include "dcx/net.h"
#include "dcx/tags.h"
#include "dcx/uids.h"
#include "files.h"

#define FIND_STUDY "1.2.840.10008.5.1.4.1.2.2.1"
#define FIND_PATIENT "1.2.840.10008.5.1.4.1.2.1.1"
#define MOVE_STUDY "1.2.840.10008.5.1.4.1.2.2.2"
#define MOVE_PATIENT "1.2.840.10008.5.1.4.1.2.1.2"
#define GET_STUDY "1.2.840.10008.5.1.4.1.2.2.3"
#define GET_PATIENT "1.2.840.10008.5.1.4.1.2.1.3"
#define MAX_KEYS 64

struct qr_args {
    const char *cmd; /* "find", "get", "move": for messages */
    char ae[DCX_AE_LEN + 1], host[256];
    int port;
    const char *our_ae, *level, *dest, *out_dir;
    int patient_root, json, timeout;
    struct dcx_attr keys[MAX_KEYS + 1]; /* and the level, put first */
    size_t n_keys;
};

static const char *const default_keys[4][9] = {
    {"PatientName", "PatientID", "PatientBirthDate", "PatientSex",
     "NumberOfPatientRelatedStudies", NULL},
    {"PatientName", "PatientID", "StudyDate", "ModalitiesInStudy",
     "StudyDescription", "NumberOfStudyRelatedInstances", "AccessionNumber",
     "StudyInstanceUID", NULL},
    {"SeriesNumber", "Modality", "SeriesDescription",
     "NumberOfSeriesRelatedInstances", "StudyInstanceUID",
     "SeriesInstanceUID", NULL},
    {"InstanceNumber", "SOPClassUID", "Rows", "Columns", "SeriesInstanceUID",
     "SOPInstanceUID", NULL},
};

static int level_index(const char *l)
{
    static const char *const n[] = {"PATIENT", "STUDY", "SERIES", "IMAGE"};
    for (int i = 0; i < 4; i++)
        if (strcmp(l, n[i]) == 0)
            return i;
    return -1;
}

static int add_key(struct qr_args *a, const char *kv)
{
    char name[128];
    const char *eq = strchr(kv, '=');
    size_t n = eq ? (size_t)(eq - kv) : strlen(kv);
    if (n == 0 || n >= sizeof name) {
        fprintf(stderr, "consort-node %s: -k '%s': %s\n", a->cmd, kv,
                n == 0 ? "no attribute before '='" : "attribute name too long");
        return -1;
    }
    memcpy(name, kv, n);
    name[n] = '\0';
    uint32_t tag;
    if (dcx_tag_parse(name, &tag) < 0) {
        fprintf(stderr,
                "consort-node %s: -k '%s': unknown attribute '%s' (a "
                "keyword such as PatientName, or gggg,eeee)\n",
                a->cmd, kv, name);
        return -1;
    }
    for (size_t i = 0; i < a->n_keys; i++) {
        if (a->keys[i].tag == tag) { /* a value beats a bare key */
            if (eq)
                a->keys[i].value = eq + 1;
            return 0;
        }
    }
    if (a->n_keys >= MAX_KEYS) {
        fprintf(stderr,
                "consort-node %s: -k '%s': too many keys (at most "
                "%d)\n",
                a->cmd, kv, MAX_KEYS);
        return -1;
    }
    a->keys[a->n_keys].tag = tag;
    a->keys[a->n_keys++].value = eq ? eq + 1 : "";
    return 0;
}

static void usage_qr(FILE *to, const char *cmd)
{
    if (to == stderr) { /* after a mistake: the synopsis is the hint */
        fprintf(to,
                "usage: consort-node %s AE@HOST:PORT [-k KEY[=VALUE]]... "
                "[--level L]%s ... (--help: all options)\n",
                cmd,
                strcmp(cmd, "find") == 0  ? " [--json]"
                : strcmp(cmd, "get") == 0 ? " -o DIR"
                                          : " --dest AE");
        return;
    }
    fprintf(to,
            "usage: consort-node %s AE@HOST:PORT [-k KEY[=VALUE]]... "
            "[--level L]%s\n"
            "       [--patient-root] [--aet OUR_AE] [--timeout S]\n\n"
            "KEY is a keyword (PatientName) or gggg,eeee; VALUE may use the "
            "matching of\nPS3.4 C.2.2.2: * and ? wildcards, date ranges "
            "(20240101-20240131), UID\nlists (a\\b). L is PATIENT, STUDY "
            "(default), SERIES or IMAGE. Study Root\nunless --patient-root.%s\n",
            cmd,
            strcmp(cmd, "find") == 0   ? " [--json]"
            : strcmp(cmd, "get") == 0  ? " -o DIR"
                                       : " --dest AE",
            strcmp(cmd, "find") == 0
                ? " The usual keys of the level are always asked, with\n"
                  "those given by -k, and shown as a table (or JSON)."
            : strcmp(cmd, "get") == 0
                ? " The instances are written to DIR as <SOP Instance "
                  "UID>.dcm,\nas the peer sends them."
                : " The peer sends the instances to AE (it must know it).");
}

/* Parses the common arguments; returns 0, 1 (printed help) or 2. */
static int key_opt(void *a, const char *kv)
{
    return add_key(a, kv);
}

static int parse(struct qr_args *a, const char *cmd, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->our_ae = "CONSORT";
    a->level = "STUDY";
    a->timeout = 60;
    const struct nd_opt opts[] = {
        ND_CALL("-k", a, key_opt),
        ND_CALL("--key", a, key_opt),
        ND_STR("--level", &a->level),
        ND_STR("--aet", &a->our_ae),
        ND_STR("--dest", &a->dest),
        ND_STR("-o", &a->out_dir),
        ND_INT("--timeout", &a->timeout, 1, 86400),
        ND_FLAG("--patient-root", &a->patient_root),
        ND_FLAG("--json", &a->json),
        ND_OPT_END,
    };
    int n_pos;
    int pr = nd_opts_parse(cmd, argc, argv, 1, opts, 1, &n_pos);
    if (pr == ND_OPTS_HELP) {
        usage_qr(stdout, cmd);
        return 1;
    }
    if (pr != ND_OPTS_OK) {
        usage_qr(stderr, cmd);
        return 2;
    }
    const char *dest = n_pos ? argv[0] : NULL;
    int lv = level_index(a->level);
    int bad = 1;
    if (!dest)
        fprintf(stderr, "consort-node %s: which peer? (AE@HOST:PORT)\n", cmd);
    else if (lv < 0)
        fprintf(stderr,
                "consort-node %s: --level '%s': must be PATIENT, "
                "STUDY, SERIES or IMAGE\n",
                cmd, a->level);
    else if (lv == 0 && !a->patient_root)
        fprintf(stderr,
                "consort-node %s: the PATIENT level needs "
                "--patient-root\n",
                cmd);
    else if (nd_check_dest(cmd, dest, a->ae, sizeof a->ae, a->host,
                           sizeof a->host, &a->port) == 0)
        bad = 0;
    if (bad) {
        usage_qr(stderr, cmd);
        return 2;
    }
    /* the level first, then the usual return keys of the level (keys
     * given with -k keep their values) */
    memmove(a->keys + 1, a->keys, a->n_keys * sizeof a->keys[0]);
    a->keys[0].tag = DCX_TAG(0x0008, 0x0052);
    a->keys[0].value = a->level;
    a->n_keys++;
    if (strcmp(cmd, "find") == 0)
        for (int i = 0; default_keys[lv][i] && a->n_keys < MAX_KEYS; i++)
            add_key(a, default_keys[lv][i]);
    return 0;
}

/* ---- find ---- */

struct find_out {
    struct qr_args *a;
    int n;
};

static int on_match(void *user, dcx_ds *m)
{
    struct find_out *fo = user;
    struct qr_args *a = fo->a;
    dcx_item *r = dcx_ds_root(m);
    if (a->json)
        printf("%s{", fo->n ? ",\n " : "[");
    for (size_t i = 0; i < a->n_keys; i++) {
        if (i == 0)
            continue; /* the level */
        char v[512] = "", name[64];
        int rc = dcx_item_get_str(r, a->keys[i].tag, -1, v, sizeof v);
        if (rc < 0 && rc != DCX_ECHARSET)
            v[0] = '\0';
        if (a->json) {
            printf("%s", i > 1 ? "," : "");
            dcx_json_print(stdout, dcx_tag_name(a->keys[i].tag, name, sizeof name));
            putchar(':');
            dcx_json_print(stdout, v);
        } else {
            printf("%s%s", i > 1 ? " | " : "", v[0] ? v : "-");
        }
    }
    printf(a->json ? "}" : "\n");
    fo->n++;
    return 0;
}

static dcx_scu *open_scu(struct qr_args *a, const char *cmd,
                         const struct dcx_scu_context *ctx, size_t n)
{
    struct dcx_scu_opts o = {.calling_ae = a->our_ae, .called_ae = a->ae,
                             .host = a->host, .port = a->port,
                             .timeout = a->timeout};
    dcx_scu *scu;
    struct dcx_error e;
    if (dcx_scu_open(&o, ctx, n, &scu, &e) < 0) {
        fprintf(stderr, "consort-node %s: %s\n", cmd, e.msg);
        return NULL;
    }
    return scu;
}

static const char *const plain_ts[] = {DCX_TS_EXPLICIT_LE, DCX_TS_IMPLICIT_LE};

int nd_cmd_find(int argc, char **argv)
{
    struct qr_args a;
    int rc = parse(&a, "find", argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    const char *model = a.patient_root ? FIND_PATIENT : FIND_STUDY;
    struct dcx_scu_context ctx = {model, plain_ts, 2, 0};
    dcx_scu *scu = open_scu(&a, "find", &ctx, 1);
    if (!scu)
        return 1;
    if (!a.json) {
        for (size_t i = 1; i < a.n_keys; i++) {
            char name[64];
            printf("%s%s", i > 1 ? " | " : "",
                   dcx_tag_name(a.keys[i].tag, name, sizeof name));
        }
        printf("\n");
    }
    struct find_out fo = {&a, 0};
    uint16_t st = 0;
    rc = dcx_scu_find(scu, model, a.keys, a.n_keys, on_match, &fo, &st);
    if (a.json)
        puts(fo.n ? "]" : "[]");
    if (rc < 0 || st != 0) {
        fprintf(stderr, "consort-node find: %s\n",
                rc < 0 ? dcx_scu_errmsg(scu) : dcx_status_str(st));
        dcx_scu_close(scu);
        return 1;
    }
    fflush(stdout);
    if (!a.json)
        fprintf(stderr, "%d match(es)\n", fo.n);
    dcx_scu_close(scu);
    return 0;
}

/* ---- get and move: progress, Ctrl+C ---- */

/* Ctrl+C during a C-GET or C-MOVE: C-CANCEL, so that the peer stops and
 * what arrived is left whole (a C-GET renames each instance into place
 * once received), instead of a killed transfer. A second Ctrl+C ends the
 * process (a peer that no longer answers). */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct progress {
    const char *verb; /* "received", "moved" */
    double t0, last;
    int tty, shown;
    struct sigaction old;
};

static void progress_begin(struct progress *p, const char *verb)
{
    *p = (struct progress){.verb = verb, .t0 = nd_now_s(), .tty = isatty(2)};
    struct sigaction sa = {.sa_handler = on_sigint,
                           .sa_flags = SA_RESTART | SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &p->old);
}

static void progress_end(struct progress *p, const char *cmd)
{
    sigaction(SIGINT, &p->old, NULL);
    if (p->shown)
        fputc('\n', stderr);
    if (interrupted)
        fprintf(stderr, "consort-node %s: interrupted: the peer was asked "
                        "to stop (C-CANCEL)\n",
                cmd);
}

/* The count on a terminal, five times a second at most. */
static int on_progress(void *user, unsigned done, int remaining)
{
    struct progress *p = user;
    double now = nd_now_s();
    if (p->tty && now - p->last >= 0.2) {
        p->last = now;
        p->shown = 1;
        if (remaining >= 0)
            fprintf(stderr, "\r%s %u of %u instance(s)  %.0f s   ", p->verb,
                    done, done + (unsigned)remaining, now - p->t0);
        else
            fprintf(stderr, "\r%s %u instance(s)  %.0f s   ", p->verb, done,
                    now - p->t0);
        fflush(stderr);
    }
    return interrupted;
}

/* ---- get ---- */

/* Storage classes a C-GET accepts, each in the usual syntaxes so that
 * instances arrive as stored (one context per syntax: the peer picks one
 * per context). */
int nd_cmd_get(int argc, char **argv)
{
    struct qr_args a;
    int rc = parse(&a, "get", argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!a.out_dir) {
        fprintf(stderr, "consort-node get: into which folder? (-o DIR)\n");
        usage_qr(stderr, "get");
        return 2;
    }
    if (mkdir(a.out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "consort-node get: %s: %s\n", a.out_dir,
                strerror(errno));
        return 1;
    }
    static struct dcx_scu_context ctx[128];
    const char *model = a.patient_root ? GET_PATIENT : GET_STUDY;
    size_t n = dcx_scu_get_contexts(model, ctx, 128);
    dcx_scu *scu = open_scu(&a, "get", ctx, n);
    if (!scu)
        return 1;
    unsigned got = 0;
    uint16_t st = 0;
    struct progress p;
    progress_begin(&p, "received");
    rc = dcx_scu_get(scu, model, a.keys, a.n_keys, a.out_dir, on_progress, &p,
                     &got, &st);
    progress_end(&p, "get");
    if (rc < 0)
        fprintf(stderr, "consort-node get: %s\n", dcx_scu_errmsg(scu));
    else
        printf("get from %s@%s:%d: %u instance(s) into %s; status %s\n",
               a.ae, a.host, a.port, got, a.out_dir, dcx_status_str(st));
    dcx_scu_close(scu);
    return rc < 0 || st != 0 ? 1 : 0;
}

/* ---- move ---- */

int nd_cmd_move(int argc, char **argv)
{
    struct qr_args a;
    int rc = parse(&a, "move", argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!a.dest || !*a.dest || strlen(a.dest) > DCX_AE_LEN) {
        if (!a.dest || !*a.dest)
            fprintf(stderr, "consort-node move: to which AE? (--dest AE)\n");
        else
            fprintf(stderr,
                    "consort-node move: --dest '%s': the AE title is "
                    "longer than 16 characters\n",
                    a.dest);
        usage_qr(stderr, "move");
        return 2;
    }
    const char *model = a.patient_root ? MOVE_PATIENT : MOVE_STUDY;
    struct dcx_scu_context ctx = {model, plain_ts, 2, 0};
    dcx_scu *scu = open_scu(&a, "move", &ctx, 1);
    if (!scu)
        return 1;
    unsigned done = 0, failed = 0;
    uint16_t st = 0;
    struct progress p;
    progress_begin(&p, "moved");
    rc = dcx_scu_move(scu, model, a.dest, a.keys, a.n_keys, on_progress, &p,
                      &done, &failed, &st);
    progress_end(&p, "move");
    if (rc < 0)
        fprintf(stderr, "consort-node move: %s\n", dcx_scu_errmsg(scu));
    else
        printf("move from %s@%s:%d to %s: %u completed, %u failed; status "
               "%s\n",
               a.ae, a.host, a.port, a.dest, done, failed,
               dcx_status_str(st));
    dcx_scu_close(scu);
    return rc < 0 || st != 0 ? 1 : 0;
}
