/* nesting.c - the sequence-depth pre-scan (nesting.h). Element headers
 * only: values are skipped by their lengths, so a large image costs a
 * few jumps. */
#include "nesting.h"

#include <string.h>
#include <zlib.h>

enum { K_SEQ = 1, K_ITEM, K_FRAG, K_MAYBE };

#define UNDEF 0xFFFFFFFFu
#define OPEN UINT64_MAX

static uint16_t rd16(const uint8_t *p, int be)
{
    return be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t rd32(const uint8_t *p, int be)
{
    return be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                    (uint32_t)p[2] << 8 | p[3]
              : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
                    (uint32_t)p[1] << 8 | p[0];
}

static int is_vr(const uint8_t *v)
{
    return v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z';
}

/* VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2) */
static int long_vr(const uint8_t *v)
{
    static const char l[][3] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                "SV", "UC", "UN", "UR", "UT", "UV"};
    for (size_t i = 0; i < sizeof l / sizeof l[0]; i++)
        if (v[0] == l[i][0] && v[1] == l[i][1])
            return 1;
    return 0;
}

void dcx_nest_init(struct dcx_nest *s, int implicit, int big_endian,
                   int detect)
{
    memset(s, 0, sizeof *s);
    s->implicit = implicit;
    s->big_endian = big_endian;
    s->detect = detect;
}

static int push(struct dcx_nest *s, int kind, int implicit, uint64_t end)
{
    if (s->sp >= (int)(sizeof s->st / sizeof s->st[0])) {
        s->stopped = 1;
        return -1;
    }
    if (kind == K_SEQ && ++s->depth > s->max_depth) {
        s->max_depth = s->depth;
        if (s->depth > DCX_MAX_NESTING) {
            s->stopped = 1;
            return -1;
        }
    }
    s->st[s->sp++] = (struct dcx_nest_frame){(uint8_t)kind, (uint8_t)implicit,
                                             end};
    return 0;
}

static void pop(struct dcx_nest *s)
{
    if (s->st[s->sp - 1].kind == K_SEQ)
        s->depth--;
    s->sp--;
}

/* One complete header in s->hdr (got bytes, pos already past it). */
static int header(struct dcx_nest *s)
{
    struct dcx_nest_frame *top = s->sp ? &s->st[s->sp - 1] : NULL;
    int implicit = top ? top->implicit : s->implicit;
    int be = s->big_endian && !implicit;
    uint16_t g = rd16(s->hdr, be), e = rd16(s->hdr + 2, be);
    if (top && top->kind == K_MAYBE) {
        /* implicit VR, defined length: a sequence if it holds items */
        if (g == 0xFFFE && e == 0xE000) {
            top->kind = K_SEQ;
            if (++s->depth > s->max_depth)
                s->max_depth = s->depth;
            if (s->depth > DCX_MAX_NESTING) {
                s->stopped = 1;
                return -1;
            }
        } else {
            uint64_t end = top->end;
            s->sp--;
            s->skip = end > s->pos ? end - s->pos : 0;
            s->got = 0;
            return 0;
        }
    }
    s->got = 0;
    if (g == 0xFFFE) {
        uint32_t len = rd32(s->hdr + 4, be);
        if (e == 0xE000) {
            if (top && top->kind == K_FRAG) {
                if (len == UNDEF)
                    s->stopped = 2;
                else
                    s->skip = len;
                return 0;
            }
            if (!top || top->kind != K_SEQ) {
                s->stopped = 2;
                return 0;
            }
            return push(s, K_ITEM, top->implicit,
                        len == UNDEF ? OPEN : s->pos + len);
        }
        if (e == 0xE00D && top && top->kind == K_ITEM && top->end == OPEN) {
            pop(s);
            return 0;
        }
        if (e == 0xE0DD && top && (top->kind == K_SEQ || top->kind == K_FRAG)) {
            pop(s);
            return 0;
        }
        s->stopped = 2;
        return 0;
    }
    if (top && (top->kind == K_SEQ || top->kind == K_FRAG)) {
        s->stopped = 2; /* an element where an item belongs */
        return 0;
    }
    if (implicit) {
        uint32_t len = rd32(s->hdr + 4, 0);
        if (len == UNDEF)
            return push(s, g == 0x7FE0 && e == 0x0010 ? K_FRAG : K_SEQ, 1,
                        OPEN);
        if (len >= 8)
            return push(s, K_MAYBE, 1, s->pos + len);
        s->skip = len;
        return 0;
    }
    const uint8_t *vr = s->hdr + 4;
    uint32_t len = long_vr(vr) ? rd32(s->hdr + 8, be) : rd16(s->hdr + 6, be);
    if (vr[0] == 'S' && vr[1] == 'Q')
        return push(s, K_SEQ, 0, len == UNDEF ? OPEN : s->pos + len);
    if (len == UNDEF) {
        if (vr[0] == 'U' && vr[1] == 'N') /* contents: implicit VR LE */
            return push(s, K_SEQ, 1, OPEN);
        if (vr[0] == 'O' && (vr[1] == 'B' || vr[1] == 'W'))
            return push(s, K_FRAG, 0, OPEN);
        s->stopped = 2;
        return 0;
    }
    s->skip = len;
    return 0;
}

