/* pack.c - byte planes + zstd for decoded pixels (pack.h). */
#include "pack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

struct vw_packer {
    ZSTD_CCtx *cc;
    ZSTD_DCtx *dc;
    uint8_t *planes; /* the pixels as byte planes */
    size_t planes_cap;
    uint8_t *out; /* the compressor's output, before its exact copy */
    size_t out_cap;
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
    free(p->out);
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

void *vw_pack(vw_packer *p, const void *px, size_t n, size_t stride,
              size_t *out_len)
{
    if (stride == 0 || n % stride != 0)
        return NULL;
    const void *src = px;
    if (stride > 1) {
        if (grow(&p->planes, &p->planes_cap, n) < 0)
            return NULL;
        split(px, n, stride, p->planes);
        src = p->planes;
    }
    size_t bound = ZSTD_compressBound(n);
    if (grow(&p->out, &p->out_cap, bound) < 0)
        return NULL;
    size_t len = ZSTD_compressCCtx(p->cc, p->out, bound, src, n, 1);
    if (ZSTD_isError(len) || len > n - n / 8)
        return NULL;
    void *packed = malloc(len);
    if (!packed)
        return NULL;
    memcpy(packed, p->out, len);
    *out_len = len;
    return packed;
}

int vw_unpack(vw_packer *p, const void *packed, size_t len, void *px,
              size_t n, size_t stride)
{
    if (stride == 0 || n % stride != 0)
        return -1;
    uint8_t *dst = px;
    if (stride > 1) {
        if (grow(&p->planes, &p->planes_cap, n) < 0)
            return -1;
        dst = p->planes;
    }
    size_t got = ZSTD_decompressDCtx(p->dc, dst, n, packed, len);
    if (ZSTD_isError(got) || got != n)
        return -1;
    if (stride > 1)
        join(p->planes, n, stride, px);
    return 0;
}
