/* viewport.c - one series on screen (see viewport.h). */
#include "viewport.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure.h"
#include "overlay.h"

#include "dcx/tags.h"

int vw_vp_open(struct vw_vp *vp, const vw_scan *sc, int series, int first,
               int threads, int pack, char *err, size_t errlen)
{
    memset(vp, 0, sizeof *vp);
    vp->tex_slice = vp->px_slice = -1;
    if (vw_stack_open(&vp->st, sc, series, first, threads, pack, err,
                      errlen) < 0)
        return -1;
    if (first >= vp->st.n) {
        snprintf(err, errlen, "slice %d: the series has %d", first + 1,
                 vp->st.n);
        vw_stack_close(&vp->st);
        return -1;
    }
    vp->cur = first;
    atomic_store(&vp->st.cursor, first);
    /* LUTs, palette and presets come from the first slice's file (the
     * first that can be read: a damaged slice is shown as such, it does
     * not keep the series closed) */
    int rc = -1;
    for (int i = 0; i < vp->st.n && rc < 0; i++) {
        char e[512];
        rc = vw_image_open(&vp->im, vp->st.s[i].path, i ? e : err,
                           i ? sizeof e : errlen);
    }
    if (rc < 0) {
        vw_stack_close(&vp->st);
        return -1;
    }
    /* cine rate: Frame Time, else Cine Rate, else Recommended Display
     * Frame Rate, else 10 images/s for a stack */
    double rate = 0;
    if (vp->im.frame_time_ms > 0)
        vp->fps = 1000.0 / vp->im.frame_time_ms;
    else if (vw_image_numbers(&vp->im, DCX_TAG(0x0018, 0x0040), &rate, 1) ==
                 1 &&
             rate > 0)
        vp->fps = rate;
    else if (vw_image_numbers(&vp->im, DCX_TAG(0x0008, 0x2144), &rate, 1) ==
                 1 &&
             rate > 0)
        vp->fps = rate;
    else
        vp->fps = 10;
    /* the range + and - keep to: a Frame Time of 0.001 ms is a mistake,
     * not a request for a million frames a second */
    vp->fps = fmin(fmax(vp->fps, VW_FPS_MIN), VW_FPS_MAX);
    vp->open = 1;
    return 0;
}

void vw_vp_close(struct vw_vp *vp)
{
    if (!vp->open)
        return;
    rnd_image_destroy(vp->tex);
    free(vp->px);
    free(vp->sv);
    vw_image_close(&vp->im);
    vw_stack_close(&vp->st);
    memset(vp, 0, sizeof *vp);
}

const struct vw_slice *vw_vp_slice(const struct vw_vp *vp)
{
    return &vp->st.s[vp->cur];
}

int vw_vp_shown(const struct vw_vp *vp)
{
    return vp->failed || !vp->tex ? -1 : vp->pending ? vp->tex_slice : vp->cur;
}

/* Slice i's samples: its own, or unpacked into px. NULL and why if not
 * (out of memory, or its packed form is damaged). */
static const void *unpacked(struct vw_vp *vp, int i, const char **why)
{
    const struct vw_slice *s = &vp->st.s[i];
    if (!s->packed || vp->px_slice == i)
        return s->packed ? vp->px : s->pixels;
    size_t n = vw_slice_bytes(&vp->st, s);
    if (vp->px_cap < n) {
        free(vp->px);
        vp->px_cap = 0;
        vp->px_slice = -1;
        if (!(vp->px = malloc(n))) {
            *why = "out of memory";
            return NULL;
        }
        vp->px_cap = n;
    }
    vp->px_slice = -1; /* until it holds slice i whole */
    if (!vw_stack_pixels(&vp->st, s, vp->px)) {
        *why = "out of memory, or its packed form is damaged";
        return NULL;
    }
    vp->px_slice = i;
    return vp->px;
}

const void *vw_vp_pixels(const struct vw_vp *vp)
{
    int i = vw_vp_shown(vp);
    if (i < 0 || atomic_load(&vp->st.s[i].state) != 2)
        return NULL;
    const struct vw_slice *s = &vp->st.s[i];
    return !s->packed ? s->pixels : vp->px_slice == i ? vp->px : NULL;
}

