/* load.c - what the viewer reads from a DICOM file besides its pixels, and
 * the small mappings from the dcx library's values onto the renderer's
 * (see load.h). */
#include "load.h"
#include "measure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcx/dataset.h"
#include "dcx/dcx.h"
#include "dcx/pixel.h"
#include "dcx/tags.h"

struct vw_file {
    dcx_ds *ds;
    struct dcx_palette pal;
    uint16_t *mlut, *vlut; /* copies: the dataset's are borrowed */
};

enum rnd_photometric vw_photometric(const char *p)
{
    if (strcmp(p, "MONOCHROME1") == 0)
        return RND_MONO1;
    if (strcmp(p, "RGB") == 0)
        return RND_RGB;
    if (strncmp(p, "YBR_FULL", 8) == 0)
        return RND_YBR_FULL;
    if (strcmp(p, "PALETTE COLOR") == 0)
        return RND_PALETTE;
    return RND_MONO2;
}

static uint16_t *copy_lut(const uint16_t *d, uint32_t n)
{
    uint16_t *c = malloc((size_t)n * sizeof *c);
    if (c)
        memcpy(c, d, (size_t)n * sizeof *c);
    return c;
}

int vw_orientation_letters(const char *s, double out[3])
{
    out[0] = out[1] = out[2] = 0;
    for (; *s; s++) {
        const char *axes = "LPH", *opp = "RAF", *a = strchr(axes, *s),
                   *o = strchr(opp, *s);
        if (*s == ' ')
            continue;
        if (!a && !o)
            return -1;
        if (a)
            out[a - axes] += 1;
        else
            out[o - opp] -= 1;
    }
    double n = sqrt(out[0] * out[0] + out[1] * out[1] + out[2] * out[2]);
    if (n <= 0)
        return -1;
    for (int k = 0; k < 3; k++)
        out[k] /= n;
    return 0;
}

double vw_modality_value(const struct rnd_lut *lut, double slope,
                         double intercept, double v)
{
    return lut ? vw_lut_or_rescale(lut->data, (int)lut->count, lut->first,
                                   slope, intercept, v)
               : v * slope + intercept;
}

double vw_sample(const struct rnd_frame *f, const void *px, size_t i)
{
    if (f->bits == 32)
        return f->is_signed ? (double)((const int32_t *)px)[i]
                            : (double)((const uint32_t *)px)[i];
    if (f->bits == 16)
        return f->is_signed ? ((const int16_t *)px)[i]
                            : ((const uint16_t *)px)[i];
    return f->is_signed ? ((const int8_t *)px)[i] : ((const uint8_t *)px)[i];
}

int vw_image_open(struct vw_image *im, const char *path, char *err,
                  size_t errlen)
{
    memset(im, 0, sizeof *im);
    snprintf(im->path, sizeof im->path, "%s", path);
    struct vw_file *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    im->f = f;
    struct dcx_error e;
    if (dcx_ds_open(path, NULL, &f->ds, &e) < 0) {
        snprintf(err, errlen, "%s: %s", path, e.msg);
        goto fail;
    }
    struct dcx_pixel_info in;
    if (dcx_pixel_info_get(f->ds, NULL, &in) < 0) {
        snprintf(err, errlen, "%s: %s", path, dcx_ds_errmsg(f->ds));
        goto fail;
    }
    im->photometric = vw_photometric(in.photometric);
    if (im->photometric == RND_PALETTE) {
        if (dcx_pixel_palette(f->ds, &f->pal) < 0) {
            snprintf(err, errlen, "%s: %s", path, dcx_ds_errmsg(f->ds));
            goto fail;
        }
        const uint16_t *d[3] = {f->pal.red, f->pal.green, f->pal.blue};
        for (int c = 0; c < 3; c++)
            im->palette[c] = (struct rnd_lut){f->pal.first, f->pal.count,
                                              f->pal.bits, d[c]};
    }
    struct dcx_modality_lut m;
    if (dcx_pixel_modality_lut(f->ds, &m) == 0) {
        if (m.lut_count && m.lut_data) {
            f->mlut = copy_lut(m.lut_data, m.lut_count);
            if (f->mlut)
                im->modality_lut = (struct rnd_lut){m.lut_first, m.lut_count,
                                                    m.lut_bits, f->mlut};
        }
    }
    struct dcx_voi v;
    if (dcx_pixel_voi(f->ds, &v) == 0) {
        im->n_windows = (int)(v.n_windows < 8 ? v.n_windows : 8);
        for (int i = 0; i < im->n_windows; i++) {
            im->center[i] = v.center[i];
            im->width[i] = v.width[i];
        }
        im->voi_function = strcmp(v.function, "LINEAR_EXACT") == 0
                               ? RND_VOI_LINEAR_EXACT
                           : strcmp(v.function, "SIGMOID") == 0
                               ? RND_VOI_SIGMOID
                               : RND_VOI_LINEAR;
        if (v.n_luts && v.lut_data && v.lut_count) {
            f->vlut = copy_lut(v.lut_data, v.lut_count);
            if (f->vlut)
                im->voi_lut = (struct rnd_lut){v.lut_first, v.lut_count,
                                               v.lut_bits, f->vlut};
        }
    }
    double ft = 0;
    if (dcx_item_get_float(dcx_ds_root(f->ds), DCX_TAG(0x0018, 0x1063), 0,
                           &ft) == 0 && ft > 0)
        im->frame_time_ms = ft;
    return 0;
fail:
    vw_image_close(im);
    return -1;
}

