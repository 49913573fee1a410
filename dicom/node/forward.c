/* forward.c - routing rules and the forwarder threads (see forward.h).
 * Exactly once upstream rests on two things: an item leaves the queue only
 * after the peer's success status (DESIGN.md rule 4), and a resend after a
 * crash is a duplicate SOP Instance UID, which a node acknowledges without
 * storing it twice (rule 5). */
#define _GNU_SOURCE
#include "forward.h"

#include "audit.h"

#include "nd.h"
#include "queue.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dcx/net.h"
#include "dcx/uids.h"

#define BATCH 256      /* items of one study per association */
#define MAX_CONTEXTS 128

/* A peer that cannot be reached is the peer's or the link's state, not
 * its items': the destination backs off as a whole (one association
 * attempt per backoff period, by one worker), and its items keep their
 * attempts for refusals of their own. Without this every study in the
 * queue made its own attempt (some twenty connections a second to a
 * province that is down, with a few hundred items waiting) and collected
 * a backoff of its own that outlived the outage. */
struct dest {
    char ae[ND_AE_LEN + 1];
    const struct nd_peer *peer;
    pthread_cond_t cond; /* kicked when items for it were queued, and when
                            its reachability changed */
    unsigned long kicks;
    /* under nd_forward.lock */
    int fails;          /* association attempts failed in a row; 0: up */
    int probing;        /* a worker is trying it while it is down */
    int64_t retry_at;   /* ms: no new association before this */
    int64_t down_since; /* ms: the first failure of the run */
};

struct worker {
    nd_forward *f;
    struct dest *d;
    pthread_t th;
    int started;
    unsigned seed;
};

struct nd_forward {
    const struct nd_config *cfg;
    nd_archive *ar;
    nd_index *ix;
    pthread_mutex_t *ix_mu;
    struct nd_audit *audit;
    pthread_mutex_t lock; /* stop, kicks */
    int stop;
    int n_dests, n_workers;
    struct dest *dests;
    struct worker *workers;
};

/* ---- routing ---- */

int nd_forward_is_peer(const struct nd_config *cfg, const char *ae)
{
    return ae && *ae && nd_config_peer(cfg, ae) != NULL;
}

static struct dest *dest_of(nd_forward *f, const char *ae)
{
    for (int i = 0; i < f->n_dests; i++)
        if (strcmp(f->dests[i].ae, ae) == 0)
            return &f->dests[i];
    return NULL;
}

/* Adds ae once (the longest delay wins); never back to the sender. */
static void add_dest(struct nd_route_dest *out, int *n, int max,
                     const char *ae, int delay, const char *sender)
{
    if (!ae || !*ae || strcmp(ae, sender ? sender : "") == 0)
        return;
    for (int i = 0; i < *n; i++) {
        if (strcmp(out[i].ae, ae) == 0) {
            if (delay > out[i].delay)
                out[i].delay = delay;
            return;
        }
    }
    if (*n < max) {
        snprintf(out[*n].ae, sizeof out[*n].ae, "%s", ae);
        out[(*n)++].delay = delay;
    }
}

static int is_result(const char *sop_class)
{
    /* presentation states, SR (key object selections included) */
    return strncmp(sop_class, "1.2.840.10008.5.1.4.1.1.11.", 27) == 0 ||
           strncmp(sop_class, "1.2.840.10008.5.1.4.1.1.88.", 27) == 0;
}

int nd_forward_plan(const struct nd_config *cfg,
                    const struct nd_instance_rec *r, const char *origin,
                    struct nd_route_dest *out, int max)
{
    int n = 0;
    int from_peer = nd_forward_is_peer(cfg, r->calling_ae);
    if (cfg->upstream[0] && !from_peer)
        add_dest(out, &n, max, cfg->upstream, 0, r->calling_ae);
    if (cfg->back_to_origin && !from_peer && is_result(r->sop_class))
        add_dest(out, &n, max, origin, 0, r->calling_ae);
    for (int i = 0; i < cfg->n_routes; i++) {
        const struct nd_route *rt = &cfg->routes[i];
        if ((rt->from == ND_FROM_MODALITIES && from_peer) ||
            (rt->from == ND_FROM_PEERS && !from_peer) ||
            (rt->set_from_ae && !nd_acl_allows(&rt->from_ae, r->calling_ae)) ||
            (rt->set_from_peer &&
             (!origin[0] || !nd_acl_allows(&rt->from_peer, origin))) ||
            (rt->set_modality && !nd_acl_allows(&rt->modality, r->modality)) ||
            !nd_route_sop_matches(rt, r->sop_class))
            continue;
        for (int k = 0; k < rt->n_to; k++)
            add_dest(out, &n, max,
                     strcmp(rt->to[k], "origin") == 0 ? origin : rt->to[k],
                     rt->delay, r->calling_ae);
    }
    for (int i = 0; i < n; i++) {
        if (!nd_forward_is_peer(cfg, out[i].ae)) {
            /* an origin that is no longer a peer */
            dcx_log(DCX_LOG_WARN, "forward: %s is not a configured peer; "
                                  "not queued",
                    out[i].ae);
            out[i--] = out[--n];
        }
    }
    return n;
}