struct vw_px vw_vp_px(const struct vw_vp *vp, const struct vw_slice *s,
                      const void *data)
{
    const struct rnd_frame *f = &vp->st.fmt;
    const struct rnd_lut *m = &vp->im.modality_lut;
    return (struct vw_px){
        .data = data, .width = (int)s->w, .height = (int)s->h,
        .bytes = f->bits / 8, .is_signed = f->is_signed, .slope = s->slope,
        .intercept = s->intercept, .lut = m->count ? m->data : NULL,
        .lut_n = (int)m->count, .lut_first = m->first,
        .has_pad = s->has_pad, .pad = s->pad};
}

const char *vw_vp_unit(const struct vw_vp *vp)
{
    char mod[16] = "";
    vw_image_text(&vp->im, DCX_TAG_MODALITY, mod, sizeof mod);
    return strcmp(mod, "CT") == 0 ? "HU" : "";
}

int vw_vp_show(struct vw_vp *vp, rnd_ctx *rc, char *err, size_t errlen)
{
    const char *why = "";
    if (vp->tex && vp->tex_slice == vp->cur) {
        /* back to the texture's slice after another failed to show: px
         * may hold that one (statistics read px) */
        unpacked(vp, vp->cur, &why);
        vp->failed = 0;
        return 0;
    }
    const struct vw_slice *s = vw_vp_slice(vp);
    rnd_image *t = NULL;
    const void *data = NULL;
    if (vw_stack_wait(&vp->st, vp->cur) < 0) {
        snprintf(vp->why, sizeof vp->why, "%.300s frame %u: %.150s", s->path,
                 s->frame, s->err);
    } else if (!(data = unpacked(vp, vp->cur, &why))) {
        snprintf(vp->why, sizeof vp->why,
                 "%.300s frame %u: cannot be unpacked (%s)", s->path,
                 s->frame, why);
    } else {
        struct rnd_frame f = vp->st.fmt;
        f.width = s->w;
        f.height = s->h;
        f.aspect = s->aspect;
        f.data = data;
        f.palette = vp->im.palette[0].count ? vp->im.palette : NULL;
        f.overlay = s->overlay;
        /* into the texture shown when the slice has its layout, else a
         * texture of its own */
        int up = vp->tex ? rnd_image_update(vp->tex, &f) : RND_ELAYOUT;
        if (up == RND_EGPU) { /* what it held is gone */
            rnd_image_destroy(vp->tex);
            vp->tex = NULL;
            vp->tex_slice = -1;
        }
        t = up == 0 ? vp->tex
                    : rnd_image_create(rc, &f, vp->why, sizeof vp->why);
    }
    if (!t) {
        vp->failed = 1;
        snprintf(err, errlen, "%s", vp->why);
        return -1;
    }
    vp->failed = 0;
    if (t != vp->tex) {
        rnd_image_destroy(vp->tex);
        vp->tex = t;
    }
    vp->tex_slice = vp->cur;
    /* slices of a CT may carry their own rescale */
    vp->view.slope = s->slope;
    vp->view.intercept = s->intercept;
    return 0;
}

double vw_vp_modality(const struct vw_vp *vp, const struct vw_slice *s,
                      double v)
{
    return vw_modality_value(&vp->im.modality_lut, s->slope, s->intercept, v);
}

void vw_vp_range(const struct vw_vp *vp, const struct vw_slice *s,
                 double *lo, double *hi)
{
    const struct rnd_lut *m = &vp->im.modality_lut;
    if (!m->count) {
        *lo = s->min, *hi = s->max;
        return;
    }
    /* the entries the stored range reaches, clamped to the table */
    double a = s->smin - m->first, b = s->smax - m->first;
    long i0 = a < 0 ? 0 : a > m->count - 1 ? (long)m->count - 1 : (long)a;
    long i1 = b < 0 ? 0 : b > m->count - 1 ? (long)m->count - 1 : (long)b;
    *lo = INFINITY, *hi = -INFINITY;
    for (long i = i0; i <= i1; i++) {
        *lo = fmin(*lo, m->data[i]);
        *hi = fmax(*hi, m->data[i]);
    }
}

