/* present.h - presentation states of the series on screen: the reader's
 * marks, window and orientation saved as a GSPS (dcx/gsps.h), with a
 * measurement report of their values, beside the study and stored to the
 * node; the states found beside the images read
 * back and applied (newest first, P cycles). No GL. */
#ifndef VW_PRESENT_H
#define VW_PRESENT_H

#include <stddef.h>

#include "browser.h"
#include "tools.h"
#include "viewport.h"

/* Writes dir/<SOP Instance UID>.dcm from the marks on vp's series (all of
 * its images referenced), vp's window, rotation and flip, and the
 * displayed area (NULL: the whole image; TLHC x, y, BRHC x, y from 1,
 * unrotated: the part zoomed into); stores it to
 * node when given. When the marks include measurements (length, angle,
 * Cobb, ellipse, rectangle) a TID 1500 measurement report (Comprehensive
 * SR, dcx/sr.h) of their values is written and stored beside it. 0 with
 * a message for the status line (a report that failed is said there), 1
 * saved but not stored to node (the message says why), or -1 and why. */
int vw_present_save(const struct vw_vp *vp, const struct vw_tools *t,
                    const int *area, const char *dir, const char *creator,
                    const struct vw_node *node, char *msg, size_t msglen);

/* Writes dir/<SOP Instance UID>.dcm, a Key Object Selection of the
 * images of vp's series whose SOP Instance UIDs are in keys ("For
 * Teaching File Export" if teaching, else "Of Interest"); stores it to
 * node when given. 0 with a message, 1 saved but not stored, or -1 and
 * why. */
int vw_present_save_keys(const struct vw_vp *vp, char (*keys)[65],
                         int n_keys, int teaching, const char *dir,
                         const struct vw_node *node, char *msg,
                         size_t msglen);

/* Writes dir/<SOP Instance UID>.dcm, the report (Basic Text SR, final,
 * by author) on the study of vp's series with its images as evidence;
 * stores it to node when given. 0 with a message, 1 saved but not
 * stored, or -1 and why. */
int vw_present_save_report(const struct vw_vp *vp, const char *findings,
                           const char *impression, const char *author,
                           const char *dir, const struct vw_node *node,
                           char *msg, size_t msglen);

/* The presentation states in the folders of vp's images (and, on DICOM
 * media, their sibling series folders) and in extra_dir (may be NULL)
 * that reference one of them, newest first; the count, *out malloc'd.
 * With files (an archive's states of the study, from its index: its
 * folders hold every study's files), those instead of the images'
 * folders. Folders and files are read once per cache: pass the same
 * cache for every viewport of a study (or NULL for a one-off look). */
struct vw_present {
    char path[1024];
    char label[68], creator[256], when[32];
};
typedef struct vw_present_cache vw_present_cache;
vw_present_cache *vw_present_cache_new(void);
void vw_present_cache_free(vw_present_cache *c);
int vw_present_find(const struct vw_vp *vp, const char *extra_dir,
                    vw_present_cache *cache, const char *const *files,
                    int n_files, struct vw_present **out);

/* Applies state path to vp: its marks replace the tools' annotations,
 * its window (the one for the slice on screen) and orientation replace
 * the view's; that slice's displayed area (TLHC x, y, BRHC x, y from 1)
 * into area with *has_area 1, for the caller to fit into the viewport.
 * What it says of every slice's image is kept in vp->sv, for when other
 * slices come on screen. 0 or -1 and err. */
int vw_present_apply(struct vw_vp *vp, struct vw_tools *t, const char *path,
                     int area[4], int *has_area, char *err, size_t errlen);

#endif
