/* dcx/uids.h - transfer syntax UIDs (PS3.6 Annex A) by name, and a
 * lookup of their names for display. No DCMTK. */
#ifndef DCX_UIDS_H
#define DCX_UIDS_H

#ifdef __cplusplus
extern "C" {
#endif

#define DCX_TS_IMPLICIT_LE      "1.2.840.10008.1.2"
#define DCX_TS_EXPLICIT_LE      "1.2.840.10008.1.2.1"
#define DCX_TS_DEFLATED_LE      "1.2.840.10008.1.2.1.99"
#define DCX_TS_EXPLICIT_BE      "1.2.840.10008.1.2.2"
#define DCX_TS_JPEG_BASELINE    "1.2.840.10008.1.2.4.50"
#define DCX_TS_JPEG_EXTENDED    "1.2.840.10008.1.2.4.51"
#define DCX_TS_JPEG_LOSSLESS    "1.2.840.10008.1.2.4.57"
#define DCX_TS_JPEG_LOSSLESS_SV1 "1.2.840.10008.1.2.4.70"
#define DCX_TS_JPEGLS_LOSSLESS  "1.2.840.10008.1.2.4.80"
#define DCX_TS_JPEGLS_NEAR      "1.2.840.10008.1.2.4.81"
#define DCX_TS_J2K_LOSSLESS     "1.2.840.10008.1.2.4.90"
#define DCX_TS_J2K              "1.2.840.10008.1.2.4.91"
#define DCX_TS_RLE              "1.2.840.10008.1.2.5"

/* Short display name of a transfer syntax ("JPEG-LS Lossless"), or NULL
 * if unknown. */
const char *dcx_ts_name(const char *uid);

/* Short keyword accepted on command lines ("jpls", "j2k", "rle", ...)
 * mapped to a UID, or NULL. */
const char *dcx_ts_from_keyword(const char *kw);

#ifdef __cplusplus
}
#endif
#endif