int nd_forward_plan_route(void *user, const struct nd_instance_rec *r,
                          const char *study_origin,
                          struct nd_route_dest *out, int max)
{
    return nd_forward_plan(user, r, study_origin, out, max);
}

int nd_forward_route(void *user, const struct nd_instance_rec *r,
                     const char *origin, struct nd_route_dest *out, int max)
{
    nd_forward *f = user;
    int n = nd_forward_plan(f->cfg, r, origin, out, max);
    /* Called inside the store's transaction, on the writer connection: a
     * woken forwarder waits for that connection's mutex, so it sees the
     * items only once they are committed. */
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < n; i++) {
        struct dest *d = dest_of(f, out[i].ae);
        if (d) {
            d->kicks++;
            pthread_cond_broadcast(&d->cond);
        }
    }
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* ---- forwarders ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds until attempt number `attempt` (1-based) may run: doubling from
 * retry_min up to retry_max, +-25 % jitter so that sites cut off together
 * do not all come back in the same second, and still within
 * [retry_min, retry_max], the bounds the configuration promises. */
static int64_t backoff(const struct nd_config *cfg, int attempt,
                       unsigned *seed)
{
    double s = cfg->retry_min;
    for (int i = 1; i < attempt && s < cfg->retry_max; i++)
        s *= 2;
    if (s > cfg->retry_max)
        s = cfg->retry_max;
    s *= 0.75 + 0.5 * (rand_r(seed) / (double)RAND_MAX);
    int64_t r = (int64_t)(s + 0.5);
    if (r > cfg->retry_max)
        r = cfg->retry_max;
    return r < cfg->retry_min ? cfg->retry_min : r < 1 ? 1 : r;
}

static int uncompressed(const char *ts)
{
    return strcmp(ts, DCX_TS_IMPLICIT_LE) == 0 ||
           strcmp(ts, DCX_TS_EXPLICIT_LE) == 0 ||
           strcmp(ts, DCX_TS_EXPLICIT_BE) == 0;
}

struct ctxs {
    struct dcx_scu_context c[MAX_CONTEXTS];
    const char *ts[MAX_CONTEXTS][2];
    int n;
};

static int has_ctx(const struct ctxs *cx, const char *cls, const char *ts)
{
    for (int i = 0; i < cx->n; i++)
        if (strcmp(cx->c[i].abstract_syntax, cls) == 0 &&
            strcmp(cx->ts[i][0], ts) == 0)
            return 1;
    return 0;
}

static void add_ctx(struct ctxs *cx, const char *cls, const char *ts0,
                    const char *ts1)
{
    if (has_ctx(cx, cls, ts0))
        return;
    int i = cx->n++;
    cx->ts[i][0] = ts0;
    cx->ts[i][1] = ts1;
    cx->c[i].abstract_syntax = cls;
    cx->c[i].transfer_syntaxes = cx->ts[i];
    cx->c[i].n_transfer_syntaxes = ts1 ? 2 : 1;
    cx->c[i].role = 0;
}

/* The contexts item needs: its own syntax, uncompressed as the fallback,
 * and for uncompressed images the lossless encodings (each in a context
 * of its own, so that the peer says which of them it takes). 0 if they do
 * not fit any more. */
static int item_contexts(struct ctxs *cx, const struct nd_qitem *it,
                         int compress)
{
    int need = 1 + (compress && uncompressed(it->ts) ? 3 : 0) +
               (uncompressed(it->ts) ? 0 : 1);
    if (cx->n + need > MAX_CONTEXTS)
        return 0;
    if (compress && uncompressed(it->ts)) {
        add_ctx(cx, it->sop_class, DCX_TS_JPEGLS_LOSSLESS, NULL);
        add_ctx(cx, it->sop_class, DCX_TS_JPEG_LOSSLESS_SV1, NULL);
        add_ctx(cx, it->sop_class, DCX_TS_DEFLATED_LE, NULL);
    }
    if (!uncompressed(it->ts))
        add_ctx(cx, it->sop_class, it->ts, NULL);
    add_ctx(cx, it->sop_class, DCX_TS_EXPLICIT_LE, DCX_TS_IMPLICIT_LE);
    return 1;
}

