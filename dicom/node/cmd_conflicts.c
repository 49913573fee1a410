/* cmd_conflicts.c - `consort-node conflicts`: what the archive keeps aside
 * for an operator in STORAGE/conflicts (a second copy of an instance with
 * other content, kept instead of overwriting; the prefix of an instance a
 * power cut caught; the copies an accept replaced), each with what
 * differs from the archived copy, and, on the operator's word, a copy
 * accepted in the archived one's place. That is how a study a technician
 * corrected at the modality (the patient's name, say) and sent again with
 * the same UIDs gets into the archive: the archived file is kept as
 * conflicts/replaced-* (accepting that undoes it) and the copy renamed
 * over it (a reader sees one or the other), the index's patient, study,
 * series and instance rows
 * are taken from the new copy in the same transaction, the instance is
 * queued for the peers again, and the audit trail names the operator.
 * Safe beside a running node, as import and delete are. */
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
#include "record.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dcx/dataset.h"
#include "dcx/pixel.h"
#include "dcx/tags.h"

enum kind { CONFLICT, INCOMPLETE, REPLACED };

static enum kind kind_of(const char *name)
{
    return strncmp(name, "incomplete-", 11) == 0 ? INCOMPLETE
           : strncmp(name, "replaced-", 9) == 0  ? REPLACED
                                                 : CONFLICT;
}

static void usage(FILE *to)
{
    nd_opts_usage(
        to,
        "usage: consort-node conflicts [list] [--storage DIR | --config "
        "FILE]\n"
        "       consort-node conflicts accept|drop FILE... | --study UID\n"
        "                  [--storage DIR | --config FILE] [--user NAME] "
        "[--yes]\n",
        "\n"
        "list (the default) shows what the archive keeps aside in "
        "STORAGE/conflicts,\n"
        "oldest first: copies of an instance that arrived with other "
        "content than\n"
        "the archived one (never overwritten), the prefixes of instances a "
        "power cut\n"
        "caught before they were acknowledged, and the copies an accept "
        "replaced;\n"
        "for each, the attributes that differ from the archived copy and "
        "whether\n"
        "the pixel values do.\n"
        "\n"
        "accept puts a kept copy in the archived one's place (a study "
        "corrected at\n"
        "the modality and sent again): it replaces the file in one step, "
        "the index\n"
        "takes the patient, study, series and instance from the copy, the "
        "instance\n"
        "is forwarded again as a new arrival, and the audit trail names NAME "
        "(default\n"
        "$SUDO_USER or $USER). The replaced copy stays as "
        "conflicts/replaced-*;\n"
        "accepting it undoes the change. FILE as listed (conflicts/NAME), "
        "or --study\n"
        "for every kept copy of a study.\n"
        "\n"
        "drop removes kept files for good (a re-encoded copy of the same "
        "data set,\n"
        "a replaced copy no longer needed, a power cut's prefix), recorded "
        "in the\n"
        "audit trail; --study drops every file of the study.\n"
        "\n"
        "Without --yes accept and drop only show what they would do. Safe "
        "while the\n"
        "node runs.\n");
}

/* ---- what differs ---- */

static int binary_vr(const char *vr)
{
    static const char *const b[] = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        if (strcmp(vr, b[i]) == 0)
            return 1;
    return 0;
}

/* The value of tag as text (all values, UTF-8), malloc'd; NULL if it
 * cannot be read as text. Bytes invalid in the character set are left
 * out (the comparison still sees the rest). */
static char *text_of(const dcx_item *it, uint32_t tag)
{
    size_t cap = 4096;
    char *s = malloc(cap);
    int n = s ? dcx_item_get_str(it, tag, -1, s, cap) : -1;
    if (s && n >= 0 && (size_t)n >= cap) {
        char *t = realloc(s, (size_t)n + 1);
        n = t ? dcx_item_get_str(it, tag, -1, t, (size_t)n + 1) : -1;
        s = t ? t : s;
    }
    if (n < 0 && n != DCX_ECHARSET) {
        free(s);
        return NULL;
    }
    return s;
}

