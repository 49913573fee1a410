/* overlay.h - the text and markers drawn over a viewport: corners,
 * orientation letters, scale bar. */
#ifndef VW_OVERLAY_H
#define VW_OVERLAY_H

#include <stddef.h>

#include "load.h"
#include "rnd/rnd.h"
#include "stack.h"

/* The overlay font for a framebuffer of height fb_h: a CJK font first
 * (Chinese names), DejaVu as the fallback. NULL and err if none. */
rnd_font *vw_overlay_font(int fb_h, char *err, size_t errlen);

/* Draws the overlays of slice cur shown with view v in the viewport
 * (x, y, w, h) of an fb_w x fb_h framebuffer. */
void vw_overlay_draw(rnd_ctx *c, rnd_font *f, const struct vw_image *im,
                     const struct vw_stack *st, int cur,
                     const struct rnd_view *v, const rnd_image *tex, int x,
                     int y, int w, int h, int fb_w, int fb_h);

/* Where a slice's mm come from, as the state reports it: "pixel_spacing",
 * "detector" (Imager Pixel Spacing only), "us_region" (ultrasound
 * calibration) or "none". */
const char *vw_cal_name(const struct vw_cal *c);

/* A Person Name as shown: the ideographic group first (no spaces, as
 * Chinese is written), the alphabetic one after it in brackets; '^' as
 * spaces in the alphabetic form. */
void vw_person_name(const char *pn, char *out, size_t len);

/* "W 400  L 40": whole numbers, or, for a narrow window with fractions
 * (dose in Gy, SUV), the decimals it needs. sep goes between. */
void vw_overlay_wl(char *out, size_t len, const struct rnd_view *v,
                   const char *sep);

/* Patient-direction letters (PS3.3 C.7.6.1.1.1) at the viewport's right,
 * left, top and bottom edges for view v of slice s: its own Image
 * Orientation (a localizer series holds three planes), or Patient
 * Orientation's letters (DX, CR); -1 when neither is known. */
int vw_overlay_orientation(const struct vw_slice *s, const struct rnd_view *v,
                           const rnd_image *tex, int w, int h,
                           char right[4], char left[4], char up[4],
                           char down[4]);

#endif
