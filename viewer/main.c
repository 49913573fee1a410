/* main.c - consort-view: the SDL2 application. Parses the command line,
 * opens the images, and either renders one view offscreen into a PNG
 * (--screenshot, no window and no display needed: SDL's offscreen video
 * driver gives a GL context through EGL) or runs the interactive window
 * with the mouse and keyboard conventions of established viewers. */
#include <SDL2/SDL.h>
#include <epoxy/gl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcx/dcx.h"
#include "dcx/tags.h"
#include "load.h"
#include "overlay.h"
#include "stack.h"
#include "png.h"
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
    int threads;
    char **inputs;
    int n_inputs;
};

static void usage(FILE *to)
{
    fputs("usage: consort-view [options] FILE|FOLDER...\n"
          "\n"
          "Shows a series: the images given (folders searched), sorted along\n"
          "the slice normal, or the frames of a multi-frame file.\n"
          "\n"
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
          "  --overlay full|none   text, orientation and scale bar (default\n"
          "                        full)\n"
          "  --script FILE         drive the window with commands (tests):\n"
          "                        wheel N | key NAME [shift|ctrl] |\n"
          "                        drag left|right|middle X0 Y0 X1 Y1 |\n"
          "                        wait | sleep MS | state |\n"
          "                        screenshot OUT.png | quit\n"
          "\n"
          "In the window: left-drag window/level, right-drag zoom,\n"
          "middle-drag pan, wheel or arrow keys frame, R reset, I invert,\n"
          "F flip, Shift+R rotate, N nearest/linear, Esc quit.\n",
          to);
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
            o->frame = (uint32_t)strtoul(v, NULL, 10), i++;
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
            o->rotate = atoi(v), i++;
        } else if (strcmp(a, "--flip") == 0 && v) {
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
        } else if (strcmp(a, "--threads") == 0 && v) {
            o->threads = atoi(v), i++;
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
    if (!o->n_inputs) {
        usage(stderr);
        return -1;
    }
    return 0;
}

struct app {
    struct opts o;
    struct vw_stack st;
    struct vw_image im; /* the first file: LUTs, palette, presets */
    int cur;            /* slice on screen */
    rnd_ctx *rc;
    rnd_image *tex;
    int tex_slice;      /* the slice in tex; -1 none */
    struct rnd_view view;
    int fit;            /* zoom follows the window size */
    rnd_font *font;     /* NULL: no overlays */
    int help;           /* F1: the key bindings over the image */
    int playing;        /* cine */
    double fps;
    uint64_t next_frame_ms;
};

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
    "Ctrl + wheel      zoom",
    "1-5               CT brain, lung, abdomen, bone, mediastinum",
    "6-9               the file's windows      0   auto (histogram)",
    "Space             play / pause cine   + / -   faster / slower",
    "R                 reset         Shift+R       rotate 90",
    "F                 flip          I             invert",
    "N                 nearest / linear interpolation",
    "F1                this help     Esc           quit",
};

/* A window from the histogram of the slice's modality values: the 1st to
 * 99th percentile, ignoring the lowest value when it is padding (air
 * outside a CT's field of view). */