static int items_differ(const dcx_item *a, const dcx_item *b);

/* 1 if tag's value differs between a and b (both have it) */
static int value_differs(const dcx_item *a, const dcx_item *b, uint32_t tag)
{
    char va[3] = "", vb[3] = "";
    dcx_item_vr(a, tag, va);
    dcx_item_vr(b, tag, vb);
    if (strcmp(va, "SQ") == 0 || strcmp(vb, "SQ") == 0) {
        int na = dcx_item_seq_count(a, tag), nb = dcx_item_seq_count(b, tag);
        if (na != nb || na < 0)
            return na != nb;
        for (int i = 0; i < na; i++) {
            dcx_item *ia, *ib;
            if (dcx_item_seq_get(a, tag, (unsigned)i, &ia) < 0 ||
                dcx_item_seq_get(b, tag, (unsigned)i, &ib) < 0 ||
                items_differ(ia, ib))
                return 1;
        }
        return 0;
    }
    if (binary_vr(va) || binary_vr(vb)) {
        const void *pa, *pb;
        size_t la, lb;
        int ra = dcx_item_get_bytes(a, tag, &pa, &la);
        int rb = dcx_item_get_bytes(b, tag, &pb, &lb);
        if (ra < 0 || rb < 0)
            return ra != rb;
        return la != lb || memcmp(pa, pb, la) != 0;
    }
    char *ta = text_of(a, tag), *tb = text_of(b, tag);
    int d = !ta || !tb ? ta != tb : strcmp(ta, tb) != 0;
    free(ta);
    free(tb);
    return d;
}

static int items_differ(const dcx_item *a, const dcx_item *b)
{
    int na = dcx_item_tag_count(a), nb = dcx_item_tag_count(b);
    if (na != nb)
        return 1;
    for (int i = 0; i < na; i++) {
        uint32_t ta, tb;
        if (dcx_item_tag_at(a, (unsigned)i, &ta) < 0 ||
            dcx_item_tag_at(b, (unsigned)i, &tb) < 0 || ta != tb ||
            value_differs(a, b, ta))
            return 1;
    }
    return 0;
}

/* One line of a differing attribute: its name and both values. */
static void show_attr(const dcx_item *mine, const dcx_item *arch,
                      uint32_t tag)
{
    char name[64], vr[3] = "";
    dcx_tag_name(tag, name, sizeof name);
    if (dcx_item_vr(mine, tag, vr) < 0)
        dcx_item_vr(arch, tag, vr);
    printf("    %s (%04X,%04X): ", name, (unsigned)(tag >> 16),
           (unsigned)(tag & 0xFFFF));
    if (strcmp(vr, "SQ") == 0 || binary_vr(vr)) {
        printf("%s\n", !dcx_item_has(mine, tag)   ? "absent here"
                       : !dcx_item_has(arch, tag) ? "only here"
                       : strcmp(vr, "SQ") == 0    ? "other items"
                                                  : "other bytes");
        return;
    }
    char *a = dcx_item_has(mine, tag) ? text_of(mine, tag) : NULL;
    char *b = dcx_item_has(arch, tag) ? text_of(arch, tag) : NULL;
    printf("%s%.60s%s here, %s%.60s%s archived\n", a ? "\"" : "",
           a ? a : "absent", a ? "\"" : "", b ? "\"" : "", b ? b : "absent",
           b ? "\"" : "");
    free(a);
    free(b);
}

/* Whether the decoded pixel values are the same: the question an
 * operator asks of a copy whose text was corrected (its encoding may
 * differ: a peer compresses losslessly). */