static int stopping(nd_forward *f)
{
    pthread_mutex_lock(&f->lock);
    int s = f->stop;
    pthread_mutex_unlock(&f->lock);
    return s;
}

/* Items the node did not get to send go back as they were (why, when
 * not NULL, is shown as their last error). */
static void put_back(struct worker *w, const struct nd_qitem *items, int n,
                     const char *why)
{
    nd_forward *f = w->f;
    if (n <= 0)
        return;
    pthread_mutex_lock(f->ix_mu);
    if (nd_queue_release(f->ix, w->d->ae, items, n, why, time(NULL)) < 0)
        dcx_log(DCX_LOG_ERROR, "forward dest=%s queue update failed: %s",
                w->d->ae, nd_index_errmsg(f->ix));
    pthread_mutex_unlock(f->ix_mu);
}

/* An association could not be made (what: "cannot associate") or broke
 * (what: "link lost"): the destination waits out its backoff before any
 * worker tries again. One line per failed attempt. */
static void dest_down(struct worker *w, const char *what, const char *why)
{
    nd_forward *f = w->f;
    struct dest *d = w->d;
    int64_t now = now_ms();
    pthread_mutex_lock(&f->lock);
    if (d->fails > 0 && now < d->retry_at) {
        /* another association, begun before the destination was known to
         * be down, found it down first: the same outage, no new attempt */
        pthread_mutex_unlock(&f->lock);
        dcx_log(DCX_LOG_DEBUG, "forward dest=%s %s: %s", d->ae, what, why);
        return;
    }
    if (d->fails++ == 0)
        d->down_since = now;
    int64_t s = backoff(f->cfg, d->fails, &w->seed);
    d->retry_at = now + s * 1000;
    d->probing = 0;
    int fails = d->fails;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&f->lock);
    dcx_log(DCX_LOG_WARN,
            "forward dest=%s %s: %s; unreachable, %d failed "
            "attempt(s) in a row, next attempt in %lld s",
            d->ae, what, why, fails, (long long)s);
}

/* An association was made: the destination is up, every worker goes. */
static void dest_up(struct worker *w)
{
    nd_forward *f = w->f;
    struct dest *d = w->d;
    pthread_mutex_lock(&f->lock);
    int fails = d->fails;
    int64_t down_ms = now_ms() - d->down_since;
    d->fails = 0;
    d->probing = 0;
    d->retry_at = 0;
    if (fails)
        pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&f->lock);
    if (fails)
        dcx_log(DCX_LOG_INFO,
                "forward dest=%s reachable again after %d "
                "failed attempt(s), %lld s",
                d->ae, fails, (long long)(down_ms / 1000));
}

/* A probe that found nothing to send: another worker may try. */
static void dest_unprobe(struct worker *w)
{
    pthread_mutex_lock(&w->f->lock);
    w->d->probing = 0;
    pthread_cond_broadcast(&w->d->cond);
    pthread_mutex_unlock(&w->f->lock);
}

/* A failed attempt for items: retried after the backoff, or dead when the
 * peer refused them max_attempts times (permanent). */
static void failed(struct worker *w, const struct nd_qitem *items, int n,
                   int permanent, const char *why)
{
    nd_forward *f = w->f;
    int64_t now = time(NULL);
    pthread_mutex_lock(f->ix_mu);
    for (int i = 0; i < n; i++) {
        int attempt = items[i].attempts + 1;
        int dead = permanent && attempt >= f->cfg->max_attempts;
        if (nd_queue_fail(f->ix, w->d->ae, items[i].id, dead, 1,
                          now + backoff(f->cfg, attempt, &w->seed), why,
                          now) < 0)
            dcx_log(DCX_LOG_ERROR, "forward dest=%s queue update failed: %s",
                    w->d->ae, nd_index_errmsg(f->ix));
        if (dead)
            dcx_log(DCX_LOG_ERROR, "forward dest=%s sop=%s dead after %d "
                                   "attempts: %s (consort-node queue retry)",
                    w->d->ae, items[i].sop_uid, attempt, why);
    }
    pthread_mutex_unlock(f->ix_mu);
}