static void auto_window(const struct app *a, double *c, double *w)
{
    const struct vw_slice *s = &a->st.s[a->cur];
    const struct rnd_frame *f = &a->st.fmt;
    if (f->samples != 1 || !s->pixels || s->max <= s->min) {
        *c = (s->min + s->max) / 2, *w = s->max - s->min + 1;
        return;
    }
    enum { BINS = 4096 };
    static unsigned hist[BINS];
    memset(hist, 0, sizeof hist);
    size_t n = (size_t)f->width * f->height, used = 0;
    double lo = s->min, span = s->max - s->min;
    for (size_t i = 0; i < n; i++) {
        double v = f->bits == 16 ? (f->is_signed
                                        ? ((const int16_t *)s->pixels)[i]
                                        : ((const uint16_t *)s->pixels)[i])
                                 : (f->is_signed
                                        ? ((const int8_t *)s->pixels)[i]
                                        : ((const uint8_t *)s->pixels)[i]);
        v = v * s->slope + s->intercept;
        int b = (int)((v - lo) / span * (BINS - 1));
        hist[b < 0 ? 0 : b >= BINS ? BINS - 1 : b]++;
    }
    unsigned skip = hist[0] > n / 10 ? hist[0] : 0; /* padding */
    used = n - skip;
    size_t acc = 0, p1 = (size_t)(used * 0.01), p99 = (size_t)(used * 0.99);
    int b1 = -1, b99 = BINS - 1;
    for (int b = skip ? 1 : 0; b < BINS; b++) {
        acc += hist[b];
        if (b1 < 0 && acc > p1)
            b1 = b;
        if (acc > p99) {
            b99 = b;
            break;
        }
    }
    double v1 = lo + span * (b1 < 0 ? 0 : b1) / (BINS - 1);
    double v99 = lo + span * (b99 + 1) / (BINS - 1);
    *c = (v1 + v99) / 2;
    *w = v99 - v1 > 1 ? v99 - v1 : 1;
}

static uint64_t now_ms(void)
{
    return SDL_GetTicks64();
}

/* The image and its overlays into the bound framebuffer. */
static void draw(struct app *a, int w, int h)
{
    rnd_clear(w, h);
    rnd_draw(a->rc, a->tex, &a->view, 0, 0, w, h, h);
    if (a->font)
        vw_overlay_draw(a->rc, a->font, &a->im, &a->st, a->cur, &a->view,
                        a->tex, 0, 0, w, h, w, h);
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
    if (a->o.no_overlay)
        return;
    char err[512];
    a->font = vw_overlay_font(h, err, sizeof err);
    if (!a->font)
        fprintf(stderr, "consort-view: no overlays: %s\n", err);
}

static const struct vw_slice *slice(const struct app *a)
{
    return &a->st.s[a->cur];
}

/* The window a radiologist expects first: the one asked for, the file's,
 * else the slice's range. */
static void default_window(const struct app *a, double *c, double *w)
{
    const struct vw_slice *s = slice(a);
    if (a->o.has_window) {
        *c = a->o.center, *w = a->o.width;
    } else if (a->im.n_windows > 0 && a->im.width[0] > 0) {
        *c = a->im.center[0], *w = a->im.width[0];
    } else if (s->width > 0) {
        *c = s->center, *w = s->width;
    } else {
        *c = (s->min + s->max) / 2.0;
        *w = s->max - s->min + 1.0;
    }
}

static void view_reset(struct app *a, int w, int h)
{
    struct rnd_view *v = &a->view;
    memset(v, 0, sizeof *v);
    v->slope = slice(a)->slope;
    v->intercept = slice(a)->intercept;
    v->modality_lut = a->im.modality_lut.count ? &a->im.modality_lut : NULL;
    v->voi = a->im.voi_lut.count && !a->o.has_window ? RND_VOI_LUT
                                                     : a->im.voi_function;
    v->voi_lut = a->im.voi_lut.count ? &a->im.voi_lut : NULL;
    default_window(a, &v->center, &v->width);
    v->invert = a->o.invert;
    v->rotate = a->o.rotate;
    v->flip_h = a->o.flip_h;
    v->flip_v = a->o.flip_v;
    v->pan_x = a->o.pan_x;
    v->pan_y = a->o.pan_y;
    v->linear = a->o.linear;
    a->fit = a->o.zoom <= 0;
    v->zoom = a->fit ? rnd_fit_zoom(a->tex, v->rotate, w, h) : a->o.zoom;
}

/* Puts slice a->cur into the texture (waiting for its decoder if it is
 * not ready: only the first image, or a jump ahead of the decoders). */
