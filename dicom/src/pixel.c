/* pixel.c - decodes the pixel data of a dcx_ds into the one frame layout
 * of dcx/pixel.h. Chooses the codec from the transfer syntax: native data
 * is read straight from the element (lazily, a frame at a time); 8-bit
 * JPEG goes to libjpeg-turbo, JPEG 2000 to OpenJPEG, the rest (RLE, JPEG
 * lossless, 12-bit JPEG, JPEG-LS) to DCMTK. Every path ends in the same
 * normalisation: colour-by-pixel, bits above Bits Stored cleared or
 * sign-extended. */
#include "dcx/pixel.h"
#include "dcx/tags.h"
#include "dcx/uids.h"
#include "pixel_int.h"
#include "shim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum px_codec { PX_NATIVE, PX_JPEG, PX_DCMTK, PX_J2K };

struct px_base {
    uint32_t rows, cols, frames;
    uint16_t spp, ba, bs, hb, pr, pc;
    char photometric[20];
    int encapsulated;
    size_t native_len;
    enum px_codec codec;
    int big_endian;
};

struct px_state {
    int have_base;                /* base: attributes read once per ds */
    struct px_base base;
    int have_map;
    struct px_frame_map map;
    char decoded_photometric[20]; /* what a codec reported, "" = rule */
};

static void state_free(void *p)
{
    struct px_state *st = p;
    if (st)
        px_frames_free(&st->map);
    free(st);
}

static struct px_state *state_of(dcx_ds *ds)
{
    void **slot = dcx_ds_pixel_slot(ds);
    if (!*slot) {
        *slot = calloc(1, sizeof(struct px_state));
        dcx_ds_set_pixel_free(ds, state_free);
    }
    return *slot;
}

static int read_base(dcx_ds *ds, struct px_base *b);

/* read_base() once per dataset: a cine loop decodes hundreds of frames and
 * the attributes cannot change (dcx_ds_save drops this state). */
static int base_of(dcx_ds *ds, struct px_state *st, struct px_base *out)
{
    if (!st)
        return DCX_ENOMEM;
    if (!st->have_base) {
        int rc = read_base(ds, &st->base);
        if (rc < 0)
            return rc;
        st->have_base = 1;
    }
    *out = st->base;
    return 0;
}

static int get_u16(dcx_item *it, uint32_t tag, uint16_t *out, int required,
                   uint16_t dflt)
{
    int64_t v;
    int rc = dcx_item_get_int(it, tag, 0, &v);
    if (rc == DCX_ENOTFOUND || rc == DCX_ERANGE) {
        if (required)
            return DCX_EBADDATA;
        *out = dflt;
        return 0;
    }
    if (rc < 0 || v < 0 || v > 65535)
        return DCX_EBADDATA;
    *out = (uint16_t)v;
    return 0;
}

static int ts_is(const char *ts, const char *uid)
{
    return strcmp(ts, uid) == 0;
}

