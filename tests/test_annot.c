/* test_annot.c - consort-view's annotations (viewer/annot.c): undo/redo,
 * hit tests, labels, and a GSPS round trip with one annotation of each
 * tool written by dcx_gsps_write, read by dcx_gsps_read, given back as
 * the same tools and points, and passed by dciodvfy.
 * A multi-frame image gets marks per frame: written on their frames
 * (GSPS counts from 1) and given back on the same frames only.
 * usage: test_annot IMAGE.dcm WORKDIR [MULTIFRAME.dcm] */
#define _GNU_SOURCE
#include "annot.h"
#include "dcx/dataset.h"
#include "dcx/dcx.h"
#include "dcx/gsps.h"
#include "t.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct vw_annot mk(enum vw_tool t, const char *uid, int n,
                          const float *xy, const char *text)
{
    struct vw_annot a = {0};
    a.tool = t;
    snprintf(a.sop_uid, sizeof a.sop_uid, "%s", uid);
    a.n = n;
    memcpy(a.pt, xy, (size_t)(2 * n) * sizeof *xy);
    if (text)
        snprintf(a.text, sizeof a.text, "%s", text);
    return a;
}

static void test_history(void)
{
    vw_annots *l = vw_annots_create();
    const float p[4] = {10, 10, 50, 10};
    struct vw_annot a = mk(VW_TOOL_LENGTH, "1.2.3", 2, p, NULL);
    unsigned id = vw_annots_add(l, &a);
    CHECK(id != 0 && vw_annots_count(l) == 1);
    struct vw_annot b = a;
    b.pt[2] = 90;
    CHECK(vw_annots_update(l, id, &b) == 0 && vw_annots_get(l, id)->pt[2] == 90);
    CHECK(vw_annots_remove(l, id) == 0 && vw_annots_count(l) == 0);
    CHECK(vw_annots_undo(l) && vw_annots_count(l) == 1 &&
          vw_annots_get(l, id)->pt[2] == 90);          /* removal undone */
    CHECK(vw_annots_undo(l) && vw_annots_get(l, id)->pt[2] == 50); /* move */
    CHECK(vw_annots_undo(l) && vw_annots_count(l) == 0);          /* add */
    CHECK(!vw_annots_undo(l));
    CHECK(vw_annots_redo(l) && vw_annots_redo(l) &&
          vw_annots_get(l, id)->pt[2] == 90);
    /* a new change drops what could be redone */
    const float q[2] = {5, 5};
    struct vw_annot t = mk(VW_TOOL_TEXT, "1.2.3", 1, q, "\xe7\xbb\x93\xe8\x8a\x82");
    CHECK(vw_annots_add(l, &t) != 0 && !vw_annots_redo(l));
    /* incomplete annotations are refused */
    struct vw_annot bad = mk(VW_TOOL_ANGLE, "1.2.3", 2, p, NULL);
    CHECK(vw_annots_add(l, &bad) == 0);
    struct vw_annot empty = mk(VW_TOOL_TEXT, "1.2.3", 1, q, "");
    CHECK(vw_annots_add(l, &empty) == 0);
    /* hits: on the line, near the text, not elsewhere or on another image */
    CHECK(vw_annots_hit(l, "1.2.3", 0, 70, 11.5f, 3) == id);
    CHECK(vw_annots_hit(l, "1.2.3", 0, 6, 6, 3) != 0 &&
          vw_annots_hit(l, "1.2.3", 0, 6, 6, 3) != id);
    CHECK(vw_annots_hit(l, "1.2.3", 0, 70, 40, 3) == 0);
    CHECK(vw_annots_hit(l, "9.9.9", 0, 70, 10, 3) == 0);
    vw_annots_destroy(l);
}

