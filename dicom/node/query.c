/* query.c - Query/Retrieve on the index: turns a C-FIND/MOVE/GET
 * identifier into index conditions with the matching rules of PS3.4
 * C.2.2.2 (single value, wildcards, date/time ranges, UID lists, universal
 * matching) and answers with the requested keys. No SQL here (index.c). */
#define _GNU_SOURCE
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcx/tags.h"
#include "nd.h"

enum kind {
    KT_TEXT = 'T', /* single value or wildcard, case-sensitive */
    KT_PN = 'P',   /* single or wildcard, ASCII case-insensitive, per
                      component group (index.c, pn_sql) */
    KT_UID = 'U',  /* single or list */
    KT_DATE = 'D', /* single or range */
    KT_TIME = 'M', /* single or range */
    KT_LIST = 'L', /* any of several code values (Modalities in Study) */
    KT_NUM = 'N',  /* single */
    KT_RET = 'R',  /* returned, never matched (counts, image size, SOP
                      Classes in Study: optional keys, PS3.4 C.6.1) */
};

static const struct {
    uint32_t tag;
    enum nd_key key;
    char kind;
} tagmap[] = {
    {DCX_TAG(0x0010, 0x0020), NK_PATIENT_ID, KT_TEXT},
    {DCX_TAG(0x0010, 0x0010), NK_PATIENT_NAME, KT_PN},
    {DCX_TAG(0x0010, 0x0030), NK_BIRTH_DATE, KT_DATE},
    {DCX_TAG(0x0010, 0x0040), NK_SEX, KT_TEXT},
    {DCX_TAG(0x0010, 0x0021), NK_ISSUER, KT_TEXT},
    {DCX_TAG(0x0020, 0x000D), NK_STUDY_UID, KT_UID},
    {DCX_TAG(0x0008, 0x0020), NK_STUDY_DATE, KT_DATE},
    {DCX_TAG(0x0008, 0x0030), NK_STUDY_TIME, KT_TIME},
    {DCX_TAG(0x0008, 0x0050), NK_ACCESSION, KT_TEXT},
    {DCX_TAG(0x0020, 0x0010), NK_STUDY_ID, KT_TEXT},
    {DCX_TAG(0x0008, 0x1030), NK_STUDY_DESC, KT_TEXT},
    {DCX_TAG(0x0008, 0x0090), NK_REFERRING, KT_PN},
    {DCX_TAG(0x0008, 0x0061), NK_MODALITIES_IN_STUDY, KT_LIST},
    {DCX_TAG(0x0020, 0x000E), NK_SERIES_UID, KT_UID},
    {DCX_TAG(0x0008, 0x0060), NK_MODALITY, KT_TEXT},
    {DCX_TAG(0x0020, 0x0011), NK_SERIES_NUMBER, KT_NUM},
    {DCX_TAG(0x0008, 0x103E), NK_SERIES_DESC, KT_TEXT},
    {DCX_TAG(0x0018, 0x0015), NK_BODY_PART, KT_TEXT},
    {DCX_TAG(0x0008, 0x0018), NK_SOP_UID, KT_UID},
    {DCX_TAG(0x0008, 0x0016), NK_SOP_CLASS, KT_UID},
    {DCX_TAG(0x0020, 0x0013), NK_INSTANCE_NUMBER, KT_NUM},
    {DCX_TAG(0x0028, 0x0010), NK_ROWS, KT_RET},
    {DCX_TAG(0x0028, 0x0011), NK_COLUMNS, KT_RET},
    {DCX_TAG(0x0028, 0x0008), NK_FRAMES, KT_RET},
    {DCX_TAG(0x0020, 0x1200), NK_PAT_STUDIES, KT_RET},
    {DCX_TAG(0x0020, 0x1202), NK_PAT_SERIES, KT_RET},
    {DCX_TAG(0x0020, 0x1204), NK_PAT_INSTANCES, KT_RET},
    {DCX_TAG(0x0020, 0x1206), NK_STUDY_SERIES, KT_RET},
    {DCX_TAG(0x0020, 0x1208), NK_STUDY_INSTANCES, KT_RET},
    {DCX_TAG(0x0020, 0x1209), NK_SERIES_INSTANCES, KT_RET},
    {DCX_TAG(0x0008, 0x0062), NK_SOP_CLASSES_IN_STUDY, KT_RET},
};

#define TAG_QR_LEVEL DCX_TAG(0x0008, 0x0052)
#define TAG_RETRIEVE_AE DCX_TAG(0x0008, 0x0054)
/* Instance Availability (PS3.4 C.4.1.2.3): everything here is on disk */
#define TAG_AVAILABILITY DCX_TAG(0x0008, 0x0056)
#define MAX_KEYS 128

