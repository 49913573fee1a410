/* browser.h - the study browser's data: studies listed by C-FIND at
 * STUDY level from a node (the local consort-node or a remote one),
 * newest first, and a study fetched by C-GET into the viewer's cache. */
#ifndef VW_BROWSER_H
#define VW_BROWSER_H

#include <stdatomic.h>
#include <stddef.h>

struct vw_node {
    char ae[17], host[256];
    int port;
    char our_ae[17];
    double cache_max; /* bytes of fetched studies kept (vw_node_parse: 20 GB) */
    int timeout;      /* s a silent node is waited for, to connect, for
                         each answer and between the instances of a
                         fetch (vw_node_parse: 60) */
};

struct vw_study {
    char name[192], id[68], date[12], time[16], mods[68], desc[192];
    char classes[640]; /* SOP Classes in Study, "" if the node gave none */
    char uid[68];
    int images;
};

/* "AE@host:port" -> node. 0 or -1. */
int vw_node_parse(const char *s, const char *our_ae, struct vw_node *out);

/* Every study of the node, newest first (*out freed with free()). 0 or -1
 * with err. */
int vw_browse_find(const struct vw_node *n, struct vw_study **out,
                   int *count, char *err, size_t errlen);

/* The folder the study is fetched into: DIR/<Study Instance UID>, where
 * DIR is $XDG_CACHE_HOME/consort-view (or ~/.cache/consort-view). A study
 * fetched before is brought up to date instead: what the node has and the
 * folder has not (series sent since, a report, a presentation state) is
 * fetched by SOP Instance UID, unless the folder already holds st->images
 * instances (the node's count in its study list; 0: unknown, ask). When
 * the node cannot be asked, the copy is used as it is; when it cannot
 * send every instance, what arrived is kept; either way out->warn says
 * so. The cache then goes back under n->cache_max, the studies used
 * longest ago first. 0 and *out, or -1 with err.
 *
 * It may run on a thread of its own: out->received counts the instances
 * as they arrive, out->ready the series of a new study fetched whole so
 * far, out->done[] their UIDs (dir can be opened once it is non-zero,
 * while the others come),
 * and out->cancel (set by another thread) stops the fetch (C-CANCEL): a
 * new study is then not kept (-1, "cancelled"), a cached one opens as it
 * is. The caller zeroes *out before. */
struct vw_fetch {
    unsigned got;   /* instances received */
    char note[160]; /* what was fetched, "" if nothing new */
    char warn[300]; /* what the folder holds may not be all the node has */
    atomic_uint received; /* so far, while it runs */
    atomic_int ready;     /* series of a new study fetched so far: the
                             first (up to 64) are named in done */
    char done[64][65];
    atomic_int cancel;
    atomic_int keep;      /* set by the caller once it shows dir: a
                             cancel then keeps what came */
};
int vw_browse_get(const struct vw_node *n, const struct vw_study *st,
                  char *dir, size_t dirlen, struct vw_fetch *out, char *err,
                  size_t errlen);

/* The studies in the viewer's cache, newest first, from the row each kept
 * of the node's list (or its first file's header): what the browser lists
 * when the node cannot be reached. 0 or -1 with err. */
int vw_browse_cache(struct vw_study **out, int *count, char *err,
                    size_t errlen);

/* A reading saved in the study folder dir did not reach the node: the
 * folder is never evicted (marker file VW_CACHE_UNSENT). */
#define VW_CACHE_UNSENT ".unsent"
void vw_cache_mark_unsent(const char *dir);

/* The cache folder of a fetched study; 0 if it exists (fetched before),
 * -1 if not. */
int vw_cache_dir(const char *study_uid, char *dir, size_t len);

/* The studies of a local consort-node archive, read from its index
 * (STORAGE/index.sqlite, read-only; the node may be running), newest
 * first. 0 or -1 with err. */
int vw_browse_archive(const char *storage, struct vw_study **out,
                      int *count, char *err, size_t errlen);

/* The files of a study in that archive (absolute paths; free each and
 * the array). 0 and *n, or -1 with err. */
int vw_archive_files(const char *storage, const char *study_uid,
                     char ***out, int *n, char *err, size_t errlen);

/* The presentation states (GSPS) of a study in that archive, from its
 * index (absolute paths; free each and the array); none is no error. 0
 * and *n, or -1 with err. */
int vw_archive_states(const char *storage, const char *study_uid,
                      char ***out, int *n, char *err, size_t errlen);

/* DICOM media (a CD, an exported teaching file): 1 if path is a
 * DICOMDIR or a folder holding one, with its path in out; else 0. */
int vw_media_dicomdir(const char *path, char *out, size_t len);

/* The studies a DICOMDIR lists (patient, date, description, modalities,
 * instances, SOP classes), newest first. 0 or -1 with err. */
int vw_browse_media(const char *dicomdir, struct vw_study **out,
                    int *count, char *err, size_t errlen);

/* The files of one of its studies, or (study_uid NULL) of all of them in
 * one reading of the DICOMDIR, with each file's Study Instance UID in
 * *out_study (may be NULL). Paths are absolute or relative to the working
 * folder as the DICOMDIR path was; free each string and the arrays. 0 and
 * *n, or -1 with err. */
int vw_media_files(const char *dicomdir, const char *study_uid, char ***out,
                   char ***out_study, int *n, char *err, size_t errlen);

/* 1 if the study matches the filter typed (case-insensitive substring of
 * name, ID, description, modality or date; "" matches all). */
int vw_study_matches(const struct vw_study *s, const char *filter);

/* Where the study's reading stands, from what it holds (Modalities in
 * Study, so any node answers it): "reported" with an SR (the report),
 * "in progress" with a presentation state or key images, else "unread". */
const char *vw_study_status(const struct vw_study *s);

/* mkdir -p. 0 or -1 (errno). */
int vw_mkdirs(const char *path);

/* C-STORE of one file (of SOP class sop_class) to the node. 0, or -1
 * and err (no association, or a failure status). */
int vw_node_store(const struct vw_node *n, const char *path,
                  const char *sop_class, char *err, size_t errlen);

#endif
