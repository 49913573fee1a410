/* test_pack.c - viewer/pack.c: what the viewer keeps of a decoded slice
 * comes back bit for bit, for every pixel layout it shows (16-bit grey,
 * 8-bit RGB, 16-bit RGB, 32-bit, odd sizes), a noisy CT slice packs to
 * under half its size, and what would not shrink is left as it is. */
#include <stdint.h>
#include <stdlib.h>

#include "pack.h"
#include "t.h"

static uint32_t rng = 12345;
static uint32_t next(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* a CT-like slice: a disc of tissue (stored 1024 +- noise) on padding */
static void ct_slice(int16_t *px, int w, int h)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int dx = x - w / 2, dy = y - h / 2;
            int noise = (int)(next() % 41) - 20;
            px[y * w + x] = dx * dx + dy * dy < (w / 2) * (w / 2)
                                ? (int16_t)(1024 + noise + x / 8)
                                : -2000;
        }
}

/* packs n bytes with stride, unpacks, compares; the packed size or 0 */
static size_t round_trip(vw_packer *p, const void *px, size_t n,
                         size_t stride)
{
    size_t len = 0;
    void *pk = vw_pack(p, px, n, stride, &len);
    if (!pk)
        return 0;
    uint8_t *back = malloc(n);
    CHECK(back && vw_unpack(p, pk, len, back, n, stride) == 0 &&
          memcmp(back, px, n) == 0);
    /* a truncated or mis-sized packed form is refused, never misread */
    CHECK(vw_unpack(p, pk, len / 2, back, n, stride) < 0);
    CHECK(n < stride * 2 ||
          vw_unpack(p, pk, len, back, n - stride, stride) < 0);
    free(back);
    free(pk);
    return len;
}

int main(void)
{
    vw_packer *p = vw_packer_create();
    CHECK(p != NULL);
    if (!p)
        return T_DONE();

    /* a 512x512 CT slice: less than half its size */
    enum { W = 512, H = 512 };
    int16_t *ct = malloc(sizeof *ct * W * H);
    ct_slice(ct, W, H);
    size_t len = round_trip(p, ct, sizeof *ct * W * H, 2);
    printf("  CT slice 512x512: %zu -> %zu bytes\n", sizeof *ct * W * H, len);
    CHECK(len > 0 && len < sizeof *ct * W * H / 2);

    /* odd sizes and other strides through the same packer (its buffers
     * grow and shrink in use) */
    ct_slice(ct, 33, 17);
    CHECK(round_trip(p, ct, 2 * 33 * 17, 2) > 0);
    uint8_t *rgb = malloc(3 * 101 * 37);
    for (int i = 0; i < 101 * 37; i++) { /* grey ultrasound in RGB */
        uint8_t v = (uint8_t)(i % 101 < 50 ? 0 : next() % 16 + i / 101);
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
    }
    CHECK(round_trip(p, rgb, 3 * 101 * 37, 3) > 0);
    CHECK(round_trip(p, rgb, 3 * 101 * 37, 1) > 0);
    /* 16-bit RGB (stride 6) and 32-bit grey (stride 4) */
    CHECK(round_trip(p, ct, 2 * 33 * 16, 6) > 0);
    CHECK(round_trip(p, ct, 2 * 33 * 16, 4) > 0);

    /* sizes that end part-way through a block of pixels (planes are
     * split a block at a time) */
    enum { BW = 1000, BH = 333 };
    int16_t *big = malloc(sizeof *big * BW * BH);
    ct_slice(big, BW, BH);
    CHECK(round_trip(p, big, sizeof *big * BW * BH, 2) > 0);
    uint8_t *rgb2 = malloc(3 * 300 * 250);
    for (int i = 0; i < 300 * 250; i++)
        rgb2[3 * i] = rgb2[3 * i + 1] = rgb2[3 * i + 2] = (uint8_t)(i / 300);
    CHECK(round_trip(p, rgb2, 3 * 300 * 250, 3) > 0);
    free(rgb2);
    free(big);

    /* noise does not shrink: kept as decoded (NULL) */
    uint8_t *noise = malloc(65536);
    for (int i = 0; i < 65536; i++)
        noise[i] = (uint8_t)next();
    size_t nl = 0;
    CHECK(vw_pack(p, noise, 65536, 2, &nl) == NULL);
    /* a size that is not whole pixels is refused */
    CHECK(vw_pack(p, ct, 2 * 33 * 17 + 1, 2, &nl) == NULL);
    CHECK(vw_pack(p, ct, 64, 0, &nl) == NULL);

    free(noise);
    free(rgb);
    free(ct);
    vw_packer_destroy(p);
    vw_packer_destroy(NULL);
    return T_DONE();
}
