/* record_fast.c - the index record read straight from the bytes of a
 * Part-10 file in explicit VR little endian (what nearly every received
 * instance is), without building a DCMTK dataset: C-STORE of small
 * instances spent ~70 us per instance in the full parse.
 *
 * Only the plain case is handled; anything else returns 1 and the caller
 * uses the full parse (record.c), which stays the reference:
 *  - other transfer syntaxes (implicit VR, big endian, deflate);
 *  - any byte >= 0x80 or ESC in the values before the pixel data (then
 *    the character set decides what the text is; the full parse applies
 *    declared, assumed and guessed character sets);
 *  - a declared character set that is not ASCII-compatible;
 *  - undefined-length UN, malformed lengths, values beyond what was read.
 * CONSORT_RECORD_CHECK=1 makes serve compare both on every instance. */
#define _GNU_SOURCE
#include "record.h"

#include "nd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcx/tags.h"

#define HEAD_MAX (256 * 1024)

struct span {
    const uint8_t *p;
    uint32_t n;
    int present;
};

/* the elements the record wants, in tag order */
static const uint32_t wanted[] = {
    DCX_TAG(0x0008, 0x0005), DCX_TAG(0x0008, 0x0016),
    DCX_TAG(0x0008, 0x0018), DCX_TAG(0x0008, 0x0020),
    DCX_TAG(0x0008, 0x0030), DCX_TAG(0x0008, 0x0050),
    DCX_TAG(0x0008, 0x0060), DCX_TAG(0x0008, 0x0090),
    DCX_TAG(0x0008, 0x1030), DCX_TAG(0x0008, 0x103E),
    DCX_TAG(0x0010, 0x0010), DCX_TAG(0x0010, 0x0020),
    DCX_TAG(0x0010, 0x0021), DCX_TAG(0x0010, 0x0030),
    DCX_TAG(0x0010, 0x0040), DCX_TAG(0x0018, 0x0015),
    DCX_TAG(0x0020, 0x000D), DCX_TAG(0x0020, 0x000E),
    DCX_TAG(0x0020, 0x0010), DCX_TAG(0x0020, 0x0011),
    DCX_TAG(0x0020, 0x0013), DCX_TAG(0x0028, 0x0008),
    DCX_TAG(0x0028, 0x0010), DCX_TAG(0x0028, 0x0011),
};
#define N_WANTED (sizeof wanted / sizeof wanted[0])