static int success(uint16_t st)
{
    /* warnings (coercion, elements discarded) and "already have it" are
     * stored instances as far as forwarding goes */
    return st == 0x0000 || (st & 0xF000) == 0xB000 || st == 0x0111;
}

static void send_batch(struct worker *w, struct nd_qitem *items, int n)
{
    nd_forward *f = w->f;
    const struct nd_peer *p = w->d->peer;
    struct ctxs *cx = calloc(1, sizeof *cx);
    if (!cx) {
        failed(w, items, n, 0, "out of memory");
        return;
    }
    int use = 0;
    while (use < n && item_contexts(cx, &items[use], p->compress))
        use++;
    if (use < n) { /* more SOP classes than one association carries */
        put_back(w, items + use, n - use, NULL);
        n = use;
    }
    int64_t t0 = now_ms();
    const struct nd_config *cfg = f->cfg;
    struct dcx_tls tls = {cfg->tls_cert, cfg->tls_key, cfg->tls_ca,
                          cfg->tls_verify_peer};
    struct dcx_scu_opts o = {
        .calling_ae = cfg->ae_title,
        .called_ae = p->ae,
        .host = p->host,
        .port = p->port,
        .timeout = cfg->forward_timeout,
        .tls = p->tls ? &tls : NULL,
    };
    dcx_scu *scu = NULL;
    struct dcx_error e;
    int orc = dcx_scu_open(&o, cx->c, (size_t)cx->n, &scu, &e);
    if (orc == DCX_EUNSUPPORTED) {
        /* the peer is there but takes none of these SOP classes: the
         * items' own refusal, counted towards dead items */
        dest_up(w);
        dcx_log(DCX_LOG_WARN, "forward dest=%s refused %d item(s): %s", p->ae,
                n, e.msg);
        failed(w, items, n, 1, e.msg);
        free(cx);
        return;
    }
    if (orc < 0) {
        /* no connection, a timeout, a rejected association (busy, or not
         * authorised / unknown AE title until someone fixes the peer's
         * configuration): the destination's state, retried forever */
        put_back(w, items, n, e.msg);
        dest_down(w, "cannot associate", e.msg);
        free(cx);
        return;
    }
    dest_up(w);
    int sent = 0, refused = 0;
    uint64_t bytes = 0, raw = 0;
    int i = 0;
    for (; i < n; i++) {
        if (stopping(f))
            break;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", nd_archive_root(f->ar),
                 items[i].path);
        uint16_t st = 0;
        struct dcx_store_result res;
        memset(&res, 0, sizeof res);
        int rc = dcx_scu_store_ex(scu, path,
                                  p->compress ? DCX_STORE_LOSSLESS : 0, &st,
                                  &res);
        if (rc == 0 && success(st)) {
            pthread_mutex_lock(f->ix_mu);
            int q = nd_queue_done(f->ix, p->ae, items[i].id,
                                  (int64_t)res.bytes, items[i].size,
                                  time(NULL));
            pthread_mutex_unlock(f->ix_mu);
            if (q < 0) /* sent twice at worst; the peer dedups */
                dcx_log(DCX_LOG_ERROR, "forward dest=%s queue update "
                                       "failed: %s",
                        p->ae, nd_index_errmsg(f->ix));
            sent++;
            bytes += res.bytes;
            raw += (uint64_t)items[i].size;
            continue;
        }
        if (rc == 0 || rc == DCX_EUNSUPPORTED || rc == DCX_EBADDATA) {
            /* refused (or unsendable) instance; out of resources upstream
             * (0xA7xx) is a state of the peer, retried like a cut link */
            char why[300];
            snprintf(why, sizeof why, "%s",
                     rc == 0 ? dcx_status_str(st) : dcx_scu_errmsg(scu));
            dcx_log(DCX_LOG_WARN, "forward dest=%s sop=%s refused: %s",
                    p->ae, items[i].sop_uid, why);
            failed(w, &items[i], 1, !(rc == 0 && (st & 0xFF00) == 0xA700),
                   why);
            refused++;
            continue;
        }
        /* the association broke: this item counts an attempt (never
         * dead), so that one the peer cannot take does not hold up the
         * rest for ever; the rest waits for the link untouched */
        char why[300];
        snprintf(why, sizeof why, "%s", dcx_scu_errmsg(scu));
        failed(w, &items[i], 1, 0, why);
        put_back(w, items + i + 1, n - i - 1, why);
        dest_down(w, "link lost", why);
        i = n;
        break;
    }
    if (i < n)
        put_back(w, items + i, n - i, "not sent yet (node stopping)");
    dcx_scu_close(scu);
    int64_t ms = now_ms() - t0;
    pthread_mutex_lock(f->ix_mu);
    nd_queue_busy(f->ix, p->ae, ms);
    pthread_mutex_unlock(f->ix_mu);
    if (sent || refused) {
        /* a batch is one study (nd_queue_claim) */
        char detail[96];
        snprintf(detail, sizeof detail, "bytes=%llu stored_bytes=%llu",
                 (unsigned long long)bytes, (unsigned long long)raw);
        nd_audit_write(f->audit,
                       &(struct nd_audit_event){
                           .what = ND_AUDIT_FORWARD,
                           .outcome = refused == 0 ? ND_AUDIT_OK
                                      : sent       ? ND_AUDIT_MINOR
                                                   : ND_AUDIT_SERIOUS,
                           .ae = p->ae, .host = p->host, .tls = p->tls,
                           .dest = p->ae, .patient_id = items[0].patient_id,
                           .study_uid = items[0].study_uid,
                           .instances = sent + refused, .failed = refused,
                           .detail = detail});
    }
    if (sent || refused)
        dcx_log(DCX_LOG_INFO, "forward dest=%s sent=%d refused=%d bytes=%llu "
                              "stored_bytes=%llu ms=%lld",
                p->ae, sent, refused, (unsigned long long)bytes,
                (unsigned long long)raw, (long long)ms);
    free(cx);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    nd_forward *f = w->f;
    struct nd_qitem *items = calloc(BATCH, sizeof *items);
    if (!items) {
        dcx_log(DCX_LOG_ERROR, "forward dest=%s: out of memory", w->d->ae);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&f->lock);
        struct dest *d = w->d;
        unsigned long kicks = d->kicks;
        int stop = f->stop, probe = 0;
        int64_t now = now_ms(), wait_until = 0;
        if (!stop && d->fails > 0) {
            /* down: one worker tries once the backoff ran out, the others
             * wait for what it finds */
            if (now < d->retry_at)
                wait_until = d->retry_at;
            else if (d->probing)
                wait_until = now + 1000;
            else
                d->probing = probe = 1;
        }
        if (wait_until) {
            struct timespec ts = {(time_t)(wait_until / 1000),
                                  (long)(wait_until % 1000) * 1000000};
            pthread_cond_timedwait(&d->cond, &f->lock, &ts);
        }
        pthread_mutex_unlock(&f->lock);
        if (stop)
            break;
        if (wait_until)
            continue;
        pthread_mutex_lock(f->ix_mu);
        int n = nd_queue_claim(f->ix, w->d->ae, time(NULL), items, BATCH);
        if (n < 0)
            dcx_log(DCX_LOG_ERROR, "forward dest=%s cannot read the queue: "
                                   "%s",
                    w->d->ae, nd_index_errmsg(f->ix));
        pthread_mutex_unlock(f->ix_mu);
        if (n > 0)
            send_batch(w, items, n);
        if (probe) /* answered by send_batch, or nothing to try it with */
            dest_unprobe(w);
        if (n > 0)
            continue;
        /* nothing ready: sleep until kicked, or a second (backoff and
         * stability delays run out on their own) */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_mutex_lock(&f->lock);
        while (!f->stop && w->d->kicks == kicks &&
               pthread_cond_timedwait(&w->d->cond, &f->lock, &ts) == 0)
            ;
        pthread_mutex_unlock(&f->lock);
    }
    free(items);
    return NULL;
}