int dcx_nest_feed(struct dcx_nest *s, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && !s->stopped) {
        if (s->skip) {
            uint64_t take = s->skip < n - i ? s->skip : n - i;
            i += (size_t)take;
            s->pos += take;
            s->skip -= take;
            continue;
        }
        if (s->got == 0) /* an element boundary: close what ended here */
            while (s->sp && s->st[s->sp - 1].end != OPEN &&
                   s->pos >= s->st[s->sp - 1].end)
                pop(s);
        /* header bytes one at a time: 8, or 12 for a long explicit VR */
        s->hdr[s->got++] = p[i++];
        s->pos++;
        if (s->got < 8 || (s->got > 8 && s->got < 12))
            continue;
        if (s->got == 8) {
            if (s->detect) {
                s->implicit = !is_vr(s->hdr + 4);
                s->detect = 0;
            }
            int implicit = s->sp ? s->st[s->sp - 1].implicit : s->implicit;
            if (!implicit && rd16(s->hdr, s->big_endian) != 0xFFFE) {
                if (!is_vr(s->hdr + 4)) {
                    s->stopped = 2; /* not explicit VR after all */
                    break;
                }
                if (long_vr(s->hdr + 4))
                    continue; /* 4 more */
            }
        }
        if (header(s) < 0)
            return -1;
    }
    return s->stopped == 1 ? -1 : 0;
}

/* Transfer syntax of a Part-10 meta group starting at off; the offset of
 * the data set in *ds_off. 0, or -1 if the meta group is unreadable. */
static int meta_ts(const uint8_t *p, size_t n, size_t off, char *ts,
                   size_t tslen, size_t *ds_off)
{
    ts[0] = '\0';
    while (off + 8 <= n && rd16(p + off, 0) == 0x0002) {
        uint16_t e = rd16(p + off + 2, 0);
        const uint8_t *vr = p + off + 4;
        size_t hl = 8, len;
        if (!is_vr(vr))
            return -1;
        if (long_vr(vr)) {
            if (off + 12 > n)
                return -1;
            len = rd32(p + off + 8, 0);
            hl = 12;
        } else {
            len = rd16(p + off + 6, 0);
        }
        if (len == UNDEF || len > n - off - hl)
            return -1;
        if (e == 0x0010) {
            size_t k = len < tslen - 1 ? len : tslen - 1;
            memcpy(ts, p + off + hl, k);
            while (k && (ts[k - 1] == '\0' || ts[k - 1] == ' '))
                k--;
            ts[k] = '\0';
        }
        off += hl + len;
    }
    *ds_off = off;
    return 0;
}

static int check_deflated(const uint8_t *p, size_t n)
{
    struct dcx_nest s;
    dcx_nest_init(&s, 0, 0, 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
        return 0; /* DCMTK will say what is wrong */
    uint8_t out[65536];
    int rc = 0;
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
    for (;;) {
        z.next_out = out;
        z.avail_out = sizeof out;
        int zr = inflate(&z, Z_NO_FLUSH);
        size_t got = sizeof out - z.avail_out;
        if (got && dcx_nest_feed(&s, out, got) < 0) {
            rc = -1;
            break;
        }
        if (zr != Z_OK || s.stopped)
            break;
    }
    inflateEnd(&z);
    return rc;
}

int dcx_nest_check_buffer(const uint8_t *p, size_t n, int big_endian_hint)
{
    size_t off = 0;
    char ts[68] = "";
    int part10 = 0;
    if (n >= 132 && memcmp(p + 128, "DICM", 4) == 0) {
        part10 = 1;
        off = 132;
    } else if (n >= 8 && rd16(p, 0) == 0x0002 && is_vr(p + 4)) {
        part10 = 1; /* meta group without preamble */
    }
    struct dcx_nest s;
    if (part10) {
        if (meta_ts(p, n, off, ts, sizeof ts, &off) < 0)
            return 0;
        if (strcmp(ts, "1.2.840.10008.1.2.1.99") == 0)
            return check_deflated(p + off, n - off);
        dcx_nest_init(&s, 0, strcmp(ts, "1.2.840.10008.1.2.2") == 0,
                      strcmp(ts, "1.2.840.10008.1.2.2") != 0);
    } else {
        dcx_nest_init(&s, 0, big_endian_hint, 1);
    }
    if (dcx_nest_feed(&s, p + off, n - off) < 0)
        return -1;
    if (s.stopped)
        return 0; /* not followed to the end: DCMTK decides */
    /* at the end: what is still open ran past it */
    if (s.got == 0 && s.skip == 0)
        while (s.sp && s.st[s.sp - 1].end != OPEN && s.pos >= s.st[s.sp - 1].end)
            pop(&s);
    return s.skip || s.got || s.sp ? -2 : 0;
}
