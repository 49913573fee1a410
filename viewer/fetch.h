/* fetch.h - a study fetched from the node (vw_browse_get) on a thread of
 * its own, so that the window stays responsive over a slow county link:
 * the instances received so far to show, a cancel at any time. A
 * cancelled job is abandoned, not waited for: a node gone silent may hold
 * its thread for long; the thread then frees the job itself. */
#ifndef VW_FETCH_H
#define VW_FETCH_H

#include <stddef.h>

#include "browser.h"

typedef struct vw_job vw_job;

/* Starts fetching st from n (both copied). SDL_USEREVENT is pushed when
 * it is done, to wake the event loop. NULL if no thread could start. */
vw_job *vw_job_start(const struct vw_node *n, const struct vw_study *st);

/* 1 once finished, else 0; *received: instances so far. */
int vw_job_poll(vw_job *j, unsigned *received);

/* Series of a new study fetched whole so far, and the study's folder
 * (dirlen bytes): it can be opened while the others come. Once it is
 * shown, vw_job_keep: a cancel then keeps what came. */
int vw_job_ready(vw_job *j, char *dir, size_t dirlen);
/* The UID of the i-th series fetched whole (i < vw_job_ready, < 64); ""
 * when the node could not list the series. */
const char *vw_job_series(vw_job *j, int i);
void vw_job_keep(vw_job *j);

/* Waits until it is finished (scripted runs). */
void vw_job_wait(vw_job *j);

/* The result of a finished job, as vw_browse_get gives it (0 or -1 with
 * err; dir, *out); frees the job. */
int vw_job_finish(vw_job *j, char *dir, size_t dirlen, struct vw_fetch *out,
                  char *err, size_t errlen);

/* Asks the node to stop (C-CANCEL) and lets go of the job: nothing of it
 * is kept. */
void vw_job_cancel(vw_job *j);

/* Fetch threads still running (cancelled ones waiting on a silent node):
 * the process must then end without running the DICOM library's static
 * destructors under them (_Exit). */
int vw_jobs_live(void);

#endif
