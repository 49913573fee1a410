/* serve.c - `consort-node serve`: the DICOM node. Wires the SCP hooks
 * (dcx/net.h) to the archive (files) and the index (SQLite): a C-STORE is
 * answered only after the file is in place (fsync'd with sync = full) and
 * its index transaction committed (DESIGN.md rules 1-3, 5). The main
 * thread runs the periodic tick (index checkpoint) and shutdown; the SCP
 * runs on its own thread; each association has its own index connection.
 */
#define _GNU_SOURCE
#include "cmd.h"
#include "opts.h"

#include "accept.h"
#include "archive.h"
#include "audit.h"
#include "config.h"
#include "forward.h"
#include "index.h"
#include "nd.h"

#include "dcx/dcx.h"
#include "query.h"
#include "queue.h"
#include "record.h"
#include "teaching.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dcx/dataset.h"
#include "dcx/net.h"

struct server {
    struct nd_config cfg;
    nd_archive *ar;
    char index_path[1200];
    dcx_scp *scp;
    atomic_ulong stored, failed;
    /* All C-STORE index writes go through one connection, one at a time:
     * with a connection per association, each commit by one made the
     * others re-read their pages, and SQLite's busy handler sleeps 1-10 ms
     * per retry; the mutex hands over at once and the cache stays warm. */
    pthread_mutex_t index_write;
    nd_index *writer;
    nd_forward *fwd; /* NULL when nothing is forwarded */
    struct dcx_tls tls; /* from [node] tls_*: our side of TLS */
    nd_audit *audit;
    pid_t teach_pid; /* the running teaching export, 0 if none */
    time_t teach_retry; /* no new one before (after a failure) */
};

/* Instances of one study in one association or retrieve, for the audit
 * trail: one event per study, not per instance. */

/* per association */
struct assoc {
    nd_index *ix;
    struct nd_study_counts stored;    /* C-STOREs received */
    struct nd_study_counts retrieved; /* the running C-MOVE/C-GET */
};


static dcx_scp *volatile g_scp; /* for the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    dcx_scp_stop(g_scp);
}

static void log_sink(enum dcx_log_level lv, const char *line, void *user)
{
    (void)user;
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char t[32];
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", t, ts.tv_nsec / 1000000,
            names[lv], line);
}

static enum dcx_log_level level_of(const char *s)
{
    return strcmp(s, "error") == 0  ? DCX_LOG_ERROR
           : strcmp(s, "warn") == 0 ? DCX_LOG_WARN
           : strcmp(s, "debug") == 0 ? DCX_LOG_DEBUG
                                     : DCX_LOG_INFO;
}

static unsigned on_associate(void *user, struct dcx_assoc_info *a)
{
    struct server *sv = user;
    const struct nd_bind *b = nd_config_bind(&sv->cfg, a->calling_ae);
    if (b) {
        int from_ok = 0;
        for (int i = 0; i < b->n && !from_ok; i++)
            from_ok = nd_net_contains(&b->nets[i], a->peer_host);
        if (!from_ok) {
            dcx_log(DCX_LOG_WARN, "assoc=%lu aet=%s association refused: "
                                  "AE title bound to other addresses "
                                  "host=%s",
                    a->id, a->calling_ae, a->peer_host);
            nd_audit_write(sv->audit,
                           &(struct nd_audit_event){
                               .what = ND_AUDIT_REFUSED,
                               .outcome = ND_AUDIT_SERIOUS,
                               .ae = a->calling_ae, .host = a->peer_host,
                               .tls = a->tls, .instances = -1, .failed = -1,
                               .detail = "calling AE title not allowed from "
                                         "this address ([bind])"});
            return 0;
        }
    }
    unsigned svc = DCX_SVC_ECHO;
    if (nd_acl_allows(&sv->cfg.store, a->calling_ae))
        svc |= DCX_SVC_STORE;
    if (nd_acl_allows(&sv->cfg.query, a->calling_ae))
        svc |= DCX_SVC_FIND;
    if (nd_acl_allows(&sv->cfg.retrieve, a->calling_ae))
        svc |= DCX_SVC_MOVE | DCX_SVC_GET;
    struct assoc *as = calloc(1, sizeof *as);
    if (!as) {
        dcx_log(DCX_LOG_ERROR, "assoc=%lu out of memory", a->id);
        return DCX_SVC_ECHO; /* echo still works */
    }
    a->user = as;
    return svc;
}

/* The association's read connection for queries, opened on first use
 * (a C-STORE-only association never needs one). */
static nd_index *reader(struct server *sv, const struct dcx_assoc_info *a)
{
    struct assoc *as = a->user;
    if (!as)
        return NULL;
    if (!as->ix) {
        char err[256];
        if (nd_index_open_reader(sv->index_path, &as->ix, err,
                                 sizeof err) < 0) {
            dcx_log(DCX_LOG_ERROR, "assoc=%lu cannot open index: %s", a->id,
                    err);
            return NULL;
        }
    }
    return as->ix;
}

