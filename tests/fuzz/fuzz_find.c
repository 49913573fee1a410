/* fuzz_find.c - libFuzzer target for consort-node's C-FIND matcher: an
 * identifier (a bare data set, as it arrives in a C-FIND, or a Part-10
 * file) goes through nd_query_parse (dicom/node/query.c) and
 * nd_index_find (the SQL in dicom/node/index.c) over a fixed index of 96
 * instances whose values carry the characters that need escaping in
 * GLOB/LIKE ('%', '_', '[', '\\'), Chinese and mixed-case names, empty and
 * absent values. Each answer is also built with nd_query_response.
 *
 * Besides the sanitizers, a differential check: the entities the index
 * returns must be exactly those a plain reference matcher over the same
 * records finds (PS3.4 C.2.2.2: single value, wildcard with '?' one
 * character, ASCII case folding and component groups for PN, ranges that
 * no empty value is in, UID lists), else abort
 * with "fuzz_find: differential: ...". Modalities in Study is left to the
 * sanitizers. The first input byte steers the model (bit 0: Patient Root).
 */
#define _GNU_SOURCE
#include "index.h"
#include "query.h"

#include "dcx/dataset.h"
#include "dcx/dcx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_PAT 6
#define N_REC 96

static void discard(enum dcx_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

/* what the reference knows of each record, by key */
struct ref {
    const char *v[NK_COUNT];
    char num_series[16], num_inst[16], time_norm[8];
};

static nd_index *g_ix;
static char g_dir[64];
static struct nd_instance_rec g_rec[N_REC];
static struct ref g_ref[N_REC];
static char g_uids[N_REC][3][64];

static const char *const names[N_PAT] = {
    "WANG^WEI", "Wang^Wei=\xe7\x8e\x8b^\xe4\xbc\x9f", "O'BRIEN^JOHN",
    "li^na", "ZHANG*STAR^X", "A%B_C\\D[1]^",
};
static const char *const pids[N_PAT] = {"P001", "P002", "p001", "P_4",
                                        "P%5", "P[6]"};
static const char *const dates[4] = {"20240101", "20240315", "", "19991231"};
static const char *const times[4] = {"093000", "23:59:59", "0800", ""};
static const char *const mods[4] = {"CT", "US", "DX", "SR"};
static const char *const descs[4] = {"CHEST", "\xe8\x83\xb8\xe9\x83\xa8",
                                     "Chest [AP]", ""};

static void cleanup(void)
{
    nd_index_close(g_ix);
    char p[128];
    const char *tails[] = {"index.sqlite", "index.sqlite-wal",
                           "index.sqlite-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", g_dir, tails[i]);
        unlink(p);
    }
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (dcx_init(discard, NULL, DCX_LOG_ERROR) != 0)
        abort();
    snprintf(g_dir, sizeof g_dir, "/tmp/consort-fuzz-find-XXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/index.sqlite", g_dir);
    if (nd_index_open(path, &g_ix, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_find: %s\n", err);
        abort();
    }
    atexit(cleanup);
    /* 6 patients x 2 studies x 2 series x 4 instances */
    for (int i = 0; i < N_REC; i++) {
        int p = i / 16, st = i / 8, se = i / 4;
        struct nd_instance_rec *r = &g_rec[i];
        snprintf(g_uids[i][0], 64, "1.2.826.0.1.%d", st);
        snprintf(g_uids[i][1], 64, "1.2.826.0.1.%d.%d", st, se);
        snprintf(g_uids[i][2], 64, "1.2.826.0.1.%d.%d.%d", st, se, i);
        *r = (struct nd_instance_rec){
            .patient_id = pids[p], .issuer = "", .patient_name = names[p],
            .birth_date = p % 2 ? "19700101" : "", .sex = p % 3 ? "M" : "F",
            .study_uid = g_uids[i][0], .study_date = dates[st % 4],
            .study_time = times[(st / 2) % 4],
            .accession = st % 3 ? "ACC1" : "", .study_id = "1",
            .study_desc = descs[st % 4], .referring = st % 2 ? "DR^LI" : "",
            .series_uid = g_uids[i][1], .modality = mods[se % 4],
            .series_desc = descs[(se + 1) % 4], .body_part = "CHEST",
            .series_number = se % 3 == 2 ? -1 : se % 3 + 1,
            .sop_uid = g_uids[i][2],
            .sop_class = se % 4 == 3 ? "1.2.840.10008.5.1.4.1.1.88.11"
                                     : "1.2.840.10008.5.1.4.1.1.2",
            .transfer_syntax = "1.2.840.10008.1.2.1",
            .instance_number = i % 4 == 3 ? -1 : i % 4 + 1,
            .rows = 2, .columns = 2, .frames = 1, .path = g_uids[i][2],
            .size = 100, .calling_ae = "FUZZ", .origin = "",
            .charset = "ISO_IR 192",
        };
        struct ref *f = &g_ref[i];
        f->v[NK_PATIENT_ID] = r->patient_id;
        f->v[NK_PATIENT_NAME] = r->patient_name;
        f->v[NK_BIRTH_DATE] = r->birth_date;
        f->v[NK_SEX] = r->sex;
        f->v[NK_ISSUER] = r->issuer;
        f->v[NK_STUDY_UID] = r->study_uid;
        f->v[NK_STUDY_DATE] = r->study_date;
        /* the index matches times as hhmmss without colons */
        char t[32];
        size_t o = 0;
        for (const char *s = r->study_time; *s && o < 6; s++)
            if (*s != ':')
                t[o++] = *s;
        while (o < 6)
            t[o++] = '0';
        t[6] = '\0';
        memcpy(f->time_norm, t, 7);
        f->v[NK_STUDY_TIME] = f->time_norm;
        f->v[NK_ACCESSION] = r->accession;
        f->v[NK_STUDY_ID] = r->study_id;
        f->v[NK_STUDY_DESC] = r->study_desc;
        f->v[NK_REFERRING] = r->referring;
        f->v[NK_SERIES_UID] = r->series_uid;
        f->v[NK_MODALITY] = r->modality;
        if (r->series_number >= 0)
            snprintf(f->num_series, 16, "%d", r->series_number);
        f->v[NK_SERIES_NUMBER] = r->series_number >= 0 ? f->num_series : NULL;
        f->v[NK_SERIES_DESC] = r->series_desc;
        f->v[NK_BODY_PART] = r->body_part;
        f->v[NK_SOP_UID] = r->sop_uid;
        f->v[NK_SOP_CLASS] = r->sop_class;
        if (r->instance_number >= 0)
            snprintf(f->num_inst, 16, "%d", r->instance_number);
        f->v[NK_INSTANCE_NUMBER] =
            r->instance_number >= 0 ? f->num_inst : NULL;
        if (nd_index_add(g_ix, r) != 0) {
            fprintf(stderr, "fuzz_find: cannot index record %d: %s\n", i,
                    nd_index_errmsg(g_ix));
            abort();
        }
        (void)p;
    }
    return 0;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* bytes of the UTF-8 character at s (1 for a stray byte) */
static size_t u8len(const unsigned char *s)
{
    size_t n = *s < 0x80 ? 1 : (*s & 0xE0) == 0xC0 ? 2
                           : (*s & 0xF0) == 0xE0 ? 3
                           : (*s & 0xF8) == 0xF0 ? 4
                                                 : 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return n;
}

/* DICOM wildcard match: '*' any run, '?' one character. */
static int wild(const unsigned char *p, const unsigned char *s, int fold)
{
    while (*p) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            if (!*p)
                return 1;
            for (;;) {
                if (wild(p, s, fold))
                    return 1;
                if (!*s)
                    return 0;
                s += u8len(s);
            }
        }
        if (!*s)
            return 0;
        if (*p == '?') {
            p++;
            s += u8len(s);
            continue;
        }
        if (fold ? lower(*p) != lower(*s) : *p != *s)
            return 0;
        p++;
        s++;
    }
    return *s == '\0';
}

