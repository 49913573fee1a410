/* present.c - saving, finding and applying presentation states (present.h). */
#define _GNU_SOURCE
#include "present.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dcx/gsps.h"
#include "dcx/sr.h"
#include "dcx/tags.h"
#include "overlay.h"

#define KO_CLASS "1.2.840.10008.5.1.4.1.1.88.59"
#define TEXT_SR_CLASS "1.2.840.10008.5.1.4.1.1.88.11"
#define COMPREHENSIVE_SR_CLASS "1.2.840.10008.5.1.4.1.1.88.33"

/* The series' files once each, in slice order, with their UIDs. */
struct images {
    const char **paths, **uids;
    unsigned *frames; /* frames of each image in the series */
    size_t n;
};

static int series_images(const struct vw_vp *vp, struct images *im)
{
    size_t cap = (size_t)vp->st.n;
    im->paths = calloc(cap, sizeof *im->paths);
    im->uids = calloc(cap, sizeof *im->uids);
    im->frames = calloc(cap, sizeof *im->frames);
    im->n = 0;
    if (!im->paths || !im->uids || !im->frames)
        return -1;
    for (int i = 0; i < vp->st.n; i++) {
        const struct vw_slice *s = &vp->st.s[i];
        size_t k = 0;
        while (k < im->n && strcmp(im->uids[k], s->sop_uid) != 0)
            k++;
        if (k < im->n) { /* another frame of a multi-frame file */
            im->frames[k]++;
            continue;
        }
        if (!s->sop_uid[0])
            continue;
        im->frames[im->n] = 1;
        im->paths[im->n] = s->path;
        im->uids[im->n] = s->sop_uid;
        im->n++;
    }
    return 0;
}

static void free_images(struct images *im)
{
    free(im->paths);
    free(im->uids);
    free(im->frames);
}

/* Where a document is written before it is named: dir/.<kind>-<pid>.part */
static void tmp_name(const char *dir, const char *kind, char *out,
                     size_t len)
{
    snprintf(out, len, "%s/.%s-%ld.part", dir, kind, (long)getpid());
}

/* After the writer (result wrc, detail e) wrote tmp: names the file
 * dir/<uid>.dcm and stores it to node (if any). 0 done (the caller says
 * so); 1 saved but not stored, -1 not saved: msg says it (what:
 * "report", ...). */
static int place(int wrc, const struct dcx_error *e, const char *dir,
                 const char *tmp, const char *uid,
                 const struct vw_node *node, const char *sop_class,
                 const char *what, char *msg, size_t msglen)
{
    char final[1200], err[300];
    if (wrc < 0) {
        snprintf(msg, msglen, "cannot write the %s: %s", what, e->msg);
        unlink(tmp);
        return -1;
    }
    snprintf(final, sizeof final, "%s/%s.dcm", dir, uid);
    if (rename(tmp, final) != 0) {
        snprintf(msg, msglen, "cannot name the saved file: %s",
                 strerror(errno));
        unlink(tmp);
        return -1;
    }
    int stored =
        node && vw_node_store(node, final, sop_class, err, sizeof err) == 0;
    if (!stored) /* only here: the cache keeps this study whatever its size */
        vw_cache_mark_unsent(dir);
    if (node && !stored) {
        /* kept locally: the reader can store it again */
        snprintf(msg, msglen, "%s saved; not stored to %s: %s", what,
                 node->ae, err);
        return 1;
    }
    return 0;
}

/* What each annotation of a series (vw_annots_at order) is measured with:
 * the calibration, grey pixels (ROIs only: their statistics) and unit of
 * the image and frame it is on. Slices kept packed are unpacked once
 * each, for the ROIs on them; one that cannot be (out of memory) leaves
 * its ROIs without statistics, not the state unsaved. */
struct contexts {
    struct vw_cal *cals;
    struct vw_px *pxs;
    const struct vw_px **pxp;
    const char **units;
    int *slice; /* the slice annotation i is on, -1 none */
    void **bufs;
    size_t n;
};

static void free_contexts(struct contexts *c)
{
    for (size_t i = 0; c->bufs && i < c->n; i++)
        free(c->bufs[i]);
    free(c->cals);
    free(c->pxs);
    free(c->pxp);
    free(c->units);
    free(c->slice);
    free(c->bufs);
}

/* The pixels of slice j for annotation i: those an earlier annotation on
 * it has, else its own (unpacked into a buffer of i's). NULL if they
 * cannot be had. */
