/* stack.c - series of slices and their background decoding (see stack.h).
 * Headers are read first without pixels (quick), to group and sort; then
 * decoder threads, each with its own dcx_ds (a dataset is used by one
 * thread at a time), pick the undecoded slice nearest the cursor. */
#define _GNU_SOURCE
#include "stack.h"

#include "load.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcx/dataset.h"
#include "dcx/dcx.h"
#include "dcx/pixel.h"
#include "dcx/tags.h"

/* What may differ from frame to frame of an enhanced multi-frame object
 * (its functional groups); a classic image's own. */
struct geo {
    double pos[3], dir[6], spacing[2];
    int has_pos, has_dir, has_spacing;
    double slope, intercept, center, width, thickness;
};

struct hdr {
    struct geo g;   /* the file's (an enhanced object's first frame's); its
                       rescale the modality LUT's: RT Dose's scaling too */
    struct geo *fr; /* per frame, when the file has Per-frame Functional
                       Groups for all; NULL: g for all */
    char path[1024];
    char series[65], sop[65], for_uid[65];
    int series_number, instance;
    uint32_t frames;
    double po[6]; /* Patient Orientation as directions (has_po) */
    int has_po;
    double location;
    struct vw_cal cal; /* a frame without Pixel Spacing takes this: the
                          detector's or the ultrasound region's */
    double par;        /* Pixel Aspect Ratio, vertical / horizontal; 0 */
    int has_pad;
    int64_t pad;       /* Pixel Padding Value (as written: US or SS) */
};

/* Files that cannot be read although they should be (a Part-10 preamble,
 * a path the DICOMDIR or the command line names, a folder or file the
 * user may not read): counted and the first named, so that a slice
 * missing from a series is said, not silently skipped. */
struct unreadable {
    int n;
    char path[1024], why[256]; /* the first */
};

static void unreadable(struct unreadable *bad, const char *p, const char *why)
{
    if (bad->n++ == 0) {
        snprintf(bad->path, sizeof bad->path, "%s", p);
        snprintf(bad->why, sizeof bad->why, "%s", why);
    }
}

/* value k of tag for frame f: the root's, or the frame's functional
 * group's, or the shared one's */
static int frame_float(const dcx_item *r, unsigned f, uint32_t tag,
                       unsigned k, double *out)
{
    dcx_item *it = dcx_frame_item(r, f, tag);
    return it ? dcx_item_get_float(it, tag, k, out) : -1;
}

static void read_geo(const dcx_item *r, unsigned f, struct geo *g)
{
    memset(g, 0, sizeof *g);
    g->has_pos = g->has_dir = g->has_spacing = 1;
    for (unsigned k = 0; k < 3; k++)
        g->has_pos &= frame_float(r, f, DCX_TAG_IMAGE_POSITION_PATIENT, k,
                                  &g->pos[k]) == 0;
    for (unsigned k = 0; k < 6; k++)
        g->has_dir &= frame_float(r, f, DCX_TAG_IMAGE_ORIENTATION_PATIENT, k,
                                  &g->dir[k]) == 0;
    for (unsigned k = 0; k < 2; k++)
        g->has_spacing &= frame_float(r, f, DCX_TAG_PIXEL_SPACING, k,
                                      &g->spacing[k]) == 0;
    g->slope = 1;
    if (frame_float(r, f, DCX_TAG_RESCALE_SLOPE, 0, &g->slope) != 0 ||
        g->slope == 0)
        g->slope = 1;
    frame_float(r, f, DCX_TAG_RESCALE_INTERCEPT, 0, &g->intercept);
    if (frame_float(r, f, DCX_TAG_WINDOW_CENTER, 0, &g->center) != 0 ||
        frame_float(r, f, DCX_TAG_WINDOW_WIDTH, 0, &g->width) != 0)
        g->width = 0;
    g->thickness = NAN;
    frame_float(r, f, DCX_TAG_SLICE_THICKNESS, 0, &g->thickness);
}

static int add_path(struct hdr **h, int *n, size_t *cap, const char *p,
                    struct unreadable *bad)
{
    struct stat sb;
    if (stat(p, &sb) != 0) {
        unreadable(bad, p, strerror(errno));
        return 0;
    }
    if (S_ISDIR(sb.st_mode)) {
        struct dirent **list;
        int k = scandir(p, &list, NULL, alphasort);
        if (k < 0)
            unreadable(bad, p, strerror(errno));
        for (int i = 0; i < k; i++) {
            if (list[i]->d_name[0] != '.') {
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", p, list[i]->d_name);
                add_path(h, n, cap, sub, bad);
            }
            free(list[i]);
        }
        free(k >= 0 ? list : NULL);
        return 0;
    }
    struct hdr *nh = dcx_grow(*h, (size_t)*n, cap, sizeof *nh, 64);
    if (!nh)
        return -1;
    *h = nh;
    struct hdr *x = &(*h)[*n];
    memset(x, 0, sizeof *x);
    snprintf(x->path, sizeof x->path, "%s", p);
    struct dcx_open_opts o = {.no_pixels = 1};
    dcx_ds *ds;
    struct dcx_error e;
    int rc = dcx_ds_open(p, &o, &ds, &e);
    if (rc < 0) {
        if (rc == DCX_EIO || dcx_file_is_part10(p))
            unreadable(bad, p, e.msg);
        return 0; /* else not DICOM: skipped */
    }
    dcx_item *r = dcx_ds_root(ds);
    int64_t v;
    if (!dcx_item_has(r, DCX_TAG(0x0028, 0x0010))) { /* Rows: an image */
        dcx_ds_close(ds);
        return 0;
    }
    dcx_item_get_str(r, DCX_TAG_SERIES_INSTANCE_UID, 0, x->series,
                     sizeof x->series);
    dcx_item_get_str(r, DCX_TAG(0x0008, 0x0018), 0, x->sop, sizeof x->sop);
    dcx_item_get_str(r, DCX_TAG(0x0020, 0x0052), 0, x->for_uid,
                     sizeof x->for_uid);
    x->series_number = dcx_item_get_int(r, DCX_TAG(0x0020, 0x0011), 0, &v) == 0
                           ? (int)v : 0;
    x->instance = dcx_item_get_int(r, DCX_TAG_INSTANCE_NUMBER, 0, &v) == 0
                      ? (int)v : 0;
    x->frames = dcx_item_get_int(r, DCX_TAG(0x0028, 0x0008), 0, &v) == 0 &&
                        v > 0
                    ? (uint32_t)v
                    : 1;
    read_geo(r, 0, &x->g);
    /* projection images (DX, CR, MG) say which way rows and columns run
     * by letters instead: "L\\F" */
    char po[2][16];
    x->has_po = !x->g.has_dir &&
                dcx_item_get_str(r, DCX_TAG_PATIENT_ORIENTATION, 0, po[0],
                                 sizeof po[0]) > 0 &&
                dcx_item_get_str(r, DCX_TAG_PATIENT_ORIENTATION, 1, po[1],
                                 sizeof po[1]) > 0 &&
                vw_orientation_letters(po[0], x->po) == 0 &&
                vw_orientation_letters(po[1], x->po + 3) == 0;
    double ps[2];
    if (frame_float(r, 0, DCX_TAG_IMAGER_PIXEL_SPACING, 1, &ps[1]) == 0 &&
        ps[1] > 0) {
        if (frame_float(r, 0, DCX_TAG_IMAGER_PIXEL_SPACING, 0, &ps[0]) != 0 ||
            ps[0] <= 0)
            ps[0] = ps[1];
        x->cal = (struct vw_cal){
            .kind = VW_CAL_DETECTOR, .mm_x = ps[1], .mm_y = ps[0]};
    } else {
        vw_us_regions(r, &x->cal);
    }
    double par[2];
    if (dcx_item_get_float(r, DCX_TAG(0x0028, 0x0034), 0, &par[0]) == 0 &&
        dcx_item_get_float(r, DCX_TAG(0x0028, 0x0034), 1, &par[1]) == 0 &&
        par[0] > 0 && par[1] > 0)
        x->par = par[0] / par[1];
    struct dcx_modality_lut m; /* rescale, or RT Dose's scaling */
    dcx_pixel_modality_lut(ds, &m);
    x->g.slope = m.slope;
    x->g.intercept = m.intercept;
    x->location = NAN;
    dcx_item_get_float(r, DCX_TAG_SLICE_LOCATION, 0, &x->location);
    x->has_pad =
        dcx_item_get_int(r, DCX_TAG(0x0028, 0x0120), 0, &x->pad) == 0;
    /* an enhanced CT/MR: each frame its own plane, rescale and window */
    if (x->frames > 1 &&
        dcx_item_seq_count(r, DCX_TAG(0x5200, 0x9230)) >= (int)x->frames &&
        (x->fr = calloc(x->frames, sizeof *x->fr)) != NULL) {
        for (uint32_t f = 0; f < x->frames; f++) {
            read_geo(r, f, &x->fr[f]);
            if (!dcx_frame_item(r, f, DCX_TAG_RESCALE_SLOPE))
                x->fr[f].slope = m.slope, x->fr[f].intercept = m.intercept;
        }
    }
    dcx_ds_close(ds);
    (*n)++;
    return 0;
}

