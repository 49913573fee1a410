/* dcx/dataset.h - parsed DICOM datasets: open a Part-10 file or a memory
 * buffer, typed access by tag (text converted to UTF-8), sequences, write
 * back with a chosen transfer syntax. DCMTK lives behind this header; no
 * SDL/GL. A dcx_ds and the dcx_item handles it gives out are used by one
 * thread at a time. */
#ifndef DCX_DATASET_H
#define DCX_DATASET_H

#include "dcx/dcx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dcx_ds dcx_ds;
/* An item: the top-level dataset or an item of a sequence. Borrowed from
 * its dcx_ds, valid until dcx_ds_close(). */
typedef struct dcx_item dcx_item;

/* Zero-initialised means defaults. */
struct dcx_open_opts {
    /* Character set (DICOM defined term, e.g. "GBK", "GB18030") assumed
     * when (0008,0005) is absent or says ISO_IR 100: the per-source
     * override for county devices that mislabel GBK bytes. NULL = none. */
    const char *assume_charset;
    /* 1 turns off the guess for undeclared/ISO_IR 100 text (see
     * dcx_charset_guess() in dcx/charset.h). */
    int no_charset_guess;
    /* 1 stops parsing before (7FE0,0010): quicker for indexing; pixel
     * functions then return DCX_ENOPIXELS. */
    int no_pixels;
};

/* Opens a file: Part-10 with preamble and meta, or a bare dataset (implicit
 * or explicit little endian, explicit big endian; detected). On success
 * *out_ds is new, close it with dcx_ds_close(); on failure *out_ds = NULL
 * and out_err (may be NULL) says why. Returns 0, DCX_EIO, DCX_EBADDATA,
 * DCX_ETRUNCATED, DCX_ENOMEM or DCX_EINTERNAL. */
int dcx_ds_open(const char *path, const struct dcx_open_opts *opts,
                dcx_ds **out_ds, struct dcx_error *out_err);

/* Same from memory; the bytes are copied, the caller keeps buf. */
int dcx_ds_open_mem(const void *buf, size_t len,
                    const struct dcx_open_opts *opts, dcx_ds **out_ds,
                    struct dcx_error *out_err);

void dcx_ds_close(dcx_ds *ds); /* NULL is a no-op */

/* 1 if path starts with a Part-10 preamble ("DICM" at byte 128): a file
 * that claims to be DICOM, so failing to open it is a broken instance,
 * not a stranger (a text file, a viewer program on a CD). 0 otherwise. */
int dcx_file_is_part10(const char *path);

/* Walks every element header of an open Part-10 file or bare data set
 * (values are skipped, not read): 0 if each element, item and sequence
 * ends within the file and sequences nest at most 64 levels;
 * DCX_ETRUNCATED (something runs past the end), DCX_EBADDATA (nested too
 * deeply) or DCX_EIO, with out_err. Cheap: headers only, the pixel data
 * is one jump. Encodings it cannot follow pass (left to the parser). */
int dcx_file_check_structure(int fd, struct dcx_error *out_err);

/* Detail of the last failure on ds; valid until the next call on ds. */
const char *dcx_ds_errmsg(const dcx_ds *ds);

/* Transfer syntax UID the dataset was read in ("" if unknown). */
const char *dcx_ds_transfer_syntax(const dcx_ds *ds);

/* Media Storage SOP Class UID of the file meta (0002,0002): what the file
 * holds, also for objects with no SOP Class UID in their data set (a
 * DICOMDIR); "" without a meta header. Borrowed until close. */
const char *dcx_ds_media_class(dcx_ds *ds);

/* Character set used to decode text: the declared (0008,0005) value, or
 * the override/guess; *out_guessed (may be NULL) is 1 when it is not what
 * the file declared. Borrowed until close. */
const char *dcx_ds_charset(const dcx_ds *ds, int *out_guessed);

dcx_item *dcx_ds_root(dcx_ds *ds);

/* Writes the dataset as a Part-10 file in transfer syntax ts_uid (NULL =
 * as read), with a new file meta header; compressing uses DCMTK's
 * encoders (JPEG lossless/baseline/extended, JPEG-LS, RLE; not JPEG 2000,
 * which returns DCX_EUNSUPPORTED). The file is written to path directly;
 * callers that need atomic replacement write a temp name and rename. */