static const char *pixels_verdict(dcx_ds *a, dcx_ds *b, char *buf,
                                  size_t len)
{
    struct dcx_decode_opts o = {0};
    struct dcx_pixel_info ia, ib;
    int ra = dcx_pixel_info_get(a, &o, &ia), rb = dcx_pixel_info_get(b, &o, &ib);
    if (ra == DCX_ENOPIXELS && rb == DCX_ENOPIXELS)
        return NULL;
    if (ra == DCX_ENOPIXELS || rb == DCX_ENOPIXELS)
        return ra == DCX_ENOPIXELS ? "none here, the archived copy has some"
                                   : "only here";
    if (ra < 0 || rb < 0) {
        snprintf(buf, len, "not compared (%s)",
                 dcx_ds_errmsg(ra < 0 ? a : b));
        return buf;
    }
    if (ia.rows != ib.rows || ia.columns != ib.columns ||
        ia.frames != ib.frames || ia.samples_per_pixel != ib.samples_per_pixel ||
        ia.frame_bytes != ib.frame_bytes) {
        snprintf(buf, len, "other images (%ux%u, %u frame(s) here; %ux%u, %u "
                           "archived)",
                 ia.columns, ia.rows, ia.frames, ib.columns, ib.rows,
                 ib.frames);
        return buf;
    }
    unsigned char *pa = malloc(ia.frame_bytes), *pb = malloc(ib.frame_bytes);
    const char *v = "the same values";
    for (uint32_t f = 0; pa && pb && f < ia.frames; f++) {
        if (dcx_pixel_decode(a, f, &o, pa, ia.frame_bytes) < 0 ||
            dcx_pixel_decode(b, f, &o, pb, ib.frame_bytes) < 0) {
            snprintf(buf, len, "not compared: frame %u cannot be decoded",
                     f + 1);
            v = buf;
            break;
        }
        if (memcmp(pa, pb, ia.frame_bytes) != 0) {
            snprintf(buf, len, "other values (from frame %u of %u)", f + 1,
                     ia.frames);
            v = buf;
            break;
        }
    }
    if (!pa || !pb)
        v = "not compared (out of memory)";
    free(pa);
    free(pb);
    return v;
}

/* Prints what differs between the copy at path and the archived one at
 * arch; the number of differing attributes (pixel data apart), -1 if a
 * file cannot be read. */
static int show_diff(const char *path, const char *arch)
{
    struct dcx_open_opts o = {0};
    struct dcx_error e;
    dcx_ds *a = NULL, *b = NULL;
    if (dcx_ds_open(path, &o, &a, &e) < 0) {
        printf("  cannot be read: %s\n", e.msg);
        return -1;
    }
    if (dcx_ds_open(arch, &o, &b, &e) < 0) {
        printf("  the archived copy cannot be read: %s\n", e.msg);
        dcx_ds_close(a);
        return -1;
    }
    const dcx_item *ra = dcx_ds_root(a), *rb = dcx_ds_root(b);
    int na = dcx_item_tag_count(ra), nb = dcx_item_tag_count(rb), i = 0,
        j = 0, n = 0;
    const uint32_t pixel_data = DCX_TAG(0x7FE0, 0x0010);
    /* both walks are in tag order: merge them */
    while (i < na || j < nb) {
        uint32_t ta = UINT32_MAX, tb = UINT32_MAX, t;
        if (i < na)
            dcx_item_tag_at(ra, (unsigned)i, &ta);
        if (j < nb)
            dcx_item_tag_at(rb, (unsigned)j, &tb);
        t = ta < tb ? ta : tb;
        int differs = ta != tb || value_differs(ra, rb, t);
        i += ta == t;
        j += tb == t;
        if (!differs || t == pixel_data)
            continue;
        if (n++ == 0)
            printf("  differs from the archived copy in:\n");
        show_attr(ra, rb, t);
    }
    if (strcmp(dcx_ds_transfer_syntax(a), dcx_ds_transfer_syntax(b)) != 0) {
        printf("  %stransfer syntax: %s here, %s archived\n",
               n++ ? "" : "differs from the archived copy in ",
               dcx_ds_transfer_syntax(a), dcx_ds_transfer_syntax(b));
    }
    char buf[200];
    const char *px = pixels_verdict(a, b, buf, sizeof buf);
    if (px)
        printf("  pixel data: %s\n", px);
    if (n == 0 && (!px || strcmp(px, "the same values") == 0))
        printf("  the same data set, encoded otherwise\n");
    dcx_ds_close(a);
    dcx_ds_close(b);
    return n;
}

