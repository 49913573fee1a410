/* test_dataset.c - dcx/dataset.h and dcx/pixel.h on real files: open from
 * file and memory, bare datasets in both byte orders, typed getters,
 * sequences, errors, and save with a chosen transfer syntax followed by a
 * decode that must give the same samples. argv[1]: pydicom data folder,
 * argv[2]: scratch folder. */
#include "dcx/dataset.h"
#include "dcx/pixel.h"
#include "dcx/tags.h"
#include "dcx/uids.h"
#include "t.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static char data[512], work[512];

static dcx_ds *open_file(const char *rel)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", data, rel);
    dcx_ds *ds = NULL;
    struct dcx_error e;
    int rc = dcx_ds_open(p, NULL, &ds, &e);
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", p, e.msg);
    CHECK(rc == 0);
    return ds;
}

static void *decode_all(dcx_ds *ds, size_t *out_len)
{
    struct dcx_pixel_info pi;
    if (dcx_pixel_info_get(ds, NULL, &pi) < 0)
        return NULL;
    uint8_t *buf = malloc(pi.frame_bytes * pi.frames);
    for (uint32_t f = 0; buf && f < pi.frames; f++) {
        if (dcx_pixel_decode(ds, f, NULL, buf + f * pi.frame_bytes,
                             pi.frame_bytes) < 0) {
            fprintf(stderr, "decode: %s\n", dcx_ds_errmsg(ds));
            free(buf);
            return NULL;
        }
    }
    *out_len = pi.frame_bytes * pi.frames;
    return buf;
}

static void test_getters(void)
{
    dcx_ds *ds = open_file("test_files/CT_small.dcm");
    if (!ds)
        return;
    dcx_item *r = dcx_ds_root(ds);
    int64_t v;
    double d;
    char s[128], vr[3];
    CHECK(dcx_item_get_int(r, DCX_TAG_ROWS, 0, &v) == 0 && v == 128);
    CHECK(dcx_item_get_float(r, DCX_TAG_PIXEL_SPACING, 1, &d) == 0 &&
          d > 0.66 && d < 0.67);
    CHECK(dcx_item_vm(r, DCX_TAG_IMAGE_ORIENTATION_PATIENT) == 6);
    CHECK(dcx_item_get_float(r, DCX_TAG_IMAGE_ORIENTATION_PATIENT, 6, &d) ==
          DCX_ERANGE);
    CHECK(dcx_item_get_str(r, DCX_TAG_MODALITY, 0, s, sizeof s) == 2);
    CHECK_STR(s, "CT");
    CHECK(dcx_item_get_str(r, DCX_TAG_PATIENT_NAME, -1, s, 4) > 3);
    CHECK(strlen(s) == 3); /* truncated like snprintf */
    CHECK(dcx_item_vr(r, DCX_TAG_ROWS, vr) == 0);
    CHECK_STR(vr, "US");
    CHECK(dcx_item_has(r, DCX_TAG(0x0009, 0x9999)) == 0);
    CHECK(dcx_item_get_str(r, DCX_TAG(0x0009, 0x9999), 0, s, sizeof s) ==
          DCX_ENOTFOUND);
    CHECK_STR(dcx_ds_transfer_syntax(ds), DCX_TS_EXPLICIT_LE);
    struct dcx_modality_lut m;
    CHECK(dcx_pixel_modality_lut(ds, &m) == 0 && m.slope == 1.0 &&
          m.intercept == -1024.0);
    dcx_ds_close(ds);

    /* RT Dose: no rescale, Dose Grid Scaling gives the dose */
    ds = open_file("test_files/rtdose.dcm");
    if (!ds)
        return;
    CHECK(dcx_pixel_modality_lut(ds, &m) == 0 && m.slope == 1e-6 &&
          m.intercept == 0.0);
    CHECK_STR(m.rescale_type, "RELATIVE");
    dcx_ds_close(ds);

    /* sequences: an RT plan holds nested items */
    ds = open_file("test_files/rtplan.dcm");
    if (!ds)
        return;
    r = dcx_ds_root(ds);
    int n = dcx_item_seq_count(r, DCX_TAG(0x300A, 0x00B0)); /* Beam Seq */
    CHECK(n >= 1);
    dcx_item *beam;
    CHECK(dcx_item_seq_get(r, DCX_TAG(0x300A, 0x00B0), 0, &beam) == 0);
    CHECK(dcx_item_get_str(beam, DCX_TAG(0x300A, 0x00C2), 0, s, sizeof s) >
          0); /* Beam Name */
    dcx_item *again;
    CHECK(dcx_item_seq_get(r, DCX_TAG(0x300A, 0x00B0), 0, &again) == 0 &&
          again == beam);
    CHECK(dcx_item_seq_get(r, DCX_TAG(0x300A, 0x00B0), (unsigned)n,
                           &again) == DCX_ERANGE);
    CHECK(dcx_item_seq_count(r, DCX_TAG_PATIENT_NAME) == DCX_EBADDATA);
    dcx_ds_close(ds);
}

