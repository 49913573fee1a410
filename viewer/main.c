/* main.c - consort-view: the SDL2 application. Parses the command line,
 * opens the images, and either renders one view offscreen into a PNG
 * (--screenshot, no window and no display needed: SDL's offscreen video
 * driver gives a GL context through EGL) or runs the interactive window
 * with the mouse and keyboard conventions of established viewers. */
#include <SDL2/SDL.h>
#include <epoxy/gl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dcx/dcx.h"
#include "dcx/tags.h"
#include "browser.h"
#include "fetch.h"
#include "load.h"
#include "overlay.h"
#include "stack.h"
#include "thumbs.h"
#include "tools.h"
#include "viewport.h"
#include "png.h"
#include "present.h"
#include "rnd/rnd.h"

struct opts {
    const char *screenshot;
    int size_w, size_h;
    int has_window;
    double center, width;
    uint32_t frame;
    double zoom; /* 0: fit */
    double pan_x, pan_y;
    int rotate, flip_h, flip_v, invert, linear;
    const char *script; /* drive the window from a file ("-": stdin) */
    int no_overlay;
    int layout;         /* viewports: 1, 2 (1x2) or 4 (2x2) */
    int decode_only;    /* benchmark floor: decode the series, no window */
    const char *node;   /* AE@HOST:PORT: study browser */
    const char *archive; /* a local consort-node storage folder: browser */
    const char *aet;    /* our AE title towards it */
    double cache_max;   /* bytes; 0: vw_node_parse's default */
    int timeout;        /* s a silent node is waited for; 0: default */
    int threads;
    char **inputs;
    int n_inputs;
};

static void usage(FILE *to)
{
    fputs("usage: consort-view [options] FILE|FOLDER...\n"
          "       consort-view --node AE@HOST:PORT [--aet OUR_AE] [options]\n"
          "       consort-view --archive STORAGE_DIR [options]\n"
          "\n"
          "Shows a series: the images given (folders searched), sorted along\n"
          "the slice normal, or the frames of a multi-frame file. A folder\n"
          "with a DICOMDIR (a CD, a teaching file from consort-node export)\n"
          "lists its studies in the browser (one study opens at once).\n"
          "\n"
          "  --node AE@HOST:PORT   study browser of a node (C-FIND; a study\n"
          "                        is fetched by C-GET when opened)\n"
          "  --aet AE              our AE title (default CONSORTVIEW)\n"
          "  --cache-max GB        fetched studies kept (default 20 GB; the\n"
          "                        ones used longest ago go first)\n"
          "  --timeout S           seconds a silent node is waited for\n"
          "                        before a fetch gives up (default 60)\n"
          "  --archive DIR         study browser of a local consort-node\n"
          "                        archive (its index.sqlite; no copying)\n"
          "  --screenshot OUT.png  render offscreen (no window, no display\n"
          "                        needed) and write a PNG\n"
          "  --size WxH            screenshot size (default: the image's)\n"
          "  --window C,W          window centre and width, modality units\n"
          "                        (default: the file's first, else the\n"
          "                        frame's range)\n"
          "  --frame N             slice or frame, from 0\n"
          "  --zoom Z              screen pixels per image pixel (default:\n"
          "                        fit)\n"
          "  --pan X,Y             move the image by X,Y screen pixels\n"
          "  --rotate N            quarter turns clockwise\n"
          "  --flip h|v|hv         mirror (after rotating)\n"
          "  --invert              invert grey levels\n"
          "  --interp nearest|linear  (default linear)\n"
          "  --threads N           decoder threads (default: one per core)\n"
          "  --decode-only         decode the series, print the time, exit\n"
          "                        (no window: the floor tests/bench/viewer\n"
          "                        compares with)\n"
          "  --overlay full|none   text, orientation and scale bar (default\n"
          "                        full)\n"
          "  --layout 1x1|1x2|2x2  viewports, one series each (default: as\n"
          "                        many as there are series, up to 2x2)\n"
          "  --script FILE         drive the window with commands (tests):\n"
          "                        wheel N | key NAME [shift|ctrl] |\n"
          "                        drag left|right|middle X0 Y0 X1 Y1 |\n"
          "                        wait | sleep MS | state |\n"
          "                        screenshot OUT.png | quit\n"
          "\n"
          "In the window: F1 lists the mouse and keyboard bindings.\n",
          to);
}

/* 1 and *out if option opt's value s is a whole number in [lo, hi];
 * else 0 after "consort-view: OPT FORM, not 'S'" */
static int whole(const char *opt, const char *form, const char *s, long lo,
                 long hi, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (end == s || *end || errno || n < lo || n > hi) {
        fprintf(stderr, "consort-view: %s %s, not '%s'\n", opt, form, s);
        return 0;
    }
    *out = n;
    return 1;
}

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->linear = 1;
    o->inputs = calloc((size_t)argc, sizeof *o->inputs);
    if (!o->inputs)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--screenshot") == 0 && v) {
            o->screenshot = v, i++;
        } else if (strcmp(a, "--size") == 0 && v) {
            if (sscanf(v, "%dx%d", &o->size_w, &o->size_h) != 2 ||
                o->size_w < 1 || o->size_h < 1 || o->size_w > 16384 ||
                o->size_h > 16384) {
                fprintf(stderr, "consort-view: --size WxH, not '%s'\n", v);
                return -1;
            }
            i++;
        } else if (strcmp(a, "--window") == 0 && v) {
            if (sscanf(v, "%lf,%lf", &o->center, &o->width) != 2 ||
                o->width <= 0) {
                fprintf(stderr, "consort-view: --window C,W with W > 0, not "
                                "'%s'\n",
                        v);
                return -1;
            }
            o->has_window = 1, i++;
        } else if (strcmp(a, "--frame") == 0 && v) {
            long n;
            if (!whole(a, "N (0, 1, ...)", v, 0, 1000000, &n))
                return -1;
            o->frame = (uint32_t)n, i++;
        } else if (strcmp(a, "--zoom") == 0 && v) {
            o->zoom = atof(v), i++;
            if (o->zoom <= 0) {
                fprintf(stderr, "consort-view: --zoom must be > 0\n");
                return -1;
            }
        } else if (strcmp(a, "--pan") == 0 && v) {
            if (sscanf(v, "%lf,%lf", &o->pan_x, &o->pan_y) != 2) {
                fprintf(stderr, "consort-view: --pan X,Y, not '%s'\n", v);
                return -1;
            }
            i++;
        } else if (strcmp(a, "--rotate") == 0 && v) {
            /* quarter turns: "--rotate 90" would be 90 of them */
            long n;
            if (!whole(a, "N quarter turns clockwise (-3 to 3)", v, -3, 3, &n))
                return -1;
            o->rotate = (int)n, i++;
        } else if (strcmp(a, "--flip") == 0 && v) {
            if (strspn(v, "hv") != strlen(v) || !*v) {
                fprintf(stderr, "consort-view: --flip h|v|hv, not '%s'\n", v);
                return -1;
            }
            o->flip_h = strchr(v, 'h') != NULL;
            o->flip_v = strchr(v, 'v') != NULL;
            i++;
        } else if (strcmp(a, "--script") == 0 && v) {
            o->script = v, i++;
        } else if (strcmp(a, "--overlay") == 0 && v) {
            if (strcmp(v, "full") && strcmp(v, "none")) {
                fprintf(stderr, "consort-view: --overlay full|none\n");
                return -1;
            }
            o->no_overlay = strcmp(v, "none") == 0, i++;
        } else if (strcmp(a, "--decode-only") == 0) {
            o->decode_only = 1;
        } else if (strcmp(a, "--node") == 0 && v) {
            o->node = v, i++;
        } else if (strcmp(a, "--archive") == 0 && v) {
            o->archive = v, i++;
        } else if (strcmp(a, "--aet") == 0 && v) {
            o->aet = v, i++;
        } else if (strcmp(a, "--timeout") == 0 && v) {
            char *end;
            long t = strtol(v, &end, 10);
            if (end == v || *end || t < 1 || t > 3600) {
                fprintf(stderr, "consort-view: --timeout S (1 to 3600 "
                                "seconds)\n");
                return -1;
            }
            o->timeout = (int)t;
            i++;
        } else if (strcmp(a, "--cache-max") == 0 && v) {
            char *end;
            double gb = strtod(v, &end);
            if (end == v || *end || !(gb > 0)) {
                fprintf(stderr, "consort-view: --cache-max GB (a number "
                                "above 0)\n");
                return -1;
            }
            o->cache_max = gb * 1e9;
            i++;
        } else if (strcmp(a, "--layout") == 0 && v) {
            o->layout = strcmp(v, "1x1") == 0   ? 1
                        : strcmp(v, "1x2") == 0 ? 2
                        : strcmp(v, "2x2") == 0 ? 4
                                                : 0;
            if (!o->layout) {
                fprintf(stderr, "consort-view: --layout 1x1|1x2|2x2\n");
                return -1;
            }
            i++;
        } else if (strcmp(a, "--threads") == 0 && v) {
            long n;
            if (!whole(a, "N (1 to 64)", v, 1, 64, &n))
                return -1;
            o->threads = (int)n, i++;
        } else if (strcmp(a, "--invert") == 0) {
            o->invert = 1;
        } else if (strcmp(a, "--interp") == 0 && v) {
            if (strcmp(v, "nearest") && strcmp(v, "linear")) {
                fprintf(stderr, "consort-view: --interp nearest|linear\n");
                return -1;
            }
            o->linear = strcmp(v, "linear") == 0, i++;
        } else if (a[0] == '-') {
            fprintf(stderr, "consort-view: unknown option '%s'\n", a);
            usage(stderr);
            return -1;
        } else {
            o->inputs[o->n_inputs++] = argv[i];
        }
    }
    if (!o->n_inputs && !o->node && !o->archive) {
        usage(stderr);
        return -1;
    }
    return 0;
}

#define MAX_VP 4

struct app {
    struct opts o;
    struct vw_view_opts vo;
    struct vw_vp vp[MAX_VP];
    int n_vp;           /* viewports with a series */
    char media[1100];   /* DICOMDIR of the media browsed, "" if none */
    int layout;         /* cells shown: 1, 2 or 4 */
    int active;         /* the viewport input goes to */
    int sync;           /* scroll the others to the same slice position */
    /* each viewport's slice position when S turned sync on: series of two
     * Frames of Reference (a prior exam) move by the same distance from
     * there, their coordinates being unrelated */
    double sync_at[MAX_VP][3];
    rnd_ctx *rc;
    rnd_font *font;     /* NULL: no overlays */
    rnd_font *pen;      /* lines and text of the marks (measurements,
                           a presentation state's): opened with
                           --overlay none too; NULL without any font */
    int help;           /* F1: the key bindings over the image */
    int drag_acc;       /* pixels of a scrolling drag not yet a slice */
    int no_reflines;    /* X: reference lines off */
    int playing;        /* cine, of the active viewport */
    uint64_t next_frame_ms;
    /* study browser */
    int browsing;
    struct vw_node node;
    struct vw_study *studies;
    int n_studies;
    char filter[128];
    int sel;            /* index into the filtered rows */
    int list_top;       /* the first row shown: moves only when the
                           selection would leave the rows shown */
    struct vw_thumbs thumbs;
    rnd_image **thumb_tex; /* per study, uploaded when its thumbnail is */
    char status[300];   /* last fetch or query message */
    /* --timing (tests/bench/viewer) */
    int timing, shown_first, reported_loaded;
    /* reading tools (tools.h) */
    struct vw_tools tools;
    int tool_drag;      /* the left button went to the tools */
    struct vw_present *presents; /* presentation states of the series */
    int n_presents, present_idx;
    char note[400];     /* the last save/apply, shown at the top */
    vw_job *job;        /* the study being fetched from the node, or NULL */
    char job_name[128];
    int job_total;      /* the node's count of its instances; 0 unknown */
    int job_ready;      /* its series fetched when the last open was tried */
    int job_shown;      /* its first series is on screen, the rest comes */
    char fetch_line[200]; /* the viewer's line while the rest comes */
    char warn[700];     /* what is shown is not the whole study (damaged or
                           missing files): stays under the note until
                           another study is opened */
    char (*keys)[65];   /* key images (SOP Instance UIDs), K toggles */
    size_t cap_keys;
    int n_keys, teaching; /* Shift+K: the study goes to teaching */
    /* the report being written (Ctrl+R): findings, impression */
    int report_open, report_field;
    char report[2][4096];
    int presents_pending; /* look for the states after the next frame */
    /* the archive's presentation states of study arch_uid (its index,
     * asked once per opening, not once per viewport) */
    char arch_uid[68];
    char **arch_states;
    int n_arch_states;
    int beside;         /* the study being opened goes beside the series on
                           screen (Shift+Enter: a prior exam to compare),
                           its first image series in a viewport of its own */
};

/* A benchmark's marker: the wall clock, which the caller compares with
 * the time it started the process. */
static void timing_mark(const char *what)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    printf("timing %s %.6f\n", what, ts.tv_sec + ts.tv_nsec / 1e9);
    fflush(stdout);
}

/* Window presets on the number keys (CT, Hounsfield units). */
static const struct {
    const char *name;
    double center, width;
} presets[] = {
    {"brain", 40, 80},       {"lung", -600, 1500},
    {"abdomen", 40, 400},    {"bone", 400, 1800},
    {"mediastinum", 50, 350},
};