void vw_vp_reset(struct vw_vp *vp, const struct vw_view_opts *o, int w,
                 int h)
{
    struct rnd_view *v = &vp->view;
    const struct vw_slice *s = vw_vp_slice(vp);
    memset(v, 0, sizeof *v);
    vp->area_on = 0;
    v->slope = s->slope;
    v->intercept = s->intercept;
    v->modality_lut = vp->im.modality_lut.count ? &vp->im.modality_lut : NULL;
    v->voi = vp->im.voi_lut.count && !o->has_window ? RND_VOI_LUT
                                                    : vp->im.voi_function;
    v->voi_lut = vp->im.voi_lut.count ? &vp->im.voi_lut : NULL;
    if (o->has_window) {
        v->center = o->center, v->width = o->width;
    } else if (vp->im.n_windows > 0 && vp->im.width[0] > 0) {
        v->center = vp->im.center[0], v->width = vp->im.width[0];
    } else if (s->width > 0) {
        v->center = s->center, v->width = s->width;
    } else {
        double lo, hi;
        vw_vp_range(vp, s, &lo, &hi);
        v->center = (lo + hi) / 2.0;
        v->width = hi - lo + rnd_value_step(s->slope);
    }
    v->invert = o->invert;
    v->rotate = o->rotate;
    v->flip_h = o->flip_h;
    v->flip_v = o->flip_v;
    v->pan_x = o->pan_x;
    v->pan_y = o->pan_y;
    v->linear = o->linear;
    vp->fit = o->zoom <= 0;
    v->zoom = vp->fit ? rnd_fit_zoom(vp->tex, v->rotate, w, h) : o->zoom;
}