static void on_end(void *user, const struct dcx_assoc_info *a,
                   const struct dcx_assoc_stats *s)
{
    struct server *sv = user;
    struct assoc *as = a->user;
    dcx_log(DCX_LOG_INFO,
            "assoc=%lu aet=%s association %s stored=%lu failed=%lu "
            "bytes=%llu",
            a->id, a->calling_ae, s->aborted ? "aborted" : "released",
            s->stores_ok, s->stores_failed, s->bytes);
    if (as) {
        for (size_t i = 0; i < as->stored.n; i++) {
            const struct nd_study_count *c = &as->stored.v[i];
            nd_audit_write(sv->audit,
                           &(struct nd_audit_event){
                               .what = ND_AUDIT_STORE,
                               .outcome =
                                   nd_audit_outcome_of(c->done, c->failed),
                               .ae = a->calling_ae, .host = a->peer_host,
                               .tls = a->tls, .patient_id = c->patient_id,
                               .study_uid = c->study_uid,
                               .instances = c->done + c->failed,
                               .failed = c->failed,
                               .detail = s->aborted ? "association aborted"
                                                    : NULL});
        }
        nd_study_counts_free(&as->stored);
        nd_study_counts_free(&as->retrieved);
        nd_index_close(as->ix);
        free(as);
    }
}

/* Storage classes whose IOD is an image (Rows and Columns required). */

/* Logs the refusal and drops the received file (tmp NULL: already gone). */
static uint16_t refuse(const struct dcx_assoc_info *a,
                       const struct dcx_store_rq *rq, const char *tmp,
                       uint16_t status, const char *why)
{
    dcx_log(DCX_LOG_WARN, "assoc=%lu aet=%s c-store refused status=0x%04X "
                          "sop=%s reason=\"%s\"",
            a->id, a->calling_ae, status, rq->sop_instance_uid, why);
    if (tmp && rq->fd >= 0)
        close(rq->fd);
    else if (tmp)
        unlink(tmp);
    return status;
}

static int open_store_file(void *user, const struct dcx_assoc_info *a,
                           const struct dcx_store_rq *rq)
{
    struct server *sv = user;
    (void)a;
    return nd_archive_open_tmp(sv->ar, rq->sop_instance_uid);
}

/* One C-STORE; *parsed is set once rec holds the data set's record. */
/* A copy of a known instance with other content from a peer trusted with
 * corrections ([peer] accept_corrections): it was accepted at that site
 * (`conflicts accept`) and forwarded; it takes the archived copy's place
 * here too, the copy replaced kept aside as conflicts/replaced-*. 1 if
 * so; 0 leaves it aside for an operator. crel: where the copy was put. */
static int accept_correction(struct server *sv, const struct dcx_assoc_info *a,
                             struct nd_record *rec, const char *crel,
                             int64_t size)
{
    const struct nd_peer *p = nd_config_peer(&sv->cfg, a->calling_ae);
    if (!p || !p->accept_corrections)
        return 0;
    /* An AE title is a name the caller picks: a correction replaces
     * archived data only from a caller proven to be that peer, by its
     * address ([bind], bind_peers) or its certificate (TLS, verified) */
    if (!nd_config_bind(&sv->cfg, a->calling_ae) &&
        !(a->tls && sv->cfg.tls_verify_peer)) {
        dcx_log(DCX_LOG_WARN, "assoc=%lu aet=%s correction kept aside, not "
                              "accepted sop=%s path=%s: the AE title is "
                              "bound to no address and the association is "
                              "not TLS with a verified certificate "
                              "(accept_corrections needs bind_peers or TLS)",
                a->id, a->calling_ae, rec->sop_uid, crel);
        return 0;
    }
    char old[300], why[600];
    rec->r.size = size;
    rec->r.calling_ae = a->calling_ae;
    rec->r.origin = a->calling_ae;
    pthread_mutex_lock(&sv->index_write);
    int rc = nd_accept_copy(sv->ar, sv->writer, crel, &rec->r, old,
                            sizeof old, why, sizeof why);
    pthread_mutex_unlock(&sv->index_write);
    if (rc < 0) {
        dcx_log(DCX_LOG_WARN, "assoc=%lu aet=%s correction not accepted, "
                              "kept aside sop=%s path=%s: %s",
                a->id, a->calling_ae, rec->sop_uid, crel, why);
        return 0;
    }
    char detail[700];
    snprintf(detail, sizeof detail, "correction from peer %s accepted; the "
                                    "copy it replaced: %s",
             a->calling_ae, old);
    nd_audit_write(sv->audit, &(struct nd_audit_event){
                                  .what = ND_AUDIT_UPDATE,
                                  .ae = a->calling_ae, .host = a->peer_host,
                                  .tls = a->tls,
                                  .patient_id = rec->r.patient_id,
                                  .study_uid = rec->r.study_uid,
                                  .instances = 1, .failed = -1,
                                  .detail = detail});
    dcx_log(DCX_LOG_INFO, "assoc=%lu aet=%s c-store correction accepted "
                          "sop=%s replaced=%s",
            a->id, a->calling_ae, rec->sop_uid, old);
    return 1;
}

