/* record.h - reads what the index keeps of an instance from its file (text
 * as UTF-8 through dcx_). Used when storing and when re-indexing. */
#ifndef ND_RECORD_H
#define ND_RECORD_H

#include <stddef.h>

#include "index.h"

struct nd_record {
    struct nd_instance_rec r; /* its strings point into the buffers below */
    char patient_id[130], issuer[130], patient_name[400], birth_date[20], sex[20];
    char study_uid[68], study_date[20], study_time[32], accession[68],
        study_id[40], study_desc[400], referring[400];
    char series_uid[68], modality[20], series_desc[400], body_part[68];
    char sop_uid[68], sop_class[68], ts[68], charset[68];
};

/* Parses path (fd: its open descriptor, or -1) up to its pixel data. 0,
 * or ND_EBADDATA with a reason.
 * Tries nd_record_fast first. Environment: CONSORT_RECORD_CHECK=1 reads
 * every file both ways and logs an error where they differ (tests);
 * CONSORT_RECORD_FAST=0 always uses the full parse. */
int nd_record_read(const char *path, int fd, struct nd_record *out,
                   char *why, size_t whylen);

/* Why an instance read by nd_record_read cannot be kept, or NULL:
 * a SOP Instance, Study or Series UID that is not a UID (*invalid_uid
 * set; PS3.7 status 0x0117), no Study or Series UID, an image storage
 * class without Rows/Columns. What C-STORE and import both refuse. */
const char *nd_record_problem(const struct nd_record *rec, int *invalid_uid);

/* Keeps only the digits of s, in place: dates are indexed as digits
 * ("1997.04.24", a pre-1993 form, reads as "19970424") so that range
 * matching can use the index. Returns s. */
char *nd_digits_only(char *s);

/* The plain case without DCMTK (record_fast.c): 0 with *out filled, or 1
 * if the file needs the full parse. fd: an open, readable descriptor of
 * path to read through (not closed), or -1. */
int nd_record_fast(const char *path, int fd, struct nd_record *out);

#endif