/* equal (ASCII case-insensitive), or matching where p has wildcards */
static int fold_match(const char *p, const char *s)
{
    if (strpbrk(p, "*?"))
        return wild((const unsigned char *)p, (const unsigned char *)s, 1);
    for (; *p && *s; p++, s++)
        if (lower((unsigned char)*p) != lower((unsigned char)*s))
            return 0;
    return *p == *s;
}

/* Cuts a Person Name copy into its groups: alphabetic, ideographic,
 * phonetic (the rest, '=' and all). */
static void pn_cut(char *v, char *g[3])
{
    for (int i = 0; i < 3; i++) {
        g[i] = v;
        char *e = i < 2 ? strchr(v, '=') : NULL;
        if (e) {
            *e = '\0';
            v = e + 1;
        } else {
            v += strlen(v);
        }
    }
}

/* A PN query value without '=' matches any group of the name; with '='
 * group by group, an empty or "*" group matching anything. */
static int ref_pn(const char *query, const char *name)
{
    char *qc = strdup(query), *nc = strdup(name), *qg[3], *ng[3];
    if (!qc || !nc)
        abort();
    pn_cut(nc, ng);
    int ok;
    if (!strchr(query, '=')) {
        ok = fold_match(query, ng[0]) || fold_match(query, ng[1]) ||
             fold_match(query, ng[2]);
    } else {
        pn_cut(qc, qg);
        ok = 1;
        for (int i = 0; ok && i < 3; i++)
            if (*qg[i] && strcmp(qg[i], "*") != 0)
                ok = fold_match(qg[i], ng[i]);
    }
    free(qc);
    free(nc);
    return ok;
}