static uint16_t store_one(struct server *sv, const struct dcx_assoc_info *a,
                          const struct dcx_store_rq *rq, const char *tmp,
                          struct nd_record *rec, int *parsed)
{
    char why[300];
    int rc = nd_record_read(tmp, rq->fd, rec, why, sizeof why);
    if (rc < 0) {
        atomic_fetch_add(&sv->failed, 1);
        return refuse(a, rq, tmp, DCX_STATUS_CANNOT_UNDERSTAND, why);
    }
    *parsed = 1;
    /* (PS3.7 C.4.2 0x0117 invalid object instance: a UID that is not one,
     * with '/' or "..", say) */
    int invalid_uid;
    const char *problem = nd_record_problem(rec, &invalid_uid);
    if (!problem && !dcx_uid_valid(rq->sop_instance_uid)) {
        problem = "the SOP Instance UID is not a valid UID";
        invalid_uid = 1;
    }
    if (problem) {
        atomic_fetch_add(&sv->failed, 1);
        return refuse(a, rq, tmp,
                      invalid_uid ? 0x0117 : DCX_STATUS_DATA_MISMATCH,
                      problem);
    }
    /* The data set must be the instance the command announced (PS3.4
     * B.2.3: a mismatch is 0xA900). */
    if (strcmp(rec->sop_uid, rq->sop_instance_uid) != 0 ||
        strcmp(rec->sop_class, rq->sop_class_uid) != 0) {
        atomic_fetch_add(&sv->failed, 1);
        return refuse(a, rq, tmp, DCX_STATUS_DATA_MISMATCH,
                      "SOP Class/Instance UID in the data set differ from "
                      "the C-STORE request");
    }
    char rel[200];
    enum nd_dup dup;
    rc = rq->fd >= 0 ? nd_archive_commit_fd(sv->ar, rq->fd, rec->sop_uid, rel,
                                            sizeof rel, &dup)
                     : nd_archive_commit(sv->ar, tmp, rec->sop_uid, rel,
                                         sizeof rel, &dup);
    if (rc < 0) {
        atomic_fetch_add(&sv->failed, 1);
        return refuse(a, rq, NULL, DCX_STATUS_OUT_OF_RESOURCES,
                      rc == ND_EFULL ? "disk full" : "cannot write file");
    }
    if (dup == ND_DUP_CONFLICT &&
        accept_correction(sv, a, rec, rel, (int64_t)rq->file_size)) {
        atomic_fetch_add(&sv->stored, 1);
        return DCX_STATUS_SUCCESS;
    }
    if (dup == ND_DUP_CONFLICT) {
        /* Kept aside, never overwritten; the sender's data is safe, so the
         * store itself succeeded. An operator resolves it. */
        dcx_log(DCX_LOG_WARN, "assoc=%lu aet=%s c-store duplicate with "
                              "different content kept aside sop=%s path=%s "
                              "(`consort-node conflicts` to see or accept "
                              "it)",
                a->id, a->calling_ae, rec->sop_uid, rel);
        atomic_fetch_add(&sv->stored, 1);
        return DCX_STATUS_SUCCESS;
    }
    rec->r.size = (int64_t)rq->file_size;
    if (dup == ND_DUP_SAME) { /* the file kept is the earlier one */
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", nd_archive_root(sv->ar), rel);
        struct stat st;
        rec->r.size = stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
    }
    rec->r.path = rel;
    rec->r.calling_ae = a->calling_ae;
    rec->r.origin = nd_forward_is_peer(&sv->cfg, a->calling_ae)
                       ? a->calling_ae
                       : "";
    pthread_mutex_lock(&sv->index_write);
    rc = nd_index_add(sv->writer, &rec->r);
    if (rc < 0)
        dcx_log(DCX_LOG_ERROR, "assoc=%lu index commit failed sop=%s: %s",
                a->id, rec->sop_uid, nd_index_errmsg(sv->writer));
    pthread_mutex_unlock(&sv->index_write);
    if (rc < 0) {
        /* file first, then index; undo the file (Orthanc's order) unless
         * it was already there before this request */
        if (dup == ND_NEW)
            nd_archive_remove(sv->ar, rel);
        atomic_fetch_add(&sv->failed, 1);
        return refuse(a, rq, NULL, DCX_STATUS_OUT_OF_RESOURCES,
                      rc == ND_EFULL ? "index: disk full"
                                     : "index commit failed");
    }
    atomic_fetch_add(&sv->stored, 1);
    dcx_log(DCX_LOG_INFO, "assoc=%lu aet=%s c-store ok sop=%s bytes=%lld%s",
            a->id, a->calling_ae, rec->sop_uid, (long long)rec->r.size,
            dup == ND_DUP_SAME ? " duplicate=identical" : "");
    return DCX_STATUS_SUCCESS;
}

static uint16_t on_store(void *user, const struct dcx_assoc_info *a,
                         const struct dcx_store_rq *rq, const char *tmp)
{
    struct server *sv = user;
    struct nd_record rec;
    int parsed = 0;
    uint16_t st = store_one(sv, a, rq, tmp, &rec, &parsed);
    struct assoc *as = a->user;
    if (as)
        nd_study_counts_add(&as->stored, parsed ? rec.study_uid : "",
                            parsed ? rec.r.patient_id : "",
                            st == DCX_STATUS_SUCCESS);
    return st;
}

/* ---- query/retrieve ---- */

static int is_patient_root(const char *model)
{
    return strcmp(model, "1.2.840.10008.5.1.4.1.2.1.1") == 0 || /* FIND */
           strcmp(model, "1.2.840.10008.5.1.4.1.2.1.2") == 0 || /* MOVE */
           strcmp(model, "1.2.840.10008.5.1.4.1.2.1.3") == 0;   /* GET */
}

static const char *const level_names[] = {"PATIENT", "STUDY", "SERIES",
                                          "IMAGE"};

/* The association's index connection and the parsed query; 0, or the
 * status to refuse with (logged). */
static uint16_t open_query(struct server *sv, const struct dcx_assoc_info *a,
                           const char *model, dcx_ds *query, const char *what,
                           nd_index **out_ix, struct nd_query *q)
{
    *out_ix = reader(sv, a);
    if (!*out_ix)
        return DCX_STATUS_OUT_OF_RESOURCES;
    char why[200] = "out of memory";
    int rc = nd_query_parse(query, is_patient_root(model), q, why,
                            sizeof why);
    if (rc < 0) {
        /* C000: unable to process (PS3.4 Table C.4-1, C.4-2, C.4-3) */
        uint16_t st = rc == ND_EBADDATA ? DCX_STATUS_CANNOT_UNDERSTAND
                                        : DCX_STATUS_DATA_MISMATCH;
        nd_query_free(q);
        dcx_log(DCX_LOG_WARN, "assoc=%lu aet=%s %s refused status=0x%04X "
                              "reason=\"%s\"",
                a->id, a->calling_ae, what, st, why);
        return st;
    }
    return 0;
}

