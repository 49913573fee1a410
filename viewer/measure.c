/* measure.c - lengths, angles and region statistics (measure.h). */
#include "measure.h"

#include <math.h>

struct vw_cal vw_cal_at(const struct vw_cal *c, const float *pts, int n)
{
    if (c->n_regions == 0)
        return *c;
    for (int r = 0; r < c->n_regions && r < VW_CAL_REGIONS; r++) {
        const struct vw_cal_region *g = &c->region[r];
        int in = 1;
        /* pixel i covers [i, i + 1) */
        for (int k = 0; in && k < n; k++)
            in = pts[2 * k] >= g->x0 && pts[2 * k] <= g->x1 + 1 &&
                 pts[2 * k + 1] >= g->y0 && pts[2 * k + 1] <= g->y1 + 1;
        if (in)
            return (struct vw_cal){
                .kind = VW_CAL_US, .mm_x = g->mm_x, .mm_y = g->mm_y};
    }
    return (struct vw_cal){.kind = VW_CAL_NONE};
}

const char *vw_cal_note(const struct vw_cal *c)
{
    switch (c->kind) {
    case VW_CAL_PIXEL:
        return "";
    case VW_CAL_DETECTOR:
        return "detector";
    case VW_CAL_US:
        return "US region";
    default:
        return "uncalibrated";
    }
}

/* mm per pixel, or 1 (pixels) without calibration */
static void scale(const struct vw_cal *c, double *sx, double *sy)
{
    int cal = c->kind != VW_CAL_NONE && c->mm_x > 0 && c->mm_y > 0;
    *sx = cal ? c->mm_x : 1;
    *sy = cal ? c->mm_y : 1;
}

double vw_length(const struct vw_cal *c, double ax, double ay, double bx,
                 double by)
{
    double sx, sy;
    scale(c, &sx, &sy);
    return hypot((bx - ax) * sx, (by - ay) * sy);
}

/* Angle between vectors u and w of image coordinates, 0..180 degrees,
 * after scaling to millimetres; atan2 of cross and dot is exact near 0
 * and 180 where acos is not. */
static double between(const struct vw_cal *c, double ux, double uy,
                      double wx, double wy)
{
    double sx, sy;
    scale(c, &sx, &sy);
    ux *= sx, uy *= sy, wx *= sx, wy *= sy;
    if ((ux == 0 && uy == 0) || (wx == 0 && wy == 0))
        return 0;
    return fabs(atan2(ux * wy - uy * wx, ux * wx + uy * wy)) * 180.0 / VW_PI;
}

double vw_angle_deg(const struct vw_cal *c, double ax, double ay, double vx,
                    double vy, double bx, double by)
{
    return between(c, ax - vx, ay - vy, bx - vx, by - vy);
}

double vw_cobb_deg(const struct vw_cal *c, double a1x, double a1y,
                   double a2x, double a2y, double b1x, double b1y,
                   double b2x, double b2y)
{
    double a = between(c, a2x - a1x, a2y - a1y, b2x - b1x, b2y - b1y);
    return a > 90 ? 180 - a : a; /* lines, not rays */
}

static int64_t stored_at(const struct vw_px *px, long i)
{
    int64_t v;
    if (px->bytes == 1)
        v = px->is_signed ? ((const int8_t *)px->data)[i]
                          : ((const uint8_t *)px->data)[i];
    else if (px->bytes == 2)
        v = px->is_signed ? ((const int16_t *)px->data)[i]
                          : ((const uint16_t *)px->data)[i];
    else
        v = px->is_signed ? (int64_t)((const int32_t *)px->data)[i]
                          : (int64_t)((const uint32_t *)px->data)[i];
    return v;
}

double vw_lut_or_rescale(const uint16_t *lut, int n, int first, double slope,
                         double intercept, double v)
{
    if (!lut || n <= 0)
        return v * slope + intercept;
    double k = v - first;
    k = k < 0 ? 0 : k > n - 1 ? n - 1 : k;
    return lut[(size_t)k];
}

int vw_roi_stats(const struct vw_px *px, const struct vw_cal *c,
                 enum vw_roi_shape shape, double x0, double y0, double x1,
                 double y1, struct vw_roi_stats *out)
{
    double l = fmin(x0, x1), r = fmax(x0, x1);
    double t = fmin(y0, y1), b = fmax(y0, y1);
    double cx = (l + r) / 2, cy = (t + b) / 2;
    double ra = (r - l) / 2, rb = (b - t) / 2;
    int i0 = (int)fmax(0, floor(l)), i1 = (int)fmin(px->width - 1, ceil(r));
    int j0 = (int)fmax(0, floor(t)), j1 = (int)fmin(px->height - 1, ceil(b));
    long n = 0;
    /* Welford: one pass, stable for large regions */
    double mean = 0, m2 = 0, lo = INFINITY, hi = -INFINITY;
    for (int j = j0; j <= j1; j++) {
        double py = j + 0.5;
        if (py < t || py > b)
            continue;
        for (int i = i0; i <= i1; i++) {
            double pxc = i + 0.5;
            if (pxc < l || pxc > r)
                continue;
            if (shape == VW_ROI_ELLIPSE) {
                if (ra <= 0 || rb <= 0)
                    continue;
                double dx = (pxc - cx) / ra, dy = (py - cy) / rb;
                if (dx * dx + dy * dy > 1)
                    continue;
            }
            int64_t sv = stored_at(px, (long)j * px->width + i);
            if (px->has_pad && sv == px->pad)
                continue; /* no part of the image */
            double v = vw_lut_or_rescale(px->lut, px->lut_n, px->lut_first,
                                         px->slope, px->intercept,
                                         (double)sv);
            n++;
            double d = v - mean;
            mean += d / (double)n;
            m2 += d * (v - mean);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    if (n == 0)
        return -1;
    double sx, sy;
    scale(c, &sx, &sy);
    out->n = n;
    out->mean = mean;
    out->sd = n > 1 ? sqrt(m2 / (double)(n - 1)) : 0;
    out->min = lo;
    out->max = hi;
    out->area = (shape == VW_ROI_ELLIPSE ? VW_PI * ra * rb : (r - l) * (b - t)) *
                sx * sy;
    return 0;
}
