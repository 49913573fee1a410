/* stack.h - a series as slices: the frames of the files given (folders
 * searched), grouped by series, sorted along the slice normal (Image
 * Position/Orientation), else by Instance Number, else by name. Pixels are
 * decoded on background threads, nearest to the slice on screen first,
 * into one buffer per slice (memory close to the decoded size); the first
 * slice is ready as soon as its own file is decoded. */
#ifndef VW_STACK_H
#define VW_STACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "measure.h"
#include "pack.h"
#include "rnd/rnd.h"

struct vw_slice {
    char path[1024];
    char sop_uid[65];     /* annotations and presentation states key on it */
    char for_uid[65];     /* Frame of Reference UID: positions of two slices
                             compare only within one */
    uint32_t frame;
    double key;           /* sort position */
    int has_geom;         /* position, orientation and spacing known */
    int has_dir;          /* dir known: from Image Orientation, or from
                             Patient Orientation's letters (projection
                             images: no geometry then) */
    double pos[3], dir[6], spacing[2]; /* IPP, IOP, Pixel Spacing (row,
                                          column) */
    int instance;
    double slope, intercept;
    double center, width; /* the file's first window; width 0: none */
    double min, max;      /* modality range by the rescale (when decoded);
                             with a Modality LUT see vw_vp_range */
    double smin, smax;    /* stored value range (when decoded) */
    double location, thickness; /* mm; NAN if unknown */
    int has_pad;          /* Pixel Padding Value: stored value pad marks */
    int64_t pad;          /* pixels outside the image (a CT's field of
                             view), left out of measurements */
    struct vw_cal cal;    /* its own calibration (measurements, scale bar) */
    double aspect;        /* a pixel's height / width */
    uint32_t w, h;        /* columns, rows (when decoded): a DR series may
                             hold a portrait and a landscape view */
    void *pixels;         /* decoded samples, or their packed form (read
                             them with vw_stack_pixels) */
    size_t packed;        /* bytes of the packed form; 0: as decoded */
    uint8_t *overlay;     /* overlay planes (60xx), columns x rows; NULL */
    atomic_int state;     /* 0 waiting, 1 decoding, 2 ready, -1 failed */
    char err[300];
};

struct vw_stack {
    int n;
    struct vw_slice *s;
    struct rnd_frame fmt;    /* layout shared by all slices (the first
                                readable one's): samples, bits, sign,
                                photometric; width and height are each
                                slice's own (w, h) */
    size_t frame_bytes;      /* of that slice */
    char series_uid[65];
    int n_series;            /* series found in the input */
    atomic_int cursor;       /* the slice on screen: decode near it first */
    atomic_int loaded;
    atomic_int stop;
    int pack;                /* decoders pack what they decode, but
                                the slice the series opens at (first) */
    int first;
    vw_packer *unpacker;     /* the main thread's */
    pthread_mutex_t mu;
    pthread_cond_t ready;    /* a slice finished */
    int n_threads;
    pthread_t th[16];
};

/* The normal of the plane with direction cosines d (Image Orientation:
 * row, then column), row x column, not normalised (unit for proper
 * cosines). */
void vw_plane_normal(const double d[6], double n[3]);

/* The image headers of paths (files, folders searched), read once for all
 * the series they hold. NULL and err if there is no image (err names the
 * first file that claims to be DICOM and cannot be read, if any). */
typedef struct vw_scan vw_scan;
vw_scan *vw_scan_paths(char **paths, int n_paths, char *err, size_t errlen);
int vw_scan_series(const vw_scan *sc); /* series found */
/* Series Instance UID of series number `series` (in the order the series
 * first appear), or NULL. Borrowed from sc. */
const char *vw_scan_series_uid(const vw_scan *sc, int series);
/* How many Part-10 files could not be read (they are not shown); the
 * first one's path and why. */
int vw_scan_unreadable(const vw_scan *sc, const char **path,
                       const char **why);
void vw_scan_free(vw_scan *sc);

/* Collects the slices of series number `series` (in the order the series
 * first appear in the scan) and starts n_threads decoders (0: one per
 * core) at slice `first` (clamped), which pack the slices they decode if
 * `pack`. 0, or -1 with err. */
int vw_stack_open(struct vw_stack *st, const vw_scan *sc, int series,
                  int first, int n_threads, int pack, char *err,
                  size_t errlen);

/* The slice showing frame `frame` (from 0) of image sop_uid; -1 if the
 * stack has none. */
int vw_stack_find(const struct vw_stack *st, const char *sop_uid,
                  unsigned frame);

/* Bytes of slice s's decoded samples. */
size_t vw_slice_bytes(const struct vw_stack *st, const struct vw_slice *s);

/* The decoded samples of slice s: its own buffer, or unpacked into buf
 * (vw_slice_bytes long) if it is kept packed. NULL if it is not decoded
 * (state 2) or cannot be unpacked. Main thread only. */
const void *vw_stack_pixels(const struct vw_stack *st,
                            const struct vw_slice *s, void *buf);

/* Bytes the decoded slices take (packed or not) and would take as
 * decoded. */
void vw_stack_memory(const struct vw_stack *st, size_t *out_kept,
                     size_t *out_decoded);

/* Waits for slice i (moving the decode cursor there). 0, or -1 if it
 * failed (st->s[i].err says why). */
int vw_stack_wait(struct vw_stack *st, int i);

/* Waits until every slice is decoded or failed. */
void vw_stack_wait_all(struct vw_stack *st);

/* Stops the decoders and frees everything. */
void vw_stack_close(struct vw_stack *st);

#endif