struct find_run {
    struct server *sv;
    struct nd_query *q;
    dcx_find_ctx *ctx;
    unsigned long matches;
    int stop_rc;
};

static int find_row(void *user, const char *const *vals)
{
    struct find_run *fr = user;
    struct dcx_attr attrs[140];
    int n = nd_query_response(fr->q, vals, fr->sv->cfg.ae_title, attrs,
                              sizeof attrs / sizeof attrs[0]);
    int rc = dcx_find_reply(fr->ctx,
                            fr->q->unsupported ? DCX_STATUS_PENDING_WARNING
                                               : DCX_STATUS_PENDING,
                            attrs, (size_t)n);
    if (rc < 0) {
        fr->stop_rc = rc;
        return 1;
    }
    fr->matches++;
    return 0;
}

static uint16_t on_find(void *user, const struct dcx_assoc_info *a,
                        const char *model, dcx_ds *query, dcx_find_ctx *ctx)
{
    struct server *sv = user;
    nd_index *ix;
    struct nd_query q;
    uint16_t refused = open_query(sv, a, model, query, "c-find", &ix, &q);
    if (refused)
        return refused;
    struct find_run fr = {sv, &q, ctx, 0, 0};
    int rc = nd_index_find(ix, q.level, q.conds, q.n_conds, q.want,
                           find_row, &fr);
    uint16_t status = rc == ND_EINDEX                ? 0xA700
                      : fr.stop_rc == DCX_ECANCELLED ? DCX_STATUS_CANCEL
                                                     : DCX_STATUS_SUCCESS;
    dcx_log(DCX_LOG_INFO, "assoc=%lu aet=%s c-find level=%s keys=%zu "
                          "matches=%lu status=0x%04X",
            a->id, a->calling_ae, level_names[q.level], q.n_conds,
            fr.matches, status);
    char keys[600], detail[700];
    nd_query_describe(&q, keys, sizeof keys);
    snprintf(detail, sizeof detail, "%s matches=%lu", keys, fr.matches);
    nd_audit_write(sv->audit,
                   &(struct nd_audit_event){
                       .what = ND_AUDIT_QUERY,
                       .outcome = status == DCX_STATUS_SUCCESS ||
                                          status == DCX_STATUS_CANCEL
                                      ? ND_AUDIT_OK
                                      : ND_AUDIT_SERIOUS,
                       .ae = a->calling_ae, .host = a->peer_host,
                       .tls = a->tls, .instances = -1, .failed = -1,
                       .detail = detail});
    nd_query_free(&q);
    return status;
}

struct path_list {
    const char *root;
    struct dcx_file_list *out;
    size_t cap, uid_cap;
    struct nd_study_counts *studies; /* per study, for the audit trail */
};

static int path_row(void *user, const char *const *vals)
{
    struct path_list *pl = user;
    struct dcx_file_list *o = pl->out;
    char **v = dcx_grow(o->paths, o->n, &pl->cap, sizeof *v, 64);
    if (!v)
        return ND_ENOMEM;
    o->paths = v;
    /* the UID from the index: a sub-operation that fails because the
     * file is gone or unreadable is still named in the final response */
    v = dcx_grow(o->uids, o->n, &pl->uid_cap, sizeof *v, 64);
    if (!v)
        return ND_ENOMEM;
    o->uids = v;
    if (asprintf(&o->paths[o->n], "%s/%s", pl->root, vals[NK_PATH]) < 0)
        return ND_ENOMEM;
    if (!(o->uids[o->n] = strdup(vals[NK_SOP_UID]))) {
        free(o->paths[o->n]);
        return ND_ENOMEM;
    }
    o->n++;
    if (pl->studies)
        nd_study_counts_add(pl->studies, vals[NK_STUDY_UID],
                            vals[NK_PATIENT_ID], 1);
    return 0;
}

static uint16_t on_retrieve(void *user, const struct dcx_assoc_info *a,
                            const char *model, dcx_ds *query,
                            struct dcx_file_list *out)
{
    struct server *sv = user;
    nd_index *ix;
    struct nd_query q;
    uint16_t refused = open_query(sv, a, model, query, "retrieve", &ix, &q);
    if (refused)
        return refused;
    char why[200];
    if (nd_query_for_retrieve(&q, is_patient_root(model), why,
                              sizeof why) < 0) {
        nd_query_free(&q);
        dcx_log(DCX_LOG_WARN, "assoc=%lu aet=%s retrieve refused "
                              "status=0xA900 reason=\"%s\"",
                a->id, a->calling_ae, why);
        return DCX_STATUS_DATA_MISMATCH;
    }
    unsigned char want[NK_COUNT] = {0};
    want[NK_PATH] = 1;
    struct assoc *as = a->user;
    if (as)
        as->retrieved.n = 0;
    struct path_list pl = {nd_archive_root(sv->ar), out, 0, 0,
                           as ? &as->retrieved : NULL};
    /* every instance under the matching entities */
    int rc = nd_index_find(ix, ND_IMAGE, q.conds, q.n_conds, want,
                           path_row, &pl);
    dcx_log(DCX_LOG_INFO, "assoc=%lu aet=%s retrieve level=%s instances=%zu",
            a->id, a->calling_ae, level_names[q.level], out->n);
    nd_query_free(&q);
    if (rc < 0) {
        for (size_t i = 0; i < out->n; i++) {
            free(out->paths[i]);
            free(out->uids[i]);
        }
        free(out->paths);
        free(out->uids);
        out->paths = out->uids = NULL;
        out->n = 0;
        return 0xA701; /* out of resources: unable to calculate matches */
    }
    return 0;
}

