/* fuzz_decode.c - libFuzzer target for libconsort-dicom: parse a buffer
 * with dcx_ds_open_mem, read text and numbers (top level and one level of
 * sequences), describe and decode the pixel data (first two frames, the
 * last frame, once more with palette expansion), read the modality LUT and
 * VOI. Built by tests/fuzz/CMakeLists.txt (CONSORT_FUZZ=ON, clang); run
 * with tests/fuzz/run.sh.
 *
 * Besides the sanitizers, a few contracts of dcx/dataset.h and dcx/pixel.h
 * are checked, and a violation aborts with "fuzz_decode: contract: ...":
 * dcx_item_get_str NUL-terminates within len, DCX_EINVAL for a short
 * decode buffer, DCX_ERANGE past the last frame, decoded samples within
 * Bits Stored, and every byte of a frame written on success (frame 0 is
 * decoded twice into buffers pre-filled differently).
 *
 * Input bytes 0..127 of a Part-10 file (the preamble, which parsing
 * ignores) steer the harness: open options and a few extra tags to query,
 * so the fuzzer can reach every getter on every VR without changing what
 * is parsed. */
#include "dcx/dataset.h"
#include "dcx/dcx.h"
#include "dcx/pixel.h"
#include "dcx/tags.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Total bytes of decoded output per input (all decodes together). */
#define WORK_CAP ((size_t)64 << 20)
/* Frames up to this size are decoded twice (the unwritten-bytes check). */
#define TWICE_MAX ((size_t)4 << 20)
#define MAX_SEQ_ITEMS 8

