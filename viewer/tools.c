/* tools.c - reading tools: drawing, selecting, moving, editing points,
 * typing (tools.h). */
#include "tools.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int vw_tools_init(struct vw_tools *t)
{
    memset(t, 0, sizeof *t);
    t->tool = -1;
    t->handle = -1;
    t->annots = vw_annots_create();
    return t->annots ? 0 : -1;
}

void vw_tools_free(struct vw_tools *t)
{
    vw_annots_destroy(t->annots);
    t->annots = NULL;
}

static void drop_draft(struct vw_tools *t)
{
    t->n = 0;
    t->dragging = 0;
    t->typing = 0;
    t->editing = 0;
    t->handle = -1;
    memset(&t->draft, 0, sizeof t->draft);
}

void vw_tools_choose(struct vw_tools *t, int tool)
{
    drop_draft(t);
    t->tool = tool >= 0 && tool < VW_TOOL_COUNT ? tool : -1;
    if (t->tool >= 0) /* leaving a tool keeps what it drew selected */
        t->selected = 0;
}

int vw_tools_cancel(struct vw_tools *t)
{
    if (t->n || t->typing) {
        drop_draft(t);
        return 1;
    }
    if (t->tool >= 0) {
        t->tool = -1;
        return 1;
    }
    if (t->selected) {
        t->selected = 0;
        return 1;
    }
    return 0;
}

/* the draft is complete: into the list (undoable) */
static void finish(struct vw_tools *t)
{
    t->draft.n = vw_tool_points(t->draft.tool);
    unsigned id = vw_annots_add(t->annots, &t->draft);
    drop_draft(t);
    t->selected = id;
}

int vw_tools_press(struct vw_tools *t, const char *sop_uid, unsigned frame,
                   float x, float y, float tol)
{
    if (t->typing)
        return 1;
    if (t->tool < 0) {
        /* a point of a mark (a caliper's end, an arm of an angle, a corner
         * of a ROI), the nearest: drag it alone; the selected mark's first */
        const struct vw_annot *best = NULL;
        int bk = -1;
        float bd = tol * tol;
        for (size_t i = 0; i < vw_annots_count(t->annots); i++) {
            const struct vw_annot *s = vw_annots_at(t->annots, i);
            if (s->tool == VW_TOOL_TEXT || s->frame != frame ||
                strcmp(s->sop_uid, sop_uid) != 0)
                continue;
            for (int k = 0; k < s->n; k++) {
                float dx = x - s->pt[2 * k], dy = y - s->pt[2 * k + 1];
                float d = dx * dx + dy * dy;
                if (d < bd || (d <= bd && s->id == t->selected))
                    best = s, bk = k, bd = d;
            }
        }
        if (best) {
            t->selected = best->id;
            t->before_move = *best;
            t->draft = *best;
            t->handle = bk;
            t->grab_x = x, t->grab_y = y;
            t->dragging = 1;
            return 1;
        }
        unsigned id = vw_annots_hit(t->annots, sop_uid, frame, x, y, tol);
        t->selected = id;
        if (!id)
            return 0;
        /* start moving it */
        t->before_move = *vw_annots_get(t->annots, id);
        t->draft = t->before_move;
        t->handle = -1;
        t->grab_x = x, t->grab_y = y;
        t->dragging = 1;
        return 1;
    }
    int need = vw_tool_points((enum vw_tool)t->tool);
    if (t->n == 0) {
        memset(&t->draft, 0, sizeof t->draft);
        t->draft.tool = (enum vw_tool)t->tool;
        snprintf(t->draft.sop_uid, sizeof t->draft.sop_uid, "%s", sop_uid);
        t->draft.frame = frame;
        for (int k = 0; k < need; k++)
            t->draft.pt[2 * k] = x, t->draft.pt[2 * k + 1] = y;
        t->n = 1;
        t->draft.n = need;
        if (t->tool == VW_TOOL_TEXT) {
            t->typing = 1; /* the words come by vw_tools_text */
            return 1;
        }
        t->dragging = need == 2; /* press-drag-release, or click-click */
        return 1;
    }
    /* a click fixes the point that followed the mouse */
    t->draft.pt[2 * t->n] = x, t->draft.pt[2 * t->n + 1] = y;
    if (++t->n >= need)
        finish(t);
    else
        t->draft.pt[2 * t->n] = x, t->draft.pt[2 * t->n + 1] = y;
    return 1;
}

int vw_tools_motion(struct vw_tools *t, float x, float y)
{
    if (t->tool < 0 && t->dragging && t->selected) {
        float dx = x - t->grab_x, dy = y - t->grab_y;
        t->draft = t->before_move;
        for (int k = 0; k < t->draft.n; k++)
            if (t->handle < 0 || t->handle == k)
                t->draft.pt[2 * k] += dx, t->draft.pt[2 * k + 1] += dy;
        return 1;
    }
    if (t->tool >= 0 && t->n > 0 && !t->typing) {
        /* the next point follows the mouse */
        t->draft.pt[2 * t->n] = x, t->draft.pt[2 * t->n + 1] = y;
        return 1;
    }
    return 0;
}