static const void *context_pixels(const struct vw_vp *vp, struct contexts *c,
                                  size_t i, int j)
{
    for (size_t k = 0; k < i; k++)
        if (c->slice[k] == j && c->pxp[k])
            return c->pxs[k].data;
    if (j == vw_vp_shown(vp) && vw_vp_pixels(vp)) /* unpacked already */
        return vw_vp_pixels(vp);
    const struct vw_slice *s = &vp->st.s[j];
    if (s->packed && !(c->bufs[i] = malloc(vw_slice_bytes(&vp->st, s))))
        return NULL;
    const void *px = vw_stack_pixels(&vp->st, s, c->bufs[i]);
    if (!px) {
        free(c->bufs[i]);
        c->bufs[i] = NULL;
    }
    return px;
}

static int annot_contexts(const struct vw_vp *vp, const vw_annots *l,
                          struct contexts *c)
{
    size_t na = vw_annots_count(l), m = na ? na : 1;
    *c = (struct contexts){.n = na};
    c->cals = calloc(m, sizeof *c->cals);
    c->pxs = calloc(m, sizeof *c->pxs);
    c->pxp = calloc(m, sizeof *c->pxp);
    c->units = calloc(m, sizeof *c->units);
    c->slice = calloc(m, sizeof *c->slice);
    c->bufs = calloc(m, sizeof *c->bufs);
    if (!c->cals || !c->pxs || !c->pxp || !c->units || !c->slice || !c->bufs)
        return -1;
    const char *unit = vw_vp_unit(vp);
    const struct rnd_frame *f = &vp->st.fmt;
    for (size_t i = 0; i < na; i++) {
        const struct vw_annot *a = vw_annots_at(l, i);
        c->units[i] = unit;
        c->cals[i] = (struct vw_cal){.kind = VW_CAL_NONE};
        c->slice[i] = vw_stack_find(&vp->st, a->sop_uid, a->frame);
        if (c->slice[i] < 0)
            continue;
        const struct vw_slice *s = &vp->st.s[c->slice[i]];
        c->cals[i] = s->cal;
        int roi = a->tool == VW_TOOL_ELLIPSE || a->tool == VW_TOOL_RECT;
        if (!roi || f->samples != 1 || atomic_load(&s->state) != 2)
            continue;
        const void *data = context_pixels(vp, c, i, c->slice[i]);
        if (!data)
            continue;
        c->pxs[i] = vw_vp_px(vp, s, data);
        c->pxp[i] = &c->pxs[i];
    }
    return 0;
}

/* The measuring annotations (length, angle, Cobb, ROIs) on the series as
 * a TID 1500 measurement report beside the GSPS: values a GSPS holds only
 * as text. Its image library names only the measured images. 0 written
 * (or nothing to write: *n_out 0), 1 saved but not stored, -1 failed;
 * msg says why when not 0. */
static int save_measures(const struct images *im, const vw_annots *annots,
                         const struct contexts *c, const char *dir,
                         const char *creator, const struct vw_node *node,
                         size_t *n_out, char *msg, size_t msglen)
{
    size_t na = vw_annots_count(annots), n = 0, n_used = 0;
    struct dcx_measure *m = calloc(na ? na : 1, sizeof *m);
    float (*xy)[8] = calloc(na ? na : 1, sizeof *xy);
    const char **used = calloc(im->n ? im->n : 1, sizeof *used);
    size_t *slot = calloc(im->n ? im->n : 1, sizeof *slot); /* 1 + index */
    int rc = -1;
    *n_out = 0;
    if (!m || !xy || !used || !slot) {
        snprintf(msg, msglen, "measurement report: out of memory");
        goto out;
    }
    for (size_t i = 0; i < na; i++) {
        const struct vw_annot *a = vw_annots_at(annots, i);
        size_t k = 0;
        while (k < im->n && strcmp(im->uids[k], a->sop_uid) != 0)
            k++;
        if (k == im->n ||
            vw_annot_measure(a, &c->cals[i], c->pxp[i], c->units[i], xy[n],
                             &m[n]) < 0)
            continue;
        if (!slot[k]) {
            used[n_used] = im->paths[k];
            slot[k] = ++n_used;
        }
        m[n].image = slot[k] - 1;
        m[n].frame = im->frames[k] > 1 ? a->frame + 1 : 0; /* SR: from 1 */
        n++;
    }
    rc = 0;
    if (n == 0)
        goto out;
    struct dcx_measure_sr_desc d = {used, n_used, m, n, creator};
    char tmp[1200], uid[65];
    tmp_name(dir, "measure", tmp, sizeof tmp);
    struct dcx_error e;
    rc = place(dcx_measure_sr_write(&d, tmp, uid, &e), &e, dir, tmp, uid,
               node, COMPREHENSIVE_SR_CLASS, "measurement report", msg,
               msglen);
    *n_out = n;
out:
    free(m);
    free(xy);
    free(used);
    free(slot);
    return rc;
}

