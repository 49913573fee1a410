/* gsps_read.c - reading Grayscale Softcopy Presentation States (dcx/gsps.h)
 * through the dataset API, so that text arrives as UTF-8 from whatever
 * character set the file declares (GB18030 included). Any writer's GSPS:
 * ours, DCMTK's dcmpsmk, a vendor's. Everything is copied into one
 * handle; the data set is closed before returning. */
#define _GNU_SOURCE
#include "dcx/gsps.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcx/dataset.h"
#include "shim.h"

#define T(g, e) (((uint32_t)(g) << 16) | (e))
#define TAG_SOP_UID T(0x0008, 0x0018)
#define TAG_SOP_CLASS T(0x0008, 0x0016)
#define TAG_SERIES_UID T(0x0020, 0x000E)
#define TAG_STUDY_UID T(0x0020, 0x000D)
#define TAG_CONTENT_LABEL T(0x0070, 0x0080)
#define TAG_CONTENT_DESC T(0x0070, 0x0081)
#define TAG_CREATOR T(0x0070, 0x0084)
#define TAG_CREATION_DATE T(0x0070, 0x0082)
#define TAG_CREATION_TIME T(0x0070, 0x0083)
#define TAG_ROTATION T(0x0070, 0x0042)
#define TAG_FLIP T(0x0070, 0x0041)
#define TAG_REF_SERIES T(0x0008, 0x1115)
#define TAG_REF_IMAGE T(0x0008, 0x1140)
#define TAG_REF_SOP_UID T(0x0008, 0x1155)
#define TAG_REF_FRAMES T(0x0008, 0x1160)
#define TAG_GRAPHIC_ANNOTATION T(0x0070, 0x0001)
#define TAG_TEXT_OBJECTS T(0x0070, 0x0008)
#define TAG_GRAPHIC_OBJECTS T(0x0070, 0x0009)
#define TAG_BOX_UNITS T(0x0070, 0x0003)
#define TAG_ANCHOR_UNITS T(0x0070, 0x0004)
#define TAG_GRAPHIC_UNITS T(0x0070, 0x0005)
#define TAG_TEXT T(0x0070, 0x0006)
#define TAG_BOX_TLHC T(0x0070, 0x0010)
#define TAG_BOX_BRHC T(0x0070, 0x0011)
#define TAG_ANCHOR T(0x0070, 0x0014)
#define TAG_ANCHOR_VISIBLE T(0x0070, 0x0015)
#define TAG_GRAPHIC_POINTS T(0x0070, 0x0021)
#define TAG_GRAPHIC_DATA T(0x0070, 0x0022)
#define TAG_GRAPHIC_TYPE T(0x0070, 0x0023)
#define TAG_GRAPHIC_FILLED T(0x0070, 0x0024)
#define TAG_VOI_SEQ T(0x0028, 0x3110)
#define TAG_WINDOW_CENTER T(0x0028, 0x1050)
#define TAG_WINDOW_WIDTH T(0x0028, 0x1051)
#define TAG_AREA_SEQ T(0x0070, 0x005A)
#define TAG_AREA_TLHC T(0x0070, 0x0052)
#define TAG_AREA_BRHC T(0x0070, 0x0053)


/* Which images an item applies to: none listed = all. */
struct refs {
    size_t n;
    char (*uid)[65];
    unsigned *frame; /* 0: all frames */
};

struct mark_full {
    struct refs refs;
    char layer[68];
    struct dcx_gsps_mark m;
    struct dcx_gsps_graphic *g;
    struct dcx_gsps_text *t;
};

struct voi {
    struct refs refs;
    double center, width;
};

struct area {
    struct refs refs;
    int a[4];
};

struct dcx_gsps {
    struct dcx_gsps_info info;
    char sop[65], series[65], study[65], label[68], desc[256], creator[256],
        date[16], time[24];
    char (*images)[65];
    struct mark_full *marks;
    size_t n_marks;
    struct voi *vois;
    size_t n_vois;
    struct area *areas;
    size_t n_areas;
    /* for dcx_gsps_marks_for: the applicable marks of the last call */
    struct dcx_gsps_mark *view;
};

