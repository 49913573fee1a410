/* rnd.c - the OpenGL side of the viewer (see rnd.h): one shader program
 * (shaders/image.vert, image.frag, embedded at build time), integer
 * textures of stored values, LUT textures, the view transform as a matrix,
 * offscreen framebuffers and read-back. */
#include "rnd/rnd.h"

#include <epoxy/gl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gl_int.h"
#include "shaders_gen.h"

/* LUT textures are LUT_W wide, as many rows as needed: a 16-bit LUT has up
 * to 65,536 entries, more than a texture row may hold */
#define LUT_W 4096

/* One compiled variant of the image shader and its uniforms. */
struct prog {
    GLuint id;
    GLint u_img, u_mlut, u_vlut, u_pal, u_s2i, u_vp_origin, u_vp_h, u_size,
        u_offset, u_signed32, u_colour_max, u_slope, u_intercept, u_mlut_first,
        u_mlut_count, u_center, u_width, u_step, u_vlut_first, u_vlut_count,
        u_vlut_max, u_pal_first, u_pal_count, u_pal_rows, u_pal_max,
        u_invert, u_ovl;
};

/* variants: photometric (5) x linear (2) x VOI function (4) x modality
 * LUT (2) x overlay planes (2) */
#define N_PROGS (5 * 2 * 4 * 2 * 2)

struct rnd_ctx {
    struct prog progs[N_PROGS]; /* compiled on first use */
    GLuint vao;
    GLuint empty_lut; /* bound where a LUT is not used */
};

struct rnd_image {
    GLuint tex, pal, ovl; /* ovl: overlay planes (R8UI), 0 if none */
    uint32_t w, h;
    int samples, bits, is_signed;
    enum rnd_photometric photometric;
    float offset, colour_max;
    int signed32; /* 32-bit two's complement texels, read as int */
    int pal_first, pal_count, pal_rows;
    float pal_max;
    double aspect; /* a pixel's height / width */
};

struct rnd_target {
    GLuint fbo, rb;
    int w, h;
};

static GLuint compile(GLenum type, const char *src, char *err, size_t errlen)
{
    GLuint s = glCreateShader(type);
    glShaderSource(s, 1, &src, NULL);
    glCompileShader(s);
    GLint ok = 0;
    glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
    if (!ok) {
        char log[512] = "";
        glGetShaderInfoLog(s, sizeof log, NULL, log);
        snprintf(err, errlen, "%s shader: %s",
                 type == GL_VERTEX_SHADER ? "vertex" : "fragment", log);
        glDeleteShader(s);
        return 0;
    }
    return s;
}

GLuint rnd_gl_program(const char *vsrc, const char *fsrc, char *err,
                      size_t errlen)
{
    GLuint vs = compile(GL_VERTEX_SHADER, vsrc, err, errlen);
    GLuint fs = vs ? compile(GL_FRAGMENT_SHADER, fsrc, err, errlen) : 0;
    if (!vs || !fs) {
        glDeleteShader(vs);
        return 0;
    }
    GLuint p = glCreateProgram();
    glAttachShader(p, vs);
    glAttachShader(p, fs);
    glLinkProgram(p);
    glDeleteShader(vs);
    glDeleteShader(fs);
    GLint ok = 0;
    glGetProgramiv(p, GL_LINK_STATUS, &ok);
    if (!ok) {
        char log[512] = "";
        glGetProgramInfoLog(p, sizeof log, NULL, log);
        snprintf(err, errlen, "shader link: %s", log);
        glDeleteProgram(p);
        return 0;
    }
    return p;
}

/* The variant for these settings, compiled on first use; NULL if it does
 * not compile (reported once on stderr). */
