/* gsps.h - Grayscale Softcopy Presentation State (PS3.3 A.33.1): a
 * radiologist's marks, window and displayed area on the images of a
 * study, as a DICOM object any workstation can apply. Written through
 * DCMTK's dcmpstat (the reference implementation dcmpsmk and dcmp2pgm
 * use). Coordinates are PIXEL annotation units: (0,0) is the top-left
 * corner of the first pixel, (1,1) its bottom-right corner. No SDL or GL;
 * any thread (one call at a time per output). */
#ifndef DCX_GSPS_H
#define DCX_GSPS_H

#include <stddef.h>

#include "dcx/dcx.h"

/* Grayscale Softcopy Presentation State Storage (PS3.4 B.5) */
#define DCX_GSPS_CLASS "1.2.840.10008.5.1.4.1.1.11.1"

#ifdef __cplusplus
extern "C" {
#endif

enum dcx_gsps_shape {
    DCX_GSPS_POINT,
    DCX_GSPS_POLYLINE,     /* also a closed polygon: last point = first */
    DCX_GSPS_INTERPOLATED,
    DCX_GSPS_CIRCLE,       /* centre, then a point on the circle */
    DCX_GSPS_ELLIPSE,      /* major axis end points, then minor axis */
};

struct dcx_gsps_graphic {
    enum dcx_gsps_shape shape;
    int filled;
    size_t n;        /* points */
    const float *xy; /* x0, y0, x1, y1, ... */
};

struct dcx_gsps_text {
    const char *text; /* UTF-8 (Chinese included) */
    int has_anchor, anchor_visible;
    float anchor[2];
    int has_box;
    float box[4];     /* top-left x, y, bottom-right x, y */
};

/* What is drawn on one referenced image, on one graphic layer. */
struct dcx_gsps_mark {
    size_t image;     /* index into dcx_gsps_desc.images (writing) */
    const char *layer; /* graphic layer (CS, <= 16): NULL = the
                          description's; consort-view names its layers
                          after its tools (LENGTH, ANGLE, ...) */
    const struct dcx_gsps_graphic *graphics;
    size_t n_graphics;
    const struct dcx_gsps_text *texts;
    size_t n_texts;
    unsigned frame;    /* of a multi-frame image, from 1; 0: every frame */
};

/* One image's own window and displayed area (dcx_gsps_desc.views). */
struct dcx_gsps_view {
    int has_window;
    double window_center, window_width;
    int has_area;
    int area[4];
};

struct dcx_gsps_desc {
    const char *const *images; /* the files of the images it applies to
                                  (one study; the first one's patient,
                                  study and modality LUT are used) */
    size_t n_images;
    const char *label;       /* Content Label: A-Z 0-9 _ space, <= 16 */
    const char *description; /* Content Description (may be NULL) */
    const char *creator;     /* Content Creator's Name, PN (may be NULL) */
    const char *layer;       /* default graphic layer; NULL: "MARKS" */
    int has_window;
    double window_center, window_width; /* for all referenced images */
    int has_area;
    int area[4];             /* displayed area: TLHC x, y, BRHC x, y, in
                                pixels counted from 1 (PS3.3 C.10.4) */
    const struct dcx_gsps_view *views; /* NULL, or n_images: an image
                                  whose view differs from the one above
                                  gets items of its own */
    int rotation;            /* 0, 90, 180 or 270, clockwise */
    int flip;                /* 1: horizontal flip after rotation */
    const struct dcx_gsps_mark *marks;
    size_t n_marks;
};

/* Writes the presentation state to path (Part 10, explicit VR little
 * endian, a new SOP Instance UID in a new series). out_sop_uid may be
 * NULL. 0, or DCX_EINVAL (bad description), DCX_EIO, DCX_EBADDATA (an
 * image DCMTK cannot reference), with out_err. */
int dcx_gsps_write(const struct dcx_gsps_desc *d, const char *path,
                   char out_sop_uid[65], struct dcx_error *out_err);

/* ---- reading: ours, DCMTK's dcmpsmk, any GSPS ---- */

typedef struct dcx_gsps dcx_gsps;

struct dcx_gsps_info {
    const char *sop_uid, *series_uid, *study_uid;
    const char *label, *description, *creator; /* UTF-8, "" if absent */
    const char *date, *time;                   /* Presentation Creation */
    int rotation, flip;
    size_t n_images;                           /* images referenced */
};

/* Reads a presentation state file. On success *out is new (free with
 * dcx_gsps_free); DCX_EBADDATA if it is not a GSPS, DCX_EIO, with
 * out_err. Graphics in DISPLAY units are converted to PIXEL units with
 * the displayed area when it is known, else dropped. */
int dcx_gsps_read(const char *path, dcx_gsps **out, struct dcx_error *out_err);
void dcx_gsps_free(dcx_gsps *ps); /* NULL is a no-op */

/* Borrowed until dcx_gsps_free. */
const struct dcx_gsps_info *dcx_gsps_get_info(const dcx_gsps *ps);

/* SOP Instance UID of referenced image i (< n_images). */
const char *dcx_gsps_image_uid(const dcx_gsps *ps, size_t i);

/* 1 if the state applies to the image at all (its Referenced Series
 * Sequence names it), else 0: an item that references no image in
 * particular applies to those images only (PS3.3 C.10.5, C.11.8,
 * C.10.4). */
int dcx_gsps_refers(const dcx_gsps *ps, const char *sop_uid);

/* The marks for one image (SOP Instance UID; frame counted from 1, 0 for
 * single-frame images): every graphic annotation item that references it
 * or references no image in particular (then: if the state references
 * the image at all). Borrowed; n marks in *out. */
void dcx_gsps_marks_for(const dcx_gsps *ps, const char *sop_uid,
                        unsigned frame, const struct dcx_gsps_mark **out,
                        size_t *n);

/* The window for one image (and frame, from 1; 0: the image as a whole)
 * of the state's: 0 with centre and width, or DCX_ENOTFOUND (none, or
 * the state does not reference the image). */
int dcx_gsps_window_for(const dcx_gsps *ps, const char *sop_uid,
                        unsigned frame, double *center, double *width);

/* The displayed area for one image (and frame, as above): TLHC x, y, BRHC
 * x, y in pixels from 1. 0, or DCX_ENOTFOUND. */
int dcx_gsps_area_for(const dcx_gsps *ps, const char *sop_uid,
                      unsigned frame, int area[4]);

#ifdef __cplusplus
}
#endif

#endif
