/* viewport.h - one series on screen: its slices (stack.h), the first
 * file's presets and LUTs (load.h), the slice shown, its texture and view.
 * The application lays out up to four of these. */
#ifndef VW_VIEWPORT_H
#define VW_VIEWPORT_H

#include <stddef.h>

#include "load.h"
#include "rnd/rnd.h"
#include "stack.h"

/* What the command line asks of every viewport's first view. */
struct vw_view_opts {
    int has_window;
    double center, width;
    double zoom; /* 0: fit */
    double pan_x, pan_y;
    int rotate, flip_h, flip_v, invert, linear;
};

/* Cine rates shown, frames per second. */
#define VW_FPS_MIN 1.0
#define VW_FPS_MAX 120.0

/* What an applied presentation state says of one slice's image: whether
 * it applies at all (the state references the image), its window, its
 * displayed area (TLHC x, y, BRHC x, y from 1). */
struct vw_state_view {
    int in_state;
    int has_window;
    double center, width;
    int has_area;
    int area[4];
};

struct vw_vp {
    struct vw_stack st;
    struct vw_image im; /* the first file: LUTs, palette, presets */
    int cur;            /* slice on screen */
    rnd_image *tex;
    int tex_slice;      /* the slice in tex; -1 none */
    void *px;           /* a packed slice's samples, unpacked */
    size_t px_cap;
    int px_slice;       /* the slice in px; -1 none */
    struct vw_state_view *sv; /* per slice, from the state applied (a
                                 window or area per image); NULL none */
    int sv_slice;       /* the slice whose entry was applied last */
    int sv_rotate, sv_flip; /* the state's quarter turns and flip */
    struct rnd_view view;
    int fit;            /* zoom follows the viewport size */
    int area_on;        /* a state's displayed area is shown: fitted again
                           when the viewport changes size or turns, until
                           the reader zooms or pans */
    int area[4];
    double fps;         /* cine rate: the file's, or 10; + and - change it
                           within VW_FPS_MIN..VW_FPS_MAX */
    int pending;        /* cur is not decoded yet: tex shows an older one */
    int failed;         /* cur cannot be decoded: no image, why says why */
    char why[512];
    int open;
};

/* Opens series number `series` of a scan (slice `first` shown first);
 * threads and pack as vw_stack_open's. */
int vw_vp_open(struct vw_vp *vp, const vw_scan *sc, int series, int first,
               int threads, int pack, char *err, size_t errlen);
void vw_vp_close(struct vw_vp *vp);

const struct vw_slice *vw_vp_slice(const struct vw_vp *vp);

/* Puts the current slice into the texture, waiting for its decoder if it
 * is not ready yet. 0, or -1 with err (vp->failed set, vp->why the same:
 * the texture still holds an older slice, which must not be drawn as
 * this one). */
int vw_vp_show(struct vw_vp *vp, rnd_ctx *rc, char *err, size_t errlen);

/* The slice whose pixels the texture holds, which overlays and marks
 * describe: cur, or while cur is pending the one still shown; -1 when
 * no image is to be drawn (none yet, or cur failed). */
int vw_vp_shown(const struct vw_vp *vp);

/* The decoded samples of the slice shown (vw_vp_shown), for statistics;
 * NULL if none. Valid until the slice shown changes. */
const void *vw_vp_pixels(const struct vw_vp *vp);

/* Slice s's decoded samples `data` (grey) with the series' modality
 * transform, for measurements. */
struct vw_px vw_vp_px(const struct vw_vp *vp, const struct vw_slice *s,
                      const void *data);

/* The unit of the series' modality values: "HU" for CT, else "". */
const char *vw_vp_unit(const struct vw_vp *vp);

/* The first view: what o asks, else the file's window (else the slice's
 * range), fitted into w x h. Needs the texture (vw_vp_show). */
void vw_vp_reset(struct vw_vp *vp, const struct vw_view_opts *o, int w,
                 int h);

/* Shows the current slice if it is decoded; else marks it pending and
 * keeps the texture (scrolling never waits for a decoder). 1 when shown,
 * 0 pending, -1 failed. */
int vw_vp_try_show(struct vw_vp *vp, rnd_ctx *rc);

/* The modality value of stored value v of slice s: the series' Modality
 * LUT (first file's) if it has one, else the slice's rescale. */
double vw_vp_modality(const struct vw_vp *vp, const struct vw_slice *s,
                      double v);

/* The range of modality values of decoded slice s (through the LUT: the
 * entries its stored values reach). */
void vw_vp_range(const struct vw_vp *vp, const struct vw_slice *s,
                 double *lo, double *hi);

/* Moves by step slices (clamped); 1 if the slice changed. */
int vw_vp_step(struct vw_vp *vp, rnd_ctx *rc, int step);

/* Synchronised scrolling: goes to the slice nearest the plane of slice o
 * (another series') moved by shift (mm, patient coordinates; NULL none),
 * measured along vp's normal. Only between parallel planes (within about
 * 8 degrees) with Image Position/Orientation: an orthogonal series, or
 * one without geometry, stays. 1 if it moved. */
int vw_vp_sync_to(struct vw_vp *vp, rnd_ctx *rc, const struct vw_slice *o,
                  const double shift[3]);

/* Reference line: where the plane of slice `other` cuts vp's current
 * slice, in vp's viewport coordinates (w x h). 0 and the two end points,
 * -1 if the planes are parallel, do not meet inside the image, lack
 * geometry or are in different Frames of Reference. */
int vw_vp_reference_line(const struct vw_vp *vp, const struct vw_slice *other,
                         int w, int h, double out[4]);

/* A window from the histogram of the slice on screen (vw_vp_shown): 1st
 * to 99th percentile, padding (a tenth of the pixels or more at the
 * minimum) left out. 0, or -1 (c and w untouched) when no slice is
 * drawn. */
int vw_vp_auto_window(const struct vw_vp *vp, double *c, double *w);

#endif