static void test_labels(void)
{
    char s[256];
    const float p[8] = {10, 10, 110, 10, 0, 0, 0, 0};
    struct vw_annot a = mk(VW_TOOL_LENGTH, "1", 2, p, NULL);
    struct vw_cal ps = {.kind = VW_CAL_PIXEL, .mm_x = 0.5, .mm_y = 0.5},
                  det = {.kind = VW_CAL_DETECTOR, .mm_x = 0.5, .mm_y = 0.5},
                  none = {.kind = VW_CAL_NONE};
    vw_annot_label(&a, &ps, NULL, NULL, s, sizeof s);
    CHECK_STR(s, "50.0 mm");
    vw_annot_label(&a, &det, NULL, NULL, s, sizeof s);
    CHECK_STR(s, "50.0 mm (detector)");
    vw_annot_label(&a, &none, NULL, NULL, s, sizeof s);
    CHECK_STR(s, "100.0 px (uncalibrated)");
    const float ang[6] = {100, 50, 50, 50, 50, 0};
    struct vw_annot b = mk(VW_TOOL_ANGLE, "1", 3, ang, NULL);
    vw_annot_label(&b, &ps, NULL, NULL, s, sizeof s);
    CHECK_STR(s, "90.0\xc2\xb0");
    /* a 10 x 10 square ROI over a flat 8-bit image of 7 (rescale 2x-3) */
    static uint8_t img[32 * 32];
    memset(img, 7, sizeof img);
    struct vw_px px = {img, 32, 32, 1, 0, 2, -3, NULL, 0, 0, 0, 0};
    const float r[4] = {4, 4, 14, 14};
    struct vw_annot c = mk(VW_TOOL_RECT, "1", 2, r, NULL);
    vw_annot_label(&c, &ps, &px, "HU", s, sizeof s);
    CHECK_STR(s, "mean 11.0 HU, SD 0.0, min 11, max 11, area 25.0 mm2");
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    if (dcx_init(NULL, NULL, DCX_LOG_WARN) < 0)
        return 1;
    test_history();
    test_labels();

    /* GSPS round trip: one of each tool on the image */
    dcx_ds *ds;
    CHECK(dcx_ds_open(argv[1], NULL, &ds, NULL) == 0);
    char uid[65] = "";
    dcx_item_get_str(dcx_ds_root(ds), 0x00080018, -1, uid, sizeof uid);
    dcx_ds_close(ds);
    vw_annots *l = vw_annots_create();
    static const float pts[VW_TOOL_COUNT][8] = {
        {10.5f, 10.5f, 60.25f, 30.75f},
        {20, 80, 40, 60, 70, 70},
        {10, 100, 60, 90, 10, 120, 60, 125},
        {70, 20, 110, 50},
        {80, 80, 120, 110},
        {100, 10, 90, 30},
        {15, 45},
    };
    for (int t = 0; t < VW_TOOL_COUNT; t++) {
        struct vw_annot a = mk((enum vw_tool)t, uid, vw_tool_points((enum vw_tool)t),
                               pts[t], t == VW_TOOL_TEXT ? "\xe5\x8f\xb3\xe8\x82\xba" : NULL);
        CHECK(vw_annots_add(l, &a) != 0);
    }
    const char *uids[1] = {uid};
    struct vw_cal cal = {.kind = VW_CAL_PIXEL, .mm_x = 0.66f, .mm_y = 0.66f};
    struct vw_cal cals[VW_TOOL_COUNT]; /* one per annotation */
    for (int t = 0; t < VW_TOOL_COUNT; t++)
        cals[t] = cal;
    struct vw_gsps_marks m;
    CHECK(vw_annots_to_marks(l, uids, 1, NULL, cals, NULL, NULL, &m) == 0 &&
          m.n == VW_TOOL_COUNT);
    const char *images[1] = {argv[1]};
    struct dcx_gsps_desc d = {.images = images, .n_images = 1, .label = "TOOLS",
                              .marks = m.marks, .n_marks = m.n};
    char out[600], ps_uid[65];
    snprintf(out, sizeof out, "%s/tools.dcm", argv[2]);
    struct dcx_error e;
    int rc = dcx_gsps_write(&d, out, ps_uid, &e);
    if (rc < 0)
        fprintf(stderr, "  write: %s\n", e.msg);
    CHECK(rc == 0);
    vw_annots_free_marks(&m);
    dcx_gsps *ps;
    CHECK(dcx_gsps_read(out, &ps, &e) == 0);
    const struct dcx_gsps_mark *back;
    size_t nb;
    dcx_gsps_marks_for(ps, uid, 0, &back, &nb);
    vw_annots *l2 = vw_annots_create();
    CHECK(vw_annots_from_marks(l2, uid, 0, back, nb) == VW_TOOL_COUNT);
    dcx_gsps_free(ps);
    for (int t = 0; t < VW_TOOL_COUNT; t++) {
        const struct vw_annot *a = vw_annots_at(l, (size_t)t);
        const struct vw_annot *b = NULL;
        for (size_t k = 0; k < vw_annots_count(l2); k++)
            if (vw_annots_at(l2, k)->tool == a->tool)
                b = vw_annots_at(l2, k);
        int same = b && b->n == a->n && strcmp(b->text, a->text) == 0;
        /* ellipse and rectangle come back as their normalised box */
        for (int k = 0; same && k < 2 * a->n; k++)
            same = fabsf(b->pt[k] - a->pt[k]) < 1e-4f;
        if (!same)
            fprintf(stderr, "  tool %s did not come back the same\n",
                    vw_tool_layer(a->tool));
        CHECK(same);
    }
    vw_annots_destroy(l);
    vw_annots_destroy(l2);
    /* dciodvfy on the state with every tool's layer */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "dciodvfy %s 2>&1", out);
    FILE *p = popen(cmd, "r");
    int errors = -1;
    if (p) {
        char line[1024];
        errors = 0;
        while (fgets(line, sizeof line, p))
            if (strncmp(line, "Error", 5) == 0) {
                errors++;
                fprintf(stderr, "  dciodvfy: %s", line);
            }
        pclose(p);
    }
    CHECK(errors == 0);

    /* marks on frames 3 and 7 (viewer indices) of a multi-frame image */
    if (argc > 3) {
        CHECK(dcx_ds_open(argv[3], NULL, &ds, NULL) == 0);
        char mf[65] = "";
        dcx_item_get_str(dcx_ds_root(ds), 0x00080018, -1, mf, sizeof mf);
        int64_t nf = 0;
        dcx_item_get_int(dcx_ds_root(ds), 0x00280008, 0, &nf);
        dcx_ds_close(ds);
        vw_annots *l3 = vw_annots_create();
        const float p3[4] = {1, 1, 8, 8}, p7[4] = {2, 2, 3, 9};
        struct vw_annot a3 = mk(VW_TOOL_LENGTH, mf, 2, p3, NULL), a7 = mk(VW_TOOL_LENGTH, mf, 2, p7, NULL);
        a3.frame = 3, a7.frame = 7;
        vw_annots_add(l3, &a3);
        vw_annots_add(l3, &a7);
        const char *mfu[1] = {mf};
        unsigned frames[1] = {(unsigned)nf};
        struct vw_gsps_marks m3;
        /* each frame its own calibration (the depths of an ultrasound
         * loop): 1 and 2 mm per pixel */
        struct vw_cal fc[2] = {{.kind = VW_CAL_PIXEL, .mm_x = 1, .mm_y = 1},
                               {.kind = VW_CAL_PIXEL, .mm_x = 2, .mm_y = 2}};
        CHECK(vw_annots_to_marks(l3, mfu, 1, frames, fc, NULL, NULL, &m3) == 0 &&
              m3.n == 2 && m3.marks[0].frame == 4 && m3.marks[1].frame == 8);
        CHECK(m3.marks[0].n_texts == 1 && m3.marks[1].n_texts == 1 &&
              strstr(m3.marks[0].texts[0].text, "9.9 mm") &&
              strstr(m3.marks[1].texts[0].text, "14.1 mm"));
        if (m3.marks[0].n_texts && m3.marks[1].n_texts)
            printf("  frame labels: %s | %s\n", m3.marks[0].texts[0].text,
                   m3.marks[1].texts[0].text);
        const char *mimg[1] = {argv[3]};
        struct dcx_gsps_desc d3 = {.images = mimg, .n_images = 1, .label = "CINE",
                                   .marks = m3.marks, .n_marks = m3.n};
        snprintf(out, sizeof out, "%s/cine.dcm", argv[2]);
        rc = dcx_gsps_write(&d3, out, NULL, &e);
        if (rc < 0)
            fprintf(stderr, "  write (multi-frame): %s\n", e.msg);
        CHECK(rc == 0);
        vw_annots_free_marks(&m3);
        CHECK(dcx_gsps_read(out, &ps, &e) == 0);
        vw_annots *l4 = vw_annots_create();
        size_t total = 0;
        for (unsigned f = 0; f < (unsigned)nf; f++) {
            dcx_gsps_marks_for(ps, mf, f + 1, &back, &nb);
            total += nb;
            vw_annots_from_marks(l4, mf, f, back, nb);
        }
        dcx_gsps_free(ps);
        CHECK(total == 2 && vw_annots_count(l4) == 2);
        for (size_t k = 0; k < vw_annots_count(l4); k++) {
            const struct vw_annot *b = vw_annots_at(l4, k);
            const struct vw_annot *want = b->frame == 3 ? &a3 : &a7;
            CHECK((b->frame == 3 || b->frame == 7) &&
                  memcmp(b->pt, want->pt, 4 * sizeof(float)) == 0);
        }
        vw_annots_destroy(l3);
        vw_annots_destroy(l4);
    }
    return T_DONE();
}
