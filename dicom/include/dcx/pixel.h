/* dcx/pixel.h - pixel data of a dcx_ds decoded to one frame layout, plus
 * the modality LUT and VOI values a renderer needs. No SDL/GL. Uses the
 * dcx_ds it is given, so the same one-thread-at-a-time rule applies.
 *
 * The decoded layout: frames one after another, each rows x columns
 * pixels, samples interleaved (colour-by-pixel, whatever the stored planar
 * configuration), each sample in a host-order container of out_bits_
 * allocated (8, 16 or 32) bits holding the stored value: bits above Bits
 * Stored cleared (unsigned) or sign-extended (PixelRepresentation 1).
 * No rescale, no windowing: those are exposed as values below. */
#ifndef DCX_PIXEL_H
#define DCX_PIXEL_H

#include "dcx/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero-initialised means defaults. */
struct dcx_decode_opts {
    /* 1: PALETTE COLOR expanded to RGB through the palette LUTs (output
     * photometric "RGB", 8 or 16 bits per sample); 0: indices. */
    int palette_to_rgb;
};

struct dcx_pixel_info {
    uint32_t rows, columns;          /* px */
    uint32_t frames;                 /* Number of Frames, 1 if absent */
    uint16_t samples_per_pixel;      /* of the decoded output */
    uint16_t bits_allocated;         /* of the decoded output: 8, 16, 32 */
    uint16_t bits_stored;            /* significant bits of each sample */
    uint16_t pixel_representation;   /* 0 unsigned, 1 two's complement */
    char photometric[20];            /* of the decoded output */
    char stored_photometric[20];     /* as in the file */
    uint16_t stored_bits_allocated;  /* as in the file */
    uint16_t stored_planar_configuration; /* as in the file */
    int encapsulated;                /* 1: compressed transfer syntax */
    int lossy;                       /* 1: lossy TS or Lossy Image Compr. */
    size_t frame_bytes;              /* bytes of one decoded frame */
};

/* Describes what dcx_pixel_decode() will produce. DCX_ENOPIXELS if there is
 * no Pixel Data, DCX_EUNSUPPORTED (float pixel data, Bits Allocated not
 * 1/8/16/32, unknown compressed TS), DCX_EBADDATA on inconsistent attrs. */
int dcx_pixel_info_get(dcx_ds *ds, const struct dcx_decode_opts *opts,
                       struct dcx_pixel_info *out_info);

/* Decodes frame (0-based) into buf, which holds at least info.frame_bytes.
 * Returns 0, DCX_ERANGE (frame), DCX_EINVAL (buffer too small),
 * DCX_EBADDATA/DCX_ETRUNCATED (codestream), DCX_EUNSUPPORTED; the detail
 * is in dcx_ds_errmsg(). Frames can be decoded in any order. */
int dcx_pixel_decode(dcx_ds *ds, uint32_t frame,
                     const struct dcx_decode_opts *opts, void *buf,
                     size_t len);

/* Modality LUT (PS3.3 C.11.1): either a linear rescale or a LUT. */
struct dcx_modality_lut {
    double slope, intercept;   /* 1, 0 when absent; RT Dose: Dose Grid
                                  Scaling, 0 */
    char rescale_type[20];     /* "HU", "US", ... ("" if absent); RT Dose:
                                  Dose Units ("GY", "RELATIVE") */
    /* LUT from Modality LUT Sequence: first_mapped input value, entries,
     * bits per entry; data borrowed from the ds (n entries), or NULL. */
    int32_t lut_first;
    uint32_t lut_count;
    uint16_t lut_bits;
    const uint16_t *lut_data;
};

/* VOI (PS3.3 C.11.2): window pairs and VOI LUTs. */
#define DCX_MAX_WINDOWS 8
struct dcx_voi {
    unsigned n_windows;
    double center[DCX_MAX_WINDOWS];
    double width[DCX_MAX_WINDOWS];
    char explanation[DCX_MAX_WINDOWS][64];
    char function[16];         /* "LINEAR" (default), "LINEAR_EXACT", "SIGMOID" */
    unsigned n_luts;           /* items of VOI LUT Sequence (first kept) */
    int32_t lut_first;
    uint32_t lut_count;
    uint16_t lut_bits;
    const uint16_t *lut_data;  /* borrowed, or NULL */
};

int dcx_pixel_modality_lut(dcx_ds *ds, struct dcx_modality_lut *out);
int dcx_pixel_voi(dcx_ds *ds, struct dcx_voi *out);

/* Palette Color LUTs (PS3.3 C.7.6.3.1.5/6) for a renderer that applies
 * them itself: count entries per colour, each 0..2^bits-1 (8-bit entries
 * stored in 16-bit words are normalised). The arrays are new; free each
 * with dcx_free(). DCX_ENOTFOUND without a palette, DCX_EUNSUPPORTED for
 * segmented LUTs, DCX_EBADDATA if inconsistent. */
struct dcx_palette {
    uint32_t count;
    int32_t first;   /* first stored value mapped */
    uint16_t bits;   /* 8 or 16 */
    uint16_t *red, *green, *blue;
};
int dcx_pixel_palette(dcx_ds *ds, struct dcx_palette *out);

/* The graphic overlay planes (groups 6000-601E, PS3.3 C.9.2) of the image
 * combined into out, one byte per image pixel (columns x rows, row by
 * row): 1 where any plane is set, else 0; Overlay Origin honoured, planes
 * cropped to the image. Only the first frame of a multi-frame overlay.
 * Returns the number of planes drawn (0: out untouched), or DCX_EBADDATA
 * for a plane whose data is shorter than its size. */
int dcx_pixel_overlays(dcx_ds *ds, uint32_t columns, uint32_t rows,
                       uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif
