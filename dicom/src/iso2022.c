/* iso2022.c - ISO 2022 code extensions to UTF-8 (see iso2022.h). The state
 * machine follows PS3.5 6.1.2.5.3: G0 and G1 are switched by escape
 * sequences and reset to the initial sets at every delimiter. Each run of
 * bytes in one set is converted by iconv: JIS X 0208/0212 as EUC-JP, KS X
 * 1001 as EUC-KR, GB 2312 as EUC-CN, 8-bit sets as ISO-8859-n. */
#include "iso2022.h"
#include "dcx/dcx.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

enum g0set { G0_ASCII, G0_JIS0208, G0_JIS0212 };

struct sb {
    char *p;
    size_t len, cap;
    int bad;
};

static int sb_put(struct sb *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = (s->len + n + 1) * 2;
        char *q = realloc(s->p, cap);
        if (!q)
            return -1;
        s->p = q;
        s->cap = cap;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = '\0';
    return 0;
}

/* Converts one run from encoding enc; invalid bytes are skipped. */
static int put_conv(struct sb *s, const char *enc, const char *in, size_t n)
{
    if (!n)
        return 0;
    iconv_t cd = iconv_open("UTF-8", enc);
    if (cd == (iconv_t)-1) {
        s->bad = 1;
        return 0;
    }
    char buf[256];
    char *ip = (char *)in;
    size_t il = n;
    while (il > 0) {
        char *op = buf;
        size_t ol = sizeof buf;
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        if (sb_put(s, buf, (size_t)(op - buf)) < 0) {
            iconv_close(cd);
            return -1;
        }
        if (r == (size_t)-1 && errno != E2BIG) {
            s->bad = 1; /* EILSEQ/EINVAL: drop one byte, go on */
            ip++;
            il--;
        }
    }
    iconv_close(cd);
    return 0;
}

/* iconv name of the 8-bit/multi-byte set an ISO 2022 term puts in G1. */
static const char *g1_of_term(const char *t)
{
    static const struct {
        const char *term, *enc;
    } map[] = {
        {"ISO 2022 IR 100", "ISO-8859-1"}, {"ISO 2022 IR 101", "ISO-8859-2"},
        {"ISO 2022 IR 109", "ISO-8859-3"}, {"ISO 2022 IR 110", "ISO-8859-4"},
        {"ISO 2022 IR 144", "ISO-8859-5"}, {"ISO 2022 IR 127", "ISO-8859-6"},
        {"ISO 2022 IR 126", "ISO-8859-7"}, {"ISO 2022 IR 138", "ISO-8859-8"},
        {"ISO 2022 IR 148", "ISO-8859-9"}, {"ISO 2022 IR 166", "TIS-620"},
        {"ISO 2022 IR 13", "SHIFT_JIS"},   {"ISO 2022 IR 149", "EUC-KR"},
        {"ISO 2022 IR 58", "EUC-CN"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(t, map[i].term) == 0)
            return map[i].enc;
    }
    return NULL;
}

int dcx_iso2022_needed(const char *cs)
{
    return cs && (strstr(cs, "IR 87") || strstr(cs, "IR 159") ||
                  strstr(cs, "IR 149") || strstr(cs, "IR 58") ||
                  strstr(cs, "ISO 2022 IR 13"));
}