int vw_vp_try_show(struct vw_vp *vp, rnd_ctx *rc)
{
    atomic_store(&vp->st.cursor, vp->cur); /* decoders: come here first */
    int st = atomic_load(&vp->st.s[vp->cur].state);
    if (st == 0 || st == 1) {
        vp->pending = 1;
        vp->failed = 0; /* a slice failed before: the texture's is shown */
        return 0;
    }
    vp->pending = 0;
    char err[512];
    if (vw_vp_show(vp, rc, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        return -1;
    }
    return 1;
}

static int go(struct vw_vp *vp, rnd_ctx *rc, int c)
{
    c = c < 0 ? 0 : c >= vp->st.n ? vp->st.n - 1 : c;
    if (c == vp->cur)
        return 0;
    vp->cur = c;
    vw_vp_try_show(vp, rc);
    return 1;
}

int vw_vp_step(struct vw_vp *vp, rnd_ctx *rc, int step)
{
    return go(vp, rc, vp->cur + step);
}

/* the unit normal (row x column) of a slice with geometry; 0 if none */
static int unit_normal(const struct vw_slice *s, double n[3])
{
    vw_plane_normal(s->dir, n);
    double nn = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    if (!s->has_geom || nn <= 0)
        return 0;
    for (int k = 0; k < 3; k++)
        n[k] /= nn;
    return 1;
}

int vw_vp_sync_to(struct vw_vp *vp, rnd_ctx *rc, const struct vw_slice *o,
                  const double shift[3])
{
    double n[3], m[3];
    if (!unit_normal(vw_vp_slice(vp), n) || !unit_normal(o, m) ||
        fabs(n[0] * m[0] + n[1] * m[1] + n[2] * m[2]) < 0.99)
        return 0;
    /* o's position along this series' normal: the same measure as the
     * keys, whichever way o's own normal points */
    double key = 0;
    for (int k = 0; k < 3; k++)
        key += (o->pos[k] + (shift ? shift[k] : 0)) * n[k];
    int best = vp->cur;
    double bd = INFINITY;
    for (int i = 0; i < vp->st.n; i++) {
        double d = fabs(vp->st.s[i].key - key);
        if (vp->st.s[i].has_geom && d < bd)
            bd = d, best = i;
    }
    return go(vp, rc, best);
}

int vw_vp_auto_window(const struct vw_vp *vp, double *c, double *w)
{
    /* the slice on screen: the one asked for may still be decoding (its
     * range unknown: the window was 0/1) or be damaged */
    int shown = vw_vp_shown(vp);
    if (shown < 0)
        return -1;
    const struct vw_slice *s = &vp->st.s[shown];
    const struct rnd_frame *f = &vp->st.fmt;
    double lo, hi;
    vw_vp_range(vp, s, &lo, &hi);
    const void *px = vw_vp_pixels(vp);
    if (f->samples != 1 || !px || hi <= lo) {
        *c = (lo + hi) / 2;
        *w = hi - lo + rnd_value_step(s->slope);
        return 0;
    }
    enum { BINS = 4096 };
    static unsigned hist[BINS]; /* main thread only */
    memset(hist, 0, sizeof hist);
    size_t n = (size_t)s->w * s->h;
    double span = hi - lo;
    for (size_t i = 0; i < n; i++) {
        double v = vw_vp_modality(vp, s, vw_sample(f, px, i));
        int b = (int)((v - lo) / span * (BINS - 1));
        hist[b < 0 ? 0 : b >= BINS ? BINS - 1 : b]++;
    }
    unsigned skip = hist[0] > n / 10 ? hist[0] : 0; /* padding */
    size_t used = n - skip;
    size_t acc = 0, p1 = (size_t)(used * 0.01), p99 = (size_t)(used * 0.99);
    int b1 = -1, b99 = BINS - 1;
    for (int b = skip ? 1 : 0; b < BINS; b++) {
        acc += hist[b];
        if (b1 < 0 && acc > p1)
            b1 = b;
        if (acc > p99) {
            b99 = b;
            break;
        }
    }
    double v1 = lo + span * (b1 < 0 ? 0 : b1) / (BINS - 1);
    double v99 = lo + span * (b99 + 1) / (BINS - 1);
    *c = (v1 + v99) / 2;
    double q = rnd_value_step(s->slope);
    *w = v99 - v1 > q ? v99 - v1 : q;
    return 0;
}

static double dot(const double *a, const double *b)
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

int vw_vp_reference_line(const struct vw_vp *vp, const struct vw_slice *o,
                         int w, int h, double out[4])
{
    const struct vw_slice *s = vw_vp_slice(vp);
    if (!s->has_geom || !o->has_geom || !vp->tex)
        return -1;
    /* patient coordinates are those of one Frame of Reference (PS3.3
     * C.7.4.1.1.1): a prior study's slice cuts nothing of today's */
    if (strcmp(s->for_uid, o->for_uid) != 0)
        return -1;
    /* the other plane: a point and its unit normal (row x column) */
    double n[3];
    if (!unit_normal(o, n))
        return -1;
    const double *r = s->dir, *c = s->dir + 3;
    if (fabs(dot(n, r)) < 1e-6 && fabs(dot(n, c)) < 1e-6)
        return -1; /* parallel planes */
    /* signed distance to the other plane of image point (x, y) (pixel
     * centres at +0.5): d(x, y) = d0 + x * dx + y * dy */
    double p0[3];
    for (int k = 0; k < 3; k++)
        p0[k] = s->pos[k] - o->pos[k];
    double d0 = dot(p0, n), dx = dot(r, n) * s->spacing[1],
           dy = dot(c, n) * s->spacing[0];
    /* where it is 0 on the image's four edges (in pixel-centre units, then
     * shifted to the continuous coordinates the renderer uses) */
    double cols = s->w, rows = s->h;
    double pts[4][2];
    int np = 0;
    double ex[4][4] = {{-0.5, -0.5, cols - 0.5, -0.5},
                       {-0.5, rows - 0.5, cols - 0.5, rows - 0.5},
                       {-0.5, -0.5, -0.5, rows - 0.5},
                       {cols - 0.5, -0.5, cols - 0.5, rows - 0.5}};
    for (int e = 0; e < 4 && np < 2; e++) {
        double da = d0 + ex[e][0] * dx + ex[e][1] * dy;
        double db = d0 + ex[e][2] * dx + ex[e][3] * dy;
        if ((da < 0) == (db < 0) || da == db)
            continue;
        double t = da / (da - db);
        double ix = ex[e][0] + t * (ex[e][2] - ex[e][0]);
        double iy = ex[e][1] + t * (ex[e][3] - ex[e][1]);
        if (np == 1 && fabs(ix - pts[0][0]) < 1e-9 && fabs(iy - pts[0][1]) < 1e-9)
            continue; /* a corner counted twice */
        pts[np][0] = ix + 0.5;
        pts[np][1] = iy + 0.5;
        np++;
    }
    if (np < 2)
        return -1;
    rnd_image_to_screen(vp->tex, &vp->view, w, h, pts[0][0], pts[0][1],
                        &out[0], &out[1]);
    rnd_image_to_screen(vp->tex, &vp->view, w, h, pts[1][0], pts[1][1],
                        &out[2], &out[3]);
    return 0;
}