static struct prog *variant(rnd_ctx *c, int photometric, int linear,
                            int voi, int mlut, int ovl)
{
    int k = (((photometric * 2 + (linear != 0)) * 4 + voi) * 2 + (mlut != 0)) *
                2 +
            (ovl != 0);
    struct prog *p = &c->progs[k];
    if (p->id)
        return p;
    /* the defines go after the #version line, which must come first */
    const char *body = strchr(rnd_shader_image_frag, '\n');
    body = body ? body + 1 : rnd_shader_image_frag;
    size_t len = strlen(body) + 256;
    char *src = malloc(len);
    if (!src)
        return NULL;
    snprintf(src, len,
             "#version 330 core\n#define PHOTOMETRIC %d\n#define LINEAR %d\n"
             "#define VOI %d\n#define USE_MLUT %d\n#define OVERLAY %d\n%s",
             photometric, linear != 0, voi, mlut != 0, ovl != 0, body);
    char err[600];
    p->id = rnd_gl_program(rnd_shader_image_vert, src, err, sizeof err);
    free(src);
    if (!p->id) {
        fprintf(stderr, "rnd: image shader variant %d: %s\n", k, err);
        return NULL;
    }
#define U(f, n) p->f = glGetUniformLocation(p->id, n)
    U(u_img, "img");
    U(u_mlut, "mlut");
    U(u_vlut, "vlut");
    U(u_pal, "pal");
    U(u_s2i, "screen_to_image");
    U(u_vp_origin, "viewport_origin");
    U(u_vp_h, "viewport_height");
    U(u_size, "size");
    U(u_offset, "offset");
    U(u_signed32, "signed32");
    U(u_colour_max, "colour_max");
    U(u_slope, "slope");
    U(u_intercept, "intercept");
    U(u_mlut_first, "mlut_first");
    U(u_mlut_count, "mlut_count");
    U(u_center, "center");
    U(u_width, "width");
    U(u_step, "step");
    U(u_vlut_first, "vlut_first");
    U(u_vlut_count, "vlut_count");
    U(u_vlut_max, "vlut_max");
    U(u_pal_first, "pal_first");
    U(u_pal_count, "pal_count");
    U(u_pal_rows, "pal_rows");
    U(u_pal_max, "pal_max");
    U(u_invert, "invert");
    U(u_ovl, "ovl");
#undef U
    return p;
}

rnd_ctx *rnd_ctx_create(char *err, size_t errlen)
{
    if (epoxy_gl_version() < 33) {
        snprintf(err, errlen, "OpenGL 3.3 core needed, the context has %d.%d",
                 epoxy_gl_version() / 10, epoxy_gl_version() % 10);
        return NULL;
    }
    rnd_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* the common variant now, so that a broken shader shows at start */
    struct prog *p = variant(c, RND_MONO2, 1, RND_VOI_LINEAR, 0, 0);
    if (!p) {
        snprintf(err, errlen, "the image shader does not compile (see "
                              "above)");
        free(c);
        return NULL;
    }
    glGenVertexArrays(1, &c->vao);
    uint16_t zero = 0;
    glGenTextures(1, &c->empty_lut);
    glBindTexture(GL_TEXTURE_2D, c->empty_lut);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_R16UI, 1, 1, 0, GL_RED_INTEGER,
                 GL_UNSIGNED_SHORT, &zero);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    return c;
}

void rnd_ctx_destroy(rnd_ctx *c)
{
    if (!c)
        return;
    for (int i = 0; i < N_PROGS; i++)
        if (c->progs[i].id)
            glDeleteProgram(c->progs[i].id);
    glDeleteVertexArrays(1, &c->vao);
    glDeleteTextures(1, &c->empty_lut);
    free(c);
}

static void int_tex_params(void)
{
    /* integer textures cannot be filtered: the shader interpolates */
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
}

/* LUTs (one or more, each padded to whole LUT_W rows) as one R16UI
 * texture; returns the rows per LUT. */
static GLuint lut_texture(const struct rnd_lut *l, int n, int *rows_per)
{
    uint32_t count = l[0].count;
    int rows = (int)((count + LUT_W - 1) / LUT_W);
    uint16_t *buf = calloc((size_t)LUT_W * rows * n, sizeof *buf);
    if (!buf)
        return 0;
    for (int k = 0; k < n; k++)
        memcpy(buf + (size_t)k * rows * LUT_W, l[k].data,
               (l[k].count < count ? l[k].count : count) * sizeof *buf);
    GLuint t;
    glGenTextures(1, &t);
    glBindTexture(GL_TEXTURE_2D, t);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_R16UI, LUT_W, rows * n, 0,
                 GL_RED_INTEGER, GL_UNSIGNED_SHORT, buf);
    int_tex_params();
    free(buf);
    *rows_per = rows;
    return t;
}