int dcx_iso2022_to_utf8(const char *charset, const char *in, size_t n,
                        int is_pn, char **out, size_t *out_len)
{
    /* Initial G1: that of the first value (e.g. IR 13 or IR 100). */
    char first[64] = "";
    size_t k = 0;
    while (charset[k] && charset[k] != '\\' && k < sizeof first - 1) {
        first[k] = charset[k];
        k++;
    }
    while (k > 0 && first[k - 1] == ' ')
        first[--k] = '\0';
    const char *g1_init = g1_of_term(first);
    if (g1_init && (strcmp(first, "ISO 2022 IR 149") == 0 ||
                    strcmp(first, "ISO 2022 IR 58") == 0))
        g1_init = NULL; /* multi-byte sets are only designated by escapes */
    const char *g1 = g1_init;
    enum g0set g0 = G0_ASCII;

    struct sb s = {NULL, 0, 0, 0};
    if (sb_put(&s, "", 0) < 0)
        return DCX_ENOMEM;
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0;
    int oom = 0;
    while (i < n && !oom) {
        unsigned char c = p[i];
        if (c == 0x1B) {
            /* ESC sequences of PS3.3 C.12.1.1.2 Tables C.12-3/4 */
            const char *e = (const char *)p + i + 1;
            size_t left = n - i - 1;
            size_t used = 0;
            if (left >= 2 && e[0] == '(' && (e[1] == 'B' || e[1] == 'J')) {
                g0 = G0_ASCII, used = 2;
            } else if (left >= 2 && e[0] == '$' && e[1] == 'B') {
                g0 = G0_JIS0208, used = 2;
            } else if (left >= 3 && e[0] == '$' && e[1] == '(' &&
                       e[2] == 'D') {
                g0 = G0_JIS0212, used = 3;
            } else if (left >= 3 && e[0] == '$' && e[1] == ')' &&
                       e[2] == 'C') {
                g1 = "EUC-KR", used = 3;
            } else if (left >= 3 && e[0] == '$' && e[1] == ')' &&
                       e[2] == 'A') {
                g1 = "EUC-CN", used = 3;
            } else if (left >= 2 && e[0] == ')' && e[1] == 'I') {
                g1 = "SHIFT_JIS", used = 2;
            } else if (left >= 2 && e[0] == '-') {
                static const char fin[] = "ABCDLGFHMT";
                static const char *enc[] = {
                    "ISO-8859-1", "ISO-8859-2", "ISO-8859-3", "ISO-8859-4",
                    "ISO-8859-5", "ISO-8859-6", "ISO-8859-7", "ISO-8859-8",
                    "ISO-8859-9", "TIS-620"};
                const char *f = strchr(fin, e[1]);
                if (f && e[1]) {
                    g1 = enc[f - fin];
                    used = 2;
                }
            }
            if (!used) {
                s.bad = 1;
                i++;
                continue;
            }
            i += 1 + used;
            continue;
        }
        if (c < 0x80) {
            int delim = c == '\\' || c == '\r' || c == '\n' || c == '\t' ||
                        c == '\f' || (is_pn && (c == '^' || c == '='));
            if (delim) {
                g0 = G0_ASCII;
                g1 = g1_init;
            }
            if (g0 == G0_ASCII || delim || c < 0x21) {
                oom = sb_put(&s, (const char *)p + i, 1) < 0;
                i++;
                continue;
            }
            /* Run of 7-bit pairs in JIS X 0208/0212 -> EUC-JP */
            size_t j = i;
            while (j + 1 < n && p[j] >= 0x21 && p[j] < 0x7F &&
                   p[j + 1] >= 0x21 && p[j + 1] < 0x7F)
                j += 2;
            if (j == i) {
                s.bad = 1;
                i++;
                continue;
            }
            size_t pairs = (j - i) / 2;
            char *euc = malloc(pairs * 3);
            if (!euc) {
                oom = 1;
                break;
            }
            size_t m = 0;
            for (size_t q = i; q < j; q += 2) {
                if (g0 == G0_JIS0212)
                    euc[m++] = (char)0x8F;
                euc[m++] = (char)(p[q] | 0x80);
                euc[m++] = (char)(p[q + 1] | 0x80);
            }
            oom = put_conv(&s, "EUC-JP", euc, m) < 0;
            free(euc);
            i = j;
            continue;
        }
        /* 8-bit run in G1 */
        size_t j = i;
        while (j < n && p[j] >= 0x80)
            j++;
        if (!g1) {
            s.bad = 1;
            i = j;
            continue;
        }
        oom = put_conv(&s, g1, (const char *)p + i, j - i) < 0;
        i = j;
    }
    if (oom) {
        free(s.p);
        return DCX_ENOMEM;
    }
    *out = s.p;
    *out_len = s.len;
    return s.bad ? DCX_ECHARSET : 0;
}
