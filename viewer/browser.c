/* browser.c - studies of a node by C-FIND, one fetched by C-GET; of the
 * local archive through the node's index interface; of DICOM media (see
 * browser.h). Text arrives as UTF-8 (the dcx library converts from the
 * node's character set). */
#define _GNU_SOURCE
#include "browser.h"

#include "dcx/gsps.h"
#include "index.h"
#include "load.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "dcx/dataset.h"
#include "dcx/dcx.h"
#include "dcx/media.h"
#include "dcx/net.h"
#include "dcx/tags.h"

#define FIND_STUDY "1.2.840.10008.5.1.4.1.2.2.1"
#define GET_STUDY "1.2.840.10008.5.1.4.1.2.2.3"

int vw_node_parse(const char *s, const char *our_ae, struct vw_node *out)
{
    memset(out, 0, sizeof *out);
    const char *at = strchr(s, '@'), *colon = strrchr(s, ':');
    if (!at || !colon || colon < at || at == s || at - s > 16)
        return -1;
    memcpy(out->ae, s, (size_t)(at - s));
    size_t hl = (size_t)(colon - at - 1);
    if (!hl || hl >= sizeof out->host)
        return -1;
    memcpy(out->host, at + 1, hl);
    out->port = atoi(colon + 1);
    snprintf(out->our_ae, sizeof out->our_ae, "%s",
             our_ae && *our_ae ? our_ae : "CONSORTVIEW");
    out->cache_max = 20e9;
    out->timeout = 60;
    return out->port > 0 && out->port < 65536 ? 0 : -1;
}

static dcx_scu *open_scu(const struct vw_node *n, const char *model,
                         int get, char *err, size_t errlen)
{
    static const char *const ts[] = {"1.2.840.10008.1.2.1",
                                     "1.2.840.10008.1.2"};
    struct dcx_scu_context ctx[128];
    size_t k = 0;
    if (get)
        k = dcx_scu_get_contexts(model, ctx, 128);
    else
        ctx[k++] = (struct dcx_scu_context){model, ts, 2, 0};
    struct dcx_scu_opts o = {.calling_ae = n->our_ae, .called_ae = n->ae,
                             .host = n->host, .port = n->port,
                             .timeout = n->timeout};
    dcx_scu *scu = NULL;
    struct dcx_error e;
    if (dcx_scu_open(&o, ctx, k, &scu, &e) < 0) {
        snprintf(err, errlen, "%s", e.msg);
        return NULL;
    }
    return scu;
}

struct collect {
    struct vw_study *s;
    int n;
    size_t cap;
};

/* A new zeroed study at the end of c; NULL when out of memory. */
static struct vw_study *collect_add(struct collect *c)
{
    struct vw_study *ns = dcx_grow(c->s, (size_t)c->n, &c->cap, sizeof *ns, 64);
    if (!ns)
        return NULL;
    c->s = ns;
    struct vw_study *s = &c->s[c->n++];
    memset(s, 0, sizeof *s);
    return s;
}

/* The study columns a data set holds; mods from mods_tag (Modalities in
 * Study of a C-FIND match, the Modality of an instance). */
static void study_from(dcx_item *r, uint32_t mods_tag, struct vw_study *s)
{
    vw_item_text(r, DCX_TAG(0x0010, 0x0010), s->name, sizeof s->name);
    vw_item_text(r, DCX_TAG(0x0010, 0x0020), s->id, sizeof s->id);
    vw_item_text(r, DCX_TAG(0x0008, 0x0020), s->date, sizeof s->date);
    vw_item_text(r, DCX_TAG(0x0008, 0x0030), s->time, sizeof s->time);
    vw_item_text(r, mods_tag, s->mods, sizeof s->mods);
    vw_item_text(r, DCX_TAG(0x0008, 0x1030), s->desc, sizeof s->desc);
}

static int on_match(void *user, dcx_ds *m)
{
    struct vw_study *s = collect_add(user);
    if (!s)
        return 1; /* cancel: out of memory */
    dcx_item *r = dcx_ds_root(m);
    study_from(r, DCX_TAG(0x0008, 0x0061), s);
    vw_item_text(r, DCX_TAG(0x0008, 0x0062), s->classes, sizeof s->classes);
    vw_item_text(r, DCX_TAG(0x0020, 0x000D), s->uid, sizeof s->uid);
    int64_t v = 0;
    if (dcx_item_get_int(r, DCX_TAG(0x0020, 0x1208), 0, &v) == 0)
        s->images = (int)v;
    return 0;
}

static int newest_first(const void *a, const void *b)
{
    const struct vw_study *x = a, *y = b;
    int c = strcmp(y->date, x->date);
    return c ? c : strcmp(y->time, x->time);
}