/* The texels of frame f as its texture takes them: signed 8- and 16-bit
 * values go up by half their range into an unsigned texture (in *tmp, to
 * be freed; *offset says by how much, for the shader to take off). NULL
 * if out of memory. */
static const void *texels(const struct rnd_frame *f, void **tmp,
                          float *offset)
{
    size_t n = (size_t)f->width * f->height * (size_t)f->samples;
    *tmp = NULL;
    *offset = 0;
    if (!f->is_signed || f->samples != 1 || f->bits == 32)
        return f->data;
    if (!(*tmp = malloc(n * (f->bits / 8))))
        return NULL;
    if (f->bits == 16) {
        const int16_t *s = f->data;
        uint16_t *d = *tmp;
        for (size_t i = 0; i < n; i++)
            d[i] = (uint16_t)(s[i] + 32768);
        *offset = 32768.0f;
    } else {
        const int8_t *s = f->data;
        uint8_t *d = *tmp;
        for (size_t i = 0; i < n; i++)
            d[i] = (uint8_t)(s[i] + 128);
        *offset = 128.0f;
    }
    return *tmp;
}

/* How frame f's texels go up: the pixel format and the sample type. */
static GLenum texel_format(const struct rnd_frame *f)
{
    return f->samples == 3 ? GL_RGB_INTEGER : GL_RED_INTEGER;
}

static GLenum texel_type(const struct rnd_frame *f)
{
    return f->bits == 8    ? GL_UNSIGNED_BYTE
           : f->bits == 16 ? GL_UNSIGNED_SHORT
                           : GL_UNSIGNED_INT;
}

/* The overlay planes travel with the frame: im's overlay texture made,
 * refilled or dropped as f has them. */
static void overlay_upload(rnd_image *im, const struct rnd_frame *f)
{
    if (!f->overlay) {
        if (im->ovl)
            glDeleteTextures(1, &im->ovl);
        im->ovl = 0;
        return;
    }
    GLsizei w = (GLsizei)f->width, h = (GLsizei)f->height;
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    if (im->ovl) {
        glBindTexture(GL_TEXTURE_2D, im->ovl);
        glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, w, h, GL_RED_INTEGER,
                        GL_UNSIGNED_BYTE, f->overlay);
        return;
    }
    glGenTextures(1, &im->ovl);
    glBindTexture(GL_TEXTURE_2D, im->ovl);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_R8UI, w, h, 0, GL_RED_INTEGER,
                 GL_UNSIGNED_BYTE, f->overlay);
    int_tex_params();
}

