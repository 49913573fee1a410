/* charset.c - the undeclared-charset guess (see dcx/charset.h). */
#include "dcx/charset.h"

#include <stdint.h>

static int is_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

/* Well-formed UTF-8 per RFC 3629 (no overlongs, no surrogates). */
static int run_is_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + need >= n) /* sequence cut short */
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

static int run_is_gb2312_hanzi(const unsigned char *p, size_t n)
{
    if (n % 2)
        return 0;
    for (size_t i = 0; i < n; i += 2) {
        if (p[i] < 0xB0 || p[i] > 0xF7 || p[i + 1] < 0xA1 || p[i + 1] > 0xFE)
            return 0;
    }
    return 1;
}

void dcx_charset_scan_add(struct dcx_charset_scan *s, const char *text,
                          size_t n)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < n && p[i] >= 0x80)
            i++;
        size_t len = i - start;
        s->runs++;
        if (!run_is_utf8(p + start, len))
            s->not_utf8++;
        int touches_word = (start > 0 && is_ascii_alnum(p[start - 1])) ||
                           (i < n && is_ascii_alnum(p[i]));
        if (touches_word || !run_is_gb2312_hanzi(p + start, len))
            s->not_gb++;
    }
}

const char *dcx_charset_scan_result(const struct dcx_charset_scan *s)
{
    if (s->runs == 0)
        return NULL;
    if (s->not_utf8 == 0)
        return "ISO_IR 192";
    if (s->not_gb == 0)
        return "GB18030";
    return NULL;
}