static const char *const help_lines[] = {
    "Left drag         window / level (right = wider, down = higher)",
    "Right drag        zoom          Middle drag   pan",
    "Wheel, arrows     previous / next slice",
    "Page Up / Down    10 slices     Home / End    first / last",
    "Ctrl + wheel      zoom          Click         choose the viewport",
    "1-5               CT brain, lung, abdomen, bone, mediastinum",
    "6-9               the file's windows      0   auto (histogram)",
    "Space             play / pause cine   + / -   faster / slower",
    "L                 layout 1x1, 1x2, 2x2    S   synchronised scrolling",
    "R                 reset         Shift+R       rotate 90",
    "F                 flip          I             invert",
    "N                 nearest / linear interpolation",
    "Z                 fit / 1:1 (one screen pixel per image pixel)",
    "X                 reference lines on / off",
    "Shift + left drag scroll through the slices",
    "O                 overlay planes (60xx) on / off",
    "B                 back to the study browser (with --node)",
    "D length  A angle  C Cobb angle  E ellipse  G rectangle  W arrow  T text",
    "                  (click or drag on the image; Esc leaves the tool)",
    "Click a mark      select, drag to move   Delete   remove it",
    "Drag a point      of the selected mark: edit it   Enter/F2  retype a text",
    "Ctrl+Z / Ctrl+Y   undo / redo",
    "Ctrl+S            save marks, window and view (GSPS; stored with --node)",
    "P                 next saved presentation state of the series",
    "K                 key image on / off   Shift+K  for teaching (Ctrl+S saves)",
    "Ctrl+R            write the report (Basic Text SR; Ctrl+Enter stores it)",
    "F1                this help     Esc           quit",
};

/* The rows the filter lets through, in order; how many. */
static int filtered(const struct app *a, int *rows, int max)
{
    int n = 0;
    for (int i = 0; i < a->n_studies && n < max; i++)
        if (vw_study_matches(&a->studies[i], a->filter))
            rows[n++] = i;
    return n;
}

/* Where the browser's study rows are in a window h high: the first row's
 * top y, a row's height, how many fit, the first shown; n rows in all
 * (the selection kept among them).
 * The first shown stays where it was unless the selection would leave
 * the rows shown (a row clicked stays under the pointer, for the second
 * click of a double click). The font's line height in lh. */
struct list_geom {
    int y, rh, visible, top, lh;
};

static struct list_geom list_geom(struct app *a, int n, int h)
{
    struct list_geom g;
    g.lh = (a->font ? rnd_font_line_height(a->font) : 16) + 4;
    g.rh = THUMB + 6 > g.lh ? THUMB + 6 : g.lh; /* a thumbnail high */
    g.y = 10 + g.lh * 3; /* title, blank, column heads */
    /* under the list: a line saying what is out of view, then the hint */
    g.visible = (h - 10 - g.lh * 2 - g.y) / g.rh;
    if (g.visible < 1)
        g.visible = 1;
    if (a->sel >= n) /* the filter left fewer rows */
        a->sel = n ? n - 1 : 0;
    int top = a->list_top;
    if (a->sel < top)
        top = a->sel;
    if (a->sel >= top + g.visible)
        top = a->sel - g.visible + 1;
    if (top > n - g.visible) /* no empty rows under a shorter list */
        top = n - g.visible;
    g.top = a->list_top = top < 0 ? 0 : top;
    return g;
}

static void draw_browser(struct app *a, int w, int h)
{
    static const float fg[4] = {1, 1, 1, 1}, dim[4] = {0.7f, 0.7f, 0.7f, 1};
    static const float hl[4] = {0.2f, 0.35f, 0.6f, 1};
    static const float head[4] = {1, 0.85f, 0.3f, 1};
    rnd_clear(w, h);
    if (!a->font)
        return;
    int rows[4096];
    int n = filtered(a, rows, 4096);
    struct list_geom g = list_geom(a, n, h);
    int lh = g.lh, rh = g.rh, m = 10;
    char line[600];
    if (a->o.archive || a->media[0])
        snprintf(line, sizeof line, "Studies in %.300s   %d of %d   Filter: %s_",
                 a->media[0] ? a->media : a->o.archive, n, a->n_studies,
                 a->filter);
    else
        snprintf(line, sizeof line, "Studies on %s@%s:%d   %d of %d   Filter: %s_",
                 a->node.ae, a->node.host, a->node.port, n, a->n_studies,
                 a->filter);
    rnd_text(a->rc, a->font, line, m, m, w, h, head);
    static const char *const cols[] = {"Date",        "Patient", "ID",
                                       "Modality",    "Description",
                                       "Reading",     "Images"};
    int x0 = m + THUMB + 10, span = w - x0 - m;
    int cx[7] = {x0, x0 + 110, x0 + 110 + span * 28 / 100,
                 x0 + 110 + span * 43 / 100, x0 + 110 + span * 53 / 100,
                 w - m - 170, w - m - 60};
    int y = g.y - lh;
    for (int c = 0; c < 7; c++)
        rnd_text(a->rc, a->font, cols[c], cx[c], y, w, h, dim);
    y = g.y;
    int top = g.top, visible = g.visible;
    /* rows out of view are said to be there, under the list */
    int above = top, below = n > top + visible ? n - top - visible : 0;
    if (above || below) {
        char more[120] = "";
        if (above)
            snprintf(more, sizeof more, "%d more above", above);
        if (below)
            snprintf(more + strlen(more), sizeof more - strlen(more),
                     "%s%d more below", above ? ", " : "", below);
        snprintf(more + strlen(more), sizeof more - strlen(more),
                 " (wheel, Page Up/Down)");
        rnd_text(a->rc, a->font, more, m, g.y + visible * rh, w, h, dim);
    }
    for (int r = top; r < n && r < top + visible; r++) {
        int idx = rows[r];
        const struct vw_study *s = &a->studies[idx];
        if (r == a->sel)
            rnd_rect(a->rc, a->font, m - 4, y - 2, w - 2 * m + 8, rh, w, h, hl);
        if (a->thumbs.t && atomic_load(&a->thumbs.t[idx].state) == 2) {
            struct vw_thumb *t = &a->thumbs.t[idx];
            if (!a->thumb_tex[idx]) {
                struct rnd_frame f = {(uint32_t)t->w, (uint32_t)t->h, 3, 8, 0,
                                      RND_RGB, t->rgb, NULL, NULL, 0};
                char err[200];
                a->thumb_tex[idx] = rnd_image_create(a->rc, &f, err, sizeof err);
            }
            if (a->thumb_tex[idx]) {
                struct rnd_view v;
                memset(&v, 0, sizeof v);
                v.slope = 1, v.zoom = 1, v.width = 256, v.center = 128;
                rnd_draw(a->rc, a->thumb_tex[idx], &v, m, y, THUMB, THUMB, h);
            }
        }
        char date[16], name[300], imgs[16], mods[68] = "";
        /* the imaging modalities: presentation states, key objects and
         * reports are the Reading column's */
        for (const char *p = s->mods; *p;) {
            const char *e = strchr(p, '\\');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            int doc = (len == 2 && (!strncmp(p, "PR", 2) ||
                                    !strncmp(p, "KO", 2) ||
                                    !strncmp(p, "SR", 2)));
            size_t k = strlen(mods);
            if (!doc && k + len + 2 < sizeof mods)
                snprintf(mods + k, sizeof mods - k, "%s%.*s", k ? "\\" : "",
                         (int)len, p);
            p = e ? e + 1 : p + len;
        }
        if (strlen(s->date) == 8)
            snprintf(date, sizeof date, "%.4s-%.2s-%.2s", s->date, s->date + 4,
                     s->date + 6);
        else
            snprintf(date, sizeof date, "%s", s->date);
        vw_person_name(s->name, name, sizeof name);
        snprintf(imgs, sizeof imgs, "%d", s->images);
        const char *v[7] = {date,    name, s->id, mods[0] ? mods : s->mods,
                            s->desc, vw_study_status(s), imgs};
        int ty = y + (rh - lh) / 2;
        for (int c = 0; c < 7; c++)
            rnd_text(a->rc, a->font, v[c], cx[c], ty, w, h, fg);
        y += rh;
    }
    if (!a->n_studies)
        rnd_text(a->rc, a->font, "(no studies)", m, y, w, h, dim);
    const char *hint = a->status[0] ? a->status
                                    : "Type to filter (\"unread\": the "
                                      "worklist) - Up/Down or click choose "
                                      "- Enter or double-click opens - "
                                      "Shift: beside - Esc quits";
    rnd_text(a->rc, a->font, hint, m, h - m - lh, w, h, dim);
}

static uint64_t now_ms(void)
{
    return SDL_GetTicks64();
}

/* Cell i of the layout in a w x h framebuffer (1 px gaps). */
static void cell(const struct app *a, int i, int w, int h, int *x, int *y,
                 int *cw, int *ch)
{
    int cols = a->layout == 1 ? 1 : 2, rows = a->layout == 4 ? 2 : 1;
    int c = i % cols, r = i / cols;
    *x = c * w / cols;
    *y = r * h / rows;
    *cw = (c + 1) * w / cols - *x - (c + 1 < cols);
    *ch = (r + 1) * h / rows - *y - (r + 1 < rows);
}

static int cell_at(const struct app *a, int px, int py, int w, int h)
{
    for (int i = 0; i < a->layout; i++) {
        int x, y, cw, ch;
        cell(a, i, w, h, &x, &y, &cw, &ch);
        if (px >= x && px < x + cw && py >= y && py < y + ch)
            return i;
    }
    return a->active;
}

/* The calibration of the image an annotation is on (each image its own:
 * the views of a DR series, the depths of an ultrasound series); none if
 * no viewport holds it. */
static struct vw_cal annot_cal(const struct app *a, const struct vw_annot *an)
{
    for (int i = 0; i < a->n_vp; i++) {
        int k = vw_stack_find(&a->vp[i].st, an->sop_uid, an->frame);
        if (k >= 0)
            return a->vp[i].st.s[k].cal;
    }
    return (struct vw_cal){.kind = VW_CAL_NONE};
}

/* The measurement context of slice s of a viewport (the one shown):
 * calibration, pixels for statistics (grey slices), HU for CT. */
static void slice_measure(const struct vw_vp *vp, const struct vw_slice *s,
                          struct vw_cal *cal, struct vw_px *px,
                          const struct vw_px **pxp, const char **unit)
{
    const struct rnd_frame *f = &vp->st.fmt;
    *cal = s->cal;
    *pxp = NULL;
    int shown = vw_vp_shown(vp);
    const void *data = shown >= 0 && s == &vp->st.s[shown]
                           ? vw_vp_pixels(vp)
                           : NULL;
    if (data && f->samples == 1) {
        *px = vw_vp_px(vp, s, data);
        *pxp = px;
    }
    *unit = vw_vp_unit(vp);
}

/* Annotations, measurements and the key-image mark of slice s (the one
 * on screen). */
static void draw_marks(struct app *a, const struct vw_vp *vp,
                       const struct vw_slice *s, int x, int y, int cw, int ch,
                       int w, int h)
{
    struct vw_cal cal;
    struct vw_px px;
    const struct vw_px *pxp;
    const char *unit;
    slice_measure(vp, s, &cal, &px, &pxp, &unit);
    if (!a->pen) /* nothing to draw lines with */
        return;
    vw_tools_draw(&a->tools, a->rc, a->pen, vp->tex, &vp->view, s->sop_uid,
                  s->frame, &cal, pxp, unit, x, y, cw, ch, w, h);
    for (int i = 0; a->font && i < a->n_keys; i++)
        if (strcmp(a->keys[i], s->sop_uid) == 0) {
            static const float gold[4] = {1, 0.8f, 0.1f, 1};
            const char *mark = a->teaching ? "KEY (teaching)" : "KEY";
            rnd_text(a->rc, a->font, mark,
                     x + (cw - rnd_text_width(a->font, mark)) / 2,
                     y + ch - 3 * rnd_font_line_height(a->font), w, h, gold);
        }
}

/* A slice that cannot be decoded: no image (the texture holds another
 * slice), which slice it is and why, in the viewport's cell. */
static void draw_failed(struct app *a, const struct vw_vp *vp, int x, int y,
                        int cw, int ch, int w, int h)
{
    if (!a->font)
        return;
    static const float fg[4] = {1, 0.45f, 0.35f, 1};
    char line[2][600];
    const struct vw_slice *s = vw_vp_slice(vp);
    const char *base = strrchr(s->path, '/');
    snprintf(line[0], sizeof line[0], "Slice %d/%d cannot be shown",
             vp->cur + 1, vp->st.n);
    snprintf(line[1], sizeof line[1], "%.120s: %.400s",
             base ? base + 1 : s->path, s->err[0] ? s->err : vp->why);
    int lh = rnd_font_line_height(a->font);
    for (int k = 0; k < 2; k++) {
        int tw = rnd_text_width(a->font, line[k]);
        rnd_text(a->rc, a->font, line[k], x + (cw - tw > 0 ? (cw - tw) / 2 : 4),
                 y + ch / 2 - lh + k * lh, w, h, fg);
    }
}

/* One line of text centred at the top on a bar, at y; where the next bar
 * goes (y itself when there is no text). */
static int text_bar(struct app *a, const char *text, int y,
                    const float bg[4], const float fg[4], int w, int h)
{
    if (!a->font || !text[0])
        return y;
    int tw = rnd_text_width(a->font, text);
    int lh = rnd_font_line_height(a->font);
    rnd_rect(a->rc, a->font, (w - tw) / 2 - 8, y, tw + 16, lh + 6, w, h, bg);
    rnd_text(a->rc, a->font, text, (w - tw) / 2, y + 3, w, h, fg);
    return y + lh + 8;
}

/* The bounding box (x0, y0, x1, y1) of rectangle in (x0, y0, x1, y1)
 * mapped by map (screen to image or back: a turn swaps the axes). */
static void map_box(void (*map)(const rnd_image *, const struct rnd_view *,
                                int, int, double, double, double *,
                                double *),
                    const rnd_image *tex, const struct rnd_view *v, int cw,
                    int ch, const double in[4], double out[4])
{
    out[0] = out[1] = INFINITY, out[2] = out[3] = -INFINITY;
    for (int k = 0; k < 4; k++) {
        double x, y;
        map(tex, v, cw, ch, in[k & 1 ? 2 : 0], in[k & 2 ? 3 : 1], &x, &y);
        out[0] = fmin(out[0], x), out[2] = fmax(out[2], x);
        out[1] = fmin(out[1], y), out[3] = fmax(out[3], y);
    }
}

/* The part of the image on screen in viewport i, as a displayed area
 * (TLHC x, y, BRHC x, y, pixels counted from 1: PS3.3 C.10.4); 0 when it
 * is the whole image fitted and centred (no area to save). A pan alone
 * (the zoom still fitted) moves the part on screen too. */
