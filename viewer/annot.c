/* annot.c - annotations, undo/redo, hit tests, labels, GSPS marks
 * (annot.h). */
#define _GNU_SOURCE
#include "annot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcx/dcx.h"

enum op_kind { OP_ADD, OP_REMOVE, OP_UPDATE };

struct op {
    enum op_kind kind;
    struct vw_annot before, after; /* before: REMOVE/UPDATE; after: ADD/UPDATE */
};

struct ops {
    struct op *v;
    size_t n, cap;
};

struct vw_annots {
    struct vw_annot *v;
    size_t n, cap;
    unsigned next_id;
    struct ops undo, redo;
};

static const char *const layers[VW_TOOL_COUNT] = {
    "LENGTH", "ANGLE", "COBB", "ELLIPSE", "RECTANGLE", "ARROW", "TEXT"};
static const int npoints[VW_TOOL_COUNT] = {2, 3, 4, 2, 2, 2, 1};

const char *vw_tool_layer(enum vw_tool t)
{
    return (unsigned)t < VW_TOOL_COUNT ? layers[t] : "MARKS";
}

int vw_tool_of_layer(const char *layer)
{
    for (int i = 0; layer && i < VW_TOOL_COUNT; i++)
        if (strcmp(layer, layers[i]) == 0)
            return i;
    return -1;
}

int vw_tool_points(enum vw_tool t)
{
    return (unsigned)t < VW_TOOL_COUNT ? npoints[t] : 0;
}

vw_annots *vw_annots_create(void)
{
    vw_annots *l = calloc(1, sizeof *l);
    if (l)
        l->next_id = 1;
    return l;
}

void vw_annots_destroy(vw_annots *l)
{
    if (!l)
        return;
    free(l->v);
    free(l->undo.v);
    free(l->redo.v);
    free(l);
}

static int push_op(struct ops *s, const struct op *o)
{
    struct op *v = dcx_grow(s->v, s->n, &s->cap, sizeof *v, 16);
    if (!v)
        return -1;
    s->v = v;
    s->v[s->n++] = *o;
    return 0;
}

static long index_of(const vw_annots *l, unsigned id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].id == id)
            return (long)i;
    return -1;
}

/* the raw list changes, without history */
static int insert(vw_annots *l, const struct vw_annot *a)
{
    struct vw_annot *v = dcx_grow(l->v, l->n, &l->cap, sizeof *v, 16);
    if (!v)
        return -1;
    l->v = v;
    l->v[l->n++] = *a;
    return 0;
}

static void erase(vw_annots *l, unsigned id)
{
    long i = index_of(l, id);
    if (i >= 0)
        memmove(&l->v[i], &l->v[i + 1], (l->n - (size_t)i - 1) * sizeof *l->v),
            l->n--;
}

static void replace(vw_annots *l, const struct vw_annot *a)
{
    long i = index_of(l, a->id);
    if (i >= 0)
        l->v[i] = *a;
}

static int complete(const struct vw_annot *a)
{
    if ((unsigned)a->tool >= VW_TOOL_COUNT || a->n != npoints[a->tool] ||
        !a->sop_uid[0])
        return 0;
    if (a->tool == VW_TOOL_TEXT && !a->text[0])
        return 0;
    return 1;
}

unsigned vw_annots_add(vw_annots *l, const struct vw_annot *a)
{
    if (!complete(a))
        return 0;
    struct vw_annot c = *a;
    c.id = l->next_id;
    struct op o = {OP_ADD, {0}, c};
    if (insert(l, &c) < 0)
        return 0;
    if (push_op(&l->undo, &o) < 0) {
        erase(l, c.id);
        return 0;
    }
    l->next_id++;
    l->redo.n = 0;
    return c.id;
}

int vw_annots_update(vw_annots *l, unsigned id, const struct vw_annot *a)
{
    long i = index_of(l, id);
    if (i < 0 || !complete(a))
        return -1;
    struct vw_annot c = *a;
    c.id = id;
    struct op o = {OP_UPDATE, l->v[i], c};
    if (push_op(&l->undo, &o) < 0)
        return -1;
    l->v[i] = c;
    l->redo.n = 0;
    return 0;
}