static void test_bare_and_memory(void)
{
    /* No preamble/meta, both byte orders: same patient as with meta. */
    const char *bare[] = {"test_files/ExplVR_BigEndNoMeta.dcm",
                          "test_files/ExplVR_LitEndNoMeta.dcm"};
    for (int i = 0; i < 2; i++) {
        dcx_ds *ds = open_file(bare[i]);
        char s[128];
        if (!ds)
            continue;
        CHECK(dcx_item_get_str(dcx_ds_root(ds), DCX_TAG_SOP_CLASS_UID, 0, s,
                               sizeof s) > 0);
        dcx_ds_close(ds);
    }
    /* memory buffer: bytes copied, decode equals the file's */
    char p[1024];
    snprintf(p, sizeof p, "%s/test_files/MR_small_RLE.dcm", data);
    FILE *f = fopen(p, "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    dcx_ds *a = NULL, *b = open_file("test_files/MR_small.dcm");
    CHECK(dcx_ds_open_mem(buf, n, NULL, &a, NULL) == 0);
    memset(buf, 0, n); /* must not matter */
    size_t la = 0, lb = 0;
    void *pa = a ? decode_all(a, &la) : NULL;
    void *pb = b ? decode_all(b, &lb) : NULL;
    CHECK(pa && pb && la == lb && memcmp(pa, pb, la) == 0);
    /* again: DCMTK drops decoded fragments and re-reads them from the
     * memory file (a fuzz finding: the second decode failed) */
    free(pa);
    pa = a ? decode_all(a, &la) : NULL;
    CHECK(pa && pb && la == lb && memcmp(pa, pb, la) == 0);
    free(pa);
    free(pb);
    dcx_ds_close(a);
    dcx_ds_close(b);

    /* garbage and truncation: clear errors, nothing to close */
    dcx_ds *ds = (dcx_ds *)1;
    struct dcx_error e;
    CHECK(dcx_ds_open_mem("hello world, not dicom", 22, NULL, &ds, &e) ==
          DCX_EBADDATA);
    CHECK(ds == NULL && strstr(e.msg, "not a DICOM file"));
    snprintf(p, sizeof p, "%s/test_files/MR_truncated.dcm", data);
    CHECK(dcx_ds_open(p, NULL, &ds, &e) == DCX_ETRUNCATED && ds == NULL);
    CHECK(dcx_ds_open("/nonexistent/x.dcm", NULL, &ds, &e) == DCX_EIO);
}

/* Save in another transfer syntax, reopen, decode: same samples. */
static void test_save_roundtrip(void)
{
    static const char *ts[] = {DCX_TS_JPEGLS_LOSSLESS, DCX_TS_JPEG_LOSSLESS_SV1,
                               DCX_TS_RLE, DCX_TS_DEFLATED_LE,
                               DCX_TS_EXPLICIT_BE, DCX_TS_IMPLICIT_LE};
    const char *src[] = {"test_files/CT_small.dcm", "test_files/ExplVR_BigEnd.dcm",
                         "test_files/SC_rgb_rle_2frame.dcm"};
    for (size_t s = 0; s < 3; s++) {
        dcx_ds *orig = open_file(src[s]);
        if (!orig)
            continue;
        size_t lo = 0;
        void *po = decode_all(orig, &lo);
        CHECK(po != NULL);
        for (size_t i = 0; po && i < sizeof ts / sizeof ts[0]; i++) {
            char out[1024];
            struct dcx_error e;
            snprintf(out, sizeof out, "%s/save_%zu_%zu.dcm", work, s, i);
            dcx_ds *ds = open_file(src[s]);
            size_t ld = 0;
            free(ds ? decode_all(ds, &ld) : NULL); /* fills pixel caches */
            int rc = ds ? dcx_ds_save(ds, out, ts[i], &e) : -1;
            if (rc < 0)
                fprintf(stderr, "save %s as %s: %s\n", src[s], ts[i], e.msg);
            CHECK(rc == 0);
            /* the same handle decodes alike in its new representation */
            void *pd = rc == 0 ? decode_all(ds, &ld) : NULL;
            if (!(pd && ld == lo && memcmp(po, pd, lo) == 0))
                fprintf(stderr, "%s saved as %s: same handle decodes %s\n",
                        src[s], ts[i], pd ? "different samples" : "nothing");
            CHECK(pd && ld == lo && memcmp(po, pd, lo) == 0);
            free(pd);
            dcx_ds_close(ds);
            dcx_ds *back = NULL;
            CHECK(dcx_ds_open(out, NULL, &back, &e) == 0);
            if (!back)
                continue;
            CHECK_STR(dcx_ds_transfer_syntax(back), ts[i]);
            size_t lb = 0;
            void *pb = decode_all(back, &lb);
            if (!(pb && lb == lo && memcmp(po, pb, lo) == 0))
                fprintf(stderr, "%s as %s: samples differ\n", src[s], ts[i]);
            CHECK(pb && lb == lo && memcmp(po, pb, lo) == 0);
            free(pb);
            dcx_ds_close(back);
        }
        free(po);
        dcx_ds_close(orig);
    }
    /* JPEG 2000 encoding is not DCMTK's: refused, file not claimed ok */
    dcx_ds *ds = open_file("test_files/CT_small.dcm");
    char out[1024];
    snprintf(out, sizeof out, "%s/j2k.dcm", work);
    CHECK(ds && dcx_ds_save(ds, out, DCX_TS_J2K_LOSSLESS, NULL) ==
                    DCX_EUNSUPPORTED);
    dcx_ds_close(ds);
}

/* ---- deep sequence nesting (DCMTK 3.6.7 recursion, nesting.h) ---- */

struct buf {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put16(struct buf *b, uint16_t v, int be)
{
    uint8_t x[2] = {be ? v >> 8 : v & 0xFF, be ? v & 0xFF : v >> 8};
    put(b, x, 2);
}

static void put32(struct buf *b, uint32_t v, int be)
{
    for (int i = 0; i < 4; i++)
        put(b, (uint8_t[]){(uint8_t)(v >> (be ? 24 - 8 * i : 8 * i))}, 1);
}

enum enc { EXPL_UNDEF, EXPL_DEFINED, IMPL_UNDEF, IMPL_DEFINED, EXPL_BE, UN_UNDEF };

/* (0040,A730) nested depth times, as one encoding writes it: a bare data
 * set (SOP Class UID, then the nest). Inside UN of undefined length the
 * content is implicit VR little endian (PS3.5 6.2.2). */
static void nested(struct buf *b, enum enc enc, int depth)
{
    int be = enc == EXPL_BE, impl = enc == IMPL_UNDEF || enc == IMPL_DEFINED;
    int defined = enc == EXPL_DEFINED || enc == IMPL_DEFINED;
    int in_impl = impl || enc == UN_UNDEF; /* below the outermost level */
    int ibe = be;                          /* items follow the data set */
    put16(b, 0x0008, be), put16(b, 0x0016, be);
    if (impl)
        put32(b, 26, 0);
    else
        put(b, "UI", 2), put16(b, 26, be);
    put(b, "1.2.840.10008.5.1.4.1.1.7", 26);
    /* content lengths from the inside out: L(0) = the text element */
    uint32_t *len = malloc(sizeof *len * (size_t)(depth + 1));
    len[0] = 12;
    for (int d = 1; d <= depth; d++) {
        int outer = d == depth;
        int hdr = (outer ? impl : in_impl) ? 8 : 12;
        len[d] = len[d - 1] + (uint32_t)hdr + 8;
    }
    for (int d = depth; d >= 1; d--) {
        int outer = d == depth, el_impl = outer ? impl : in_impl;
        int el_be = outer ? be : be && !in_impl;
        uint32_t item_len = defined ? len[d - 1] : 0xFFFFFFFF;
        uint32_t sq_len = defined ? len[d - 1] + 8 : 0xFFFFFFFF;
        put16(b, 0x0040, el_be), put16(b, 0xA730, el_be);
        if (el_impl)
            put32(b, sq_len, 0);
        else
            put(b, enc == UN_UNDEF ? "UN" : "SQ", 2), put16(b, 0, el_be),
                put32(b, sq_len, el_be);
        int it_be = outer ? ibe : ibe && !in_impl;
        put16(b, 0xFFFE, it_be), put16(b, 0xE000, it_be),
            put32(b, item_len, it_be);
    }
    int t_be = be && !in_impl;
    put16(b, 0x0008, t_be), put16(b, 0x0104, t_be);
    if (in_impl)
        put32(b, 4, 0);
    else
        put(b, "LO", 2), put16(b, 4, t_be);
    put(b, "DEEP", 4);
    for (int d = 1; !defined && d <= depth; d++) {
        int it_be = d == depth ? ibe : ibe && !in_impl;
        put16(b, 0xFFFE, it_be), put16(b, 0xE00D, it_be), put32(b, 0, it_be);
        put16(b, 0xFFFE, it_be), put16(b, 0xE0DD, it_be), put32(b, 0, it_be);
    }
    free(len);
}

static void part10(struct buf *out, const struct buf *ds, const char *ts,
                   int deflated)
{
    static const uint8_t pre[128];
    put(out, pre, 128);
    put(out, "DICM", 4);
    size_t tl = strlen(ts) + (strlen(ts) & 1);
    put16(out, 2, 0), put16(out, 0x10, 0), put(out, "UI", 2), put16(out, (uint16_t)tl, 0);
    put(out, ts, strlen(ts));
    if (strlen(ts) & 1)
        put(out, "", 1);
    if (!deflated) {
        put(out, ds->p, ds->n);
        return;
    }
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, ds->n);
    uint8_t *c = malloc(cap);
    z.next_in = ds->p, z.avail_in = (uInt)ds->n;
    z.next_out = c, z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    put(out, c, cap - z.avail_out);
    deflateEnd(&z);
    free(c);
}

static void test_deep_nesting(void)
{
    static const struct {
        enum enc enc;
        const char *ts; /* NULL: a bare data set */
        int deflate;
        const char *name;
    } cases[] = {
        {EXPL_UNDEF, "1.2.840.10008.1.2.1", 0, "explicit LE, undefined"},
        {EXPL_DEFINED, "1.2.840.10008.1.2.1", 0, "explicit LE, defined"},
        {IMPL_UNDEF, "1.2.840.10008.1.2", 0, "implicit LE, undefined"},
        {IMPL_DEFINED, "1.2.840.10008.1.2", 0, "implicit LE, defined"},
        {EXPL_BE, "1.2.840.10008.1.2.2", 0, "explicit BE"},
        {UN_UNDEF, "1.2.840.10008.1.2.1", 0, "UN of undefined length"},
        {EXPL_UNDEF, "1.2.840.10008.1.2.1.99", 1, "deflated"},
        {IMPL_UNDEF, NULL, 0, "bare implicit"},
        {EXPL_UNDEF, NULL, 0, "bare explicit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* 40 levels open (real SR trees stay far below); 30000 would
         * overflow DCMTK's recursion and must be refused cleanly */
        int depths[2] = {40, 30000};
        for (int k = 0; k < 2; k++) {
            struct buf ds = {0}, f = {0};
            nested(&ds, cases[i].enc, depths[k]);
            if (cases[i].ts)
                part10(&f, &ds, cases[i].ts, cases[i].deflate);
            else
                f = ds, ds.p = NULL;
            dcx_ds *d = NULL;
            struct dcx_error e;
            int rc = dcx_ds_open_mem(f.p, f.n, NULL, &d, &e);
            if (k == 0 && rc != 0)
                fprintf(stderr, "  %s, depth 40: %s\n", cases[i].name, e.msg);
            if (k == 1 && (rc != DCX_EBADDATA || !strstr(e.msg, "nested")))
                fprintf(stderr, "  %s, depth 30000: rc %d %s\n", cases[i].name,
                        rc, rc ? e.msg : "");
            CHECK(k == 0 ? rc == 0 : rc == DCX_EBADDATA);
            dcx_ds_close(d);
            if (k == 0 && !cases[i].deflate) {
                /* the structure walk: whole file fine, one byte short not */
                char path[600];
                snprintf(path, sizeof path, "%s/nest.dcm", work);
                for (int cut = 0; cut < 2; cut++) {
                    FILE *fp = fopen(path, "wb");
                    CHECK(fp && fwrite(f.p, 1, f.n - (size_t)cut, fp) ==
                                    f.n - (size_t)cut);
                    fclose(fp);
                    int fd = open(path, O_RDONLY);
                    struct dcx_error ce;
                    int crc = dcx_file_check_structure(fd, &ce);
                    close(fd);
                    if (crc != (cut ? DCX_ETRUNCATED : 0))
                        fprintf(stderr, "  %s, cut %d: check %d\n",
                                cases[i].name, cut, crc);
                    CHECK(crc == (cut ? DCX_ETRUNCATED : 0));
                }
            }
            free(ds.p);
            free(f.p);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    snprintf(data, sizeof data, "%s", argv[1]);
    snprintf(work, sizeof work, "%s", argv[2]);
    if (dcx_init(NULL, NULL, DCX_LOG_ERROR) < 0)
        return 1;
    test_getters();
    test_bare_and_memory();
    test_save_roundtrip();
    test_deep_nesting();
    return T_DONE();
}
