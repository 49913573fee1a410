/* shim.h - private C interface between the C parts of libconsort-dicom
 * (pixel.c, frames.c, codecs) and the DCMTK shim (the .cc files in dcmtk/). Not
 * installed; no C++ types. Same thread rule as the dcx_ds it takes. */
#ifndef DCX_SHIM_H
#define DCX_SHIM_H

#include "dcx/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Records a one-line failure detail on ds (printf-style); returns err so
 * callers can `return dcx_ds_fail(ds, DCX_EBADDATA, "...")`. */
int dcx_ds_fail(dcx_ds *ds, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* printf into e->msg; e may be NULL. The one writer of struct dcx_error
 * for the dataset and network shims. */
void dcx_err_set(struct dcx_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Per-ds slot for pixel.c's cached state; fn frees it on close. */
void **dcx_ds_pixel_slot(dcx_ds *ds);
void dcx_ds_set_pixel_free(dcx_ds *ds, void (*fn)(void *));

/* Called by dcx_init(): registers DCMTK codecs and its log routing. */
int dcx_shim_init(int max_level);
/* Sets DCMTK's logger level to match ours. */
void dcx_shim_log_level(int max_level);

/* 1 if (7FE0,0010) is present, 0 if not; encapsulated = 1 when it is a
 * pixel sequence. Length of native data in bytes. */
int dcx_shim_pixel_present(dcx_ds *ds, int *out_encapsulated,
                           size_t *out_native_len);

/* Copies len bytes at offset of native pixel data into buf, as 16-bit
 * host-order words for OW in a big-endian transfer syntax (byte order is
 * otherwise as stored: little endian). */
int dcx_shim_native_read(dcx_ds *ds, size_t offset, void *buf, size_t len);

/* Items of the pixel sequence: item 0 is the Basic Offset Table. */
int dcx_shim_frag_count(dcx_ds *ds);
int dcx_shim_frag_get(dcx_ds *ds, unsigned idx, const uint8_t **out_data,
                      size_t *out_len);

/* Decodes one frame with DCMTK's registered decoders (RLE, JPEG lossless
 * and 12-bit, JPEG-LS), starting at pixel item first_frag. Output is host
 * byte order; colour-by-pixel for JPEG/JPEG-LS, as the dataset's Planar
 * Configuration says for RLE. out_color_model gets DCMTK's photometric. */
int dcx_shim_dcmtk_decode(dcx_ds *ds, uint32_t frame, unsigned first_frag,
                          void *buf, size_t len, char out_color_model[20]);

#ifdef __cplusplus
}
#endif
#endif
