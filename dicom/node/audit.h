/* audit.h - the node's audit trail: one JSON object per line, appended to
 * a file opened O_APPEND (never rewritten by us), modelled on the IHE
 * ATNA / DICOM PS3.15 A.5 audit messages: who (calling AE, address, TLS)
 * did what (store, query, retrieve, forward, export, delete, a refused
 * association, start/stop) to which study, when, and with what outcome.
 * A handle may be shared by threads: each event is one write(2) under a
 * mutex. The file holds patient identifiers by design: it is created
 * 0600. Reading and filtering it is `consort-node audit` (cmd_audit.c). */
#ifndef ND_AUDIT_H
#define ND_AUDIT_H

#include <stddef.h>

typedef struct nd_audit nd_audit;

/* What happened; each maps to a DICOM audit event ID (PS3.15 A.5.3). */
enum nd_audit_what {
    ND_AUDIT_START,    /* 110100 Application Activity, started */
    ND_AUDIT_STOP,     /* 110100 Application Activity, stopped */
    ND_AUDIT_STORE,    /* 110104 DICOM Instances Transferred, create */
    ND_AUDIT_QUERY,    /* 110112 Query */
    ND_AUDIT_RETRIEVE, /* 110104 DICOM Instances Transferred, read (C-MOVE,
                          C-GET: instances leave this node) */
    ND_AUDIT_FORWARD,  /* 110104 DICOM Instances Transferred, read (sent
                          upstream by the forward queue) */
    ND_AUDIT_EXPORT,   /* 110106 Export (media) */
    ND_AUDIT_IMPORT,   /* 110107 Import (files, media) */
    ND_AUDIT_DELETE,   /* 110105 DICOM Study Deleted */
    ND_AUDIT_REFUSED,  /* 110113 Security Alert: association refused */
    ND_AUDIT_UPDATE,   /* 110103 DICOM Instances Accessed, update (an
                          operator accepted a corrected copy) */
};

/* ATNA EventOutcomeIndicator */
enum nd_audit_outcome {
    ND_AUDIT_OK = 0,
    ND_AUDIT_MINOR = 4,   /* some instances failed */
    ND_AUDIT_SERIOUS = 8, /* refused, nothing done */
    ND_AUDIT_MAJOR = 12,
};

/* One event; NULL or "" strings and negative counts are left out. */
struct nd_audit_event {
    enum nd_audit_what what;
    enum nd_audit_outcome outcome;
    const char *ae;        /* the other side: calling AE, or the peer we
                              sent to (forward) */
    const char *host;      /* its address */
    int tls;               /* 1: over TLS */
    const char *dest;      /* C-MOVE destination / forward peer / export
                              folder */
    const char *patient_id;
    const char *study_uid;
    long instances;        /* how many instances this event concerns */
    long failed;           /* of them, not done */
    const char *detail;    /* query keys, reason of a refusal, ... */
    const char *user;      /* local operator (export, delete) */
};

/* Opens (creating 0600) path for appending. 0, or -1 with err. */
int nd_audit_open(const char *path, nd_audit **out, char *err, size_t errlen);
void nd_audit_close(nd_audit *a); /* NULL is a no-op */

/* Appends one line. A write failure is reported once on the log and
 * counted; the node goes on (an audit failure must not lose images). */
void nd_audit_write(nd_audit *a, const struct nd_audit_event *e);

/* Flushes what was written to the disk (fdatasync); from the periodic
 * tick. */
void nd_audit_sync(nd_audit *a);

/* Per-study counts of one operation (an association's stores, a
 * retrieve, an import), for its audit events: one event per study. */
struct nd_study_count {
    char study_uid[68], patient_id[130]; /* as struct nd_record */
    long done, failed;
};
struct nd_study_counts {
    struct nd_study_count *v;
    size_t n, cap;
};

/* Counts one instance of study as done (ok) or failed. Out of memory: a
 * count is lost, never an image. */
void nd_study_counts_add(struct nd_study_counts *sc, const char *study,
                         const char *patient, int ok);
void nd_study_counts_free(struct nd_study_counts *sc);

/* OK when nothing failed, MINOR when some did, SERIOUS when all did. */
enum nd_audit_outcome nd_audit_outcome_of(long done, long failed);

/* The event's name in the file ("store", "query", ...) and its DICOM
 * audit event ID; NULL for an unknown value. */
const char *nd_audit_name(enum nd_audit_what w);
const char *nd_audit_event_id(enum nd_audit_what w);

#endif