static int show_slice(struct app *a, char *err, size_t errlen)
{
    if (a->tex && a->tex_slice == a->cur)
        return 0;
    if (vw_stack_wait(&a->st, a->cur) < 0) {
        snprintf(err, errlen, "%.300s frame %u: %.150s", slice(a)->path,
                 slice(a)->frame, slice(a)->err);
        return -1;
    }
    struct rnd_frame f = a->st.fmt;
    f.data = slice(a)->pixels;
    f.palette = a->im.palette[0].count ? a->im.palette : NULL;
    rnd_image *t = rnd_image_create(a->rc, &f, err, errlen);
    if (!t)
        return -1;
    rnd_image_destroy(a->tex);
    a->tex = t;
    a->tex_slice = a->cur;
    /* slices of a CT may carry their own rescale */
    a->view.slope = slice(a)->slope;
    a->view.intercept = slice(a)->intercept;
    return 0;
}

static SDL_Window *gl_window(int w, int h, int hidden, SDL_GLContext *ctx)
{
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 3);
    SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK,
                        SDL_GL_CONTEXT_PROFILE_CORE);
    SDL_GL_SetAttribute(SDL_GL_DOUBLEBUFFER, 1);
    SDL_Window *win = SDL_CreateWindow(
        "consort-view", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, w, h,
        SDL_WINDOW_OPENGL | (hidden ? SDL_WINDOW_HIDDEN : SDL_WINDOW_RESIZABLE));
    if (!win)
        return NULL;
    *ctx = SDL_GL_CreateContext(win);
    if (!*ctx) {
        SDL_DestroyWindow(win);
        return NULL;
    }
    return win;
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
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "consort-view: SDL: %s\n", SDL_GetError());
        return 1;
    }
    SDL_GLContext ctx = NULL;
    SDL_Window *win = gl_window(64, 64, 1, &ctx);
    if (!win) {
        fprintf(stderr, "consort-view: no OpenGL 3.3 core context: %s\n",
                SDL_GetError());
        SDL_Quit();
        return 1;
    }
    int rc = 1;
    rnd_target *t = NULL;
    a->rc = rnd_ctx_create(err, sizeof err);
    if (!a->rc || show_slice(a, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        goto out;
    }
    int w = a->o.size_w ? a->o.size_w : (int)a->st.fmt.width;
    int h = a->o.size_h ? a->o.size_h : (int)a->st.fmt.height;
    view_reset(a, w, h);
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
    printf("%s: %dx%d, slice %d of %d, window %g/%g%s\n", a->o.screenshot, w,
           h, a->cur + 1, a->st.n, a->view.center, a->view.width,
           a->view.invert ? ", inverted" : "");
    rc = 0;
out:
    rnd_font_close(a->font);
    rnd_target_destroy(t);
    rnd_image_destroy(a->tex);
    rnd_ctx_destroy(a->rc);
    SDL_GL_DeleteContext(ctx);
    SDL_DestroyWindow(win);
    SDL_Quit();
    return rc;
}

/* ---- scripted input (tests): each line becomes SDL events, pushed into
 * the same queue the mouse and keyboard fill ---- */