static void discard(enum dcx_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

/* strnlen (POSIX, not C17): index of the first NUL, or max. */
static size_t nul_len(const char *s, size_t max)
{
    const char *z = memchr(s, '\0', max);
    return z ? (size_t)(z - s) : max;
}

static void contract_fail(const char *what, long a, long b)
{
    fprintf(stderr, "fuzz_decode: contract: %s (%ld, %ld)\n", what, a, b);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int rc = dcx_init(discard, NULL, DCX_LOG_ERROR);
    if (rc != 0) {
        fprintf(stderr, "fuzz_decode: dcx_init failed: %s\n",
                dcx_strerror(rc));
        exit(1);
    }
    return 0;
}

/* dcx_item_get_str with idx and a buffer of len bytes (len <= 512),
 * checking the snprintf contract. */
static void get_str(const dcx_item *it, uint32_t tag, int idx, size_t len)
{
    char buf[512];
    memset(buf, 0x5A, sizeof buf);
    int rc = dcx_item_get_str(it, tag, idx, buf, len);
    if (rc >= 0 || rc == DCX_ECHARSET) {
        size_t n = nul_len(buf, len);
        if (n >= len)
            contract_fail("get_str: no NUL within len", (long)tag, idx);
        /* n < rc is possible: a value with an embedded NUL (invalid DICOM
         * text, passed through) reads shorter than its length. */
        if (rc >= 0 && n > (size_t)rc)
            contract_fail("get_str: string longer than returned length", rc,
                          (long)n);
    }
}

/* Every getter on one tag. */
static void probe_tag(const dcx_item *it, uint32_t tag)
{
    char vr[3];
    if (dcx_item_vr(it, tag, vr) == 0 && nul_len(vr, 3) > 2)
        contract_fail("vr not NUL-terminated", (long)tag, 0);
    dcx_item_has(it, tag);
    int vm = dcx_item_vm(it, tag);
    get_str(it, tag, -1, 512);
    get_str(it, tag, 0, 512);
    get_str(it, tag, 1, 512);
    get_str(it, tag, -1, 4); /* truncation */
    if (vm > 2)
        get_str(it, tag, vm - 1, 512);
    int64_t iv;
    double dv;
    dcx_item_get_int(it, tag, 0, &iv);
    dcx_item_get_float(it, tag, 0, &dv);
    if (vm > 1) {
        dcx_item_get_int(it, tag, (unsigned)vm - 1, &iv);
        dcx_item_get_float(it, tag, (unsigned)vm - 1, &dv);
    }
    dcx_item_get_int(it, tag, (unsigned)(vm > 0 ? vm : 0), &iv); /* beyond */
    const void *p;
    size_t len;
    if (dcx_item_get_bytes(it, tag, &p, &len) == 0 && len > 0) {
        /* Borrowed: all len bytes must be readable. */
        const volatile uint8_t *b = p;
        uint8_t x = 0;
        x ^= b[0];
        x ^= b[len - 1];
        x ^= b[len / 2];
        (void)x;
    }
}

static const uint32_t item_tags[] = {
    DCX_TAG(0x0008, 0x0100), /* Code Value */
    DCX_TAG(0x0008, 0x0104), /* Code Meaning */
    DCX_TAG(0x0008, 0x1150), /* Referenced SOP Class UID */
    DCX_TAG(0x0008, 0x1155), /* Referenced SOP Instance UID */
    DCX_TAG_PATIENT_NAME,
    DCX_TAG(0x0040, 0xA160), /* Text Value */
    DCX_TAG_LUT_DESCRIPTOR,
    DCX_TAG_LUT_DATA,
    DCX_TAG_LUT_EXPLANATION,
    DCX_TAG_PIXEL_SPACING,
    DCX_TAG_IMAGE_POSITION_PATIENT,
};

/* Sequences whose items are read (one level; nested ones only counted). */
static const uint32_t seq_tags[] = {
    DCX_TAG(0x0008, 0x1032), /* Procedure Code Sequence */
    DCX_TAG(0x0008, 0x1110), /* Referenced Study Sequence */
    DCX_TAG(0x0008, 0x1140), /* Referenced Image Sequence */
    DCX_TAG(0x0008, 0x2112), /* Source Image Sequence */
    DCX_TAG(0x0008, 0x2218), /* Anatomic Region Sequence */
    DCX_TAG(0x0010, 0x1002), /* Other Patient IDs Sequence */
    DCX_TAG(0x0040, 0x0275), /* Request Attributes Sequence */
    DCX_TAG(0x0040, 0xA043), /* Concept Name Code Sequence */
    DCX_TAG(0x0040, 0xA730), /* Content Sequence */
    DCX_TAG(0x0088, 0x0200), /* Icon Image Sequence */
    DCX_TAG(0x5200, 0x9229), /* Shared Functional Groups Sequence */
    DCX_TAG(0x5200, 0x9230), /* Per-frame Functional Groups Sequence */
    DCX_TAG_MODALITY_LUT_SEQUENCE,
    DCX_TAG_VOI_LUT_SEQUENCE,
    DCX_TAG(0x300A, 0x00B0), /* Beam Sequence (RT) */
    DCX_TAG(0x3006, 0x0020), /* Structure Set ROI Sequence (RT) */
    DCX_TAG_PATIENT_NAME,    /* not a sequence: DCX_EBADDATA path */
};

static void walk_item(const dcx_item *it, const uint32_t *extra, int nextra)
{
    for (size_t i = 0; i < sizeof item_tags / sizeof item_tags[0]; i++)
        probe_tag(it, item_tags[i]);
    for (int i = 0; i < nextra; i++)
        probe_tag(it, extra[i]);
    for (size_t i = 0; i < sizeof seq_tags / sizeof seq_tags[0]; i++)
        dcx_item_seq_count(it, seq_tags[i]);
}

static void walk_sequences(const dcx_item *root, const uint32_t *extra,
                           int nextra)
{
    uint32_t tags[sizeof seq_tags / sizeof seq_tags[0] + 4];
    int nt = 0;
    for (size_t i = 0; i < sizeof seq_tags / sizeof seq_tags[0]; i++)
        tags[nt++] = seq_tags[i];
    for (int i = 0; i < nextra; i++)
        tags[nt++] = extra[i];
    for (int t = 0; t < nt; t++) {
        int n = dcx_item_seq_count(root, tags[t]);
        dcx_item *child;
        if (n < 0) {
            dcx_item_seq_get(root, tags[t], 0, &child);
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (i == MAX_SEQ_ITEMS && i < n - 1)
                i = n - 1; /* the first few and the last */
            if (dcx_item_seq_get(root, tags[t], (unsigned)i, &child) != 0)
                contract_fail("seq_get failed below seq_count", i, n);
            walk_item(child, extra, nextra);
            dcx_item *again;
            if (dcx_item_seq_get(root, tags[t], (unsigned)i, &again) != 0 ||
                again != child)
                contract_fail("seq_get: same item, other handle", i, n);
        }
        if (dcx_item_seq_get(root, tags[t], (unsigned)n, &child) !=
            DCX_ERANGE)
            contract_fail("seq_get beyond count is not DCX_ERANGE", n, 0);
    }
}

/* Samples hold stored values: bits above Bits Stored cleared (unsigned) or
 * copies of the sign bit (signed). */
static void check_samples(const struct dcx_pixel_info *in, const void *buf)
{
    unsigned ba = in->bits_allocated, bs = in->bits_stored;
    if (bs >= ba)
        return;
    size_t n = in->frame_bytes / (ba / 8);
    uint32_t mask = (1u << bs) - 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = ba == 8    ? ((const uint8_t *)buf)[i]
                     : ba == 16 ? ((const uint16_t *)buf)[i]
                                : ((const uint32_t *)buf)[i];
        uint32_t hi = v & ~mask & (ba == 32 ? 0xFFFFFFFFu : (1u << ba) - 1);
        int neg = in->pixel_representation == 1 && (v >> (bs - 1) & 1);
        uint32_t want = neg ? ~mask & (ba == 32 ? 0xFFFFFFFFu
                                                 : (1u << ba) - 1)
                            : 0;
        if (hi != want)
            contract_fail("sample outside Bits Stored", (long)i, (long)v);
    }
}

