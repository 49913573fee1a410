/* dcx/charset.h - the guess behind dcx_open_opts.no_charset_guess: which
 * encoding undeclared (or "ISO_IR 100") text really uses. Pure byte
 * inspection, no DCMTK, no iconv; any thread.
 *
 * Text is looked at as maximal runs of bytes >= 0x80. The guess is
 *  - "ISO_IR 192" (UTF-8) when every run is well-formed UTF-8;
 *  - "GB18030" when every run is a sequence of GB2312 hanzi pairs (lead
 *    0xB0-0xF7, trail 0xA1-0xFE) and no run touches an ASCII letter or
 *    digit: Latin-1 accents sit inside words ("Müller"), Chinese names are
 *    separated by ^, =, spaces or nothing, so valid Latin-1 text is never
 *    reinterpreted;
 *  - NULL otherwise (keep the declared set; Latin-1 is the lenient
 *    fallback for undeclared 8-bit text). */
#ifndef DCX_CHARSET_H
#define DCX_CHARSET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dcx_charset_scan {
    unsigned runs;      /* runs of high bytes seen */
    unsigned not_utf8;  /* runs that are not well-formed UTF-8 */
    unsigned not_gb;    /* runs that are not isolated GB2312 hanzi pairs */
};

/* Adds one text value (raw bytes, not NUL-terminated) to the scan. */
void dcx_charset_scan_add(struct dcx_charset_scan *s, const char *p,
                          size_t n);

/* The guess as a DICOM defined term, or NULL (see above). Static string. */
const char *dcx_charset_scan_result(const struct dcx_charset_scan *s);

#ifdef __cplusplus
}
#endif
#endif
