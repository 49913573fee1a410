/* load.h - a DICOM file as the viewer sees it: frames decoded by the dcx
 * library, turned into rnd_frame structs, with the modality and VOI
 * values and the presets the file carries. */
#ifndef VW_LOAD_H
#define VW_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "dcx/dataset.h"
#include "rnd/rnd.h"

struct vw_file;

/* What the viewer takes from a series' first file besides its pixels
 * (those are the stack's, stack.h): LUTs, palette, presets, cine rate. */
struct vw_image {
    char path[1024];
    enum rnd_photometric photometric;
    struct rnd_lut modality_lut; /* count 0: use the slices' rescale */
    int n_windows;               /* from the file */
    double center[8], width[8];
    enum rnd_voi voi_function;
    struct rnd_lut voi_lut;      /* count 0: none */
    struct rnd_lut palette[3];
    double frame_time_ms;        /* 0 if the file gives none */
    struct vw_file *f;
};

/* Opens path (no pixels are decoded). 0, or -1 with err. */
int vw_image_open(struct vw_image *im, const char *path, char *err,
                  size_t errlen);

void vw_image_close(struct vw_image *im);

/* The renderer's photometric for a decoded photometric interpretation. */
enum rnd_photometric vw_photometric(const char *p);

/* One value of Patient Orientation (PS3.3 C.7.6.1.1.1: "L", "FP", ...)
 * as a unit direction in patient coordinates (L +x, P +y, H +z); -1 if it
 * is empty or holds another letter. */
int vw_orientation_letters(const char *s, double out[3]);

/* Sample i of a decoded frame laid out as f says (one sample, 8 or 16
 * bits, signed or not), as a number. */
double vw_sample(const struct rnd_frame *f, const void *px, size_t i);

/* The modality value of stored value v: through lut if it has entries
 * (clamped to its first and last, PS3.3 C.11.1.1), else the rescale. */
double vw_modality_value(const struct rnd_lut *lut, double slope,
                         double intercept, double v);

/* A data set attribute as UTF-8 text, values joined by '\\'; "" if
 * absent. */
void vw_item_text(dcx_item *it, uint32_t tag, char *out, size_t len);

/* An attribute of the file as UTF-8 text (values joined by '\\'); "" if
 * absent. */
void vw_image_text(const struct vw_image *im, uint32_t tag, char *out,
                   size_t len);

/* A numeric attribute's values; how many were read (at most max). */
int vw_image_numbers(const struct vw_image *im, uint32_t tag, double *out,
                     int max);

/* Ultrasound calibration of data set r (Sequence of Ultrasound Regions,
 * PS3.3 C.8.5.5) into out: the regions measured in cm along x and y, at
 * most VW_CAL_REGIONS, the largest as out's own. 0, or -1 if there is
 * none (out untouched). */
struct vw_cal;
int vw_us_regions(const dcx_item *r, struct vw_cal *out);

/* The window a radiologist expects first: the file's first, else the
 * frame's range (grey images). */
void vw_image_default_window(const struct vw_image *im, double *center,
                             double *width);

#endif
