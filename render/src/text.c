/* text.c - UTF-8 text for overlays (see rnd.h): FreeType renders each
 * glyph once into an R8 atlas texture (rows of glyphs, reset when full);
 * a string is one vertex buffer of quads and two draws, a dark outline
 * pass and the text itself. Chinese names need a CJK font: the viewer
 * passes Debian's WenQuanYi Zen Hei first. */
#include "rnd/rnd.h"

#include <ft2build.h>
#include FT_FREETYPE_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gl_int.h"
#include "shaders_gen.h"

#define ATLAS 1024
#define SLOTS 4096 /* glyph cache entries (open addressing) */

struct glyph {
    uint32_t cp; /* 0: empty slot */
    int x, y, w, h;  /* in the atlas */
    int left, top;   /* bearing */
    int advance;
};

struct rnd_font {
    FT_Library ft;
    FT_Face face;
    int px, ascent, line;
    GLuint prog, vao, vbo, atlas;
    GLint u_fb, u_colour, u_atlas;
    int pen_x, pen_y, row_h; /* next free place in the atlas */
    struct glyph cache[SLOTS];
};

static const char *utf8_next(const char *s, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) {
        *cp = u[0];
        return s + 1;
    }
    int n = (u[0] & 0xE0) == 0xC0 ? 2 : (u[0] & 0xF0) == 0xE0 ? 3
                                     : (u[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!n) {
        *cp = 0xFFFD;
        return s + 1;
    }
    uint32_t c = u[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return s + i;
        }
        c = (c << 6) | (u[i] & 0x3F);
    }
    *cp = c;
    return s + n;
}

rnd_font *rnd_font_open(const char *const *paths, int px, char *err,
                        size_t errlen)
{
    rnd_font *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (FT_Init_FreeType(&f->ft) != 0) {
        snprintf(err, errlen, "FreeType cannot start");
        free(f);
        return NULL;
    }
    for (int i = 0; paths[i] && !f->face; i++)
        if (FT_New_Face(f->ft, paths[i], 0, &f->face) != 0)
            f->face = NULL;
    if (!f->face) {
        snprintf(err, errlen, "no usable font (first tried: %s)",
                 paths[0] ? paths[0] : "none");
        FT_Done_FreeType(f->ft);
        free(f);
        return NULL;
    }
    FT_Set_Pixel_Sizes(f->face, 0, (FT_UInt)px);
    f->px = px;
    f->ascent = (int)(f->face->size->metrics.ascender >> 6);
    f->line = (int)(f->face->size->metrics.height >> 6);
    f->prog = rnd_gl_program(rnd_shader_text_vert, rnd_shader_text_frag, err,
                             errlen);
    if (!f->prog) {
        rnd_font_close(f);
        return NULL;
    }
    f->u_fb = glGetUniformLocation(f->prog, "fb_size");
    f->u_colour = glGetUniformLocation(f->prog, "colour");
    f->u_atlas = glGetUniformLocation(f->prog, "atlas");
    glGenVertexArrays(1, &f->vao);
    glGenBuffers(1, &f->vbo);
    glBindVertexArray(f->vao);
    glBindBuffer(GL_ARRAY_BUFFER, f->vbo);
    glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 4 * sizeof(float), 0);
    glVertexAttribPointer(1, 2, GL_FLOAT, GL_FALSE, 4 * sizeof(float),
                          (void *)(2 * sizeof(float)));
    glEnableVertexAttribArray(0);
    glEnableVertexAttribArray(1);
    glBindVertexArray(0);
    glGenTextures(1, &f->atlas);
    glBindTexture(GL_TEXTURE_2D, f->atlas);
    uint8_t *zero = calloc(ATLAS * ATLAS, 1);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_R8, ATLAS, ATLAS, 0, GL_RED,
                 GL_UNSIGNED_BYTE, zero);
    free(zero);
    /* texel (0,0) fully covered: solid shapes sample it */
    uint8_t full[4] = {255, 255, 255, 255};
    glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, 2, 2, GL_RED, GL_UNSIGNED_BYTE,
                    full);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    f->pen_x = 4;
    f->pen_y = 0;
    return f;
}