int vw_browse_find(const struct vw_node *n, struct vw_study **out,
                   int *count, char *err, size_t errlen)
{
    *out = NULL;
    *count = 0;
    dcx_scu *scu = open_scu(n, FIND_STUDY, 0, err, errlen);
    if (!scu)
        return -1;
    static const struct dcx_attr q[] = {
        {DCX_TAG(0x0008, 0x0052), "STUDY"}, {DCX_TAG(0x0010, 0x0010), ""},
        {DCX_TAG(0x0010, 0x0020), ""},      {DCX_TAG(0x0008, 0x0020), ""},
        {DCX_TAG(0x0008, 0x0030), ""},      {DCX_TAG(0x0008, 0x0061), ""},
        {DCX_TAG(0x0008, 0x1030), ""},      {DCX_TAG(0x0020, 0x000D), ""},
        {DCX_TAG(0x0020, 0x1208), ""},      {DCX_TAG(0x0008, 0x0062), ""},
    };
    struct collect c = {0};
    uint16_t st = 0;
    int rc = dcx_scu_find(scu, FIND_STUDY, q, sizeof q / sizeof q[0],
                          on_match, &c, &st);
    if (rc < 0)
        snprintf(err, errlen, "C-FIND: %s", dcx_scu_errmsg(scu));
    else if (st != 0x0000 && st != 0xFE00)
        snprintf(err, errlen, "C-FIND: %s", dcx_status_str(st));
    dcx_scu_close(scu);
    if (rc < 0 || (st != 0x0000 && st != 0xFE00)) {
        free(c.s);
        return -1;
    }
    qsort(c.s, (size_t)c.n, sizeof *c.s, newest_first);
    *out = c.s;
    *count = c.n;
    return 0;
}

