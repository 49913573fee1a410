/* index.h - the SQLite index (WAL) of patients, studies, series and
 * instances: all of the index's SQL lives in index.c (with queue.c and
 * teaching.c for the node's own tables); consort-view reads an archive
 * through this interface too (library consort-index). The files are the
 * truth and the index is derived from them (DESIGN.md rule 2), so commits
 * use synchronous=NORMAL. A handle is one connection, used by one thread
 * at a time; each association opens its own. */
#ifndef ND_INDEX_H
#define ND_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct nd_index nd_index;

#define ND_INDEX_SCHEMA 1

/* What the index keeps of one instance; strings are UTF-8, "" if absent;
 * numbers -1 if absent. */
struct nd_instance_rec {
    /* a patient is (Patient ID, Issuer of Patient ID): county sites
     * number their patients independently */
    const char *patient_id, *issuer, *patient_name, *birth_date, *sex;
    const char *study_uid, *study_date, *study_time, *accession, *study_id,
        *study_desc, *referring;
    const char *series_uid, *modality, *series_desc, *body_part;
    int series_number;
    const char *sop_uid, *sop_class, *transfer_syntax;
    int instance_number, rows, columns, frames;
    const char *path;       /* relative to the storage folder */
    int64_t size;           /* bytes of the file */
    const char *calling_ae; /* who sent it ("" when re-indexed) */
    const char *origin;     /* the calling AE when it is a known peer, else
                               "": kept by a new study (back to origin) */
    const char *charset;    /* the charset its text was decoded from */
    int teaching;           /* a key object "For Teaching File Export":
                               queues its study for the teaching export */
};

/* Opens (creating or migrating) the index at path. On failure *out = NULL
 * and err says why. */
int nd_index_open(const char *path, nd_index **out, char *err,
                  size_t errlen);
void nd_index_close(nd_index *ix);

/* A connection for queries to an index already migrated (the running
 * node's): no migration, so no exclusive lock. */
int nd_index_open_reader(const char *path, nd_index **out, char *err,
                         size_t errlen);

/* The same opened read-only, for another program reading a node's
 * archive (the viewer): nothing is written, not even the index's WAL
 * set-up, so it works without write access to the storage folder. */
int nd_index_open_readonly(const char *path, nd_index **out, char *err,
                           size_t errlen);

/* Forwarding: where a new instance goes. The router is called inside the
 * instance's index transaction with the study's origin peer ("" if none)
 * and fills up to max destinations; their queue items commit with it. */
#define ND_MAX_ROUTE_DESTS 16
struct nd_route_dest {
    char ae[17];
    int delay; /* s the study must stay unchanged before it is sent */
};
typedef int (*nd_router_fn)(void *user, const struct nd_instance_rec *r,
                            const char *study_origin,
                            struct nd_route_dest *out, int max);
void nd_index_set_router(nd_index *ix, nd_router_fn fn, void *user);
/* Queue items the last nd_index_add created. */
int nd_index_last_queued(const nd_index *ix);

/* Adds an instance with its patient/study/series in one transaction.
 * Returns 0 if new, 1 if that SOP Instance UID was already indexed (left
 * as it is), ND_EFULL (disk full) or ND_EINDEX. */
int nd_index_add(nd_index *ix, const struct nd_instance_rec *r);

/* Key/value state (clean shutdown, checkpoint time). */
int nd_index_meta_get(nd_index *ix, const char *key, char *out, size_t len);
int nd_index_meta_set(nd_index *ix, const char *key, const char *value);

/* Moves the WAL into the database file and syncs it: everything
 * committed before is then durable. */
int nd_index_checkpoint(nd_index *ix);

/* Copies what it can of the WAL into the database without waiting for
 * writers (call it on a connection of its own, off the write path). */
int nd_index_checkpoint_passive(nd_index *ix);

/* One row of `consort-node ls`: a series with its study and patient. */
struct nd_ls_row {
    const char *patient_id, *patient_name, *study_uid, *study_date,
        *study_desc, *series_uid, *modality, *series_desc;
    int series_number;
    int64_t instances, bytes;
};

/* Calls fn for every series, ordered by patient, study date, series
 * number. Returns 0, ND_EINDEX, or fn's non-zero value. */
int nd_index_ls(nd_index *ix, int (*fn)(void *user, const struct nd_ls_row *),
                void *user);

/* Calls fn for every instance (SOP Instance UID, study UID, relative
 * path, size in bytes), in path order. 0, ND_EINDEX, or fn's non-zero
 * value. */
int nd_index_files(nd_index *ix,
                   int (*fn)(void *user, const char *sop_uid,
                             const char *study_uid, const char *path,
                             int64_t size),
                   void *user);

/* Totals: patients, studies, series, instances, bytes. */
int nd_index_totals(nd_index *ix, int64_t out[5]);

/* Last error text of the connection. */
const char *nd_index_errmsg(nd_index *ix);


