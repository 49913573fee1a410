/* test_measure.c - consort-view's measurement maths (viewer/measure.c) on
 * synthetic images with objects of known size: lengths, angles, Cobb
 * angles, and region statistics in modality units, each within 1 % of
 * the value computed from the object's geometry. */
#include "measure.h"
#include "t.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define W 400
#define H 300

static int near(double got, double want, double rel)
{
    if (!(fabs(got - want) <= rel * fabs(want) + 1e-9)) {
        fprintf(stderr, "  got %.6f, want %.6f (within %.2f %%)\n", got,
                want, rel * 100);
        return 0;
    }
    return 1;
}

static void test_lengths(void)
{
    struct vw_cal ps = {.kind = VW_CAL_PIXEL, .mm_x = 0.5, .mm_y = 0.5};
    CHECK(near(vw_length(&ps, 10, 20, 110, 20), 50.0, 1e-9));
    /* rectangular pixels: 0.5 mm across, 0.25 mm down */
    struct vw_cal rect = {.kind = VW_CAL_PIXEL, .mm_x = 0.5, .mm_y = 0.25};
    CHECK(near(vw_length(&rect, 0, 0, 0, 100), 25.0, 1e-9));
    CHECK(near(vw_length(&rect, 0, 0, 30, 40), hypot(15, 10), 1e-9));
    struct vw_cal none = {.kind = VW_CAL_NONE, .mm_x = 0, .mm_y = 0};
    CHECK(near(vw_length(&none, 0, 0, 30, 40), 50.0, 1e-9));
    CHECK_STR(vw_cal_note(&none), "uncalibrated");
    struct vw_cal det = {.kind = VW_CAL_DETECTOR, .mm_x = 0.143, .mm_y = 0.143};
    CHECK_STR(vw_cal_note(&det), "detector");
    CHECK_STR(vw_cal_note(&ps), "");
}

static void test_angles(void)
{
    struct vw_cal ps = {.kind = VW_CAL_PIXEL, .mm_x = 0.5, .mm_y = 0.5};
    CHECK(near(vw_angle_deg(&ps, 100, 50, 50, 50, 50, 0), 90.0, 1e-9));
    CHECK(near(vw_angle_deg(&ps, 100, 50, 50, 50, 0, 50), 180.0, 1e-9));
    CHECK(near(vw_angle_deg(&ps, 100, 50, 50, 50, 100, 0), 45.0, 1e-9));
    /* on 0.5 x 0.25 mm pixels the pixel diagonal is not 45 degrees */
    struct vw_cal rect = {.kind = VW_CAL_PIXEL, .mm_x = 0.5, .mm_y = 0.25};
    CHECK(near(vw_angle_deg(&rect, 10, 0, 0, 0, 10, 10),
               atan(0.25 / 0.5) * 180 / VW_PI, 1e-9));
    /* Cobb: endplates tilted +12 and -8 degrees -> 20; the order of the
     * points along each line does not matter */
    double a = 12 * VW_PI / 180, b = -8 * VW_PI / 180;
    CHECK(near(vw_cobb_deg(&ps, 100, 100, 100 + 80 * cos(a), 100 + 80 * sin(a),
                           100 + 80 * cos(b), 200 + 80 * sin(b), 100, 200),
               20.0, 1e-9));
    CHECK(near(vw_cobb_deg(&ps, 0, 0, 10, 0, 0, 5, 0, 50), 90.0, 1e-9));
}

/* A CT-like frame: stored values with rescale -1024; air -1000 HU around
 * a disc of 40 HU (radius 60 px, centre 200,150) and a square of 300 HU
 * (x 40..100, y 40..100). */
static int16_t *phantom(void)
{
    int16_t *p = malloc(sizeof *p * W * H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double dx = x + 0.5 - 200, dy = y + 0.5 - 150;
            int hu = -1000;
            if (dx * dx + dy * dy <= 60.0 * 60.0)
                hu = 40;
            if (x >= 40 && x < 100 && y >= 40 && y < 100)
                hu = 300;
            p[y * W + x] = (int16_t)(hu + 1024);
        }
    return p;
}