static int on_move_dest(void *user, const struct dcx_assoc_info *a,
                        const char *dest, char *host, size_t hostlen,
                        int *port, const struct dcx_tls **tls)
{
    struct server *sv = user;
    (void)a;
    const struct nd_peer *p = nd_config_peer(&sv->cfg, dest);
    if (!p)
        return -1;
    snprintf(host, hostlen, "%s", p->host);
    *port = p->port;
    *tls = p->tls ? &sv->tls : NULL;
    return 0;
}

static void on_retrieve_end(void *user, const struct dcx_assoc_info *a,
                            int is_get, const char *dest, unsigned done,
                            unsigned failed, unsigned warning, int cancelled)
{
    struct server *sv = user;
    dcx_log(failed ? DCX_LOG_WARN : DCX_LOG_INFO,
            "assoc=%lu aet=%s %s%s%s completed=%u failed=%u warning=%u%s",
            a->id, a->calling_ae, is_get ? "c-get" : "c-move",
            is_get ? "" : " dest=", is_get ? "" : dest, done, failed,
            warning, cancelled ? " cancelled" : "");
    struct assoc *as = a->user;
    if (!as)
        return;
    /* one event per study; the sub-operation counts are the whole
     * operation's */
    char detail[160];
    snprintf(detail, sizeof detail, "%s completed=%u failed=%u warning=%u%s",
             is_get ? "c-get" : "c-move", done, failed, warning,
             cancelled ? " cancelled" : "");
    for (size_t i = 0; i < as->retrieved.n; i++) {
        const struct nd_study_count *c = &as->retrieved.v[i];
        nd_audit_write(sv->audit,
                       &(struct nd_audit_event){
                           .what = ND_AUDIT_RETRIEVE,
                           .outcome = nd_audit_outcome_of(done, failed),
                           .ae = a->calling_ae, .host = a->peer_host,
                           .tls = a->tls,
                           .dest = is_get ? a->calling_ae : dest,
                           .patient_id = c->patient_id,
                           .study_uid = c->study_uid,
                           .instances = c->done, .failed = -1,
                           .detail = detail});
    }
    as->retrieved.n = 0;
}

/* ---- start-up: re-index what a power cut kept out of the index ---- */

struct reindex {
    struct server *sv;
    nd_index *ix;
    unsigned long seen, added, bad;
};

static int reindex_one(void *user, const char *rel)
{
    struct reindex *ri = user;
    ri->seen++;
    char path[1400], why[300];
    snprintf(path, sizeof path, "%s/%s", nd_archive_root(ri->sv->ar), rel);
    if (nd_archive_complete(ri->sv->ar, rel) == 0) {
        /* never acknowledged: its data did not reach the disk before the
         * power failed (see nd_archive_commit_fd) */
        char aside[200];
        if (nd_archive_set_aside(ri->sv->ar, rel, "incomplete", aside,
                                 sizeof aside) == 0)
            dcx_log(DCX_LOG_WARN, "re-index: %s is shorter than it was "
                                  "written (power cut); moved to %s",
                    rel, aside);
        else
            dcx_log(DCX_LOG_ERROR, "re-index: %s is shorter than it was "
                                   "written (power cut) and cannot be moved "
                                   "aside; left out of the index", rel);
        ri->bad++;
        return 0;
    }
    struct nd_record rec;
    char expect[200];
    if (nd_record_read(path, -1, &rec, why, sizeof why) == 0)
        nd_archive_rel_path(rec.sop_uid, expect, sizeof expect);
    else
        expect[0] = '\0';
    if (strcmp(expect, rel) != 0) {
        dcx_log(DCX_LOG_WARN, "re-index: %s is unreadable or misplaced "
                              "(%s); left in place",
                rel, expect[0] ? "wrong path" : why);
        ri->bad++;
        return 0;
    }
    struct stat st;
    rec.r.size = stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
    rec.r.path = rel;
    rec.r.calling_ae = ""; /* unknown: routed like a modality's */
    rec.r.origin = "";
    /* already indexed: its SOP Instance UID is (the path is a function
     * of it, checked above) */
    int rc = nd_index_add(ri->ix, &rec.r);
    if (rc < 0) {
        dcx_log(DCX_LOG_ERROR, "re-index: cannot index %s: %s", rel,
                nd_index_errmsg(ri->ix));
        return ND_EINDEX;
    }
    ri->added += rc == 0;
    return 0;
}

