/* cmd_decode.c - `consort-node decode FILE [--frame N] [--rgb] -o OUT`:
 * decoded samples as little-endian raw data plus a JSON line describing
 * them; the interface the reference tests compare against GDCM. */
#include "cmd.h"
#include "opts.h"
#include "dcx/dataset.h"
#include "dcx/pixel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_le(FILE *f, void *buf, size_t n, unsigned bits)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (bits == 16) {
        uint16_t *w = buf;
        for (size_t i = 0; i < n / 2; i++)
            w[i] = __builtin_bswap16(w[i]);
    } else if (bits == 32) {
        uint32_t *w = buf;
        for (size_t i = 0; i < n / 4; i++)
            w[i] = __builtin_bswap32(w[i]);
    }
#else
    (void)bits;
#endif
    return fwrite(buf, 1, n, f) == n ? 0 : -1;
}

static void usage(FILE *to)
{
    nd_opts_usage(
        to, "usage: consort-node decode FILE [--frame N] [--rgb] -o OUT.raw\n",
        "  writes stored values (no rescale), little endian, samples\n"
        "  interleaved, all frames or frame N (0-based); --rgb expands\n"
        "  PALETTE COLOR to RGB. Prints the layout as one JSON line.");
}

int nd_cmd_decode(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int frame = -1, n_pos;
    struct dcx_decode_opts dopts = {0};
    const struct nd_opt opts[] = {
        ND_STR("-o", &out),
        ND_INT("--frame", &frame, 0, 0x7FFFFFFF),
        ND_FLAG("--rgb", &dopts.palette_to_rgb),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("decode", argc, argv, 1, opts, 1, &n_pos);
    if (pr == ND_OPTS_OK && (n_pos != 1 || !out))
        pr = ND_OPTS_BAD;
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    in = argv[0];
    dcx_ds *ds;
    struct dcx_error err;
    if (dcx_ds_open(in, NULL, &ds, &err) < 0) {
        nd_fail_line(in, err.msg);
        return 1;
    }
    int status = 1, created = 0;
    FILE *f = NULL;
    void *buf = NULL;
    struct dcx_pixel_info pi;
    if (dcx_pixel_info_get(ds, &dopts, &pi) < 0) {
        nd_fail_line(in, dcx_ds_errmsg(ds));
        goto out;
    }
    uint32_t first = 0, last = pi.frames;
    if (frame >= 0) {
        if ((uint32_t)frame >= pi.frames) {
            char m[96];
            snprintf(m, sizeof m, "frame %d out of range (%u frames)",
                     frame, pi.frames);
            nd_fail_line(in, m);
            goto out;
        }
        first = (uint32_t)frame;
        last = first + 1;
    }
    buf = malloc(pi.frame_bytes ? pi.frame_bytes : 1);
    f = fopen(out, "wb");
    created = f != NULL;
    if (!buf || !f) {
        nd_fail_line(out, buf ? strerror(errno) : "out of memory");
        goto out;
    }
    for (uint32_t k = first; k < last; k++) {
        int rc = dcx_pixel_decode(ds, k, &dopts, buf, pi.frame_bytes);
        if (rc < 0) {
            nd_fail_line(in, dcx_ds_errmsg(ds)[0] ? dcx_ds_errmsg(ds)
                                                  : dcx_strerror(rc));
            goto out;
        }
        if (write_le(f, buf, pi.frame_bytes, pi.bits_allocated) < 0) {
            nd_fail_line(out, strerror(errno));
            goto out;
        }
    }
    if (fclose(f) != 0) {
        f = NULL;
        nd_fail_line(out, strerror(errno));
        goto out;
    }
    f = NULL;
    /* A codec may have reported a colour model only once it ran. */
    dcx_pixel_info_get(ds, &dopts, &pi);
    printf("{\"rows\":%u,\"columns\":%u,\"frames\":%u,"
           "\"samples_per_pixel\":%u,\"bits_allocated\":%u,"
           "\"bits_stored\":%u,\"pixel_representation\":%u,"
           "\"photometric\":\"%s\"}\n",
           pi.rows, pi.columns, last - first, pi.samples_per_pixel,
           pi.bits_allocated, pi.bits_stored, pi.pixel_representation,
           pi.photometric);
    status = 0;
out:
    if (f)
        fclose(f);
    if (status != 0 && created)
        remove(out); /* never leave a partial output behind */
    free(buf);
    dcx_ds_close(ds);
    return status;
}