static int read_base(dcx_ds *ds, struct px_base *b)
{
    dcx_item *r = dcx_ds_root(ds);
    memset(b, 0, sizeof *b);
    if (dcx_item_has(r, DCX_TAG_FLOAT_PIXEL_DATA) ||
        dcx_item_has(r, DCX_TAG_DOUBLE_PIXEL_DATA))
        return dcx_ds_fail(ds, DCX_EUNSUPPORTED,
                           "float pixel data (7FE0,0008/0009) is not "
                           "supported");
    int present = dcx_shim_pixel_present(ds, &b->encapsulated,
                                         &b->native_len);
    if (present < 0)
        return present;
    if (!present)
        return dcx_ds_fail(ds, DCX_ENOPIXELS, "no pixel data (7FE0,0010)");
    uint16_t rows, cols;
    static const struct {
        uint32_t tag;
        const char *name;
    } req[] = {{DCX_TAG_ROWS, "Rows"},
               {DCX_TAG_COLUMNS, "Columns"},
               {DCX_TAG_BITS_ALLOCATED, "Bits Allocated"}};
    uint16_t *dst[] = {&rows, &cols, &b->ba};
    for (int i = 0; i < 3; i++) {
        if (get_u16(r, req[i].tag, dst[i], 1, 0) < 0 || *dst[i] == 0)
            return dcx_ds_fail(ds, DCX_EBADDATA, "%s missing or invalid",
                               req[i].name);
    }
    b->rows = rows;
    b->cols = cols;
    if (get_u16(r, DCX_TAG_SAMPLES_PER_PIXEL, &b->spp, 0, 1) < 0 ||
        (b->spp != 1 && b->spp != 3))
        return dcx_ds_fail(ds, DCX_EUNSUPPORTED,
                           "Samples per Pixel must be 1 or 3");
    if (get_u16(r, DCX_TAG_BITS_STORED, &b->bs, 0, b->ba) < 0 ||
        get_u16(r, DCX_TAG_HIGH_BIT, &b->hb, 0, (uint16_t)(b->bs - 1)) < 0 ||
        get_u16(r, DCX_TAG_PIXEL_REPRESENTATION, &b->pr, 0, 0) < 0 ||
        get_u16(r, DCX_TAG_PLANAR_CONFIGURATION, &b->pc, 0, 0) < 0)
        return dcx_ds_fail(ds, DCX_EBADDATA, "invalid image pixel module");
    if (b->ba != 1 && b->ba != 8 && b->ba != 16 && b->ba != 32)
        return dcx_ds_fail(ds, DCX_EUNSUPPORTED,
                           "Bits Allocated %u is not supported", b->ba);
    if (b->bs == 0 || b->bs > b->ba || b->hb >= b->ba || b->hb + 1 < b->bs)
        return dcx_ds_fail(ds, DCX_EBADDATA,
                           "Bits Stored %u / High Bit %u do not fit Bits "
                           "Allocated %u",
                           b->bs, b->hb, b->ba);
    if (b->spp == 1)
        b->pc = 0;
    char pi[64] = "";
    dcx_item_get_str(r, DCX_TAG_PHOTOMETRIC, 0, pi, sizeof pi);
    if (!pi[0])
        snprintf(pi, sizeof pi, "%s", b->spp == 3 ? "RGB" : "MONOCHROME2");
    snprintf(b->photometric, sizeof b->photometric, "%s", pi);
    int64_t nf = 1;
    int rc = dcx_item_get_int(r, DCX_TAG_NUMBER_OF_FRAMES, 0, &nf);
    if (rc == DCX_ENOTFOUND || rc == DCX_ERANGE)
        nf = 1;
    else if (rc < 0 || nf < 0 || nf > 0x7FFFFFFF)
        return dcx_ds_fail(ds, DCX_EBADDATA,
                           "Number of Frames is not a valid number");
    b->frames = nf == 0 ? 1 : (uint32_t)nf;

    const char *ts = dcx_ds_transfer_syntax(ds);
    b->big_endian = ts_is(ts, DCX_TS_EXPLICIT_BE);
    if (!b->encapsulated) {
        b->codec = PX_NATIVE;
    } else if (ts_is(ts, DCX_TS_JPEG_BASELINE) ||
               ts_is(ts, DCX_TS_JPEG_EXTENDED)) {
        b->codec = PX_JPEG;
    } else if (ts_is(ts, DCX_TS_JPEG_LOSSLESS) ||
               ts_is(ts, DCX_TS_JPEG_LOSSLESS_SV1) ||
               ts_is(ts, DCX_TS_JPEGLS_LOSSLESS) ||
               ts_is(ts, DCX_TS_JPEGLS_NEAR) || ts_is(ts, DCX_TS_RLE)) {
        b->codec = PX_DCMTK;
    } else if (ts_is(ts, DCX_TS_J2K_LOSSLESS) || ts_is(ts, DCX_TS_J2K) ||
               ts_is(ts, "1.2.840.10008.1.2.4.201") ||
               ts_is(ts, "1.2.840.10008.1.2.4.202") ||
               ts_is(ts, "1.2.840.10008.1.2.4.203")) {
        b->codec = PX_J2K;
    } else {
        return dcx_ds_fail(ds, DCX_EUNSUPPORTED,
                           "compressed transfer syntax %s is not supported",
                           ts[0] ? ts : "(unknown)");
    }
    if (b->ba == 1 && b->codec != PX_NATIVE)
        return dcx_ds_fail(ds, DCX_EUNSUPPORTED,
                           "1-bit pixel data must be uncompressed");
    return 0;
}

/* Palette LUT (PS3.3 C.7.6.3.1.5/6); segmented LUTs are not supported. */
struct palette {
    uint32_t count;
    int32_t first;
    uint16_t bits;
    const void *data[3];
    int wide[3]; /* entries are 16-bit words */
};