static int startup(struct server *sv, nd_index *ix)
{
    char clean[16] = "", cp[32] = "";
    int have = nd_index_meta_get(ix, "clean_shutdown", clean, sizeof clean);
    if (have == 0 && strcmp(clean, "1") == 0)
        return 0;
    if (have == 1) /* a new index: nothing was ever recorded */
        cp[0] = '\0';
    else
        nd_index_meta_get(ix, "checkpoint_at", cp, sizeof cp);
    /* Everything indexed before the last checkpoint is durable; files that
     * landed shortly before it may not be: look at folders changed since
     * two minutes before it. */
    time_t since = cp[0] ? (time_t)strtoll(cp, NULL, 10) - 120 : 0;
    if (since < 0)
        since = 0;
    struct reindex ri = {sv, ix, 0, 0, 0};
    if (have == 1)
        dcx_log(DCX_LOG_INFO, "the index has no record of a clean stop (new "
                              "or rebuilt): indexing the files in the "
                              "archive");
    else
        dcx_log(DCX_LOG_INFO, "previous run did not stop cleanly: checking "
                              "files %s",
                since ? "changed since the last index checkpoint" : "(all)");
    int rc = nd_archive_walk(sv->ar, since, reindex_one, &ri);
    dcx_log(rc < 0 ? DCX_LOG_ERROR : DCX_LOG_INFO,
            "re-index: %lu files checked, %lu added to the index, %lu "
            "unreadable",
            ri.seen, ri.added, ri.bad);
    return rc < 0 ? rc : 0;
}

static void *scp_thread(void *arg)
{
    struct server *sv = arg;
    int rc = dcx_scp_run(sv->scp);
    if (rc < 0)
        dcx_log(DCX_LOG_ERROR, "SCP stopped: %s", dcx_strerror(rc));
    return NULL;
}

static void checkpoint(struct server *sv, nd_index *ix)
{
    pthread_mutex_lock(&sv->index_write);
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)time(NULL));
    if (nd_index_meta_set(ix, "checkpoint_at", now) < 0 ||
        nd_index_checkpoint(ix) < 0)
        dcx_log(DCX_LOG_WARN, "index checkpoint failed: %s",
                nd_index_errmsg(ix));
    pthread_mutex_unlock(&sv->index_write);
}

static void serve_usage(FILE *to)
{
    fputs("usage: consort-node serve [--config FILE] [--aet AE] [--port N]\n"
          "                          [--storage DIR] [--sync full|normal]\n"
          "       consort-node serve --sample-config\n"
          "\n"
          "Runs the DICOM node: Verification and Storage SCP, files and\n"
          "SQLite index under the storage folder. Without --config the\n"
          "defaults apply (AE CONSORT, port 11112, ./var, sync full, any\n"
          "calling AE). Options override the file. SIGTERM or SIGINT stop\n"
          "it cleanly. --sample-config prints a documented configuration.\n",
          to);
}

static int count_row(void *user, const struct nd_teach_row *r)
{
    (void)r;
    ++*(int *)user;
    return 0;
}

/* [node] teaching_dir: studies a teaching key object queued are exported,
 * de-identified, by `consort-node export --teaching` in a process of its
 * own (an export is minutes of work the tick must not wait for), one at a
 * time, once nothing has arrived for them for teaching_delay seconds. */
static void teach_tick(struct server *sv, nd_index *ix, const char *cfg_path,
                       const char *storage, int wait)
{
    int status;
    if (sv->teach_pid > 0) {
        /* at shutdown it gets 30 s to end; a longer one goes on by itself
         * (its files are written whole and the DICOMDIR last) */
        pid_t done = waitpid(sv->teach_pid, &status, WNOHANG);
        for (int i = 0; wait && done == 0 && i < 300; i++) {
            if (i == 0)
                dcx_log(DCX_LOG_INFO, "waiting for the teaching export to "
                                      "end");
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            done = waitpid(sv->teach_pid, &status, WNOHANG);
        }
        if (done != sv->teach_pid) {
            if (wait)
                dcx_log(DCX_LOG_WARN, "the teaching export pid=%d goes on "
                                      "after the node stops",
                        (int)sv->teach_pid);
            return;
        }
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        dcx_log(code == 0 ? DCX_LOG_INFO : DCX_LOG_WARN,
                "teaching export ended status=%d%s", code,
                code == 3 ? " (images refused: burned-in annotation)" : "");
        sv->teach_pid = 0;
        /* a failed export (disk full, folder gone) is tried again in ten
         * minutes, not at every tick */
        sv->teach_retry = code == 0 || code == 3 ? 0 : time(NULL) + 600;
    }
    int ready = 0;
    if (wait || !sv->cfg.teaching_dir[0] ||
        time(NULL) < sv->teach_retry ||
        nd_teach_list(ix, ND_TEACH_PENDING, sv->cfg.teaching_delay, count_row,
                      &ready) < 0 ||
        ready == 0)
        return;
    char delay[16];
    snprintf(delay, sizeof delay, "%d", sv->cfg.teaching_delay);
    const char *argv[16] = {"consort-node", "export", "--anonymize",
                            "--teaching", "--ready", delay, "--user",
                            "consort-node serve"};
    int n = 8;
    if (cfg_path)
        argv[n++] = "--config", argv[n++] = cfg_path;
    if (storage || !cfg_path)
        argv[n++] = "--storage", argv[n++] = sv->cfg.storage;
    argv[n++] = sv->cfg.teaching_dir;
    argv[n] = NULL;
    /* the child must not keep our listening sockets */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL,
                         (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        dcx_log(DCX_LOG_ERROR, "cannot start the teaching export: %s",
                strerror(rc));
        return;
    }
    sv->teach_pid = pid;
    dcx_log(DCX_LOG_INFO, "teaching export started pid=%d studies=%d to=%s",
            (int)pid, ready, sv->cfg.teaching_dir);
}

/* One node per storage folder. A second serve on it would run crash
 * recovery on a live archive: purge the first one's partial files, queue
 * its in-flight items again, re-index, and mark the index cleanly shut
 * down when it stops. Held (fd left open, not inherited) until exit; the
 * file names the holder's PID for the message. */
