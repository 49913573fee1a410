/* annot.h - consort-view's annotations: what a reader drew on which image
 * (SOP Instance UID and frame, in image coordinates, so marks stay on
 * their anatomy through zoom, pan, rotation and flips), with undo/redo,
 * hit testing, the measurement text each shows, and the mapping to and
 * from GSPS marks (one graphic layer per tool, so a reopened state gives
 * back the same tools). No GL, no SDL; one thread at a time. */
#ifndef VW_ANNOT_H
#define VW_ANNOT_H

#include <stddef.h>

#include "dcx/gsps.h"
#include "dcx/sr.h"
#include "measure.h"

enum vw_tool {
    VW_TOOL_LENGTH,  /* 2 points */
    VW_TOOL_ANGLE,   /* 3: arm end, vertex, arm end */
    VW_TOOL_COBB,    /* 4: two lines */
    VW_TOOL_ELLIPSE, /* 2: bounding box corners */
    VW_TOOL_RECT,    /* 2: corners */
    VW_TOOL_ARROW,   /* 2: tail, head */
    VW_TOOL_TEXT,    /* 1: anchor */
    VW_TOOL_COUNT
};

#define VW_ANNOT_TEXT 256

struct vw_annot {
    unsigned id;               /* unique in its list, never reused */
    enum vw_tool tool;
    char sop_uid[65];
    unsigned frame;            /* 0: single-frame */
    int n;                     /* points used */
    float pt[8];               /* x0, y0, x1, y1, ... image coordinates */
    char text[VW_ANNOT_TEXT];  /* the text tool's words (UTF-8) */
};

struct vw_annots;
typedef struct vw_annots vw_annots;

vw_annots *vw_annots_create(void);
void vw_annots_destroy(vw_annots *l); /* NULL is a no-op */

/* The tool's name as a graphic layer ("LENGTH", ...) and back (-1). */
const char *vw_tool_layer(enum vw_tool t);
int vw_tool_of_layer(const char *layer);
/* Points the tool needs. */
int vw_tool_points(enum vw_tool t);

/* Adds a copy of a (its id is assigned); returns the id, 0 if a is not
 * complete or memory ran out. Undoable. */
unsigned vw_annots_add(vw_annots *l, const struct vw_annot *a);
/* Replaces annotation id by a (moved, edited). 0 or -1. Undoable. */
int vw_annots_update(vw_annots *l, unsigned id, const struct vw_annot *a);
/* Removes it. 0 or -1. Undoable. */
int vw_annots_remove(vw_annots *l, unsigned id);
/* 1 if something was undone / redone, else 0. */
int vw_annots_undo(vw_annots *l);
int vw_annots_redo(vw_annots *l);

size_t vw_annots_count(const vw_annots *l);
/* Annotation i (< count), borrowed until the next change. */
const struct vw_annot *vw_annots_at(const vw_annots *l, size_t i);
const struct vw_annot *vw_annots_get(const vw_annots *l, unsigned id);

/* The annotation on (sop_uid, frame) nearest to (x, y) within tol image
 * pixels of its outline, points or text anchor; 0 if none. */
unsigned vw_annots_hit(const vw_annots *l, const char *sop_uid,
                       unsigned frame, float x, float y, float tol);

/* What the annotation shows: "42.5 mm", "37.2 mm (detector)", "63.4°",
 * "Cobb 21.0°", "mean 40.1 HU, SD 3.2, min 31, max 52, area 706 mm2",
 * the text tool's words, "" for an arrow. px may be NULL (no statistics);
 * unit: "HU" for CT, else "". */
void vw_annot_label(const struct vw_annot *a, const struct vw_cal *cal,
                    const struct vw_px *px, const char *unit, char *out,
                    size_t len);

/* The measurement a length, angle, Cobb, ellipse or rectangle shows, for
 * the measurement report: the same maths as vw_annot_label (statistics
 * when px is given). xy receives the points (out->xy points to it);
 * out->image is 0, out->frame a->frame: the caller sets both. 0, or -1
 * for an annotation that measures nothing (arrow, text). */
int vw_annot_measure(const struct vw_annot *a, const struct vw_cal *cal,
                     const struct vw_px *px, const char *unit, float xy[8],
                     struct dcx_measure *out);

/* ---- GSPS ---- */

/* The marks of every annotation on images[0..n_images) (those on other
 * images are left out), one mark per annotation, labels as text objects
 * anchored at the annotation. Fills *out (free with
 * vw_annots_free_marks). cals[i]/pxs[i]/units[i] describe the image and
 * frame annotation i (vw_annots_at) is on, for the labels (pxs, units
 * may be NULL or hold NULLs). 0 or -1 (out of memory). */
struct vw_gsps_marks {
    struct dcx_gsps_mark *marks;
    size_t n;
};
int vw_annots_to_marks(const vw_annots *l, const char *const *image_uids,
                       size_t n_images, const unsigned *n_frames,
                       const struct vw_cal *cals,
                       const struct vw_px *const *pxs,
                       const char *const *units, struct vw_gsps_marks *out);
void vw_annots_free_marks(struct vw_gsps_marks *m);

/* Adds the annotations a GSPS holds for one image (frame: the index the
 * viewer uses, from 0): marks on a tool's
 * layer become that tool again; other graphics (another program's) are
 * kept as lines, ellipses and texts. Returns how many were added. */
int vw_annots_from_marks(vw_annots *l, const char *sop_uid, unsigned frame,
                         const struct dcx_gsps_mark *marks, size_t n);

#endif