static int ref_match(const struct nd_cond *c, const char *v)
{
    if (!v) /* an absent number: NULL in SQL matches nothing */
        return 0;
    switch (c->match) {
    case NM_SINGLE:
        if (c->fold_case)
            return ref_pn(c->value, v);
        return strcmp(c->value, v) == 0;
    case NM_WILDCARD:
        if (c->fold_case)
            return ref_pn(c->value, v);
        return wild((const unsigned char *)c->value, (const unsigned char *)v,
                    0);
    case NM_RANGE:
        if (!*v) /* no date: in no range (PS3.4 C.2.2.2.5) */
            return 0;
        if (c->lo && *c->lo && strcmp(v, c->lo) < 0)
            return 0;
        if (c->hi && *c->hi && strcmp(v, c->hi) > 0)
            return 0;
        return 1;
    case NM_LIST:
        for (size_t i = 0; i < c->n_values; i++)
            if (strcmp(c->values[i], v) == 0)
                return 1;
        return 0;
    }
    return 0;
}

static const enum nd_key entity_key[4] = {NK_PATIENT_ID, NK_STUDY_UID,
                                          NK_SERIES_UID, NK_SOP_UID};

struct got {
    const struct nd_query *q;
    char keys[N_REC][64];
    int n;
};

static int on_row(void *user, const char *const *vals)
{
    struct got *g = user;
    struct dcx_attr attrs[140];
    int n = nd_query_response(g->q, vals, "FUZZ", attrs, 140);
    for (int i = 0; i < n; i++)
        if (!attrs[i].value)
            abort();
    if (g->n >= N_REC) {
        fprintf(stderr, "fuzz_find: differential: more rows than records\n");
        abort();
    }
    snprintf(g->keys[g->n++], 64, "%s", vals[entity_key[g->q->level]]);
    return 0;
}

static int has_key(const struct got *g, const char *k)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->keys[i], k) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int patient_root = data[0] & 1;
    dcx_ds *ds = NULL;
    if (dcx_ds_open_mem(data + 1, size - 1, NULL, &ds, NULL) < 0)
        return 0;
    struct nd_query q;
    char why[200];
    if (nd_query_parse(ds, patient_root, &q, why, sizeof why) < 0) {
        nd_query_free(&q);
        dcx_ds_close(ds);
        return 0;
    }
    struct got *g = calloc(1, sizeof *g);
    if (!g)
        abort();
    g->q = &q;
    int rc = nd_index_find(g_ix, q.level, q.conds, q.n_conds, q.want, on_row,
                           g);
    int differential = rc == 0;
    for (size_t i = 0; i < q.n_conds; i++)
        if (q.conds[i].key == NK_MODALITIES_IN_STUDY)
            differential = 0;
    if (differential) {
        /* every entity of the level whose records match: one record of an
         * entity has all the entity's values at its level and above */
        struct got want = {.q = &q};
        for (int i = 0; i < N_REC; i++) {
            int ok = 1;
            for (size_t k = 0; ok && k < q.n_conds; k++) {
                const struct nd_cond *c = &q.conds[k];
                if (nd_key_level(c->key) > q.level)
                    continue;
                /* an empty time is "000000" once normalised, yet no
                 * time: in no range, and not midnight */
                if (c->key == NK_STUDY_TIME && !g_rec[i].study_time[0])
                    ok = 0;
                else
                    ok = ref_match(c, g_ref[i].v[c->key]);
            }
            const char *key = g_ref[i].v[entity_key[q.level]];
            if (ok && !has_key(&want, key))
                snprintf(want.keys[want.n++], 64, "%s", key);
        }
        int same = want.n == g->n;
        for (int i = 0; same && i < want.n; i++)
            same = has_key(g, want.keys[i]);
        if (!same) {
            fprintf(stderr,
                    "fuzz_find: differential: level %d, %zu condition(s): "
                    "index %d entities, reference %d\n",
                    q.level, q.n_conds, g->n, want.n);
            for (size_t k = 0; k < q.n_conds; k++)
                fprintf(stderr, "  key %d match %d value '%s' lo '%s' hi "
                                "'%s' n_values %zu\n",
                        q.conds[k].key, q.conds[k].match,
                        q.conds[k].value ? q.conds[k].value : "",
                        q.conds[k].lo ? q.conds[k].lo : "",
                        q.conds[k].hi ? q.conds[k].hi : "",
                        q.conds[k].n_values);
            abort();
        }
    }
    /* the same identifier as a C-MOVE/C-GET's: only its unique keys */
    if (nd_query_for_retrieve(&q, patient_root, why, sizeof why) == 0) {
        unsigned char want_path[NK_COUNT] = {0};
        want_path[NK_PATH] = 1;
        g->n = 0;
        g->q = &q;
        nd_index_find(g_ix, ND_IMAGE, q.conds, q.n_conds, want_path, on_row,
                      g);
    }
    free(g);
    nd_query_free(&q);
    dcx_ds_close(ds);
    return 0;
}