/* ---- queries (C-FIND, C-MOVE, C-GET) ---- */

/* What nd_index_delete_study removed. */
struct nd_deleted {
    char patient_id[130];
    int64_t series, instances;
    char **paths; /* relative file paths, n = instances; free with
                     nd_deleted_free */
};

/* Removes a study from the index in one transaction: its instances,
 * series, queue items, and its patient when no other
 * study is left. The files stay: the caller removes them (after the
 * commit, so that a crash never leaves the index pointing at missing
 * files). 0, ND_ENOTFOUND, ND_EINDEX. */
int nd_index_delete_study(nd_index *ix, const char *study_uid,
                          struct nd_deleted *out);
void nd_deleted_free(struct nd_deleted *d);

/* Takes r, another copy of an instance the index holds (a corrected one
 * an operator accepted), as the truth about its instance, series, study
 * and patient: the rows are updated in place (their ids stay: a running
 * node caches them), the study goes to r's patient (a patient left with
 * no study goes), and the instance is queued for the peers the router
 * names, as a new arrival is. place(user) runs inside the transaction
 * just before it commits (the caller puts the copy in place there); when it
 * fails nothing changes and its value is returned. *placed is 1 when
 * place ran but the commit then failed: the caller puts the files back.
 * 0; ND_ENOTFOUND when the index has no such instance; ND_EBADDATA (the
 * reason in nd_index_errmsg) when r names another study or series than
 * the indexed copy; ND_EINDEX or ND_EFULL. replaced_rel: where place
 * keeps the copy replaced (conflicts/replaced-*), named in the intent
 * mark (a recovery removes it if it is still the file in place). */
int nd_index_replace(nd_index *ix, const struct nd_instance_rec *r,
                     const char *replaced_rel, int (*place)(void *user),
                     void *user, int *placed);

/* After a crash or power cut during nd_index_replace (whose rows may be
 * lost while its renaming of the files is not): the rows of each instance
 * marked as being replaced taken again from its file in the archive under
 * storage, whichever copy is there. *out_n: how many. 0, or ND_EINDEX /
 * ND_ENOMEM. */
int nd_index_recover_accepts(nd_index *ix, const char *storage, int *out_n);

enum nd_level { ND_PATIENT = 0, ND_STUDY, ND_SERIES, ND_IMAGE };

/* What the index can match and return. */
enum nd_key {
    NK_PATIENT_ID, NK_PATIENT_NAME, NK_BIRTH_DATE, NK_SEX, NK_ISSUER,
    NK_STUDY_UID, NK_STUDY_DATE, NK_STUDY_TIME, NK_ACCESSION, NK_STUDY_ID,
    NK_STUDY_DESC, NK_REFERRING, NK_MODALITIES_IN_STUDY,
    NK_SERIES_UID, NK_MODALITY, NK_SERIES_NUMBER, NK_SERIES_DESC,
    NK_BODY_PART,
    NK_SOP_UID, NK_SOP_CLASS, NK_INSTANCE_NUMBER, NK_ROWS, NK_COLUMNS,
    NK_FRAMES, NK_TRANSFER_SYNTAX,
    NK_PAT_STUDIES, NK_PAT_SERIES, NK_PAT_INSTANCES,
    NK_STUDY_SERIES, NK_STUDY_INSTANCES, NK_SERIES_INSTANCES,
    NK_SOP_CLASSES_IN_STUDY, /* returned, not matched */
    NK_PATH,
    NK_COUNT
};

/* Matching per PS3.4 C.2.2.2. Values are UTF-8, already split where the
 * query had several (UID lists). */
enum nd_match {
    NM_SINGLE,   /* value equal (PN: see fold_case) */
    NM_WILDCARD, /* value with * and ? */
    NM_RANGE,    /* lo-hi on normalised dates/times; "" = open */
    NM_LIST,     /* any of values[] */
};

struct nd_cond {
    enum nd_key key;
    enum nd_match match;
    const char *value;           /* NM_SINGLE, NM_WILDCARD */
    const char *lo, *hi;         /* NM_RANGE */
    const char *const *values;   /* NM_LIST */
    size_t n_values;
    /* PN: ASCII case-insensitive, per component group (a value without
     * '=' matches any group, one with '=' group by group) */
    int fold_case;
};

/* The level's natural key, first of its own keys: a key at level L is
 * matchable at level L and below. */
enum nd_level nd_key_level(enum nd_key k);

/* Rows of entities at level matching every condition (conditions on keys
 * below the level are ignored). fn gets the values of all keys (NK_COUNT
 * strings, "" when absent; counts, modalities and NK_PATH computed only
 * when want[key] is set); a non-zero return stops the walk and is
 * returned. 0 or ND_EINDEX. */
int nd_index_find(nd_index *ix, enum nd_level level,
                  const struct nd_cond *conds, size_t n_conds,
                  const unsigned char want[NK_COUNT],
                  int (*fn)(void *user, const char *const *vals),
                  void *user);

#endif