static int lock_storage(const char *dir, char *err, size_t errlen)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/serve.lock", dir);
    mkdir(dir, 0755); /* a new archive: nd_archive_open makes the rest */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %.400s: %s", path,
                 strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[24] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errlen,
                 "%.400s is in use by another consort-node serve (pid %s): one "
                 "node per storage folder",
                 dir, pid[0] ? pid : "unknown");
        close(fd);
        return -1;
    }
    char pid[24];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        dcx_log(DCX_LOG_WARN, "cannot write the PID into %s", path);
    return fd;
}

int nd_cmd_serve(int argc, char **argv)
{
    struct server sv;
    memset(&sv, 0, sizeof sv);
    pthread_mutex_init(&sv.index_write, NULL);
    nd_config_defaults(&sv.cfg);
    const char *cfg_path = NULL;
    const char *aet = NULL, *port = NULL, *storage = NULL, *sync = NULL;
    int sample = 0, n_pos;
    /* the values are checked with the config file's rules, below */
    const struct nd_opt opts[] = {
        ND_STR("--config", &cfg_path),
        ND_STR("--aet", &aet),
        ND_STR("--port", &port),
        ND_STR("--storage", &storage),
        ND_STR("--sync", &sync),
        ND_FLAG("--sample-config", &sample),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("serve", argc, argv, 1, opts, 0, &n_pos);
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, serve_usage);
    if (sample) {
        nd_config_write_sample(stdout);
        return 0;
    }
    char err[512];
    if (cfg_path && nd_config_load(&sv.cfg, cfg_path, err, sizeof err) < 0) {
        fprintf(stderr, "consort-node serve: %s\n", err);
        return 1;
    }
    /* command-line overrides, checked like the file's values */
    const char *keys[3] = {"ae_title", "port", "sync"};
    const char *vals[3] = {aet, port, sync};
    for (int i = 0; i < 3; i++) {
        if (vals[i] &&
            nd_config_set(&sv.cfg, keys[i], vals[i], err, sizeof err) < 0) {
            fprintf(stderr, "consort-node serve: %s\n", err);
            return 2;
        }
    }
    if (storage)
        snprintf(sv.cfg.storage, sizeof sv.cfg.storage, "%s", storage);

    dcx_log_set(log_sink, NULL, level_of(sv.cfg.log_level));
    if (nd_config_bind_peers(&sv.cfg, err, sizeof err) < 0) {
        dcx_log(DCX_LOG_ERROR, "%s", err);
        return 1;
    }
    for (int i = 0; i < sv.cfg.n_peers; i++)
        if (sv.cfg.peers[i].accept_corrections &&
            !nd_config_bind(&sv.cfg, sv.cfg.peers[i].ae))
            dcx_log(DCX_LOG_WARN, "[peer %s] accept_corrections: its AE "
                                  "title is bound to no address (bind_peers "
                                  "= no, no [bind] entry): its corrections "
                                  "are accepted only over TLS%s, else kept "
                                  "aside for an operator",
                    sv.cfg.peers[i].ae,
                    sv.cfg.tls_port && sv.cfg.tls_verify_peer
                        ? " with its certificate verified"
                        : " (and this node has no TLS port with "
                          "tls_verify_peer)");
    if (lock_storage(sv.cfg.storage, err, sizeof err) < 0) {
        dcx_log(DCX_LOG_ERROR, "%s", err);
        return 1;
    }
    int purged = 0;
    if (nd_archive_open(sv.cfg.storage, sv.cfg.sync == ND_SYNC_FULL, &sv.ar,
                        &purged, err, sizeof err) < 0) {
        dcx_log(DCX_LOG_ERROR, "%s", err);
        return 1;
    }
    if (purged)
        dcx_log(DCX_LOG_INFO, "removed %d partial file(s) an earlier run "
                              "left in %s",
                purged, nd_archive_tmp_dir(sv.ar));
    snprintf(sv.index_path, sizeof sv.index_path, "%s/index.sqlite",
             sv.cfg.storage);
    char audit_path[1200];
    nd_config_audit_path(&sv.cfg, audit_path, sizeof audit_path);
    if (nd_audit_open(audit_path, &sv.audit, err, sizeof err) < 0) {
        /* who did what must be recorded: no audit trail, no service */
        dcx_log(DCX_LOG_ERROR, "%s", err);
        nd_archive_close(sv.ar);
        return 1;
    }
    nd_index *ix = NULL;
    if (nd_index_open(sv.index_path, &ix, err, sizeof err) < 0) {
        dcx_log(DCX_LOG_ERROR, "%s", err);
        nd_archive_close(sv.ar);
        nd_audit_close(sv.audit);
        return 1;
    }
    int exit_code = 1;
    int back = nd_queue_recover(ix);
    if (back > 0)
        dcx_log(DCX_LOG_INFO, "forward: %d item(s) in flight when the node "
                              "stopped are queued again",
                back);
    /* forwarders wait for the writer connection until start-up is done */
    pthread_mutex_lock(&sv.index_write);
    if (nd_forward_start(&sv.cfg, sv.ar, ix, &sv.index_write, sv.audit,
                         &sv.fwd) < 0) {
        pthread_mutex_unlock(&sv.index_write);
        dcx_log(DCX_LOG_ERROR, "cannot start forwarding: out of memory");
        goto out;
    }
    if (sv.fwd)
        nd_index_set_router(ix, nd_forward_route, sv.fwd);
    int up = startup(&sv, ix);
    /* an accept of a kept copy cut short (by this node or `conflicts
     * accept`): its rows from the file in place */
    int redone = 0;
    if (up == 0 && nd_index_recover_accepts(ix, sv.cfg.storage, &redone) < 0)
        dcx_log(DCX_LOG_ERROR, "cannot finish an interrupted accept of a "
                               "kept copy: %s",
                nd_index_errmsg(ix));
    else if (redone)
        dcx_log(DCX_LOG_WARN, "%d accept(s) of kept copies were cut short: "
                              "their index rows taken from the files in "
                              "place",
                redone);
    if (up == 0 && nd_index_meta_set(ix, "clean_shutdown", "0") < 0) {
        dcx_log(DCX_LOG_ERROR, "cannot write the index: %s",
                nd_index_errmsg(ix));
        up = -1;
    }
    /* from here on the connection is the forwarders' too: only under the
     * mutex */
    pthread_mutex_unlock(&sv.index_write);
    if (up < 0)
        goto out;
    checkpoint(&sv, ix);
    sv.writer = ix;

    sv.tls = (struct dcx_tls){sv.cfg.tls_cert, sv.cfg.tls_key, sv.cfg.tls_ca,
                              sv.cfg.tls_verify_peer};
    struct dcx_scp_opts so = {
        .ae_title = sv.cfg.ae_title,
        .port = sv.cfg.tls_only ? 0 : sv.cfg.port,
        .tls_port = sv.cfg.tls_port,
        .tls = &sv.tls,
        .tmp_dir = nd_archive_tmp_dir(sv.ar),
        .max_assocs = sv.cfg.max_associations,
        .max_pdu = (unsigned long)sv.cfg.max_pdu,
        .dimse_timeout = sv.cfg.idle_timeout,
        .acse_timeout = sv.cfg.acse_timeout,
    };
    struct dcx_scp_hooks hooks = {
        .user = &sv,
        .on_associate = on_associate,
        .open_store_file = open_store_file,
        .on_store = on_store,
        .on_find = on_find,
        .on_retrieve = on_retrieve,
        .on_move_dest = on_move_dest,
        .on_retrieve_end = on_retrieve_end,
        .on_end = on_end,
    };
    struct dcx_error e;
    if (dcx_scp_create(&so, &hooks, &sv.scp, &e) < 0) {
        dcx_log(DCX_LOG_ERROR, "%s", e.msg);
        goto out;
    }
    g_scp = sv.scp;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pthread_t th;
    if (pthread_create(&th, NULL, scp_thread, &sv) != 0) {
        dcx_log(DCX_LOG_ERROR, "cannot start the SCP thread");
        dcx_scp_destroy(sv.scp);
        goto out;
    }
    char started[200];
    snprintf(started, sizeof started, "consort-node %s ae=%s port=%d%s%.0d%s",
             CONSORT_VERSION, sv.cfg.ae_title, so.port,
             sv.cfg.tls_port ? " tls_port=" : "", sv.cfg.tls_port,
             sv.cfg.tls_only ? " tls_only" : "");
    dcx_log(DCX_LOG_INFO, "%s listening storage=%s sync=%s audit=%s",
            started, sv.cfg.storage,
            sv.cfg.sync == ND_SYNC_FULL ? "full" : "normal", audit_path);
    nd_audit_write(sv.audit, &(struct nd_audit_event){
                                 .what = ND_AUDIT_START,
                                 .ae = sv.cfg.ae_title, .instances = -1,
                                 .failed = -1, .detail = started});
    /* periodic tick: passive checkpoints every 2 s on a connection of
     * their own keep the WAL short without stopping C-STOREs; a full one
     * each minute (with its time) bounds start-up re-indexing */
    nd_index *ckpt = NULL;
    if (nd_index_open_reader(sv.index_path, &ckpt, err, sizeof err) < 0)
        dcx_log(DCX_LOG_WARN, "no checkpoint connection: %s", err);
    void *res;
    int tick = 0;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (pthread_timedjoin_np(th, &res, &ts) == 0)
            break;
        if (++tick % 60 == 0) {
            checkpoint(&sv, ix);
            nd_forward_status(sv.fwd);
        }
        if (tick % 10 == 0)
            teach_tick(&sv, ix, cfg_path, storage, 0);
        if (tick % 5 == 0)
            nd_audit_sync(sv.audit);
        else if (ckpt && tick % 2 == 0)
            nd_index_checkpoint_passive(ckpt);
    }
    nd_index_close(ckpt);
    teach_tick(&sv, ix, cfg_path, storage, 1);
    dcx_scp_destroy(sv.scp);
    nd_forward_stop(sv.fwd);
    sv.fwd = NULL;
    checkpoint(&sv, ix);
    if (nd_index_meta_set(ix, "clean_shutdown", "1") == 0 &&
        nd_index_checkpoint(ix) == 0)
        exit_code = 0;
    dcx_log(DCX_LOG_INFO, "stopped: %lu instance(s) stored, %lu refused",
            atomic_load(&sv.stored), atomic_load(&sv.failed));
    char stopped[120];
    snprintf(stopped, sizeof stopped, "stored=%lu refused=%lu",
             atomic_load(&sv.stored), atomic_load(&sv.failed));
    nd_audit_write(sv.audit, &(struct nd_audit_event){
                                 .what = ND_AUDIT_STOP,
                                 .ae = sv.cfg.ae_title, .instances = -1,
                                 .failed = -1, .detail = stopped});
out:
    nd_forward_stop(sv.fwd);
    nd_index_close(ix);
    nd_archive_close(sv.ar);
    nd_audit_close(sv.audit);
    return exit_code;
}
