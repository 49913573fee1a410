/* jpeg_turbo.c - 8-bit JPEG (baseline, extended with 8-bit samples)
 * through libjpeg-turbo's libjpeg API: the API, not TurboJPEG, because it
 * lets us decide the colour transform when a DICOM stream has neither a
 * JFIF nor an Adobe marker. */
#include "pixel_int.h"
#include "dcx/dcx.h"

#include <stdio.h> /* before jpeglib.h, which uses FILE */

#include <jpeglib.h>
#include <setjmp.h>
#include <string.h>

int px_jpeg_precision(const uint8_t *p, size_t n)
{
    size_t i = 2;
    if (n < 4 || p[0] != 0xFF || p[1] != 0xD8)
        return -1;
    while (i + 4 <= n) {
        if (p[i] != 0xFF) {
            i++;
            continue;
        }
        uint8_t m = p[i + 1];
        if (m == 0xFF) {
            i++;
            continue;
        }
        if (m == 0x01)
            return -2; /* TEM before SOF: DCMTK 3.6.7 loops on it */
        if (m >= 0xD0 && m <= 0xD7) {
            i += 2;
            continue;
        }
        size_t seglen = (size_t)p[i + 2] << 8 | p[i + 3];
        /* SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC). */
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
            return i + 4 < n ? p[i + 4] : -1;
        i += 2 + seglen;
    }
    return -1;
}

int px_jpeg_dcmtk_safe(const uint8_t *p, size_t n)
{
    /* Walks markers as DCMTK 3.6.7's scanJpegDataForBitDepth does: SOI,
     * EOI, RSTn and the reserved FF02-FFBF are 2 bytes, everything else
     * carries a length. It never
     * steps past TEM (FF01), so a TEM before the SOF would hang it. */
    size_t i = 0;
    while (i + 4 <= n) {
        if (p[i] != 0xFF)
            return 0;
        uint8_t m = p[i + 1];
        if (m == 0x01)
            return 0;
        if (m == 0xD8 || m == 0xD9 || (m >= 0xD0 && m <= 0xD7) ||
            (m >= 0x02 && m <= 0xBF)) {
            i += 2;
            continue;
        }
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
            return 1;
        i += 2 + ((size_t)p[i + 2] << 8 | p[i + 3]);
    }
    return 0;
}

struct err_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char *msg;
    size_t msglen;
};

static void on_error(j_common_ptr cinfo)
{
    struct err_mgr *e = (struct err_mgr *)cinfo->err;
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    snprintf(e->msg, e->msglen, "JPEG: %s", buf);
    longjmp(e->jb, 1);
}

static void on_message(j_common_ptr cinfo)
{
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    dcx_log(DCX_LOG_DEBUG, "jpeg warning: %s", buf);
}

int px_jpeg_decode(const uint8_t *data, size_t len, int assume_rgb,
                   const struct px_target *t, char *err, size_t errlen)
{
    struct jpeg_decompress_struct ci;
    struct err_mgr em;
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&em.pub);
    em.pub.error_exit = on_error;
    em.pub.output_message = on_message;
    em.msg = err;
    em.msglen = errlen;
    /* volatile: read after longjmp */
    volatile int rc = DCX_EBADDATA;
    if (setjmp(em.jb)) {
        jpeg_destroy_decompress(&ci);
        return rc;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, data, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    if (ci.data_precision != 8) {
        snprintf(err, errlen, "JPEG: %d-bit samples", ci.data_precision);
        jpeg_destroy_decompress(&ci);
        return DCX_EUNSUPPORTED;
    }
    if ((unsigned)ci.num_components != t->samples ||
        ci.image_width != t->cols || ci.image_height != t->rows ||
        t->bytes != 1) {
        snprintf(err, errlen,
                 "JPEG: stream is %ux%u with %d components, header says "
                 "%ux%u with %u samples",
                 ci.image_width, ci.image_height, ci.num_components, t->cols,
                 t->rows, t->samples);
        jpeg_destroy_decompress(&ci);
        return DCX_EBADDATA;
    }
    if (t->samples == 3) {
        /* DICOM says RGB and the stream has no marker saying otherwise:
         * trust DICOM, unless chroma is subsampled, which only a YCbCr
         * stream does (pydicom's SC_rgb_jpeg_lossy_gdcm). */
        int subsampled = 0;
        for (int c = 0; c < ci.num_components; c++) {
            subsampled |= ci.comp_info[c].h_samp_factor != 1 ||
                          ci.comp_info[c].v_samp_factor != 1;
        }
        if (assume_rgb && !ci.saw_JFIF_marker && !ci.saw_Adobe_marker &&
            !subsampled)
            ci.jpeg_color_space = JCS_RGB;
        ci.out_color_space = JCS_RGB;
    } else if (t->samples == 1) {
        ci.out_color_space = JCS_GRAYSCALE;
    }
    jpeg_start_decompress(&ci);
    size_t stride = (size_t)t->cols * t->samples;
    rc = DCX_ETRUNCATED;
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = (JSAMPROW)t->buf + stride * ci.output_scanline;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    return 0;
}