int vw_annots_remove(vw_annots *l, unsigned id)
{
    long i = index_of(l, id);
    if (i < 0)
        return -1;
    struct op o = {OP_REMOVE, l->v[i], {0}};
    if (push_op(&l->undo, &o) < 0)
        return -1;
    erase(l, id);
    l->redo.n = 0;
    return 0;
}

/* o done again (redo) or undone */
static int apply(vw_annots *l, const struct op *o, int redo)
{
    switch (o->kind) {
    case OP_ADD:
        if (redo)
            return insert(l, &o->after);
        erase(l, o->after.id);
        return 0;
    case OP_REMOVE:
        if (!redo)
            return insert(l, &o->before);
        erase(l, o->before.id);
        return 0;
    case OP_UPDATE:
        replace(l, redo ? &o->after : &o->before);
        return 0;
    }
    return -1;
}

int vw_annots_undo(vw_annots *l)
{
    if (l->undo.n == 0)
        return 0;
    struct op o = l->undo.v[l->undo.n - 1];
    if (push_op(&l->redo, &o) < 0 || apply(l, &o, 0) < 0)
        return 0;
    l->undo.n--;
    return 1;
}

int vw_annots_redo(vw_annots *l)
{
    if (l->redo.n == 0)
        return 0;
    struct op o = l->redo.v[l->redo.n - 1];
    if (push_op(&l->undo, &o) < 0 || apply(l, &o, 1) < 0)
        return 0;
    l->redo.n--;
    return 1;
}

size_t vw_annots_count(const vw_annots *l)
{
    return l->n;
}

const struct vw_annot *vw_annots_at(const vw_annots *l, size_t i)
{
    return i < l->n ? &l->v[i] : NULL;
}

const struct vw_annot *vw_annots_get(const vw_annots *l, unsigned id)
{
    long i = index_of(l, id);
    return i >= 0 ? &l->v[i] : NULL;
}

/* ---- hit testing ---- */

static float seg_dist(float px, float py, float ax, float ay, float bx,
                      float by)
{
    float dx = bx - ax, dy = by - ay, d2 = dx * dx + dy * dy;
    float t = d2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / d2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypotf(px - (ax + t * dx), py - (ay + t * dy));
}

static float dist_to(const struct vw_annot *a, float x, float y)
{
    const float *p = a->pt;
    switch (a->tool) {
    case VW_TOOL_LENGTH:
    case VW_TOOL_ARROW:
        return seg_dist(x, y, p[0], p[1], p[2], p[3]);
    case VW_TOOL_ANGLE:
        return fminf(seg_dist(x, y, p[0], p[1], p[2], p[3]),
                     seg_dist(x, y, p[2], p[3], p[4], p[5]));
    case VW_TOOL_COBB:
        return fminf(seg_dist(x, y, p[0], p[1], p[2], p[3]),
                     seg_dist(x, y, p[4], p[5], p[6], p[7]));
    case VW_TOOL_RECT: {
        float l = fminf(p[0], p[2]), r = fmaxf(p[0], p[2]);
        float t = fminf(p[1], p[3]), b = fmaxf(p[1], p[3]);
        return fminf(fminf(seg_dist(x, y, l, t, r, t), seg_dist(x, y, r, t, r, b)),
                     fminf(seg_dist(x, y, r, b, l, b), seg_dist(x, y, l, b, l, t)));
    }
    case VW_TOOL_ELLIPSE: {
        float cx = (p[0] + p[2]) / 2, cy = (p[1] + p[3]) / 2;
        float ra = fabsf(p[2] - p[0]) / 2, rb = fabsf(p[3] - p[1]) / 2;
        if (ra <= 0 || rb <= 0)
            return hypotf(x - cx, y - cy);
        float u = (x - cx) / ra, v = (y - cy) / rb, r = sqrtf(u * u + v * v);
        /* radial distance to the outline, in pixels along that ray */
        return fabsf(r - 1) * (r > 0 ? hypotf(x - cx, y - cy) / r : fminf(ra, rb));
    }
    case VW_TOOL_TEXT:
        return hypotf(x - p[0], y - p[1]);
    default:
        return INFINITY;
    }
}