rnd_image *rnd_image_create(rnd_ctx *c, const struct rnd_frame *f, char *err,
                            size_t errlen)
{
    (void)c;
    if ((f->samples != 1 && f->samples != 3) ||
        (f->bits != 8 && f->bits != 16 && f->bits != 32) || !f->width ||
        !f->height || (f->bits == 32 && f->photometric == RND_PALETTE)) {
        snprintf(err, errlen, "unsupported frame: %d samples of %d bits",
                 f->samples, f->bits);
        return NULL;
    }
    GLint max = 0;
    glGetIntegerv(GL_MAX_TEXTURE_SIZE, &max);
    if (f->width > (uint32_t)max || f->height > (uint32_t)max) {
        snprintf(err, errlen, "%ux%u is larger than the GPU's %d px "
                              "textures",
                 f->width, f->height, max);
        return NULL;
    }
    rnd_image *im = calloc(1, sizeof *im);
    if (!im) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    im->w = f->width;
    im->h = f->height;
    im->aspect = f->aspect > 0 ? f->aspect : 1;
    im->samples = f->samples;
    im->photometric = f->photometric;
    im->colour_max = f->bits == 8    ? 255.0f
                     : f->bits == 16 ? 65535.0f
                                     : 4294967295.0f;
    im->bits = f->bits;
    im->is_signed = f->is_signed;
    /* 32-bit signed values go up as they are and the shader reads the
     * texel as int: an offset of 2^31 would cost them their precision as
     * floats */
    im->signed32 = f->is_signed && f->samples == 1 && f->bits == 32;
    void *tmp = NULL;
    const void *px = texels(f, &tmp, &im->offset);
    if (!px) {
        free(im);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    static const GLenum grey[] = {GL_R8UI, GL_R16UI, 0, GL_R32UI},
                        rgb[] = {GL_RGB8UI, GL_RGB16UI, 0, GL_RGB32UI};
    int b = f->bits / 8 - 1;
    GLenum ifmt = f->samples == 3 ? rgb[b] : grey[b];
    while (glGetError() != GL_NO_ERROR)
        ;
    glGenTextures(1, &im->tex);
    glBindTexture(GL_TEXTURE_2D, im->tex);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    glTexImage2D(GL_TEXTURE_2D, 0, (GLint)ifmt, (GLsizei)f->width,
                 (GLsizei)f->height, 0, texel_format(f), texel_type(f), px);
    int_tex_params();
    free(tmp);
    if (glGetError() != GL_NO_ERROR) {
        snprintf(err, errlen, "the GPU refused a %ux%u texture", f->width,
                 f->height);
        rnd_image_destroy(im);
        return NULL;
    }
    overlay_upload(im, f);
    if (f->photometric == RND_PALETTE) {
        if (!f->palette || !f->palette[0].count || !f->palette[0].data ||
            !f->palette[1].data || !f->palette[2].data) {
            snprintf(err, errlen, "PALETTE COLOR without palette LUTs");
            rnd_image_destroy(im);
            return NULL;
        }
        im->pal = lut_texture(f->palette, 3, &im->pal_rows);
        im->pal_first = f->palette[0].first;
        im->pal_count = (int)f->palette[0].count;
        im->pal_max = (float)((1u << f->palette[0].bits) - 1);
    }
    return im;
}

int rnd_image_update(rnd_image *im, const struct rnd_frame *f)
{
    if (f->width != im->w || f->height != im->h ||
        f->samples != im->samples || f->bits != im->bits ||
        f->is_signed != im->is_signed || f->photometric != im->photometric ||
        f->photometric == RND_PALETTE)
        return RND_ELAYOUT;
    void *tmp;
    float offset;
    const void *px = texels(f, &tmp, &offset);
    if (!px)
        return RND_ENOMEM;
    while (glGetError() != GL_NO_ERROR)
        ;
    glBindTexture(GL_TEXTURE_2D, im->tex);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, (GLsizei)f->width,
                    (GLsizei)f->height, texel_format(f), texel_type(f), px);
    free(tmp);
    overlay_upload(im, f);
    glBindTexture(GL_TEXTURE_2D, 0);
    im->offset = offset;
    im->aspect = f->aspect > 0 ? f->aspect : 1;
    return glGetError() == GL_NO_ERROR ? 0 : RND_EGPU;
}

void rnd_image_destroy(rnd_image *im)
{
    if (!im)
        return;
    glDeleteTextures(1, &im->tex);
    if (im->pal)
        glDeleteTextures(1, &im->pal);
    if (im->ovl)
        glDeleteTextures(1, &im->ovl);
    free(im);
}

void rnd_image_size(const rnd_image *im, uint32_t *w, uint32_t *h)
{
    *w = im->w;
    *h = im->h;
}

double rnd_value_step(double slope)
{
    double s = fabs(slope);
    return s > 0 && s < 1 ? s : 1;
}

double rnd_fit_zoom(const rnd_image *im, int rotate, int w, int h)
{
    double iw = im->w, ih = im->h * im->aspect;
    if (rotate & 1) {
        double t = iw;
        iw = ih;
        ih = t;
    }
    double zx = w / iw, zy = h / ih;
    return zx < zy ? zx : zy;
}

/* image -> screen as a 3x3 matrix (row-major m[r][c]), y down */
static void forward(const rnd_image *im, const struct rnd_view *v, int vw,
                    int vh, double m[3][3])
{
    int r = ((v->rotate % 4) + 4) % 4;
    /* quarter turns clockwise on a y-down screen: (x, y) -> (-y, x) */
    double a = 1, b = 0, c = 0, d = 1;
    for (int i = 0; i < r; i++) {
        double na = -c, nb = -d, nc = a, nd = b;
        a = na, b = nb, c = nc, d = nd;
    }
    if (v->flip_h)
        a = -a, b = -b;
    if (v->flip_v)
        c = -c, d = -d;
    double z = v->zoom > 0 ? v->zoom : 1.0;
    /* non-square pixels: image y stretched by the aspect before turning */
    b *= im->aspect, d *= im->aspect;
    double cx = im->w / 2.0, cy = im->h / 2.0;
    double tx = vw / 2.0 + v->pan_x, ty = vh / 2.0 + v->pan_y;
    m[0][0] = z * a, m[0][1] = z * b, m[0][2] = tx - z * (a * cx + b * cy);
    m[1][0] = z * c, m[1][1] = z * d, m[1][2] = ty - z * (c * cx + d * cy);
    m[2][0] = 0, m[2][1] = 0, m[2][2] = 1;
}