static void str(const dcx_item *it, uint32_t tag, char *buf, size_t len)
{
    buf[0] = '\0';
    int rc = dcx_item_get_str(it, tag, -1, buf, len);
    if (rc < 0 && rc != DCX_ECHARSET) /* ECHARSET: best effort kept */
        buf[0] = '\0';
}

static int push_ref(struct refs *r, size_t *cap_uid, size_t *cap_frame,
                    const char *uid, unsigned frame)
{
    void *u = dcx_grow(r->uid, r->n, cap_uid, sizeof *r->uid, 8);
    if (u)
        r->uid = u;
    void *f = dcx_grow(r->frame, r->n, cap_frame, sizeof *r->frame, 8);
    if (f)
        r->frame = f;
    if (!u || !f)
        return -1;
    snprintf(r->uid[r->n], sizeof r->uid[0], "%s", uid);
    r->frame[r->n++] = frame;
    return 0;
}

/* One entry per referenced image, or per frame of it when Referenced
 * Frame Number lists frames (VM 1-n: each its entry; 0: the image). */
static int read_refs(const dcx_item *it, struct refs *r)
{
    memset(r, 0, sizeof *r);
    int n = dcx_item_seq_count(it, TAG_REF_IMAGE);
    size_t cap_uid = 0, cap_frame = 0;
    for (int i = 0; i < n; i++) {
        dcx_item *ri;
        if (dcx_item_seq_get(it, TAG_REF_IMAGE, (unsigned)i, &ri) < 0)
            continue;
        char uid[65];
        str(ri, TAG_REF_SOP_UID, uid, sizeof uid);
        int nf = 0;
        int64_t f;
        while (dcx_item_get_int(ri, TAG_REF_FRAMES, nf, &f) == 0 && f > 0) {
            if (push_ref(r, &cap_uid, &cap_frame, uid, (unsigned)f) < 0)
                return -1;
            nf++;
        }
        if (nf == 0 && push_ref(r, &cap_uid, &cap_frame, uid, 0) < 0)
            return -1;
    }
    return 0;
}

/* Whether an item's references take in the image (frame from 1; 0: any
 * frame): an item that names no image takes in the images the state
 * references, and those only. */
static int refs_match(const dcx_gsps *ps, const struct refs *r,
                      const char *uid, unsigned frame)
{
    if (r->n == 0)
        return dcx_gsps_refers(ps, uid);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->uid[i], uid) == 0 &&
            (r->frame[i] == 0 || frame == 0 || r->frame[i] == frame))
            return 1;
    return 0;
}

static void free_refs(struct refs *r)
{
    free(r->uid);
    free(r->frame);
}

static enum dcx_gsps_shape shape_of(const char *t)
{
    return strcmp(t, "POINT") == 0          ? DCX_GSPS_POINT
           : strcmp(t, "INTERPOLATED") == 0 ? DCX_GSPS_INTERPOLATED
           : strcmp(t, "CIRCLE") == 0       ? DCX_GSPS_CIRCLE
           : strcmp(t, "ELLIPSE") == 0      ? DCX_GSPS_ELLIPSE
                                            : DCX_GSPS_POLYLINE;
}

/* Graphic Data / points of one item in PIXEL units; NULL if it cannot be
 * (DISPLAY units without a displayed area). */
static float *points(const dcx_item *it, uint32_t tag, size_t n,
                     const char *units, const int *area)
{
    float *xy = calloc(2 * n, sizeof *xy);
    if (!xy)
        return NULL;
    for (size_t k = 0; k < 2 * n; k++) {
        double v = 0;
        if (dcx_item_get_float(it, tag, (unsigned)k, &v) < 0) {
            free(xy);
            return NULL;
        }
        xy[k] = (float)v;
    }
    if (strcmp(units, "DISPLAY") == 0) {
        if (!area) {
            free(xy);
            return NULL;
        }
        /* 0..1 across the displayed area (PS3.3 C.10.5.1.1) */
        double w = area[2] - area[0] + 1, h = area[3] - area[1] + 1;
        for (size_t k = 0; k < n; k++) {
            xy[2 * k] = (float)(area[0] - 1 + xy[2 * k] * w);
            xy[2 * k + 1] = (float)(area[1] - 1 + xy[2 * k + 1] * h);
        }
    }
    return xy;
}