unsigned vw_annots_hit(const vw_annots *l, const char *sop_uid,
                       unsigned frame, float x, float y, float tol)
{
    unsigned best = 0;
    float bd = tol;
    for (size_t i = 0; i < l->n; i++) {
        const struct vw_annot *a = &l->v[i];
        if (a->frame != frame || strcmp(a->sop_uid, sop_uid) != 0)
            continue;
        float d = dist_to(a, x, y);
        if (d <= bd) {
            bd = d;
            best = a->id;
        }
    }
    return best;
}

/* ---- labels and measurements ---- */

/* a ROI's own area (no pixels needed): mm2, or px2 uncalibrated */
static double shape_area(const struct vw_annot *a, const struct vw_cal *cal)
{
    const float *p = a->pt;
    double w = fabs(p[2] - p[0]), h = fabs(p[3] - p[1]);
    double sx = cal->kind == VW_CAL_NONE ? 1 : cal->mm_x;
    double sy = cal->kind == VW_CAL_NONE ? 1 : cal->mm_y;
    return (a->tool == VW_TOOL_ELLIPSE ? VW_PI / 4 : 1) * w * h * sx * sy;
}

/* the ellipse inscribed in the box p[0..3] as GSPS and SR draw one: major
 * axis end points first, then the minor axis */
static void ellipse_axes(const float *p, float out[8])
{
    float cx = (p[0] + p[2]) / 2, cy = (p[1] + p[3]) / 2;
    float ra = fabsf(p[2] - p[0]) / 2, rb = fabsf(p[3] - p[1]) / 2;
    const float h[8] = {cx - ra, cy, cx + ra, cy, cx, cy - rb, cx, cy + rb};
    const float v[8] = {cx, cy - rb, cx, cy + rb, cx - ra, cy, cx + ra, cy};
    memcpy(out, ra >= rb ? h : v, sizeof h);
}

void vw_annot_label(const struct vw_annot *a, const struct vw_cal *image_cal,
                    const struct vw_px *px, const char *unit, char *out,
                    size_t len)
{
    const float *p = a->pt;
    const struct vw_cal at = vw_cal_at(image_cal, p, a->n), *cal = &at;
    const char *note = vw_cal_note(cal);
    char paren[40] = "";
    if (*note)
        snprintf(paren, sizeof paren, " (%s)", note);
    const char *lu = cal->kind == VW_CAL_NONE ? "px" : "mm";
    out[0] = '\0';
    switch (a->tool) {
    case VW_TOOL_LENGTH:
        snprintf(out, len, "%.1f %s%s", vw_length(cal, p[0], p[1], p[2], p[3]),
                 lu, paren);
        break;
    case VW_TOOL_ANGLE:
        snprintf(out, len, "%.1f\xc2\xb0",
                 vw_angle_deg(cal, p[0], p[1], p[2], p[3], p[4], p[5]));
        break;
    case VW_TOOL_COBB:
        snprintf(out, len, "Cobb %.1f\xc2\xb0",
                 vw_cobb_deg(cal, p[0], p[1], p[2], p[3], p[4], p[5], p[6],
                             p[7]));
        break;
    case VW_TOOL_ELLIPSE:
    case VW_TOOL_RECT: {
        struct vw_roi_stats st;
        if (px && vw_roi_stats(px, cal,
                               a->tool == VW_TOOL_ELLIPSE ? VW_ROI_ELLIPSE
                                                          : VW_ROI_RECT,
                               p[0], p[1], p[2], p[3], &st) == 0)
            snprintf(out, len,
                     "mean %.1f%s%s, SD %.1f, min %.0f, max %.0f, area %.1f "
                     "%s2%s",
                     st.mean, unit && *unit ? " " : "", unit ? unit : "",
                     st.sd, st.min, st.max, st.area, lu, paren);
        else
            snprintf(out, len, "area %.1f %s2%s", shape_area(a, cal), lu,
                     paren);
        break;
    }
    case VW_TOOL_TEXT:
        snprintf(out, len, "%s", a->text);
        break;
    default:
        break;
    }
}

