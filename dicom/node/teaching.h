/* teaching.h - the teaching export's state in the index: the studies a
 * key object "For Teaching File Export" queued, and the de-identification
 * map (a pseudonym and a date shift per patient, a new UID per original
 * UID). The map undoes the de-identification, so it stays at this node,
 * in its index (the index already holds the identities). SQL through
 * index_int.h; one thread per handle. */
#ifndef ND_TEACHING_H
#define ND_TEACHING_H

#include <stdint.h>

#include "index.h"

struct nd_teach_patient {
    char pseudonym[17]; /* "TF000042": patient ID and name in the export */
    int date_shift;     /* days added to every date: 10 to 20 years back */
};

/* The pseudonym and date shift of the patient with this ID and issuer who
 * is person (name, birth date and sex, as nd_teach_person writes them:
 * one ID can be two people), made on first use (the same for every later
 * export). 0 or ND_EINDEX. */
int nd_teach_patient(nd_index *ix, const char *patient_id,
                     const char *issuer, const char *person,
                     struct nd_teach_patient *out);

/* person for nd_teach_patient: "name|birth date|sex". */
void nd_teach_person(const char *name, const char *birth, const char *sex,
                     char *out, size_t len);

/* The new UID (2.25.<random 128-bit number>, PS3.5 B.2) of an original,
 * made on first use. 0 or ND_EINDEX. */
int nd_teach_uid(nd_index *ix, const char *original, char out[65]);

/* One queued study. */
struct nd_teach_row {
    const char *study_uid, *marked_by, *export_dir;
    int64_t marked, exported; /* unix s; exported 0: not yet, < 0: at
                                 -exported every image was refused */
};

enum nd_teach_which {
    ND_TEACH_ALL,
    ND_TEACH_PENDING,             /* not exported yet */
    ND_TEACH_PENDING_OR_REFUSED,  /* also those refused for burned-in
                                     annotation (--allow-burned-in) */
};

/* Calls fn for each queued study, oldest first; pending ones only when
 * they received nothing for min_age seconds (a teacher may still add a
 * report). 0, ND_EINDEX, or fn's non-zero value. */
int nd_teach_list(nd_index *ix, enum nd_teach_which which, int min_age,
                  int (*fn)(void *user, const struct nd_teach_row *r),
                  void *user);

/* Records that the study was exported to dir (queued or not); refused: no
 * image could go (burned-in annotation), so it waits for an export with
 * --allow-burned-in instead of being tried again and again. */
int nd_teach_done(nd_index *ix, const char *study_uid, const char *dir,
                  int refused);

#endif
