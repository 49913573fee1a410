/* record.c - the index record of one instance file. See record.h. */
#define _GNU_SOURCE
#include "record.h"

#include "nd.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcx/dcx.h"

#include "dcx/dataset.h"
#include "dcx/tags.h"

/* Whole value as UTF-8 ("" if absent). Text the charset cannot convert
 * keeps what could be read: an index entry beats a refused instance. */
static const char *text(dcx_item *it, uint32_t tag, char *buf, size_t len)
{
    int rc = dcx_item_get_str(it, tag, -1, buf, len);
    if (rc < 0 && rc != DCX_ECHARSET)
        buf[0] = '\0';
    return buf;
}

char *nd_digits_only(char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++)
        if (s[i] >= '0' && s[i] <= '9')
            s[o++] = s[i];
    s[o] = '\0';
    return s;
}

static const char *date(dcx_item *it, uint32_t tag, char *buf, size_t len)
{
    return nd_digits_only((char *)text(it, tag, buf, len));
}

static int number(dcx_item *it, uint32_t tag)
{
    int64_t v;
    if (dcx_item_get_int(it, tag, 0, &v) < 0 || v < 0 || v > 0x7FFFFFFF)
        return -1;
    return (int)v;
}

static int full_read(const char *path, struct nd_record *o, char *why,
                     size_t whylen)
{
    struct dcx_open_opts oo = {.no_pixels = 1};
    dcx_ds *ds;
    struct dcx_error e;
    if (dcx_ds_open(path, &oo, &ds, &e) < 0) {
        snprintf(why, whylen, "%s", e.msg);
        return ND_EBADDATA;
    }
    dcx_item *r = dcx_ds_root(ds);
    memset(o, 0, sizeof *o);
    struct nd_instance_rec *x = &o->r;
    x->patient_id = text(r, DCX_TAG_PATIENT_ID, o->patient_id,
                         sizeof o->patient_id);
    x->issuer = text(r, DCX_TAG(0x0010, 0x0021), o->issuer, sizeof o->issuer);
    x->patient_name = text(r, DCX_TAG_PATIENT_NAME, o->patient_name,
                           sizeof o->patient_name);
    x->birth_date = date(r, DCX_TAG_PATIENT_BIRTH_DATE, o->birth_date,
                         sizeof o->birth_date);
    x->sex = text(r, DCX_TAG_PATIENT_SEX, o->sex, sizeof o->sex);
    x->study_uid = text(r, DCX_TAG_STUDY_INSTANCE_UID, o->study_uid,
                        sizeof o->study_uid);
    x->study_date = date(r, DCX_TAG_STUDY_DATE, o->study_date,
                         sizeof o->study_date);
    x->study_time = text(r, DCX_TAG_STUDY_TIME, o->study_time,
                         sizeof o->study_time);
    x->accession = text(r, DCX_TAG_ACCESSION_NUMBER, o->accession,
                        sizeof o->accession);
    x->study_id = text(r, DCX_TAG_STUDY_ID, o->study_id, sizeof o->study_id);
    x->study_desc = text(r, DCX_TAG_STUDY_DESCRIPTION, o->study_desc,
                         sizeof o->study_desc);
    x->referring = text(r, DCX_TAG_REFERRING_PHYSICIAN, o->referring,
                        sizeof o->referring);
    x->series_uid = text(r, DCX_TAG_SERIES_INSTANCE_UID, o->series_uid,
                         sizeof o->series_uid);
    x->modality = text(r, DCX_TAG_MODALITY, o->modality, sizeof o->modality);
    x->series_desc = text(r, DCX_TAG_SERIES_DESCRIPTION, o->series_desc,
                          sizeof o->series_desc);
    x->body_part = text(r, DCX_TAG_BODY_PART_EXAMINED, o->body_part,
                        sizeof o->body_part);
    x->series_number = number(r, DCX_TAG_SERIES_NUMBER);
    x->sop_uid = text(r, DCX_TAG_SOP_INSTANCE_UID, o->sop_uid,
                      sizeof o->sop_uid);
    x->sop_class = text(r, DCX_TAG_SOP_CLASS_UID, o->sop_class,
                        sizeof o->sop_class);
    snprintf(o->ts, sizeof o->ts, "%s", dcx_ds_transfer_syntax(ds));
    x->transfer_syntax = o->ts;
    x->instance_number = number(r, DCX_TAG_INSTANCE_NUMBER);
    x->rows = number(r, DCX_TAG_ROWS);
    x->columns = number(r, DCX_TAG_COLUMNS);
    x->frames = number(r, DCX_TAG_NUMBER_OF_FRAMES);
    snprintf(o->charset, sizeof o->charset, "%s", dcx_ds_charset(ds, NULL));
    x->charset = o->charset;
    dcx_ds_close(ds);
    if (!o->sop_uid[0] || !o->sop_class[0]) {
        snprintf(why, whylen, "no SOP Class or SOP Instance UID");
        return ND_EBADDATA;
    }
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The first field where two records differ, or NULL. */
static const char *differ(const struct nd_instance_rec *a,
                          const struct nd_instance_rec *b)
{
#define S(f) if (!same_str(a->f, b->f)) return #f
#define I(f) if (a->f != b->f) return #f
    S(patient_id); S(issuer); S(patient_name); S(birth_date); S(sex);
    S(study_uid); S(study_date); S(study_time); S(accession); S(study_id);
    S(study_desc); S(referring); S(series_uid); S(modality);
    S(series_desc); S(body_part); S(sop_uid); S(sop_class);
    S(transfer_syntax); S(charset);
    I(series_number); I(instance_number); I(rows); I(columns); I(frames);
#undef S
#undef I
    return NULL;
}

/* CONSORT_RECORD_FAST / CONSORT_RECORD_CHECK, read once: this runs for
 * every instance received */
enum { MODE_FAST, MODE_FULL, MODE_CHECK };
static int mode = MODE_FAST;
static pthread_once_t mode_once = PTHREAD_ONCE_INIT;

static void read_mode(void)
{
    const char *fast = getenv("CONSORT_RECORD_FAST");
    const char *check = getenv("CONSORT_RECORD_CHECK");
    if (fast && strcmp(fast, "0") == 0)
        mode = MODE_FULL;
    else if (check && strcmp(check, "1") == 0)
        mode = MODE_CHECK;
}

/* The whole file's element structure (the record readers stop at the
 * pixel data): a data set with an element running past its end is
 * refused rather than archived. */
static int structure_ok(const char *path, int fd, char *why, size_t whylen)
{
    int own = fd < 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct dcx_error e;
    int rc = dcx_file_check_structure(fd >= 0 ? fd : own, &e);
    if (own >= 0)
        close(own);
    if (rc < 0 && rc != DCX_EIO) {
        snprintf(why, whylen, "%s", e.msg);
        return 0;
    }
    return 1;
}

/* A Key Object Selection titled (TCE001, IHERADTF, "For Teaching File
 * Export") (IHE Teaching File and Clinical Trial Export): its study goes
 * to the teaching export. Read only for key objects (small files). */
static int teaching_ko(const char *path, const struct nd_record *o)
{
    if (strcmp(o->sop_class, "1.2.840.10008.5.1.4.1.1.88.59") != 0)
        return 0;
    struct dcx_open_opts op = {.no_pixels = 1};
    dcx_ds *ds;
    if (dcx_ds_open(path, &op, &ds, NULL) < 0)
        return 0;
    dcx_item *title;
    char value[32] = "", scheme[32] = "";
    if (dcx_item_seq_get(dcx_ds_root(ds), DCX_TAG(0x0040, 0xA043), 0,
                         &title) == 0) {
        dcx_item_get_str(title, DCX_TAG(0x0008, 0x0100), -1, value,
                         sizeof value);
        dcx_item_get_str(title, DCX_TAG(0x0008, 0x0102), -1, scheme,
                         sizeof scheme);
    }
    dcx_ds_close(ds);
    return strcmp(value, "TCE001") == 0 && strcmp(scheme, "IHERADTF") == 0;
}

static int read_record(const char *path, int fd, struct nd_record *o,
                       char *why, size_t whylen);

int nd_record_read(const char *path, int fd, struct nd_record *o,
                   char *why, size_t whylen)
{
    int rc = read_record(path, fd, o, why, whylen);
    if (rc == 0)
        o->r.teaching = teaching_ko(path, o);
    return rc;
}

static int read_record(const char *path, int fd, struct nd_record *o,
                       char *why, size_t whylen)
{
    if (!structure_ok(path, fd, why, whylen))
        return ND_EBADDATA;
    pthread_once(&mode_once, read_mode);
    if (mode == MODE_FULL)
        return full_read(path, o, why, whylen);
    if (mode == MODE_FAST) {
        if (nd_record_fast(path, fd, o) == 0)
            return 0;
        return full_read(path, o, why, whylen);
    }
    static struct nd_record f; /* check mode only (tests) */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int rc = full_read(path, o, why, whylen);
    pthread_mutex_lock(&mu);
    int frc = nd_record_fast(path, fd, &f);
    if (frc == 0) {
        const char *d = rc < 0 ? "the full parse failed" : differ(&o->r, &f.r);
        if (d)
            dcx_log(DCX_LOG_ERROR, "record check: fast path differs at %s "
                                   "for %s", d, path);
        else
            dcx_log(DCX_LOG_INFO, "record check: fast path agrees");
    } else {
        dcx_log(DCX_LOG_INFO, "record check: full parse needed");
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

static int is_image_class(const char *c)
{
    static const char *const img[] = {
        "1.2.840.10008.5.1.4.1.1.1",     /* CR */
        "1.2.840.10008.5.1.4.1.1.1.1",   /* DX presentation */
        "1.2.840.10008.5.1.4.1.1.1.1.1", /* DX processing */
        "1.2.840.10008.5.1.4.1.1.1.2",   /* MG presentation */
        "1.2.840.10008.5.1.4.1.1.1.2.1", /* MG processing */
        "1.2.840.10008.5.1.4.1.1.2",     /* CT */
        "1.2.840.10008.5.1.4.1.1.2.1",   /* enhanced CT */
        "1.2.840.10008.5.1.4.1.1.3.1",   /* US multi-frame */
        "1.2.840.10008.5.1.4.1.1.4",     /* MR */
        "1.2.840.10008.5.1.4.1.1.4.1",   /* enhanced MR */
        "1.2.840.10008.5.1.4.1.1.6.1",   /* US */
        "1.2.840.10008.5.1.4.1.1.7",     /* secondary capture */
        "1.2.840.10008.5.1.4.1.1.12.1",  /* XA */
        "1.2.840.10008.5.1.4.1.1.20",    /* NM */
        "1.2.840.10008.5.1.4.1.1.128",   /* PET */
    };
    for (size_t i = 0; i < sizeof img / sizeof img[0]; i++)
        if (strcmp(c, img[i]) == 0)
            return 1;
    return 0;
}

const char *nd_record_problem(const struct nd_record *rec, int *invalid_uid)
{
    *invalid_uid = 0;
    /* UIDs are digits and dots, at most 64 characters (PS3.5 9.1) */
    if (!dcx_uid_valid(rec->sop_uid) || !dcx_uid_valid(rec->study_uid) ||
        !dcx_uid_valid(rec->series_uid)) {
        *invalid_uid = 1;
        return "a SOP Instance, Study or Series UID is not a valid UID";
    }
    if (!rec->study_uid[0] || !rec->series_uid[0])
        return "no Study or Series Instance UID";
    /* an image storage class without an image is not that class's IOD */
    if (is_image_class(rec->sop_class) &&
        (rec->r.rows <= 0 || rec->r.columns <= 0))
        return "an image storage SOP class without Rows/Columns";
    return NULL;
}