int dcx_ds_save(dcx_ds *ds, const char *path, const char *ts_uid,
                struct dcx_error *out_err);

/* --- typed access; all return 0 or a negative DCX_E* code --- */

/* Tag of a dictionary keyword ("PatientName") or "gggg,eeee" text.
 * DCX_ENOTFOUND if unknown. */
int dcx_tag_parse(const char *text, uint32_t *out_tag);

/* Keyword of a tag ("PatientName"), or "gggg,eeee" into buf. */
const char *dcx_tag_name(uint32_t tag, char *buf, size_t len);

/* Number of elements in the item, and the tag of element idx (in tag
 * order): to walk a query's keys. DCX_ERANGE past the end. */
int dcx_item_tag_count(const dcx_item *it);
int dcx_item_tag_at(const dcx_item *it, unsigned idx, uint32_t *out_tag);

/* 1 if present (even empty), 0 if absent. */
int dcx_item_has(const dcx_item *it, uint32_t tag);

/* Two-letter VR into out_vr[3]. DCX_ENOTFOUND if absent. */
int dcx_item_vr(const dcx_item *it, uint32_t tag, char out_vr[3]);

/* Value multiplicity (>= 0) or DCX_ENOTFOUND. For text, values are
 * counted after conversion to UTF-8 (a 0x5C inside a GBK character is not
 * a separator). */
int dcx_item_vm(const dcx_item *it, uint32_t tag);

/* Text as UTF-8. idx >= 0 picks one value of a multi-valued string; -1
 * gives the whole value with its backslashes. Trailing padding (spaces,
 * NUL) is trimmed; leading spaces too except for LT/ST/UT. Behaves like
 * snprintf: writes at most len bytes including the NUL and returns the
 * full length, so a return >= len means truncated. Numbers (US, SS, FL,
 * ...) are formatted as text too. DCX_ENOTFOUND, DCX_ERANGE (idx beyond
 * VM), DCX_ECHARSET (bytes invalid in the character set; the out buffer
 * then holds the text with the invalid bytes dropped). PN values lose
 * empty trailing components and groups ("A^B=" reads as "A^B"). */
int dcx_item_get_str(const dcx_item *it, uint32_t tag, int idx, char *buf,
                     size_t len);

/* Integer value idx of US/SS/UL/SL/UV/SV/IS/AT (or an integral DS).
 * DCX_ENOTFOUND, DCX_ERANGE, DCX_EBADDATA (not an integer). */
int dcx_item_get_int(const dcx_item *it, uint32_t tag, unsigned idx,
                     int64_t *out_val);

/* Floating value idx of FL/FD/DS, or of an integer VR. */
int dcx_item_get_float(const dcx_item *it, uint32_t tag, unsigned idx,
                       double *out_val);

/* Raw value bytes (OB/OW/OF/OD/OL/UN/US/SS/...) in host byte order for
 * word VRs. Borrowed until the ds is closed or saved. */
int dcx_item_get_bytes(const dcx_item *it, uint32_t tag,
                       const void **out_data, size_t *out_len);

/* Number of items of sequence tag (>= 0) or DCX_ENOTFOUND/DCX_EBADDATA
 * (present but not a sequence). */
int dcx_item_seq_count(const dcx_item *it, uint32_t tag);

/* Item idx of sequence tag. */
int dcx_item_seq_get(const dcx_item *it, uint32_t tag, unsigned idx,
                     dcx_item **out_item);

/* The item that holds tag for frame (0-based) of the dataset whose root
 * is root: root itself if it has tag (a classic image), else the frame's
 * functional group macro, else the shared one (enhanced multi-frame,
 * PS3.3 C.7.6.16), for Pixel Spacing, Slice Thickness, Image Position and
 * Orientation (Patient), the rescale and the window. NULL if none. */
dcx_item *dcx_frame_item(const dcx_item *root, unsigned frame, uint32_t tag);

#ifdef __cplusplus
}
#endif
#endif
