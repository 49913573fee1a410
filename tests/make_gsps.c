/* make_gsps.c - writes a presentation state with dcx_gsps_write for the
 * gsps test: one of each graphic type and a Chinese text on the first
 * image, a window and a displayed area for all of them.
 * usage: make_gsps [--ascii] OUT.dcm CENTER WIDTH IMAGE...
 * (--ascii: English text only, for checkers that cannot read UTF-8) */
#include "dcx/dcx.h"
#include "dcx/gsps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int ascii = argc > 1 && strcmp(argv[1], "--ascii") == 0;
    if (ascii)
        argc--, argv++;
    if (argc < 5) {
        fprintf(stderr, "usage: make_gsps OUT.dcm CENTER WIDTH IMAGE...\n");
        return 2;
    }
    if (dcx_init(NULL, NULL, DCX_LOG_WARN) < 0)
        return 1;
    static const float line[] = {10.5f, 10.5f, 50.5f, 40.5f};
    static const float poly[] = {20, 20, 40, 20, 40, 40, 20, 40, 20, 20};
    static const float circle[] = {64, 64, 64, 84};
    static const float ellipse[] = {30, 90, 70, 90, 50, 80, 50, 100};
    static const float point[] = {100, 100};
    static const float spline[] = {5, 120, 30, 100, 60, 120, 90, 100};
    const struct dcx_gsps_graphic g[] = {
        {DCX_GSPS_POLYLINE, 0, 2, line},
        {DCX_GSPS_POLYLINE, 0, 5, poly},
        {DCX_GSPS_CIRCLE, 0, 2, circle},
        {DCX_GSPS_ELLIPSE, 1, 4, ellipse},
        {DCX_GSPS_POINT, 0, 1, point},
        {DCX_GSPS_INTERPOLATED, 0, 4, spline},
    };
    const struct dcx_gsps_text t[] = {
        {ascii ? "nodule 12 mm"
               : "\xe5\x8f\xb3\xe8\x82\xba\xe7\xbb\x93\xe8\x8a\x82 12 mm",
         1, 1, {50.5f, 40.5f}, 1, {60, 30, 120, 45}},
    };
    const struct dcx_gsps_mark mark = {0, g, sizeof g / sizeof g[0], t, 1};
    struct dcx_gsps_desc d = {
        .images = (const char *const *)(argv + 4),
        .n_images = (size_t)(argc - 4),
        .label = "READING",
        .description = ascii ? "first reading" : "\xe5\x88\x9d\xe8\xaf\xbb",
        .creator = "Wang^Wei",
        .has_window = 1,
        .window_center = atof(argv[2]),
        .window_width = atof(argv[3]),
        .has_area = 1,
        .area = {1, 1, 128, 128},
        .marks = &mark,
        .n_marks = 1,
    };
    char uid[65];
    struct dcx_error e;
    int rc = dcx_gsps_write(&d, argv[1], uid, &e);
    if (rc < 0) {
        fprintf(stderr, "make_gsps: %s\n", e.msg);
        return 1;
    }
    printf("%s\n", uid);
    return 0;
}
