/* measure.h - the measurement maths of consort-view's reading tools:
 * lengths, angles, Cobb angles and region statistics, in image
 * coordinates (pixel units, 0,0 the top-left corner of the first pixel,
 * pixel centres at i + 0.5). No GL, no SDL, no DICOM parsing: the viewer
 * fills a vw_cal from the image's attributes and a vw_px from a decoded
 * frame; tests/test_measure.c checks the results on synthetic objects of
 * known size. Any thread. */
#ifndef VW_MEASURE_H
#define VW_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#define VW_PI 3.14159265358979323846

/* Where millimetres come from (what a radiologist must be told). */
enum vw_cal_kind {
    VW_CAL_NONE,     /* no calibration: lengths in pixels */
    VW_CAL_PIXEL,    /* Pixel Spacing: in the patient */
    VW_CAL_DETECTOR, /* Imager Pixel Spacing only: at the detector, not
                        corrected for magnification */
    VW_CAL_US,       /* ultrasound region (Physical Delta X/Y) */
};

#define VW_CAL_REGIONS 4

struct vw_cal {
    enum vw_cal_kind kind;
    double mm_x, mm_y; /* mm per pixel along columns (x) and rows (y) */
    /* ultrasound: the regions calibrated in cm (PS3.3 C.8.5.5), each its
     * own depth (a dual B-mode image); kind and mm above are the largest
     * one's (the scale bar). A measurement takes the region that holds
     * all its points (vw_cal_at). */
    int n_regions;
    struct vw_cal_region {
        double x0, y0, x1, y1; /* first and last pixel columns and rows */
        double mm_x, mm_y;
    } region[VW_CAL_REGIONS];
};

/* The calibration of a measurement with points pts (x, y pairs, n of
 * them) under c: c itself, or for an ultrasound image the region that
 * holds every point, uncalibrated when none does (a caliper across two
 * regions, or outside them, has no length in mm). */
struct vw_cal vw_cal_at(const struct vw_cal *c, const float *pts, int n);

/* The note a measurement carries: "", "detector", "uncalibrated",
 * "US region". */
const char *vw_cal_note(const struct vw_cal *c);

/* Length of the segment a-b: mm when calibrated, else pixels. */
double vw_length(const struct vw_cal *c, double ax, double ay, double bx,
                 double by);

/* Angle at vertex v between v->a and v->b, 0..180 degrees, in physical
 * space (non-square pixels are scaled first). */
double vw_angle_deg(const struct vw_cal *c, double ax, double ay, double vx,
                    double vy, double bx, double by);

/* Cobb angle between line a1-a2 and line b1-b2: the angle between their
 * directions, 0..90 degrees. */
double vw_cobb_deg(const struct vw_cal *c, double a1x, double a1y,
                   double a2x, double a2y, double b1x, double b1y,
                   double b2x, double b2y);

/* A decoded grey frame and its modality transform. */
struct vw_px {
    const void *data;
    int width, height;
    int bytes;          /* 1, 2 or 4 per sample */
    int is_signed;
    double slope, intercept;     /* Modality Rescale */
    const uint16_t *lut;         /* Modality LUT (NULL: rescale) */
    int lut_n, lut_first;
    int has_pad;                 /* Pixel Padding Value given: */
    int64_t pad;                 /* stored values equal to it are no part
                                    of the image (PS3.3 C.7.5.1.1.2) */
};

/* The modality value of stored value v: through lut (n entries, the
 * first for stored value first; clamped to its ends, PS3.3 C.11.1.1)
 * when there is one, else the rescale. */
double vw_lut_or_rescale(const uint16_t *lut, int n, int first, double slope,
                         double intercept, double v);

enum vw_roi_shape { VW_ROI_RECT, VW_ROI_ELLIPSE };

struct vw_roi_stats {
    long n;                           /* pixels whose centre is inside */
    double mean, sd, min, max;        /* modality units (HU for CT) */
    double area;                      /* of the shape: mm2, or px2 */
};

/* Statistics of the pixels whose centres lie inside the rectangle from
 * (x0,y0) to (x1,y1), or the ellipse inscribed in it, padding (outside a
 * CT's field of view) left out. The area is the
 * shape's own (w*h or pi*a*b), scaled by the calibration. 0, or -1 when
 * no pixel centre is inside. */
int vw_roi_stats(const struct vw_px *px, const struct vw_cal *c,
                 enum vw_roi_shape shape, double x0, double y0, double x1,
                 double y1, struct vw_roi_stats *out);

#endif