static int read_palette(dcx_ds *ds, struct palette *p)
{
    static const uint32_t desc[3] = {DCX_TAG_RED_PALETTE_DESCRIPTOR,
                                     DCX_TAG_GREEN_PALETTE_DESCRIPTOR,
                                     DCX_TAG_BLUE_PALETTE_DESCRIPTOR};
    static const uint32_t data[3] = {DCX_TAG_RED_PALETTE_DATA,
                                     DCX_TAG_GREEN_PALETTE_DATA,
                                     DCX_TAG_BLUE_PALETTE_DATA};
    dcx_item *r = dcx_ds_root(ds);
    for (int c = 0; c < 3; c++) {
        int64_t d[3];
        for (unsigned k = 0; k < 3; k++) {
            if (dcx_item_get_int(r, desc[c], k, &d[k]) < 0)
                return dcx_ds_fail(ds, DCX_EBADDATA,
                                   "palette descriptor missing or invalid");
        }
        uint32_t count = d[0] == 0 ? 65536u : (uint32_t)(d[0] & 0xFFFF);
        if (c == 0) {
            p->count = count;
            /* First mapped value is US or SS by the pixel's signedness */
            p->first = (int32_t)d[1];
            p->bits = (uint16_t)d[2];
        } else if (count != p->count || (int32_t)d[1] != p->first ||
                   d[2] != p->bits) {
            /* PS3.3 C.7.6.3.1.5: the three descriptors are identical */
            return dcx_ds_fail(ds, DCX_EBADDATA,
                               "palette descriptors differ between colours");
        }
        if (p->bits != 8 && p->bits != 16)
            return dcx_ds_fail(ds, DCX_EBADDATA, "palette entry bits %u",
                               p->bits);
        size_t len;
        if (dcx_item_get_bytes(r, data[c], &p->data[c], &len) < 0) {
            if (dcx_item_has(r, DCX_TAG_SEG_RED_PALETTE_DATA))
                return dcx_ds_fail(ds, DCX_EUNSUPPORTED,
                                   "segmented palette LUTs are not "
                                   "supported");
            return dcx_ds_fail(ds, DCX_EBADDATA, "palette data missing");
        }
        if (len >= 2 * (size_t)count)
            p->wide[c] = 1;
        else if (len >= count && p->bits == 8)
            p->wide[c] = 0;
        else
            return dcx_ds_fail(ds, DCX_EBADDATA,
                               "palette data shorter than its descriptor");
    }
    return 0;
}

static uint16_t lut_at(const struct palette *p, int c, int64_t v)
{
    int64_t i = v - p->first;
    if (i < 0)
        i = 0;
    if (i >= (int64_t)p->count)
        i = p->count - 1;
    if (!p->wide[c])
        return ((const uint8_t *)p->data[c])[i];
    uint16_t w = ((const uint16_t *)p->data[c])[i];
    /* 8-bit entries in 16-bit words: some writers put them high. */
    return p->bits == 8 && w > 255 ? (uint16_t)(w >> 8) : w;
}