static int same_view(const struct vw_state_view *a,
                     const struct vw_state_view *b)
{
    return a->has_window == b->has_window && a->has_area == b->has_area &&
           (!a->has_window ||
            (a->center == b->center && a->width == b->width)) &&
           (!a->has_area || memcmp(a->area, b->area, sizeof a->area) == 0);
}

/* Each image's view to save, under a state applied (vp->sv): the images
 * of another of its groups than the one on screen keep the state's
 * window and area (the whole image if it had none and the reader's view
 * has one); the rest get the reader's (no view of their own: has_window
 * and has_area 0). NULL if out of memory. */
static struct dcx_gsps_view *own_views(const struct vw_vp *vp,
                                       const struct images *im,
                                       const int *area)
{
    struct dcx_gsps_view *v = calloc(im->n, sizeof *v);
    if (!v)
        return NULL;
    const struct vw_state_view *here = &vp->sv[vw_vp_shown(vp)];
    for (size_t k = 0; k < im->n; k++) {
        int j = vw_stack_find(&vp->st, im->uids[k], 0); /* its first */
        if (j < 0 || !vp->sv[j].in_state ||
            (here->in_state && same_view(&vp->sv[j], here)))
            continue;
        const struct vw_state_view *s = &vp->sv[j];
        v[k] = (struct dcx_gsps_view){s->has_window, s->center, s->width,
                                      s->has_area,
                                      {s->area[0], s->area[1], s->area[2],
                                       s->area[3]}};
        const struct vw_slice *sl = &vp->st.s[j];
        if (!s->has_area && area && atomic_load(&sl->state) == 2)
            v[k] = (struct dcx_gsps_view){
                s->has_window, s->center, s->width, 1,
                {1, 1, (int)sl->w, (int)sl->h}};
    }
    return v;
}

int vw_present_save(const struct vw_vp *vp, const struct vw_tools *t,
                    const int *area, const char *dir, const char *creator,
                    const struct vw_node *node, char *msg, size_t msglen)
{
    struct images im;
    struct contexts c = {0};
    struct vw_gsps_marks marks = {0};
    struct dcx_gsps_view *views = NULL;
    int rc = -1;
    if (series_images(vp, &im) < 0 || im.n == 0) {
        snprintf(msg, msglen, "no images to refer to");
        goto out;
    }
    if (annot_contexts(vp, t->annots, &c) < 0) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    if (vw_annots_to_marks(t->annots, im.uids, im.n, im.frames, c.cals,
                           c.pxp, c.units, &marks) < 0) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    /* a state applied that windows or frames groups of images each their
     * own way stays so: the reader's view is the group on screen's, the
     * other groups keep theirs */
    if (vp->sv && vw_vp_shown(vp) >= 0 &&
        !(views = own_views(vp, &im, area))) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    /* our view: quarter turns, then flips on screen; GSPS: rotation, then
     * a horizontal flip (a vertical flip is a half turn and a flip) */
    int rot = vp->view.rotate * 90, flip = vp->view.flip_h;
    if (vp->view.flip_v)
        rot += 180, flip = !flip;
    struct dcx_gsps_desc d = {
        .images = im.paths,
        .n_images = im.n,
        .label = "CONSORT",
        .description = "consort-view reading",
        .creator = creator,
        .has_window = vp->view.voi != RND_VOI_LUT && vp->view.width > 0,
        .window_center = vp->view.center,
        .window_width = vp->view.width,
        .has_area = area != NULL,
        .area = {area ? area[0] : 0, area ? area[1] : 0, area ? area[2] : 0,
                 area ? area[3] : 0},
        .views = views,
        .rotation = rot % 360,
        .flip = flip,
        .marks = marks.marks,
        .n_marks = marks.n,
    };
    char tmp[1200], uid[65];
    tmp_name(dir, "gsps", tmp, sizeof tmp);
    struct dcx_error e;
    int pr = place(dcx_gsps_write(&d, tmp, uid, &e), &e, dir, tmp, uid, node,
                   DCX_GSPS_CLASS, "presentation state", msg, msglen);
    if (pr < 0)
        goto out;
    if (pr == 0)
        snprintf(msg, msglen, "presentation state saved (%zu mark(s))%s%s",
                 marks.n, node ? " and stored to " : "", node ? node->ae : "");
    rc = pr; /* 1: saved, not stored */
    /* the state is saved whatever becomes of the report: say both */
    char mmsg[400] = "";
    size_t n_meas;
    int mr = save_measures(&im, t->annots, &c, dir, creator, node, &n_meas,
                           mmsg, sizeof mmsg);
    size_t used = strlen(msg);
    if (mr == 0 && n_meas > 0)
        snprintf(msg + used, msglen - used,
                 ", with a measurement report (%zu measurement(s))", n_meas);
    else if (mr != 0)
        snprintf(msg + used, msglen - used, "; %s", mmsg);
out:
    vw_annots_free_marks(&marks);
    free_contexts(&c);
    free_images(&im);
    free(views);
    return rc;
}

