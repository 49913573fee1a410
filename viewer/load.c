/* load.c - DICOM files into rnd_frame structs (see load.h). The decoding
 * is the dcx library's; this file only maps its layout and values onto
 * what the renderer takes. */
#include "load.h"

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
    struct dcx_pixel_info info;
    struct dcx_palette pal;
    uint16_t *mlut, *vlut; /* copies: the dataset's are borrowed */
};

static enum rnd_photometric photometric_of(const char *p)
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

static void range(struct vw_image *im)
{
    const struct rnd_frame *f = &im->frame;
    if (f->samples != 1 || f->photometric == RND_PALETTE) {
        im->min = 0;
        im->max = 255;
        return;
    }
    size_t n = (size_t)f->width * f->height;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v;
        if (f->bits == 16)
            v = f->is_signed ? ((const int16_t *)f->data)[i]
                             : ((const uint16_t *)f->data)[i];
        else
            v = f->is_signed ? ((const int8_t *)f->data)[i]
                             : ((const uint8_t *)f->data)[i];
        if (v < lo)
            lo = v;
        if (v > hi)
            hi = v;
    }
    if (im->modality_lut.count) {
        const struct rnd_lut *l = &im->modality_lut;
        double a = 1e300, b = -1e300;
        for (double s = lo; s <= hi && s - lo < 70000; s++) {
            long i = (long)s - l->first;
            i = i < 0 ? 0 : i >= (long)l->count ? (long)l->count - 1 : i;
            if (l->data[i] < a)
                a = l->data[i];
            if (l->data[i] > b)
                b = l->data[i];
        }
        im->min = a;
        im->max = b;
    } else {
        im->min = lo * im->slope + im->intercept;
        im->max = hi * im->slope + im->intercept;
        if (im->min > im->max) {
            double t = im->min;
            im->min = im->max;
            im->max = t;
        }
    }
}

int vw_image_frame(struct vw_image *im, uint32_t frame, char *err,
                   size_t errlen)
{
    struct vw_file *f = im->f;
    if (frame >= f->info.frames) {
        snprintf(err, errlen, "%s has %u frame(s), not %u", im->path,
                 f->info.frames, frame + 1);
        return -1;
    }
    if (dcx_pixel_decode(f->ds, frame, NULL, im->pixels,
                         f->info.frame_bytes) < 0) {
        snprintf(err, errlen, "%s frame %u: %s", im->path, frame,
                 dcx_ds_errmsg(f->ds));
        return -1;
    }
    im->decoded = frame;
    range(im);
    return 0;
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
    if (dcx_pixel_info_get(f->ds, NULL, &f->info) < 0) {
        snprintf(err, errlen, "%s: %s", path, dcx_ds_errmsg(f->ds));
        goto fail;
    }
    const struct dcx_pixel_info *in = &f->info;
    if (in->bits_allocated != 8 && in->bits_allocated != 16) {
        snprintf(err, errlen, "%s: %u-bit samples are not displayed", path,
                 in->bits_allocated);
        goto fail;
    }
    im->pixels = malloc(in->frame_bytes);
    if (!im->pixels) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    im->frames = in->frames;
    struct rnd_frame *fr = &im->frame;
    fr->width = in->columns;
    fr->height = in->rows;
    fr->samples = in->samples_per_pixel;
    fr->bits = in->bits_allocated;
    fr->is_signed = in->pixel_representation == 1;
    fr->photometric = photometric_of(in->photometric);
    fr->data = im->pixels;
    if (fr->photometric == RND_PALETTE) {
        if (dcx_pixel_palette(f->ds, &f->pal) < 0) {
            snprintf(err, errlen, "%s: %s", path, dcx_ds_errmsg(f->ds));
            goto fail;
        }
        const uint16_t *d[3] = {f->pal.red, f->pal.green, f->pal.blue};
        for (int c = 0; c < 3; c++)
            im->palette[c] = (struct rnd_lut){f->pal.first, f->pal.count,
                                              f->pal.bits, d[c]};
        fr->palette = im->palette;
    }
    struct dcx_modality_lut m;
    im->slope = 1;
    if (dcx_pixel_modality_lut(f->ds, &m) == 0) {
        im->slope = m.slope;
        im->intercept = m.intercept;
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
    if (vw_image_frame(im, 0, err, errlen) < 0)
        goto fail;
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
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

void vw_image_default_window(const struct vw_image *im, double *center,
                             double *width)
{
    if (im->n_windows > 0 && im->width[0] > 0) {
        *center = im->center[0];
        *width = im->width[0];
        return;
    }
    *center = (im->min + im->max) / 2.0;
    *width = im->max - im->min + 1.0;
}

void vw_image_text(const struct vw_image *im, uint32_t tag, char *out,
                   size_t len)
{
    out[0] = '\0';
    if (!im->f)
        return;
    dcx_item *r = dcx_ds_root(im->f->ds);
    int n = dcx_item_vm(r, tag);
    size_t used = 0;
    for (int i = 0; i < n && used + 1 < len; i++) {
        if (i)
            out[used++] = '\\';
        if (dcx_item_get_str(r, tag, (unsigned)i, out + used, len - used) < 0)
            break;
        used += strlen(out + used);
    }
    out[used] = '\0';
}

int vw_image_numbers(const struct vw_image *im, uint32_t tag, double *out,
                     int max)
{
    if (!im->f)
        return 0;
    dcx_item *r = dcx_ds_root(im->f->ds);
    int n = 0;
    while (n < max && dcx_item_get_float(r, tag, (unsigned)n, &out[n]) == 0)
        n++;
    return n;
}

int vw_image_us_mm_per_pixel(const struct vw_image *im, double *mm)
{
    if (!im->f)
        return -1;
    dcx_item *r = dcx_ds_root(im->f->ds);
    int n = dcx_item_seq_count(r, DCX_TAG(0x0018, 0x6011));
    for (int i = 0; i < n; i++) {
        dcx_item *it;
        int64_t units = 0;
        double dx = 0;
        if (dcx_item_seq_get(r, DCX_TAG(0x0018, 0x6011), (unsigned)i, &it) < 0)
            continue;
        /* Physical Units X Direction 3 = cm; Physical Delta X per pixel */
        if (dcx_item_get_int(it, DCX_TAG(0x0018, 0x6024), 0, &units) == 0 &&
            units == 3 &&
            dcx_item_get_float(it, DCX_TAG(0x0018, 0x602C), 0, &dx) == 0 &&
            dx > 0) {
            *mm = dx * 10.0;
            return 0;
        }
    }
    return -1;
}
