/* thumbs.h - study thumbnails for the browser: a background thread finds
 * each study's local files (the archive's index, a DICOMDIR's records,
 * or the viewer's cache of a fetched study), decodes the middle image and
 * reduces it to at most THUMB x THUMB RGB pixels, windowed as the file
 * says; the browser uploads them as they come. Nothing of it runs on the
 * browser's thread. */
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
    char **uid;       /* per study: its Study Instance UID */
    char *archive;    /* a local archive folder, or NULL */
    char *media;      /* a DICOMDIR, or NULL */
    char **mfile, **mstudy; /* its files and their studies, read once by
                               the thread */
    int mn;
    pthread_t th;
    int started;
    atomic_int stop;
};

/* Starts making thumbnails for n studies, from archive (a local archive
 * folder) or media (a DICOMDIR) when given, else from the viewer's cache
 * of fetched studies. 0 or -1 (out of memory). */
int vw_thumbs_start(struct vw_thumbs *t, const struct vw_study *s, int n,
                    const char *archive, const char *media);
void vw_thumbs_stop(struct vw_thumbs *t);

#endif