static int wanted(const struct nd_config *cfg, const struct nd_peer *p)
{
    if (strcmp(cfg->upstream, p->ae) == 0 || cfg->back_to_origin)
        return 1;
    for (int i = 0; i < cfg->n_routes; i++)
        for (int k = 0; k < cfg->routes[i].n_to; k++)
            if (strcmp(cfg->routes[i].to[k], p->ae) == 0 ||
                strcmp(cfg->routes[i].to[k], "origin") == 0)
                return 1;
    return 0;
}

int nd_forward_start(const struct nd_config *cfg, nd_archive *ar,
                     nd_index *writer, pthread_mutex_t *writer_mutex,
                     struct nd_audit *audit, nd_forward **out)
{
    *out = NULL;
    int n_dests = 0, n_workers = 0;
    for (int i = 0; i < cfg->n_peers; i++) {
        if (wanted(cfg, &cfg->peers[i])) {
            n_dests++;
            n_workers += cfg->peers[i].associations;
        }
    }
    if (n_dests == 0)
        return 0;
    nd_forward *f = calloc(1, sizeof *f);
    if (!f)
        return ND_ENOMEM;
    f->cfg = cfg;
    f->ar = ar;
    f->ix = writer;
    f->ix_mu = writer_mutex;
    f->audit = audit;
    pthread_mutex_init(&f->lock, NULL);
    f->dests = calloc((size_t)n_dests, sizeof *f->dests);
    f->workers = calloc((size_t)n_workers, sizeof *f->workers);
    if (!f->dests || !f->workers) {
        free(f->dests);
        free(f->workers);
        free(f);
        return ND_ENOMEM;
    }
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    for (int i = 0; i < cfg->n_peers; i++) {
        const struct nd_peer *p = &cfg->peers[i];
        if (!wanted(cfg, p))
            continue;
        struct dest *d = &f->dests[f->n_dests++];
        snprintf(d->ae, sizeof d->ae, "%s", p->ae);
        d->peer = p;
        pthread_cond_init(&d->cond, NULL);
        dcx_log(DCX_LOG_INFO, "forward dest=%s peer=%s:%d%s associations=%d "
                              "compress=%s",
                p->ae, p->host, p->port, p->tls ? " tls" : "",
                p->associations, p->compress ? "lossless" : "none");
        for (int k = 0; k < p->associations; k++) {
            struct worker *w = &f->workers[f->n_workers++];
            w->f = f;
            w->d = d;
            w->seed = seed + (unsigned)f->n_workers * 7919u;
        }
    }
    for (int i = 0; i < f->n_workers; i++) {
        struct worker *w = &f->workers[i];
        w->started = pthread_create(&w->th, NULL, worker_main, w) == 0;
        if (!w->started)
            dcx_log(DCX_LOG_ERROR, "forward dest=%s: cannot start a thread",
                    w->d->ae);
    }
    *out = f;
    return 0;
}