static int shown_area(const struct app *a, int i, int w, int h,
                      int area[4])
{
    const struct vw_vp *vp = &a->vp[i];
    int moved = vp->view.pan_x != 0 || vp->view.pan_y != 0;
    if ((vp->fit && !moved) || !vp->tex)
        return 0;
    int x, y, cw, ch;
    cell(a, i, w, h, &x, &y, &cw, &ch);
    const double screen[4] = {0, 0, cw, ch};
    double b[4];
    map_box(rnd_screen_to_image, vp->tex, &vp->view, cw, ch, screen, b);
    /* image x in [i, i + 1) is pixel column i + 1 */
    area[0] = (int)floor(b[0]) + 1, area[1] = (int)floor(b[1]) + 1;
    area[2] = (int)ceil(b[2]), area[3] = (int)ceil(b[3]);
    return area[2] >= area[0] && area[3] >= area[1];
}

/* A state's displayed area in viewport i, scaled to fit (PS3.3 C.10.4
 * SCALE TO FIT) and centred; its corners may come in any order (the
 * state's rotation decides which is top left). */
static void show_area(struct app *a, int i, int w, int h,
                      const int area[4])
{
    struct vw_vp *vp = &a->vp[i];
    if (!vp->tex)
        return;
    int x, y, cw, ch;
    cell(a, i, w, h, &x, &y, &cw, &ch);
    const double img[4] = {fmin(area[0], area[2]) - 1,
                           fmin(area[1], area[3]) - 1,
                           fmax(area[0], area[2]), fmax(area[1], area[3])};
    struct rnd_view v = vp->view;
    v.zoom = 1, v.pan_x = v.pan_y = 0;
    double b[4];
    map_box(rnd_image_to_screen, vp->tex, &v, cw, ch, img, b);
    if (!(b[2] > b[0] && b[3] > b[1]))
        return;
    v.zoom = fmin(cw / (b[2] - b[0]), ch / (b[3] - b[1]));
    double cx, cy;
    rnd_image_to_screen(vp->tex, &v, cw, ch, (img[0] + img[2]) / 2,
                        (img[1] + img[3]) / 2, &cx, &cy);
    vp->view.zoom = v.zoom;
    vp->view.pan_x = cw / 2.0 - cx;
    vp->view.pan_y = ch / 2.0 - cy;
    vp->fit = 0;
    vp->area_on = 1;
    memmove(vp->area, area, sizeof vp->area);
}

/* A state may window and frame each image its own way (a Softcopy VOI
 * LUT or displayed area item per referenced image, PS3.3 C.11.8,
 * C.10.4): when the slice shown in viewport i comes under another
 * window or area of the state applied, that one applies; while it stays
 * the same, the reader's own changes stay too. An image the state does
 * not reference is shown as the file has it. */
static void follow_state(struct app *a, int i, int w, int h)
{
    struct vw_vp *vp = &a->vp[i];
    int s = vw_vp_shown(vp);
    if (!vp->sv || s < 0 || s == vp->sv_slice)
        return;
    const struct vw_state_view *o =
        vp->sv_slice >= 0 ? &vp->sv[vp->sv_slice] : NULL;
    const struct vw_state_view *n = &vp->sv[s];
    vp->sv_slice = s;
    if (!n->in_state) { /* an image the state leaves alone: its own view */
        if (!o || o->in_state) {
            int x, y, cw, ch;
            cell(a, i, w, h, &x, &y, &cw, &ch);
            vw_vp_reset(vp, &a->vo, cw, ch);
        }
        return;
    }
    if (o && !o->in_state) { /* back in the state: its turn, flip, all */
        vp->view.rotate = vp->sv_rotate;
        vp->view.flip_h = vp->sv_flip;
        vp->view.flip_v = 0;
        o = NULL;
    }
    if (n->has_window && (!o || !o->has_window || o->center != n->center ||
                          o->width != n->width)) {
        vp->view.center = n->center;
        vp->view.width = n->width;
        vp->view.voi = RND_VOI_LINEAR;
    }
    if (n->has_area &&
        (!o || !o->has_area || memcmp(o->area, n->area, sizeof n->area)))
        show_area(a, i, w, h, n->area);
}

/* Each viewport's view for the slice it shows, as drawn: the state's
 * window and area for that slice (follow_state), the zoom of a fitted
 * viewport for its slice's size in its cell, a state's displayed area
 * fitted again into its cell. */
static void refit(struct app *a, int w, int h)
{
    for (int i = 0; i < a->n_vp && i < a->layout; i++) {
        follow_state(a, i, w, h);
        int x, y, cw, ch;
        cell(a, i, w, h, &x, &y, &cw, &ch);
        if (a->vp[i].fit && a->vp[i].tex)
            a->vp[i].view.zoom =
                rnd_fit_zoom(a->vp[i].tex, a->vp[i].view.rotate, cw, ch);
        else if (a->vp[i].area_on)
            show_area(a, i, w, h, a->vp[i].area);
    }
}

/* Every cell, its overlays, the active cell's frame, the help. */
static void draw(struct app *a, int w, int h)
{
    if (a->browsing) {
        draw_browser(a, w, h);
        return;
    }
    rnd_clear(w, h);
    refit(a, w, h); /* slices may differ in size (a DR series' views) */
    for (int i = 0; i < a->layout; i++) {
        int x, y, cw, ch;
        cell(a, i, w, h, &x, &y, &cw, &ch);
        struct vw_vp *vp = &a->vp[i];
        if (i >= a->n_vp)
            continue;
        if (vp->failed) {
            draw_failed(a, vp, x, y, cw, ch, w, h);
            continue;
        }
        /* while the slice asked for decodes, the one still in the texture
         * is drawn with its own labels, never under the new one's */
        int shown = vw_vp_shown(vp);
        if (shown < 0)
            continue;
        rnd_draw(a->rc, vp->tex, &vp->view, x, y, cw, ch, h);
        if (a->font)
            vw_overlay_draw(a->rc, a->font, &vp->im, &vp->st, shown,
                            &vp->view, vp->tex, x, y, cw, ch, w, h);
        draw_marks(a, vp, &vp->st.s[shown], x, y, cw, ch, w, h);
    }
    /* reference lines: where the active viewport's slice cuts the others */
    for (int i = 0; a->font && !a->no_reflines && i < a->layout &&
                    i < a->n_vp && a->n_vp > 1;
         i++) {
        if (i == a->active || vw_vp_shown(&a->vp[i]) < 0)
            continue;
        int x, y, cw, ch;
        double l[4];
        cell(a, i, w, h, &x, &y, &cw, &ch);
        if (vw_vp_reference_line(&a->vp[i], vw_vp_slice(&a->vp[a->active]),
                                 cw, ch, l) == 0) {
            static const float ref[4] = {0.3f, 0.9f, 1, 0.9f};
            rnd_line(a->rc, a->font, x + l[0], y + l[1], x + l[2], y + l[3],
                     1.5, w, h, ref);
        }
    }
    if (a->font && a->layout > 1) {
        static const float frame[4] = {1, 0.85f, 0.3f, 0.9f};
        int x, y, cw, ch;
        cell(a, a->active, w, h, &x, &y, &cw, &ch);
        rnd_rect(a->rc, a->font, x, y, cw, 2, w, h, frame);
        rnd_rect(a->rc, a->font, x, y + ch - 2, cw, 2, w, h, frame);
        rnd_rect(a->rc, a->font, x, y, 2, ch, w, h, frame);
        rnd_rect(a->rc, a->font, x + cw - 2, y, 2, ch, w, h, frame);
    }
    if (a->font && a->report_open) {
        static const float panel[4] = {0.03f, 0.03f, 0.08f, 0.9f};
        static const float fg[4] = {1, 1, 1, 1};
        static const float dim[4] = {0.7f, 0.7f, 0.75f, 1};
        int lh = rnd_font_line_height(a->font), px = 24, py = h / 2;
        rnd_rect(a->rc, a->font, 12, py - 12, w - 24, h - py, w, h, panel);
        rnd_text(a->rc, a->font,
                 "Report - Tab: findings / impression - Enter: new line - "
                 "Ctrl+Enter: save and store - Esc: close",
                 px, py, w, h, dim);
        py += lh * 3 / 2;
        static const char *const titles[2] = {"Findings", "Impression"};
        for (int f = 0; f < 2; f++) {
            rnd_text(a->rc, a->font, titles[f], px, py,
                     w, h, f == a->report_field ? fg : dim);
            py += lh;
            /* line by line; the active field shows a cursor */
            char buf[4100];
            snprintf(buf, sizeof buf, "%s%s", a->report[f],
                     f == a->report_field ? "_" : "");
            for (char *line = buf, *next; line && py < h - lh; line = next) {
                next = strchr(line, '\n');
                if (next)
                    *next++ = '\0';
                rnd_text(a->rc, a->font, line, px + 16, py, w, h, fg);
                py += lh;
            }
            py += lh / 2;
        }
    }
    static const float note_bg[4] = {0.05f, 0.05f, 0.1f, 0.8f},
                       note_fg[4] = {1, 0.9f, 0.5f, 1},
                       warn_bg[4] = {0.25f, 0.02f, 0.02f, 0.85f},
                       warn_fg[4] = {1, 0.85f, 0.8f, 1};
    int bar_y = text_bar(a, a->note, 4, note_bg, note_fg, w, h);
    bar_y = text_bar(a, a->fetch_line, bar_y, note_bg, note_fg, w, h);
    text_bar(a, a->warn, bar_y, warn_bg, warn_fg, w, h);
    if (a->font && a->help) {
        int lh = rnd_font_line_height(a->font), n = 0, tw = 0;
        for (; n < (int)(sizeof help_lines / sizeof help_lines[0]); n++) {
            int k = rnd_text_width(a->font, help_lines[n]);
            tw = k > tw ? k : tw;
        }
        int bx = (w - tw) / 2 - 12, by = (h - n * lh) / 2 - 12;
        static const float box[4] = {0.05f, 0.05f, 0.1f, 0.85f};
        static const float fg[4] = {1, 1, 1, 1};
        rnd_rect(a->rc, a->font, bx, by, tw + 24, n * lh + 24, w, h, box);
        for (int i = 0; i < n; i++)
            rnd_text(a->rc, a->font, help_lines[i], bx + 12, by + 12 + i * lh,
                     w, h, fg);
    }
}

static void open_font(struct app *a, int h)
{
    char err[512];
    a->pen = vw_overlay_font(h, err, sizeof err);
    if (!a->pen)
        fprintf(stderr, "consort-view: no overlays: %s\n", err);
    a->font = a->o.no_overlay ? NULL : a->pen;
}

/* Study Instance UID of the active viewport's series ("" if none). */
static void active_study(const struct app *a, char *uid, size_t len)
{
    uid[0] = '\0';
    if (a->n_vp)
        vw_image_text(&a->vp[a->active].im, DCX_TAG(0x0020, 0x000D), uid,
                      len);
}

/* Synchronised scrolling of viewport i goes on from its slice now. */
static void sync_here(struct app *a, int i)
{
    memcpy(a->sync_at[i], vw_vp_slice(&a->vp[i])->pos, sizeof a->sync_at[i]);
}

/* The study's folder in the viewer's cache, where presentation states
 * are saved (created). */
static int study_dir(const struct app *a, char *dir, size_t len)
{
    char uid[68];
    active_study(a, uid, sizeof uid);
    vw_cache_dir(uid[0] ? uid : "unknown-study", dir, len);
    return vw_mkdirs(dir);
}

static void apply_present(struct app *a, int i, int w, int h)
{
    struct vw_vp *vp = &a->vp[a->active];
    char err[300];
    int area[4], has_area = 0;
    if (vw_present_apply(vp, &a->tools, a->presents[i].path, area,
                         &has_area, err, sizeof err) < 0) {
        snprintf(a->note, sizeof a->note, "presentation state: %s", err);
        return;
    }
    if (has_area)
        show_area(a, a->active, w, h, area);
    a->present_idx = i;
    const struct vw_present *p = &a->presents[i];
    snprintf(a->note, sizeof a->note,
             "presentation state %d/%d: %s, %s, %.8s (P: next)", i + 1,
             a->n_presents, p->label, p->creator[0] ? p->creator : "?",
             p->when);
}

/* The archive's states asked for are forgotten (a study opened again may
 * have new ones). */
static void forget_arch_states(struct app *a)
{
    for (int i = 0; i < a->n_arch_states; i++)
        free(a->arch_states[i]);
    free(a->arch_states);
    a->arch_states = NULL;
    a->n_arch_states = 0;
    a->arch_uid[0] = '\0';
}

/* The states beside the active series; the newest applied if asked.
 * cache: the folders read for another viewport already (or NULL). */
static void load_presents(struct app *a, int apply_newest,
                          vw_present_cache *cache, int w, int h)
{
    free(a->presents);
    a->presents = NULL;
    a->n_presents = 0;
    a->present_idx = -1;
    if (!a->n_vp)
        return;
    char dir[1100];
    study_dir(a, dir, sizeof dir);
    /* an archive's states: from its index, not its folders (data/xx hold
     * every study's files) */
    char uid[68], err[300];
    active_study(a, uid, sizeof uid);
    if (a->o.archive && strcmp(uid, a->arch_uid) != 0) {
        forget_arch_states(a);
        if (vw_archive_states(a->o.archive, uid, &a->arch_states,
                              &a->n_arch_states, err, sizeof err) == 0)
            snprintf(a->arch_uid, sizeof a->arch_uid, "%s", uid);
    }
    static const char *const none[1] = {NULL};
    a->n_presents = vw_present_find(
        &a->vp[a->active], dir, cache,
        !a->o.archive     ? NULL
        : a->arch_states ? (const char *const *)a->arch_states
                         : none,
        a->n_arch_states, &a->presents);
    if (apply_newest && a->n_presents > 0)
        apply_present(a, 0, w, h);
}

/* Every viewport's series gets its newest state (marks belong to their
 * images, so they add up; a study opened from media has its GSPS in a
 * series folder of its own); the active viewport's is applied last, so
 * its list is the one P goes through. 1 if any was applied. */
