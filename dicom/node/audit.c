/* audit.c - the append-only JSON-lines audit trail (audit.h). */
#define _GNU_SOURCE
#include "audit.h"

#include "nd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcx/dcx.h"

struct nd_audit {
    int fd;
    pthread_mutex_t mu;
    unsigned long failures;
};

static const struct {
    const char *name, *id, *action;
} what_info[] = {
    [ND_AUDIT_START] = {"start", "110100", "E"},
    [ND_AUDIT_STOP] = {"stop", "110100", "E"},
    [ND_AUDIT_STORE] = {"store", "110104", "C"},
    [ND_AUDIT_QUERY] = {"query", "110112", "E"},
    [ND_AUDIT_RETRIEVE] = {"retrieve", "110104", "R"},
    [ND_AUDIT_FORWARD] = {"forward", "110104", "R"},
    [ND_AUDIT_EXPORT] = {"export", "110106", "R"},
    [ND_AUDIT_IMPORT] = {"import", "110107", "C"},
    [ND_AUDIT_DELETE] = {"delete", "110105", "D"},
    [ND_AUDIT_REFUSED] = {"refused", "110113", "E"},
    [ND_AUDIT_UPDATE] = {"update", "110103", "U"},
};

#define N_WHAT (sizeof what_info / sizeof what_info[0])

const char *nd_audit_name(enum nd_audit_what w)
{
    return (size_t)w < N_WHAT ? what_info[w].name : NULL;
}

const char *nd_audit_event_id(enum nd_audit_what w)
{
    return (size_t)w < N_WHAT ? what_info[w].id : NULL;
}

int nd_audit_open(const char *path, nd_audit **out, char *err, size_t errlen)
{
    *out = NULL;
    nd_audit *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        snprintf(err, errlen, "audit log %s: %s", path, strerror(errno));
        free(a);
        return -1;
    }
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return 0;
}

void nd_audit_close(nd_audit *a)
{
    if (!a)
        return;
    fdatasync(a->fd);
    close(a->fd);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* A growable line. */
struct line {
    char *s;
    size_t len, cap;
    int oom;
};

static void add(struct line *l, const char *t, size_t n)
{
    if (l->oom)
        return;
    if (l->len + n + 2 > l->cap) {
        size_t cap = (l->len + n + 2) * 2;
        char *s = realloc(l->s, cap);
        if (!s) {
            l->oom = 1;
            return;
        }
        l->s = s;
        l->cap = cap;
    }
    memcpy(l->s + l->len, t, n);
    l->len += n;
}

static void adds(struct line *l, const char *t)
{
    add(l, t, strlen(t));
}

/* ,"key":"value" with JSON escaping; UTF-8 passes through. */
static void field(struct line *l, const char *key, const char *v)
{
    if (!v || !*v)
        return;
    adds(l, ",\"");
    adds(l, key);
    adds(l, "\":\"");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char esc[8];
        add(l, esc, dcx_json_char(*p, esc));
    }
    adds(l, "\"");
}

static void number(struct line *l, const char *key, long v)
{
    if (v < 0)
        return;
    char b[64];
    snprintf(b, sizeof b, ",\"%s\":%ld", key, v);
    adds(l, b);
}

void nd_audit_write(nd_audit *a, const struct nd_audit_event *e)
{
    if (!a || (size_t)e->what >= N_WHAT)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char t[64];
    size_t n = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(t + n, sizeof t - n, ".%03ldZ", ts.tv_nsec / 1000000);
    struct line l = {0};
    adds(&l, "{\"time\":\"");
    adds(&l, t);
    adds(&l, "\"");
    field(&l, "event", what_info[e->what].name);
    field(&l, "event_id", what_info[e->what].id);
    field(&l, "action", what_info[e->what].action);
    number(&l, "outcome", e->outcome);
    field(&l, "ae", e->ae);
    field(&l, "host", e->host);
    if (e->tls)
        adds(&l, ",\"tls\":true");
    field(&l, "dest", e->dest);
    field(&l, "user", e->user);
    field(&l, "patient_id", e->patient_id);
    field(&l, "study_uid", e->study_uid);
    number(&l, "instances", e->instances);
    number(&l, "failed", e->failed);
    field(&l, "detail", e->detail);
    adds(&l, "}\n");
    if (l.oom) {
        free(l.s);
        return;
    }
    pthread_mutex_lock(&a->mu);
    /* one write: with O_APPEND the line lands whole at the end, even with
     * `consort-node` commands appending from other processes */
    ssize_t w = write(a->fd, l.s, l.len);
    if (w != (ssize_t)l.len && a->failures++ == 0)
        dcx_log(DCX_LOG_ERROR, "audit log write failed: %s",
                w < 0 ? strerror(errno) : "short write");
    pthread_mutex_unlock(&a->mu);
    free(l.s);
}

void nd_audit_sync(nd_audit *a)
{
    if (a)
        fdatasync(a->fd);
}

void nd_study_counts_add(struct nd_study_counts *sc, const char *study,
                         const char *patient, int ok)
{
    struct nd_study_count *c = NULL;
    /* associations carry one or a few studies: the last is the likely one */
    for (size_t i = sc->n; i-- > 0 && !c;)
        if (strcmp(sc->v[i].study_uid, study) == 0)
            c = &sc->v[i];
    if (!c) {
        struct nd_study_count *v =
            dcx_grow(sc->v, sc->n, &sc->cap, sizeof *v, 4);
        if (!v)
            return; /* an audit count lost, not an image */
        sc->v = v;
        c = &sc->v[sc->n++];
        memset(c, 0, sizeof *c);
        snprintf(c->study_uid, sizeof c->study_uid, "%s", study);
        snprintf(c->patient_id, sizeof c->patient_id, "%s", patient);
    }
    if (ok)
        c->done++;
    else
        c->failed++;
}

void nd_study_counts_free(struct nd_study_counts *sc)
{
    free(sc->v);
    memset(sc, 0, sizeof *sc);
}

enum nd_audit_outcome nd_audit_outcome_of(long done, long failed)
{
    return failed == 0 ? ND_AUDIT_OK
           : done > 0  ? ND_AUDIT_MINOR
                       : ND_AUDIT_SERIOUS;
}