int vw_annot_measure(const struct vw_annot *a, const struct vw_cal *image_cal,
                     const struct vw_px *px, const char *unit, float xy[8],
                     struct dcx_measure *out)
{
    const float *p = a->pt;
    const struct vw_cal at = vw_cal_at(image_cal, p, a->n), *cal = &at;
    struct dcx_measure m = {0};
    m.frame = a->frame;
    m.xy = xy;
    m.calibrated = cal->kind != VW_CAL_NONE;
    m.unit = unit && strcmp(unit, "HU") == 0 ? "HU" : "";
    switch (a->tool) {
    case VW_TOOL_LENGTH:
        m.kind = DCX_MEAS_LENGTH;
        m.value = vw_length(cal, p[0], p[1], p[2], p[3]);
        break;
    case VW_TOOL_ANGLE:
        m.kind = DCX_MEAS_ANGLE;
        m.value = vw_angle_deg(cal, p[0], p[1], p[2], p[3], p[4], p[5]);
        break;
    case VW_TOOL_COBB:
        m.kind = DCX_MEAS_COBB;
        m.value = vw_cobb_deg(cal, p[0], p[1], p[2], p[3], p[4], p[5], p[6],
                              p[7]);
        break;
    case VW_TOOL_ELLIPSE:
    case VW_TOOL_RECT: {
        int ell = a->tool == VW_TOOL_ELLIPSE;
        struct vw_roi_stats st;
        m.kind = ell ? DCX_MEAS_ELLIPSE_ROI : DCX_MEAS_RECT_ROI;
        m.value = shape_area(a, cal);
        if (px && vw_roi_stats(px, cal, ell ? VW_ROI_ELLIPSE : VW_ROI_RECT,
                               p[0], p[1], p[2], p[3], &st) == 0) {
            m.value = st.area;
            m.has_stats = 1;
            m.mean = st.mean, m.sd = st.sd, m.min = st.min, m.max = st.max;
        }
        if (ell) {
            ellipse_axes(p, xy);
        } else {
            float l = fminf(p[0], p[2]), r = fmaxf(p[0], p[2]);
            float t = fminf(p[1], p[3]), b = fmaxf(p[1], p[3]);
            const float box[8] = {l, t, r, t, r, b, l, b};
            memcpy(xy, box, sizeof box);
        }
        m.n = 4;
        *out = m;
        return 0;
    }
    default:
        return -1;
    }
    m.n = (size_t)a->n;
    memcpy(xy, p, (size_t)(2 * a->n) * sizeof *xy);
    *out = m;
    return 0;
}

/* ---- GSPS ---- */

void vw_annots_free_marks(struct vw_gsps_marks *m)
{
    for (size_t i = 0; m->marks && i < m->n; i++) {
        struct dcx_gsps_mark *k = &m->marks[i];
        for (size_t g = 0; g < k->n_graphics; g++)
            free((void *)k->graphics[g].xy);
        for (size_t t = 0; t < k->n_texts; t++)
            free((void *)k->texts[t].text);
        free((void *)k->graphics);
        free((void *)k->texts);
    }
    free(m->marks);
    m->marks = NULL;
    m->n = 0;
}

static int add_graphic(struct dcx_gsps_graphic *g, size_t *n,
                       enum dcx_gsps_shape shape, const float *xy, size_t pts)
{
    float *c = malloc(2 * pts * sizeof *c);
    if (!c)
        return -1;
    memcpy(c, xy, 2 * pts * sizeof *c);
    g[(*n)++] = (struct dcx_gsps_graphic){shape, 0, pts, c};
    return 0;
}