/* ---- the files ---- */

struct kept {
    char name[256];
    enum kind kind;
    struct nd_record rec; /* valid if readable */
    int readable;
    char why[300];
};

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* When a file was set aside: the time its name carries
 * (<hash>-<seconds><9 digits of ns>.dcm), else its mtime. */
static time_t aside_time(const char *dir, const char *name)
{
    const char *dash = strrchr(name, '-');
    if (dash && strlen(dash + 1) > 13) {
        char sec[32];
        size_t ndig = strspn(dash + 1, "0123456789");
        if (ndig > 9 && ndig - 9 < sizeof sec) {
            memcpy(sec, dash + 1, ndig - 9);
            sec[ndig - 9] = '\0';
            return (time_t)strtoll(sec, NULL, 10);
        }
    }
    char p[1400];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? st.st_mtime : 0;
}

struct aside {
    time_t when;
    const char *name;
};

static int by_time(const void *a, const void *b)
{
    const struct aside *x = a, *y = b;
    if (x->when != y->when)
        return x->when < y->when ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The files in conflicts/, oldest first (the name's time: accepting in
 * this order leaves the newest copy), read. Records are read in their
 * final places: a record's strings point into itself. */
static struct kept *read_kept(const char *storage, int *out_n)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/conflicts", storage);
    struct dirent **list;
    int k = scandir(dir, &list, NULL, by_name);
    *out_n = 0;
    if (k < 0)
        return calloc(1, sizeof(struct kept)); /* none yet */
    struct aside *a = calloc((size_t)k + 1, sizeof *a);
    int n = 0;
    for (int i = 0; a && i < k; i++) {
        const char *nm = list[i]->d_name;
        size_t len = strlen(nm);
        if (nm[0] != '.' && len > 4 && strcmp(nm + len - 4, ".dcm") == 0 &&
            len < sizeof((struct kept *)0)->name)
            a[n++] = (struct aside){aside_time(dir, nm), nm};
    }
    struct kept *v = a ? calloc((size_t)n + 1, sizeof *v) : NULL;
    if (v) {
        qsort(a, (size_t)n, sizeof *a, by_time);
        for (int i = 0; i < n; i++) {
            struct kept *x = &v[i];
            snprintf(x->name, sizeof x->name, "%s", a[i].name);
            x->kind = kind_of(x->name);
            char p[1500];
            snprintf(p, sizeof p, "%s/%s", dir, x->name);
            x->readable =
                nd_record_read(p, -1, &x->rec, x->why, sizeof x->why) == 0;
        }
        *out_n = n;
    }
    free(a);
    for (int i = 0; i < k; i++)
        free(list[i]);
    free(list);
    return v;
}

static void show_one(const char *storage, const struct kept *x)
{
    char dir[1200], p[1500], arch[1400], rel[128], when[32];
    snprintf(dir, sizeof dir, "%s/conflicts", storage);
    snprintf(p, sizeof p, "%s/%s", dir, x->name);
    time_t t = aside_time(dir, x->name);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
    static const char *const what[] = {
        [CONFLICT] = "a copy with other content than the archived one",
        [INCOMPLETE] = "incomplete: a power cut caught it before it was "
                       "acknowledged",
        [REPLACED] = "the archived copy an accept replaced"};
    printf("conflicts/%s\n  %s, set aside %s\n", x->name, what[x->kind],
           when);
    if (!x->readable) {
        printf("  cannot be read: %s\n", x->why);
        return;
    }
    const struct nd_instance_rec *r = &x->rec.r;
    printf("  instance %s of patient %s \"%s\", study %s %s \"%s\"\n",
           r->sop_uid, r->patient_id, r->patient_name, r->study_date,
           r->modality, r->study_desc);
    if (x->kind == INCOMPLETE)
        return;
    nd_archive_rel_path(r->sop_uid, rel, sizeof rel);
    snprintf(arch, sizeof arch, "%s/%s", storage, rel);
    if (access(arch, R_OK) != 0)
        printf("  the archive no longer holds this instance (its study was "
               "deleted?): `consort-node import` stores it as new\n");
    else
        show_diff(p, arch);
}