static const int *area_of(const dcx_gsps *ps, const struct refs *r)
{
    for (size_t i = 0; i < ps->n_areas; i++)
        if (ps->areas[i].refs.n == 0 ||
            (r->n &&
             refs_match(ps, &ps->areas[i].refs, r->uid[0], r->frame[0])))
            return ps->areas[i].a;
    return NULL;
}

static int read_mark(dcx_gsps *ps, const dcx_item *it, struct mark_full *mf)
{
    memset(mf, 0, sizeof *mf);
    if (read_refs(it, &mf->refs) < 0)
        return -1;
    str(it, T(0x0070, 0x0002), mf->layer, sizeof mf->layer); /* Graphic Layer */
    const int *area = area_of(ps, &mf->refs);
    int ng = dcx_item_seq_count(it, TAG_GRAPHIC_OBJECTS);
    int nt = dcx_item_seq_count(it, TAG_TEXT_OBJECTS);
    if (ng > 0 && !(mf->g = calloc((size_t)ng, sizeof *mf->g)))
        return -1;
    if (nt > 0 && !(mf->t = calloc((size_t)nt, sizeof *mf->t)))
        return -1;
    char units[20], type[20];
    for (int i = 0; i < ng; i++) {
        dcx_item *go;
        int64_t n = 0;
        if (dcx_item_seq_get(it, TAG_GRAPHIC_OBJECTS, (unsigned)i, &go) < 0 ||
            dcx_item_get_int(go, TAG_GRAPHIC_POINTS, 0, &n) < 0 || n <= 0 ||
            n > 100000)
            continue;
        str(go, TAG_GRAPHIC_UNITS, units, sizeof units);
        str(go, TAG_GRAPHIC_TYPE, type, sizeof type);
        float *xy = points(go, TAG_GRAPHIC_DATA, (size_t)n, units, area);
        if (!xy)
            continue;
        char filled[8];
        str(go, TAG_GRAPHIC_FILLED, filled, sizeof filled);
        mf->g[mf->m.n_graphics++] = (struct dcx_gsps_graphic){
            shape_of(type), strcmp(filled, "Y") == 0, (size_t)n, xy};
    }
    for (int i = 0; i < nt; i++) {
        dcx_item *to;
        if (dcx_item_seq_get(it, TAG_TEXT_OBJECTS, (unsigned)i, &to) < 0)
            continue;
        struct dcx_gsps_text t = {0};
        char buf[1024];
        str(to, TAG_TEXT, buf, sizeof buf);
        if (!buf[0] || !(t.text = strdup(buf)))
            continue;
        if (dcx_item_has(to, TAG_ANCHOR)) {
            str(to, TAG_ANCHOR_UNITS, units, sizeof units);
            float *a = points(to, TAG_ANCHOR, 1, units, area);
            if (a) {
                t.has_anchor = 1;
                t.anchor[0] = a[0], t.anchor[1] = a[1];
                free(a);
            }
            str(to, TAG_ANCHOR_VISIBLE, buf, sizeof buf);
            t.anchor_visible = strcmp(buf, "Y") == 0;
        }
        if (dcx_item_has(to, TAG_BOX_TLHC) && dcx_item_has(to, TAG_BOX_BRHC)) {
            str(to, TAG_BOX_UNITS, units, sizeof units);
            float *tl = points(to, TAG_BOX_TLHC, 1, units, area);
            float *br = points(to, TAG_BOX_BRHC, 1, units, area);
            if (tl && br) {
                t.has_box = 1;
                t.box[0] = tl[0], t.box[1] = tl[1];
                t.box[2] = br[0], t.box[3] = br[1];
            }
            free(tl);
            free(br);
        }
        if (t.has_anchor || t.has_box)
            mf->t[mf->m.n_texts++] = t;
        else
            free((void *)t.text);
    }
    mf->m.graphics = mf->g;
    mf->m.texts = mf->t;
    mf->m.layer = mf->layer;
    /* one frame of one image (how consort-view marks cine) */
    mf->m.frame = mf->refs.n == 1 ? mf->refs.frame[0] : 0;
    return 0;
}