void rnd_font_close(rnd_font *f)
{
    if (!f)
        return;
    if (f->prog)
        glDeleteProgram(f->prog);
    if (f->vao)
        glDeleteVertexArrays(1, &f->vao);
    if (f->vbo)
        glDeleteBuffers(1, &f->vbo);
    if (f->atlas)
        glDeleteTextures(1, &f->atlas);
    if (f->face)
        FT_Done_Face(f->face);
    FT_Done_FreeType(f->ft);
    free(f);
}

int rnd_font_line_height(const rnd_font *f)
{
    return f->line;
}

static void atlas_reset(rnd_font *f)
{
    memset(f->cache, 0, sizeof f->cache);
    f->pen_x = 4;
    f->pen_y = 0;
    f->row_h = 0;
}

/* The glyph of cp, rendered into the atlas on first use. */
static const struct glyph *glyph(rnd_font *f, uint32_t cp)
{
    unsigned h = (cp * 2654435761u) % SLOTS;
    for (unsigned k = 0; k < SLOTS; k++) {
        struct glyph *g = &f->cache[(h + k) % SLOTS];
        if (g->cp == cp)
            return g;
        if (g->cp == 0)
            break;
    }
    if (FT_Load_Char(f->face, cp, FT_LOAD_RENDER) != 0 &&
        FT_Load_Char(f->face, '?', FT_LOAD_RENDER) != 0)
        return NULL;
    FT_GlyphSlot s = f->face->glyph;
    int w = (int)s->bitmap.width, gh = (int)s->bitmap.rows;
    if (f->pen_x + w + 1 > ATLAS) {
        f->pen_x = 4;
        f->pen_y += f->row_h + 1;
        f->row_h = 0;
    }
    if (f->pen_y + gh + 1 > ATLAS || w + 5 > ATLAS) {
        atlas_reset(f); /* full: glyphs of the next strings come back */
        if (w + 5 > ATLAS || gh + 1 > ATLAS)
            return NULL;
    }
    unsigned slot = (cp * 2654435761u) % SLOTS;
    while (f->cache[slot].cp != 0)
        slot = (slot + 1) % SLOTS;
    struct glyph *g = &f->cache[slot];
    g->cp = cp;
    g->x = f->pen_x;
    g->y = f->pen_y;
    g->w = w;
    g->h = gh;
    g->left = s->bitmap_left;
    g->top = s->bitmap_top;
    g->advance = (int)(s->advance.x >> 6);
    if (w > 0 && gh > 0) {
        glBindTexture(GL_TEXTURE_2D, f->atlas);
        glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
        glPixelStorei(GL_UNPACK_ROW_LENGTH, s->bitmap.pitch);
        glTexSubImage2D(GL_TEXTURE_2D, 0, g->x, g->y, w, gh, GL_RED,
                        GL_UNSIGNED_BYTE, s->bitmap.buffer);
        glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
    }
    f->pen_x += w + 1;
    if (gh > f->row_h)
        f->row_h = gh;
    return g;
}

int rnd_text_width(rnd_font *f, const char *s)
{
    int w = 0;
    uint32_t cp;
    while (*s) {
        s = utf8_next(s, &cp);
        const struct glyph *g = glyph(f, cp);
        if (g)
            w += g->advance;
    }
    return w;
}

static void quad(float *v, float x0, float y0, float x1, float y1, float u0,
                 float v0, float u1, float v1)
{
    float q[24] = {x0, y0, u0, v0, x1, y0, u1, v0, x0, y1, u0, v1,
                   x1, y0, u1, v0, x1, y1, u1, v1, x0, y1, u0, v1};
    memcpy(v, q, sizeof q);
}