int dcx_pixel_palette(dcx_ds *ds, struct dcx_palette *out)
{
    memset(out, 0, sizeof *out);
    if (!dcx_item_has(dcx_ds_root(ds), DCX_TAG_RED_PALETTE_DESCRIPTOR))
        return dcx_ds_fail(ds, DCX_ENOTFOUND, "no palette");
    struct palette p;
    int rc = read_palette(ds, &p);
    if (rc < 0)
        return rc;
    uint16_t *ch[3];
    for (int c = 0; c < 3; c++) {
        ch[c] = malloc((size_t)p.count * sizeof *ch[c]);
        if (!ch[c]) {
            for (int k = 0; k < c; k++)
                free(ch[k]);
            return dcx_ds_fail(ds, DCX_ENOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < p.count; i++)
            ch[c][i] = lut_at(&p, c, (int64_t)p.first + i);
    }
    out->count = p.count;
    out->first = p.first;
    out->bits = p.bits;
    out->red = ch[0];
    out->green = ch[1];
    out->blue = ch[2];
    return 0;
}

int dcx_pixel_overlays(dcx_ds *ds, uint32_t columns, uint32_t rows,
                       uint8_t *out)
{
    dcx_item *r = dcx_ds_root(ds);
    int planes = 0;
    for (uint32_t g = 0x6000; g <= 0x601E; g += 2) {
        int64_t orows, ocols, bits = 1, origin[2] = {1, 1};
        const void *data;
        size_t len;
        if (dcx_item_get_int(r, DCX_TAG(g, 0x0010), 0, &orows) < 0 ||
            dcx_item_get_int(r, DCX_TAG(g, 0x0011), 0, &ocols) < 0 ||
            dcx_item_get_bytes(r, DCX_TAG(g, 0x3000), &data, &len) < 0)
            continue; /* no plane here, or one in the pixel data (retired) */
        dcx_item_get_int(r, DCX_TAG(g, 0x0100), 0, &bits);
        dcx_item_get_int(r, DCX_TAG(g, 0x0050), 0, &origin[0]);
        dcx_item_get_int(r, DCX_TAG(g, 0x0050), 1, &origin[1]);
        if (orows <= 0 || ocols <= 0 || bits != 1)
            continue;
        if ((uint64_t)orows * (uint64_t)ocols > (uint64_t)len * 8)
            return dcx_ds_fail(ds, DCX_EBADDATA,
                               "overlay %04X: %lld x %lld bits in %zu bytes",
                               (unsigned)g, (long long)ocols, (long long)orows,
                               len);
        if (planes == 0)
            memset(out, 0, (size_t)columns * rows);
        /* bits are packed from the least significant bit of the first
         * byte on (PS3.5 8.1.2, OB/OW little endian alike) */
        const uint8_t *b = data;
        for (int64_t y = 0; y < orows; y++) {
            int64_t iy = y + origin[0] - 1; /* origin is 1-based (row, col) */
            if (iy < 0 || iy >= rows)
                continue;
            for (int64_t x = 0; x < ocols; x++) {
                int64_t ix = x + origin[1] - 1;
                if (ix < 0 || ix >= columns)
                    continue;
                uint64_t k = (uint64_t)y * (uint64_t)ocols + (uint64_t)x;
                if (b[k >> 3] & (1u << (k & 7)))
                    out[(size_t)iy * columns + (size_t)ix] = 1;
            }
        }
        planes++;
    }
    return planes;
}

static const char *out_photometric(const struct px_base *b,
                                   const struct px_state *st)
{
    if (st && st->decoded_photometric[0])
        return st->decoded_photometric;
    if (b->codec == PX_NATIVE && strcmp(b->photometric, "YBR_FULL_422") == 0)
        return "YBR_FULL";
    if (b->spp == 3 && b->codec == PX_JPEG)
        return "RGB";
    if (b->spp == 3 && b->codec == PX_J2K &&
        (strcmp(b->photometric, "YBR_RCT") == 0 ||
         strcmp(b->photometric, "YBR_ICT") == 0))
        return "RGB";
    return b->photometric;
}

static int is_palette(const struct px_base *b)
{
    return strcmp(b->photometric, "PALETTE COLOR") == 0;
}

int dcx_pixel_info_get(dcx_ds *ds, const struct dcx_decode_opts *opts,
                       struct dcx_pixel_info *out)
{
    struct px_base b;
    int rc = base_of(ds, state_of(ds), &b);
    if (rc < 0)
        return rc;
    struct dcx_pixel_info in;
    memset(&in, 0, sizeof in);
    in.rows = b.rows;
    in.columns = b.cols;
    in.frames = b.frames;
    in.samples_per_pixel = b.spp;
    in.bits_allocated = b.ba == 1 ? 8 : b.ba;
    in.bits_stored = b.bs;
    in.pixel_representation = b.pr;
    snprintf(in.photometric, sizeof in.photometric, "%s",
             out_photometric(&b, state_of(ds)));
    snprintf(in.stored_photometric, sizeof in.stored_photometric, "%s",
             b.photometric);
    in.stored_bits_allocated = b.ba;
    in.stored_planar_configuration = b.pc;
    in.encapsulated = b.encapsulated;
    const char *ts = dcx_ds_transfer_syntax(ds);
    char lossy[8] = "";
    dcx_item_get_str(dcx_ds_root(ds), DCX_TAG(0x0028, 0x2110), 0, lossy,
                     sizeof lossy);
    in.lossy = ts_is(ts, DCX_TS_JPEG_BASELINE) ||
               ts_is(ts, DCX_TS_JPEG_EXTENDED) ||
               ts_is(ts, DCX_TS_JPEGLS_NEAR) || ts_is(ts, DCX_TS_J2K) ||
               strcmp(lossy, "01") == 0;
    if (opts && opts->palette_to_rgb && is_palette(&b) && b.spp == 1) {
        struct palette p;
        rc = read_palette(ds, &p);
        if (rc < 0)
            return rc;
        in.samples_per_pixel = 3;
        in.bits_allocated = p.bits == 8 ? 8 : 16;
        in.bits_stored = p.bits;
        in.pixel_representation = 0;
        snprintf(in.photometric, sizeof in.photometric, "RGB");
    }
    in.frame_bytes = (size_t)in.rows * in.columns * in.samples_per_pixel *
                     (in.bits_allocated / 8);
    *out = in;
    return 0;
}

/* Planar (RRR..GGG..BBB) to interleaved, container of cb bytes. */
static void interleave(const uint8_t *src, uint8_t *dst, size_t npx,
                       unsigned spp, unsigned cb)
{
    for (unsigned s = 0; s < spp; s++) {
        const uint8_t *plane = src + (size_t)s * npx * cb;
        for (size_t i = 0; i < npx; i++)
            memcpy(dst + (i * spp + s) * cb, plane + i * cb, cb);
    }
}

/* Stored value in the low bits: shift out bits below High Bit's window
 * (native only), then clear or sign-extend above Bits Stored; clamp
 * saturates unsigned codec output instead of wrapping it. One branch-free
 * loop per container so the compiler can vectorise it. */
#define NORMALISE_LOOP(T, ST, BITS)                                         \
    do {                                                                    \
        T *p = buf;                                                         \
        unsigned up = (BITS) - bs;                                          \
        if (is_signed) {                                                    \
            for (size_t i = 0; i < n; i++)                                  \
                p[i] = (T)((ST)(T)((T)(p[i] >> shift) << up) >> up);        \
        } else if (clamp) {                                                 \
            T m = (T)mask;                                                  \
            for (size_t i = 0; i < n; i++)                                  \
                p[i] = p[i] > m ? m : p[i];                                 \
        } else {                                                            \
            T m = (T)mask;                                                  \
            for (size_t i = 0; i < n; i++)                                  \
                p[i] = (T)(p[i] >> shift) & m;                              \
        }                                                                   \
    } while (0)

static void normalise(void *buf, size_t n, unsigned cb, unsigned shift,
                      unsigned bs, int is_signed, int clamp)
{
    if (shift == 0 && bs >= cb * 8)
        return;
    uint32_t mask = bs >= 32 ? 0xFFFFFFFFu : ((1u << bs) - 1);
    if (cb == 1)
        NORMALISE_LOOP(uint8_t, int8_t, 8);
    else if (cb == 2)
        NORMALISE_LOOP(uint16_t, int16_t, 16);
    else
        NORMALISE_LOOP(uint32_t, int32_t, 32);
}

static int decode_native(dcx_ds *ds, const struct px_base *b, uint32_t f,
                         uint8_t *dst)
{
    size_t npx = (size_t)b->rows * b->cols;
    if (b->ba == 1) {
        /* Frames are bit-packed back to back, least significant bit
         * first (PS3.5 8.1.1). */
        size_t nbits = npx * b->spp;
        size_t first_bit = (size_t)f * nbits;
        size_t off = first_bit / 8;
        size_t nbytes = (first_bit + nbits + 7) / 8 - off;
        uint8_t *tmp = malloc(nbytes);
        if (!tmp)
            return DCX_ENOMEM;
        int rc = dcx_shim_native_read(ds, off, tmp, nbytes);
        if (rc == 0) {
            for (size_t i = 0; i < nbits; i++) {
                size_t bit = first_bit - off * 8 + i;
                dst[i] = (tmp[bit / 8] >> (bit % 8)) & 1;
            }
        }
        free(tmp);
        return rc;
    }
    unsigned cb = b->ba / 8;
    if (strcmp(b->photometric, "YBR_FULL_422") == 0 && b->spp == 3) {
        /* Y1 Y2 Cb Cr per pixel pair (PS3.3 C.7.6.3.1.2). */
        if (cb != 1 || b->cols % 2)
            return dcx_ds_fail(ds, DCX_EUNSUPPORTED,
                               "YBR_FULL_422 needs 8 bits and even columns");
        size_t fb = npx * 2;
        uint8_t *tmp = malloc(fb);
        if (!tmp)
            return DCX_ENOMEM;
        int rc = dcx_shim_native_read(ds, (size_t)f * fb, tmp, fb);
        if (rc == 0) {
            for (size_t i = 0; i < npx / 2; i++) {
                const uint8_t *s = tmp + 4 * i;
                uint8_t *d = dst + 6 * i;
                d[0] = s[0], d[1] = s[2], d[2] = s[3];
                d[3] = s[1], d[4] = s[2], d[5] = s[3];
            }
        }
        free(tmp);
        return rc;
    }
    size_t fb = npx * b->spp * cb;
    int rc;
    if (b->pc == 1) {
        uint8_t *tmp = malloc(fb);
        if (!tmp)
            return DCX_ENOMEM;
        rc = dcx_shim_native_read(ds, (size_t)f * fb, tmp, fb);
        if (rc == 0)
            interleave(tmp, dst, npx, b->spp, cb);
        free(tmp);
    } else {
        rc = dcx_shim_native_read(ds, (size_t)f * fb, dst, fb);
    }
    if (rc == 0 && cb == 4 && b->big_endian) {
        /* DCMTK swaps OW in 16-bit words; 32-bit samples also need their
         * halves exchanged. */
        uint16_t *w = (uint16_t *)dst;
        for (size_t i = 0; i < fb / 2; i += 2) {
            uint16_t t = w[i];
            w[i] = w[i + 1];
            w[i + 1] = t;
        }
    }
    return rc;
}

static int decode_encapsulated(dcx_ds *ds, const struct px_base *b,
                               struct px_state *st, uint32_t f, uint8_t *dst,
                               size_t fb)
{
    if (!st->have_map) {
        int rc = px_frames_map(ds, b->frames, &st->map);
        if (rc < 0)
            return rc;
        st->have_map = 1;
    }
    struct px_target t = {b->rows, b->cols, b->spp, (uint16_t)(b->ba / 8),
                          b->bs, b->pr == 1, dst, fb};
    char err[256] = "";
    int rc;
    if (b->codec == PX_JPEG || b->codec == PX_J2K) {
        const uint8_t *cs;
        size_t cs_len;
        uint8_t *owned;
        rc = px_frame_codestream(ds, &st->map, f, &cs, &cs_len, &owned);
        if (rc < 0)
            return rc;
        if (b->codec == PX_J2K) {
            rc = px_j2k_decode(cs, cs_len, &t, err, sizeof err);
        } else if (px_jpeg_precision(cs, cs_len) == 8 && t.bytes == 1) {
            rc = px_jpeg_decode(cs, cs_len,
                                strcmp(b->photometric, "RGB") == 0, &t, err,
                                sizeof err);
        } else {
            rc = 1; /* 12-bit: libjpeg-turbo 2.1 cannot, DCMTK's ijg12 can */
        }
        free(owned);
        if (rc < 0)
            return dcx_ds_fail(ds, rc, "frame %u: %s", f, err);
        if (rc == 0)
            return 0;
    }
    /* Inputs DCMTK 3.6.7 mishandles are refused before it sees them. */
    const char *ts = dcx_ds_transfer_syntax(ds);
    int is_rle = strcmp(ts, DCX_TS_RLE) == 0;
    int is_jpeg = b->codec == PX_JPEG || strcmp(ts, DCX_TS_JPEG_LOSSLESS) == 0 ||
                  strcmp(ts, DCX_TS_JPEG_LOSSLESS_SV1) == 0;
    if (is_rle || is_jpeg) {
        const uint8_t *d;
        size_t dlen;
        rc = dcx_shim_frag_get(ds, st->map.first[f], &d, &dlen);
        if (rc < 0)
            return rc;
        if (is_rle && !px_rle_header_ok(d, dlen, (unsigned)b->spp * (b->ba / 8)))
            return dcx_ds_fail(ds, DCX_EBADDATA,
                               "frame %u: RLE header does not fit its "
                               "fragment or the image",
                               f);
        if (is_jpeg && !px_jpeg_dcmtk_safe(d, dlen))
            return dcx_ds_fail(ds, DCX_EBADDATA,
                               "frame %u: JPEG stream has no usable frame "
                               "header",
                               f);
    }
    char model[20] = "";
    int planar_out = is_rle && b->pc == 1 && b->spp > 1;
    /* DCMTK wants an even buffer (it may swap 16-bit words): odd-sized
     * 8-bit frames go through a scratch buffer one byte longer. */
    int scratch = planar_out || (fb & 1);
    uint8_t *out = dst;
    if (scratch) {
        out = malloc(fb + (fb & 1));
        if (!out)
            return DCX_ENOMEM;
    }
    rc = dcx_shim_dcmtk_decode(ds, f, st->map.first[f], out, fb + (fb & 1),
                               model);
    if (rc == 0 && planar_out)
        interleave(out, dst, (size_t)b->rows * b->cols, b->spp, b->ba / 8);
    else if (rc == 0 && scratch)
        memcpy(dst, out, fb);
    if (scratch)
        free(out);
    if (rc == 0 && b->spp == 3 && model[0] &&
        strcmp(model, out_photometric(b, st)) != 0)
        snprintf(st->decoded_photometric, sizeof st->decoded_photometric,
                 "%s", model);
    return rc;
}

int dcx_pixel_decode(dcx_ds *ds, uint32_t frame,
                     const struct dcx_decode_opts *opts, void *buf,
                     size_t len)
{
    struct px_state *st = state_of(ds);
    struct px_base b;
    int rc = base_of(ds, st, &b);
    if (rc < 0)
        return rc;
    if (frame >= b.frames)
        return dcx_ds_fail(ds, DCX_ERANGE, "frame %u of %u", frame,
                           b.frames);
    int expand = opts && opts->palette_to_rgb && is_palette(&b) &&
                 b.spp == 1;
    unsigned cb = b.ba == 1 ? 1 : b.ba / 8;
    size_t npx = (size_t)b.rows * b.cols;
    size_t fb = npx * b.spp * cb;
    struct palette p;
    if (expand) {
        rc = read_palette(ds, &p);
        if (rc < 0)
            return rc;
    }
    /* what dcx_pixel_info_get() reports as frame_bytes */
    size_t need = expand ? npx * 3 * (p.bits == 8 ? 1 : 2) : fb;
    if (len < need)
        return DCX_EINVAL;
    uint8_t *dst = buf;
    if (expand) {
        dst = malloc(fb);
        if (!dst)
            return DCX_ENOMEM;
    }
    rc = b.codec == PX_NATIVE
             ? decode_native(ds, &b, frame, dst)
             : decode_encapsulated(ds, &b, st, frame, dst, fb);
    if (rc == 0 && b.ba != 1)
        normalise(dst, npx * b.spp, cb,
                  b.codec == PX_NATIVE ? (unsigned)(b.hb + 1 - b.bs) : 0,
                  b.bs, b.pr == 1, b.codec != PX_NATIVE && b.pr == 0);
    if (rc == 0 && expand) {
        for (size_t i = 0; i < npx; i++) {
            int64_t v = cb == 1   ? (b.pr ? (int8_t)dst[i] : dst[i])
                        : cb == 2 ? (b.pr ? ((int16_t *)dst)[i]
                                          : ((uint16_t *)dst)[i])
                                  : ((int32_t *)dst)[i];
            for (int c = 0; c < 3; c++) {
                uint16_t e = lut_at(&p, c, v);
                if (p.bits == 8)
                    ((uint8_t *)buf)[3 * i + c] = (uint8_t)e;
                else
                    ((uint16_t *)buf)[3 * i + c] = e;
            }
        }
    }
    if (expand)
        free(dst);
    return rc;
}

/* --- modality LUT and VOI --- */

static void read_lut(dcx_item *it, int32_t *first, uint32_t *count,
                     uint16_t *bits, const uint16_t **data)
{
    int64_t d[3];
    const void *p;
    size_t len;
    *data = NULL;
    for (unsigned k = 0; k < 3; k++) {
        if (dcx_item_get_int(it, DCX_TAG_LUT_DESCRIPTOR, k, &d[k]) < 0)
            return;
    }
    if (dcx_item_get_bytes(it, DCX_TAG_LUT_DATA, &p, &len) < 0)
        return;
    *count = d[0] == 0 ? 65536u : (uint32_t)(d[0] & 0xFFFF);
    *first = (int32_t)d[1];
    *bits = (uint16_t)d[2];
    if (len >= 2 * (size_t)*count)
        *data = p;
}

int dcx_pixel_modality_lut(dcx_ds *ds, struct dcx_modality_lut *out)
{
    dcx_item *r = dcx_ds_root(ds);
    struct dcx_modality_lut m;
    memset(&m, 0, sizeof m);
    m.slope = 1.0;
    /* an enhanced multi-frame object keeps the rescale in its functional
     * groups: frame 1's (per-frame values: dcx_frame_item) */
    dcx_item *rs = dcx_frame_item(r, 0, DCX_TAG_RESCALE_SLOPE);
    dcx_item *ri = dcx_frame_item(r, 0, DCX_TAG_RESCALE_INTERCEPT);
    dcx_item *rt = dcx_frame_item(r, 0, DCX_TAG_RESCALE_TYPE);
    if (!rs || dcx_item_get_float(rs, DCX_TAG_RESCALE_SLOPE, 0, &m.slope) < 0 ||
        m.slope == 0.0)
        m.slope = 1.0;
    if (!ri ||
        dcx_item_get_float(ri, DCX_TAG_RESCALE_INTERCEPT, 0, &m.intercept) < 0)
        m.intercept = 0.0;
    if (rt)
        dcx_item_get_str(rt, DCX_TAG_RESCALE_TYPE, 0, m.rescale_type,
                         sizeof m.rescale_type);
    /* RT Dose has no rescale: its stored values times Dose Grid Scaling
     * are the dose (PS3.3 C.8.8.3.4.4), in Dose Units */
    double dgs;
    if (!rs &&
        dcx_item_get_float(r, DCX_TAG_DOSE_GRID_SCALING, 0, &dgs) == 0 &&
        dgs > 0) {
        m.slope = dgs;
        if (!m.rescale_type[0])
            dcx_item_get_str(r, DCX_TAG_DOSE_UNITS, 0, m.rescale_type,
                             sizeof m.rescale_type);
    }
    dcx_item *lut;
    if (dcx_item_seq_get(r, DCX_TAG_MODALITY_LUT_SEQUENCE, 0, &lut) == 0)
        read_lut(lut, &m.lut_first, &m.lut_count, &m.lut_bits, &m.lut_data);
    if (!m.rescale_type[0] && m.lut_data)
        dcx_item_get_str(lut, DCX_TAG_MODALITY_LUT_TYPE, 0, m.rescale_type,
                         sizeof m.rescale_type);
    *out = m;
    return 0;
}

int dcx_pixel_voi(dcx_ds *ds, struct dcx_voi *out)
{
    dcx_item *r = dcx_ds_root(ds);
    struct dcx_voi v;
    memset(&v, 0, sizeof v);
    /* windows of an enhanced object: frame 1's Frame VOI LUT macro */
    dcx_item *wr = dcx_frame_item(r, 0, DCX_TAG_WINDOW_CENTER);
    if (!wr)
        wr = r;
    int nc = dcx_item_vm(wr, DCX_TAG_WINDOW_CENTER);
    int nw = dcx_item_vm(wr, DCX_TAG_WINDOW_WIDTH);
    int n = nc < nw ? nc : nw;
    for (int i = 0; i < n && v.n_windows < DCX_MAX_WINDOWS; i++) {
        double c, w;
        if (dcx_item_get_float(wr, DCX_TAG_WINDOW_CENTER, (unsigned)i, &c) <
                0 ||
            dcx_item_get_float(wr, DCX_TAG_WINDOW_WIDTH, (unsigned)i, &w) < 0 ||
            w <= 0)
            continue;
        v.center[v.n_windows] = c;
        v.width[v.n_windows] = w;
        dcx_item_get_str(wr, DCX_TAG_WINDOW_EXPLANATION, i,
                         v.explanation[v.n_windows],
                         sizeof v.explanation[0]);
        v.n_windows++;
    }
    snprintf(v.function, sizeof v.function, "LINEAR");
    dcx_item_get_str(wr, DCX_TAG_VOI_LUT_FUNCTION, 0, v.function,
                     sizeof v.function);
    int nl = dcx_item_seq_count(r, DCX_TAG_VOI_LUT_SEQUENCE);
    if (nl > 0) {
        dcx_item *lut;
        v.n_luts = (unsigned)nl;
        if (dcx_item_seq_get(r, DCX_TAG_VOI_LUT_SEQUENCE, 0, &lut) == 0)
            read_lut(lut, &v.lut_first, &v.lut_count, &v.lut_bits,
                     &v.lut_data);
    }
    *out = v;
    return 0;
}