/* Where a slice's millimetres come from: its own Pixel Spacing (an
 * enhanced object's frame's), else the file's detector or ultrasound
 * region. Per slice: the views of a DR series, the depths of an
 * ultrasound series, each have their own. Its pixels' shape likewise. */
static void slice_cal(struct vw_slice *s, const struct geo *g,
                      const struct hdr *h)
{
    /* (row spacing = y) \ (column spacing = x) */
    if (g->has_spacing && g->spacing[1] > 0)
        s->cal = (struct vw_cal){
            .kind = VW_CAL_PIXEL, .mm_x = g->spacing[1],
            .mm_y = g->spacing[0] > 0 ? g->spacing[0] : g->spacing[1]};
    else
        s->cal = h->cal;
    s->aspect = s->cal.kind != VW_CAL_NONE ? s->cal.mm_y / s->cal.mm_x
                : h->par > 0               ? h->par
                                           : 1;
    if (!(s->aspect >= 0.1 && s->aspect <= 10))
        s->aspect = 1; /* nonsense: square */
}

void vw_plane_normal(const double d[6], double n[3])
{
    n[0] = d[1] * d[5] - d[2] * d[4];
    n[1] = d[2] * d[3] - d[0] * d[5];
    n[2] = d[0] * d[4] - d[1] * d[3];
}

/* distance of a plane along its normal */
static double plane_key(const double pos[3], const double d[6])
{
    double n[3];
    vw_plane_normal(d, n);
    return pos[0] * n[0] + pos[1] * n[1] + pos[2] * n[2];
}

/* the plane's position in mm along its unit normal: the Slice Location
 * of a slice whose file has none (an enhanced object's frames never do) */
static double plane_mm(const double pos[3], const double d[6])
{
    double n[3];
    vw_plane_normal(d, n);
    double len = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    return len > 0 ? plane_key(pos, d) / len : NAN;
}

static double slice_key(const struct hdr *h)
{
    return h->g.has_pos && h->g.has_dir ? plane_key(h->g.pos, h->g.dir)
                                        : h->instance;
}

static int cmp_slice(const void *a, const void *b)
{
    const struct vw_slice *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->instance != y->instance)
        return x->instance < y->instance ? -1 : 1;
    /* the frames of one file together, in their order: two cine loops of
     * an ultrasound series must not be shown interleaved */
    int p = strcmp(x->path, y->path);
    if (p)
        return p;
    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

static void range(struct vw_stack *st, struct vw_slice *s, const void *px)
{
    const struct rnd_frame *f = &st->fmt;
    if (f->samples != 1 || f->photometric == RND_PALETTE) {
        s->min = s->smin = 0;
        s->max = s->smax = 255;
        return;
    }
    size_t n = (size_t)s->w * s->h;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = vw_sample(f, px, i);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    s->smin = lo;
    s->smax = hi;
    double a = lo * s->slope + s->intercept, b = hi * s->slope + s->intercept;
    s->min = a < b ? a : b;
    s->max = a < b ? b : a;
}

