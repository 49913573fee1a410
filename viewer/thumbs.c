/* thumbs.c - study thumbnails (see thumbs.h). */
#define _GNU_SOURCE
#include "thumbs.h"

#include "load.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dcx/dataset.h"
#include "dcx/pixel.h"

/* The files of a folder (a fetched study), in name order, from its
 * middle on and round: the worker tries them in turn, as a reading saved
 * beside the images (a presentation state, a measurement report: no
 * pixels) may be the middle one. 0 and *n, or -1. */
static int folder_files(const char *dir, char ***out, int *n)
{
    struct dirent **list;
    int nl = scandir(dir, &list, NULL, alphasort), files = 0;
    if (nl < 0)
        return -1;
    char **v = malloc((size_t)(nl ? nl : 1) * sizeof *v);
    for (int i = 0; i < nl; i++) {
        if (v && list[i]->d_name[0] != '.' &&
            asprintf(&v[files], "%s/%s", dir, list[i]->d_name) >= 0)
            files++;
        free(list[i]);
    }
    free(list);
    if (!v || !files) {
        free(v);
        return -1;
    }
    *out = v;
    *n = files;
    return 0;
}

static int make(struct vw_thumb *t, const char *path)
{
    dcx_ds *ds;
    if (dcx_ds_open(path, NULL, &ds, NULL) < 0)
        return -1;
    struct dcx_decode_opts o = {.palette_to_rgb = 1};
    struct dcx_pixel_info in;
    void *buf = NULL;
    int rc = -1;
    if (dcx_pixel_info_get(ds, &o, &in) < 0 ||
        !(buf = malloc(in.frame_bytes)) ||
        dcx_pixel_decode(ds, in.frames / 2, &o, buf, in.frame_bytes) < 0)
        goto out;
    struct dcx_modality_lut m = {1, 0, "", 0, 0, 0, NULL};
    dcx_pixel_modality_lut(ds, &m);
    struct rnd_lut ml = {m.lut_first, m.lut_data ? m.lut_count : 0,
                         m.lut_bits, m.lut_data};
    struct dcx_voi v;
    memset(&v, 0, sizeof v);
    dcx_pixel_voi(ds, &v);
    size_t npx = (size_t)in.rows * in.columns;
    int spp = in.samples_per_pixel;
    struct rnd_frame fmt = {.bits = in.bits_allocated,
                            .is_signed = in.pixel_representation == 1};
    double c = 0, w = 0;
    if (spp == 1) {
        if (v.n_windows && v.width[0] > 0) {
            c = v.center[0], w = v.width[0];
        } else {
            double lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < npx; i++) {
                double x = vw_modality_value(&ml, m.slope, m.intercept,
                                             vw_sample(&fmt, buf, i));
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
            c = (lo + hi) / 2, w = hi - lo + 1;
        }
    }
    int mono1 = vw_photometric(in.photometric) == RND_MONO1;
    int ybr = vw_photometric(in.photometric) == RND_YBR_FULL;
    double s = fmin((double)THUMB / in.columns, (double)THUMB / in.rows);
    t->w = (int)(in.columns * s) < 1 ? 1 : (int)(in.columns * s);
    t->h = (int)(in.rows * s) < 1 ? 1 : (int)(in.rows * s);
    for (int y = 0; y < t->h; y++) {
        for (int x = 0; x < t->w; x++) {
            size_t sx = (size_t)((x + 0.5) / s), sy = (size_t)((y + 0.5) / s);
            size_t k = sy * in.columns + sx;
            uint8_t *o3 = &t->rgb[(y * t->w + x) * 3];
            if (spp == 1) {
                double px = vw_modality_value(&ml, m.slope, m.intercept,
                                              vw_sample(&fmt, buf, k));
                /* as the shader: LINEAR in steps of the values, or
                 * LINEAR_EXACT below one step */
                double q = m.lut_data ? 1 : rnd_value_step(m.slope);
                double g = w >= q
                               ? (px - (c - 0.5 * q)) / fmax(w - q, 1e-9) + 0.5
                               : (px - c) / w + 0.5;
                g = g < 0 ? 0 : g > 1 ? 1 : g;
                if (mono1)
                    g = 1 - g;
                o3[0] = o3[1] = o3[2] = (uint8_t)(g * 255 + 0.5);
            } else {
                double rgb[3];
                for (int ch = 0; ch < 3; ch++)
                    rgb[ch] = in.bits_allocated == 32
                                  ? ((uint32_t *)buf)[k * 3 + ch] / 16843009.0
                              : in.bits_allocated == 16
                                  ? ((uint16_t *)buf)[k * 3 + ch] / 257.0
                                  : ((uint8_t *)buf)[k * 3 + ch];
                if (ybr) {
                    double yy = rgb[0], cb = rgb[1] - 128, cr = rgb[2] - 128;
                    rgb[0] = yy + 1.402 * cr;
                    rgb[1] = yy - 0.344136 * cb - 0.714136 * cr;
                    rgb[2] = yy + 1.772 * cb;
                }
                for (int ch = 0; ch < 3; ch++)
                    o3[ch] = (uint8_t)(rgb[ch] < 0 ? 0 : rgb[ch] > 255 ? 255
                                                                      : rgb[ch]);
            }
        }
    }
    rc = 0;
out:
    free(buf);
    dcx_ds_close(ds);
    return rc;
}

