/* sr.h - the structured documents a reading produces, written through
 * DCMTK's dcmsr: Key Object Selection documents (key images; PS3.3
 * A.35.4, TID 2010), the radiologist's report as a Basic Text SR
 * (PS3.3 A.35.1, in the shape of TID 2000) and the viewer's measurements
 * as a TID 1500 Measurement Report (Comprehensive SR, PS3.3 A.35.3). C
 * API; any thread (one call at a time per output). */
#ifndef DCX_SR_H
#define DCX_SR_H

#include <stddef.h>

#include "dcx/dcx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Document Title (CID 7010 / IHE TCE) */
enum dcx_ko_title {
    DCX_KO_OF_INTEREST, /* (113000, DCM, "Of Interest") */
    DCX_KO_TEACHING,    /* (TCE001, IHERADTF, "For Teaching File
                           Export"): queues the study for the teaching
                           export */
};

struct dcx_ko_desc {
    enum dcx_ko_title title;
    const char *const *images; /* files of the key images, one study; the
                                  first one's patient and study are used */
    size_t n_images;
    const char *description;   /* Key Object Description, UTF-8; NULL */
};

/* Writes a Key Object Selection document referencing the images to path
 * (a new SOP Instance in a new series of their study). out_uid may be
 * NULL. 0, or DCX_EINVAL, DCX_EIO, DCX_EBADDATA with out_err. */
int dcx_ko_write(const struct dcx_ko_desc *d, const char *path,
                 char out_uid[65], struct dcx_error *out_err);

struct dcx_report_desc {
    const char *const *images; /* files of the study (the first gives the
                                  patient and study; all are evidence) */
    size_t n_images;
    const char *findings;      /* UTF-8, Chinese included */
    const char *impression;    /* UTF-8 */
    const char *author;        /* the reading radiologist (PN); NULL */
    int final;                 /* 1: Completion Flag COMPLETE and
                                  Verification Flag VERIFIED by author */
};

/* Writes the report as a Basic Text SR ("Diagnostic Imaging Report",
 * Findings and Impression sections) to path, a new instance in a new
 * series of the study. out_uid may be NULL. 0 or DCX_E* with out_err. */
int dcx_report_write(const struct dcx_report_desc *d, const char *path,
                     char out_uid[65], struct dcx_error *out_err);

/* ---- measurement report (TID 1500) ---- */

enum dcx_measure_kind {
    DCX_MEAS_LENGTH,      /* xy: 2 points, the segment */
    DCX_MEAS_ANGLE,       /* xy: 3 points: arm end, vertex, arm end */
    DCX_MEAS_COBB,        /* xy: 4 points, two lines (a1 a2 b1 b2) */
    DCX_MEAS_ELLIPSE_ROI, /* xy: 4 points: major axis ends, then minor
                             axis ends (as a GSPS/SR ELLIPSE) */
    DCX_MEAS_RECT_ROI,    /* xy: >= 3 polygon corners (not repeated: the
                             writer closes the outline) */
};

/* One measurement on one image (frame) of the report. The values are the
 * caller's (the viewer's own maths): the writer does not recompute. */
struct dcx_measure {
    enum dcx_measure_kind kind;
    size_t image;     /* index into dcx_measure_sr_desc.images */
    unsigned frame;   /* of a multi-frame image, from 1; 0: single-frame */
    size_t n;         /* points in xy */
    const float *xy;  /* x0, y0, ...: PIXEL coordinates as in gsps.h,
                         (0,0) the top-left corner of the first pixel
                         (also SR SCOORD's, PS3.3 C.18.6.1.1) */
    double value;     /* length (mm, or px if !calibrated), angle or Cobb
                         angle (deg), ROI area (mm2, or px if !calibrated) */
    int calibrated;   /* 0: no pixel spacing: length/area in pixels,
                         unit (UCUM "{pixels}") */
    int has_stats;    /* ROIs: the statistics below are known */
    double mean, sd, min, max; /* of the pixels inside, in unit */
    const char *unit; /* of the statistics: "HU", or "" / NULL (none,
                         UCUM "1") */
};

struct dcx_measure_sr_desc {
    const char *const *images; /* files of the measured images, one study
                                  (the first gives patient and study) */
    size_t n_images;
    const struct dcx_measure *m;
    size_t n;                  /* >= 1 */
    const char *observer;      /* Person Observer Name (PN); NULL */
};

/* Writes the measurements as a TID 1500 Imaging Measurement Report in a
 * Comprehensive SR to path (a new instance in a new series of the study):
 * an image library of the images, one Measurement Group per measurement
 * (ROIs as TID 1410: Image Region and Area, Mean, SD, Min, Max; lengths
 * and angles as TID 1501: the NUM inferred from the line SCOORDs), each
 * region SELECTED FROM its image (and frame). out_uid may be NULL. 0, or
 * DCX_EINVAL (bad description), DCX_EIO, DCX_EBADDATA with out_err. */
int dcx_measure_sr_write(const struct dcx_measure_sr_desc *d,
                         const char *path, char out_uid[65],
                         struct dcx_error *out_err);

#ifdef __cplusplus
}
#endif

#endif