/* ---- accept ---- */

/* 0 accepted, 1 not (said why on stderr) */
static int accept_one(nd_archive *ar, nd_index *ix, nd_audit *audit,
                      const struct nd_config *cfg, const char *user,
                      struct kept *x)
{
    const char *storage = nd_archive_root(ar);
    if (x->kind == INCOMPLETE) {
        fprintf(stderr, "consort-node conflicts: conflicts/%s is the prefix "
                        "of an instance never acknowledged; nothing to "
                        "accept (the sender was not told it was stored)\n",
                x->name);
        return 1;
    }
    if (!x->readable) {
        fprintf(stderr, "consort-node conflicts: conflicts/%s cannot be "
                        "read: %s\n",
                x->name, x->why);
        return 1;
    }
    int bad_uid = 0;
    const char *problem = nd_record_problem(&x->rec, &bad_uid);
    if (problem) {
        fprintf(stderr, "consort-node conflicts: conflicts/%s: %s\n", x->name,
                problem);
        return 1;
    }
    char crel[300], path[1500], old_rel[300], why[600];
    snprintf(crel, sizeof crel, "conflicts/%s", x->name);
    snprintf(path, sizeof path, "%s/%s", storage, crel);
    struct stat st;
    if (lstat(path, &st) != 0) {
        fprintf(stderr, "consort-node conflicts: %s: %m\n", crel);
        return 1;
    }
    /* a symbolic link (or anything else put there by hand) would be
     * renamed into data/ as the archived instance: the archive would
     * hold a link to a file elsewhere, outside its durability rules */
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "consort-node conflicts: %s is not a regular file "
                        "(a symbolic link?); only copies the node kept "
                        "aside are accepted\n",
                crel);
        return 1;
    }
    x->rec.r.size = (int64_t)st.st_size;
    x->rec.r.calling_ae = "";
    x->rec.r.origin = "";
    if (nd_accept_copy(ar, ix, crel, &x->rec.r, old_rel, sizeof old_rel, why,
                       sizeof why) < 0) {
        fprintf(stderr, "consort-node conflicts: %s not accepted: %s\n",
                crel, why);
        return 1;
    }
    int queued = nd_index_last_queued(ix);
    char detail[1000], rel[128];
    nd_archive_rel_path(x->rec.r.sop_uid, rel, sizeof rel);
    snprintf(detail, sizeof detail, "accepted %s in place of %s; the copy "
                                    "it replaced: %s",
             crel, rel, old_rel);
    nd_audit_write(audit, &(struct nd_audit_event){
                              .what = ND_AUDIT_UPDATE,
                              .ae = cfg->ae_title, .user = user,
                              .patient_id = x->rec.r.patient_id,
                              .study_uid = x->rec.r.study_uid,
                              .instances = 1, .failed = -1,
                              .detail = detail});
    printf("accepted %s: the archive holds it as instance %s; the copy it "
           "replaced is %s%s\n",
           crel, x->rec.r.sop_uid, old_rel,
           queued ? "; queued for the peers again" : "");
    return 0;
}