static uint16_t u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static int long_form(const uint8_t *vr)
{
    static const char *const v[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                    "SV", "UC", "UN", "UR", "UT", "UV"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (vr[0] == (uint8_t)v[i][0] && vr[1] == (uint8_t)v[i][1])
            return 1;
    return 0;
}

static int is_text_vr(const uint8_t *vr)
{
    static const char *const v[] = {"AE", "AS", "CS", "DA", "DS", "DT", "IS",
                                    "LO", "LT", "PN", "SH", "ST", "TM", "UC",
                                    "UI", "UR", "UT"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (vr[0] == (uint8_t)v[i][0] && vr[1] == (uint8_t)v[i][1])
            return 1;
    return 0;
}

/* 1 if any byte would need the character set: >= 0x80 or ESC */
static int needs_charset(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x80 || p[i] == 0x1B)
            return 1;
    return 0;
}

/* Skips the items of an undefined-length sequence starting at *pos (after
 * the sequence header), up to and including its delimiter. 0 or -1. */
static int skip_items(const uint8_t *b, size_t n, size_t *pos, int depth);

/* Walks explicit VR elements of one item until its delimiter (undefined
 * length item) or end. 0 or -1. */
static int skip_elements(const uint8_t *b, size_t n, size_t *pos, size_t end,
                         int depth)
{
    if (depth > 16)
        return -1;
    while (*pos < end) {
        if (*pos + 8 > n)
            return -1;
        const uint8_t *h = b + *pos;
        uint16_t g = u16(h), e = u16(h + 2);
        if (g == 0xFFFE) {
            if (e == 0xE00D && end == SIZE_MAX) { /* item delimiter */
                *pos += 8;
                return 0;
            }
            return -1;
        }
        size_t hl = long_form(h + 4) ? 12 : 8;
        if (*pos + hl > n)
            return -1;
        uint32_t len = hl == 12 ? u32(h + 8) : u16(h + 6);
        *pos += hl;
        if (len == 0xFFFFFFFFu) {
            if (h[4] != 'S' || h[5] != 'Q')
                return -1;
            if (skip_items(b, n, pos, depth + 1) < 0)
                return -1;
            continue;
        }
        if (*pos + len > n)
            return -1;
        if (needs_charset(b + *pos, len))
            return -1;
        *pos += len;
    }
    return *pos == end || end == SIZE_MAX ? 0 : -1;
}

static int skip_items(const uint8_t *b, size_t n, size_t *pos, int depth)
{
    if (depth > 16)
        return -1;
    for (;;) {
        if (*pos + 8 > n)
            return -1;
        const uint8_t *h = b + *pos;
        if (u16(h) != 0xFFFE)
            return -1;
        uint16_t e = u16(h + 2);
        uint32_t len = u32(h + 4);
        *pos += 8;
        if (e == 0xE0DD) /* sequence delimiter */
            return 0;
        if (e != 0xE000)
            return -1;
        if (len == 0xFFFFFFFFu) {
            if (skip_elements(b, n, pos, SIZE_MAX, depth + 1) < 0)
                return -1;
        } else {
            if (*pos + len > n)
                return -1;
            size_t end = *pos + len;
            if (skip_elements(b, n, pos, end, depth + 1) < 0)
                return -1;
        }
    }
}

/* The value as dcx_item_get_str gives it for ASCII text: trailing spaces
 * and NULs dropped, leading spaces too except for LT/ST/UT, and for PN the
 * empty trailing components and groups. */
static const char *text_of(const struct span *s, const char *vr, char *buf,
                           size_t len)
{
    size_t n = s->present ? s->n : 0;
    const uint8_t *p = s->present ? s->p : (const uint8_t *)"";
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
        n--;
    int keep_leading = strcmp(vr, "LT") == 0 || strcmp(vr, "ST") == 0 ||
                       strcmp(vr, "UT") == 0;
    if (!keep_leading)
        while (n > 0 && *p == ' ') {
            p++;
            n--;
        }
    if (strcmp(vr, "PN") == 0)
        while (n > 0 && (p[n - 1] == '=' || p[n - 1] == '^' ||
                         p[n - 1] == ' '))
            n--;
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static const char *date_of(const struct span *s, char *buf, size_t len)
{
    return nd_digits_only((char *)text_of(s, "DA", buf, len));
}

/* First value of an IS as dcx_item_get_int reads it; -1 if absent, empty
 * or not a non-negative integer that fits. */
static int is_of(const struct span *s)
{
    if (!s->present || s->n == 0)
        return -1;
    char v[64];
    size_t n = s->n < sizeof v - 1 ? s->n : sizeof v - 1;
    memcpy(v, s->p, n);
    v[n] = '\0';
    char *bs = strchr(v, '\\');
    if (bs)
        *bs = '\0';
    char *p = v;
    while (*p == ' ')
        p++;
    size_t l = strlen(p);
    while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\0'))
        p[--l] = '\0';
    if (!*p)
        return -1;
    char *end;
    double d = strtod(p, &end);
    if (end == p || *end || d != (double)(long long)d || d < 0 ||
        d > 0x7FFFFFFF)
        return -1;
    return (int)d;
}

int nd_record_fast(const char *path, int fd_in, struct nd_record *o)
{
    /* the receiver's own descriptor when there is one: re-opening through
     * /proc/self/fd costs a path walk in procfs */
    int fd = fd_in >= 0 ? fd_in : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    /* a buffer the size of a small file: 256 KB for every instance would
     * be an mmap and munmap each time */
    struct stat st;
    size_t want = fstat(fd, &st) == 0 && st.st_size > 0 &&
                          (uint64_t)st.st_size < HEAD_MAX
                      ? (size_t)st.st_size
                      : HEAD_MAX;
    uint8_t *b = malloc(want);
    ssize_t got = b ? pread(fd, b, want, 0) : -1;
    if (fd != fd_in)
        close(fd);
    int rc = 1;
    if (got < 144 || memcmp(b + 128, "DICM", 4) != 0)
        goto out;
    size_t n = (size_t)got, pos = 132;
    char ts[64] = "";
    /* file meta: explicit VR little endian, group 0002 */
    while (pos + 8 <= n && u16(b + pos) == 0x0002) {
        const uint8_t *h = b + pos;
        size_t hl = long_form(h + 4) ? 12 : 8;
        if (pos + hl > n)
            goto out;
        uint32_t len = hl == 12 ? u32(h + 8) : u16(h + 6);
        if (len == 0xFFFFFFFFu || pos + hl + len > n)
            goto out;
        if (u16(h + 2) == 0x0010 && len < sizeof ts) {
            memcpy(ts, h + hl, len);
            ts[len] = '\0';
        }
        pos += hl + len;
    }
    size_t tl = strlen(ts);
    while (tl > 0 && (ts[tl - 1] == '\0' || ts[tl - 1] == ' '))
        ts[--tl] = '\0';
    /* explicit VR little endian data sets: the native one and every
     * encapsulated syntax; not implicit, big endian or deflated */
    if (!(strcmp(ts, "1.2.840.10008.1.2.1") == 0 ||
          (strncmp(ts, "1.2.840.10008.1.2.4.", 20) == 0) ||
          strcmp(ts, "1.2.840.10008.1.2.5") == 0))
        goto out;
    struct span sp[N_WANTED];
    char vrs[N_WANTED][3];
    memset(sp, 0, sizeof sp);
    memset(vrs, 0, sizeof vrs);
    size_t w = 0;
    int at_pixels = 0;
    uint32_t last = 0;
    while (pos + 8 <= n) {
        const uint8_t *h = b + pos;
        uint32_t tag = (uint32_t)u16(h) << 16 | u16(h + 2);
        if (tag == DCX_TAG(0x7FE0, 0x0010)) {
            at_pixels = 1;
            break;
        }
        /* out of order or repeated: DCMTK sorts them; the full parse */
        if (tag <= last)
            goto out;
        last = tag;
        if ((tag >> 16) == 0xFFFE || h[4] < 'A' || h[4] > 'Z' ||
            h[5] < 'A' || h[5] > 'Z')
            goto out;
        size_t hl = long_form(h + 4) ? 12 : 8;
        if (pos + hl > n)
            goto out;
        uint32_t len = hl == 12 ? u32(h + 8) : u16(h + 6);
        pos += hl;
        if (len == 0xFFFFFFFFu) {
            if (h[4] != 'S' || h[5] != 'Q' || skip_items(b, n, &pos, 0) < 0)
                goto out;
            continue;
        }
        if (pos + len > n)
            goto out;
        /* any 8-bit text: the character set decides (full parse) */
        if ((is_text_vr(h + 4) || (h[4] == 'S' && h[5] == 'Q')) &&
            needs_charset(b + pos, len))
            goto out;
        while (w < N_WANTED && wanted[w] < tag)
            w++;
        if (w < N_WANTED && wanted[w] == tag) {
            sp[w] = (struct span){b + pos, len, 1};
            vrs[w][0] = (char)h[4];
            vrs[w][1] = (char)h[5];
        }
        pos += len;
    }
    /* the whole data set before the pixel data must have been read */
    if (!at_pixels && (pos != n || n == HEAD_MAX || n != want))
        goto out;
    /* a declared character set must leave ASCII as it is */
    char cs[64];
    text_of(&sp[0], "CS", cs, sizeof cs);
    if (cs[0] && strcmp(cs, "ISO_IR 6") && strcmp(cs, "ISO_IR 100") &&
        strcmp(cs, "ISO_IR 192") && strcmp(cs, "GB18030") &&
        strcmp(cs, "GBK") && strcmp(cs, "ISO_IR 101") &&
        strcmp(cs, "ISO_IR 144"))
        goto out;
    /* Rows, Columns must be US; other wanted elements text */
    for (size_t i = 0; i < N_WANTED; i++) {
        int us = wanted[i] == DCX_TAG(0x0028, 0x0010) ||
                 wanted[i] == DCX_TAG(0x0028, 0x0011);
        if (sp[i].present && (us ? strcmp(vrs[i], "US") != 0 || sp[i].n != 2
                                 : !is_text_vr((const uint8_t *)vrs[i])))
            goto out;
    }
    memset(o, 0, sizeof *o);
    struct nd_instance_rec *x = &o->r;
    snprintf(o->charset, sizeof o->charset, "%s", cs);
    x->charset = o->charset;
    x->sop_class = text_of(&sp[1], "UI", o->sop_class, sizeof o->sop_class);
    x->sop_uid = text_of(&sp[2], "UI", o->sop_uid, sizeof o->sop_uid);
    x->study_date = date_of(&sp[3], o->study_date, sizeof o->study_date);
    x->study_time = text_of(&sp[4], "TM", o->study_time, sizeof o->study_time);
    x->accession = text_of(&sp[5], "SH", o->accession, sizeof o->accession);
    x->modality = text_of(&sp[6], "CS", o->modality, sizeof o->modality);
    x->referring = text_of(&sp[7], "PN", o->referring, sizeof o->referring);
    x->study_desc = text_of(&sp[8], "LO", o->study_desc, sizeof o->study_desc);
    x->series_desc = text_of(&sp[9], "LO", o->series_desc,
                             sizeof o->series_desc);
    x->patient_name = text_of(&sp[10], "PN", o->patient_name,
                              sizeof o->patient_name);
    x->patient_id = text_of(&sp[11], "LO", o->patient_id,
                            sizeof o->patient_id);
    x->issuer = text_of(&sp[12], "LO", o->issuer, sizeof o->issuer);
    x->birth_date = date_of(&sp[13], o->birth_date, sizeof o->birth_date);
    x->sex = text_of(&sp[14], "CS", o->sex, sizeof o->sex);
    x->body_part = text_of(&sp[15], "CS", o->body_part, sizeof o->body_part);
    x->study_uid = text_of(&sp[16], "UI", o->study_uid, sizeof o->study_uid);
    x->series_uid = text_of(&sp[17], "UI", o->series_uid,
                            sizeof o->series_uid);
    x->study_id = text_of(&sp[18], "SH", o->study_id, sizeof o->study_id);
    x->series_number = is_of(&sp[19]);
    x->instance_number = is_of(&sp[20]);
    x->frames = is_of(&sp[21]);
    x->rows = sp[22].present ? (int)u16(sp[22].p) : -1;
    x->columns = sp[23].present ? (int)u16(sp[23].p) : -1;
    snprintf(o->ts, sizeof o->ts, "%s", ts);
    x->transfer_syntax = o->ts;
    rc = o->sop_uid[0] && o->sop_class[0] ? 0 : 1;
out:
    free(b);
    return rc;
}
