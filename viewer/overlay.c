/* overlay.c - what a radiologist reads around the image (see overlay.h):
 * the four corners (patient, study, series/slice, window and zoom),
 * orientation letters from Image Orientation (Patient) through the
 * view's rotation and flips, and a scale bar from Pixel Spacing (marked
 * "detector" when only Imager Pixel Spacing is known). No PHI leaves the
 * screen: this is drawing only. */
#include "overlay.h"

#include "measure.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dcx/tags.h"

static const char *const font_paths[] = {
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",      /* fonts-wqy-zenhei */
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    NULL,
};

rnd_font *vw_overlay_font(int fb_h, char *err, size_t errlen)
{
    int px = fb_h >= 900 ? 16 : fb_h >= 500 ? 14 : 12;
    return rnd_font_open(font_paths, px, err, errlen);
}

/* "20240315" -> "2024-03-15" */
static void date(const char *d, char *out, size_t len)
{
    if (strlen(d) == 8)
        snprintf(out, len, "%.4s-%.2s-%.2s", d, d + 4, d + 6);
    else
        snprintf(out, len, "%s", d);
}

/* "Zhang^San=张^三": what the viewer shows of a Person Name: the
 * ideographic group when there is one, else the alphabetic, '^' as space */
void vw_person_name(const char *pn, char *out, size_t len)
{
    const char *groups[3] = {pn, NULL, NULL};
    const char *e = strchr(pn, '=');
    if (e) {
        groups[1] = e + 1;
        const char *e2 = strchr(e + 1, '=');
        if (e2)
            groups[2] = e2 + 1;
    }
    const char *g = groups[1] && *groups[1] && *groups[1] != '=' ? groups[1]
                                                                  : pn;
    /* Chinese names are written without a space between the parts */
    int ideo = g != pn;
    size_t n = 0;
    for (; *g && *g != '=' && n + 1 < len; g++)
        if (*g != '^' || !ideo)
            out[n++] = *g == '^' ? ' ' : *g;
    while (n && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    if (groups[1] && *groups[1] && *groups[1] != '=' && n + 4 < len) {
        /* alphabetic form after it, for colleagues who read pinyin */
        char alpha[128];
        size_t k = 0;
        for (const char *a = pn; *a && *a != '=' && k + 1 < sizeof alpha; a++)
            alpha[k++] = *a == '^' ? ' ' : *a;
        alpha[k] = '\0';
        if (k)
            snprintf(out + n, len - n, " (%s)", alpha);
    }
}

/* Patient-direction letters of a unit vector (PS3.3 C.7.6.1.1.1): the
 * largest components first, e.g. "LP". */
static void letters(const double v[3], char *out)
{
    const char *pos = "LPH", *neg = "RAF";
    int order[3] = {0, 1, 2};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (fabs(v[order[j]]) > fabs(v[order[i]])) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    int n = 0;
    for (int i = 0; i < 3; i++) {
        int a = order[i];
        if (fabs(v[a]) > 0.25)
            out[n++] = v[a] > 0 ? pos[a] : neg[a];
    }
    out[n] = '\0';
}

int vw_overlay_orientation(const struct vw_slice *s, const struct rnd_view *v,
                           const rnd_image *tex, int w, int h,
                           char right[4], char left[4], char up[4],
                           char down[4])
{
    if (!s->has_dir)
        return -1;
    const double *iop = s->dir;
    /* image steps of one screen pixel right and one down, through the
     * view's rotation and flips */
    double x0, y0, x1, y1, x2, y2;
    rnd_screen_to_image(tex, v, w, h, w / 2.0, h / 2.0, &x0, &y0);
    rnd_screen_to_image(tex, v, w, h, w / 2.0 + 1, h / 2.0, &x1, &y1);
    rnd_screen_to_image(tex, v, w, h, w / 2.0, h / 2.0 + 1, &x2, &y2);
    double r[3], d[3], nr = 0, nd = 0;
    for (int k = 0; k < 3; k++) {
        /* image x runs along the row direction (iop[0..2]), y along the
         * column direction (iop[3..5]) */
        r[k] = (x1 - x0) * iop[k] + (y1 - y0) * iop[3 + k];
        d[k] = (x2 - x0) * iop[k] + (y2 - y0) * iop[3 + k];
        nr += r[k] * r[k];
        nd += d[k] * d[k];
    }
    if (nr <= 0 || nd <= 0)
        return -1;
    double l[3], u[3];
    for (int k = 0; k < 3; k++) {
        r[k] /= sqrt(nr), d[k] /= sqrt(nd);
        l[k] = -r[k], u[k] = -d[k];
    }
    letters(r, right);
    letters(l, left);
    letters(d, down);
    letters(u, up);
    return 0;
}

const char *vw_cal_name(const struct vw_cal *c)
{
    static const char *const names[] = {
        [VW_CAL_NONE] = "none", [VW_CAL_PIXEL] = "pixel_spacing",
        [VW_CAL_DETECTOR] = "detector", [VW_CAL_US] = "us_region"};
    return names[c->kind];
}

static const float white[4] = {1, 1, 1, 1};
static const float yellow[4] = {1, 0.85f, 0.3f, 1};

void vw_overlay_wl(char *out, size_t len, const struct rnd_view *v,
                   const char *sep)
{
    /* decimals only for a narrow window that is not in whole numbers
     * (dose in Gy, SUV, a window typed with fractions); a CT window
     * dragged to 1718.3 still reads 1718 */
    int d = 0;
    if ((v->width != floor(v->width) || v->center != floor(v->center)) &&
        v->width > 0)
        d = (int)ceil(-log10(v->width)) + 2;
    d = d < 0 ? 0 : d > 6 ? 6 : d;
    snprintf(out, len, "W %.*f%sL %.*f", d, v->width, sep, d, v->center);
}

void vw_overlay_draw(rnd_ctx *c, rnd_font *f, const struct vw_image *im,
                     const struct vw_stack *st, int cur,
                     const struct rnd_view *v, const rnd_image *tex, int x,
                     int y, int w, int h, int fb_w, int fb_h)
{
    char a[128], b[128], line[512];
    int lh = rnd_font_line_height(f), m = 6;
    const struct vw_slice *s = &st->s[cur];

    /* top left: patient */
    const char *tl[4];
    char tl0[300], tl1[300], tl2[300];
    vw_image_text(im, DCX_TAG(0x0010, 0x0010), a, sizeof a);
    vw_person_name(a, tl0, sizeof tl0);
    vw_image_text(im, DCX_TAG(0x0010, 0x0020), a, sizeof a);
    snprintf(tl1, sizeof tl1, "ID %s", a);
    vw_image_text(im, DCX_TAG(0x0010, 0x0030), a, sizeof a);
    date(a, b, sizeof b);
    vw_image_text(im, DCX_TAG(0x0010, 0x0040), a, sizeof a);
    snprintf(tl2, sizeof tl2, "%s%s%s", b, *b && *a ? "  " : "", a);
    tl[0] = tl0, tl[1] = tl1, tl[2] = tl2, tl[3] = NULL;
    for (int i = 0; tl[i]; i++)
        rnd_text(c, f, tl[i], x + m, y + m + i * lh, fb_w, fb_h, white);

    /* top right: study */
    char tr0[300], tr1[300], tr2[300];
    vw_image_text(im, DCX_TAG(0x0008, 0x0080), tr0, sizeof tr0); /* institution */
    vw_image_text(im, DCX_TAG(0x0008, 0x1030), tr2, sizeof tr2); /* study */
    vw_image_text(im, DCX_TAG(0x0008, 0x0020), a, sizeof a);
    date(a, b, sizeof b);
    vw_image_text(im, DCX_TAG(0x0008, 0x0060), a, sizeof a); /* modality */
    snprintf(tr1, sizeof tr1, "%s  %s", a, b);
    const char *tr[3] = {tr2, tr1, tr0};
    for (int i = 0, row = 0; i < 3; i++) {
        if (!*tr[i])
            continue;
        int tw = rnd_text_width(f, tr[i]);
        rnd_text(c, f, tr[i], x + w - m - tw, y + m + row++ * lh, fb_w, fb_h,
                 white);
    }

    /* bottom left: series and slice */
    char bl0[300], bl1[100], bl2[100];
    vw_image_text(im, DCX_TAG(0x0020, 0x0011), a, sizeof a);
    vw_image_text(im, DCX_TAG(0x0008, 0x103E), b, sizeof b);
    snprintf(bl0, sizeof bl0, "Se %s  %s", a, b);
    snprintf(bl1, sizeof bl1, "Im %d/%d%s", cur + 1, st->n,
             s->instance ? "" : "");
    bl2[0] = '\0';
    if (!isnan(s->location))
        snprintf(bl2, sizeof bl2, "Loc %.1f mm", s->location);
    if (!isnan(s->thickness)) {
        size_t n = strlen(bl2);
        snprintf(bl2 + n, sizeof bl2 - n, "%sThk %.1f mm", n ? "  " : "",
                 s->thickness);
    }
    const char *bl[3] = {bl0, bl1, bl2};
    for (int i = 0; i < 3; i++)
        rnd_text(c, f, bl[i], x + m, y + h - m - (3 - i) * lh, fb_w, fb_h,
                 white);

    /* bottom right: display */
    char br0[100], br1[100], br2[100] = "";
    if (st->fmt.samples == 1 && st->fmt.photometric == RND_PALETTE)
        br0[0] = '\0';
    else if (st->fmt.samples == 1 && v->voi == RND_VOI_LUT)
        snprintf(br0, sizeof br0, "VOI LUT"); /* no window is in use */
    else if (st->fmt.samples == 1)
        vw_overlay_wl(br0, sizeof br0, v, "  ");
    else
        br0[0] = '\0';
    snprintf(br1, sizeof br1, "Zoom %.0f%%%s", v->zoom * 100,
             v->invert ? "  inverted" : "");
    int loaded = atomic_load(&((struct vw_stack *)st)->loaded);
    if (loaded < st->n)
        snprintf(br2, sizeof br2, "loading %d/%d", loaded, st->n);
    const char *br[3] = {br0, br1, br2};
    for (int i = 0; i < 3; i++) {
        if (!*br[i])
            continue;
        int tw = rnd_text_width(f, br[i]);
        rnd_text(c, f, br[i], x + w - m - tw, y + h - m - (3 - i) * lh, fb_w,
                 fb_h, i == 2 ? yellow : white);
    }

    char R[4], L[4], U[4], D[4];
    if (vw_overlay_orientation(s, v, tex, w, h, R, L, U, D) == 0) {
        rnd_text(c, f, R, x + w - m - rnd_text_width(f, R), y + h / 2 - lh / 2,
                 fb_w, fb_h, yellow);
        rnd_text(c, f, L, x + m, y + h / 2 - lh / 2, fb_w, fb_h, yellow);
        rnd_text(c, f, U, x + w / 2 - rnd_text_width(f, U) / 2, y + m + lh * 3,
                 fb_w, fb_h, yellow);
        rnd_text(c, f, D, x + w / 2 - rnd_text_width(f, D) / 2,
                 y + h - m - lh * 4, fb_w, fb_h, yellow);
    }

    /* scale bar: a round length no longer than a quarter of the width */
    const struct vw_cal *cal = &st->s[cur].cal;
    int detector = cal->kind == VW_CAL_DETECTOR, us = cal->kind == VW_CAL_US;
    if (cal->kind != VW_CAL_NONE && cal->mm_x > 0 && v->zoom > 0) {
        double px_per_mm = v->zoom / cal->mm_x;
        static const double steps[] = {1, 2, 5, 10, 20, 50, 100, 200, 500};
        double mm = 0;
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
            if (steps[i] * px_per_mm <= w / 4.0)
                mm = steps[i];
        if (mm > 0) {
            int len = (int)lround(mm * px_per_mm);
            int bx = x + w / 2 - len / 2, by = y + h - m - lh - 8;
            static const float shade[4] = {0, 0, 0, 0.8f};
            rnd_rect(c, f, bx - 1, by - 1, len + 2, 5, fb_w, fb_h, shade);
            rnd_rect(c, f, bx, by, len, 3, fb_w, fb_h, white);
            snprintf(line, sizeof line, "%.0f mm%s", mm,
                     detector ? " (detector)" : us ? " (US region)" : "");
            rnd_text(c, f, line, x + w / 2 - rnd_text_width(f, line) / 2,
                     by + 5, fb_w, fb_h, white);
        }
    }
}