int vw_present_save_keys(const struct vw_vp *vp, char (*keys)[65],
                         int n_keys, int teaching, const char *dir,
                         const struct vw_node *node, char *msg,
                         size_t msglen)
{
    struct images im;
    int rc = -1;
    const char **paths = NULL;
    if (series_images(vp, &im) < 0 ||
        !(paths = calloc(im.n ? im.n : 1, sizeof *paths))) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < im.n; i++)
        for (int k = 0; k < n_keys; k++)
            if (strcmp(im.uids[i], keys[k]) == 0) {
                paths[n++] = im.paths[i];
                break;
            }
    if (n == 0) {
        snprintf(msg, msglen, "no key image in this series");
        goto out;
    }
    struct dcx_ko_desc d = {teaching ? DCX_KO_TEACHING : DCX_KO_OF_INTEREST,
                            paths, n, NULL};
    char tmp[1200], uid[65];
    tmp_name(dir, "ko", tmp, sizeof tmp);
    struct dcx_error e;
    int pr = place(dcx_ko_write(&d, tmp, uid, &e), &e, dir, tmp, uid, node,
                   KO_CLASS, "key images", msg, msglen);
    if (pr != 0) {
        rc = pr;
        goto out;
    }
    /* at the node, the teaching key object queues the study for the
     * de-identified teaching export (consort-node export) */
    snprintf(msg, msglen, "%zu key image(s) saved%s%s%s%s", n,
             teaching ? " for teaching" : "", node ? ", stored to " : "",
             node ? node->ae : "",
             teaching && node ? " (queued there for the de-identified "
                                "teaching export)"
                              : "");
    rc = 0;
out:
    free(paths);
    free_images(&im);
    return rc;
}

int vw_present_save_report(const struct vw_vp *vp, const char *findings,
                           const char *impression, const char *author,
                           const char *dir, const struct vw_node *node,
                           char *msg, size_t msglen)
{
    struct images im;
    int rc = -1;
    if (series_images(vp, &im) < 0 || im.n == 0) {
        snprintf(msg, msglen, "no images to report on");
        goto out;
    }
    struct dcx_report_desc d = {im.paths, im.n, findings, impression, author,
                                1};
    char tmp[1200], uid[65];
    tmp_name(dir, "report", tmp, sizeof tmp);
    struct dcx_error e;
    int pr = place(dcx_report_write(&d, tmp, uid, &e), &e, dir, tmp, uid,
                   node, TEXT_SR_CLASS, "report", msg, msglen);
    if (pr != 0) {
        rc = pr;
        goto out;
    }
    snprintf(msg, msglen, "report saved%s%s", node ? " and stored to " : "",
             node ? node->ae : "");
    rc = 0;
out:
    free_images(&im);
    return rc;
}

/* A file whose first bytes name the GSPS class (the meta group holds the
 * Media Storage SOP Class UID): cheap enough for a 500-slice folder. */
static int looks_like_gsps(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    char b[768];
    size_t n = fread(b, 1, sizeof b, fp);
    fclose(fp);
    return memmem(b, n, DCX_GSPS_CLASS, strlen(DCX_GSPS_CLASS)) != NULL;
}

static int newest_first(const void *a, const void *b)
{
    return strcmp(((const struct vw_present *)b)->when,
                  ((const struct vw_present *)a)->when);
}