/* number of characters of UTF-8 text (for a text box's width) */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int one_mark(const struct vw_annot *a, size_t image,
                    const struct vw_cal *cal, const struct vw_px *px,
                    const char *unit, struct dcx_gsps_mark *m)
{
    struct dcx_gsps_graphic *g = calloc(3, sizeof *g);
    struct dcx_gsps_text *t = calloc(1, sizeof *t);
    size_t ng = 0;
    const float *p = a->pt;
    int rc = g && t ? 0 : -1;
    switch (rc ? VW_TOOL_COUNT : a->tool) {
    case VW_TOOL_LENGTH:
        rc = add_graphic(g, &ng, DCX_GSPS_POLYLINE, p, 2);
        break;
    case VW_TOOL_ANGLE:
        rc = add_graphic(g, &ng, DCX_GSPS_POLYLINE, p, 3);
        break;
    case VW_TOOL_COBB:
        rc = add_graphic(g, &ng, DCX_GSPS_POLYLINE, p, 2);
        if (rc == 0)
            rc = add_graphic(g, &ng, DCX_GSPS_POLYLINE, p + 4, 2);
        break;
    case VW_TOOL_RECT: {
        float l = fminf(p[0], p[2]), r = fmaxf(p[0], p[2]);
        float tp = fminf(p[1], p[3]), b = fmaxf(p[1], p[3]);
        const float box[10] = {l, tp, r, tp, r, b, l, b, l, tp};
        rc = add_graphic(g, &ng, DCX_GSPS_POLYLINE, box, 5);
        break;
    }
    case VW_TOOL_ELLIPSE: {
        float axes[8];
        ellipse_axes(p, axes);
        rc = add_graphic(g, &ng, DCX_GSPS_ELLIPSE, axes, 4);
        break;
    }
    case VW_TOOL_ARROW: {
        /* the shaft, then the head: two short strokes back from it */
        float dx = p[0] - p[2], dy = p[1] - p[3], d = hypotf(dx, dy);
        float s = d > 0 ? fminf(8, d / 3) / d : 0;
        float c = 0.866f, sn = 0.5f; /* +-30 degrees */
        const float head[6] = {p[2] + s * (c * dx - sn * dy),
                               p[3] + s * (sn * dx + c * dy), p[2], p[3],
                               p[2] + s * (c * dx + sn * dy),
                               p[3] + s * (-sn * dx + c * dy)};
        rc = add_graphic(g, &ng, DCX_GSPS_POLYLINE, p, 2);
        if (rc == 0)
            rc = add_graphic(g, &ng, DCX_GSPS_POLYLINE, head, 3);
        break;
    }
    default:
        break;
    }
    char label[512];
    vw_annot_label(a, cal, px, unit, label, sizeof label);
    size_t nt = 0;
    if (rc == 0 && label[0]) {
        /* the label beside the annotation's last point (the text tool:
         * at its anchor); the box is sized for ~7 pixel characters */
        int last = (a->n - 1) * 2;
        float ax = p[last], ay = p[last + 1];
        float bx = a->tool == VW_TOOL_TEXT ? ax : ax + 6;
        float by = a->tool == VW_TOOL_TEXT ? ay : ay + 6;
        t[0] = (struct dcx_gsps_text){strdup(label), 1, 0, {ax, ay}, 1,
                                      {bx, by, bx + 7.0f * (float)chars(label),
                                       by + 14}};
        if (!t[0].text)
            rc = -1;
        else
            nt = 1;
    }
    *m = (struct dcx_gsps_mark){image, vw_tool_layer(a->tool), g, ng, t, nt, 0};
    return rc;
}

int vw_annots_to_marks(const vw_annots *l, const char *const *image_uids,
                       size_t n_images, const unsigned *n_frames,
                       const struct vw_cal *cals,
                       const struct vw_px *const *pxs,
                       const char *const *units, struct vw_gsps_marks *out)
{
    out->marks = calloc(l->n ? l->n : 1, sizeof *out->marks);
    out->n = 0;
    if (!out->marks)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        const struct vw_annot *a = &l->v[i];
        size_t img = 0;
        while (img < n_images && strcmp(image_uids[img], a->sop_uid) != 0)
            img++;
        if (img == n_images)
            continue;
        int rc = one_mark(a, img, &cals[i], pxs ? pxs[i] : NULL,
                          units ? units[i] : NULL, &out->marks[out->n]);
        /* GSPS counts frames from 1 */
        if (n_frames && n_frames[img] > 1)
            out->marks[out->n].frame = a->frame + 1;
        out->n++;
        if (rc < 0) {
            vw_annots_free_marks(out);
            return -1;
        }
    }
    return 0;
}

static int add_back(vw_annots *l, enum vw_tool tool, const char *sop,
                    unsigned frame, const float *xy, int n, const char *text)
{
    struct vw_annot a = {0};
    a.tool = tool;
    snprintf(a.sop_uid, sizeof a.sop_uid, "%s", sop);
    a.frame = frame;
    a.n = n;
    memcpy(a.pt, xy, (size_t)(2 * n) * sizeof *xy);
    if (text)
        snprintf(a.text, sizeof a.text, "%s", text);
    return vw_annots_add(l, &a) ? 1 : 0;
}