static int map_of(uint32_t tag)
{
    for (size_t i = 0; i < sizeof tagmap / sizeof tagmap[0]; i++)
        if (tagmap[i].tag == tag)
            return (int)i;
    return -1;
}

void nd_query_free(struct nd_query *q)
{
    for (size_t i = 0; i < q->n_strings; i++)
        free(q->strings[i]);
    free(q->strings);
    for (size_t i = 0; q->conds && i < q->n_conds; i++)
        free((void *)q->conds[i].values);
    free(q->conds);
    memset(q, 0, sizeof *q);
}

static char *keep(struct nd_query *q, char *s)
{
    if (!s)
        return NULL;
    char **v = realloc(q->strings, (q->n_strings + 1) * sizeof *v);
    if (!v) {
        free(s);
        return NULL;
    }
    q->strings = v;
    q->strings[q->n_strings++] = s;
    return s;
}

/* digits only (dates "2024.03.15", times "09:30"); times padded to hhmmss
 * (pad '0' for a lower bound, '9' for an upper one) */
static char *norm(struct nd_query *q, const char *v, size_t n, int time,
                  char pad)
{
    char buf[32];
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof buf - 1; i++) {
        if (v[i] >= '0' && v[i] <= '9')
            buf[o++] = v[i];
        else if (v[i] == '.' && time)
            break; /* fraction of a second: ignored */
    }
    if (time) {
        if (o > 6)
            o = 6;
        while (o > 0 && o < 6)
            buf[o++] = pad;
    }
    buf[o] = '\0';
    return keep(q, strdup(buf));
}

static int add_cond(struct nd_query *q, const struct nd_cond *c)
{
    if (q->n_conds >= MAX_KEYS)
        return -1;
    q->conds[q->n_conds++] = *c;
    return 0;
}

/* Splits a multi-valued text on backslashes (after charset decoding). */
static int split_list(struct nd_query *q, const char *v,
                      const char *const **out, size_t *n)
{
    size_t cnt = 1;
    for (const char *p = v; *p; p++)
        cnt += *p == '\\';
    const char **arr = calloc(cnt, sizeof *arr);
    char *copy = keep(q, strdup(v));
    if (!arr || !copy) {
        free(arr);
        return -1;
    }
    size_t k = 0;
    for (char *tok = copy, *next; tok; tok = next) {
        next = strchr(tok, '\\');
        if (next)
            *next++ = '\0';
        if (*tok)
            arr[k++] = tok;
    }
    *out = arr;
    *n = k;
    return 0;
}

static int has_wild(const char *v)
{
    return strpbrk(v, "*?") != NULL;
}

