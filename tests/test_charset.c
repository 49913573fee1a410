/* test_charset.c - the undeclared-charset guess (dcx/charset.h) and UTF-8
 * text from real files with declared character sets. */
#include "dcx/charset.h"
#include "dcx/dataset.h"
#include "dcx/tags.h"
#include "t.h"

static const char *guess(const char *s)
{
    struct dcx_charset_scan sc = {0, 0, 0};
    dcx_charset_scan_add(&sc, s, strlen(s));
    return dcx_charset_scan_result(&sc);
}

static void check_name(const char *path, const char *want)
{
    dcx_ds *ds;
    struct dcx_error e;
    char buf[256];
    if (dcx_ds_open(path, NULL, &ds, &e) < 0) {
        fprintf(stderr, "%s: %s\n", path, e.msg);
        CHECK(0);
        return;
    }
    CHECK(dcx_item_get_str(dcx_ds_root(ds), DCX_TAG_PATIENT_NAME, -1, buf,
                           sizeof buf) >= 0);
    if (strcmp(buf, want) != 0)
        fprintf(stderr, "%s: got '%s', want '%s'\n", path, buf, want);
    CHECK_STR(buf, want);
    dcx_ds_close(ds);
}

int main(int argc, char **argv)
{
    /* GBK "张三" D5C5 C8FD, separated by ^ and = from ASCII. */
    CHECK(guess("Zhang^San=\xD5\xC5^\xC8\xFD") != NULL);
    CHECK_STR(guess("Zhang^San=\xD5\xC5^\xC8\xFD"), "GB18030");
    CHECK_STR(guess("\xD5\xC5\xC8\xFD"), "GB18030");
    /* Latin-1: accents inside words never become hanzi. */
    CHECK(guess("M\xFCller^J\xFCrgen") == NULL);
    CHECK(guess("Ren\xE9\xE9") == NULL);             /* touches a letter */
    CHECK(guess("\xC4\xD6zt") == NULL);
    /* UTF-8 wins when every run is well-formed. */
    CHECK_STR(guess("M\xC3\xBCller"), "ISO_IR 192");
    CHECK_STR(guess("\xE5\xBC\xA0^\xE4\xB8\x89"), "ISO_IR 192");
    CHECK(guess("plain ASCII") == NULL);
    /* A cut-off UTF-8 sequence is not UTF-8 (it is a GB2312 pair). */
    CHECK_STR(guess("\xE5\xBC"), "GB18030");

    if (dcx_init(NULL, NULL, DCX_LOG_ERROR) < 0)
        return 1;
    if (argc > 1) {
        char p[1024];
        snprintf(p, sizeof p, "%s/charset_files/chrX2.dcm", argv[1]);
        check_name(p, "Wang^XiaoDong=\xE7\x8E\x8B^\xE5\xB0\x8F\xE4\xB8\x9C");
        snprintf(p, sizeof p, "%s/charset_files/chrRuss.dcm", argv[1]);
        /* as pydicom decodes it (ISO_IR 144, Latin look-alikes kept) */
        check_name(p, "\xD0\x9B\xD1\x8E\xD0\xBA" "ce\xD0\xBC\xD0\xB1"
                      "yp\xD0\xB3");
        snprintf(p, sizeof p, "%s/charset_files/chrFren.dcm", argv[1]);
        check_name(p, "Buc^J\xC3\xA9r\xC3\xB4me");
    }
    return T_DONE();
}