/* The undecoded slice nearest the cursor, marked decoding; -1 if none. */
static int next_slice(struct vw_stack *st)
{
    int c = atomic_load(&st->cursor), best = -1;
    pthread_mutex_lock(&st->mu);
    for (int d = 0; d < st->n && best < 0; d++) {
        int cand[2] = {c + d, c - d};
        for (int k = 0; k < (d ? 2 : 1); k++) {
            int i = cand[k];
            if (i >= 0 && i < st->n && atomic_load(&st->s[i].state) == 0) {
                best = i;
                break;
            }
        }
    }
    if (best >= 0)
        atomic_store(&st->s[best].state, 1);
    pthread_mutex_unlock(&st->mu);
    return best;
}

static void finish(struct vw_stack *st, struct vw_slice *s, int state)
{
    pthread_mutex_lock(&st->mu);
    atomic_store(&s->state, state);
    atomic_fetch_add(&st->loaded, 1);
    pthread_cond_broadcast(&st->ready);
    pthread_mutex_unlock(&st->mu);
}

int vw_stack_find(const struct vw_stack *st, const char *sop_uid,
                  unsigned frame)
{
    for (int i = 0; i < st->n; i++)
        if (st->s[i].frame == frame && strcmp(st->s[i].sop_uid, sop_uid) == 0)
            return i;
    return -1;
}

/* bytes of a pixel: its samples together */
static size_t pixel_bytes(const struct vw_stack *st)
{
    return (size_t)st->fmt.samples * (st->fmt.bits / 8);
}

size_t vw_slice_bytes(const struct vw_stack *st, const struct vw_slice *s)
{
    return (size_t)s->w * s->h * pixel_bytes(st);
}

const void *vw_stack_pixels(const struct vw_stack *st,
                            const struct vw_slice *s, void *buf)
{
    if (atomic_load(&s->state) != 2 || !s->pixels)
        return NULL;
    if (!s->packed)
        return s->pixels;
    if (vw_unpack(st->unpacker, s->pixels, s->packed, buf,
                  vw_slice_bytes(st, s), pixel_bytes(st)) < 0)
        return NULL;
    return buf;
}

/* Slices up to this size are packed: a series of them is many (a CT's,
 * an ultrasound loop's). A larger one (a DR or mammography view, 8 to 40
 * MB) is one of a few, which packing saves little of (each decoder holds
 * one as decoded while packing it) and which would take 5 to 30 ms to
 * unpack on every change of view: measured, four 4096x4096 views scrolled
 * at 18 frames/s packed, 28 as decoded. */
#define PACK_MAX_BYTES ((size_t)4 << 20)

/* Keeps what a decoder decoded into *raw in slice s: packed if that saves
 * memory (raw is kept for the next slice), else raw itself (taken). */
static void keep(struct vw_stack *st, vw_packer *pk, struct vw_slice *s,
                 void **raw, size_t n)
{
    size_t len = 0;
    void *packed = pk && n <= PACK_MAX_BYTES
                       ? vw_pack(pk, *raw, n, pixel_bytes(st), &len)
                       : NULL;
    if (packed) {
        s->pixels = packed;
        s->packed = len;
    } else {
        s->pixels = *raw;
        *raw = NULL;
    }
}