int vw_tools_release(struct vw_tools *t, float x, float y)
{
    if (t->tool < 0 && t->dragging && t->selected) {
        vw_tools_motion(t, x, y);
        t->dragging = 0;
        t->handle = -1;
        if (x != t->grab_x || y != t->grab_y)
            vw_annots_update(t->annots, t->selected, &t->draft);
        return 1;
    }
    if (t->tool >= 0 && t->dragging && t->n == 1) {
        t->dragging = 0;
        float dx = x - t->draft.pt[0], dy = y - t->draft.pt[1];
        if (dx * dx + dy * dy < 1) /* a click: the second point by click */
            return 1;
        t->draft.pt[2] = x, t->draft.pt[3] = y;
        t->n = 2;
        finish(t);
        return 1;
    }
    return t->tool >= 0 && t->n > 0;
}

int vw_tools_edit_text(struct vw_tools *t)
{
    const struct vw_annot *s =
        t->selected ? vw_annots_get(t->annots, t->selected) : NULL;
    if (!s || s->tool != VW_TOOL_TEXT || t->typing || t->tool >= 0)
        return 0;
    t->draft = *s;
    t->editing = t->selected;
    t->typing = 1;
    return 1;
}

int vw_tools_text(struct vw_tools *t, const char *utf8, int done, int back)
{
    if (!t->typing)
        return 0;
    size_t l = strlen(t->draft.text);
    if (back) {
        while (l > 0 && ((unsigned char)t->draft.text[l - 1] & 0xC0) == 0x80)
            l--; /* continuation bytes of the last character */
        if (l > 0)
            l--;
        t->draft.text[l] = '\0';
    } else if (utf8 && l + strlen(utf8) < sizeof t->draft.text) {
        memcpy(t->draft.text + l, utf8, strlen(utf8) + 1);
    }
    if (done && t->editing) { /* retyped: one undoable change */
        unsigned id = t->editing;
        int kept = t->draft.text[0] != '\0';
        if (kept)
            vw_annots_update(t->annots, id, &t->draft);
        else
            vw_annots_remove(t->annots, id);
        drop_draft(t);
        t->selected = kept ? id : 0;
    } else if (done) {
        if (t->draft.text[0])
            finish(t);
        else
            drop_draft(t);
    }
    return 1;
}

int vw_tools_delete(struct vw_tools *t)
{
    if (!t->selected || vw_annots_remove(t->annots, t->selected) < 0)
        return 0;
    t->selected = 0;
    return 1;
}

int vw_tools_undo(struct vw_tools *t)
{
    drop_draft(t);
    t->selected = 0;
    return vw_annots_undo(t->annots);
}

int vw_tools_redo(struct vw_tools *t)
{
    drop_draft(t);
    t->selected = 0;
    return vw_annots_redo(t->annots);
}

/* ---- drawing ---- */

struct pen {
    rnd_ctx *rc;
    rnd_font *font;
    const rnd_image *tex;
    const struct rnd_view *view;
    int x, y, w, h, fb_w, fb_h;
    const float *rgba;
};

static void to_screen(const struct pen *p, float ix, float iy, double *sx,
                      double *sy)
{
    rnd_image_to_screen(p->tex, p->view, p->w, p->h, ix, iy, sx, sy);
    *sx += p->x, *sy += p->y;
}

static void seg(const struct pen *p, float x0, float y0, float x1, float y1)
{
    double a, b, c, d;
    to_screen(p, x0, y0, &a, &b);
    to_screen(p, x1, y1, &c, &d);
    rnd_line(p->rc, p->font, a, b, c, d, 1.5, p->fb_w, p->fb_h, p->rgba);
}