void nd_forward_kick(nd_forward *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->n_dests; i++) {
        f->dests[i].kicks++;
        pthread_cond_broadcast(&f->dests[i].cond);
    }
    pthread_mutex_unlock(&f->lock);
}

static int status_line(void *user, const struct nd_qstat *st)
{
    nd_forward *f = user;
    if (!st->pending && !st->inflight && !st->dead)
        return 0;
    int64_t now = time(NULL);
    /* items that look ready may wait for their destination's backoff */
    char down[96] = "";
    pthread_mutex_lock(&f->lock);
    struct dest *d = dest_of(f, st->dest);
    if (d && d->fails > 0) {
        int64_t in = (d->retry_at - now_ms() + 999) / 1000;
        snprintf(down, sizeof down,
                 " unreachable_attempts=%d next_attempt_s=%lld", d->fails,
                 (long long)(in > 0 ? in : 0));
    }
    pthread_mutex_unlock(&f->lock);
    double rate = st->busy_ms > 0 ? st->bytes / 1e3 / (double)st->busy_ms
                                  : 0.0; /* MB/s */
    dcx_log(DCX_LOG_INFO,
            "forward status dest=%s pending=%lld ready=%lld inflight=%lld "
            "dead=%lld oldest_s=%lld sent=%lld bytes=%lld rate_mbs=%.2f%s%s%s",
            st->dest, (long long)st->pending, (long long)st->ready,
            (long long)st->inflight, (long long)st->dead,
            (long long)(st->oldest ? now - st->oldest : 0), (long long)st->sent,
            (long long)st->bytes, rate, down,
            st->last_error[0] ? " last_error=" : "", st->last_error);
    return 0;
}

void nd_forward_status(nd_forward *f)
{
    if (!f)
        return;
    pthread_mutex_lock(f->ix_mu);
    nd_queue_stats(f->ix, time(NULL), status_line, f);
    pthread_mutex_unlock(f->ix_mu);
}

void nd_forward_stop(nd_forward *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    for (int i = 0; i < f->n_dests; i++)
        pthread_cond_broadcast(&f->dests[i].cond);
    pthread_mutex_unlock(&f->lock);
    for (int i = 0; i < f->n_workers; i++)
        if (f->workers[i].started)
            pthread_join(f->workers[i].th, NULL);
    for (int i = 0; i < f->n_dests; i++)
        pthread_cond_destroy(&f->dests[i].cond);
    pthread_mutex_destroy(&f->lock);
    free(f->dests);
    free(f->workers);
    free(f);
}
