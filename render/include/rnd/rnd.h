/* rnd.h - drawing DICOM frames with OpenGL 3.3 core. A frame's stored
 * values go to the GPU as they are (unsigned integer textures, 8 or 16
 * bits per sample; signed data with an offset); the fragment shader does
 * the modality LUT or rescale, the VOI window or LUT, MONOCHROME1,
 * palette and YBR_FULL (shaders/image.frag), and the geometry: zoom, pan,
 * quarter turns, flips, nearest or bilinear. Also offscreen targets and
 * read-back for screenshots. Knows no SDL and no DCMTK: frames come as
 * plain structs, and a GL 3.3 core context must be current. */
#ifndef RND_H
#define RND_H

#include <stddef.h>
#include <stdint.h>

/* Error codes (negative, STYLE.md 3). */
enum {
    RND_ENOMEM = -1,  /* out of memory */
    RND_ELAYOUT = -2, /* the frame does not fit the image it would replace */
    RND_EGPU = -3,    /* the GPU refused */
};

enum rnd_photometric {
    RND_MONO2 = 0,
    RND_MONO1 = 1,
    RND_RGB = 2,
    RND_YBR_FULL = 3,
    RND_PALETTE = 4,
};

/* A lookup table (modality, VOI or one palette channel), PS3.3 C.11. */
struct rnd_lut {
    int32_t first;          /* first stored value mapped */
    uint32_t count;         /* entries */
    int bits;               /* bits per entry */
    const uint16_t *data;
};

/* One decoded frame: rows top to bottom, samples interleaved. */
struct rnd_frame {
    uint32_t width, height;
    int samples;            /* 1 or 3 */
    int bits;               /* container: 8, 16 or 32 */
    int is_signed;          /* two's complement stored values */
    enum rnd_photometric photometric;
    const void *data;
    const struct rnd_lut *palette; /* [3] red, green, blue (PALETTE) */
    const uint8_t *overlay; /* overlay planes, width x height, non-zero =
                               set; NULL: none */
    double aspect;          /* a pixel's height / width (row spacing over
                               column spacing); 0: square. Drawn so, and
                               fitted so: a 0.7 x 2.5 mm reformat is not
                               squashed */
};

enum rnd_voi { RND_VOI_LINEAR, RND_VOI_LINEAR_EXACT, RND_VOI_SIGMOID,
               RND_VOI_LUT };

/* How to show an image in a viewport. */
struct rnd_view {
    double slope, intercept;           /* modality rescale */
    const struct rnd_lut *modality_lut; /* instead of the rescale, or NULL */
    enum rnd_voi voi;
    double center, width;              /* VOI window, modality units */
    const struct rnd_lut *voi_lut;     /* for RND_VOI_LUT */
    int invert;                        /* on top of MONOCHROME1 */
    double zoom;                       /* screen px per image px (along
                                          a row: see rnd_frame.aspect) */
    double pan_x, pan_y;               /* screen px the image centre moves */
    int rotate;                        /* quarter turns clockwise */
    int flip_h, flip_v;                /* after the rotation, on screen */
    int linear;                        /* bilinear instead of nearest */
    int hide_overlays;                 /* overlay planes not drawn */
};

typedef struct rnd_ctx rnd_ctx;
typedef struct rnd_image rnd_image;
typedef struct rnd_target rnd_target;

/* Compiles the shaders (embedded at build time). NULL and err on failure
 * (no GL 3.3 core context, shader errors). */
rnd_ctx *rnd_ctx_create(char *err, size_t errlen);
void rnd_ctx_destroy(rnd_ctx *c);

/* Uploads a frame; NULL and err if the format is not supported or the GPU
 * refuses the size. */
rnd_image *rnd_image_create(rnd_ctx *c, const struct rnd_frame *f, char *err,
                            size_t errlen);
/* Replaces an image's pixels by frame f's, in place: no new texture for
 * each slice of a series (allocating one costs more than the upload for
 * a large image). 0; RND_ELAYOUT if f's size or samples differ from the
 * image's, or it is a palette image (create one anew then); RND_ENOMEM;
 * RND_EGPU if the GPU refused (the image's pixels are undefined then). */
int rnd_image_update(rnd_image *im, const struct rnd_frame *f);
void rnd_image_destroy(rnd_image *im);
void rnd_image_size(const rnd_image *im, uint32_t *w, uint32_t *h);

/* The LINEAR window's unit (PS3.3 C.11.2.1.2.1): its -0.5 and -1 are one
 * step of integer values. Modality values with fractions (dose in Gy, SUV:
 * a slope below 1) step by the slope, and the window is taken in those
 * steps, or it could not be narrower than 1. */
double rnd_value_step(double slope);

/* The zoom that fits the image (after rotation) into w x h. */
double rnd_fit_zoom(const rnd_image *im, int rotate, int w, int h);

/* Maps a viewport pixel (x right, y down, origin top-left) to image
 * coordinates and back, for the same view and viewport size. */
void rnd_screen_to_image(const rnd_image *im, const struct rnd_view *v,
                         int vw, int vh, double sx, double sy, double *ix,
                         double *iy);
void rnd_image_to_screen(const rnd_image *im, const struct rnd_view *v,
                         int vw, int vh, double ix, double iy, double *sx,
                         double *sy);

/* Draws im into the viewport (x, y from the framebuffer's top-left; fb_h
 * the framebuffer height) with black around it. */
void rnd_draw(rnd_ctx *c, const rnd_image *im, const struct rnd_view *v,
              int x, int y, int w, int h, int fb_h);

/* Clears the bound framebuffer to black. */
void rnd_clear(int fb_w, int fb_h);

/* An offscreen framebuffer (RGBA8) of w x h; bind to draw into it. */
rnd_target *rnd_target_create(int w, int h, char *err, size_t errlen);
void rnd_target_bind(rnd_target *t); /* NULL: the window's framebuffer */
void rnd_target_destroy(rnd_target *t);

/* Reads the bound framebuffer into out (w * h * 3 bytes, RGB, rows top to
 * bottom). */
void rnd_read_rgb(int w, int h, uint8_t *out);

/* ---- text and overlay shapes (FreeType glyphs in an atlas texture) ---- */

typedef struct rnd_font rnd_font;

/* Opens the first font of paths (NULL-terminated list of files) that
 * FreeType can read, at px pixels. NULL and err if none. */
rnd_font *rnd_font_open(const char *const *paths, int px, char *err,
                        size_t errlen);
void rnd_font_close(rnd_font *f);
int rnd_font_line_height(const rnd_font *f);
/* Width in pixels of UTF-8 text. */
int rnd_text_width(rnd_font *f, const char *utf8);

/* Draws UTF-8 text with its top-left at (x, y) of the bound framebuffer
 * (fb_w x fb_h, y down), with a dark outline so that it reads on any
 * image. */
void rnd_text(rnd_ctx *c, rnd_font *f, const char *utf8, int x, int y,
              int fb_w, int fb_h, const float rgba[4]);

/* A line of the given thickness (reference lines). */
void rnd_line(rnd_ctx *c, rnd_font *f, double x0, double y0, double x1,
              double y1, double thickness, int fb_w, int fb_h,
              const float rgba[4]);

/* A filled rectangle (scale bars, markers). */
void rnd_rect(rnd_ctx *c, rnd_font *f, int x, int y, int w, int h,
              int fb_w, int fb_h, const float rgba[4]);

#endif
