/* pixel_int.h - private interface of the pixel pipeline: the frame ->
 * fragment map of encapsulated data and the codecs that libconsort-dicom
 * drives itself (libjpeg-turbo, OpenJPEG). No DCMTK, no GL. */
#ifndef DCX_PIXEL_INT_H
#define DCX_PIXEL_INT_H

#include "dcx/dataset.h"

#include <stddef.h>
#include <stdint.h>

/* Which pixel items (1-based; item 0 is the Basic Offset Table) hold each
 * frame. */
struct px_frame_map {
    uint32_t frames;
    uint32_t *first; /* first item of frame i */
    uint32_t *count; /* items of frame i */
};

/* Builds the map from, in order: one frame; one item per frame; the Basic
 * Offset Table; the Extended Offset Table; codestream start markers. */
int px_frames_map(dcx_ds *ds, uint32_t frames, struct px_frame_map *out);
void px_frames_free(struct px_frame_map *m);

/* The codestream of frame f: borrowed when it is one item, else joined
 * into *out_owned (free() it). */
int px_frame_codestream(dcx_ds *ds, const struct px_frame_map *m,
                        uint32_t f, const uint8_t **out_data,
                        size_t *out_len, uint8_t **out_owned);

/* Where a codec writes: rows x cols x samples, interleaved, each sample the
 * raw value in a host-order container of `bytes` (1, 2 or 4). */
struct px_target {
    uint32_t rows, cols;
    uint16_t samples;
    uint16_t bytes;
    uint16_t bits_stored; /* DICOM Bits Stored: range to clamp to */
    int is_signed;        /* DICOM Pixel Representation */
    void *buf;
    size_t len;
};

/* Sample precision of a JPEG codestream's SOF, -1 if there is none, -2 if
 * a TEM marker precedes it (valid, never used, and hangs DCMTK). */
int px_jpeg_precision(const uint8_t *data, size_t len);

/* 1 if DCMTK's JPEG decoder can scan this stream to its SOF without
 * looping (see jpeg_turbo.c); 0 to refuse it. */
int px_jpeg_dcmtk_safe(const uint8_t *data, size_t len);

/* Checks an RLE frame header (PS3.5 G.5) before DCMTK reads it: segment
 * count as expected, offsets ascending inside the fragment. DCMTK 3.6.7
 * uses the offsets unchecked. */
int px_rle_header_ok(const uint8_t *data, size_t len, unsigned segments);

/* libjpeg-turbo (8-bit JPEG). Colour streams come out as RGB, converted
 * from YCbCr when the stream is YCbCr; assume_rgb treats a stream with no
 * JFIF/Adobe marker as RGB (DICOM photometric RGB). DCX_EUNSUPPORTED for
 * precision other than 8 (Debian 12's libjpeg-turbo 2.1 has no 12-bit). */
int px_jpeg_decode(const uint8_t *data, size_t len, int assume_rgb,
                   const struct px_target *t, char *err, size_t errlen);

/* OpenJPEG (JPEG 2000 / HTJ2K codestream or JP2 file). Inverse MCT is
 * applied when the codestream says so (YBR_RCT/ICT come out as RGB).
 * Values are written as their two's-complement bit pattern. */
int px_j2k_decode(const uint8_t *data, size_t len, const struct px_target *t,
                  char *err, size_t errlen);

#endif