/* A presentation state found in a scanned folder, with the images it
 * references. */
struct cached {
    struct vw_present p;
    char (*uids)[65];
    size_t n_uids;
};

struct vw_present_cache {
    struct cached *v;
    int n;
    size_t cap;
    char done[32][1024]; /* folders already scanned */
    int n_done;
};

vw_present_cache *vw_present_cache_new(void)
{
    return calloc(1, sizeof(vw_present_cache));
}

void vw_present_cache_free(vw_present_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        free(c->v[i].uids);
    free(c->v);
    free(c);
}

/* Keeps the state at path (already read as ps) in c. */
static void keep(vw_present_cache *c, const char *path, dcx_gsps *ps)
{
    const struct dcx_gsps_info *in = dcx_gsps_get_info(ps);
    void *nv = dcx_grow(c->v, (size_t)c->n, &c->cap, sizeof *c->v, 4);
    if (!nv)
        return;
    c->v = nv;
    struct cached *e = &c->v[c->n];
    e->uids = calloc(in->n_images ? in->n_images : 1, sizeof *e->uids);
    if (!e->uids)
        return;
    for (size_t r = 0; r < in->n_images; r++)
        snprintf(e->uids[r], sizeof e->uids[r], "%s",
                 dcx_gsps_image_uid(ps, r));
    e->n_uids = in->n_images;
    snprintf(e->p.path, sizeof e->p.path, "%s", path);
    snprintf(e->p.label, sizeof e->p.label, "%s", in->label);
    snprintf(e->p.creator, sizeof e->p.creator, "%s", in->creator);
    snprintf(e->p.when, sizeof e->p.when, "%s%s", in->date, in->time);
    c->n++;
}

/* The file at path into c if it is a presentation state. */
static void scan_file(const char *path, vw_present_cache *c)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        sb.st_size > (16 << 20) || !looks_like_gsps(path))
        return;
    dcx_gsps *ps;
    if (dcx_gsps_read(path, &ps, NULL) < 0)
        return;
    keep(c, path, ps);
    dcx_gsps_free(ps);
}

/* The presentation states in dir, read into c once. */
static void scan_dir(const char *dir, vw_present_cache *c)
{
    for (int k = 0; k < c->n_done; k++)
        if (strcmp(c->done[k], dir) == 0)
            return;
    if (c->n_done == (int)(sizeof c->done / sizeof c->done[0]))
        return;
    snprintf(c->done[c->n_done++], sizeof c->done[0], "%s", dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[1024];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
                sizeof path ||
            e->d_name[0] == '.')
            continue;
        scan_file(path, c);
    }
    if (d)
        closedir(d);
}

/* 1 if dir is a series folder of DICOM media (a DICOMDIR one to three
 * levels up, as consort-node export and most CD writers lay them out):
 * the study's presentation states are then in sibling folders. */
static int media_series_dir(const char *dir)
{
    char path[1100];
    const char *up[] = {"..", "../..", "../../.."};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s/DICOMDIR", dir, up[i]);
        if (access(path, R_OK) == 0)
            return 1;
    }
    return 0;
}

static void scan_siblings(const char *dir, vw_present_cache *c)
{
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", dir);
    dirname(parent);
    DIR *d = opendir(parent);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char sub[1100];
        struct stat sb;
        if (e->d_name[0] == '.' ||
            (size_t)snprintf(sub, sizeof sub, "%s/%s", parent, e->d_name) >=
                sizeof sub ||
            stat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        scan_dir(sub, c);
    }
    if (d)
        closedir(d);
}

static int references(const struct cached *e, const struct images *im)
{
    for (size_t r = 0; r < e->n_uids; r++)
        for (size_t k = 0; k < im->n; k++)
            if (strcmp(e->uids[r], im->uids[k]) == 0)
                return 1;
    return 0;
}

int vw_present_find(const struct vw_vp *vp, const char *extra_dir,
                    vw_present_cache *cache, const char *const *files,
                    int n_files, struct vw_present **out)
{
    *out = NULL;
    struct images im;
    if (series_images(vp, &im) < 0)
        return 0;
    vw_present_cache *c = cache ? cache : vw_present_cache_new();
    if (!c) {
        free_images(&im);
        return 0;
    }
    char last[1024] = "";
    for (int i = 0; files && i < n_files; i++) {
        int had = 0; /* read for another viewport already */
        for (int k = 0; k < c->n && !had; k++)
            had = strcmp(c->v[k].p.path, files[i]) == 0;
        if (!had)
            scan_file(files[i], c);
    }
    /* an archive's folders hold every study's files (data/xx): its
     * states come from its index instead (files) */
    for (size_t i = 0; !files && i < im.n; i++) {
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", im.paths[i]);
        const char *dir = dirname(copy);
        if (strcmp(dir, last) == 0)
            continue; /* (a series' files are mostly in one folder) */
        snprintf(last, sizeof last, "%s", dir);
        int seen = 0;
        for (int k = 0; k < c->n_done && !seen; k++)
            seen = strcmp(c->done[k], dir) == 0;
        if (seen)
            continue;
        scan_dir(dir, c);
        if (media_series_dir(dir))
            scan_siblings(dir, c);
    }
    if (extra_dir)
        scan_dir(extra_dir, c);
    struct vw_present *v = NULL;
    int n = 0;
    size_t cap = 0;
    for (int i = 0; i < c->n; i++) {
        if (!references(&c->v[i], &im))
            continue;
        void *nv = dcx_grow(v, (size_t)n, &cap, sizeof *v, 4);
        if (!nv)
            break;
        v = nv;
        v[n++] = c->v[i].p;
    }
    free_images(&im);
    if (!cache)
        vw_present_cache_free(c);
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, newest_first);
    *out = v;
    return n;
}

int vw_present_apply(struct vw_vp *vp, struct vw_tools *t, const char *path,
                     int area[4], int *has_area, char *err, size_t errlen)
{
    *has_area = 0;
    dcx_gsps *ps;
    struct dcx_error e;
    if (dcx_gsps_read(path, &ps, &e) < 0) {
        snprintf(err, errlen, "%s", e.msg);
        return -1;
    }
    vw_annots *fresh = vw_annots_create();
    struct vw_state_view *sv = calloc((size_t)vp->st.n, sizeof *sv);
    if (!fresh || !sv) {
        vw_annots_destroy(fresh);
        free(sv);
        dcx_gsps_free(ps);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct images im;
    if (series_images(vp, &im) == 0) {
        for (size_t i = 0; i < im.n; i++) {
            const struct dcx_gsps_mark *m;
            size_t n;
            /* a cine's marks per frame (GSPS counts from 1) */
            for (unsigned f = 0; f < im.frames[i]; f++) {
                dcx_gsps_marks_for(ps, im.uids[i], im.frames[i] > 1 ? f + 1 : 0,
                                   &m, &n);
                vw_annots_from_marks(fresh, im.uids[i], f, m, n);
            }
        }
        free_images(&im);
    }
    /* each image its own window and area (another program's state may
     * give a DR series' views each theirs): the slice on screen's now,
     * the others' as they come on screen (main.c, follow_state) */
    const struct dcx_gsps_info *in = dcx_gsps_get_info(ps);
    for (int i = 0; i < vp->st.n; i++) {
        struct vw_state_view *v = &sv[i];
        const struct vw_slice *s = &vp->st.s[i];
        v->in_state = dcx_gsps_refers(ps, s->sop_uid);
        /* frames count from 1 (a single-frame image's 1 matches items
         * that name no frame) */
        v->has_window = dcx_gsps_window_for(ps, s->sop_uid, s->frame + 1,
                                            &v->center, &v->width) == 0 &&
                        v->width > 0;
        v->has_area =
            dcx_gsps_area_for(ps, s->sop_uid, s->frame + 1, v->area) == 0;
    }
    free(vp->sv);
    vp->sv = sv;
    vp->sv_slice = vp->cur;
    vp->sv_rotate = (in->rotation / 90) % 4;
    vp->sv_flip = in->flip;
    const struct vw_state_view *v = &sv[vp->cur];
    if (v->has_window) {
        vp->view.center = v->center;
        vp->view.width = v->width;
        vp->view.voi = RND_VOI_LINEAR; /* the state's, not a VOI LUT */
    }
    if ((*has_area = v->has_area))
        memcpy(area, v->area, sizeof v->area);
    vp->area_on = 0; /* another state's area no longer (the caller shows
                        this one's) */
    vp->view.rotate = vp->sv_rotate;
    vp->view.flip_h = vp->sv_flip;
    vp->view.flip_v = 0;
    dcx_gsps_free(ps);
    vw_annots_destroy(t->annots);
    t->annots = fresh;
    vw_tools_choose(t, -1);
    return 0;
}