static void *decoder(void *arg)
{
    struct vw_stack *st = arg;
    dcx_ds *ds = NULL;
    char open_path[1024] = "";
    /* one buffer decoded into while slices are packed; a packer of its
     * own (none: slices kept as decoded) */
    void *raw = NULL;
    size_t raw_cap = 0;
    vw_packer *pk = st->pack ? vw_packer_create() : NULL;
    /* the slice the series opens at (the first image, which the drawing
     * thread waits for) at the process's priority; the rest below it
     * (Linux: a thread's own nice value, raised by 5; an unprivileged
     * thread cannot lower it again), so that scrolling and W/L come
     * before the rest of the series on a busy machine */
    id_t tid = (id_t)gettid();
    int niced = 0;
    int i;
    while (!atomic_load(&st->stop) && (i = next_slice(st)) >= 0) {
        if (!niced && i != st->first) {
            errno = 0;
            int base = getpriority(PRIO_PROCESS, tid);
            if (errno == 0)
                setpriority(PRIO_PROCESS, tid, base + 5);
            niced = 1;
        }
        struct vw_slice *s = &st->s[i];
        if (strcmp(open_path, s->path) != 0) { /* frames share a file */
            dcx_ds_close(ds);
            ds = NULL;
            struct dcx_error e;
            if (dcx_ds_open(s->path, NULL, &ds, &e) < 0) {
                snprintf(s->err, sizeof s->err, "%s", e.msg);
                open_path[0] = '\0';
                finish(st, s, -1);
                continue;
            }
            snprintf(open_path, sizeof open_path, "%s", s->path);
        }
        /* the size may differ from slice to slice (the views of a DR
         * study); what the texture and shader are made for may not */
        struct dcx_pixel_info in;
        int info = dcx_pixel_info_get(ds, NULL, &in);
        if (info < 0 || in.samples_per_pixel != (uint16_t)st->fmt.samples ||
            in.bits_allocated != st->fmt.bits ||
            (in.pixel_representation == 1) != st->fmt.is_signed ||
            vw_photometric(in.photometric) != st->fmt.photometric) {
            snprintf(s->err, sizeof s->err, "%s",
                     info < 0 ? dcx_ds_errmsg(ds)
                              : "its samples differ from the series' (bits, "
                                "sign or colour)");
            finish(st, s, -1);
            continue;
        }
        s->w = in.columns;
        s->h = in.rows;
        if (!raw || raw_cap < in.frame_bytes) {
            free(raw);
            raw_cap = in.frame_bytes;
            raw = malloc(raw_cap);
        }
        if (!raw ||
            dcx_pixel_decode(ds, s->frame, NULL, raw, in.frame_bytes) < 0) {
            snprintf(s->err, sizeof s->err, "%s",
                     raw ? dcx_ds_errmsg(ds) : "out of memory");
            finish(st, s, -1);
            continue;
        }
        range(st, s, raw);
        /* the slice the series opens at goes on screen at once: packing
         * and unpacking it would only make the first image wait */
        keep(st, i == st->first ? NULL : pk, s, &raw, in.frame_bytes);
        /* overlay planes travel with their image */
        size_t px = (size_t)s->w * s->h;
        uint8_t *ov = malloc(px);
        if (ov && dcx_pixel_overlays(ds, s->w, s->h, ov) > 0)
            s->overlay = ov;
        else
            free(ov);
        finish(st, s, 2);
    }
    dcx_ds_close(ds);
    free(raw);
    vw_packer_destroy(pk);
    return NULL;
}

struct vw_scan {
    struct hdr *h;
    int n;
    int n_series;
    struct unreadable bad;
};

