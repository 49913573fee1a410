/* fetch.c - the study fetch on a thread of its own (see fetch.h). */
#include "fetch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL2/SDL.h>

enum { RUNNING, DONE, ABANDONED };

static atomic_int live; /* threads started and not yet at their end */

struct vw_job {
    struct vw_node node;
    struct vw_study st;
    struct vw_fetch f;
    char dir[1200], err[512];
    int rc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state; /* under mu */
};

static void job_free(vw_job *j)
{
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static void *run(void *arg)
{
    vw_job *j = arg;
    j->rc = vw_browse_get(&j->node, &j->st, j->dir, sizeof j->dir, &j->f,
                          j->err, sizeof j->err);
    pthread_mutex_lock(&j->mu);
    int was = j->state;
    j->state = DONE;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (was == ABANDONED) {
        job_free(j);
    } else {
        SDL_Event e;
        memset(&e, 0, sizeof e);
        e.type = SDL_USEREVENT;
        SDL_PushEvent(&e);
    }
    atomic_fetch_sub(&live, 1);
    return NULL;
}

int vw_jobs_live(void)
{
    return atomic_load(&live);
}

vw_job *vw_job_start(const struct vw_node *n, const struct vw_study *st)
{
    vw_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->node = *n;
    j->st = *st;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    pthread_attr_t at;
    pthread_t th;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&live, 1);
    int rc = pthread_create(&th, &at, run, j);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        atomic_fetch_sub(&live, 1);
        job_free(j);
        return NULL;
    }
    return j;
}

int vw_job_poll(vw_job *j, unsigned *received)
{
    *received = atomic_load(&j->f.received);
    pthread_mutex_lock(&j->mu);
    int done = j->state == DONE;
    pthread_mutex_unlock(&j->mu);
    return done;
}

int vw_job_ready(vw_job *j, char *dir, size_t dirlen)
{
    int n = atomic_load(&j->f.ready);
    if (n > 0) /* written before the first series was counted */
        snprintf(dir, dirlen, "%s", j->dir);
    return n;
}

const char *vw_job_series(vw_job *j, int i)
{
    return i >= 0 && i < 64 && i < atomic_load(&j->f.ready) ? j->f.done[i]
                                                            : "";
}

void vw_job_keep(vw_job *j)
{
    atomic_store(&j->f.keep, 1);
}

void vw_job_wait(vw_job *j)
{
    pthread_mutex_lock(&j->mu);
    while (j->state != DONE)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
}

int vw_job_finish(vw_job *j, char *dir, size_t dirlen, struct vw_fetch *out,
                  char *err, size_t errlen)
{
    vw_job_wait(j);
    snprintf(dir, dirlen, "%s", j->dir);
    snprintf(err, errlen, "%s", j->err);
    out->got = j->f.got;
    snprintf(out->note, sizeof out->note, "%s", j->f.note);
    snprintf(out->warn, sizeof out->warn, "%s", j->f.warn);
    int rc = j->rc;
    job_free(j);
    return rc;
}

void vw_job_cancel(vw_job *j)
{
    atomic_store(&j->f.cancel, 1);
    pthread_mutex_lock(&j->mu);
    int done = j->state == DONE;
    if (!done)
        j->state = ABANDONED;
    pthread_mutex_unlock(&j->mu);
    if (done)
        job_free(j);
}
