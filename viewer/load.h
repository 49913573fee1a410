/* load.h - a DICOM file as the viewer sees it: frames decoded by the dcx
 * library, turned into rnd_frame structs, with the modality and VOI
 * values and the presets the file carries. */
#ifndef VW_LOAD_H
#define VW_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "rnd/rnd.h"

struct vw_file;

struct vw_image {
    char path[1024];
    uint32_t frames;
    struct rnd_frame frame;      /* of the frame decoded last */
    void *pixels;                /* its buffer */
    uint32_t decoded;            /* which frame that is */
    double slope, intercept;
    struct rnd_lut modality_lut; /* count 0: use the rescale */
    int n_windows;               /* from the file */
    double center[8], width[8];
    enum rnd_voi voi_function;
    struct rnd_lut voi_lut;      /* count 0: none */
    struct rnd_lut palette[3];
    double min, max;             /* modality values of the frame (grey) */
    double frame_time_ms;        /* 0 if the file gives none */
    struct vw_file *f;
};

/* Opens path and decodes frame 0. 0, or -1 with err. */
int vw_image_open(struct vw_image *im, const char *path, char *err,
                  size_t errlen);

/* Decodes another frame into im->frame. 0 or -1 with err. */
int vw_image_frame(struct vw_image *im, uint32_t frame, char *err,
                   size_t errlen);

void vw_image_close(struct vw_image *im);

/* An attribute of the file as UTF-8 text (values joined by '\\'); "" if
 * absent. */
void vw_image_text(const struct vw_image *im, uint32_t tag, char *out,
                   size_t len);

/* A numeric attribute's values; how many were read (at most max). */
int vw_image_numbers(const struct vw_image *im, uint32_t tag, double *out,
                     int max);

/* Ultrasound calibration (Sequence of Ultrasound Regions, PS3.3
 * C.8.5.5): mm per pixel in x of the first region measured in cm. 0 and
 * *mm, or -1 if there is none. */
int vw_image_us_mm_per_pixel(const struct vw_image *im, double *mm);

/* The window a radiologist expects first: the file's first, else the
 * frame's range (grey images). */
void vw_image_default_window(const struct vw_image *im, double *center,
                             double *width);

#endif