int nd_query_parse(dcx_ds *ds, int patient_root, struct nd_query *q,
                   char *why, size_t whylen)
{
    memset(q, 0, sizeof *q);
    q->conds = calloc(MAX_KEYS, sizeof *q->conds);
    if (!q->conds)
        return -1;
    dcx_item *root = dcx_ds_root(ds);
    char level[32] = "";
    dcx_item_get_str(root, TAG_QR_LEVEL, 0, level, sizeof level);
    if (strcmp(level, "PATIENT") == 0 && patient_root)
        q->level = ND_PATIENT;
    else if (strcmp(level, "STUDY") == 0)
        q->level = ND_STUDY;
    else if (strcmp(level, "SERIES") == 0)
        q->level = ND_SERIES;
    else if (strcmp(level, "IMAGE") == 0)
        q->level = ND_IMAGE;
    else {
        snprintf(why, whylen, "Query/Retrieve Level '%s' is not valid for "
                              "this model", level);
        return -1;
    }
    int n = dcx_item_tag_count(root);
    for (int i = 0; i < n; i++) {
        uint32_t tag;
        if (dcx_item_tag_at(root, (unsigned)i, &tag) < 0)
            continue;
        if (tag == TAG_QR_LEVEL || tag == DCX_TAG_SPECIFIC_CHARACTER_SET ||
            (tag >> 16) == 0x0002)
            continue;
        if (q->n_tags == MAX_KEYS) {
            q->unsupported = 1; /* neither matched nor returned */
            continue;
        }
        q->tags[q->n_tags++] = tag;
        int m = map_of(tag);
        if (tag == TAG_AVAILABILITY) {
            /* returned ONLINE; a value other than that is not matched */
            char av[32] = "";
            int rc = dcx_item_get_str(root, tag, -1, av, sizeof av);
            q->unsupported |= rc > 0 && strcmp(av, "ONLINE") != 0 &&
                              strcmp(av, "*") != 0;
            continue;
        }
        if (m < 0) {
            /* returned empty, whatever the instances hold */
            q->unsupported |= tag != TAG_RETRIEVE_AE;
            continue;
        }
        enum nd_key key = tagmap[m].key;
        q->want[key] = 1;
        /* whole value, however long (a UID list can be kilobytes) */
        char small[256] = "";
        int rc = dcx_item_get_str(root, tag, -1, small, sizeof small);
        int universal = (rc < 0 && rc != DCX_ECHARSET) || !small[0] ||
                        strcmp(small, "*") == 0;
        if (nd_key_level(key) > q->level) {
            /* a key below the level: returned empty, never matched */
            q->unsupported = 1;
            continue;
        }
        if (tagmap[m].kind == KT_RET) {
            /* a key only returned: a value to match is not matched */
            q->unsupported |= !universal;
            continue;
        }
        if (rc < 0 && rc != DCX_ECHARSET)
            continue;
        if (rc == DCX_ECHARSET) {
            /* what is left once the invalid bytes are dropped is not what
             * was asked: "张*" in GB2312 bytes without the escape sequence
             * of its declared ISO 2022 IR 58 would become "*" and match
             * every patient */
            snprintf(why, whylen, "the value of (%04X,%04X) is not valid "
                                  "in the query's Specific Character Set",
                     (unsigned)(tag >> 16), (unsigned)(tag & 0xFFFF));
            return ND_EBADDATA;
        }
        char *v;
        if (rc >= (int)sizeof small) {
            v = keep(q, malloc((size_t)rc + 1));
            if (!v)
                return -1;
            dcx_item_get_str(root, tag, -1, v, (size_t)rc + 1);
        } else {
            v = keep(q, strdup(small));
            if (!v)
                return -1;
        }
        if (!v[0] || strcmp(v, "*") == 0)
            continue; /* universal matching */
        struct nd_cond c = {.key = key, .match = NM_SINGLE, .value = v};
        switch (tagmap[m].kind) {
        case KT_PN:
            c.fold_case = 1;
            /* fall through */
        case KT_TEXT:
            c.match = has_wild(v) ? NM_WILDCARD : NM_SINGLE;
            break;
        case KT_UID:
        case KT_LIST:
            if (split_list(q, v, &c.values, &c.n_values) < 0)
                return -1;
            c.match = NM_LIST;
            if (tagmap[m].kind == KT_LIST && c.n_values == 1 &&
                has_wild(c.values[0])) {
                c.match = NM_WILDCARD;
                c.value = c.values[0];
                free((void *)c.values);
                c.values = NULL;
                c.n_values = 0;
            }
            break;
        case KT_DATE:
        case KT_TIME: {
            int t = tagmap[m].kind == KT_TIME;
            const char *dash = strchr(v, '-');
            if (dash) {
                c.match = NM_RANGE;
                c.lo = norm(q, v, (size_t)(dash - v), t, '0');
                c.hi = norm(q, dash + 1, strlen(dash + 1), t, '9');
            } else {
                c.value = norm(q, v, strlen(v), t, '0');
            }
            if ((dash && (!c.lo || !c.hi)) || (!dash && !c.value))
                return -1;
            break;
        }
        case KT_NUM:
            /* an IS is a number: "01" and " 1" are Series 1 (IS has no
             * wildcards, PS3.4 C.2.2.2.4: anything else is compared as
             * it is, and matches nothing) */
            if (c.match == NM_SINGLE) {
                char *end;
                long long k = strtoll(v, &end, 10);
                while (*end == ' ')
                    end++;
                if (end != v && !*end) {
                    char num[32];
                    snprintf(num, sizeof num, "%lld", k);
                    c.value = keep(q, strdup(num));
                    if (!c.value)
                        return -1;
                }
            }
            break;
        case KT_RET:
            break;
        }
        if (add_cond(q, &c) < 0)
            return -1;
    }
    return 0;
}