vw_scan *vw_scan_paths(char **paths, int n_paths, char *err, size_t errlen)
{
    vw_scan *sc = calloc(1, sizeof *sc);
    size_t cap = 0;
    for (int i = 0; sc && i < n_paths; i++) {
        if (add_path(&sc->h, &sc->n, &cap, paths[i], &sc->bad) < 0) {
            vw_scan_free(sc);
            sc = NULL;
        }
    }
    if (!sc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (sc->n == 0 && sc->bad.n) {
        snprintf(err, errlen, "cannot read %s: %s%s", sc->bad.path,
                 sc->bad.why, sc->bad.n > 1 ? " (and other files)" : "");
        vw_scan_free(sc);
        return NULL;
    }
    if (sc->n == 0) {
        snprintf(err, errlen, "no DICOM image in %s%s", paths[0],
                 n_paths > 1 ? " ..." : "");
        vw_scan_free(sc);
        return NULL;
    }
    for (int i = 0; i < sc->n; i++) {
        int known = 0;
        for (int k = 0; k < i && !known; k++)
            known = strcmp(sc->h[k].series, sc->h[i].series) == 0;
        sc->n_series += !known;
    }
    return sc;
}

int vw_scan_series(const vw_scan *sc)
{
    return sc->n_series;
}

const char *vw_scan_series_uid(const vw_scan *sc, int series)
{
    int k = -1;
    for (int i = 0; i < sc->n; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = strcmp(sc->h[j].series, sc->h[i].series) != 0;
        if (first && ++k == series)
            return sc->h[i].series;
    }
    return NULL;
}

int vw_scan_unreadable(const vw_scan *sc, const char **path,
                       const char **why)
{
    *path = sc->bad.path;
    *why = sc->bad.why;
    return sc->bad.n;
}

void vw_scan_free(vw_scan *sc)
{
    if (sc) {
        for (int i = 0; i < sc->n; i++)
            free(sc->h[i].fr);
        free(sc->h);
    }
    free(sc);
}

int vw_stack_open(struct vw_stack *st, const vw_scan *sc, int series,
                  int first, int n_threads, int pack, char *err,
                  size_t errlen)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->ready, NULL);
    const struct hdr *h = sc->h;
    int n = sc->n;
    st->n_series = sc->n_series;
    const char *uid = vw_scan_series_uid(sc, series);
    if (!uid) {
        snprintf(err, errlen, "there are %d series, not %d", sc->n_series,
                 series + 1);
        goto fail;
    }
    snprintf(st->series_uid, sizeof st->series_uid, "%s", uid);
    int total = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(h[i].series, st->series_uid) == 0)
            total += (int)h[i].frames;
    st->s = calloc((size_t)total, sizeof *st->s);
    if (!st->s) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(h[i].series, st->series_uid) != 0)
            continue;
        for (uint32_t f = 0; f < h[i].frames; f++) {
            struct vw_slice *s = &st->s[st->n++];
            snprintf(s->path, sizeof s->path, "%s", h[i].path);
            memcpy(s->sop_uid, h[i].sop, sizeof s->sop_uid);
            memcpy(s->for_uid, h[i].for_uid, sizeof s->for_uid);
            s->frame = f;
            /* a plane of its own: a single-frame image's, or an enhanced
             * object's frame's; the frames of a cine are in file order */
            const struct geo *g = h[i].fr ? &h[i].fr[f] : &h[i].g;
            s->has_geom = (h[i].frames == 1 || h[i].fr) && g->has_pos &&
                          g->has_dir && g->has_spacing;
            /* without a plane of its own a frame sorts with its file
             * (by Instance Number), and within it by frame number */
            s->key = s->has_geom           ? plane_key(g->pos, g->dir)
                     : h[i].frames > 1     ? h[i].instance
                                           : slice_key(&h[i]);
            memcpy(s->pos, g->pos, sizeof s->pos);
            memcpy(s->dir, g->has_dir ? g->dir : h[i].po, sizeof s->dir);
            s->has_dir = g->has_dir || h[i].has_po;
            memcpy(s->spacing, g->spacing, sizeof s->spacing);
            s->instance = h[i].instance;
            s->slope = g->slope;
            s->intercept = g->intercept;
            s->center = g->center;
            s->width = g->width;
            /* a frame of an enhanced object has its own plane: a Slice
             * Location at the top of the file (left by a converter) would
             * be one value for all of them */
            s->location = h[i].fr ? NAN : h[i].location;
            if (isnan(s->location) && s->has_geom)
                s->location = plane_mm(g->pos, g->dir);
            s->thickness = g->thickness;
            s->has_pad = h[i].has_pad;
            s->pad = h[i].pad;
            slice_cal(s, g, &h[i]);
        }
    }
    qsort(st->s, (size_t)st->n, sizeof *st->s, cmp_slice);
    /* along the normal, but in the direction the scanner numbered them: a
     * head-first CT opens at its first image, the top, and "Im 1" is
     * Instance 1 as in the report and at the PACS */
    if (st->n > 1 && st->s[0].has_geom && st->s[st->n - 1].has_geom &&
        st->s[0].instance > st->s[st->n - 1].instance) {
        for (int i = 0, j = st->n - 1; i < j; i++, j--) {
            struct vw_slice t = st->s[i];
            st->s[i] = st->s[j];
            st->s[j] = t;
        }
    }
    /* the layout of the series: its first slice's that can be read (a
     * damaged slice is shown as such when scrolled to) */
    dcx_ds *ds = NULL;
    struct dcx_error e, e0;
    struct dcx_pixel_info in;
    int k = 0;
    for (; k < st->n; k++)
        if (dcx_ds_open(st->s[k].path, NULL, &ds, k ? &e : &e0) == 0)
            break;
    if (!ds) {
        snprintf(err, errlen, "%s: %s", st->s[0].path, e0.msg);
        goto fail;
    }
    if (dcx_pixel_info_get(ds, NULL, &in) < 0) {
        snprintf(err, errlen, "%s: %s", st->s[k].path, dcx_ds_errmsg(ds));
        dcx_ds_close(ds);
        goto fail;
    }
    dcx_ds_close(ds);
    st->frame_bytes = in.frame_bytes;
    st->fmt.width = in.columns;
    st->fmt.height = in.rows;
    st->fmt.samples = in.samples_per_pixel;
    st->fmt.bits = in.bits_allocated;
    st->fmt.is_signed = in.pixel_representation == 1;
    st->fmt.photometric = vw_photometric(in.photometric);
    /* packing needs a packer to read slices back with */
    st->unpacker = pack ? vw_packer_create() : NULL;
    st->pack = st->unpacker != NULL;
    st->first = first < 0 ? 0 : first >= st->n ? st->n - 1 : first;
    atomic_store(&st->cursor, st->first);
    /* a padding value written as US for signed samples (it should be SS):
     * the same bits as the decoded, sign-extended samples */
    for (int i = 0; st->fmt.is_signed && st->fmt.bits < 32 && i < st->n; i++)
        if (st->s[i].pad >= (int64_t)1 << (st->fmt.bits - 1))
            st->s[i].pad -= (int64_t)1 << st->fmt.bits;
    if (n_threads <= 0)
        n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > 16)
        n_threads = 16;
    if (n_threads > st->n)
        n_threads = st->n;
    for (int i = 0; i < n_threads; i++)
        if (pthread_create(&st->th[st->n_threads], NULL, decoder, st) == 0)
            st->n_threads++;
    if (st->n_threads == 0) {
        snprintf(err, errlen, "cannot start a decoder thread");
        goto fail;
    }
    return 0;