void dcx_gsps_free(dcx_gsps *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n_marks; i++) {
        struct mark_full *mf = &ps->marks[i];
        for (size_t k = 0; k < mf->m.n_graphics; k++)
            free((void *)mf->g[k].xy);
        for (size_t k = 0; k < mf->m.n_texts; k++)
            free((void *)mf->t[k].text);
        free(mf->g);
        free(mf->t);
        free_refs(&mf->refs);
    }
    for (size_t i = 0; i < ps->n_vois; i++)
        free_refs(&ps->vois[i].refs);
    for (size_t i = 0; i < ps->n_areas; i++)
        free_refs(&ps->areas[i].refs);
    free(ps->marks);
    free(ps->vois);
    free(ps->areas);
    free(ps->images);
    free(ps->view);
    free(ps);
}

int dcx_gsps_read(const char *path, dcx_gsps **out, struct dcx_error *e)
{
    *out = NULL;
    dcx_ds *ds = NULL;
    struct dcx_open_opts o = {.no_pixels = 1};
    int rc = dcx_ds_open(path, &o, &ds, e);
    if (rc < 0)
        return rc;
    dcx_item *root = dcx_ds_root(ds);
    char cls[68];
    str(root, TAG_SOP_CLASS, cls, sizeof cls);
    if (strcmp(cls, DCX_GSPS_CLASS) != 0) {
        dcx_err_set(e, "not a Grayscale Softcopy Presentation State (SOP "
                       "class %s)", cls[0] ? cls : "none");
        dcx_ds_close(ds);
        return DCX_EBADDATA;
    }
    dcx_gsps *ps = calloc(1, sizeof *ps);
    if (!ps)
        goto nomem;
    str(root, TAG_SOP_UID, ps->sop, sizeof ps->sop);
    str(root, TAG_SERIES_UID, ps->series, sizeof ps->series);
    str(root, TAG_STUDY_UID, ps->study, sizeof ps->study);
    str(root, TAG_CONTENT_LABEL, ps->label, sizeof ps->label);
    str(root, TAG_CONTENT_DESC, ps->desc, sizeof ps->desc);
    str(root, TAG_CREATOR, ps->creator, sizeof ps->creator);
    str(root, TAG_CREATION_DATE, ps->date, sizeof ps->date);
    str(root, TAG_CREATION_TIME, ps->time, sizeof ps->time);
    int64_t rot = 0;
    dcx_item_get_int(root, TAG_ROTATION, 0, &rot);
    char flip[8];
    str(root, TAG_FLIP, flip, sizeof flip);
    /* referenced images, over all referenced series */
    size_t n_img = 0, cap = 0;
    int ns = dcx_item_seq_count(root, TAG_REF_SERIES);
    for (int s = 0; s < ns; s++) {
        dcx_item *se;
        if (dcx_item_seq_get(root, TAG_REF_SERIES, (unsigned)s, &se) < 0)
            continue;
        struct refs r;
        if (read_refs(se, &r) < 0)
            goto nomem;
        for (size_t i = 0; i < r.n; i++) {
            if (i > 0 && strcmp(r.uid[i], r.uid[i - 1]) == 0)
                continue; /* another frame of the same image */
            if (n_img == cap) {
                cap = cap ? 2 * cap : 16;
                void *v = realloc(ps->images, cap * sizeof *ps->images);
                if (!v) {
                    free_refs(&r);
                    goto nomem;
                }
                ps->images = v;
            }
            memcpy(ps->images[n_img++], r.uid[i], sizeof ps->images[0]);
        }
        free_refs(&r);
    }
    /* displayed areas first: DISPLAY-unit graphics need them */
    int na = dcx_item_seq_count(root, TAG_AREA_SEQ);
    if (na > 0 && !(ps->areas = calloc((size_t)na, sizeof *ps->areas)))
        goto nomem;
    for (int i = 0; i < na; i++) {
        dcx_item *ai;
        struct area *a = &ps->areas[ps->n_areas];
        int64_t v[4];
        if (dcx_item_seq_get(root, TAG_AREA_SEQ, (unsigned)i, &ai) < 0 ||
            dcx_item_get_int(ai, TAG_AREA_TLHC, 0, &v[0]) < 0 ||
            dcx_item_get_int(ai, TAG_AREA_TLHC, 1, &v[1]) < 0 ||
            dcx_item_get_int(ai, TAG_AREA_BRHC, 0, &v[2]) < 0 ||
            dcx_item_get_int(ai, TAG_AREA_BRHC, 1, &v[3]) < 0)
            continue;
        if (read_refs(ai, &a->refs) < 0)
            goto nomem;
        for (int k = 0; k < 4; k++)
            a->a[k] = (int)v[k];
        ps->n_areas++;
    }
    int nv = dcx_item_seq_count(root, TAG_VOI_SEQ);
    if (nv > 0 && !(ps->vois = calloc((size_t)nv, sizeof *ps->vois)))
        goto nomem;
    for (int i = 0; i < nv; i++) {
        dcx_item *vi;
        struct voi *v = &ps->vois[ps->n_vois];
        if (dcx_item_seq_get(root, TAG_VOI_SEQ, (unsigned)i, &vi) < 0 ||
            dcx_item_get_float(vi, TAG_WINDOW_CENTER, 0, &v->center) < 0 ||
            dcx_item_get_float(vi, TAG_WINDOW_WIDTH, 0, &v->width) < 0)
            continue; /* a VOI LUT table: not applied here */
        if (read_refs(vi, &v->refs) < 0)
            goto nomem;
        ps->n_vois++;
    }
    int nm = dcx_item_seq_count(root, TAG_GRAPHIC_ANNOTATION);
    if (nm > 0 && !(ps->marks = calloc((size_t)nm, sizeof *ps->marks)))
        goto nomem;
    for (int i = 0; i < nm; i++) {
        dcx_item *gi;
        if (dcx_item_seq_get(root, TAG_GRAPHIC_ANNOTATION, (unsigned)i,
                             &gi) < 0)
            continue;
        if (read_mark(ps, gi, &ps->marks[ps->n_marks]) < 0) {
            ps->n_marks++; /* freed with the rest */
            goto nomem;
        }
        ps->n_marks++;
    }
    if (ps->n_marks && !(ps->view = calloc(ps->n_marks, sizeof *ps->view)))
        goto nomem;
    dcx_ds_close(ds);
    ps->info = (struct dcx_gsps_info){
        ps->sop, ps->series, ps->study, ps->label, ps->desc, ps->creator,
        ps->date, ps->time, (int)rot, strcmp(flip, "Y") == 0, n_img};
    *out = ps;
    return 0;
nomem:
    dcx_gsps_free(ps);
    dcx_ds_close(ds);
    dcx_err_set(e, "out of memory reading %s", path);
    return DCX_ENOMEM;
}