static void inverse(const double m[3][3], double o[3][3])
{
    /* affine: invert the 2x2 part, then the translation */
    double det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    double ia = m[1][1] / det, ib = -m[0][1] / det;
    double ic = -m[1][0] / det, id = m[0][0] / det;
    o[0][0] = ia, o[0][1] = ib, o[0][2] = -(ia * m[0][2] + ib * m[1][2]);
    o[1][0] = ic, o[1][1] = id, o[1][2] = -(ic * m[0][2] + id * m[1][2]);
    o[2][0] = 0, o[2][1] = 0, o[2][2] = 1;
}

void rnd_screen_to_image(const rnd_image *im, const struct rnd_view *v,
                         int vw, int vh, double sx, double sy, double *ix,
                         double *iy)
{
    double m[3][3], i[3][3];
    forward(im, v, vw, vh, m);
    inverse(m, i);
    *ix = i[0][0] * sx + i[0][1] * sy + i[0][2];
    *iy = i[1][0] * sx + i[1][1] * sy + i[1][2];
}

void rnd_image_to_screen(const rnd_image *im, const struct rnd_view *v,
                         int vw, int vh, double ix, double iy, double *sx,
                         double *sy)
{
    double m[3][3];
    forward(im, v, vw, vh, m);
    *sx = m[0][0] * ix + m[0][1] * iy + m[0][2];
    *sy = m[1][0] * ix + m[1][1] * iy + m[1][2];
}

void rnd_clear(int fb_w, int fb_h)
{
    glViewport(0, 0, fb_w, fb_h);
    glClearColor(0, 0, 0, 1);
    glClear(GL_COLOR_BUFFER_BIT);
}