fail:
    vw_stack_close(st);
    return -1;
}

void vw_stack_memory(const struct vw_stack *st, size_t *out_kept,
                     size_t *out_decoded)
{
    size_t kept = 0, decoded = 0;
    for (int i = 0; i < st->n; i++) {
        const struct vw_slice *s = &st->s[i];
        if (atomic_load(&s->state) != 2)
            continue;
        decoded += vw_slice_bytes(st, s);
        kept += s->packed ? s->packed : vw_slice_bytes(st, s);
    }
    *out_kept = kept;
    *out_decoded = decoded;
}

int vw_stack_wait(struct vw_stack *st, int i)
{
    atomic_store(&st->cursor, i);
    pthread_mutex_lock(&st->mu);
    while (atomic_load(&st->s[i].state) < 2 &&
           atomic_load(&st->s[i].state) != -1)
        pthread_cond_wait(&st->ready, &st->mu);
    pthread_mutex_unlock(&st->mu);
    return atomic_load(&st->s[i].state) == 2 ? 0 : -1;
}

void vw_stack_wait_all(struct vw_stack *st)
{
    pthread_mutex_lock(&st->mu);
    while (atomic_load(&st->loaded) < st->n)
        pthread_cond_wait(&st->ready, &st->mu);
    pthread_mutex_unlock(&st->mu);
}

void vw_stack_close(struct vw_stack *st)
{
    atomic_store(&st->stop, 1);
    for (int i = 0; i < st->n_threads; i++)
        pthread_join(st->th[i], NULL);
    for (int i = 0; i < st->n; i++) {
        free(st->s[i].pixels);
        free(st->s[i].overlay);
    }
    free(st->s);
    vw_packer_destroy(st->unpacker);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->ready);
    memset(st, 0, sizeof *st);
}