const struct dcx_gsps_info *dcx_gsps_get_info(const dcx_gsps *ps)
{
    return &ps->info;
}

const char *dcx_gsps_image_uid(const dcx_gsps *ps, size_t i)
{
    return i < ps->info.n_images ? ps->images[i] : NULL;
}

int dcx_gsps_refers(const dcx_gsps *ps, const char *uid)
{
    for (size_t i = 0; i < ps->info.n_images; i++)
        if (strcmp(ps->images[i], uid) == 0)
            return 1;
    return 0;
}

void dcx_gsps_marks_for(const dcx_gsps *ps, const char *sop_uid,
                        unsigned frame, const struct dcx_gsps_mark **out,
                        size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < ps->n_marks; i++)
        if (refs_match(ps, &ps->marks[i].refs, sop_uid, frame))
            ps->view[k++] = ps->marks[i].m;
    *out = ps->view;
    *n = k;
}

int dcx_gsps_window_for(const dcx_gsps *ps, const char *sop_uid,
                        unsigned frame, double *center, double *width)
{
    for (size_t i = 0; i < ps->n_vois; i++)
        if (refs_match(ps, &ps->vois[i].refs, sop_uid, frame)) {
            *center = ps->vois[i].center;
            *width = ps->vois[i].width;
            return 0;
        }
    return DCX_ENOTFOUND;
}

int dcx_gsps_area_for(const dcx_gsps *ps, const char *sop_uid,
                      unsigned frame, int area[4])
{
    for (size_t i = 0; i < ps->n_areas; i++)
        if (refs_match(ps, &ps->areas[i].refs, sop_uid, frame)) {
            memcpy(area, ps->areas[i].a, sizeof ps->areas[i].a);
            return 0;
        }
    return DCX_ENOTFOUND;
}