/* Decodes one frame twice, into buffers pre-filled with different bytes:
 * on success both must agree (every byte written, deterministic). */
static void decode_frame(dcx_ds *ds, uint32_t f,
                         const struct dcx_decode_opts *o,
                         const struct dcx_pixel_info *in, int twice)
{
    size_t fb = in->frame_bytes;
    uint8_t *a = malloc(fb);
    if (!a)
        return;
    memset(a, 0xA5, fb);
    int rc = dcx_pixel_decode(ds, f, o, a, fb);
    const char *msg = dcx_ds_errmsg(ds);
    (void)strlen(msg);
    if (rc == 0) {
        check_samples(in, a);
        if (twice) {
            uint8_t *b = malloc(fb);
            if (b) {
                memset(b, 0x5A, fb);
                int rc2 = dcx_pixel_decode(ds, f, o, b, fb);
                if (rc2 != 0)
                    contract_fail("second decode of a frame failed", f, rc2);
                for (size_t i = 0; i < fb; i++) {
                    if (a[i] != b[i])
                        contract_fail("decoded frame byte not written (or "
                                      "not deterministic)",
                                      (long)f, (long)i);
                }
                free(b);
            }
        }
    }
    free(a);
}

/* *work: bytes of decoded output so far for this input (cap WORK_CAP). */
static void pixels(dcx_ds *ds, const struct dcx_decode_opts *o,
                   size_t *work)
{
    struct dcx_pixel_info in;
    if (dcx_pixel_info_get(ds, o, &in) != 0)
        return;
    size_t fb = in.frame_bytes;
    if (fb == 0 || in.frames == 0)
        contract_fail("info: empty frame", (long)fb, (long)in.frames);
    if (fb != (size_t)in.rows * in.columns * in.samples_per_pixel *
                  (in.bits_allocated / 8u) ||
        (in.bits_allocated != 8 && in.bits_allocated != 16 &&
         in.bits_allocated != 32) ||
        in.bits_stored == 0 || in.bits_stored > in.bits_allocated)
        contract_fail("info: inconsistent layout", (long)fb,
                      in.bits_allocated);
    if (*work + 2 * fb > WORK_CAP)
        return;
    /* A buffer one byte short must be refused without a write. */
    if (fb > 1) {
        uint8_t *small = malloc(fb - 1);
        if (small) {
            int rc = dcx_pixel_decode(ds, 0, o, small, fb - 1);
            if (rc != DCX_EINVAL && rc >= 0)
                contract_fail("short buffer accepted", rc, (long)fb);
            free(small);
        }
    }
    uint32_t order[3] = {0, 1, in.frames - 1};
    int n = in.frames == 1 ? 1 : in.frames == 2 ? 2 : 3;
    for (int k = 0; k < n; k++) {
        int twice = k == 0 && fb <= TWICE_MAX;
        size_t cost = fb * (twice ? 2 : 1);
        if (*work + cost > WORK_CAP)
            break;
        *work += cost;
        decode_frame(ds, order[k], o, &in, twice);
    }
    /* Out of range frame. */
    uint8_t one[1];
    if (dcx_pixel_decode(ds, in.frames, o, one, sizeof one) == 0)
        contract_fail("frame beyond Number of Frames decoded", in.frames, 0);
}

static void luts(dcx_ds *ds)
{
    struct dcx_modality_lut m;
    if (dcx_pixel_modality_lut(ds, &m) == 0) {
        if (nul_len(m.rescale_type, sizeof m.rescale_type) >=
            sizeof m.rescale_type)
            contract_fail("rescale_type not NUL-terminated", 0, 0);
        uint32_t sum = 0;
        for (uint32_t i = 0; m.lut_data && i < m.lut_count; i++)
            sum += m.lut_data[i];
        (void)sum;
    }
    struct dcx_voi v;
    if (dcx_pixel_voi(ds, &v) == 0) {
        if (v.n_windows > DCX_MAX_WINDOWS)
            contract_fail("too many windows", v.n_windows, 0);
        for (unsigned i = 0; i < v.n_windows; i++) {
            if (nul_len(v.explanation[i], 64) >= 64)
                contract_fail("explanation not NUL-terminated", i, 0);
        }
        if (nul_len(v.function, sizeof v.function) >= sizeof v.function)
            contract_fail("function not NUL-terminated", 0, 0);
        uint32_t sum = 0;
        for (uint32_t i = 0; v.lut_data && i < v.lut_count; i++)
            sum += v.lut_data[i];
        (void)sum;
    }
}

