/* dcx/dcx.h - library-wide basics of libconsort-dicom: init, error codes,
 * log sink. Knows no SDL, GL or C++. dcx_init() runs once, before any other
 * dcx_ call and before any thread starts; everything else follows the rule
 * "a handle is used by one thread at a time". */
#ifndef DCX_DCX_H
#define DCX_DCX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Room for element n of v (elem bytes each, *cap allocated), doubling
 * from first: v itself, or its reallocation (*cap updated), or NULL when
 * out of memory (v is then unchanged and still the caller's). The one way
 * the project grows an array. */
static inline void *dcx_grow(void *v, size_t n, size_t *cap, size_t elem,
                             size_t first)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? 2 * *cap : first;
    void *nv = realloc(v, c * elem);
    if (nv)
        *cap = c;
    return nv;
}

/* The folder that path is in ("." for a bare name), into out. */
static inline void dcx_dir_of(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(out, len, ".");
}

/* Error codes: fallible functions return 0 or one of these (negative). */
enum {
    DCX_OK = 0,
    DCX_EINVAL = -1,      /* bad argument (programmer error or bad option) */
    DCX_ENOMEM = -2,      /* allocation failed */
    DCX_EIO = -3,         /* read/write/open failed at the OS level */
    DCX_EBADDATA = -4,    /* malformed DICOM or codestream */
    DCX_ETRUNCATED = -5,  /* data ends before it should */
    DCX_ENOTFOUND = -6,   /* attribute or item absent */
    DCX_EUNSUPPORTED = -7,/* valid DICOM we do not handle (documented) */
    DCX_ENOPIXELS = -8,   /* the object has no Pixel Data */
    DCX_ERANGE = -9,      /* index or value out of range */
    DCX_ECHARSET = -10,   /* text could not be converted to UTF-8 */
    DCX_EINTERNAL = -11,  /* unexpected exception in the DCMTK shim */
    DCX_EREFUSED = -12,   /* the peer rejected the association */
    DCX_ENET = -13,       /* network failure: connect, send, receive */
    DCX_ECANCELLED = -14, /* the peer cancelled the operation */
    DCX_EBUSY = -15,      /* the peer rejected the association for now
                             (rejected-transient: try again later) */
};

/* Static, never NULL. */
const char *dcx_strerror(int err);

/* JSON output (the node's --json, its audit trail, the viewer's script
 * state): one byte of a string as it goes between the quotes, escaped if
 * it is a quote, a backslash or a control character (UTF-8 passes).
 * Writes at most 7 bytes and a NUL to out; returns how many. */
size_t dcx_json_char(unsigned char c, char out[8]);
/* s as a quoted JSON string on f. */
void dcx_json_print(FILE *f, const char *s);

/* Detail of a failed open/save: one line, no newline. */
struct dcx_error {
    char msg[256];
};

enum dcx_log_level {
    DCX_LOG_ERROR = 0,
    DCX_LOG_WARN = 1,
    DCX_LOG_INFO = 2,
    DCX_LOG_DEBUG = 3,
};

/* One log sink per process. The line has no trailing newline. */
typedef void (*dcx_log_fn)(enum dcx_log_level level, const char *line,
                           void *user);

/* Registers DCMTK's codecs, loads its dictionary check and routes DCMTK's
 * own logger to the sink (NULL sink = stderr). Levels above max_level are
 * dropped before formatting. Returns 0 or DCX_EINTERNAL. */
int dcx_init(dcx_log_fn sink, void *user, enum dcx_log_level max_level);

/* Replaces the sink and level set by dcx_init(); same thread rule. */
void dcx_log_set(dcx_log_fn sink, void *user, enum dcx_log_level max_level);

/* 1 if u is a UID (PS3.5 9.1): 1-64 characters, digits and single dots,
 * neither first nor last a dot. Such a string is safe in a file name. */
int dcx_uid_valid(const char *u);

/* Writes a log line through the sink if level <= the configured maximum. */
void dcx_log(enum dcx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int dcx_log_enabled(enum dcx_log_level level);

/* Frees memory that a dcx_ function documents as "free with dcx_free()". */
void dcx_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