/* the bounding box of points (x0,y0,x1,y1) */
static void bbox(const float *xy, size_t n, float out[4])
{
    out[0] = out[2] = xy[0];
    out[1] = out[3] = xy[1];
    for (size_t k = 1; k < n; k++) {
        out[0] = fminf(out[0], xy[2 * k]), out[2] = fmaxf(out[2], xy[2 * k]);
        out[1] = fminf(out[1], xy[2 * k + 1]);
        out[3] = fmaxf(out[3], xy[2 * k + 1]);
    }
}

int vw_annots_from_marks(vw_annots *l, const char *sop_uid, unsigned frame,
                         const struct dcx_gsps_mark *marks, size_t n)
{
    int added = 0;
    for (size_t i = 0; i < n; i++) {
        const struct dcx_gsps_mark *m = &marks[i];
        int tool = vw_tool_of_layer(m->layer);
        const struct dcx_gsps_graphic *g = m->graphics;
        size_t ng = m->n_graphics;
        float box[4];
        switch (tool) {
        case VW_TOOL_LENGTH:
        case VW_TOOL_ARROW:
            if (ng >= 1 && g[0].n == 2)
                added += add_back(l, tool, sop_uid, frame, g[0].xy, 2, NULL);
            continue;
        case VW_TOOL_ANGLE:
            if (ng >= 1 && g[0].n == 3)
                added += add_back(l, tool, sop_uid, frame, g[0].xy, 3, NULL);
            continue;
        case VW_TOOL_COBB:
            if (ng >= 2 && g[0].n == 2 && g[1].n == 2) {
                float xy[8];
                memcpy(xy, g[0].xy, 4 * sizeof *xy);
                memcpy(xy + 4, g[1].xy, 4 * sizeof *xy);
                added += add_back(l, tool, sop_uid, frame, xy, 4, NULL);
            }
            continue;
        case VW_TOOL_RECT:
        case VW_TOOL_ELLIPSE:
            if (ng >= 1 && g[0].n >= 2) {
                bbox(g[0].xy, g[0].n, box);
                added += add_back(l, tool, sop_uid, frame, box, 2, NULL);
            }
            continue;
        case VW_TOOL_TEXT:
            if (m->n_texts >= 1) {
                const struct dcx_gsps_text *t = &m->texts[0];
                const float *at = t->has_anchor ? t->anchor : t->box;
                added += add_back(l, tool, sop_uid, frame, at, 1, t->text);
            }
            continue;
        default:
            break;
        }
        /* another program's marks: lines, ellipses and texts as ours */
        for (size_t k = 0; k < ng; k++) {
            if (g[k].shape == DCX_GSPS_POLYLINE && g[k].n == 2)
                added += add_back(l, VW_TOOL_LENGTH, sop_uid, frame, g[k].xy,
                                  2, NULL);
            else if (g[k].shape == DCX_GSPS_ELLIPSE && g[k].n == 4) {
                bbox(g[k].xy, 4, box);
                added += add_back(l, VW_TOOL_ELLIPSE, sop_uid, frame, box, 2,
                                  NULL);
            } else if (g[k].shape == DCX_GSPS_CIRCLE && g[k].n == 2) {
                float r = hypotf(g[k].xy[2] - g[k].xy[0],
                                 g[k].xy[3] - g[k].xy[1]);
                const float c[4] = {g[k].xy[0] - r, g[k].xy[1] - r,
                                    g[k].xy[0] + r, g[k].xy[1] + r};
                added += add_back(l, VW_TOOL_ELLIPSE, sop_uid, frame, c, 2,
                                  NULL);
            }
        }
        for (size_t k = 0; k < m->n_texts; k++) {
            const struct dcx_gsps_text *t = &m->texts[k];
            const float *at = t->has_anchor ? t->anchor : t->box;
            added += add_back(l, VW_TOOL_TEXT, sop_uid, frame, at, 1, t->text);
        }
    }
    return added;
}