static void shape(const struct pen *p, const struct vw_annot *a, int n)
{
    const float *q = a->pt;
    switch (a->tool) {
    case VW_TOOL_LENGTH:
        seg(p, q[0], q[1], q[2], q[3]);
        break;
    case VW_TOOL_ARROW: {
        seg(p, q[0], q[1], q[2], q[3]);
        /* the head, in screen space so it keeps its size when zooming */
        double tx, ty, hx, hy;
        to_screen(p, q[0], q[1], &tx, &ty);
        to_screen(p, q[2], q[3], &hx, &hy);
        double dx = tx - hx, dy = ty - hy, d = hypot(dx, dy);
        if (d > 0) {
            dx *= 12 / d, dy *= 12 / d;
            double c = 0.866, s = 0.5;
            rnd_line(p->rc, p->font, hx, hy, hx + c * dx - s * dy,
                     hy + s * dx + c * dy, 1.5, p->fb_w, p->fb_h, p->rgba);
            rnd_line(p->rc, p->font, hx, hy, hx + c * dx + s * dy,
                     hy - s * dx + c * dy, 1.5, p->fb_w, p->fb_h, p->rgba);
        }
        break;
    }
    case VW_TOOL_ANGLE:
        if (n >= 2)
            seg(p, q[0], q[1], q[2], q[3]);
        if (n >= 3)
            seg(p, q[2], q[3], q[4], q[5]);
        break;
    case VW_TOOL_COBB:
        if (n >= 2)
            seg(p, q[0], q[1], q[2], q[3]);
        if (n >= 4)
            seg(p, q[4], q[5], q[6], q[7]);
        break;
    case VW_TOOL_RECT:
        seg(p, q[0], q[1], q[2], q[1]);
        seg(p, q[2], q[1], q[2], q[3]);
        seg(p, q[2], q[3], q[0], q[3]);
        seg(p, q[0], q[3], q[0], q[1]);
        break;
    case VW_TOOL_ELLIPSE: {
        float cx = (q[0] + q[2]) / 2, cy = (q[1] + q[3]) / 2;
        float ra = fabsf(q[2] - q[0]) / 2, rb = fabsf(q[3] - q[1]) / 2;
        for (int k = 0; k < 48; k++) {
            double a0 = 2 * VW_PI * k / 48, a1 = 2 * VW_PI * (k + 1) / 48;
            seg(p, cx + ra * (float)cos(a0), cy + rb * (float)sin(a0),
                cx + ra * (float)cos(a1), cy + rb * (float)sin(a1));
        }
        break;
    }
    default:
        break;
    }
}

static void label(const struct pen *p, const struct vw_annot *a,
                  const struct vw_cal *cal, const struct vw_px *px,
                  const char *unit)
{
    char s[512];
    vw_annot_label(a, cal, px, unit, s, sizeof s);
    if (!s[0] || !p->font)
        return;
    int last = (a->n - 1) * 2;
    double sx, sy;
    to_screen(p, a->pt[last], a->pt[last + 1], &sx, &sy);
    int off = a->tool == VW_TOOL_TEXT ? 0 : 8;
    int tx = (int)sx + off, ty = (int)sy + off;
    /* kept inside the viewport: to the other side of the point if the
     * text would leave it */
    int tw = rnd_text_width(p->font, s), lh = rnd_font_line_height(p->font);
    if (tx + tw > p->x + p->w)
        tx = (int)sx - off - tw;
    if (ty + lh > p->y + p->h)
        ty = (int)sy - off - lh;
    tx = tx < p->x ? p->x : tx;
    ty = ty < p->y ? p->y : ty;
    rnd_text(p->rc, p->font, s, tx, ty, p->fb_w, p->fb_h, p->rgba);
}

void vw_tools_draw(const struct vw_tools *t, rnd_ctx *rc, rnd_font *font,
                   const rnd_image *tex, const struct rnd_view *view,
                   const char *sop_uid, unsigned frame,
                   const struct vw_cal *cal, const struct vw_px *px,
                   const char *unit, int x, int y, int w, int h, int fb_w,
                   int fb_h)
{
    static const float normal[4] = {0.35f, 1, 0.45f, 1};
    static const float chosen[4] = {1, 0.85f, 0.2f, 1};
    static const float draft[4] = {1, 0.55f, 0.2f, 1};
    struct pen p = {rc, font, tex, view, x, y, w, h, fb_w, fb_h, normal};
    int moving = t->tool < 0 && t->dragging && t->selected;
    for (size_t i = 0; i < vw_annots_count(t->annots); i++) {
        const struct vw_annot *a = vw_annots_at(t->annots, i);
        if (a->frame != frame || strcmp(a->sop_uid, sop_uid) != 0 ||
            (moving && a->id == t->selected) || a->id == t->editing)
            continue;
        p.rgba = a->id == t->selected ? chosen : normal;
        shape(&p, a, a->n);
        label(&p, a, cal, px, unit);
    }
    int drafting = (t->tool >= 0 && t->n > 0) || moving || t->editing;
    if (drafting && t->draft.frame == frame &&
        strcmp(t->draft.sop_uid, sop_uid) == 0) {
        p.rgba = moving ? chosen : draft;
        /* a multi-click tool shows its fixed points plus the one that
         * follows the mouse */
        int n = moving || t->editing ? t->draft.n : t->n + 1;
        shape(&p, &t->draft, n);
        if (t->draft.tool != VW_TOOL_ANGLE && t->draft.tool != VW_TOOL_COBB)
            label(&p, &t->draft, cal, px, unit);
        if (t->typing && font) {
            char s[VW_ANNOT_TEXT + 4];
            snprintf(s, sizeof s, "%s_", t->draft.text);
            double sx, sy;
            to_screen(&p, t->draft.pt[0], t->draft.pt[1], &sx, &sy);
            rnd_text(rc, font, s, (int)sx, (int)sy, fb_w, fb_h, draft);
        }
    }
}
