/* j2k.c - JPEG 2000 (and HTJ2K) frames through OpenJPEG, from memory. */
#include "pixel_int.h"
#include "dcx/dcx.h"

#include <openjpeg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct memsrc {
    const uint8_t *data;
    size_t len, pos;
};

static OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T n, void *user)
{
    struct memsrc *m = user;
    if (m->pos >= m->len)
        return (OPJ_SIZE_T)-1;
    size_t k = m->len - m->pos < n ? m->len - m->pos : n;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return k;
}

static OPJ_OFF_T mem_skip(OPJ_OFF_T n, void *user)
{
    struct memsrc *m = user;
    if (n < 0) {
        if ((size_t)-n > m->pos)
            return -1;
        m->pos -= (size_t)-n;
        return n;
    }
    size_t k = m->len - m->pos < (size_t)n ? m->len - m->pos : (size_t)n;
    m->pos += k;
    return (OPJ_OFF_T)k;
}

static OPJ_BOOL mem_seek(OPJ_OFF_T n, void *user)
{
    struct memsrc *m = user;
    if (n < 0 || (size_t)n > m->len)
        return OPJ_FALSE;
    m->pos = (size_t)n;
    return OPJ_TRUE;
}

struct msg {
    char *buf;
    size_t len;
};

static void on_error(const char *text, void *user)
{
    struct msg *m = user;
    if (m->buf[0] == '\0') {
        snprintf(m->buf, m->len, "JPEG 2000: %s", text);
        size_t l = strlen(m->buf);
        while (l && (m->buf[l - 1] == '\n' || m->buf[l - 1] == ' '))
            m->buf[--l] = '\0';
    }
}

static void on_warning(const char *text, void *user)
{
    (void)user;
    dcx_log(DCX_LOG_DEBUG, "openjpeg warning: %s", text);
}

int px_j2k_decode(const uint8_t *data, size_t len, const struct px_target *t,
                  char *err, size_t errlen)
{
    static const uint8_t jp2sig[] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' '};
    OPJ_CODEC_FORMAT fmt =
        (len >= 8 && memcmp(data, jp2sig, 8) == 0) ? OPJ_CODEC_JP2
                                                   : OPJ_CODEC_J2K;
    struct memsrc src = {data, len, 0};
    struct msg m = {err, errlen};
    opj_image_t *img = NULL;
    int rc = DCX_EBADDATA;
    err[0] = '\0';

    opj_codec_t *codec = opj_create_decompress(fmt);
    opj_stream_t *st = opj_stream_create(1 << 16, OPJ_TRUE);
    if (!codec || !st) {
        rc = DCX_ENOMEM;
        goto out;
    }
    opj_stream_set_user_data(st, &src, NULL);
    opj_stream_set_user_data_length(st, len);
    opj_stream_set_read_function(st, mem_read);
    opj_stream_set_skip_function(st, mem_skip);
    opj_stream_set_seek_function(st, mem_seek);
    opj_set_error_handler(codec, on_error, &m);
    opj_set_warning_handler(codec, on_warning, NULL);

    opj_dparameters_t p;
    opj_set_default_decoder_parameters(&p);
    /* Code-blocks decode in parallel: one frame of a 2048^2 DR uses all
     * cores instead of one. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!opj_setup_decoder(codec, &p) ||
        (ncpu > 1 && !opj_codec_set_threads(codec, (int)ncpu)) || !opj_read_header(st, codec, &img) ||
        !opj_decode(codec, st, img) || !opj_end_decompress(codec, st))
        goto out;
    if (img->numcomps != t->samples) {
        snprintf(err, errlen,
                 "JPEG 2000: %u components, header says %u samples",
                 img->numcomps, t->samples);
        goto out;
    }
    for (unsigned c = 0; c < img->numcomps; c++) {
        opj_image_comp_t *cp = &img->comps[c];
        if (cp->w != t->cols || cp->h != t->rows || !cp->data) {
            snprintf(err, errlen,
                     "JPEG 2000: component %u is %ux%u, header says %ux%u",
                     c, cp->w, cp->h, t->cols, t->rows);
            goto out;
        }
    }
    size_t npx = (size_t)t->rows * t->cols;
    unsigned ns = t->samples;
    /* Lossy J2K overshoots the sample range near its ends; clamp rather
     * than let the bit mask wrap 4096 to 0. The range is the codestream's
     * own signedness with DICOM's Bits Stored. */
    unsigned bs = t->bits_stored ? t->bits_stored : 16;
    if (bs > 31)
        bs = 31;
    for (unsigned c = 0; c < ns; c++) {
        OPJ_INT32 *s = img->comps[c].data;
        OPJ_INT32 lo = img->comps[c].sgnd ? -(1 << (bs - 1)) : 0;
        OPJ_INT32 hi = img->comps[c].sgnd ? (1 << (bs - 1)) - 1
                                          : (OPJ_INT32)((1u << bs) - 1);
        for (size_t i = 0; i < npx; i++)
            s[i] = s[i] < lo ? lo : s[i] > hi ? hi : s[i];
        if (t->bytes == 1) {
            uint8_t *d = (uint8_t *)t->buf + c;
            for (size_t i = 0; i < npx; i++, d += ns)
                *d = (uint8_t)s[i];
        } else if (t->bytes == 2) {
            uint16_t *d = (uint16_t *)t->buf + c;
            for (size_t i = 0; i < npx; i++, d += ns)
                *d = (uint16_t)s[i];
        } else {
            uint32_t *d = (uint32_t *)t->buf + c;
            for (size_t i = 0; i < npx; i++, d += ns)
                *d = (uint32_t)s[i];
        }
    }
    rc = 0;
out:
    if (rc == DCX_EBADDATA && err[0] == '\0')
        snprintf(err, errlen, "JPEG 2000: cannot decode codestream");
    opj_image_destroy(img);
    opj_stream_destroy(st);
    opj_destroy_codec(codec);
    return rc;
}
