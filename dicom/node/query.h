/* query.h - a Query/Retrieve identifier as index conditions (PS3.4
 * C.2.2.2) and the C-FIND response built from an index row. */
#ifndef ND_QUERY_H
#define ND_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"

#include "dcx/dataset.h"
#include "dcx/net.h"

struct nd_query {
    enum nd_level level;
    struct nd_cond *conds;
    size_t n_conds;
    uint32_t tags[128];  /* requested keys, in query order */
    size_t n_tags;
    unsigned char want[NK_COUNT];
    /* 1: a key the node neither matches nor returns (one it does not
     * know, a value for a key it only returns, a key below the level):
     * matches are answered 0xFF01 (PS3.4 Table C.4-1) */
    int unsupported;
    char **strings;      /* owned copies the conditions point to */
    size_t n_strings;
};

/* Reads ds (text already UTF-8). patient_root: the Patient Root model
 * (which alone has the PATIENT level). 0; ND_EBADDATA with a reason when
 * a value to match has bytes invalid in the query's character set (the
 * query cannot be processed); -1 with a reason when the identifier does
 * not fit the model (no valid level). */
int nd_query_parse(dcx_ds *ds, int patient_root, struct nd_query *q,
                   char *why, size_t whylen);
void nd_query_free(struct nd_query *q);

/* Makes a parsed C-MOVE/C-GET identifier the set of entities to retrieve
 * (PS3.4 C.4.2.2.1, C.4.3.2.1): the SCP identifies them "based upon the
 * values in the Unique Keys", so only the unique keys at and above the
 * level are kept (Patient ID in the Patient Root model, Study, Series and
 * SOP Instance UID) and other keys are ignored. The level's own unique key
 * must name at least one entity (Patient ID a single value): an
 * identifier without it would retrieve the whole archive. 0, or -1 with a
 * reason (answered 0xA900). */
int nd_query_for_retrieve(struct nd_query *q, int patient_root, char *why,
                          size_t whylen);

/* The response to one match: level, Retrieve AE Title and every requested
 * key (empty when the node does not know it). Returns the count written
 * into out (values borrowed from vals/our_ae). */
int nd_query_response(const struct nd_query *q, const char *const *vals,
                      const char *our_ae, struct dcx_attr *out, size_t cap);

/* "level=STUDY PatientName=WANG* StudyDate=20240101-20240315": the level
 * and the matching keys, for logs and the audit trail (truncated to
 * len). */
void nd_query_describe(const struct nd_query *q, char *out, size_t len);

#endif