void vw_image_close(struct vw_image *im)
{
    struct vw_file *f = im->f;
    if (f) {
        dcx_ds_close(f->ds);
        dcx_free(f->pal.red);
        dcx_free(f->pal.green);
        dcx_free(f->pal.blue);
        free(f->mlut);
        free(f->vlut);
        free(f);
    }
    memset(im, 0, sizeof *im);
}

void vw_item_text(dcx_item *r, uint32_t tag, char *out, size_t len)
{
    out[0] = '\0';
    int n = dcx_item_vm(r, tag);
    size_t used = 0;
    for (int i = 0; i < n && used + 2 < len; i++) {
        if (i)
            out[used++] = '\\';
        if (dcx_item_get_str(r, tag, i, out + used, len - used) < 0)
            break;
        used += strlen(out + used);
    }
    out[used] = '\0';
}

void vw_image_text(const struct vw_image *im, uint32_t tag, char *out,
                   size_t len)
{
    out[0] = '\0';
    if (im->f)
        vw_item_text(dcx_ds_root(im->f->ds), tag, out, len);
}

int vw_image_numbers(const struct vw_image *im, uint32_t tag, double *out,
                     int max)
{
    if (!im->f)
        return 0;
    /* an enhanced object's spacing, orientation, rescale and window are
     * in its functional groups: the first frame's */
    dcx_item *r = dcx_ds_root(im->f->ds), *it = dcx_frame_item(r, 0, tag);
    if (!it)
        it = r;
    int n = 0;
    while (n < max && dcx_item_get_float(it, tag, (unsigned)n, &out[n]) == 0)
        n++;
    return n;
}

int vw_us_regions(const dcx_item *r, struct vw_cal *out)
{
    struct vw_cal c = {.kind = VW_CAL_US};
    double best = -1;
    int n = dcx_item_seq_count(r, DCX_TAG(0x0018, 0x6011));
    for (int i = 0; i < n && c.n_regions < VW_CAL_REGIONS; i++) {
        dcx_item *it;
        int64_t ux = 0, uy = 0, b[4];
        double dx = 0, dy = 0;
        if (dcx_item_seq_get(r, DCX_TAG(0x0018, 0x6011), (unsigned)i, &it) <
            0)
            continue;
        /* Physical Units X/Y Direction 3 = cm; Physical Delta X/Y. An
         * M-mode or Doppler region (seconds, cm/s along x) is no
         * distance. */
        if (dcx_item_get_int(it, DCX_TAG(0x0018, 0x6024), 0, &ux) != 0 ||
            ux != 3 ||
            dcx_item_get_float(it, DCX_TAG(0x0018, 0x602C), 0, &dx) != 0 ||
            !(dx > 0))
            continue;
        /* and along y: a length there in another unit is no distance */
        if (dcx_item_get_int(it, DCX_TAG(0x0018, 0x6026), 0, &uy) != 0 ||
            uy != 3 ||
            dcx_item_get_float(it, DCX_TAG(0x0018, 0x602E), 0, &dy) != 0 ||
            !(dy > 0))
            continue;
        /* Region Location Min X0, Min Y0, Max X1, Max Y1; without them
         * the whole image */
        static const uint16_t loc[4] = {0x6018, 0x601A, 0x601C, 0x601E};
        int have = 1;
        for (int k = 0; k < 4; k++)
            have &= dcx_item_get_int(it, DCX_TAG(0x0018, loc[k]), 0, &b[k]) ==
                    0;
        if (!have || b[2] < b[0] || b[3] < b[1])
            b[0] = b[1] = 0, b[2] = b[3] = INT32_MAX;
        struct vw_cal_region *g = &c.region[c.n_regions++];
        *g = (struct vw_cal_region){(double)b[0], (double)b[1], (double)b[2],
                                    (double)b[3], dx * 10.0, dy * 10.0};
        double area = ((double)b[2] - b[0] + 1) * ((double)b[3] - b[1] + 1);
        if (area > best) {
            best = area;
            c.mm_x = g->mm_x, c.mm_y = g->mm_y;
        }
    }
    if (c.n_regions == 0)
        return -1;
    *out = c;
    return 0;
}