static void draw_quads(rnd_font *f, const float *v, int n_quads, int fb_w,
                       int fb_h, const float rgba[4])
{
    glViewport(0, 0, fb_w, fb_h);
    glEnable(GL_BLEND);
    glBlendFunc(GL_SRC_ALPHA, GL_ONE_MINUS_SRC_ALPHA);
    glUseProgram(f->prog);
    glUniform2f(f->u_fb, (float)fb_w, (float)fb_h);
    glUniform4fv(f->u_colour, 1, rgba);
    glActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, f->atlas);
    glUniform1i(f->u_atlas, 0);
    glBindVertexArray(f->vao);
    glBindBuffer(GL_ARRAY_BUFFER, f->vbo);
    glBufferData(GL_ARRAY_BUFFER, (GLsizeiptr)(n_quads * 24 * sizeof(float)),
                 v, GL_STREAM_DRAW);
    glDrawArrays(GL_TRIANGLES, 0, n_quads * 6);
    glBindVertexArray(0);
    glDisable(GL_BLEND);
}

void rnd_text(rnd_ctx *c, rnd_font *f, const char *s, int x, int y,
              int fb_w, int fb_h, const float rgba[4])
{
    (void)c;
    size_t len = strlen(s);
    if (!len)
        return;
    /* glyphs first (a reset of the atlas must not happen mid-string) */
    const struct glyph **gs = malloc(len * sizeof *gs);
    float *v = malloc(len * 24 * sizeof(float));
    if (!gs || !v) {
        free(gs);
        free(v);
        return;
    }
    int n = 0;
    uint32_t cp;
    const char *p = s;
    while (*p) {
        p = utf8_next(p, &cp);
        gs[n++] = glyph(f, cp);
    }
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: the outline, 1-pixel offsets in four directions */
        static const int off[5][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1},
                                      {0, 0}};
        int k0 = pass == 0 ? 0 : 4, k1 = pass == 0 ? 4 : 5;
        for (int k = k0; k < k1; k++) {
            int q = 0;
            float pen = (float)x + off[k][0];
            float base = (float)(y + f->ascent + off[k][1]);
            for (int i = 0; i < n; i++) {
                const struct glyph *g = gs[i];
                if (!g)
                    continue;
                if (g->w && g->h) {
                    float x0 = pen + g->left, y0 = base - g->top;
                    quad(v + 24 * q++, x0, y0, x0 + g->w, y0 + g->h,
                         (float)g->x / ATLAS, (float)g->y / ATLAS,
                         (float)(g->x + g->w) / ATLAS,
                         (float)(g->y + g->h) / ATLAS);
                }
                pen += (float)g->advance;
            }
            static const float dark[4] = {0, 0, 0, 0.85f};
            if (q)
                draw_quads(f, v, q, fb_w, fb_h, pass == 0 ? dark : rgba);
        }
    }
    free(gs);
    free(v);
}

void rnd_rect(rnd_ctx *c, rnd_font *f, int x, int y, int w, int h, int fb_w,
              int fb_h, const float rgba[4])
{
    (void)c;
    float v[24];
    float t = 0.5f / ATLAS; /* the covered texel */
    quad(v, (float)x, (float)y, (float)(x + w), (float)(y + h), t, t, t, t);
    draw_quads(f, v, 1, fb_w, fb_h, rgba);
}

void rnd_line(rnd_ctx *c, rnd_font *f, double x0, double y0, double x1,
              double y1, double thickness, int fb_w, int fb_h,
              const float rgba[4])
{
    (void)c;
    double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
    if (len <= 0)
        return;
    double nx = -dy / len * thickness / 2, ny = dx / len * thickness / 2;
    float t = 0.5f / ATLAS; /* the covered texel */
    float a[2] = {(float)(x0 + nx), (float)(y0 + ny)};
    float b[2] = {(float)(x1 + nx), (float)(y1 + ny)};
    float cc[2] = {(float)(x0 - nx), (float)(y0 - ny)};
    float d[2] = {(float)(x1 - nx), (float)(y1 - ny)};
    float v[24] = {a[0], a[1], t, t, b[0], b[1], t, t, cc[0], cc[1], t, t,
                   b[0], b[1], t, t, d[0], d[1], t, t, cc[0], cc[1], t, t};
    draw_quads(f, v, 1, fb_w, fb_h, rgba);
}