void rnd_draw(rnd_ctx *c, const rnd_image *im, const struct rnd_view *v,
              int x, int y, int w, int h, int fb_h)
{
    int grey = im->photometric == RND_MONO1 || im->photometric == RND_MONO2;
    int mlut = grey && v->modality_lut && v->modality_lut->count;
    int voi = (int)v->voi;
    if (voi == RND_VOI_LUT && !(v->voi_lut && v->voi_lut->count))
        voi = RND_VOI_LINEAR;
    if (!grey) /* colour: windowing does not apply */
        voi = RND_VOI_LINEAR, mlut = 0;
    int ovl = im->ovl && !v->hide_overlays;
    struct prog *p = variant(c, (int)im->photometric, v->linear, voi, mlut,
                             ovl);
    if (!p)
        return;
    int gy = fb_h - y - h; /* GL's viewport origin is bottom-left */
    glViewport(x, gy, w, h);
    glUseProgram(p->id);
    double m[3][3], i[3][3];
    forward(im, v, w, h, m);
    inverse(m, i);
    GLfloat cm[9] = {(GLfloat)i[0][0], (GLfloat)i[1][0], 0,
                     (GLfloat)i[0][1], (GLfloat)i[1][1], 0,
                     (GLfloat)i[0][2], (GLfloat)i[1][2], 1}; /* columns */
    glUniformMatrix3fv(p->u_s2i, 1, GL_FALSE, cm);
    glUniform2f(p->u_vp_origin, (GLfloat)x, (GLfloat)gy);
    glUniform1f(p->u_vp_h, (GLfloat)h);
    glUniform2i(p->u_size, (GLint)im->w, (GLint)im->h);
    glUniform1f(p->u_offset, im->offset);
    glUniform1f(p->u_signed32, im->signed32 ? 1.0f : 0.0f);
    glUniform1f(p->u_colour_max, im->colour_max);
    glUniform1f(p->u_slope, (GLfloat)v->slope);
    glUniform1f(p->u_intercept, (GLfloat)v->intercept);
    glUniform1i(p->u_invert, v->invert ? 1 : 0);
    glUniform1f(p->u_center, (GLfloat)v->center);
    glUniform1f(p->u_width, (GLfloat)(v->width > 0 ? v->width : 1));
    glUniform1f(p->u_step,
                (GLfloat)(v->modality_lut ? 1 : rnd_value_step(v->slope)));

    glActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, im->tex);
    glUniform1i(p->u_img, 0);
    /* LUT textures live only for the draw: they are small, and a view may
     * change its LUT between draws */
    GLuint mt = 0, vt = 0;
    int rows;
    glActiveTexture(GL_TEXTURE1);
    if (mlut) {
        mt = lut_texture(v->modality_lut, 1, &rows);
        glUniform1i(p->u_mlut_first, v->modality_lut->first);
        glUniform1i(p->u_mlut_count, (GLint)v->modality_lut->count);
    } else {
        glBindTexture(GL_TEXTURE_2D, c->empty_lut);
    }
    glUniform1i(p->u_mlut, 1);
    glActiveTexture(GL_TEXTURE2);
    if (voi == RND_VOI_LUT) {
        vt = lut_texture(v->voi_lut, 1, &rows);
        glUniform1i(p->u_vlut_first, v->voi_lut->first);
        glUniform1i(p->u_vlut_count, (GLint)v->voi_lut->count);
        glUniform1f(p->u_vlut_max, (GLfloat)((1u << v->voi_lut->bits) - 1));
    } else {
        glBindTexture(GL_TEXTURE_2D, c->empty_lut);
    }
    glUniform1i(p->u_vlut, 2);
    glActiveTexture(GL_TEXTURE3);
    glBindTexture(GL_TEXTURE_2D, im->pal ? im->pal : c->empty_lut);
    glUniform1i(p->u_pal, 3);
    glUniform1i(p->u_pal_first, im->pal_first);
    glUniform1i(p->u_pal_count, im->pal_count ? im->pal_count : 1);
    glUniform1i(p->u_pal_rows, im->pal_rows);
    glUniform1f(p->u_pal_max, im->pal_max > 0 ? im->pal_max : 1.0f);
    glActiveTexture(GL_TEXTURE4);
    glBindTexture(GL_TEXTURE_2D, ovl ? im->ovl : c->empty_lut);
    glUniform1i(p->u_ovl, 4);

    glBindVertexArray(c->vao);
    glDrawArrays(GL_TRIANGLE_STRIP, 0, 4);
    glBindVertexArray(0);
    if (mt)
        glDeleteTextures(1, &mt);
    if (vt)
        glDeleteTextures(1, &vt);
    glActiveTexture(GL_TEXTURE0);
}

rnd_target *rnd_target_create(int w, int h, char *err, size_t errlen)
{
    rnd_target *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->w = w;
    t->h = h;
    glGenFramebuffers(1, &t->fbo);
    glGenRenderbuffers(1, &t->rb);
    glBindRenderbuffer(GL_RENDERBUFFER, t->rb);
    glRenderbufferStorage(GL_RENDERBUFFER, GL_RGBA8, w, h);
    glBindFramebuffer(GL_FRAMEBUFFER, t->fbo);
    glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0,
                              GL_RENDERBUFFER, t->rb);
    if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE) {
        snprintf(err, errlen, "offscreen framebuffer %dx%d incomplete", w, h);
        rnd_target_destroy(t);
        return NULL;
    }
    return t;
}

void rnd_target_bind(rnd_target *t)
{
    glBindFramebuffer(GL_FRAMEBUFFER, t ? t->fbo : 0);
}

void rnd_target_destroy(rnd_target *t)
{
    if (!t)
        return;
    glBindFramebuffer(GL_FRAMEBUFFER, 0);
    glDeleteFramebuffers(1, &t->fbo);
    glDeleteRenderbuffers(1, &t->rb);
    free(t);
}

void rnd_read_rgb(int w, int h, uint8_t *out)
{
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE, out);
    /* GL's rows are bottom to top */
    size_t row = (size_t)w * 3;
    uint8_t *tmp = malloc(row);
    if (!tmp)
        return;
    for (int y = 0; y < h / 2; y++) {
        uint8_t *a = out + (size_t)y * row, *b = out + (size_t)(h - 1 - y) * row;
        memcpy(tmp, a, row);
        memcpy(a, b, row);
        memcpy(b, tmp, row);
    }
    free(tmp);
}
