/* sr.h - the structured documents a reading produces, written through
 * DCMTK's dcmsr: Key Object Selection documents (key images; PS3.3
 * A.35.4, TID 2010) and the radiologist's report as a Basic Text SR
 * (PS3.3 A.35.1, in the shape of TID 2000). C API; any thread (one call at
 * a time per output). */
#ifndef DCX_SR_H
#define DCX_SR_H

#include <stddef.h>

#include "dcx/dcx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Document Title (CID 7010 / IHE TCE) */
enum dcx_ko_title {
    DCX_KO_OF_INTEREST, /* (113000, DCM, "Of Interest") */
    DCX_KO_TEACHING,    /* (TCE001, IHERADTF, "For Teaching File
                           Export"): queues the study for the teaching
                           export */
};

struct dcx_ko_desc {
    enum dcx_ko_title title;
    const char *const *images; /* files of the key images, one study; the
                                  first one's patient and study are used */
    size_t n_images;
    const char *description;   /* Key Object Description, UTF-8; NULL */
};

/* Writes a Key Object Selection document referencing the images to path
 * (a new SOP Instance in a new series of their study). out_uid may be
 * NULL. 0, or DCX_EINVAL, DCX_EIO, DCX_EBADDATA with out_err. */
int dcx_ko_write(const struct dcx_ko_desc *d, const char *path,
                 char out_uid[65], struct dcx_error *out_err);

struct dcx_report_desc {
    const char *const *images; /* files of the study (the first gives the
                                  patient and study; all are evidence) */
    size_t n_images;
    const char *findings;      /* UTF-8, Chinese included */
    const char *impression;    /* UTF-8 */
    const char *author;        /* the reading radiologist (PN); NULL */
    int final;                 /* 1: Completion Flag COMPLETE and
                                  Verification Flag VERIFIED by author */
};

/* Writes the report as a Basic Text SR ("Diagnostic Imaging Report",
 * Findings and Impression sections) to path, a new instance in a new
 * series of the study. out_uid may be NULL. 0 or DCX_E* with out_err. */
int dcx_report_write(const struct dcx_report_desc *d, const char *path,
                     char out_uid[65], struct dcx_error *out_err);

#ifdef __cplusplus
}
#endif

#endif
