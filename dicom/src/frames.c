/* frames.c - which items of an encapsulated pixel sequence make up each
 * frame (PS3.5 A.4): needed for random access to frames of multi-frame
 * JPEG/J2K objects, whose items may be split and whose offset tables may be
 * empty. */
#include "pixel_int.h"
#include "shim.h"
#include "dcx/tags.h"

#include <stdlib.h>
#include <string.h>

static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static int starts_frame(const uint8_t *p, size_t n)
{
    static const uint8_t jp2[] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' '};
    if (n >= 2 && p[0] == 0xFF && p[1] == 0xD8)
        return 1; /* JPEG SOI (also JPEG-LS, lossless) */
    if (n >= 4 && p[0] == 0xFF && p[1] == 0x4F && p[2] == 0xFF &&
        p[3] == 0x51)
        return 1; /* J2K SOC + SIZ */
    if (n >= 8 && memcmp(p, jp2, 8) == 0)
        return 1;
    if (n >= 64 && rd32le(p) >= 1 && rd32le(p) <= 15 && rd32le(p + 4) == 64)
        return 1; /* RLE header: segment count, first offset 64 */
    return 0;
}

/* Maps byte offsets (from the first item's tag) to item indices. */
static int map_from_offsets(dcx_ds *ds, unsigned nitems, const uint64_t *off,
                            uint32_t frames, struct px_frame_map *m)
{
    uint64_t pos = 0;
    uint32_t f = 0;
    for (unsigned i = 1; i < nitems && f <= frames; i++) {
        const uint8_t *d;
        size_t len;
        if (dcx_shim_frag_get(ds, i, &d, &len) < 0)
            return -1;
        if (f < frames && pos == off[f]) {
            m->first[f] = i;
            if (f > 0)
                m->count[f - 1] = i - m->first[f - 1];
            f++;
        } else if (f < frames && pos > off[f]) {
            return -1;
        }
        pos += 8 + (uint64_t)len;
    }
    if (f != frames)
        return -1;
    m->count[frames - 1] = nitems - m->first[frames - 1];
    return 0;
}

int px_frames_map(dcx_ds *ds, uint32_t frames, struct px_frame_map *out)
{
    int n = dcx_shim_frag_count(ds);
    if (n < 0)
        return n;
    unsigned nitems = (unsigned)n;
    if (nitems < 2)
        return dcx_ds_fail(ds, DCX_EBADDATA,
                           "encapsulated pixel data has no fragments");
    struct px_frame_map m = {frames, calloc(frames, sizeof(uint32_t)),
                             calloc(frames, sizeof(uint32_t))};
    uint64_t *off = NULL;
    if (!m.first || !m.count)
        goto nomem;

    if (frames == 1) {
        m.first[0] = 1;
        m.count[0] = nitems - 1;
        goto done;
    }
    if (nitems - 1 == frames) {
        for (uint32_t f = 0; f < frames; f++) {
            m.first[f] = f + 1;
            m.count[f] = 1;
        }
        goto done;
    }
    off = calloc(frames, sizeof(uint64_t));
    if (!off)
        goto nomem;
    const uint8_t *bot;
    size_t bot_len;
    if (dcx_shim_frag_get(ds, 0, &bot, &bot_len) == 0 &&
        bot_len == 4 * (size_t)frames) {
        for (uint32_t f = 0; f < frames; f++)
            off[f] = rd32le(bot + 4 * f);
        if (map_from_offsets(ds, nitems, off, frames, &m) == 0)
            goto done;
    }
    const void *eot;
    size_t eot_len;
    if (dcx_item_get_bytes(dcx_ds_root(ds), DCX_TAG_EXTENDED_OFFSET_TABLE,
                           &eot, &eot_len) == 0 &&
        eot_len == 8 * (size_t)frames) {
        memcpy(off, eot, eot_len); /* OV, host order */
        if (map_from_offsets(ds, nitems, off, frames, &m) == 0)
            goto done;
    }
    /* No usable table: a frame starts at each item that opens with a
     * codestream start marker. */
    uint32_t f = 0;
    for (unsigned i = 1; i < nitems; i++) {
        const uint8_t *d;
        size_t len;
        int rc = dcx_shim_frag_get(ds, i, &d, &len);
        if (rc < 0) {
            px_frames_free(&m);
            free(off);
            return rc;
        }
        if (starts_frame(d, len)) {
            if (f == frames) {
                f++;
                break;
            }
            m.first[f++] = i;
        } else if (f == 0) {
            break;
        }
    }
    if (f != frames) {
        px_frames_free(&m);
        free(off);
        return dcx_ds_fail(ds, DCX_EBADDATA,
                           "cannot tell which of %u fragments belong to "
                           "which of %u frames (no usable offset table)",
                           nitems - 1, frames);
    }
    for (uint32_t k = 0; k + 1 < frames; k++)
        m.count[k] = m.first[k + 1] - m.first[k];
    m.count[frames - 1] = nitems - m.first[frames - 1];
done:
    free(off);
    *out = m;
    return 0;
nomem:
    px_frames_free(&m);
    return DCX_ENOMEM;
}

void px_frames_free(struct px_frame_map *m)
{
    free(m->first);
    free(m->count);
    m->first = m->count = NULL;
}

int px_frame_codestream(dcx_ds *ds, const struct px_frame_map *m,
                        uint32_t f, const uint8_t **out_data,
                        size_t *out_len, uint8_t **out_owned)
{
    *out_owned = NULL;
    if (f >= m->frames)
        return DCX_ERANGE;
    if (m->count[f] == 1)
        return dcx_shim_frag_get(ds, m->first[f], out_data, out_len);
    size_t total = 0;
    for (uint32_t i = 0; i < m->count[f]; i++) {
        const uint8_t *d;
        size_t len;
        int rc = dcx_shim_frag_get(ds, m->first[f] + i, &d, &len);
        if (rc < 0)
            return rc;
        total += len;
    }
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf)
        return DCX_ENOMEM;
    size_t pos = 0;
    for (uint32_t i = 0; i < m->count[f]; i++) {
        const uint8_t *d;
        size_t len;
        dcx_shim_frag_get(ds, m->first[f] + i, &d, &len);
        if (len)
            memcpy(buf + pos, d, len);
        pos += len;
    }
    *out_data = buf;
    *out_len = total;
    *out_owned = buf;
    return 0;
}

int px_rle_header_ok(const uint8_t *p, size_t len, unsigned segments)
{
    if (len < 64 || rd32le(p) != segments || segments < 1 || segments > 15)
        return 0;
    uint32_t prev = 64;
    for (unsigned i = 0; i < segments; i++) {
        uint32_t off = rd32le(p + 4 + 4 * i);
        if (off < prev || off >= len)
            return 0;
        prev = off;
    }
    return 1;
}