/* 0 removed, 1 not */
static int drop_one(const char *storage, nd_audit *audit,
                    const struct nd_config *cfg, const char *user,
                    const struct kept *x)
{
    char path[1500], detail[400];
    snprintf(path, sizeof path, "%s/conflicts/%s", storage, x->name);
    if (unlink(path) != 0) {
        fprintf(stderr, "consort-node conflicts: cannot remove "
                        "conflicts/%s: %m\n",
                x->name);
        return 1;
    }
    snprintf(detail, sizeof detail,
             "dropped conflicts/%s (a copy kept aside; the archived "
             "instance stays)",
             x->name);
    nd_audit_write(audit, &(struct nd_audit_event){
                              .what = ND_AUDIT_DELETE,
                              .ae = cfg->ae_title, .user = user,
                              .patient_id = x->readable ? x->rec.r.patient_id
                                                        : NULL,
                              .study_uid = x->readable ? x->rec.r.study_uid
                                                       : NULL,
                              .instances = 1, .failed = -1,
                              .detail = detail});
    printf("dropped conflicts/%s\n", x->name);
    return 0;
}

/* An accept of some of a study's kept copies: the study's rows follow
 * the last copy accepted, while its other instances keep their files.
 * Says how many copies of each such study are left aside, and how to
 * take them all (a study corrected at the modality comes whole). */
static void study_left(const struct kept *k, int n, const char *want)
{
    for (int i = 0; i < n; i++) {
        if (!want[i] || !k[i].readable)
            continue;
        const char *study = k[i].rec.r.study_uid;
        int first = 1, left = 0;
        for (int j = 0; j < n; j++) {
            if (!k[j].readable || strcmp(k[j].rec.r.study_uid, study) != 0)
                continue;
            if (want[j] && j < i)
                first = 0; /* said for this study already */
            left += !want[j] && k[j].kind == CONFLICT;
        }
        if (first && left)
            printf("note: %d more kept cop%s of study %s %s aside; "
                   "`conflicts accept --study %s` takes them all\n",
                   left, left == 1 ? "y" : "ies", study,
                   left == 1 ? "is" : "are", study);
    }
}

