/* pack.c - byte planes + zstd for decoded pixels (pack.h). */
#include "pack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* pixels split into planes and joined a block at a time: the scratch
 * space stays small whatever the image's size (a mammogram's 40 MB) */
#define BLOCK_PIXELS 65536

struct vw_packer {
    ZSTD_CCtx *cc;
    ZSTD_DCtx *dc;
    uint8_t *planes; /* one block's pixels as byte planes */
    size_t planes_cap;
};

vw_packer *vw_packer_create(void)
{
    vw_packer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cc = ZSTD_createCCtx();
    p->dc = ZSTD_createDCtx();
    if (!p->cc || !p->dc) {
        vw_packer_destroy(p);
        return NULL;
    }
    return p;
}

void vw_packer_destroy(vw_packer *p)
{
    if (!p)
        return;
    ZSTD_freeCCtx(p->cc);
    ZSTD_freeDCtx(p->dc);
    free(p->planes);
    free(p);
}

static int grow(uint8_t **buf, size_t *cap, size_t n)
{
    if (*cap >= n)
        return 0;
    uint8_t *b = realloc(*buf, n);
    if (!b)
        return -1;
    *buf = b;
    *cap = n;
    return 0;
}

/* byte k of pixel i goes to plane k: the planes of a 16-bit CT are its
 * noisy low bytes and its nearly constant high bytes */
static void split(const uint8_t *px, size_t n, size_t stride, uint8_t *pl)
{
    size_t count = n / stride;
    if (stride == 2) { /* the usual case, kept simple for the compiler */
        for (size_t i = 0; i < count; i++) {
            pl[i] = px[2 * i];
            pl[count + i] = px[2 * i + 1];
        }
        return;
    }
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < stride; k++)
            pl[k * count + i] = px[i * stride + k];
}

static void join(const uint8_t *pl, size_t n, size_t stride, uint8_t *px)
{
    size_t count = n / stride;
    if (stride == 2) {
        for (size_t i = 0; i < count; i++) {
            px[2 * i] = pl[i];
            px[2 * i + 1] = pl[count + i];
        }
        return;
    }
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < stride; k++)
            px[i * stride + k] = pl[k * count + i];
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

void *vw_pack(vw_packer *p, const void *px, size_t n, size_t stride,
              size_t *out_len)
{
    size_t cap = n - n / 8; /* what packing must save: an eighth */
    size_t block = BLOCK_PIXELS * stride;
    if (stride == 0 || n % stride != 0 || cap == 0 ||
        (stride > 1 && grow(&p->planes, &p->planes_cap,
                            min_size(block, n)) < 0))
        return NULL;
    /* allocated whole, touched only as far as written (a large block is
     * mapped on demand), then cut to size */
    uint8_t *out = malloc(cap);
    if (!out)
        return NULL;
    ZSTD_CCtx_reset(p->cc, ZSTD_reset_session_only);
    if (ZSTD_isError(ZSTD_CCtx_setParameter(p->cc, ZSTD_c_compressionLevel,
                                            1)) ||
        ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(p->cc, n)))
        goto fail;
    ZSTD_outBuffer o = {out, cap, 0};
    const uint8_t *src = px;
    for (size_t off = 0; off < n; off += block) {
        size_t len = min_size(block, n - off);
        int last = off + len == n;
        if (stride > 1)
            split(src + off, len, stride, p->planes);
        ZSTD_inBuffer in = {stride > 1 ? p->planes : src + off, len, 0};
        size_t r;
        do {
            r = ZSTD_compressStream2(p->cc, &o, &in,
                                     last ? ZSTD_e_end : ZSTD_e_continue);
            if (ZSTD_isError(r))
                goto fail;
            /* out full with more to come: it would not save an eighth */
            if (o.pos == o.size && (in.pos < in.size || (last && r)))
                goto fail;
        } while (last ? r != 0 : in.pos < in.size);
    }
    uint8_t *cut = realloc(out, o.pos ? o.pos : 1);
    *out_len = o.pos;
    return cut ? cut : out;
fail:
    free(out);
    return NULL;
}

int vw_unpack(vw_packer *p, const void *packed, size_t len, void *px,
              size_t n, size_t stride)
{
    size_t block = BLOCK_PIXELS * stride;
    if (stride == 0 || n % stride != 0 ||
        (stride > 1 &&
         grow(&p->planes, &p->planes_cap, min_size(block, n)) < 0))
        return -1;
    /* at once into px (streaming in blocks costs zstd a copy of all), then
     * each block's planes, which fill its own bytes, joined in place */
    size_t got = ZSTD_decompressDCtx(p->dc, px, n, packed, len);
    if (ZSTD_isError(got) || got != n)
        return -1;
    uint8_t *dst = px;
    for (size_t off = 0; stride > 1 && off < n; off += block) {
        size_t blen = min_size(block, n - off);
        memcpy(p->planes, dst + off, blen);
        join(p->planes, blen, stride, dst + off);
    }
    return 0;
}