static const uint32_t root_tags[] = {
    DCX_TAG_SPECIFIC_CHARACTER_SET,
    DCX_TAG_SOP_CLASS_UID,
    DCX_TAG_STUDY_DATE,
    DCX_TAG_MODALITY,
    DCX_TAG_INSTITUTION_NAME,
    DCX_TAG_STUDY_DESCRIPTION,
    DCX_TAG_SERIES_DESCRIPTION,
    DCX_TAG_PATIENT_NAME,
    DCX_TAG_PATIENT_ID,
    DCX_TAG_PATIENT_SEX,
    DCX_TAG_SLICE_THICKNESS,
    DCX_TAG_IMAGE_POSITION_PATIENT,
    DCX_TAG_IMAGE_ORIENTATION_PATIENT,
    DCX_TAG_INSTANCE_NUMBER,
    DCX_TAG_SERIES_NUMBER,
    DCX_TAG_PHOTOMETRIC,
    DCX_TAG_NUMBER_OF_FRAMES,
    DCX_TAG_ROWS,
    DCX_TAG_PIXEL_SPACING,
    DCX_TAG_WINDOW_CENTER,
    DCX_TAG_WINDOW_EXPLANATION,
    DCX_TAG_RESCALE_SLOPE,
    DCX_TAG_RED_PALETTE_DESCRIPTOR,
    DCX_TAG_RED_PALETTE_DATA,
    DCX_TAG_EXTENDED_OFFSET_TABLE,
    DCX_TAG(0x0040, 0xA730), /* Content Sequence: text getters on SQ */
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dcx_open_opts oo;
    memset(&oo, 0, sizeof oo);
    uint32_t extra[4];
    int nextra = 0;
    int big_probe = 0;
    if (size >= 132 && memcmp(data + 128, "DICM", 4) == 0) {
        uint8_t ctl = data[16];
        if (ctl & 1)
            oo.assume_charset = (ctl & 2) ? "GB18030" : "GBK";
        oo.no_charset_guess = (ctl >> 2) & 1;
        oo.no_pixels = ((ctl >> 3) & 3) == 3; /* rarely: skips pixels */
        big_probe = (ctl >> 5) & 1;
        for (int i = 0; i < 4; i++) {
            uint32_t t = rd32(data + 20 + 4 * i);
            if (t != 0)
                extra[nextra++] = t;
        }
    }

    dcx_ds *ds = NULL;
    struct dcx_error err;
    memset(&err, 0, sizeof err);
    int rc = dcx_ds_open_mem(data, size, &oo, &ds, &err);
    if (rc != 0) {
        if (ds)
            contract_fail("open failed but returned a ds", rc, 0);
        if (nul_len(err.msg, sizeof err.msg) >= sizeof err.msg)
            contract_fail("error message not NUL-terminated", rc, 0);
        return 0;
    }
    (void)strlen(dcx_ds_transfer_syntax(ds));
    int guessed;
    (void)strlen(dcx_ds_charset(ds, &guessed));

    dcx_item *root = dcx_ds_root(ds);
    for (size_t i = 0; i < sizeof root_tags / sizeof root_tags[0]; i++) {
        uint32_t tag = root_tags[i];
        if (big_probe) {
            probe_tag(root, tag);
        } else {
            get_str(root, tag, -1, 512);
            get_str(root, tag, 0, 512);
        }
    }
    for (int i = 0; i < nextra; i++)
        probe_tag(root, extra[i]);
    walk_sequences(root, extra, nextra);

    struct dcx_decode_opts plain = {0}, rgb = {1};
    size_t work = 0;
    pixels(ds, &plain, &work);
    struct dcx_pixel_info pi;
    if (dcx_pixel_info_get(ds, &plain, &pi) == 0 &&
        strcmp(pi.stored_photometric, "PALETTE COLOR") == 0)
        pixels(ds, &rgb, &work);
    else if (big_probe)
        pixels(ds, &rgb, &work); /* palette_to_rgb must be a no-op here */
    luts(ds);

    dcx_ds_close(ds);
    return 0;
}