static int load_all_presents(struct app *a, int w, int h)
{
    int keep = a->active, any = 0;
    vw_present_cache *cache = vw_present_cache_new(); /* NULL: each reads */
    for (int i = 0; i < a->n_vp && i < a->layout; i++) {
        if (i == keep)
            continue;
        a->active = i;
        load_presents(a, 1, cache, w, h);
        any |= a->n_presents > 0;
    }
    a->active = keep;
    load_presents(a, 1, cache, w, h);
    vw_present_cache_free(cache);
    return any || a->n_presents > 0;
}

/* What a saved reading needs: the study's cache folder (made) and the
 * reader's name ($CONSORT_READER, else $USER; may be NULL). 0, or -1 with
 * the note set if the folder cannot be made. */
static int reading_place(struct app *a, char *dir, size_t len,
                         const char **who)
{
    if (study_dir(a, dir, len) < 0) {
        snprintf(a->note, sizeof a->note, "cannot create the study's folder "
                                          "in the cache");
        return -1;
    }
    *who = getenv("CONSORT_READER");
    if (!*who || !**who)
        *who = getenv("USER");
    return 0;
}

/* A reading just stored to the node (an object of SOP class sop_class in
 * the active viewport's study): the study list's Reading column says so
 * at once, as the node's next answer would (an "unread" worklist drops
 * the study reported). Without a node nothing was stored there. */
static void node_holds(struct app *a, const char *sop_class,
                       const char *modality)
{
    char uid[68] = "";
    if (!a->o.node || !a->n_vp)
        return;
    active_study(a, uid, sizeof uid);
    for (int i = 0; i < a->n_studies; i++) {
        struct vw_study *st = &a->studies[i];
        if (strcmp(st->uid, uid) != 0)
            continue;
        /* the list's own terms: SOP Classes in Study, else (a node that
         * does not return them) Modalities in Study */
        char *list = st->classes[0] ? st->classes : st->mods;
        size_t cap = st->classes[0] ? sizeof st->classes : sizeof st->mods;
        const char *v = st->classes[0] ? sop_class : modality;
        size_t l = strlen(list);
        if (!strstr(list, v) && l + strlen(v) + 2 <= cap)
            snprintf(list + l, cap - l, "%s%s", l ? "\\" : "", v);
    }
}

static void save_present(struct app *a, int w, int h)
{
    char dir[1100];
    const char *who;
    if (reading_place(a, dir, sizeof dir, &who) < 0)
        return;
    char msg[400] = "", kmsg[400] = "";
    int area[4];
    int has_area = shown_area(a, a->active, w, h, area);
    if ((vw_annots_count(a->tools.annots) || !a->n_keys) &&
        vw_present_save(&a->vp[a->active], &a->tools,
                        has_area ? area : NULL, dir, who,
                        a->o.node ? &a->node : NULL, msg, sizeof msg) == 0)
        node_holds(a, DCX_GSPS_CLASS, "PR");
    if (a->n_keys &&
        vw_present_save_keys(&a->vp[a->active], a->keys, a->n_keys,
                             a->teaching, dir, a->o.node ? &a->node : NULL,
                             kmsg, sizeof kmsg) == 0)
        node_holds(a, "1.2.840.10008.5.1.4.1.1.88.59", "KO");
    snprintf(a->note, sizeof a->note, "%s%s%s", msg, *msg && *kmsg ? "; " : "",
             kmsg);
    int keep = a->present_idx;
    load_presents(a, 0, NULL, w, h);
    a->present_idx = keep;
}

static void save_report(struct app *a)
{
    char dir[1100];
    if (!a->report[0][0] && !a->report[1][0]) {
        snprintf(a->note, sizeof a->note, "the report is empty");
        return;
    }
    const char *who;
    if (reading_place(a, dir, sizeof dir, &who) < 0)
        return;
    int rc = vw_present_save_report(&a->vp[a->active], a->report[0],
                                    a->report[1], who, dir,
                                    a->o.node ? &a->node : NULL, a->note,
                                    sizeof a->note);
    if (rc == 0)
        node_holds(a, "1.2.840.10008.5.1.4.1.1.88.11", "SR");
    if (rc >= 0) {
        a->report_open = 0;
        a->report[0][0] = a->report[1][0] = '\0';
    }
}

/* The slice to open at cannot be decoded: the nearest one that can is
 * shown instead, and the warning says so (a screenshot of a given frame
 * fails instead). 0, or -1 if no slice of the series can be shown. */
static int show_nearest(struct app *a, struct vw_vp *vp)
{
    int want = vp->cur;
    const struct vw_slice *s = vw_vp_slice(vp);
    const char *base = strrchr(s->path, '/');
    char why[400], err[512];
    snprintf(why, sizeof why, "%.120s: %.250s", base ? base + 1 : s->path,
             s->err[0] ? s->err : vp->why);
    for (int d = 1; d < vp->st.n; d++)
        for (int k = want - d; k <= want + d; k += 2 * d) {
            if (k < 0 || k >= vp->st.n)
                continue;
            vp->cur = k;
            if (vw_vp_show(vp, a->rc, err, sizeof err) == 0) {
                size_t l = strlen(a->warn);
                snprintf(a->warn + l, sizeof a->warn - l,
                         "%sslice %d cannot be shown (%s); showing slice %d",
                         l ? "; " : "", want + 1, why, k + 1);
                return 0;
            }
        }
    vp->cur = want;
    return -1;
}

/* Shows every viewport's first slice and fits it into its cell. */
static int reset_all(struct app *a, int w, int h, char *err, size_t errlen)
{
    forget_arch_states(a); /* a study opened again: its states asked anew */
    for (int i = 0; i < a->n_vp; i++) {
        int x, y, cw, ch;
        cell(a, i < a->layout ? i : 0, w, h, &x, &y, &cw, &ch);
        if (vw_vp_show(&a->vp[i], a->rc, err, errlen) < 0 &&
            (a->o.screenshot || show_nearest(a, &a->vp[i]) < 0))
            return -1;
        vw_vp_reset(&a->vp[i], &a->vo, cw, ch);
        sync_here(a, i); /* synchronised scrolling goes on from here */
    }
    /* a study opened again comes back as it was read: its presentation
     * states are looked for once the first image is on screen (the
     * folder scan must not delay it) */
    a->presents_pending = 1;
    return 0;
}

/* After the active viewport changed slice: the others follow by slice
 * position when synchronised. */
static void follow(struct app *a)
{
    if (!a->sync)
        return;
    const struct vw_slice *s = vw_vp_slice(&a->vp[a->active]);
    for (int i = 0; i < a->n_vp && i < a->layout; i++) {
        if (i == a->active)
            continue;
        /* one Frame of Reference: the same place; else the same distance
         * from where each was when sync began */
        const struct vw_slice *o = vw_vp_slice(&a->vp[i]);
        double shift[3];
        for (int k = 0; k < 3; k++)
            shift[k] = a->sync_at[i][k] - a->sync_at[a->active][k];
        int same = s->for_uid[0] && strcmp(s->for_uid, o->for_uid) == 0;
        vw_vp_sync_to(&a->vp[i], a->rc, s, same ? NULL : shift);
    }
}

/* S: synchronised scrolling on (each viewport's position kept as where
 * it starts from) or off. */
static void toggle_sync(struct app *a)
{
    a->sync = !a->sync;
    for (int i = 0; a->sync && i < a->n_vp; i++)
        sync_here(a, i);
    follow(a);
}

/* SDL's video and a w x h window with an OpenGL 3.3 core context; NULL
 * (said on stderr, SDL shut) when there is none. hint follows the SDL
 * error when video itself fails. */
static SDL_Window *gl_open(int w, int h, int hidden, const char *hint,
                           SDL_GLContext *ctx)
{
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "consort-view: SDL: %s%s\n", SDL_GetError(), hint);
        return NULL;
    }
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK,
                        SDL_GL_CONTEXT_PROFILE_CORE);
    SDL_GL_SetAttribute(SDL_GL_DOUBLEBUFFER, 1);
    /* 2D: no depth or stencil buffer (each a window-sized allocation) */
    SDL_GL_SetAttribute(SDL_GL_DEPTH_SIZE, 0);
    SDL_GL_SetAttribute(SDL_GL_STENCIL_SIZE, 0);
    SDL_Window *win = SDL_CreateWindow(
        "consort-view", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, w, h,
        SDL_WINDOW_OPENGL | (hidden ? SDL_WINDOW_HIDDEN : SDL_WINDOW_RESIZABLE));
    *ctx = win ? SDL_GL_CreateContext(win) : NULL;
    if (!*ctx) {
        fprintf(stderr, "consort-view: no OpenGL 3.3 core context: %s\n",
                SDL_GetError());
        if (win)
            SDL_DestroyWindow(win);
        SDL_Quit();
        return NULL;
    }
    return win;
}

/* Undoes gl_open and what was made in its context (textures, font,
 * renderer). */
static void gl_close(struct app *a, SDL_Window *win, SDL_GLContext ctx)
{
    rnd_font_close(a->pen);
    a->font = a->pen = NULL;
    for (int i = 0; i < a->n_vp; i++) {
        rnd_image_destroy(a->vp[i].tex);
        a->vp[i].tex = NULL;
    }
    rnd_ctx_destroy(a->rc);
    a->rc = NULL;
    SDL_GL_DeleteContext(ctx);
    SDL_DestroyWindow(win);
    SDL_Quit();
}

static int write_png(int w, int h, const char *path, char *err,
                     size_t errlen)
{
    uint8_t *rgb = malloc((size_t)w * h * 3);
    if (!rgb) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rnd_read_rgb(w, h, rgb);
    int rc = vw_png_write(path, rgb, w, h, err, errlen);
    free(rgb);
    return rc;
}

