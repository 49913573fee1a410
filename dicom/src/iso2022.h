/* iso2022.h - text with ISO 2022 code extensions (PS3.5 6.1.2.5) to
 * UTF-8, through glibc iconv one segment at a time. Exists because
 * Debian's DCMTK refuses the multi-byte sets (IR 58, 87, 149, 159) with
 * glibc iconv. Any thread. */
#ifndef DCX_ISO2022_H
#define DCX_ISO2022_H

#include <stddef.h>

/* 1 if the (0008,0005) value needs this converter: code extensions with
 * a multi-byte or katakana set. */
int dcx_iso2022_needed(const char *charset);

/* Converts n bytes of in; charset is the whole (0008,0005) value.
 * is_pn: '^' and '=' also reset the state (PN component delimiters).
 * *out is malloc'd, NUL-terminated, free() it. Returns 0, DCX_ECHARSET
 * (best effort in *out, invalid bytes dropped) or DCX_ENOMEM. */
int dcx_iso2022_to_utf8(const char *charset, const char *in, size_t n,
                        int is_pn, char **out, size_t *out_len);

#endif