/* The study's files, from where it is. 0 and *n, or -1. */
static int study_files(const struct vw_thumbs *t, int i, char ***out, int *n)
{
    char err[256];
    if (t->archive)
        return vw_archive_files(t->archive, t->uid[i], out, n, err,
                                sizeof err);
    if (t->media) { /* the DICOMDIR's files, read once for all studies */
        int k = 0;
        if (!(*out = malloc((size_t)(t->mn ? t->mn : 1) * sizeof **out)))
            return -1;
        for (int f = 0; f < t->mn; f++)
            if (strcmp(t->mstudy[f], t->uid[i]) == 0 &&
                ((*out)[k] = strdup(t->mfile[f])))
                k++;
        *n = k;
        return k ? 0 : (free(*out), -1);
    }
    char dir[1200];
    if (vw_cache_dir(t->uid[i], dir, sizeof dir) < 0)
        return -1;
    return folder_files(dir, out, n);
}

static void *worker(void *arg)
{
    struct vw_thumbs *t = arg;
    char err[256];
    if (t->media &&
        vw_media_files(t->media, NULL, &t->mfile, &t->mstudy, &t->mn, err,
                       sizeof err) < 0)
        t->mn = 0;
    for (int i = 0; i < t->n && !atomic_load(&t->stop); i++) {
        struct vw_thumb *x = &t->t[i];
        char **files = NULL;
        int nf = 0, ok = 0;
        atomic_store(&x->state, 1);
        if (study_files(t, i, &files, &nf) == 0) {
            /* the middle file, else the next ones (a study's presentation
             * states and reports have no pixels) */
            for (int k = 0; k < nf && k < 8 && !ok; k++)
                ok = make(x, files[(nf / 2 + k) % nf]) == 0;
            for (int k = 0; k < nf; k++)
                free(files[k]);
            free(files);
        }
        atomic_store(&x->state, ok ? 2 : -1);
    }
    return NULL;
}

int vw_thumbs_start(struct vw_thumbs *t, const struct vw_study *s, int n,
                    const char *archive, const char *media)
{
    memset(t, 0, sizeof *t);
    if (n <= 0)
        return 0;
    t->t = calloc((size_t)n, sizeof *t->t);
    t->uid = calloc((size_t)n, sizeof *t->uid);
    t->archive = archive ? strdup(archive) : NULL;
    t->media = media ? strdup(media) : NULL;
    int oom = !t->t || !t->uid || (archive && !t->archive) ||
              (media && !t->media);
    for (int i = 0; i < n && !oom; i++)
        oom = !(t->uid[i] = strdup(s[i].uid));
    t->n = n;
    if (oom) {
        vw_thumbs_stop(t);
        return -1;
    }
    t->started = pthread_create(&t->th, NULL, worker, t) == 0;
    return 0;
}

void vw_thumbs_stop(struct vw_thumbs *t)
{
    atomic_store(&t->stop, 1);
    if (t->started)
        pthread_join(t->th, NULL);
    for (int i = 0; t->uid && i < t->n; i++)
        free(t->uid[i]);
    for (int i = 0; i < t->mn; i++) {
        free(t->mfile[i]);
        free(t->mstudy[i]);
    }
    free(t->mfile);
    free(t->mstudy);
    free(t->uid);
    free(t->archive);
    free(t->media);
    free(t->t);
    memset(t, 0, sizeof *t);
}
