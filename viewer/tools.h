/* tools.h - the reading tools' interaction: which tool is chosen, the
 * annotation being drawn, the selected one and its move or the drag of
 * one of its points (editing a measurement), text typing and retyping,
 * undo/redo; input arrives in image coordinates (the caller maps the
 * mouse through rnd_screen_to_image), so no SDL here. Drawing is
 * vw_tools_draw (render only). One thread (the UI's). */
#ifndef VW_TOOLS_H
#define VW_TOOLS_H

#include "annot.h"
#include "measure.h"
#include "rnd/rnd.h"

struct vw_tools {
    vw_annots *annots;
    int tool;            /* enum vw_tool, or -1: navigate (W/L drag) */
    int n;               /* points placed of the annotation being drawn */
    struct vw_annot draft;
    int dragging;        /* a 2-point tool's drag, or a move */
    unsigned selected;   /* 0: none */
    int handle;          /* point of the selected mark being dragged, -1:
                            the whole mark moves */
    float grab_x, grab_y;/* where a move started */
    struct vw_annot before_move;
    int typing;          /* the text tool waits for its words */
    unsigned editing;    /* the text annotation being retyped, 0: none */
};

int vw_tools_init(struct vw_tools *t);
void vw_tools_free(struct vw_tools *t);

/* Chooses a tool (-1: navigate); drops an unfinished annotation. */
void vw_tools_choose(struct vw_tools *t, int tool);
/* Esc: drops the draft, or leaves the tool, or the selection. 1 if
 * something was cancelled (else the caller may quit). */
int vw_tools_cancel(struct vw_tools *t);

/* Left button pressed/moved/released at image point (x, y) on image
 * (sop_uid, frame); tol: image pixels that count as "on" a mark. Each
 * returns 1 when the tools used the event (else the caller does W/L). */
int vw_tools_press(struct vw_tools *t, const char *sop_uid, unsigned frame,
                   float x, float y, float tol);
int vw_tools_motion(struct vw_tools *t, float x, float y);
int vw_tools_release(struct vw_tools *t, float x, float y);

/* Starts retyping the selected text annotation (its words become the
 * draft). 1 if one is selected. */
int vw_tools_edit_text(struct vw_tools *t);

/* Text typed (UTF-8) while the text tool waits or a text is retyped;
 * Enter (done = 1) finishes (undoable; retyped to nothing removes it),
 * Backspace (back = 1) removes a character. 1 if used. */
int vw_tools_text(struct vw_tools *t, const char *utf8, int done, int back);

/* Delete: removes the selected annotation. 1 if one was. */
int vw_tools_delete(struct vw_tools *t);
int vw_tools_undo(struct vw_tools *t);
int vw_tools_redo(struct vw_tools *t);

/* Draws the annotations of (sop_uid, frame), the draft and their labels
 * in a viewport at (x, y, w, h) of a fb_w x fb_h framebuffer. */
void vw_tools_draw(const struct vw_tools *t, rnd_ctx *rc, rnd_font *font,
                   const rnd_image *tex, const struct rnd_view *view,
                   const char *sop_uid, unsigned frame,
                   const struct vw_cal *cal, const struct vw_px *px,
                   const char *unit, int x, int y, int w, int h, int fb_w,
                   int fb_h);

#endif
