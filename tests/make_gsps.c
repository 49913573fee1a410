/* make_gsps.c - writes a presentation state with dcx_gsps_write for the
 * gsps test: one of each graphic type and a Chinese text on the first
 * image, a window and a displayed area for all of them.
 * usage: make_gsps [--ascii] OUT.dcm CENTER WIDTH IMAGE...
 * (--ascii: English text only, for checkers that cannot read UTF-8)
 *        make_gsps --ko OUT.dcm interest|teaching IMAGE...
 * (a Key Object Selection with a Chinese description instead)
 *        make_gsps --report OUT.dcm IMAGE...
 * (a final Basic Text SR report, Chinese findings and impression)
 *        make_gsps --read PS.dcm IMAGE_UID
 * (prints what dcx_gsps_read finds for that image, one line each)
 *        make_gsps --measure OUT.dcm [--frame N] IMAGE...
 * (a TID 1500 measurement report: one measurement of each kind with the
 * values below on the first image, or on its frame N) */
#include "dcx/dcx.h"
#include "dcx/gsps.h"
#include "dcx/sr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const shapes[] = {"POINT", "POLYLINE", "INTERPOLATED",
                                     "CIRCLE", "ELLIPSE"};

static int dump(const char *path, const char *uid)
{
    dcx_gsps *ps;
    struct dcx_error e;
    if (dcx_gsps_read(path, &ps, &e) < 0) {
        fprintf(stderr, "make_gsps: %s\n", e.msg);
        return 1;
    }
    const struct dcx_gsps_info *in = dcx_gsps_get_info(ps);
    printf("label %s\ndescription %s\ncreator %s\nimages %zu\n", in->label,
           in->description, in->creator, in->n_images);
    double c, w;
    if (dcx_gsps_window_for(ps, uid, 0, &c, &w) == 0)
        printf("window %g %g\n", c, w);
    int a[4];
    if (dcx_gsps_area_for(ps, uid, 0, a) == 0)
        printf("area %d %d %d %d\n", a[0], a[1], a[2], a[3]);
    const struct dcx_gsps_mark *m;
    size_t n;
    dcx_gsps_marks_for(ps, uid, 0, &m, &n);
    for (size_t i = 0; i < n; i++) {
        for (size_t g = 0; g < m[i].n_graphics; g++) {
            printf("graphic %s %s %d", m[i].layer, shapes[m[i].graphics[g].shape],
                   m[i].graphics[g].filled);
            for (size_t k = 0; k < 2 * m[i].graphics[g].n; k++)
                printf(" %g", m[i].graphics[g].xy[k]);
            printf("\n");
        }
        for (size_t t = 0; t < m[i].n_texts; t++) {
            const struct dcx_gsps_text *x = &m[i].texts[t];
            printf("text %s|anchor %d %g %g %d|box %d %g %g %g %g\n", x->text,
                   x->has_anchor, x->anchor[0], x->anchor[1], x->anchor_visible,
                   x->has_box, x->box[0], x->box[1], x->box[2], x->box[3]);
        }
    }
    dcx_gsps_free(ps);
    return 0;
}

/* the measurements tests/gsps.py expects back, value for value */
static int measure(int argc, char **argv)
{
    unsigned frame = 0;
    int first = 3;
    if (argc >= 6 && strcmp(argv[3], "--frame") == 0) {
        frame = (unsigned)atoi(argv[4]);
        first = 5;
    }
    static const float len[] = {10.5f, 10.5f, 50.5f, 40.5f};
    static const float ang[] = {20, 100, 60, 100, 60, 60};
    static const float cobb[] = {10, 10, 100, 20, 10, 60, 100, 90};
    static const float ell[] = {30, 60, 70, 60, 50, 50, 50, 70};
    static const float rect[] = {20, 20, 40, 20, 40, 40, 20, 40};
    const struct dcx_measure m[] = {
        {DCX_MEAS_LENGTH, 0, frame, 2, len, 33.05, 1, 0, 0, 0, 0, 0, NULL},
        {DCX_MEAS_ANGLE, 0, frame, 3, ang, 90, 1, 0, 0, 0, 0, 0, NULL},
        {DCX_MEAS_COBB, 0, frame, 4, cobb, 12.5, 1, 0, 0, 0, 0, 0, NULL},
        {DCX_MEAS_ELLIPSE_ROI, 0, frame, 4, ell, 137.25, 1, 1, 40.25, 3.5,
         -12, 97, "HU"},
        {DCX_MEAS_RECT_ROI, 0, frame, 4, rect, 400, 0, 1, 1021.5, 0.125, 990,
         1100, ""},
    };
    struct dcx_measure_sr_desc d = {(const char *const *)(argv + first),
                                    (size_t)(argc - first), m,
                                    sizeof m / sizeof m[0], "Wang^Wei"};
    char uid[65];
    struct dcx_error e;
    if (dcx_init(NULL, NULL, DCX_LOG_WARN) < 0)
        return 1;
    if (dcx_measure_sr_write(&d, argv[2], uid, &e) < 0) {
        fprintf(stderr, "make_gsps: %s\n", e.msg);
        return 1;
    }
    printf("%s\n", uid);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "--measure") == 0)
        return measure(argc, argv);
    if (argc >= 5 && strcmp(argv[1], "--ko") == 0) {
        if (dcx_init(NULL, NULL, DCX_LOG_WARN) < 0)
            return 1;
        struct dcx_ko_desc k = {
            strcmp(argv[3], "teaching") == 0 ? DCX_KO_TEACHING
                                             : DCX_KO_OF_INTEREST,
            (const char *const *)(argv + 4), (size_t)(argc - 4),
            "\xe5\x8f\xb3\xe8\x82\xba\xe7\xbb\x93\xe8\x8a\x82"};
        char uid[65];
        struct dcx_error e;
        if (dcx_ko_write(&k, argv[2], uid, &e) < 0) {
            fprintf(stderr, "make_gsps: %s\n", e.msg);
            return 1;
        }
        printf("%s\n", uid);
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "--report") == 0) {
        if (dcx_init(NULL, NULL, DCX_LOG_WARN) < 0)
            return 1;
        struct dcx_report_desc r = {
            (const char *const *)(argv + 3), (size_t)(argc - 3),
            "\xe5\x8f\xb3\xe8\x82\xba\xe4\xb8\x8a\xe5\x8f\xb6 12 mm "
            "\xe7\xbb\x93\xe8\x8a\x82",
            "\xe5\xbb\xba\xe8\xae\xae\xe9\x9a\x8f\xe8\xae\xbf",
            "Wang^Wei", 1};
        char uid[65];
        struct dcx_error e;
        if (dcx_report_write(&r, argv[2], uid, &e) < 0) {
            fprintf(stderr, "make_gsps: %s\n", e.msg);
            return 1;
        }
        printf("%s\n", uid);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "--read") == 0) {
        if (dcx_init(NULL, NULL, DCX_LOG_WARN) < 0)
            return 1;
        return dump(argv[2], argv[3]);
    }
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
    const struct dcx_gsps_mark marks[2] = {
        {0, "LENGTH", g, 1, NULL, 0, 0},
        {0, NULL, g + 1, sizeof g / sizeof g[0] - 1, t, 1, 0},
    };
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
        .marks = marks,
        .n_marks = 2,
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
