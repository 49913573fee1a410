/* dcx.c - library basics: error strings, the process log sink, init, and
 * transfer syntax names. */
#include "dcx/dcx.h"
#include "dcx/uids.h"
#include "shim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dcx_log_fn log_sink;
static void *log_user;
static enum dcx_log_level log_max = DCX_LOG_INFO;

size_t dcx_json_char(unsigned char c, char out[8])
{
    if (c == '"' || c == '\\')
        return (size_t)snprintf(out, 8, "\\%c", c);
    if (c < 0x20 || c == 0x7F)
        return (size_t)snprintf(out, 8, "\\u%04x", c);
    out[0] = (char)c;
    out[1] = '\0';
    return 1;
}

void dcx_json_print(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        char e[8];
        fwrite(e, 1, dcx_json_char((unsigned char)*s, e), f);
    }
    fputc('"', f);
}

const char *dcx_strerror(int err)
{
    switch (err) {
    case DCX_OK: return "success";
    case DCX_EINVAL: return "invalid argument";
    case DCX_ENOMEM: return "out of memory";
    case DCX_EIO: return "input/output error";
    case DCX_EBADDATA: return "malformed data";
    case DCX_ETRUNCATED: return "truncated data";
    case DCX_ENOTFOUND: return "not found";
    case DCX_EUNSUPPORTED: return "unsupported";
    case DCX_ENOPIXELS: return "no pixel data";
    case DCX_ERANGE: return "out of range";
    case DCX_ECHARSET: return "text not convertible to UTF-8";
    case DCX_EINTERNAL: return "internal error";
    case DCX_EREFUSED: return "association rejected";
    case DCX_ENET: return "network failure";
    case DCX_ECANCELLED: return "cancelled";
    default: return "unknown error";
    }
}

int dcx_log_enabled(enum dcx_log_level level)
{
    return level <= log_max;
}

void dcx_log(enum dcx_log_level level, const char *fmt, ...)
{
    if (level > log_max)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* One event, one line: fold any newline DCMTK put in a message. */
    for (char *p = line; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    if (log_sink) {
        log_sink(level, line, log_user);
        return;
    }
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    fprintf(stderr, "%s %s\n", names[level], line);
}

int dcx_init(dcx_log_fn sink, void *user, enum dcx_log_level max_level)
{
    log_sink = sink;
    log_user = user;
    log_max = max_level;
    return dcx_shim_init((int)max_level);
}

void dcx_err_set(struct dcx_error *e, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

void dcx_log_set(dcx_log_fn sink, void *user, enum dcx_log_level max_level)
{
    log_sink = sink;
    log_user = user;
    log_max = max_level;
    dcx_shim_log_level((int)max_level);
}

int dcx_uid_valid(const char *u)
{
    size_t n = u ? strlen(u) : 0;
    if (n == 0 || n > 64 || u[0] == '.' || u[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (u[i] == '.' ? u[i + 1] == '.' : (u[i] < '0' || u[i] > '9'))
            return 0;
    }
    return 1;
}

void dcx_free(void *p)
{
    free(p);
}

static const struct {
    const char *uid, *name, *kw;
} ts_table[] = {
    {DCX_TS_IMPLICIT_LE, "Implicit VR Little Endian", "implicit"},
    {DCX_TS_EXPLICIT_LE, "Explicit VR Little Endian", "explicit"},
    {DCX_TS_DEFLATED_LE, "Deflated Explicit VR Little Endian", "deflate"},
    {DCX_TS_EXPLICIT_BE, "Explicit VR Big Endian", "big"},
    {DCX_TS_JPEG_BASELINE, "JPEG Baseline (8-bit)", "jpeg"},
    {DCX_TS_JPEG_EXTENDED, "JPEG Extended (12-bit)", "jpeg12"},
    {DCX_TS_JPEG_LOSSLESS, "JPEG Lossless (Process 14)", "jpeg-lossless"},
    {DCX_TS_JPEG_LOSSLESS_SV1, "JPEG Lossless SV1", "jpeg-sv1"},
    {DCX_TS_JPEGLS_LOSSLESS, "JPEG-LS Lossless", "jpls"},
    {DCX_TS_JPEGLS_NEAR, "JPEG-LS Near-Lossless", "jpls-near"},
    {DCX_TS_J2K_LOSSLESS, "JPEG 2000 Lossless", "j2k-lossless"},
    {DCX_TS_J2K, "JPEG 2000", "j2k"},
    {DCX_TS_RLE, "RLE Lossless", "rle"},
};

const char *dcx_ts_name(const char *uid)
{
    for (size_t i = 0; i < sizeof ts_table / sizeof ts_table[0]; i++) {
        if (uid && strcmp(uid, ts_table[i].uid) == 0)
            return ts_table[i].name;
    }
    return NULL;
}

const char *dcx_ts_from_keyword(const char *kw)
{
    for (size_t i = 0; i < sizeof ts_table / sizeof ts_table[0]; i++) {
        if (kw && (strcmp(kw, ts_table[i].kw) == 0 ||
                   strcmp(kw, ts_table[i].uid) == 0))
            return ts_table[i].uid;
    }
    return NULL;
}
