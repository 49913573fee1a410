/* thumbs.h - study thumbnails for the browser: a background thread
 * decodes one image per study (the middle file of the study's local
 * files: the archive's, or the viewer's cache of a fetched study) and
 * reduces it to at most THUMB x THUMB RGB pixels, windowed as the file
 * says; the browser uploads them as they come. */
#ifndef VW_THUMBS_H
#define VW_THUMBS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "browser.h"

#define THUMB 64

struct vw_thumb {
    atomic_int state; /* 0 waiting, 1 working, 2 ready, -1 none */
    int w, h;
    uint8_t rgb[THUMB * THUMB * 3];
};

struct vw_thumbs {
    int n;
    struct vw_thumb *t;
    char **source;    /* per study: a file to show, or NULL */
    pthread_t th;
    int started;
    atomic_int stop;
};

/* Starts making thumbnails for n studies; archive (may be NULL) is a
 * local archive folder, cache_of() gives the fetched-study folder. */
int vw_thumbs_start(struct vw_thumbs *t, const struct vw_study *s, int n,
                    const char *archive);
void vw_thumbs_stop(struct vw_thumbs *t);

#endif