static void test_regions(void)
{
    int16_t *img = phantom();
    struct vw_px px = {img, W, H, 2, 1, 1.0, -1024.0, NULL, 0, 0, 0, 0};
    struct vw_cal ps = {.kind = VW_CAL_PIXEL, .mm_x = 0.7, .mm_y = 0.7};
    struct vw_roi_stats st;
    /* an ellipse (circle) of radius 40 inside the disc: 40 HU, SD 0 */
    CHECK(vw_roi_stats(&px, &ps, VW_ROI_ELLIPSE, 160, 110, 240, 190, &st) == 0);
    CHECK(near(st.mean, 40.0, 1e-9) && st.sd == 0 && st.min == 40 &&
          st.max == 40);
    CHECK(near(st.area, VW_PI * 40 * 40 * 0.49, 1e-9));
    /* the pixel count agrees with the drawn shape within 1 % */
    CHECK(near(st.n * 0.49, st.area, 0.01));
    /* the square exactly: 300 HU, 60 x 60 px = 1764 mm2 */
    CHECK(vw_roi_stats(&px, &ps, VW_ROI_RECT, 40, 40, 100, 100, &st) == 0);
    CHECK(st.n == 3600 && near(st.mean, 300, 1e-9) &&
          near(st.area, 60 * 60 * 0.49, 1e-9));
    /* half square, half air: known mean and SD */
    CHECK(vw_roi_stats(&px, &ps, VW_ROI_RECT, 70, 40, 130, 100, &st) == 0);
    CHECK(st.n == 3600 && near(st.mean, (300.0 - 1000.0) / 2, 1e-9));
    CHECK(near(st.sd, 650.0 * sqrt(3600.0 / 3599.0), 1e-9));
    CHECK(st.min == -1000 && st.max == 300);
    /* a circle around the whole disc: its area within 1 % of pi r2 */
    CHECK(vw_roi_stats(&px, &ps, VW_ROI_ELLIPSE, 130, 80, 270, 220, &st) == 0);
    long disc = 0;
    for (int i = 0; i < W * H; i++)
        disc += img[i] == 40 + 1024;
    CHECK(near(disc * 0.49, VW_PI * 60 * 60 * 0.49, 0.01));
    /* the mean over it: disc 40 HU, the ring of air around it -1000 */
    double want = (disc * 40.0 + (st.n - disc) * -1000.0) / st.n;
    CHECK(near(st.mean, want, 1e-9));
    /* outside the image, or empty */
    CHECK(vw_roi_stats(&px, &ps, VW_ROI_RECT, 500, 500, 600, 600, &st) == -1);
    /* dragged backwards: same result */
    CHECK(vw_roi_stats(&px, &ps, VW_ROI_RECT, 100, 100, 40, 40, &st) == 0 &&
          st.n == 3600);
    /* padding (Pixel Padding Value: outside a CT's field of view) is no
     * part of the image: a rectangle half on the square, half on padding
     * measures the square alone (its min was the padding's -3024 HU) */
    for (int y = 40; y < 100; y++)
        for (int x = 0; x < 40; x++)
            img[y * W + x] = -2000;
    px.has_pad = 1, px.pad = -2000;
    CHECK(vw_roi_stats(&px, &ps, VW_ROI_RECT, 10, 40, 70, 100, &st) == 0);
    CHECK(st.n == 1800 && near(st.mean, 300, 1e-9) && st.min == 300 &&
          near(st.area, 60 * 60 * 0.49, 1e-9));
    /* all padding: nothing to measure */
    CHECK(vw_roi_stats(&px, &ps, VW_ROI_RECT, 0, 40, 40, 100, &st) == -1);
    px.has_pad = 0;
    CHECK(vw_roi_stats(&px, &ps, VW_ROI_RECT, 10, 40, 70, 100, &st) == 0);
    CHECK(st.n == 3600 && st.min == -3024);
    /* 8-bit unsigned with a modality LUT */
    uint8_t small[4] = {0, 1, 2, 3};
    uint16_t lut[4] = {10, 20, 30, 40};
    struct vw_px p8 = {small, 2, 2, 1, 0, 1, 0, lut, 4, 0, 0, 0};
    struct vw_cal none = {.kind = VW_CAL_NONE, .mm_x = 0, .mm_y = 0};
    CHECK(vw_roi_stats(&p8, &none, VW_ROI_RECT, 0, 0, 2, 2, &st) == 0);
    CHECK(st.n == 4 && near(st.mean, 25, 1e-9) && near(st.area, 4, 1e-9));
    free(img);
}

/* An ultrasound image with two regions at different depths (dual
 * B-mode): a caliper measures by the region that holds it; one across
 * both, or outside them, has no mm. */
static void test_us_regions(void)
{
    struct vw_cal c = {.kind = VW_CAL_US, .mm_x = 0.2, .mm_y = 0.2,
                       .n_regions = 2,
                       .region = {{0, 0, 99, 199, 0.2, 0.2},
                                  {100, 0, 199, 199, 0.5, 0.5}}};
    float left[4] = {10, 10, 90, 10}, right[4] = {110, 10, 190, 10},
          across[4] = {10, 10, 190, 10}, below[4] = {10, 210, 90, 210},
          edge[4] = {0, 0, 100, 200}; /* the corners of the left region */
    struct vw_cal at = vw_cal_at(&c, left, 2);
    CHECK(at.kind == VW_CAL_US && near(vw_length(&at, 10, 10, 90, 10), 16,
                                       1e-9));
    at = vw_cal_at(&c, right, 2);
    CHECK(at.kind == VW_CAL_US && near(vw_length(&at, 110, 10, 190, 10), 40,
                                       1e-9));
    at = vw_cal_at(&c, across, 2);
    CHECK(at.kind == VW_CAL_NONE);
    at = vw_cal_at(&c, below, 2);
    CHECK(at.kind == VW_CAL_NONE);
    at = vw_cal_at(&c, edge, 2);
    CHECK(at.kind == VW_CAL_US && near(at.mm_x, 0.2, 1e-12));
    /* other images: their own calibration, whatever the points */
    struct vw_cal ps = {.kind = VW_CAL_PIXEL, .mm_x = 0.5, .mm_y = 0.5};
    at = vw_cal_at(&ps, below, 2);
    CHECK(at.kind == VW_CAL_PIXEL && near(at.mm_x, 0.5, 1e-12));
}

int main(void)
{
    test_us_regions();
    test_lengths();
    test_angles();
    test_regions();
    return T_DONE();
}