int vw_mkdirs(const char *p)
{
    char b[1200];
    snprintf(b, sizeof b, "%s", p);
    for (char *s = b + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            if (mkdir(b, 0755) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    }
    return mkdir(b, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int vw_cache_dir(const char *study_uid, char *dir, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(dir, len, "%s/consort-view/%s", xdg, study_uid);
    else
        snprintf(dir, len, "%s/.cache/consort-view/%s",
                 home && *home ? home : "/tmp", study_uid);
    struct stat sb;
    return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

/* ---- the cache: brought up to date with the node, and bounded ---- */

struct uids {
    uint32_t tag; /* the key each match gives */
    char (*v)[65];
    size_t n, cap;
    /* series only: 1 for a series of documents (PR, SR, KO: no pixels) */
    unsigned char *doc;
    size_t cap_doc;
};

static void uids_free(struct uids *u)
{
    free(u->v);
    free(u->doc);
}

static int on_uid(void *user, dcx_ds *m)
{
    struct uids *u = user;
    void *nv = dcx_grow(u->v, u->n, &u->cap, sizeof *u->v, 64);
    if (!nv)
        return 1; /* cancel */
    u->v = nv;
    unsigned char *nd = dcx_grow(u->doc, u->n, &u->cap_doc, 1, 64);
    if (!nd)
        return 1;
    u->doc = nd;
    char mod[17] = "";
    vw_item_text(dcx_ds_root(m), DCX_TAG(0x0008, 0x0060), mod, sizeof mod);
    u->doc[u->n] = strcmp(mod, "PR") == 0 || strcmp(mod, "SR") == 0 ||
                   strcmp(mod, "KO") == 0;
    vw_item_text(dcx_ds_root(m), u->tag, u->v[u->n], sizeof u->v[0]);
    if (u->v[u->n][0])
        u->n++;
    return 0;
}

/* The UIDs the node has of the study's series (level SERIES) or of one
 * series' instances (IMAGE): hierarchical queries name every level
 * above (PS3.4 C.4.1.2.2). 0 or -1 with err. */
static int node_uids(dcx_scu *scu, const char *study, const char *series,
                     struct uids *out, char *err, size_t errlen)
{
    out->tag = series ? DCX_TAG(0x0008, 0x0018) : DCX_TAG(0x0020, 0x000E);
    struct dcx_attr q[4] = {
        {DCX_TAG(0x0008, 0x0052), series ? "IMAGE" : "SERIES"},
        {DCX_TAG(0x0020, 0x000D), study},
        {DCX_TAG(0x0020, 0x000E), series ? series : ""},
        {series ? DCX_TAG(0x0008, 0x0018) : DCX_TAG(0x0008, 0x0060), ""}};
    uint16_t st = 0;
    int rc = dcx_scu_find(scu, FIND_STUDY, q, 4, on_uid, out, &st);
    if (rc < 0 || (st != 0x0000 && st != 0xFE00)) {
        snprintf(err, errlen, "C-FIND: %s",
                 rc < 0 ? dcx_scu_errmsg(scu) : dcx_status_str(st));
        return -1;
    }
    return 0;
}

/* C-GET progress into a vw_fetch: base instances came before this C-GET
 * (a study is brought up to date by several). */
struct get_cb {
    struct vw_fetch *f;
    unsigned base;
};

static int on_get(void *user, unsigned received, int remaining)
{
    (void)remaining; /* the node's list count is the total shown */
    struct get_cb *g = user;
    atomic_store(&g->f->received, g->base + received);
    return atomic_load(&g->f->cancel);
}

/* Fetches into dir what the node has of the study and dir has not (an
 * instance per <SOP Instance UID>.dcm): series that arrived after the
 * study was first opened, a report or presentation state made since.
 * -1 with err when the node cannot be asked. */
static int update_cached(const struct vw_node *n, const char *study,
                         const char *dir, struct vw_fetch *f, char *err,
                         size_t errlen)
{
    unsigned *got = &f->got;
    dcx_scu *find = open_scu(n, FIND_STUDY, 0, err, errlen);
    if (!find)
        return -1;
    struct uids series = {0};
    int rc = node_uids(find, study, NULL, &series, err, errlen);
    dcx_scu *get = NULL;
    for (size_t i = 0; rc == 0 && i < series.n; i++) {
        struct uids inst = {0};
        rc = node_uids(find, study, series.v[i], &inst, err, errlen);
        /* the missing ones, as UID lists of at most 100 per C-GET (one
         * UI value stays far below its 64 KiB) */
        char *list = NULL;
        size_t len = 0, in_list = 0;
        for (size_t k = 0; rc == 0 && k <= inst.n; k++) {
            char path[1300];
            if (k < inst.n) {
                snprintf(path, sizeof path, "%s/%s.dcm", dir, inst.v[k]);
                if (access(path, F_OK) == 0)
                    continue;
                char *nl = realloc(list, len + 66);
                if (!nl) {
                    rc = -1;
                    snprintf(err, errlen, "out of memory");
                    break;
                }
                list = nl;
                len += (size_t)sprintf(list + len, "%s%s", in_list ? "\\" : "",
                                       inst.v[k]);
                in_list++;
            }
            if (in_list && (in_list == 100 || k == inst.n)) {
                if (!get && !(get = open_scu(n, GET_STUDY, 1, err, errlen))) {
                    rc = -1;
                    break;
                }
                struct dcx_attr q[] = {
                    {DCX_TAG(0x0008, 0x0052), "IMAGE"},
                    {DCX_TAG(0x0020, 0x000D), study},
                    {DCX_TAG(0x0020, 0x000E), series.v[i]},
                    {DCX_TAG(0x0008, 0x0018), list}};
                unsigned one = 0;
                uint16_t st = 0;
                struct get_cb cb = {f, *got};
                if (dcx_scu_get(get, GET_STUDY, q, 4, dir, on_get, &cb, &one,
                                &st) < 0 ||
                    (st != 0x0000 && st != 0xB000)) {
                    snprintf(err, errlen, "C-GET: %s",
                             st ? dcx_status_str(st) : dcx_scu_errmsg(get));
                    rc = -1;
                }
                *got += one;
                len = in_list = 0;
            }
        }
        free(list);
        uids_free(&inst);
    }
    uids_free(&series);
    dcx_scu_close(get);
    dcx_scu_close(find);
    return rc;
}

static double folder_bytes(const char *dir, int *unsent)
{
    DIR *d = opendir(dir);
    double sum = 0;
    struct dirent *e;
    *unsent = 0;
    while (d && (e = readdir(d))) {
        char p[1400];
        struct stat sb;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
            continue;
        if (strcmp(e->d_name, VW_CACHE_UNSENT) == 0)
            *unsent = 1;
        else if (e->d_name[0] != '.' && stat(p, &sb) == 0 &&
                 S_ISREG(sb.st_mode))
            sum += (double)sb.st_size;
    }
    if (d)
        closedir(d);
    return sum;
}

struct cached {
    char name[80];
    double bytes;
    time_t used;
};

static int least_recent_first(const void *a, const void *b)
{
    const struct cached *x = a, *y = b;
    return x->used < y->used ? -1 : x->used > y->used;
}

/* Removes a cache folder and the files in it. 0 or -1. */
static int remove_folder(const char *p)
{
    DIR *d = opendir(p);
    struct dirent *f;
    while (d && (f = readdir(d))) {
        char fp[1400];
        if ((size_t)snprintf(fp, sizeof fp, "%s/%s", p, f->d_name) <
                sizeof fp &&
            strcmp(f->d_name, ".") && strcmp(f->d_name, ".."))
            unlink(fp);
    }
    if (d)
        closedir(d);
    return rmdir(p);
}

/* Removes the studies used longest ago while the cache holds more than
 * its limit: never keep (the study being opened), never one holding a
 * reading that did not reach the node (VW_CACHE_UNSENT). */
static void evict(const char *root, const char *keep, double cache_max)
{
    DIR *d = opendir(root);
    if (!d)
        return;
    struct cached *v = NULL;
    size_t n = 0, cap = 0;
    double total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[1300];
        struct stat sb;
        int unsent;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", root, e->d_name) >=
                sizeof p ||
            e->d_name[0] == '.' || stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (strlen(e->d_name) >= sizeof v->name)
            continue; /* not a study's folder */
        double bytes = folder_bytes(p, &unsent);
        total += bytes;
        if (unsent || strcmp(e->d_name, keep) == 0)
            continue;
        void *nv = dcx_grow(v, n, &cap, sizeof *v, 32);
        if (!nv)
            break;
        v = nv;
        snprintf(v[n].name, sizeof v[n].name, "%s", e->d_name);
        v[n].bytes = bytes;
        v[n++].used = sb.st_mtime;
    }
    closedir(d);
    qsort(v, n, sizeof *v, least_recent_first);
    for (size_t i = 0; i < n && total > cache_max; i++) {
        char p[1300];
        snprintf(p, sizeof p, "%s/%s", root, v[i].name);
        if (remove_folder(p) == 0)
            total -= v[i].bytes;
    }
    free(v);
}


/* The instances (<uid>.dcm) in a study folder. */
static int count_instances(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        n += len > 4 && strcmp(e->d_name + len - 4, ".dcm") == 0;
    }
    if (d)
        closedir(d);
    return n;
}

/* The study's row of the node's list, kept beside its files (.study,
 * one "key=value" line per field): the browser lists the cache from them
 * when the node cannot be reached. */
static const struct {
    const char *key;
    size_t off, len;
} study_fields[] = {
#define SF(k, f) {k, offsetof(struct vw_study, f), sizeof(((struct vw_study *)0)->f)}
    SF("name", name), SF("id", id),     SF("date", date),
    SF("time", time), SF("mods", mods), SF("desc", desc),
    SF("classes", classes),
#undef SF
};

static void write_study_row(const char *dir, const struct vw_study *st)
{
    char path[1300], tmp[1310];
    snprintf(path, sizeof path, "%s/.study", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    for (size_t i = 0; i < sizeof study_fields / sizeof study_fields[0]; i++)
        fprintf(f, "%s=%s\n", study_fields[i].key,
                (const char *)st + study_fields[i].off);
    fprintf(f, "images=%d\n", st->images);
    if (fclose(f) == 0)
        rename(tmp, path);
    else
        unlink(tmp);
}

/* The row of a cached study: its .study, else its first instance's
 * header (a study cached before .study files were kept). 0 or -1. */
static int read_study_row(const char *dir, struct vw_study *st)
{
    char path[1300], line[1024];
    FILE *f = (size_t)snprintf(path, sizeof path, "%s/.study", dir) <
                      sizeof path
                  ? fopen(path, "r")
                  : NULL;
    if (f) {
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            char *eq = strchr(line, '=');
            if (!eq)
                continue;
            *eq = '\0';
            for (size_t i = 0;
                 i < sizeof study_fields / sizeof study_fields[0]; i++)
                if (strcmp(line, study_fields[i].key) == 0)
                    snprintf((char *)st + study_fields[i].off,
                             study_fields[i].len, "%s", eq + 1);
            if (strcmp(line, "images") == 0)
                st->images = atoi(eq + 1);
        }
        fclose(f);
        return 0;
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = -1;
    while (rc < 0 && d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".dcm") != 0 ||
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
                sizeof path)
            continue;
        struct dcx_open_opts o = {.no_pixels = 1};
        dcx_ds *ds;
        if (dcx_ds_open(path, &o, &ds, NULL) < 0)
            continue;
        study_from(dcx_ds_root(ds), DCX_TAG(0x0008, 0x0060), st);
        dcx_ds_close(ds);
        rc = 0;
    }
    if (d)
        closedir(d);
    return rc;
}

int vw_browse_cache(struct vw_study **out, int *count, char *err,
                    size_t errlen)
{
    *out = NULL;
    *count = 0;
    char root[1200];
    vw_cache_dir("", root, sizeof root); /* ".../consort-view/" */
    DIR *d = opendir(root);
    if (!d) {
        snprintf(err, errlen, "no studies in the cache (%s)", root);
        return -1;
    }
    struct collect c = {0};
    struct dirent *e;
    while ((e = readdir(d))) {
        char dir[1300];
        if (e->d_name[0] == '.' || strstr(e->d_name, ".part") ||
            !dcx_uid_valid(e->d_name) ||
            (size_t)snprintf(dir, sizeof dir, "%s%s", root, e->d_name) >=
                sizeof dir)
            continue;
        struct vw_study row = {0};
        if (read_study_row(dir, &row) < 0)
            continue;
        struct vw_study *x = collect_add(&c);
        if (!x)
            break;
        *x = row;
        snprintf(x->uid, sizeof x->uid, "%.64s", e->d_name); /* a UID */
        if (x->images <= 0)
            x->images = count_instances(dir);
    }
    closedir(d);
    qsort(c.s, (size_t)c.n, sizeof *c.s, newest_first);
    *out = c.s;
    *count = c.n;
    return 0;
}

/* A study not in the cache, one C-GET per series in the node's order
 * (SERIES level), into dir; out->ready counts the series done. A node
 * that cannot list the series gets one study-level C-GET. Warnings
 * (0xB000: some instances not sent) are taken: what came is kept. 0, or
 * -1 with err when the node cannot be asked or fails. */
static int fetch_series(const struct vw_node *n, const char *study,
                        const char *dir, struct vw_fetch *out, char *err,
                        size_t errlen)
{
    struct uids series = {0};
    dcx_scu *find = open_scu(n, FIND_STUDY, 0, err, errlen);
    if (find && node_uids(find, study, NULL, &series, err, errlen) < 0)
        series.n = 0;
    dcx_scu_close(find);
    dcx_scu *get = open_scu(n, GET_STUDY, 1, err, errlen);
    if (!get) {
        uids_free(&series);
        return -1;
    }
    int rc = 0;
    /* presentation states, key objects and reports first: they are
     * small, and the first image series then opens with its reading */
    for (size_t k = 0; rc == 0 && k < (series.n ? 2 * series.n : 1); k++) {
        size_t i = k % (series.n ? series.n : 1);
        if (series.n && series.doc[i] != (k < series.n))
            continue;
        struct dcx_attr q[] = {
            {DCX_TAG(0x0008, 0x0052), series.n ? "SERIES" : "STUDY"},
            {DCX_TAG(0x0020, 0x000D), study},
            {DCX_TAG(0x0020, 0x000E), series.n ? series.v[i] : ""}};
        unsigned one = 0;
        uint16_t st = 0;
        struct get_cb cb = {out, out->got};
        if (dcx_scu_get(get, GET_STUDY, q, series.n ? 3 : 2, dir, on_get, &cb,
                        &one, &st) < 0) {
            snprintf(err, errlen, "C-GET: %s", dcx_scu_errmsg(get));
            rc = -1;
        } else if (st != 0x0000 && st != 0xB000) {
            if (st != 0xFE00) /* a cancel is said by the caller */
                snprintf(err, errlen, "C-GET: %s (%u received)",
                         dcx_status_str(st), out->got + one);
            rc = -1;
        }
        out->got += one;
        if (rc == 0) {
            int k = atomic_load(&out->ready);
            if (k < 64)
                snprintf(out->done[k], sizeof out->done[k], "%s",
                         series.n ? series.v[i] : "");
            atomic_store(&out->ready, k + 1); /* after done[k]: the UI reads */
        }
        if (atomic_load(&out->cancel))
            break;
    }
    dcx_scu_close(get);
    uids_free(&series);
    return rc;
}

int vw_browse_get(const struct vw_node *n, const struct vw_study *st,
                  char *dir, size_t dirlen, struct vw_fetch *out, char *err,
                  size_t errlen)
{
    const char *study_uid = st->uid;
    int expected = st->images;
    if (!dcx_uid_valid(study_uid)) {
        snprintf(err, errlen, "not a UID: %s", study_uid);
        return -1;
    }
    out->got = 0;
    out->note[0] = out->warn[0] = '\0';
    unsigned *got = &out->got;
    int cached = vw_cache_dir(study_uid, dir, dirlen) == 0;
    /* as many as the node's list counts: nothing new to ask for (each
     * series' query is a round trip on a county link) */
    if (cached) {
        char why[300];
        if (expected > 0 && count_instances(dir) >= expected)
            ; /* nothing the node's list does not already count */
        else if (update_cached(n, study_uid, dir, out, why, sizeof why) < 0)
            snprintf(out->warn, sizeof out->warn,
                     "the copy fetched before (%s: %.200s)", n->ae, why);
        else if (*got)
            snprintf(out->note, sizeof out->note,
                     "%u new instance(s) fetched", *got);
    } else {
        /* series by series straight into the study's folder: the first
         * can be read while the others come (out->ready). A fetch cut
         * short leaves fewer instances than the node lists, and the next
         * opening asks for the rest (above). */
        if (vw_mkdirs(dir) != 0) {
            snprintf(err, errlen, "%s: %s", dir, strerror(errno));
            return -1;
        }
        int rc = fetch_series(n, study_uid, dir, out, err, errlen);
        if (atomic_load(&out->keep) && *got) {
            if (rc < 0 && !atomic_load(&out->cancel))
                snprintf(out->warn, sizeof out->warn,
                         "the fetch stopped: %.200s", err);
        } else if (rc < 0 || *got == 0 || atomic_load(&out->cancel)) {
            if (atomic_load(&out->cancel))
                snprintf(err, errlen, "cancelled");
            else if (rc == 0)
                snprintf(err, errlen, "the node sent no instance of the "
                                      "study");
            remove_folder(dir); /* nothing of it is kept */
            return -1;
        }
    }
    /* a study shown incomplete must say so: a radiologist reads what is
     * there as the whole study otherwise */
    int have = count_instances(dir);
    if (expected > 0 && have < expected) {
        size_t l = strlen(out->warn);
        snprintf(out->warn + l, sizeof out->warn - l,
                 "%sonly %d of the %d instances the node lists are here; "
                 "opening the study again asks for the rest",
                 l ? "; " : "", have, expected);
    }
    write_study_row(dir, st);
    /* used now: the last to go when the cache is over its limit */
    utimes(dir, NULL);
    char root[1200];
    snprintf(root, sizeof root, "%s", dir);
    char *slash = strrchr(root, '/');
    if (slash && *got) { /* only a fetch makes the cache grow */
        *slash = '\0';
        evict(root, study_uid, n->cache_max);
    }
    return 0;
}

void vw_cache_mark_unsent(const char *dir)
{
    char p[1300];
    snprintf(p, sizeof p, "%s/" VW_CACHE_UNSENT, dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
}

int vw_node_store(const struct vw_node *n, const char *path,
                  const char *sop_class, char *err, size_t errlen)
{
    dcx_scu *scu = open_scu(n, sop_class, 0, err, errlen);
    if (!scu)
        return -1;
    uint16_t st = 0;
    int rc = dcx_scu_store(scu, path, &st);
    if (rc < 0)
        snprintf(err, errlen, "C-STORE: %s", dcx_scu_errmsg(scu));
    else if (st != 0x0000 && (st & 0xF000) != 0xB000)
        snprintf(err, errlen, "C-STORE: %s", dcx_status_str(st));
    dcx_scu_close(scu);
    return rc < 0 || (st != 0x0000 && (st & 0xF000) != 0xB000) ? -1 : 0;
}

static int has(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

/* 1 if the backslash-separated list holds the code */
static int has_code(const char *list, const char *code)
{
    size_t n = strlen(code);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, '\\');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, code, n) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* A report (Basic Text or Enhanced SR, an encapsulated PDF) means the
 * study was read; a presentation state, key images or a measurement
 * report (Comprehensive SR) that reading began. From SOP Classes in Study
 * (the node's index); a node that does not return them is judged by
 * Modalities in Study, where any SR counts as a report. */
const char *vw_study_status(const struct vw_study *s)
{
    if (s->classes[0]) {
        if (has_code(s->classes, "1.2.840.10008.5.1.4.1.1.88.11") ||
            has_code(s->classes, "1.2.840.10008.5.1.4.1.1.88.22") ||
            has_code(s->classes, "1.2.840.10008.5.1.4.1.1.104.1"))
            return "reported";
        if (has_code(s->classes, DCX_GSPS_CLASS) ||
            has_code(s->classes, "1.2.840.10008.5.1.4.1.1.88.59") ||
            has_code(s->classes, "1.2.840.10008.5.1.4.1.1.88.33") ||
            has_code(s->classes, "1.2.840.10008.5.1.4.1.1.88.34"))
            return "in progress";
        return "unread";
    }
    if (has_code(s->mods, "SR"))
        return "reported";
    if (has_code(s->mods, "PR") || has_code(s->mods, "KO"))
        return "in progress";
    return "unread";
}

int vw_study_matches(const struct vw_study *s, const char *f)
{
    return !*f || has(s->name, f) || has(s->id, f) || has(s->desc, f) ||
           has(s->mods, f) || has(s->date, f) ||
           strcasecmp(vw_study_status(s), f) == 0; /* "unread": a worklist */
}

/* ---- the local archive: the node's index, through its own interface
 * (index.h), opened read-only ---- */

static nd_index *open_index(const char *storage, char *err, size_t errlen)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/index.sqlite", storage);
    nd_index *ix;
    if (nd_index_open_readonly(path, &ix, err, errlen) < 0)
        return NULL;
    return ix;
}

static int archive_study(void *user, const char *const *v)
{
    struct vw_study *x = collect_add(user);
    if (!x)
        return 1;
    snprintf(x->name, sizeof x->name, "%s", v[NK_PATIENT_NAME]);
    snprintf(x->id, sizeof x->id, "%s", v[NK_PATIENT_ID]);
    snprintf(x->date, sizeof x->date, "%s", v[NK_STUDY_DATE]);
    snprintf(x->time, sizeof x->time, "%s", v[NK_STUDY_TIME]);
    snprintf(x->mods, sizeof x->mods, "%s", v[NK_MODALITIES_IN_STUDY]);
    snprintf(x->desc, sizeof x->desc, "%s", v[NK_STUDY_DESC]);
    snprintf(x->uid, sizeof x->uid, "%s", v[NK_STUDY_UID]);
    snprintf(x->classes, sizeof x->classes, "%s",
             v[NK_SOP_CLASSES_IN_STUDY]);
    x->images = atoi(v[NK_STUDY_INSTANCES]);
    return 0;
}

int vw_browse_archive(const char *storage, struct vw_study **out,
                      int *count, char *err, size_t errlen)
{
    *out = NULL;
    *count = 0;
    nd_index *ix = open_index(storage, err, errlen);
    if (!ix)
        return -1;
    unsigned char want[NK_COUNT] = {0};
    want[NK_MODALITIES_IN_STUDY] = want[NK_STUDY_INSTANCES] =
        want[NK_SOP_CLASSES_IN_STUDY] = 1;
    struct collect c = {0};
    int rc = nd_index_find(ix, ND_STUDY, NULL, 0, want, archive_study, &c);
    if (rc != 0) {
        snprintf(err, errlen, "%s", rc == 1 ? "out of memory"
                                            : nd_index_errmsg(ix));
        nd_index_close(ix);
        free(c.s);
        return -1;
    }
    nd_index_close(ix);
    qsort(c.s, (size_t)c.n, sizeof *c.s, newest_first);
    *out = c.s;
    *count = c.n;
    return 0;
}

struct paths {
    const char *storage;
    char **v;
    int n;
    size_t cap;
};

static int archive_file(void *user, const char *const *v)
{
    struct paths *p = user;
    char **nv = dcx_grow(p->v, (size_t)p->n, &p->cap, sizeof *nv, 64);
    if (!nv)
        return 1;
    p->v = nv;
    if (asprintf(&p->v[p->n], "%s/%s", p->storage, v[NK_PATH]) < 0)
        return 1;
    p->n++;
    return 0;
}

/* The files of a study in the archive, of SOP class sop_class only
 * unless NULL; none is an error unless sop_class. */
static int study_files(const char *storage, const char *study_uid,
                       const char *sop_class, char ***out, int *n, char *err,
                       size_t errlen)
{
    *out = NULL;
    *n = 0;
    nd_index *ix = open_index(storage, err, errlen);
    if (!ix)
        return -1;
    unsigned char want[NK_COUNT] = {0};
    want[NK_PATH] = 1;
    struct nd_cond c[2] = {
        {.key = NK_STUDY_UID, .match = NM_SINGLE, .value = study_uid},
        {.key = NK_SOP_CLASS, .match = NM_SINGLE, .value = sop_class}};
    struct paths p = {.storage = storage};
    int rc = nd_index_find(ix, ND_IMAGE, c, sop_class ? 2 : 1, want,
                           archive_file, &p);
    if (rc != 0 || (p.n == 0 && !sop_class)) {
        if (rc != 0)
            snprintf(err, errlen, "%s", rc == 1 ? "out of memory"
                                                : nd_index_errmsg(ix));
        else
            snprintf(err, errlen, "study %s has no files in %s", study_uid,
                     storage);
        for (int i = 0; i < p.n; i++)
            free(p.v[i]);
        free(p.v);
        nd_index_close(ix);
        return -1;
    }
    nd_index_close(ix);
    *out = p.v;
    *n = p.n;
    return 0;
}

int vw_archive_files(const char *storage, const char *study_uid,
                     char ***out, int *n, char *err, size_t errlen)
{
    return study_files(storage, study_uid, NULL, out, n, err, errlen);
}

int vw_archive_states(const char *storage, const char *study_uid,
                      char ***out, int *n, char *err, size_t errlen)
{
    return study_files(storage, study_uid, DCX_GSPS_CLASS,
                       out, n, err, errlen);
}

/* ---- DICOM media: a folder with a DICOMDIR (a CD, a teaching file) ---- */

int vw_media_dicomdir(const char *path, char *out, size_t len)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return 0;
    if (S_ISDIR(sb.st_mode)) {
        snprintf(out, len, "%s/DICOMDIR", path);
        if (access(out, R_OK) != 0) {
            snprintf(out, len, "%s/dicomdir", path); /* lower-case media */
            return access(out, R_OK) == 0;
        }
        return 1;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, len, "%s", path);
    return strcasecmp(base, "DICOMDIR") == 0;
}

/* Adds v to the backslash-separated list unless it is there or does not
 * fit. */
static void add_code(char *list, size_t len, const char *v)
{
    if (!*v || has_code(list, v))
        return;
    size_t n = strlen(list);
    if (n + strlen(v) + 2 <= len)
        snprintf(list + n, len - n, "%s%s", n ? "\\" : "", v);
}

struct media_walk {
    struct collect c;
    char name[192], id[68];
    struct vw_study *cur; /* the study whose records follow */
    int cur_i;
    /* vw_media_files */
    const char *want, *root; /* want NULL: every study */
    int in_study;
    char study[68];
    char **files, **study_of;
    int n;
    size_t cap_files, cap_study_of;
};

static int media_study(void *user, const struct dcx_dir_record *r)
{
    struct media_walk *m = user;
    if (strcmp(r->type, "PATIENT") == 0) {
        snprintf(m->name, sizeof m->name, "%s", r->patient_name);
        snprintf(m->id, sizeof m->id, "%s", r->patient_id);
        m->cur_i = -1;
    } else if (strcmp(r->type, "STUDY") == 0) {
        struct vw_study *x = collect_add(&m->c);
        if (!x)
            return -1;
        snprintf(x->name, sizeof x->name, "%s", m->name);
        snprintf(x->id, sizeof x->id, "%s", m->id);
        snprintf(x->date, sizeof x->date, "%s", r->study_date);
        snprintf(x->time, sizeof x->time, "%s", r->study_time);
        snprintf(x->desc, sizeof x->desc, "%s", r->study_desc);
        snprintf(x->uid, sizeof x->uid, "%s", r->study_uid);
        m->cur_i = m->c.n - 1;
    } else if (m->cur_i >= 0) {
        struct vw_study *x = &m->c.s[m->cur_i];
        if (strcmp(r->type, "SERIES") == 0)
            add_code(x->mods, sizeof x->mods, r->modality);
        else if (r->file[0]) {
            x->images++;
            add_code(x->classes, sizeof x->classes, r->sop_class);
        }
    }
    return 0;
}

int vw_browse_media(const char *dicomdir, struct vw_study **out,
                    int *count, char *err, size_t errlen)
{
    *out = NULL;
    *count = 0;
    struct media_walk m = {.cur_i = -1};
    struct dcx_error e;
    int rc = dcx_dicomdir_read(dicomdir, media_study, &m, &e);
    if (rc != 0) {
        snprintf(err, errlen, "%s", rc == -1 ? "out of memory" : e.msg);
        free(m.c.s);
        return -1;
    }
    qsort(m.c.s, (size_t)m.c.n, sizeof *m.c.s, newest_first);
    *out = m.c.s;
    *count = m.c.n;
    return 0;
}

static int media_file(void *user, const struct dcx_dir_record *r)
{
    struct media_walk *m = user;
    if (strcmp(r->type, "PATIENT") == 0) {
        m->in_study = 0;
    } else if (strcmp(r->type, "STUDY") == 0) {
        m->in_study = !m->want || strcmp(r->study_uid, m->want) == 0;
        snprintf(m->study, sizeof m->study, "%s", r->study_uid);
    } else if (m->in_study && r->file[0]) {
        char **nv = dcx_grow(m->files, (size_t)m->n, &m->cap_files,
                             sizeof *nv, 64);
        if (!nv)
            return -1;
        m->files = nv;
        nv = dcx_grow(m->study_of, (size_t)m->n, &m->cap_study_of, sizeof *nv,
                      64);
        if (!nv)
            return -1;
        m->study_of = nv;
        char *p, *st = strdup(m->study);
        if (!st || asprintf(&p, "%s/%s", m->root, r->file) < 0) {
            free(st);
            return -1;
        }
        /* media written in upper case and read from a file system that
         * shows lower case (a file in neither keeps its recorded name, for
         * the viewer to say it is missing) */
        if (access(p, R_OK) != 0) {
            char *lower = strdup(p);
            if (lower) {
                for (char *q = lower + strlen(m->root) + 1; *q; q++)
                    *q = (char)tolower((unsigned char)*q);
                if (access(lower, R_OK) == 0)
                    strcpy(p, lower);
                free(lower);
            }
        }
        m->files[m->n] = p;
        m->study_of[m->n++] = st;
    }
    return 0;
}

int vw_media_files(const char *dicomdir, const char *study_uid, char ***out,
                   char ***out_study, int *n, char *err, size_t errlen)
{
    *out = NULL;
    if (out_study)
        *out_study = NULL;
    *n = 0;
    char root[1024];
    dcx_dir_of(dicomdir, root, sizeof root);
    struct media_walk m = {.cur_i = -1, .want = study_uid, .root = root};
    struct dcx_error e;
    int rc = dcx_dicomdir_read(dicomdir, media_file, &m, &e);
    if (rc != 0 || m.n == 0) {
        snprintf(err, errlen, "%s",
                 rc == -1  ? "out of memory"
                 : rc != 0 ? e.msg
                           : "the DICOMDIR names no file of that study");
        for (int i = 0; i < m.n; i++) {
            free(m.files[i]);
            free(m.study_of[i]);
        }
        free(m.files);
        free(m.study_of);
        return -1;
    }
    *out = m.files;
    if (out_study) {
        *out_study = m.study_of;
    } else {
        for (int i = 0; i < m.n; i++)
            free(m.study_of[i]);
        free(m.study_of);
    }
    *n = m.n;
    return 0;
}