int nd_query_for_retrieve(struct nd_query *q, int patient_root, char *why,
                          size_t whylen)
{
    static const enum nd_key unique[] = {NK_PATIENT_ID, NK_STUDY_UID,
                                         NK_SERIES_UID, NK_SOP_UID};
    static const char *const names[] = {"Patient ID", "Study Instance UID",
                                        "Series Instance UID",
                                        "SOP Instance UID"};
    int named = 0;
    size_t o = 0;
    for (size_t i = 0; i < q->n_conds; i++) {
        struct nd_cond *c = &q->conds[i];
        enum nd_level lv = nd_key_level(c->key);
        int keep = lv <= q->level && c->key == unique[lv] &&
                   (lv != ND_PATIENT || patient_root);
        if (keep && c->key == NK_PATIENT_ID && c->match != NM_SINGLE) {
            snprintf(why, whylen, "Patient ID of a retrieve must be a "
                                  "single value");
            return -1;
        }
        if (keep && c->match == NM_LIST && c->n_values == 0) {
            snprintf(why, whylen, "%s of a retrieve names no UID",
                     names[lv]);
            return -1;
        }
        if (!keep) {
            free((void *)c->values);
            continue;
        }
        named |= lv == q->level;
        q->conds[o++] = *c;
    }
    q->n_conds = o;
    if (!named) {
        snprintf(why, whylen, "a retrieve at the %s level needs its unique "
                              "key, %s",
                 q->level == ND_PATIENT  ? "PATIENT"
                 : q->level == ND_STUDY  ? "STUDY"
                 : q->level == ND_SERIES ? "SERIES"
                                         : "IMAGE",
                 names[q->level]);
        return -1;
    }
    return 0;
}

void nd_query_describe(const struct nd_query *q, char *out, size_t len)
{
    static const char *const levels[] = {"PATIENT", "STUDY", "SERIES",
                                         "IMAGE"};
    static const char *const key_names[NK_COUNT] = {
        [NK_PATIENT_ID] = "PatientID",
        [NK_PATIENT_NAME] = "PatientName",
        [NK_BIRTH_DATE] = "PatientBirthDate",
        [NK_SEX] = "PatientSex",
        [NK_ISSUER] = "IssuerOfPatientID",
        [NK_STUDY_UID] = "StudyInstanceUID",
        [NK_STUDY_DATE] = "StudyDate",
        [NK_STUDY_TIME] = "StudyTime",
        [NK_ACCESSION] = "AccessionNumber",
        [NK_STUDY_ID] = "StudyID",
        [NK_STUDY_DESC] = "StudyDescription",
        [NK_REFERRING] = "ReferringPhysicianName",
        [NK_MODALITIES_IN_STUDY] = "ModalitiesInStudy",
        [NK_SERIES_UID] = "SeriesInstanceUID",
        [NK_MODALITY] = "Modality",
        [NK_SERIES_NUMBER] = "SeriesNumber",
        [NK_SERIES_DESC] = "SeriesDescription",
        [NK_BODY_PART] = "BodyPartExamined",
        [NK_SOP_UID] = "SOPInstanceUID",
        [NK_SOP_CLASS] = "SOPClassUID",
        [NK_INSTANCE_NUMBER] = "InstanceNumber",
    };
    size_t o = (size_t)snprintf(out, len, "level=%s", levels[q->level]);
    for (size_t i = 0; i < q->n_conds && o < len; i++) {
        const struct nd_cond *c = &q->conds[i];
        const char *name = key_names[c->key] ? key_names[c->key] : "?";
        int n;
        if (c->match == NM_RANGE)
            n = snprintf(out + o, len - o, " %s=%s-%s", name,
                         c->lo ? c->lo : "", c->hi ? c->hi : "");
        else if (c->match == NM_LIST)
            n = snprintf(out + o, len - o, " %s=%s%s", name,
                         c->n_values ? c->values[0] : "",
                         c->n_values > 1 ? "\\..." : "");
        else
            n = snprintf(out + o, len - o, " %s=%s", name, c->value);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

int nd_query_response(const struct nd_query *q, const char *const *vals,
                      const char *our_ae, struct dcx_attr *out,
                      size_t cap)
{
    static const char *const names[] = {"PATIENT", "STUDY", "SERIES",
                                        "IMAGE"};
    size_t n = 0;
    if (cap < 2)
        return 0;
    out[n++] = (struct dcx_attr){TAG_QR_LEVEL, names[q->level]};
    out[n++] = (struct dcx_attr){TAG_RETRIEVE_AE, our_ae};
    for (size_t i = 0; i < q->n_tags && n < cap; i++) {
        if (q->tags[i] == TAG_RETRIEVE_AE)
            continue;
        int m = map_of(q->tags[i]);
        const char *v = q->tags[i] == TAG_AVAILABILITY ? "ONLINE" : "";
        if (m >= 0 && nd_key_level(tagmap[m].key) <= q->level)
            v = vals[tagmap[m].key];
        out[n++] = (struct dcx_attr){q->tags[i], v};
    }
    return (int)n;
}