int nd_cmd_conflicts(int argc, char **argv)
{
    const char *cfg_path = NULL, *storage = NULL, *user = NULL,
               *study = NULL;
    int yes = 0, n_pos;
    const struct nd_opt opts[] = {
        ND_STR("--config", &cfg_path), ND_STR("--storage", &storage),
        ND_STR("--user", &user),       ND_STR("--study", &study),
        ND_FLAG("--yes", &yes),        ND_OPT_END,
    };
    int pr = nd_opts_parse("conflicts", argc, argv, 1, opts, argc, &n_pos);
    const char *verb = n_pos ? argv[0] : "list";
    int accept = strcmp(verb, "accept") == 0, drop = strcmp(verb, "drop") == 0;
    if (pr == ND_OPTS_OK && !accept && !drop && strcmp(verb, "list") != 0) {
        fprintf(stderr, "consort-node conflicts: unknown action '%s'\n",
                verb);
        pr = ND_OPTS_BAD;
    }
    if (pr == ND_OPTS_OK && !accept && !drop && (n_pos > 1 || study || yes)) {
        fprintf(stderr, "consort-node conflicts: list takes no files, "
                        "--study or --yes\n");
        pr = ND_OPTS_BAD;
    }
    if (pr == ND_OPTS_OK && (accept || drop) && n_pos < 2 && !study) {
        fprintf(stderr, "consort-node conflicts: %s needs FILE... or "
                        "--study UID\n", verb);
        pr = ND_OPTS_BAD;
    }
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    user = nd_cmd_user(user);
    struct nd_config cfg;
    if (nd_cmd_config("conflicts", cfg_path, storage, &cfg) < 0)
        return 1;
    char err[512], dir[1024];
    nd_index *ix = nd_cmd_open_index("conflicts", cfg_path, storage,
                                     (accept || drop) && yes, dir,
                                     sizeof dir);
    if (!ix)
        return 1;
    int n;
    struct kept *k = read_kept(dir, &n);
    if (!k) {
        fprintf(stderr, "consort-node conflicts: out of memory\n");
        nd_index_close(ix);
        return 1;
    }
    int rc = 0;
    if (!accept && !drop) {
        int count[3] = {0};
        for (int i = 0; i < n; i++) {
            show_one(dir, &k[i]);
            count[k[i].kind]++;
        }
        printf("%s%d copy(ies) with other content, %d incomplete, %d "
               "replaced by an accept, in %s/conflicts\n",
               n ? "\n" : "", count[CONFLICT], count[INCOMPLETE],
               count[REPLACED], dir);
        if (count[CONFLICT])
            printf("`consort-node conflicts accept FILE --yes` puts a copy "
                   "in the archived one's place\n");
        goto out;
    }
    /* the files asked for, in the order they came (oldest first) */
    char *want = calloc((size_t)n + 1, 1);
    if (!want) {
        rc = 1;
        goto out;
    }
    for (int p = 1; p < n_pos; p++) {
        const char *b = strrchr(argv[p], '/');
        b = b ? b + 1 : argv[p];
        int found = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(k[i].name, b) == 0)
                want[i] = 1, found = 1;
        if (!found) {
            fprintf(stderr, "consort-node conflicts: %s is not in "
                            "%s/conflicts\n",
                    argv[p], dir);
            rc = 1;
        }
    }
    int any = 0;
    for (int i = 0; i < n; i++) {
        /* a study's copies to accept are those that arrived; to drop,
         * any it has */
        if (study && (drop || k[i].kind == CONFLICT) && k[i].readable &&
            strcmp(k[i].rec.r.study_uid, study) == 0)
            want[i] = 1;
        any |= want[i];
    }
    if (study && !any)
        fprintf(stderr, "consort-node conflicts: no copy of study %s is "
                        "kept aside\n",
                study);
    if (!any || rc) {
        free(want);
        rc = 1;
        goto out;
    }
    if (!yes) {
        for (int i = 0; i < n; i++)
            if (want[i])
                show_one(dir, &k[i]);
        if (accept)
            study_left(k, n, want);
        printf("\nrun again with --yes to %s %s (the audit trail will name "
               "%s)\n",
               verb, drop ? "these files" : "these copies", user);
        free(want);
        goto out;
    }
    nd_archive *ar = NULL;
    nd_audit *audit = NULL;
    char audit_path[1200];
    nd_config_audit_path(&cfg, audit_path, sizeof audit_path);
    if (nd_archive_open(dir, cfg.sync == ND_SYNC_FULL, &ar, NULL, err,
                        sizeof err) < 0 ||
        nd_audit_open(audit_path, &audit, err, sizeof err) < 0) {
        /* no record of it, no change */
        fprintf(stderr, "consort-node conflicts: %s\n", err);
        nd_archive_close(ar);
        free(want);
        rc = 1;
        goto out;
    }
    nd_index_set_router(ix, nd_forward_plan_route, &cfg);
    int redone = 0;
    if (nd_index_recover_accepts(ix, dir, &redone) < 0)
        fprintf(stderr, "consort-node conflicts: cannot finish an earlier "
                        "accept that was cut short: %s\n",
                nd_index_errmsg(ix));
    else if (redone)
        fprintf(stderr, "consort-node conflicts: %d earlier accept(s) were "
                        "cut short; their index rows were taken from the "
                        "files in place\n",
                redone);
    for (int i = 0; i < n; i++)
        if (want[i])
            rc |= drop ? drop_one(dir, audit, &cfg, user, &k[i])
                       : accept_one(ar, ix, audit, &cfg, user, &k[i]);
    if (accept)
        study_left(k, n, want);
    nd_audit_close(audit);
    nd_archive_close(ar);
    free(want);
out:
    free(k);
    nd_index_close(ix);
    return rc;
}
