/* fgroups.c - attributes of one frame of an enhanced multi-frame object
 * (PS3.3 C.7.6.16): an Enhanced CT/MR keeps Pixel Spacing, Image
 * Position/Orientation, the rescale and the window in functional group
 * macros, per frame or shared by all, not at the top level where a
 * classic image has them. */
#include "dcx/dataset.h"
#include "dcx/tags.h"

#include <stddef.h>

/* the functional group macro (a sequence of one item) each attribute is
 * kept in */
static const struct {
    uint32_t tag, macro;
} where[] = {
    {DCX_TAG_PIXEL_SPACING, DCX_TAG(0x0028, 0x9110)},        /* Pixel Measures */
    {DCX_TAG_SLICE_THICKNESS, DCX_TAG(0x0028, 0x9110)},
    {DCX_TAG_IMAGE_POSITION_PATIENT, DCX_TAG(0x0020, 0x9113)}, /* Plane Pos. */
    {DCX_TAG_IMAGE_ORIENTATION_PATIENT, DCX_TAG(0x0020, 0x9116)},
    {DCX_TAG_RESCALE_INTERCEPT, DCX_TAG(0x0028, 0x9145)}, /* Pixel Value Tr. */
    {DCX_TAG_RESCALE_SLOPE, DCX_TAG(0x0028, 0x9145)},
    {DCX_TAG_RESCALE_TYPE, DCX_TAG(0x0028, 0x9145)},
    {DCX_TAG_WINDOW_CENTER, DCX_TAG(0x0028, 0x9132)},     /* Frame VOI LUT */
    {DCX_TAG_WINDOW_WIDTH, DCX_TAG(0x0028, 0x9132)},
    {DCX_TAG_WINDOW_EXPLANATION, DCX_TAG(0x0028, 0x9132)},
    {DCX_TAG_VOI_LUT_FUNCTION, DCX_TAG(0x0028, 0x9132)},
};

#define PER_FRAME DCX_TAG(0x5200, 0x9230)
#define SHARED DCX_TAG(0x5200, 0x9229)

/* the macro item holding tag in functional group item g, or NULL */
static dcx_item *in_group(const dcx_item *g, uint32_t macro, uint32_t tag)
{
    dcx_item *m;
    if (g && dcx_item_seq_get(g, macro, 0, &m) == 0 && dcx_item_has(m, tag))
        return m;
    return NULL;
}

dcx_item *dcx_frame_item(const dcx_item *root, unsigned frame, uint32_t tag)
{
    if (dcx_item_has(root, tag))
        return (dcx_item *)root;
    uint32_t macro = 0;
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++)
        if (where[i].tag == tag)
            macro = where[i].macro;
    if (!macro)
        return NULL;
    dcx_item *g = NULL, *m;
    /* the frame's own value first, then the one shared by all */
    if (dcx_item_seq_get(root, PER_FRAME, frame, &g) == 0 &&
        (m = in_group(g, macro, tag)))
        return m;
    if (dcx_item_seq_get(root, SHARED, 0, &g) == 0 &&
        (m = in_group(g, macro, tag)))
        return m;
    return NULL;
}