static int screenshot(struct app *a)
{
    char err[512];
    /* no window system needed: EGL on Mesa through SDL's offscreen driver */
    SDL_SetHint(SDL_HINT_VIDEODRIVER, "offscreen");
    SDL_GLContext ctx = NULL;
    SDL_Window *win = gl_open(64, 64, 1, "", &ctx);
    if (!win)
        return 1;
    int rc = 1;
    rnd_target *t = NULL;
    const struct vw_stack *st = &a->vp[0].st;
    int w = a->o.size_w ? a->o.size_w : (int)st->fmt.width * (a->layout > 1 ? 2 : 1);
    int h = a->o.size_h ? a->o.size_h : (int)st->fmt.height * (a->layout > 2 ? 2 : 1);
    a->rc = rnd_ctx_create(err, sizeof err);
    if (!a->rc || reset_all(a, w, h, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        goto out;
    }
    t = rnd_target_create(w, h, err, sizeof err);
    if (!t) {
        fprintf(stderr, "consort-view: %s\n", err);
        goto out;
    }
    rnd_target_bind(t);
    open_font(a, h);
    draw(a, w, h);
    if (write_png(w, h, a->o.screenshot, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        goto out;
    }
    const struct vw_vp *v0 = &a->vp[0];
    printf("%s: %dx%d, slice %d of %d, window %g/%g%s, %d viewport(s)\n",
           a->o.screenshot, w, h, v0->cur + 1, v0->st.n, v0->view.center,
           v0->view.width, v0->view.invert ? ", inverted" : "", a->layout);
    rc = 0;
out:
    rnd_target_destroy(t);
    gl_close(a, win, ctx);
    return rc;
}

/* ---- scripted input (tests): each line becomes SDL events, pushed into
 * the same queue the mouse and keyboard fill ---- */

static void job_finish(struct app *a, int w, int h);

static void push_button(int type, int button, int x, int y, int clicks)
{
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = (Uint32)type;
    e.button.button = (Uint8)button;
    e.button.clicks = (Uint8)clicks;
    e.button.state = type == SDL_MOUSEBUTTONDOWN ? SDL_PRESSED : SDL_RELEASED;
    e.button.x = x;
    e.button.y = y;
    SDL_PushEvent(&e);
}

static void push_motion(int x, int y, int dx, int dy)
{
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = SDL_MOUSEMOTION;
    e.motion.x = x;
    e.motion.y = y;
    e.motion.xrel = dx;
    e.motion.yrel = dy;
    SDL_PushEvent(&e);
}

/* mm as a JSON number, NAN (unknown) as null */
static void json_mm(double v)
{
    if (isnan(v))
        printf("null");
    else
        printf("%.3f", v);
}

/* Executes one script line; 1 to quit, 2 + ms to sleep, -1 on a bad
 * line. */
/* s as a JSON string on stdout (UTF-8 passes through) */
static int script_line(struct app *a, char *line, int w, int h)
{
    char cmd[32] = "", arg[1024] = "", mod[16] = "";
    int n = sscanf(line, "%31s %1023s %15s", cmd, arg, mod);
    if (n <= 0 || cmd[0] == '#')
        return 0;
    if (strcmp(cmd, "quit") == 0)
        return 1;
    if (strcmp(cmd, "wait") == 0) {
        if (a->job) { /* the study being fetched, opened */
            vw_job_wait(a->job);
            job_finish(a, w, h);
        }
        if (a->browsing && a->thumbs.started) { /* thumbnails made */
            pthread_join(a->thumbs.th, NULL);
            a->thumbs.started = 0;
        }
        for (int i = 0; i < a->n_vp; i++) {
            vw_stack_wait_all(&a->vp[i].st);
            if (a->vp[i].pending)
                vw_vp_try_show(&a->vp[i], a->rc);
        }
        return 0;
    }
    if (strcmp(cmd, "scroll_bench") == 0 && n >= 2) {
        /* N slice changes, each uploaded, drawn and finished on the GPU:
         * what the wheel costs once the series is in memory */
        struct vw_vp *vp = &a->vp[a->active];
        int steps = atoi(arg), dir = 1;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < steps; i++) {
            if (!vw_vp_step(vp, a->rc, dir)) {
                dir = -dir;
                vw_vp_step(vp, a->rc, dir);
            }
            rnd_target_bind(NULL);
            draw(a, w, h);
            glFinish();
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("scroll %d frames %.3f s %.1f fps %dx%d\n", steps, dt,
               steps / dt, w, h);
        fflush(stdout);
        return 0;
    }
    if (strcmp(cmd, "memory") == 0) {
        /* peak resident memory (VmHWM) of this process */
        FILE *f = fopen("/proc/self/status", "r");
        char l[256];
        while (f && fgets(l, sizeof l, f))
            if (strncmp(l, "VmHWM:", 6) == 0 || strncmp(l, "VmRSS:", 6) == 0)
                printf("memory %s", l);
        if (f)
            fclose(f);
        fflush(stdout);
        return 0;
    }
    if (strcmp(cmd, "sleep") == 0 && n >= 2) /* ms: cine runs meanwhile */
        return 2 + atoi(arg);
    if (strcmp(cmd, "state") == 0 && a->browsing) {
        int rows[4096];
        int k = filtered(a, rows, 4096);
        struct list_geom g = list_geom(a, k, h);
        printf("{\"mode\":\"browser\",\"studies\":%d,\"rows\":%d,"
               "\"selected\":%d,\"list\":{\"y\":%d,\"row_h\":%d,"
               "\"top\":%d,\"visible\":%d},\"names\":[",
               a->n_studies, k, a->sel, g.y, g.rh, g.top, g.visible);
        for (int i = 0; i < k; i++) {
            printf("%s\"", i ? "," : "");
            for (const char *p = a->studies[rows[i]].name; *p; p++)
                printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
            printf("\"");
        }
        printf("],\"dates\":[");
        for (int i = 0; i < k; i++)
            printf("%s\"%s%s\"", i ? "," : "", a->studies[rows[i]].date,
                   a->studies[rows[i]].time);
        printf("],\"reading\":[");
        for (int i = 0; i < k; i++)
            printf("%s\"%s\"", i ? "," : "",
                   vw_study_status(&a->studies[rows[i]]));
        int ready = 0;
        for (int i = 0; i < a->thumbs.n; i++)
            ready += atomic_load(&a->thumbs.t[i].state) == 2;
        unsigned got = 0;
        if (a->job)
            vw_job_poll(a->job, &got);
        printf("],\"thumbnails\":%d,\"status\":\"%s\",\"fetching\":%d,"
               "\"received\":%u,\"viewports\":%d,\"status_text\":",
               ready, a->status[0] ? "message" : "", a->job != NULL, got,
               a->n_vp);
        dcx_json_print(stdout, a->status);
        printf("}\n");
        fflush(stdout);
        return 0;
    }
    if (strcmp(cmd, "text") == 0 && n >= 2) {
        /* typed text reaches the window only while text input is on
         * (SDL_SendKeyboardText drops it otherwise): so does this */
        if (SDL_GetEventState(SDL_TEXTINPUT) != SDL_ENABLE)
            return 0;
        /* the rest of the line, spaces included, in as many events as
         * SDL's 32-byte text field needs (cut between characters) */
        const char *p = strstr(line, "text") + 4;
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, "\r\n");
        while (len > 0) {
            SDL_Event t;
            memset(&t, 0, sizeof t);
            t.type = SDL_TEXTINPUT;
            size_t k = len < sizeof t.text.text - 1 ? len
                                                    : sizeof t.text.text - 1;
            while (k < len && k > 0 && ((unsigned char)p[k] & 0xC0) == 0x80)
                k--;
            memcpy(t.text.text, p, k);
            SDL_PushEvent(&t);
            p += k, len -= k;
        }
        return 0;
    }
    if (strcmp(cmd, "state") == 0) {
        const struct vw_vp *vp = &a->vp[a->active];
        const struct rnd_view *v = &vp->view;
        int x, y, cw, ch;
        cell(a, a->active, w, h, &x, &y, &cw, &ch);
        refit(a, w, h); /* as drawn: each slice its own size */
        char r[4] = "", l[4] = "", u[4] = "", d[4] = "";
        if (vw_vp_shown(vp) >= 0)
            vw_overlay_orientation(&vp->st.s[vw_vp_shown(vp)], v, vp->tex,
                                   cw, ch, r, l, u, d);
        const struct vw_cal *cal = &vw_vp_slice(vp)->cal;
        printf("{\"mode\":\"viewer\",\"slice\":%d,\"shown\":%d,\"slices\":%d,"
               "\"instance\":%d,\"voi_lut\":%d,\"center\":%.3f,\"width\":%.3f,"
               "\"zoom\":%.4f,\"pan_x\":%.2f,\"pan_y\":%.2f,\"invert\":%d,"
               "\"rotate\":%d,\"flip_h\":%d,\"linear\":%d,"
               "\"orientation\":[\"%s\",\"%s\",\"%s\",\"%s\"],"
               "\"playing\":%d,\"fps\":%.2f,\"help\":%d,\"layout\":%d,"
               "\"active\":%d,\"sync\":%d,\"text_input\":%d,"
               "\"calibration\":\"%s\","
               "\"mm_per_pixel\":%.4f,\"viewport_slices\":[",
               vp->cur, vw_vp_shown(vp), vp->st.n, vw_vp_slice(vp)->instance,
               v->voi == RND_VOI_LUT, v->center, v->width,
               v->zoom, v->pan_x,
               v->pan_y, v->invert, v->rotate, v->flip_h, v->linear, r, l, u,
               d, a->playing, vp->fps, a->help, a->layout, a->active, a->sync,
               SDL_IsTextInputActive() ? 1 : 0, vw_cal_name(cal),
               cal->kind != VW_CAL_NONE ? cal->mm_x : 0.0);
        for (int i = 0; i < a->n_vp; i++)
            printf("%s%d", i ? "," : "", a->vp[i].cur);
        /* the corner's Loc and Thk of the slice on screen (null: none) */
        const struct vw_slice *sl = vw_vp_slice(vp);
        size_t kept, decoded;
        vw_stack_memory(&vp->st, &kept, &decoded);
        printf("],\"kept_bytes\":%zu,\"decoded_bytes\":%zu", kept, decoded);
        printf(",\"location\":");
        json_mm(sl->location);
        printf(",\"thickness\":");
        json_mm(sl->thickness);
        printf(",\"reference\":[");
        for (int i = 0; i < a->n_vp; i++) {
            double l[4];
            int x2, y2, cw2, ch2;
            cell(a, i, w, h, &x2, &y2, &cw2, &ch2);
            if (i != a->active && i < a->layout &&
                vw_vp_reference_line(&a->vp[i], vw_vp_slice(&a->vp[a->active]),
                                     cw2, ch2, l) == 0)
                printf("%s[%.2f,%.2f,%.2f,%.2f]", i ? "," : "", l[0], l[1],
                       l[2], l[3]);
            else
                printf("%snull", i ? "," : "");
        }
        printf("],\"viewport_series\":[");
        for (int i = 0; i < a->n_vp; i++)
            printf("%s\"%s\"", i ? "," : "", a->vp[i].st.series_uid);
        printf("],\"viewport_positions\":[");
        for (int i = 0; i < a->n_vp; i++)
            printf("%s%.3f", i ? "," : "", vw_vp_slice(&a->vp[i])->key);
        printf("],\"tool\":\"%s\",\"selected\":%u,\"presents\":%d,"
               "\"present\":%d,\"keys\":%d,\"teaching\":%d,"
               "\"report_open\":%d,\"note\":",
               a->tools.tool >= 0 ? vw_tool_layer(a->tools.tool) : "",
               a->tools.selected, a->n_presents, a->present_idx, a->n_keys,
               a->teaching, a->report_open);
        dcx_json_print(stdout, a->note);
        printf(",\"warning\":");
        dcx_json_print(stdout, a->warn);
        printf(",\"fetch_line\":");
        dcx_json_print(stdout, a->fetch_line);
        printf(",\"annotations\":[");
        for (size_t i = 0; i < vw_annots_count(a->tools.annots); i++) {
            const struct vw_annot *an = vw_annots_at(a->tools.annots, i);
            char lab[512];
            struct vw_cal mcal = annot_cal(a, an);
            vw_annot_label(an, &mcal, NULL, NULL, lab, sizeof lab);
            printf("%s{\"id\":%u,\"tool\":\"%s\",\"sop\":\"%s\",\"frame\":%u,"
                   "\"points\":[",
                   i ? "," : "", an->id, vw_tool_layer(an->tool), an->sop_uid,
                   an->frame);
            for (int k = 0; k < 2 * an->n; k++)
                printf("%s%.2f", k ? "," : "", an->pt[k]);
            printf("],\"label\":");
            dcx_json_print(stdout, lab);
            printf("}");
        }
        printf("]}\n");
        fflush(stdout);
        return 0;
    }
    if (strcmp(cmd, "screenshot") == 0 && n >= 2) {
        char err[512];
        rnd_target_bind(NULL);
        if (write_png(w, h, arg, err, sizeof err) < 0) {
            fprintf(stderr, "consort-view: %s\n", err);
            return -1;
        }
        return 0;
    }
    SDL_Event e;
    memset(&e, 0, sizeof e);
    if (strcmp(cmd, "wheel") == 0 && n >= 2) {
        e.type = SDL_MOUSEWHEEL;
        e.wheel.y = atoi(arg);
        SDL_PushEvent(&e);
        return 0;
    }
    if (strcmp(cmd, "key") == 0 && n >= 2) {
        SDL_Keycode k = SDL_GetKeyFromName(arg);
        if (k == SDLK_UNKNOWN)
            return -1;
        SDL_Keymod m = strcmp(mod, "shift") == 0  ? KMOD_LSHIFT
                       : strcmp(mod, "ctrl") == 0 ? KMOD_LCTRL
                                                  : KMOD_NONE;
        e.type = SDL_KEYDOWN;
        e.key.state = SDL_PRESSED;
        e.key.keysym.sym = k;
        e.key.keysym.mod = (Uint16)m;
        SDL_PushEvent(&e);
        return 0;
    }
    int x0, y0, x1, y1;
    if (strcmp(cmd, "click") == 0 &&
        sscanf(line, "%*s %d %d", &x0, &y0) == 2) {
        push_button(SDL_MOUSEBUTTONDOWN, SDL_BUTTON_LEFT, x0, y0, 1);
        push_button(SDL_MOUSEBUTTONUP, SDL_BUTTON_LEFT, x0, y0, 1);
        return 0;
    }
    if (strcmp(cmd, "dclick") == 0 &&
        sscanf(line, "%*s %d %d", &x0, &y0) == 2) {
        for (int c = 1; c <= 2; c++) { /* as SDL counts them */
            push_button(SDL_MOUSEBUTTONDOWN, SDL_BUTTON_LEFT, x0, y0, c);
            push_button(SDL_MOUSEBUTTONUP, SDL_BUTTON_LEFT, x0, y0, c);
        }
        return 0;
    }
    if (strcmp(cmd, "drag") == 0 &&
        sscanf(line, "%*s %*s %d %d %d %d", &x0, &y0, &x1, &y1) == 4) {
        int b = strcmp(arg, "left") == 0    ? SDL_BUTTON_LEFT
                : strcmp(arg, "right") == 0 ? SDL_BUTTON_RIGHT
                                            : SDL_BUTTON_MIDDLE;
        /* "drag ... shift": the modifier held during the drag */
        SDL_SetModState(strstr(line, "shift") ? KMOD_LSHIFT : KMOD_NONE);
        push_button(SDL_MOUSEBUTTONDOWN, b, x0, y0, 1);
        int steps = 10, px = x0, py = y0;
        for (int i = 1; i <= steps; i++) {
            int x = x0 + (x1 - x0) * i / steps, y = y0 + (y1 - y0) * i / steps;
            push_motion(x, y, x - px, y - py);
            px = x, py = y;
        }
        push_button(SDL_MOUSEBUTTONUP, b, x1, y1, 1);
        return 0;
    }
    return -1;
}

static void thumbs_reset(struct app *a)
{
    vw_thumbs_stop(&a->thumbs);
    for (int i = 0; a->thumb_tex && i < a->n_studies; i++)
        rnd_image_destroy(a->thumb_tex[i]);
    free(a->thumb_tex);
    a->thumb_tex = NULL;
}

/* Thumbnails made again for the list as it is: a study fetched since has
 * its files in the cache now. */
static void thumbs_restart(struct app *a)
{
    thumbs_reset(a);
    a->thumb_tex = calloc((size_t)(a->n_studies ? a->n_studies : 1),
                          sizeof *a->thumb_tex);
    vw_thumbs_start(&a->thumbs, a->studies, a->n_studies, a->o.archive,
                    a->media[0] ? a->media : NULL);
}

/* One key in the window; *dirty set when the picture changes. 1 to quit. */
static int on_key(struct app *a, const SDL_Keysym *k, int w, int h,
                  int *dirty)
{
    struct vw_vp *vp = &a->vp[a->active];
    struct rnd_view *v = &vp->view;
    int x, y, cw, ch, step = 0;
    cell(a, a->active, w, h, &x, &y, &cw, &ch);
    *dirty = 1;
    struct vw_tools *t = &a->tools;
    if (a->report_open) { /* the report panel has the keyboard */
        char *f = a->report[a->report_field];
        size_t l = strlen(f);
        if ((k->sym == SDLK_RETURN || k->sym == SDLK_KP_ENTER) &&
            (k->mod & KMOD_CTRL)) {
            save_report(a);
        } else if (k->sym == SDLK_RETURN || k->sym == SDLK_KP_ENTER) {
            if (l + 1 < sizeof a->report[0])
                f[l] = '\n', f[l + 1] = '\0';
        } else if (k->sym == SDLK_BACKSPACE) {
            while (l > 0 && ((unsigned char)f[l - 1] & 0xC0) == 0x80)
                l--;
            if (l > 0)
                f[l - 1] = '\0';
            else
                f[0] = '\0';
        } else if (k->sym == SDLK_TAB) {
            a->report_field = !a->report_field;
        } else if (k->sym == SDLK_ESCAPE) {
            a->report_open = 0; /* the draft stays */
        }
        return 0;
    }
    if (k->sym == SDLK_r && (k->mod & KMOD_CTRL) && a->n_vp) {
        a->report_open = 1;
        return 0;
    }
    if (t->typing) { /* the text tool has the keyboard */
        if (k->sym == SDLK_RETURN || k->sym == SDLK_KP_ENTER)
            vw_tools_text(t, NULL, 1, 0);
        else if (k->sym == SDLK_BACKSPACE)
            vw_tools_text(t, NULL, 0, 1);
        else if (k->sym == SDLK_ESCAPE)
            vw_tools_cancel(t);
        return 0;
    }
    int ctrl = (k->mod & KMOD_CTRL) != 0;
    /* Enter or F2 on a selected text: type it anew */
    if ((k->sym == SDLK_RETURN || k->sym == SDLK_KP_ENTER ||
         k->sym == SDLK_F2) &&
        vw_tools_edit_text(t))
        return 0;
    if (ctrl && k->sym == SDLK_s) {
        save_present(a, w, h);
        return 0;
    }
    if (k->sym == SDLK_k && (k->mod & KMOD_SHIFT)) {
        a->teaching = !a->teaching;
        snprintf(a->note, sizeof a->note, "%s",
                 a->teaching ? "key images will go to teaching (Ctrl+S)"
                             : "key images: of interest");
        return 0;
    }
    if (k->sym == SDLK_k && a->n_vp) {
        const char *uid = vw_vp_slice(&a->vp[a->active])->sop_uid;
        int i = 0;
        while (i < a->n_keys && strcmp(a->keys[i], uid) != 0)
            i++;
        if (i < a->n_keys) { /* unmark */
            memmove(a->keys[i], a->keys[i + 1],
                    (size_t)(a->n_keys - i - 1) * sizeof a->keys[0]);
            a->n_keys--;
        } else {
            void *v = dcx_grow(a->keys, (size_t)a->n_keys, &a->cap_keys,
                               sizeof a->keys[0], 8);
            if (v) {
                a->keys = v;
                snprintf(a->keys[a->n_keys++], sizeof a->keys[0], "%s", uid);
            }
        }
        snprintf(a->note, sizeof a->note, "%d key image(s)%s (Ctrl+S saves)",
                 a->n_keys, a->teaching ? " for teaching" : "");
        return 0;
    }
    if (k->sym == SDLK_p && a->n_presents > 0) {
        apply_present(a, (a->present_idx + 1) % a->n_presents, w, h);
        return 0;
    }
    if (ctrl && (k->sym == SDLK_z || k->sym == SDLK_y)) {
        if (k->sym == SDLK_y || (k->mod & KMOD_SHIFT))
            vw_tools_redo(t);
        else
            vw_tools_undo(t);
        return 0;
    }
    static const struct {
        SDL_Keycode key;
        enum vw_tool tool;
    } tool_keys[] = {
        {SDLK_d, VW_TOOL_LENGTH}, {SDLK_a, VW_TOOL_ANGLE},
        {SDLK_c, VW_TOOL_COBB},   {SDLK_e, VW_TOOL_ELLIPSE},
        {SDLK_g, VW_TOOL_RECT},   {SDLK_w, VW_TOOL_ARROW},
        {SDLK_t, VW_TOOL_TEXT},
    };
    for (size_t i = 0; i < sizeof tool_keys / sizeof tool_keys[0]; i++)
        if (k->sym == tool_keys[i].key) {
            /* the same key again leaves the tool */
            vw_tools_choose(t, t->tool == (int)tool_keys[i].tool
                                   ? -1
                                   : (int)tool_keys[i].tool);
            return 0;
        }
    if (k->sym == SDLK_DELETE || k->sym == SDLK_BACKSPACE) {
        vw_tools_delete(t);
        return 0;
    }
    if (k->sym == SDLK_ESCAPE && vw_tools_cancel(t))
        return 0; /* Esc leaves a tool first, quits only after */
    switch (k->sym) {
    case SDLK_ESCAPE:
    case SDLK_q:
        return 1;
    case SDLK_r:
        if (k->mod & KMOD_SHIFT) {
            v->rotate = (v->rotate + 1) % 4;
            if (vp->fit)
                v->zoom = rnd_fit_zoom(vp->tex, v->rotate, cw, ch);
        } else {
            vw_vp_reset(vp, &a->vo, cw, ch);
            free(vp->sv); /* the file's view: the state's no longer */
            vp->sv = NULL;
        }
        break;
    case SDLK_i:
        v->invert = !v->invert;
        break;
    case SDLK_f:
        v->flip_h = !v->flip_h;
        break;
    case SDLK_n:
        v->linear = !v->linear;
        break;
    case SDLK_o:
        v->hide_overlays = !v->hide_overlays;
        break;
    case SDLK_x:
        a->no_reflines = !a->no_reflines;
        break;
    case SDLK_z: /* fit <-> one screen pixel per image pixel */
        vp->area_on = 0;
        if (vp->fit) {
            vp->fit = 0;
            v->zoom = 1.0;
        } else {
            vp->fit = 1;
            v->zoom = rnd_fit_zoom(vp->tex, v->rotate, cw, ch);
        }
        v->pan_x = v->pan_y = 0;
        break;
    case SDLK_F1:
        a->help = !a->help;
        break;
    case SDLK_b:
        if (a->node.port || a->o.archive || a->media[0]) {
            a->browsing = 1;
            a->playing = 0;
            if (a->node.port) /* the study read is in the cache now */
                thumbs_restart(a);
        }
        break;
    case SDLK_l:
        a->layout = a->layout == 1 ? 2 : a->layout == 2 ? 4 : 1;
        if (a->active >= a->layout) {
            a->active = 0;
            load_presents(a, 0, NULL, w, h); /* P goes through its own */
        }
        refit(a, w, h);
        break;
    case SDLK_s:
        toggle_sync(a);
        break;
    case SDLK_SPACE:
        a->playing = !a->playing && vp->st.n > 1;
        a->next_frame_ms = now_ms() + (uint64_t)(1000 / vp->fps);
        break;
    case SDLK_PLUS:
    case SDLK_EQUALS:
    case SDLK_KP_PLUS:
        vp->fps = fmin(vp->fps * 1.25, VW_FPS_MAX);
        break;
    case SDLK_MINUS:
    case SDLK_KP_MINUS:
        vp->fps = fmax(vp->fps / 1.25, VW_FPS_MIN);
        break;
    case SDLK_0:
        if (vw_vp_auto_window(vp, &v->center, &v->width) == 0)
            v->voi = RND_VOI_LINEAR;
        break;
    case SDLK_1:
    case SDLK_2:
    case SDLK_3:
    case SDLK_4:
    case SDLK_5: {
        int i = (int)(k->sym - SDLK_1);
        v->center = presets[i].center;
        v->width = presets[i].width;
        v->voi = RND_VOI_LINEAR;
        break;
    }
    case SDLK_6:
    case SDLK_7:
    case SDLK_8:
    case SDLK_9: {
        int i = (int)(k->sym - SDLK_6);
        if (i < vp->im.n_windows) {
            v->center = vp->im.center[i];
            v->width = vp->im.width[i];
            v->voi = vp->im.voi_function;
        }
        break;
    }
    case SDLK_UP:
    case SDLK_LEFT:
        step = -1;
        break;
    case SDLK_DOWN:
    case SDLK_RIGHT:
        step = 1;
        break;
    case SDLK_PAGEUP:
        step = -10;
        break;
    case SDLK_PAGEDOWN:
        step = 10;
        break;
    case SDLK_HOME:
        step = -vp->st.n;
        break;
    case SDLK_END:
        step = vp->st.n;
        break;
    default:
        *dirty = 0;
        break;
    }
    if (step && vw_vp_step(vp, a->rc, step))
        follow(a);
    return 0;
}

/* Replaces the viewports with the series of folder dir. */
/* Replaces the viewports with the series found in paths, one viewport
 * per series up to four (the headers are read once); slice `first` of
 * the first series is shown first. */
static int open_series(struct app *a, char **paths, int n_paths, int first,
                       char *err, size_t errlen)
{
    for (int i = 0; i < a->n_vp; i++)
        vw_vp_close(&a->vp[i]);
    a->n_vp = 0;
    a->active = 0;
    a->playing = 0;
    a->warn[0] = '\0';
    vw_scan *sc = vw_scan_paths(paths, n_paths, err, errlen);
    if (!sc)
        return -1;
    int n_series = vw_scan_series(sc), rc = 0;
    const char *bad, *why;
    int n_bad = vw_scan_unreadable(sc, &bad, &why);
    if (n_bad) {
        /* a slice missing from a series must not pass unnoticed */
        fprintf(stderr, "consort-view: %d DICOM file(s) cannot be read and "
                        "are not shown; the first: %s: %s\n",
                n_bad, bad, why);
        const char *base = strrchr(bad, '/');
        snprintf(a->warn, sizeof a->warn,
                 "%d DICOM file(s) cannot be read, not shown (%.200s: %.200s)",
                 n_bad, base ? base + 1 : bad, why);
    }
    for (int i = 0; i < MAX_VP && i < n_series && rc == 0; i++) {
        rc = vw_vp_open(&a->vp[i], sc, i, i == 0 ? first : 0, a->o.threads,
                        !a->o.decode_only, err, errlen);
        a->n_vp += rc == 0;
    }
    vw_scan_free(sc);
    if (n_series > MAX_VP)
        fprintf(stderr, "consort-view: %d series given; the first %d are "
                        "shown\n",
                n_series, MAX_VP);
    a->layout = a->o.layout ? a->o.layout
                : a->n_vp <= 1 ? 1
                : a->n_vp == 2 ? 2
                               : 4;
    return rc;
}

static int open_paths(struct app *a, char **paths, int n_paths, int w,
                      int h, char *err, size_t errlen)
{
    if (open_series(a, paths, n_paths, 0, err, errlen) < 0)
        return -1;
    return reset_all(a, w, h, err, errlen);
}

static void refresh_studies(struct app *a)
{
    thumbs_reset(a);
    free(a->studies);
    a->studies = NULL;
    a->n_studies = 0;
    char err[512];
    if ((a->media[0]    ? vw_browse_media(a->media, &a->studies,
                                          &a->n_studies, err, sizeof err)
         : a->o.archive ? vw_browse_archive(a->o.archive, &a->studies,
                                            &a->n_studies, err, sizeof err)
                        : vw_browse_find(&a->node, &a->studies,
                                         &a->n_studies, err, sizeof err)) < 0)
        snprintf(a->status, sizeof a->status, "%.290s", err);
    else
        a->status[0] = '\0';
    /* the node out of reach (a link down): what this viewer fetched before
     * can still be read */
    char why[300];
    if (a->status[0] && !a->media[0] && !a->o.archive &&
        vw_browse_cache(&a->studies, &a->n_studies, why, sizeof why) == 0 &&
        a->n_studies > 0)
        snprintf(a->status, sizeof a->status,
                 "%s unreachable (%.200s): the %d studies in this viewer's "
                 "cache",
                 a->node.ae, err, a->n_studies);
    thumbs_restart(a);
}

static int next_series(const struct app *a, const vw_scan *sc, int from,
                       vw_job *only);
static void open_new(struct app *a, const vw_scan *sc, const int *which,
                     int n, int w, int h);

/* Shift+Enter: the first image series of paths beside the ones on screen,
 * in a viewport of its own (the last one is given up when all four are
 * taken, and only once there is a series to put there), for the reader
 * to compare (S scrolls the two together from where they are). It is the
 * active viewport, shown whatever the layout, and P goes through its
 * states. 0, or -1 with err (as open_paths) when nothing is shown. */
static int open_beside(struct app *a, char **paths, int n_paths,
                       vw_job *only, int w, int h, char *err, size_t errlen)
{
    vw_scan *sc = vw_scan_paths(paths, n_paths, err, errlen);
    if (!sc)
        return -1;
    int s = next_series(a, sc, 0, only), before = a->n_vp;
    if (s >= 0) { /* else nothing (whole) to show yet: the viewports stay */
        if (a->n_vp == MAX_VP)
            vw_vp_close(&a->vp[--a->n_vp]);
        before = a->n_vp;
        open_new(a, sc, &s, 1, w, h);
    }
    vw_scan_free(sc);
    if (a->n_vp == before) {
        snprintf(err, errlen, "the study has no image series to show");
        return -1;
    }
    a->active = a->n_vp - 1;
    if (a->active >= a->layout) { /* a fixed --layout would hide it */
        a->layout = a->n_vp == 2 ? 2 : 4;
        refit(a, w, h);
    }
    /* P: the prior's states, not the other's */
    load_presents(a, 0, NULL, w, h);
    a->browsing = 0;
    return 0;
}

/* The browser's status line while a study is fetched; once its first
 * series is on screen, the viewer's line for the rest. */
static void job_status(struct app *a, unsigned received)
{
    if (a->job_shown)
        snprintf(a->fetch_line, sizeof a->fetch_line,
                 "the rest of the study is coming: %u of %d instances",
                 received, a->job_total);
    else if (a->job_total > 0)
        snprintf(a->status, sizeof a->status,
                 "Fetching %s: %u of %d instances (Esc cancels)", a->job_name,
                 received, a->job_total);
    else
        snprintf(a->status, sizeof a->status,
                 "Fetching %s: %u instances (Esc cancels)", a->job_name,
                 received);
}

/* The first series of sc from index from on that is not on screen and,
 * with only, whole; -1 if none. */
static int next_series(const struct app *a, const vw_scan *sc, int from,
                       vw_job *only)
{
    for (int s = from; s < vw_scan_series(sc); s++) {
        const char *uid = vw_scan_series_uid(sc, s);
        int open = 0;
        for (int i = 0; i < a->n_vp && !open; i++)
            open = strcmp(a->vp[i].st.series_uid, uid) == 0;
        int whole = !only;
        for (int i = 0; only && i < vw_job_ready(only, NULL, 0) && !whole; i++)
            whole = strcmp(vw_job_series(only, i), uid) == 0;
        if (!open && whole)
            return s;
    }
    return -1;
}

/* Series which[0..n) of sc in viewports of their own (as many as there
 * is room for), each shown with its newest presentation state; the
 * active viewport stays. While scrolling is synchronised, each new one
 * keeps its offset from where the others are now. */
static void open_new(struct app *a, const vw_scan *sc, const int *which,
                     int n, int w, int h)
{
    char err[512];
    int first = a->n_vp;
    for (int k = 0; k < n && a->n_vp < MAX_VP; k++)
        if (vw_vp_open(&a->vp[a->n_vp], sc, which[k], 0, a->o.threads, 1,
                       err, sizeof err) == 0)
            a->n_vp++;
    if (a->n_vp == first)
        return;
    if (!a->o.layout)
        a->layout = a->n_vp == 2 ? 2 : 4;
    int keep = a->active;
    vw_present_cache *cache = vw_present_cache_new();
    for (int i = first; i < a->n_vp; i++) {
        int x, y, cw, ch;
        cell(a, i < a->layout ? i : 0, w, h, &x, &y, &cw, &ch);
        if (vw_vp_show(&a->vp[i], a->rc, err, sizeof err) < 0 &&
            show_nearest(a, &a->vp[i]) < 0) {
            /* nothing of it can be shown: it goes, and the ones opened
             * after it (their threads hold their place), tried again by
             * the next call */
            for (int k = i; k < a->n_vp; k++)
                vw_vp_close(&a->vp[k]);
            a->n_vp = i;
            break;
        }
        vw_vp_reset(&a->vp[i], &a->vo, cw, ch);
        sync_here(a, i);
        a->active = i;
        load_presents(a, 1, cache, w, h);
    }
    a->active = keep;
    load_presents(a, 0, cache, w, h); /* the list P goes through */
    vw_present_cache_free(cache);
    refit(a, w, h);
}

/* The series of paths (a fetched study's folder, or an archive's files)
 * that are not on screen yet get viewports (up to four), each with its
 * newest presentation state; the ones on screen are left as the reader
 * has them. only (may be NULL: all): the series known to be whole, while
 * the others still come. */
static void add_series(struct app *a, char **paths, int n_paths,
                       vw_job *only, int w, int h)
{
    char err[512];
    vw_scan *sc = vw_scan_paths(paths, n_paths, err, sizeof err);
    if (!sc)
        return;
    int which[MAX_VP], n = 0;
    for (int s = next_series(a, sc, 0, only); s >= 0 && a->n_vp + n < MAX_VP;
         s = next_series(a, sc, s + 1, only))
        which[n++] = s;
    open_new(a, sc, which, n, w, h);
    vw_scan_free(sc);
}

/* A finished fetch: its study opened (or the series that were not on
 * screen yet added), or why not in the status line. */
static void job_finish(struct app *a, int w, int h)
{
    char dir[1200], err[512];
    struct vw_fetch f;
    char *paths[1] = {dir};
    int bad = vw_job_finish(a->job, dir, sizeof dir, &f, err, sizeof err) < 0;
    a->job = NULL;
    int beside = a->beside;
    a->beside = 0;
    if (a->job_shown) {
        a->job_shown = 0;
        a->fetch_line[0] = '\0';
        if (!bad && !beside) /* a prior: its first series only */
            add_series(a, paths, 1, NULL, w, h);
        const char *more = bad ? err : f.warn;
        if (*more) {
            size_t l = strlen(a->warn);
            snprintf(a->warn + l, sizeof a->warn - l, "%s%s", l ? "; " : "",
                     more);
        }
        return;
    }
    bad = bad || (beside ? open_beside(a, paths, 1, NULL, w, h, err,
                                       sizeof err)
                         : open_paths(a, paths, 1, w, h, err,
                                      sizeof err)) < 0;
    if (bad) {
        snprintf(a->status, sizeof a->status, "%.290s", err);
        return;
    }
    if (f.note[0])
        snprintf(a->note, sizeof a->note, "%s", f.note);
    if (f.warn[0]) { /* after open_series' own */
        size_t l = strlen(a->warn);
        snprintf(a->warn + l, sizeof a->warn - l, "%s%s", l ? "; " : "",
                 f.warn);
    }
    a->status[0] = '\0';
    a->browsing = 0;
}

/* A new study's first series fetched whole, while the browser waits:
 * it opens now and the rest follows (a series of reports alone has no
 * image to open: the next one is waited for). 1 if it opened. */
static int job_open_ready(struct app *a, int w, int h)
{
    char dir[1200], err[512], *paths[1] = {dir};
    int ready = vw_job_ready(a->job, dir, sizeof dir);
    if (ready <= a->job_ready)
        return 0;
    a->job_ready = ready;
    if (a->job_shown) { /* another series whole: a viewport of its own */
        if (a->beside) /* the one compared with is there */
            return 0;
        int before = a->n_vp;
        add_series(a, paths, 1, a->job, w, h);
        return a->n_vp != before;
    }
    if (!a->browsing)
        return 0;
    if ((a->beside ? open_beside(a, paths, 1, a->job, w, h, err, sizeof err)
                   : open_paths(a, paths, 1, w, h, err, sizeof err)) < 0)
        return 0; /* no image series whole yet */
    vw_job_keep(a->job);
    a->job_shown = 1;
    a->status[0] = '\0';
    a->browsing = 0;
    return 1;
}

/* A key in the browser; 1 to quit. */
static int browser_key(struct app *a, SDL_Window *win, SDL_Keycode k,
                       int shift, int w, int h)
{
    int rows[4096];
    int n = filtered(a, rows, 4096);
    switch (k) {
    case SDLK_ESCAPE:
        if (!a->job)
            return 1;
        vw_job_cancel(a->job);
        a->job = NULL;
        a->beside = 0;
        snprintf(a->status, sizeof a->status,
                 "fetch of %.200s cancelled", a->job_name);
        break;
    case SDLK_BACKSPACE: {
        size_t l = strlen(a->filter);
        while (l && (a->filter[l - 1] & 0xC0) == 0x80) /* whole UTF-8 char */
            l--;
        if (l)
            a->filter[l - 1] = '\0';
        a->sel = 0;
        break;
    }
    case SDLK_UP:
        a->sel = a->sel > 0 ? a->sel - 1 : 0;
        break;
    case SDLK_DOWN:
        a->sel = a->sel + 1 < n ? a->sel + 1 : a->sel;
        break;
    case SDLK_HOME:
        a->sel = 0;
        break;
    case SDLK_END:
        a->sel = n ? n - 1 : 0;
        break;
    case SDLK_PAGEUP:
        a->sel = a->sel > 10 ? a->sel - 10 : 0;
        break;
    case SDLK_PAGEDOWN:
        a->sel = a->sel + 10 < n ? a->sel + 10 : (n ? n - 1 : 0);
        break;
    case SDLK_F5:
        refresh_studies(a);
        break;
    case SDLK_RETURN:
    case SDLK_KP_ENTER: {
        if (a->job) { /* one fetch at a time */
            snprintf(a->status, sizeof a->status,
                     "%s is still being fetched", a->job_name);
            break;
        }
        if (!n)
            break;
        const struct vw_study *st = &a->studies[rows[a->sel]];
        /* Shift+Enter: beside the series on screen (a prior exam) */
        a->beside = shift && a->n_vp > 0;
        if (!a->o.archive && !a->media[0]) {
            /* a study fetched before is only brought up to date: its
             * count of the node's instances is not what comes (asked
             * before the fetch starts, which makes the folder) */
            char cached[1200];
            a->job_total = vw_cache_dir(st->uid, cached, sizeof cached) == 0
                               ? 0
                               : st->images;
            /* from the node: on a thread, the window stays alive */
            a->job = vw_job_start(&a->node, st);
            a->job_ready = 0;
            a->job_shown = 0;
            snprintf(a->job_name, sizeof a->job_name, "%.120s",
                     st->name[0] ? st->name : st->uid);
            if (!a->job)
                snprintf(a->status, sizeof a->status,
                         "cannot start the fetch");
            else
                job_status(a, 0);
            break;
        }
        snprintf(a->status, sizeof a->status, "Opening %.200s ...", st->uid);
        rnd_target_bind(NULL);
        draw(a, w, h);
        if (!a->o.script)
            SDL_GL_SwapWindow(win);
        /* the archive's or the disc's files, where they are */
        char err[512], **files = NULL;
        int nf = 0;
        int bad = (a->media[0] ? vw_media_files(a->media, st->uid, &files,
                                                NULL, &nf, err, sizeof err)
                               : vw_archive_files(a->o.archive, st->uid,
                                                  &files, &nf, err,
                                                  sizeof err)) < 0 ||
                  (a->beside ? open_beside(a, files, nf, NULL, w, h, err,
                                           sizeof err)
                             : open_paths(a, files, nf, w, h, err,
                                          sizeof err)) < 0;
        a->beside = 0;
        for (int i = 0; i < nf; i++)
            free(files[i]);
        free(files);
        if (bad) {
            snprintf(a->status, sizeof a->status, "%.290s", err);
            break;
        }
        a->status[0] = '\0';
        a->browsing = 0;
        break;
    }
    default:
        break;
    }
    return 0;
}

/* The mouse in the study browser: the wheel moves the selection, a click
 * selects the row under the pointer, a double click opens it (as Enter;
 * with Shift, beside). 1 to quit (as browser_key). */
static int browser_mouse(struct app *a, SDL_Window *win, const SDL_Event *ev,
                         int w, int h)
{
    int rows[4096];
    int n = filtered(a, rows, 4096);
    if (!n)
        return 0;
    if (ev->type == SDL_MOUSEWHEEL) {
        int sel = a->sel - ev->wheel.y; /* wheel up: towards the top */
        a->sel = sel < 0 ? 0 : sel >= n ? n - 1 : sel;
        return 0;
    }
    if (ev->button.button != SDL_BUTTON_LEFT || !a->font)
        return 0;
    struct list_geom g = list_geom(a, n, h);
    int k = ev->button.y - g.y;
    if (k < 0 || k / g.rh >= g.visible || g.top + k / g.rh >= n)
        return 0;
    int r = g.top + k / g.rh;
    if (ev->button.clicks >= 2 && r == a->sel)
        return browser_key(a, win, SDLK_RETURN,
                           (SDL_GetModState() & KMOD_SHIFT) != 0, w, h);
    a->sel = r;
    return 0;
}

/* The window point (mx, my) in image coordinates of the active
 * viewport's current slice; 0 outside it. */
static int image_point(const struct app *a, int w, int h, int mx, int my,
                       float *ix, float *iy)
{
    const struct vw_vp *vp = &a->vp[a->active];
    if (a->active >= a->n_vp || vw_vp_shown(vp) != vp->cur)
        return 0; /* no marks on a slice that is not the one drawn */
    int x, y, cw, ch;
    cell(a, a->active, w, h, &x, &y, &cw, &ch);
    if (mx < x || my < y || mx >= x + cw || my >= y + ch)
        return 0;
    double dx, dy;
    rnd_screen_to_image(vp->tex, &vp->view, cw, ch, mx - x, my - y, &dx, &dy);
    *ix = (float)dx, *iy = (float)dy;
    return 1;
}

/* Text input (and with it the input method) is on only while something
 * takes text: the browser's filter, a text mark being typed, the report.
 * Otherwise an input method would take the letter keys (D, A, W/L ...)
 * for itself; and SDL stops text events altogether once it is off, so a
 * study opened from the browser could not be annotated or reported. */
static void text_input(const struct app *a)
{
    int want = a->browsing || a->report_open || a->tools.typing;
    if (want && !SDL_IsTextInputActive())
        SDL_StartTextInput();
    else if (!want && SDL_IsTextInputActive())
        SDL_StopTextInput();
}

static int interactive(struct app *a)
{
    char err[512];
    SDL_GLContext ctx = NULL;
    SDL_Window *win = gl_open(a->o.size_w ? a->o.size_w : 1024,
                              a->o.size_h ? a->o.size_h : 768, 0,
                              " (no display? use --screenshot)", &ctx);
    if (!win)
        return 1;
    SDL_GL_SetSwapInterval(a->o.script ? 0 : 1);
    FILE *script = NULL;
    if (a->o.script) {
        script = strcmp(a->o.script, "-") == 0 ? stdin
                                               : fopen(a->o.script, "r");
        if (!script) {
            fprintf(stderr, "consort-view: cannot read %s\n", a->o.script);
            gl_close(a, win, ctx);
            return 1;
        }
    }
    int rc = 1, w, h;
    SDL_GL_GetDrawableSize(win, &w, &h);
    a->rc = rnd_ctx_create(err, sizeof err);
    err[0] = '\0';
    if (!a->rc || (a->n_vp && reset_all(a, w, h, err, sizeof err) < 0)) {
        fprintf(stderr, "consort-view: %s\n", err);
        goto out;
    }
    if (a->browsing && a->o.no_overlay)
        a->o.no_overlay = 0; /* the browser is text */
    open_font(a, h);
    if (a->browsing)
        refresh_studies(a);
    int drag = 0, dirty = 1, loading = 1;
    uint64_t script_resume = 0;
    for (;;) {
        struct vw_vp *av = &a->vp[a->active];
        text_input(a);
        if (a->playing && !a->browsing && now_ms() >= a->next_frame_ms) {
            /* a late frame is dropped rather than run behind */
            vw_vp_step(av, a->rc, av->cur + 1 >= av->st.n ? -av->st.n : 1);
            follow(a);
            a->next_frame_ms += (uint64_t)(1000 / av->fps);
            if (a->next_frame_ms < now_ms())
                a->next_frame_ms = now_ms() + (uint64_t)(1000 / av->fps);
            dirty = 1;
        }
        if (dirty) {
            char title[1300];
            if (a->browsing) {
                snprintf(title, sizeof title, "consort-view - studies %s",
                         a->o.archive ? a->o.archive : a->node.ae);
            } else {
                int loaded = atomic_load(&av->st.loaded);
                char wl[80];
                vw_overlay_wl(wl, sizeof wl, &av->view, " ");
                snprintf(title, sizeof title,
                         "consort-view - %s - %d/%d%s - %s - zoom %.0f%%",
                         vw_vp_slice(av)->path, av->cur + 1, av->st.n,
                         loaded < av->st.n ? " (loading)" : "", wl,
                         av->view.zoom * 100);
            }
            SDL_SetWindowTitle(win, title);
            rnd_target_bind(NULL);
            draw(a, w, h);
            if (!script)
                SDL_GL_SwapWindow(win);
            dirty = 0;
            if (a->timing && !a->shown_first && a->n_vp && !a->browsing) {
                glFinish();
                timing_mark("first_image");
                a->shown_first = 1;
            }
            if (a->presents_pending && !a->browsing) {
                a->presents_pending = 0;
                dirty = load_all_presents(a, w, h);
            }
        }
        if (a->timing && a->shown_first && !a->reported_loaded) {
            int all = 1;
            for (int i = 0; i < a->n_vp; i++)
                all &= atomic_load(&a->vp[i].st.loaded) >= a->vp[i].st.n;
            if (all) {
                timing_mark("all_loaded");
                a->reported_loaded = 1;
            }
        }
        SDL_Event ev;
        if (script && !SDL_PollEvent(NULL) && now_ms() >= script_resume) {
            /* the queue is empty: everything before took effect */
            char line[1200];
            if (!fgets(line, sizeof line, script)) {
                rc = 0;
                goto out;
            }
            int r = script_line(a, line, w, h);
            if (r == 1) {
                rc = 0;
                goto out;
            }
            if (r < 0) {
                fprintf(stderr, "consort-view: bad script line: %s", line);
                goto out;
            }
            if (r >= 2)
                script_resume = now_ms() + (uint64_t)(r - 2);
            continue;
        }
        /* a slice scrolled to before its decoder got there: show it as
         * soon as it is ready */
        int pending = 0;
        for (int i = 0; i < a->n_vp && !a->browsing; i++) {
            if (a->vp[i].pending && vw_vp_try_show(&a->vp[i], a->rc) != 0)
                dirty = 1;
            pending |= a->vp[i].pending;
        }
        if (dirty)
            continue;
        /* while slices load, wake up now and then to show the progress;
         * while cine plays, at its next frame */
        int timeout = pending ? 10 : loading ? 250 : 1000;
        if (a->playing) {
            uint64_t t = now_ms();
            int until = a->next_frame_ms > t ? (int)(a->next_frame_ms - t) : 0;
            timeout = until < timeout ? until : timeout;
        }
        if (script && script_resume > now_ms()) {
            int until = (int)(script_resume - now_ms());
            timeout = until < timeout ? until : timeout;
        }
        if (a->job) { /* a fetch: its progress, then its study */
            unsigned got;
            if (vw_job_poll(a->job, &got)) {
                job_finish(a, w, h);
                dirty = 1;
                continue;
            }
            if (job_open_ready(a, w, h)) {
                dirty = 1;
                continue;
            }
            char before[sizeof a->status], before2[sizeof a->fetch_line];
            memcpy(before, a->status, sizeof before);
            memcpy(before2, a->fetch_line, sizeof before2);
            job_status(a, got);
            if (strcmp(before, a->status) != 0 ||
                strcmp(before2, a->fetch_line) != 0) {
                dirty = 1;
                continue;
            }
            timeout = timeout > 100 ? 100 : timeout;
        }
        int thumbs_pending = 0;
        for (int i = 0; a->browsing && i < a->thumbs.n; i++)
            thumbs_pending |= atomic_load(&a->thumbs.t[i].state) < 2 &&
                              atomic_load(&a->thumbs.t[i].state) >= 0;
        if (thumbs_pending && timeout > 100)
            timeout = 100;
        if (!SDL_WaitEventTimeout(&ev, timeout)) {
            if (a->browsing) {
                dirty = 1; /* thumbnails arrive */
                continue;
            }
            int still = 0;
            for (int i = 0; i < a->n_vp; i++)
                still |= atomic_load(&a->vp[i].st.loaded) < a->vp[i].st.n;
            dirty = loading != still || still;
            loading = still;
            continue;
        }
        if (a->browsing) {
            if (ev.type == SDL_QUIT) {
                rc = 0;
                goto out;
            }
            if (ev.type == SDL_TEXTINPUT) {
                size_t l = strlen(a->filter);
                snprintf(a->filter + l, sizeof a->filter - l, "%s",
                         ev.text.text);
                a->sel = 0;
                dirty = 1;
            } else if (ev.type == SDL_KEYDOWN) {
                if (browser_key(a, win, ev.key.keysym.sym,
                                (ev.key.keysym.mod & KMOD_SHIFT) != 0, w,
                                h)) {
                    rc = 0;
                    goto out;
                }
                dirty = 1;
            } else if (ev.type == SDL_WINDOWEVENT) {
                if (ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED)
                    SDL_GL_GetDrawableSize(win, &w, &h);
                dirty = 1;
            } else if (ev.type == SDL_MOUSEWHEEL ||
                       ev.type == SDL_MOUSEBUTTONDOWN) {
                if (browser_mouse(a, win, &ev, w, h)) {
                    rc = 0;
                    goto out;
                }
                dirty = 1;
            }
            continue;
        }
        switch (ev.type) {
        case SDL_QUIT:
            rc = 0;
            goto out;
        case SDL_WINDOWEVENT:
            if (ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED) {
                SDL_GL_GetDrawableSize(win, &w, &h);
                refit(a, w, h);
            }
            dirty = 1;
            break;
        case SDL_MOUSEBUTTONDOWN: {
            int c = cell_at(a, ev.button.x, ev.button.y, w, h);
            if (c < a->n_vp && c != a->active) {
                a->active = c;
                a->playing = 0;
                /* P goes through this series' */
                load_presents(a, 0, NULL, w, h);
                dirty = 1;
            }
            drag = ev.button.button;
            av = &a->vp[a->active];
            float ix, iy;
            if (drag == SDL_BUTTON_LEFT && !(SDL_GetModState() & KMOD_SHIFT) &&
                image_point(a, w, h, ev.button.x, ev.button.y, &ix, &iy)) {
                const struct vw_slice *s = vw_vp_slice(av);
                /* 6 screen pixels count as on a mark */
                float tol = (float)(6 / (av->view.zoom > 0 ? av->view.zoom : 1));
                if (vw_tools_press(&a->tools, s->sop_uid, s->frame, ix, iy,
                                   tol)) {
                    a->tool_drag = 1;
                    drag = 0; /* not window/level */
                }
                dirty = 1;
            }
            break;
        }
        case SDL_MOUSEBUTTONUP: {
            float ix, iy;
            if (a->tool_drag && ev.button.button == SDL_BUTTON_LEFT &&
                image_point(a, w, h, ev.button.x, ev.button.y, &ix, &iy)) {
                vw_tools_release(&a->tools, ix, iy);
                dirty = 1;
            }
            a->tool_drag = 0;
            drag = 0;
            break;
        }
        case SDL_MOUSEMOTION: {
            float ix, iy;
            /* a drag of the tools, or a multi-click tool following the
             * mouse between clicks */
            if ((a->tool_drag || (a->tools.tool >= 0 && a->tools.n > 0)) &&
                image_point(a, w, h, ev.motion.x, ev.motion.y, &ix, &iy)) {
                if (vw_tools_motion(&a->tools, ix, iy))
                    dirty = 1;
            }
            if (!drag)
                break;
            int dx = ev.motion.xrel, dy = ev.motion.yrel;
            /* the window moves by the range of the slice on screen (the
             * one asked for may still be decoding: no range yet) */
            const struct vw_slice *s = vw_vp_shown(av) >= 0
                                           ? &av->st.s[vw_vp_shown(av)]
                                           : vw_vp_slice(av);
            /* one step more than the span: a window of the whole range;
             * the narrowest window a fraction of it, so dose in Gy or SUV
             * can be windowed below 1 */
            double lo, hi;
            vw_vp_range(av, s, &lo, &hi);
            double range = hi - lo + rnd_value_step(s->slope);
            if (drag == SDL_BUTTON_LEFT && (SDL_GetModState() & KMOD_SHIFT)) {
                /* a slice per 4 pixels of vertical drag, down = next */
                a->drag_acc += dy;
                int step = a->drag_acc / 4;
                a->drag_acc -= step * 4;
                if (step && vw_vp_step(av, a->rc, step))
                    follow(a);
            } else if (drag == SDL_BUTTON_LEFT) { /* right = wider, down = higher */
                double k = range / 512.0;
                av->view.width = fmax(fmin(1.0, range / 256),
                                      av->view.width + dx * k);
                av->view.center += dy * k;
                /* a window dragged replaces the file's VOI LUT, which
                 * would otherwise go on deciding the image */
                if (av->view.voi == RND_VOI_LUT)
                    av->view.voi = av->im.voi_function;
            } else if (drag == SDL_BUTTON_RIGHT) {
                av->view.zoom *= exp(-dy / 200.0);
                av->fit = av->area_on = 0;
            } else if (drag == SDL_BUTTON_MIDDLE) {
                av->view.pan_x += dx;
                av->view.pan_y += dy;
                av->area_on = 0;
            }
            dirty = 1;
            break;
        }
        case SDL_MOUSEWHEEL:
            if (SDL_GetModState() & KMOD_CTRL) {
                av->view.zoom *= ev.wheel.y > 0 ? 1.1 : 1 / 1.1;
                av->fit = av->area_on = 0;
                dirty = 1;
            } else if (ev.wheel.y) {
                int step = ev.wheel.y > 0 ? -abs(ev.wheel.y) : abs(ev.wheel.y);
                if (vw_vp_step(av, a->rc, step)) {
                    follow(a);
                    dirty = 1;
                }
            }
            break;
        case SDL_TEXTINPUT:
            if (a->report_open) {
                char *f = a->report[a->report_field];
                size_t l = strlen(f), n = strlen(ev.text.text);
                if (l + n < sizeof a->report[0])
                    memcpy(f + l, ev.text.text, n + 1);
                dirty = 1;
            } else if (vw_tools_text(&a->tools, ev.text.text, 0, 0)) {
                dirty = 1;
            }
            break;
        case SDL_KEYDOWN:
            if (on_key(a, &ev.key.keysym, w, h, &dirty)) {
                rc = 0;
                goto out;
            }
            break;
        default:
            break;
        }
    }
out:
    if (a->job) /* its thread ends on its own */
        vw_job_cancel(a->job);
    if (script && script != stdin)
        fclose(script);
    thumbs_reset(a);
    gl_close(a, win, ctx);
    return rc;
}

int main(int argc, char **argv)
{
    struct app a;
    memset(&a, 0, sizeof a);
    if (parse(argc, argv, &a.o) < 0)
        return 2;
    if (dcx_init(NULL, NULL, DCX_LOG_WARN) < 0) { /* codecs, dictionary */
        fprintf(stderr, "consort-view: cannot initialise the DICOM library\n");
        return 1;
    }
    a.timing = getenv("CONSORT_VIEW_TIMING") != NULL;
    if (vw_tools_init(&a.tools) < 0) {
        fprintf(stderr, "consort-view: out of memory\n");
        return 1;
    }
    a.vo = (struct vw_view_opts){a.o.has_window, a.o.center, a.o.width,
                                 a.o.zoom,       a.o.pan_x,  a.o.pan_y,
                                 a.o.rotate,     a.o.flip_h, a.o.flip_v,
                                 a.o.invert,     a.o.linear};
    char err[512];
    int rc = 1;
    if (a.o.node) {
        if (vw_node_parse(a.o.node, a.o.aet, &a.node) < 0) {
            fprintf(stderr, "consort-view: --node AE@HOST:PORT, not '%s'\n",
                    a.o.node);
            return 2;
        }
        if (a.o.cache_max > 0)
            a.node.cache_max = a.o.cache_max;
        if (a.o.timeout > 0)
            a.node.timeout = a.o.timeout;
    }
    if ((a.o.node || a.o.archive) && !a.o.n_inputs) {
        if (a.o.screenshot) {
            fprintf(stderr, "consort-view: --screenshot needs images\n");
            return 2;
        }
        a.browsing = 1;
    }
    /* DICOM media (a CD, a teaching file): its studies in the browser;
     * one study, or a screenshot, opens the newest at once */
    char **media_files = NULL;
    int n_media = 0;
    if (a.o.n_inputs == 1 &&
        vw_media_dicomdir(a.o.inputs[0], a.media, sizeof a.media)) {
        struct vw_study *ms = NULL;
        int nms = 0;
        if (vw_browse_media(a.media, &ms, &nms, err, sizeof err) < 0 ||
            nms == 0) {
            fprintf(stderr, "consort-view: %s\n",
                    nms ? err : "the DICOMDIR lists no study");
            free(ms);
            goto out;
        }
        if (nms > 1 && !a.o.screenshot && !a.o.decode_only) {
            a.browsing = 1;
        } else if (vw_media_files(a.media, ms[0].uid, &media_files, NULL, &n_media,
                                  err, sizeof err) < 0) {
            fprintf(stderr, "consort-view: %s\n", err);
            free(ms);
            goto out;
        }
        free(ms);
    }
    if (a.o.n_inputs && !a.browsing &&
        (n_media ? open_series(&a, media_files, n_media, (int)a.o.frame,
                               err, sizeof err)
                 : open_series(&a, a.o.inputs, a.o.n_inputs, (int)a.o.frame,
                               err, sizeof err)) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        for (int i = 0; i < n_media; i++)
            free(media_files[i]);
        free(media_files);
        goto out;
    }
    for (int i = 0; i < n_media; i++)
        free(media_files[i]);
    free(media_files);
    if (a.o.decode_only) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        long bytes = 0;
        for (int i = 0; i < a.n_vp; i++) {
            vw_stack_wait_all(&a.vp[i].st);
            bytes += (long)(a.vp[i].st.frame_bytes * (size_t)a.vp[i].st.n);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("decoded %d slice(s), %.1f MB, in %.3f s after the headers\n",
               a.vp[0].st.n, bytes / 1e6,
               (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        rc = 0;
        goto out;
    }
    if (!a.n_vp)
        a.layout = 1; /* the browser until a study is opened */
    rc = a.o.screenshot ? screenshot(&a) : interactive(&a);
out:
    for (int i = 0; i < a.n_vp; i++)
        vw_vp_close(&a.vp[i]);
    vw_tools_free(&a.tools);
    free(a.presents);
    free(a.keys);
    free(a.studies);
    free(a.o.inputs);
    if (vw_jobs_live()) { /* a cancelled fetch still waits on the node */
        fflush(NULL);
        _Exit(rc);
    }
    return rc;
}
