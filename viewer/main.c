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
#include "load.h"
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
    const char *input;
};

static void usage(FILE *to)
{
    fputs("usage: consort-view [options] FILE\n"
          "\n"
          "Shows a DICOM image (all frames of a multi-frame file).\n"
          "\n"
          "  --screenshot OUT.png  render offscreen (no window, no display\n"
          "                        needed) and write a PNG\n"
          "  --size WxH            screenshot size (default: the image's)\n"
          "  --window C,W          window centre and width, modality units\n"
          "                        (default: the file's first, else the\n"
          "                        frame's range)\n"
          "  --frame N             frame, from 0\n"
          "  --zoom Z              screen pixels per image pixel (default:\n"
          "                        fit)\n"
          "  --pan X,Y             move the image by X,Y screen pixels\n"
          "  --rotate N            quarter turns clockwise\n"
          "  --flip h|v|hv         mirror (after rotating)\n"
          "  --invert              invert grey levels\n"
          "  --interp nearest|linear  (default linear)\n"
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
        } else if (!o->input) {
            o->input = a;
        } else {
            fprintf(stderr, "consort-view: one file for now ('%s')\n", a);
            return -1;
        }
    }
    if (!o->input) {
        usage(stderr);
        return -1;
    }
    return 0;
}

struct app {
    struct opts o;
    struct vw_image im;
    rnd_ctx *rc;
    rnd_image *tex;
    struct rnd_view view;
    int fit; /* zoom follows the window size */
};

static void view_reset(struct app *a, int w, int h)
{
    struct rnd_view *v = &a->view;
    memset(v, 0, sizeof *v);
    v->slope = a->im.slope;
    v->intercept = a->im.intercept;
    v->modality_lut = a->im.modality_lut.count ? &a->im.modality_lut : NULL;
    v->voi = a->im.voi_lut.count && !a->o.has_window ? RND_VOI_LUT
                                                     : a->im.voi_function;
    v->voi_lut = a->im.voi_lut.count ? &a->im.voi_lut : NULL;
    if (a->o.has_window) {
        v->center = a->o.center;
        v->width = a->o.width;
    } else {
        vw_image_default_window(&a->im, &v->center, &v->width);
    }
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

static int upload(struct app *a, char *err, size_t errlen)
{
    rnd_image_destroy(a->tex);
    a->tex = rnd_image_create(a->rc, &a->im.frame, err, errlen);
    return a->tex ? 0 : -1;
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
    uint8_t *rgb = NULL;
    a->rc = rnd_ctx_create(err, sizeof err);
    if (!a->rc || upload(a, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        goto out;
    }
    int w = a->o.size_w ? a->o.size_w : (int)a->im.frame.width;
    int h = a->o.size_h ? a->o.size_h : (int)a->im.frame.height;
    view_reset(a, w, h);
    t = rnd_target_create(w, h, err, sizeof err);
    rgb = malloc((size_t)w * h * 3);
    if (!t || !rgb) {
        fprintf(stderr, "consort-view: %s\n", t ? "out of memory" : err);
        goto out;
    }
    rnd_target_bind(t);
    rnd_clear(w, h);
    rnd_draw(a->rc, a->tex, &a->view, 0, 0, w, h, h);
    rnd_read_rgb(w, h, rgb);
    if (vw_png_write(a->o.screenshot, rgb, w, h, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        goto out;
    }
    printf("%s: %dx%d, frame %u of %u, window %g/%g%s\n", a->o.screenshot, w,
           h, a->im.decoded + 1, a->im.frames, a->view.center,
           a->view.width, a->view.invert ? ", inverted" : "");
    rc = 0;
out:
    free(rgb);
    rnd_target_destroy(t);
    rnd_image_destroy(a->tex);
    rnd_ctx_destroy(a->rc);
    SDL_GL_DeleteContext(ctx);
    SDL_DestroyWindow(win);
    SDL_Quit();
    return rc;
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
    SDL_Window *win = gl_window(1024, 768, 0, &ctx);
    if (!win) {
        fprintf(stderr, "consort-view: no OpenGL 3.3 core context: %s\n",
                SDL_GetError());
        SDL_Quit();
        return 1;
    }
    SDL_GL_SetSwapInterval(1);
    int rc = 1;
    a->rc = rnd_ctx_create(err, sizeof err);
    if (!a->rc || upload(a, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        goto out;
    }
    int w, h;
    SDL_GL_GetDrawableSize(win, &w, &h);
    view_reset(a, w, h);
    int drag = 0, lx = 0, ly = 0, dirty = 1;
    for (;;) {
        if (dirty) {
            char title[1200];
            snprintf(title, sizeof title,
                     "consort-view - %s - frame %u/%u - W %.0f L %.0f - "
                     "zoom %.0f%%",
                     a->im.path, a->im.decoded + 1, a->im.frames,
                     a->view.width, a->view.center, a->view.zoom * 100);
            SDL_SetWindowTitle(win, title);
            rnd_target_bind(NULL);
            rnd_clear(w, h);
            rnd_draw(a->rc, a->tex, &a->view, 0, 0, w, h, h);
            SDL_GL_SwapWindow(win);
            dirty = 0;
        }
        SDL_Event ev;
        if (!SDL_WaitEvent(&ev))
            break;
        int frame_step = 0;
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
            lx = ev.button.x;
            ly = ev.button.y;
            break;
        case SDL_MOUSEBUTTONUP:
            drag = 0;
            break;
        case SDL_MOUSEMOTION: {
            if (!drag)
                break;
            int dx = ev.motion.x - lx, dy = ev.motion.y - ly;
            lx = ev.motion.x;
            ly = ev.motion.y;
            double range = a->im.max - a->im.min + 1;
            if (drag == SDL_BUTTON_LEFT) { /* right = wider, down = higher */
                double s = range / 512.0;
                a->view.width = fmax(1.0, a->view.width + dx * s);
                a->view.center += dy * s;
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
                frame_step = ev.wheel.y > 0 ? -1 : 1;
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
            case SDLK_UP:
            case SDLK_LEFT:
            case SDLK_PAGEUP:
                frame_step = -1;
                break;
            case SDLK_DOWN:
            case SDLK_RIGHT:
            case SDLK_PAGEDOWN:
                frame_step = 1;
                break;
            default:
                break;
            }
            break;
        default:
            break;
        }
        if (frame_step && a->im.frames > 1) {
            long f = (long)a->im.decoded + frame_step;
            f = f < 0 ? 0 : f >= (long)a->im.frames ? (long)a->im.frames - 1 : f;
            if ((uint32_t)f != a->im.decoded) {
                if (vw_image_frame(&a->im, (uint32_t)f, err, sizeof err) < 0 ||
                    upload(a, err, sizeof err) < 0) {
                    fprintf(stderr, "consort-view: %s\n", err);
                    goto out;
                }
                dirty = 1;
            }
        }
    }
    rc = 0;
out:
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
    if (parse(argc, argv, &a.o) < 0)
        return 2;
    if (dcx_init(NULL, NULL, DCX_LOG_WARN) < 0) { /* codecs, dictionary */
        fprintf(stderr, "consort-view: cannot initialise the DICOM library\n");
        return 1;
    }
    char err[512];
    if (vw_image_open(&a.im, a.o.input, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        return 1;
    }
    if (a.o.frame && vw_image_frame(&a.im, a.o.frame, err, sizeof err) < 0) {
        fprintf(stderr, "consort-view: %s\n", err);
        vw_image_close(&a.im);
        return 1;
    }
    int rc = a.o.screenshot ? screenshot(&a) : interactive(&a);
    vw_image_close(&a.im);
    return rc;
}