static void push_button(int type, int button, int x, int y)
{
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = (Uint32)type;
    e.button.button = (Uint8)button;
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

/* Executes one script line; 1 to quit, -1 on a bad line. */
static int script_line(struct app *a, char *line, int w, int h)
{
    char cmd[32] = "", arg[1024] = "", mod[16] = "";
    int n = sscanf(line, "%31s %1023s %15s", cmd, arg, mod);
    if (n <= 0 || cmd[0] == '#')
        return 0;
    if (strcmp(cmd, "quit") == 0)
        return 1;
    if (strcmp(cmd, "wait") == 0) {
        vw_stack_wait_all(&a->st);
        return 0;
    }
    if (strcmp(cmd, "sleep") == 0 && n >= 2) { /* ms: cine runs meanwhile */
        return 2 + atoi(arg);
    }
    if (strcmp(cmd, "state") == 0) {
        char r[4] = "", l[4] = "", u[4] = "", d[4] = "";
        vw_overlay_orientation(&a->im, &a->view, a->tex, w, h, r, l, u, d);
        printf("{\"slice\":%d,\"slices\":%d,\"center\":%.3f,\"width\":%.3f,"
               "\"zoom\":%.4f,\"pan_x\":%.2f,\"pan_y\":%.2f,\"invert\":%d,"
               "\"rotate\":%d,\"flip_h\":%d,\"linear\":%d,"
               "\"orientation\":[\"%s\",\"%s\",\"%s\",\"%s\"],"
               "\"playing\":%d,\"fps\":%.2f,\"help\":%d}\n",
               a->cur, a->st.n, a->view.center, a->view.width, a->view.zoom,
               a->view.pan_x, a->view.pan_y, a->view.invert, a->view.rotate,
               a->view.flip_h, a->view.linear, r, l, u, d, a->playing, a->fps,
               a->help);
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
    if (strcmp(cmd, "drag") == 0 &&
        sscanf(line, "%*s %*s %d %d %d %d", &x0, &y0, &x1, &y1) == 4) {
        int b = strcmp(arg, "left") == 0    ? SDL_BUTTON_LEFT
                : strcmp(arg, "right") == 0 ? SDL_BUTTON_RIGHT
                                            : SDL_BUTTON_MIDDLE;
        push_button(SDL_MOUSEBUTTONDOWN, b, x0, y0);
        int steps = 10, px = x0, py = y0;
        for (int i = 1; i <= steps; i++) {
            int x = x0 + (x1 - x0) * i / steps, y = y0 + (y1 - y0) * i / steps;
            push_motion(x, y, x - px, y - py);
            px = x, py = y;
        }
        push_button(SDL_MOUSEBUTTONUP, b, x1, y1);
        return 0;
    }
    return -1;
}

static int interactive(struct app *a)
{
    char err[512];
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "consort-view: SDL: %s (no display? use "
                        "--screenshot)\n",
                SDL_GetError());
        return 1;
    }
    SDL_GLContext ctx = NULL;
    SDL_Window *win = gl_window(a->o.size_w ? a->o.size_w : 1024,
                                a->o.size_h ? a->o.size_h : 768, 0, &ctx);
    if (!win) {
        fprintf(stderr, "consort-view: no OpenGL 3.3 core context: %s\n",
                SDL_GetError());
        SDL_Quit();
        return 1;
    }
    SDL_GL_SetSwapInterval(a->o.script ? 0 : 1);
    FILE *script = NULL;
    if (a->o.script) {
        script = strcmp(a->o.script, "-") == 0 ? stdin
                                               : fopen(a->o.script, "r");
        if (!script) {
            fprintf(stderr, "consort-view: cannot read %s\n", a->o.script);
            SDL_GL_DeleteContext(ctx);
            SDL_DestroyWindow(win);
            SDL_Quit();
            return 1;
        }
    }
    int rc = 1;
    a->rc = rnd_ctx_create(err, sizeof err);
    if (!a->rc || show_slice(a, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        goto out;
    }
    int w, h;
    SDL_GL_GetDrawableSize(win, &w, &h);
    view_reset(a, w, h);
    open_font(a, h);
    int drag = 0, dirty = 1, loading = atomic_load(&a->st.loaded) < a->st.n;
    /* cine rate: Frame Time, else Cine Rate, else Recommended Display
     * Frame Rate, else 10 images/s for a stack */
    double rate = 0;
    if (a->im.frame_time_ms > 0)
        a->fps = 1000.0 / a->im.frame_time_ms;
    else if (vw_image_numbers(&a->im, DCX_TAG(0x0018, 0x0040), &rate, 1) == 1 &&
             rate > 0)
        a->fps = rate;
    else if (vw_image_numbers(&a->im, DCX_TAG(0x0008, 0x2144), &rate, 1) == 1 &&
             rate > 0)
        a->fps = rate;
    else
        a->fps = 10;
    uint64_t script_resume = 0;
    for (;;) {
        if (a->playing && now_ms() >= a->next_frame_ms) {
            /* a late frame is dropped rather than run behind */
            a->cur = (a->cur + 1) % a->st.n;
            a->next_frame_ms += (uint64_t)(1000 / a->fps);
            if (a->next_frame_ms < now_ms())
                a->next_frame_ms = now_ms() + (uint64_t)(1000 / a->fps);
            if (show_slice(a, err, sizeof err) < 0)
                fprintf(stderr, "consort-view: %s\n", err);
            dirty = 1;
        }
        if (dirty) {
            char title[1300];
            int loaded = atomic_load(&a->st.loaded);
            snprintf(title, sizeof title,
                     "consort-view - %s - %d/%d%s - W %.0f L %.0f - "
                     "zoom %.0f%%",
                     slice(a)->path, a->cur + 1, a->st.n,
                     loaded < a->st.n ? " (loading)" : "", a->view.width,
                     a->view.center, a->view.zoom * 100);
            SDL_SetWindowTitle(win, title);
            rnd_target_bind(NULL);
            draw(a, w, h);
            if (!script)
                SDL_GL_SwapWindow(win);
            dirty = 0;
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
        /* while slices load, wake up now and then to show the progress;
         * while cine plays, at its next frame */
        int timeout = loading ? 250 : 1000;
        if (a->playing) {
            uint64_t t = now_ms();
            int until = a->next_frame_ms > t ? (int)(a->next_frame_ms - t) : 0;
            timeout = until < timeout ? until : timeout;
        }
        if (script && script_resume > now_ms()) {
            int until = (int)(script_resume - now_ms());
            timeout = until < timeout ? until : timeout;
        }
        if (!SDL_WaitEventTimeout(&ev, timeout)) {
            int still = atomic_load(&a->st.loaded) < a->st.n;
            dirty = loading != still || still;
            loading = still;
            continue;
        }
        int step = 0;
        switch (ev.type) {
        case SDL_QUIT:
            rc = 0;
            goto out;
        case SDL_WINDOWEVENT:
            if (ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED) {
                SDL_GL_GetDrawableSize(win, &w, &h);
                if (a->fit)
                    a->view.zoom = rnd_fit_zoom(a->tex, a->view.rotate, w, h);
            }
            dirty = 1;
            break;
        case SDL_MOUSEBUTTONDOWN:
            drag = ev.button.button;
            break;
        case SDL_MOUSEBUTTONUP:
            drag = 0;
            break;
        case SDL_MOUSEMOTION: {
            if (!drag)
                break;
            int dx = ev.motion.xrel, dy = ev.motion.yrel;
            const struct vw_slice *s = slice(a);
            double range = s->max - s->min + 1;
            if (drag == SDL_BUTTON_LEFT) { /* right = wider, down = higher */
                double k = range / 512.0;
                a->view.width = fmax(1.0, a->view.width + dx * k);
                a->view.center += dy * k;
            } else if (drag == SDL_BUTTON_RIGHT) {
                a->view.zoom *= exp(-dy / 200.0);
                a->fit = 0;
            } else if (drag == SDL_BUTTON_MIDDLE) {
                a->view.pan_x += dx;
                a->view.pan_y += dy;
            }
            dirty = 1;
            break;
        }
        case SDL_MOUSEWHEEL:
            if (SDL_GetModState() & KMOD_CTRL) {
                a->view.zoom *= ev.wheel.y > 0 ? 1.1 : 1 / 1.1;
                a->fit = 0;
                dirty = 1;
            } else {
                step = ev.wheel.y > 0 ? -1 : ev.wheel.y < 0 ? 1 : 0;
                step *= abs(ev.wheel.y);
            }
            break;
        case SDL_KEYDOWN:
            switch (ev.key.keysym.sym) {
            case SDLK_ESCAPE:
            case SDLK_q:
                rc = 0;
                goto out;
            case SDLK_r:
                if (ev.key.keysym.mod & KMOD_SHIFT) {
                    a->view.rotate = (a->view.rotate + 1) % 4;
                    if (a->fit)
                        a->view.zoom =
                            rnd_fit_zoom(a->tex, a->view.rotate, w, h);
                } else {
                    view_reset(a, w, h);
                }
                dirty = 1;
                break;
            case SDLK_i:
                a->view.invert = !a->view.invert;
                dirty = 1;
                break;
            case SDLK_f:
                a->view.flip_h = !a->view.flip_h;
                dirty = 1;
                break;
            case SDLK_n:
                a->view.linear = !a->view.linear;
                dirty = 1;
                break;
            case SDLK_F1:
                a->help = !a->help;
                dirty = 1;
                break;
            case SDLK_SPACE:
                a->playing = !a->playing && a->st.n > 1;
                a->next_frame_ms = now_ms() + (uint64_t)(1000 / a->fps);
                dirty = 1;
                break;
            case SDLK_PLUS:
            case SDLK_EQUALS:
            case SDLK_KP_PLUS:
                a->fps = fmin(a->fps * 1.25, 120);
                dirty = 1;
                break;
            case SDLK_MINUS:
            case SDLK_KP_MINUS:
                a->fps = fmax(a->fps / 1.25, 1);
                dirty = 1;
                break;
            case SDLK_0:
                auto_window(a, &a->view.center, &a->view.width);
                a->view.voi = RND_VOI_LINEAR;
                dirty = 1;
                break;
            case SDLK_1:
            case SDLK_2:
            case SDLK_3:
            case SDLK_4:
            case SDLK_5: {
                int k = (int)(ev.key.keysym.sym - SDLK_1);
                a->view.center = presets[k].center;
                a->view.width = presets[k].width;
                a->view.voi = RND_VOI_LINEAR;
                dirty = 1;
                break;
            }
            case SDLK_6:
            case SDLK_7:
            case SDLK_8:
            case SDLK_9: {
                int k = (int)(ev.key.keysym.sym - SDLK_6);
                if (k < a->im.n_windows) {
                    a->view.center = a->im.center[k];
                    a->view.width = a->im.width[k];
                    a->view.voi = a->im.voi_function;
                    dirty = 1;
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
                step = -a->st.n;
                break;
            case SDLK_END:
                step = a->st.n;
                break;
            default:
                break;
            }
            break;
        default:
            break;
        }
        if (step) {
            int c = a->cur + step;
            c = c < 0 ? 0 : c >= a->st.n ? a->st.n - 1 : c;
            if (c != a->cur) {
                a->cur = c;
                if (show_slice(a, err, sizeof err) < 0)
                    fprintf(stderr, "consort-view: %s\n", err);
                dirty = 1;
            }
        }
    }
    rc = 0;
out:
    if (script && script != stdin)
        fclose(script);
    rnd_font_close(a->font);
    rnd_image_destroy(a->tex);
    rnd_ctx_destroy(a->rc);
    SDL_GL_DeleteContext(ctx);
    SDL_DestroyWindow(win);
    SDL_Quit();
    return rc;
}

int main(int argc, char **argv)
{
    struct app a;
    memset(&a, 0, sizeof a);
    a.tex_slice = -1;
    if (parse(argc, argv, &a.o) < 0)
        return 2;
    if (dcx_init(NULL, NULL, DCX_LOG_WARN) < 0) { /* codecs, dictionary */
        fprintf(stderr, "consort-view: cannot initialise the DICOM library\n");
        return 1;
    }
    char err[512];
    if (vw_stack_open(&a.st, a.o.inputs, a.o.n_inputs, a.o.threads, err,
                      sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        return 1;
    }
    if (a.st.other_series)
        fprintf(stderr, "consort-view: showing series %s; %d other series "
                        "given are not shown\n",
                a.st.series_uid, a.st.other_series);
    if (a.o.frame >= (uint32_t)a.st.n) {
        fprintf(stderr, "consort-view: --frame %u: the series has %d\n",
                a.o.frame, a.st.n);
        vw_stack_close(&a.st);
        return 1;
    }
    a.cur = (int)a.o.frame;
    atomic_store(&a.st.cursor, a.cur);
    /* LUTs, palette and presets come from the first slice's file */
    if (vw_image_open(&a.im, a.st.s[0].path, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        vw_stack_close(&a.st);
        return 1;
    }
    int rc = a.o.screenshot ? screenshot(&a) : interactive(&a);
    vw_image_close(&a.im);
    vw_stack_close(&a.st);
    free(a.o.inputs);
    return rc;
}
