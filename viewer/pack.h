/* pack.h - decoded pixels kept losslessly packed in memory: each pixel's
 * bytes split into planes (a CT's high bytes hardly vary), a block of
 * pixels at a time (scratch space stays small for a 40 MB mammogram),
 * then zstd at level 1. A 512x512 CT slice packs to about a third of its
 * size in about 0.8 ms and unpacks in about 0.3 ms, so a series costs
 * well under its decoded size while the slice on screen is unpacked only
 * when it changes. No SDL, no GL. A packer is used by one thread at a
 * time. */
#ifndef VW_PACK_H
#define VW_PACK_H

#include <stddef.h>

typedef struct vw_packer vw_packer;

/* NULL if out of memory. */
vw_packer *vw_packer_create(void);
void vw_packer_destroy(vw_packer *p); /* NULL is a no-op */

/* The packed form of n bytes of pixels of `stride` bytes each (samples x
 * bytes per sample; n a multiple of it): malloc'd (free it), its size in
 * *out_len. NULL when packing would not save an eighth (keep the pixels
 * as they are) or memory ran out. */
void *vw_pack(vw_packer *p, const void *px, size_t n, size_t stride,
              size_t *out_len);

/* Unpacks what vw_pack made of n bytes with that stride into px. 0, or -1
 * if the packed bytes are not that (damaged memory) or memory ran out. */
int vw_unpack(vw_packer *p, const void *packed, size_t len, void *px,
              size_t n, size_t stride);

#endif
