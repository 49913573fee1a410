/* cmd_decode.c - `consort-node decode FILE [--frame N] [--rgb] -o OUT`:
 * decoded samples as little-endian raw data plus a JSON line describing
 * them; the interface the reference tests compare against GDCM. */
#include "cmd.h"
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

int nd_cmd_decode(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    long frame = -1;
    struct dcx_decode_opts dopts = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: consort-node decode FILE [--frame N] [--rgb] -o "
                 "OUT.raw\n"
                 "  writes stored values (no rescale), little endian, "
                 "samples\n"
                 "  interleaved, all frames or frame N (0-based); --rgb "
                 "expands\n"
                 "  PALETTE COLOR to RGB. Prints the layout as one JSON "
                 "line.");
            return 0;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--frame") == 0 && i + 1 < argc) {
            char *end;
            frame = strtol(argv[++i], &end, 10);
            if (*end || frame < 0) {
                fputs("consort-node decode: --frame needs a number >= 0\n",
                      stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--rgb") == 0) {
            dopts.palette_to_rgb = 1;
        } else if (!in && argv[i][0] != '-') {
            in = argv[i];
        } else {
            fprintf(stderr, "consort-node decode: unexpected '%s'\n",
                    argv[i]);
            return 2;
        }
    }
    if (!in || !out) {
        fputs("usage: consort-node decode FILE [--frame N] [--rgb] -o "
              "OUT.raw\n",
              stderr);
        return 2;
    }
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
            snprintf(m, sizeof m, "frame %ld out of range (%u frames)",
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
