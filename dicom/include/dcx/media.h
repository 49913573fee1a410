/* media.h - instances leaving the consortium: de-identification per the
 * PS3.15 E.1 Basic Application Level Confidentiality Profile (for the
 * teaching export) and PS3.10 media folders with a DICOMDIR (PS3.11
 * general purpose profile). DCMTK lives behind this header; no SDL/GL.
 * Any thread, one call at a time per output. The UID mapping and the
 * pseudonyms are the caller's (the node keeps them); nothing here keeps
 * state between calls. */
#ifndef DCX_MEDIA_H
#define DCX_MEDIA_H

#include <stddef.h>

#include "dcx/dcx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The new UID for an original one, the same every time it is asked for
 * (references between images, presentation states and key objects then
 * still resolve). Writes at most 64 characters and a NUL to out. 0 or a
 * negative DCX_E* code, which ends the de-identification. */
typedef int (*dcx_uid_map_fn)(void *user, const char *uid, char out[65]);

struct dcx_deid_opts {
    const char *patient_name, *patient_id; /* pseudonyms (ASCII) */
    const char *study_id;      /* dummy Study ID; NULL: "1" */
    int date_shift_days;       /* added to every date (Retain Longitudinal
                                  Temporal Information with Modified Dates
                                  Option); must not be 0 */
    int keep_characteristics;  /* Retain Patient Characteristics Option:
                                  sex, age, size, weight, pregnancy kept */
    int allow_burned_in;       /* export images that may show identifying
                                  text in their pixels (Burned In
                                  Annotation YES, or absent on ultrasound,
                                  secondary capture and photographs), and
                                  encapsulated documents (PDF, CDA) unless
                                  they say NO */
    dcx_uid_map_fn map_uid;
    void *user;
    /* Non-zero for an original SOP Instance UID the export leaves out
     * (an image refused for burned-in text); NULL: none. References to
     * such instances are taken out of presentation states, key objects
     * and SR: the sequence item that references one goes, and so does an
     * item whose sequence that empties, upwards; a document left with
     * nothing to reference is refused (DCX_EREFUSED). Same user. */
    int (*left_out)(void *user, const char *sop_uid);
};

/* What dcx_deid_file wrote. */
struct dcx_deid_info {
    char sop_class[65], sop_uid[65], study_uid[65]; /* new UIDs */
    char transfer_syntax[65]; /* explicit VR little endian, or the stored
                                 compression when DCMTK cannot decode it
                                 (JPEG 2000) */
    int elements_removed, elements_changed;
    int references_removed;   /* items naming instances left out */
    int has_pixels;           /* an image, not a document (GSPS, SR, KO) */
};

/* Reads the Part-10 file in, de-identifies it and writes it to out (new
 * meta header; text as UTF-8 where the character set converts; pixel
 * data decompressed when DCMTK can). Identifiers (patient, study,
 * physicians, institution, devices, dates, UIDs, private and overlay and
 * curve data) are removed, emptied, replaced or shifted per the profile
 * and its Clean Descriptors, Clean Graphics and Clean Structured Content
 * options: descriptions, GSPS graphics and SR content are kept with the
 * patient's names and IDs struck out of their text. Adds Patient Identity
 * Removed and the De-identification Method (Code Sequence).
 * 0, DCX_EREFUSED (burned-in annotation, in pixels or an encapsulated
 * document, and !allow_burned_in, or a
 * document that references only instances left out; out not written),
 * DCX_EIO, DCX_EBADDATA, or the map's error, with out_err. */
int dcx_deid_file(const char *in, const char *out,
                  const struct dcx_deid_opts *o, struct dcx_deid_info *info,
                  struct dcx_error *out_err);

/* Writes dir/DICOMDIR for the files at dir/<rel>[i] (relative paths of
 * at most 8 components of at most 8 characters A-Z 0-9 _, separated by
 * '/'), or adds them to the DICOMDIR already there. j2k = 1: the files
 * may be JPEG 2000 (STD-GEN-USB-J2K profile), else explicit VR little
 * endian (STD-GEN-CD). A file the profile does not take (a Type 1
 * attribute of the directory missing, say; DCMTK logs why) is left out:
 * out_added[i] says which went in (may be NULL). 0 if the DICOMDIR was
 * written, or DCX_EIO, or DCX_EBADDATA when no file fitted, with
 * out_err. */
int dcx_dicomdir_write(const char *dir, const char *const *rel, size_t n,
                       const char *fileset_id, int j2k,
                       unsigned char *out_added, struct dcx_error *out_err);

/* ---- reading a DICOMDIR ---- */

/* One directory record, as UTF-8 ("" when absent). */
struct dcx_dir_record {
    const char *type;   /* Directory Record Type: "PATIENT", "STUDY",
                           "SERIES", "IMAGE", "PRESENTATION",
                           "SR DOCUMENT", "KEY OBJECT DOC", ... */
    int depth;          /* 0 for the top level (patients), +1 below */
    const char *file;   /* the referenced file, relative to the
                           DICOMDIR's folder, '/' separated; "" if none */
    const char *sop_class; /* Referenced SOP Class UID in File */
    const char *patient_name, *patient_id;
    const char *study_uid, *study_date, *study_time, *study_desc;
    const char *modality;
};

/* Calls fn for every record of the DICOMDIR at path, parents before
 * their children (the record tree, whatever the order of the records in
 * the file); strings are borrowed for the call. A non-zero return of fn
 * stops the walk and is returned. 0, or DCX_EIO / DCX_EBADDATA with
 * out_err. */
int dcx_dicomdir_read(const char *path,
                      int (*fn)(void *user, const struct dcx_dir_record *r),
                      void *user, struct dcx_error *out_err);

#ifdef __cplusplus
}
#endif

#endif
