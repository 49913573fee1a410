/* cmd_info.c - `consort-node info FILE...`: a readable summary per file. */
#include "cmd.h"
#include "dcx/dataset.h"
#include "dcx/pixel.h"
#include "dcx/tags.h"
#include "dcx/uids.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void field(dcx_item *r, const char *label, uint32_t tag)
{
    char buf[512];
    int n = dcx_item_get_str(r, tag, -1, buf, sizeof buf);
    if ((n < 0 && n != DCX_ECHARSET) || !buf[0])
        return;
    printf("  %-20s %s%s\n", label, buf,
           n == DCX_ECHARSET ? "  (invalid bytes dropped)" : "");
}

static int info_one(const char *path, const struct dcx_open_opts *oo)
{
    dcx_ds *ds;
    struct dcx_error err;
    int rc = dcx_ds_open(path, oo, &ds, &err);
    if (rc < 0) {
        nd_fail_line(path, err.msg);
        return 1;
    }
    dcx_item *r = dcx_ds_root(ds);
    struct stat sb;
    printf("%s\n", path);
    int guessed = 0;
    const char *cs = dcx_ds_charset(ds, &guessed);
    field(r, "Patient", DCX_TAG_PATIENT_NAME);
    field(r, "Patient ID", DCX_TAG_PATIENT_ID);
    field(r, "Birth date", DCX_TAG_PATIENT_BIRTH_DATE);
    field(r, "Sex", DCX_TAG_PATIENT_SEX);
    field(r, "Study date", DCX_TAG_STUDY_DATE);
    field(r, "Study", DCX_TAG_STUDY_DESCRIPTION);
    field(r, "Accession", DCX_TAG_ACCESSION_NUMBER);
    field(r, "Study UID", DCX_TAG_STUDY_INSTANCE_UID);
    field(r, "Modality", DCX_TAG_MODALITY);
    field(r, "Series", DCX_TAG_SERIES_DESCRIPTION);
    field(r, "Series number", DCX_TAG_SERIES_NUMBER);
    field(r, "Series UID", DCX_TAG_SERIES_INSTANCE_UID);
    field(r, "Instance number", DCX_TAG_INSTANCE_NUMBER);
    field(r, "SOP class", DCX_TAG_SOP_CLASS_UID);
    field(r, "SOP instance", DCX_TAG_SOP_INSTANCE_UID);
    if (cs[0])
        printf("  %-20s %s%s\n", "Character set", cs,
               guessed ? " (not as declared: override or guess)" : "");
    const char *ts = dcx_ds_transfer_syntax(ds);
    const char *tsn = dcx_ts_name(ts);
    printf("  %-20s %s%s%s%s\n", "Transfer syntax", tsn ? tsn : "",
           tsn ? " (" : "", ts[0] ? ts : "unknown", tsn ? ")" : "");
    if (stat(path, &sb) == 0)
        printf("  %-20s %lld bytes\n", "File size", (long long)sb.st_size);
    struct dcx_pixel_info pi;
    rc = dcx_pixel_info_get(ds, NULL, &pi);
    if (rc == 0) {
        printf("  %-20s %u x %u, %u frame%s, %u sample%s, %u/%u bits%s, "
               "%s\n",
               "Image", pi.columns, pi.rows, pi.frames,
               pi.frames == 1 ? "" : "s", pi.samples_per_pixel,
               pi.samples_per_pixel == 1 ? "" : "s", pi.bits_stored,
               pi.stored_bits_allocated,
               pi.pixel_representation ? " signed" : "",
               pi.stored_photometric);
        if (pi.lossy)
            printf("  %-20s yes\n", "Lossy compressed");
    } else if (rc == DCX_ENOPIXELS) {
        printf("  %-20s none\n", "Image");
    } else {
        printf("  %-20s %s\n", "Image", dcx_ds_errmsg(ds));
    }
    dcx_ds_close(ds);
    return 0;
}

int nd_cmd_info(int argc, char **argv)
{
    struct dcx_open_opts oo = {0};
    oo.no_pixels = 0;
    int files = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: consort-node info [--assume-charset CS] "
                 "[--no-charset-guess] FILE...\n"
                 "  --assume-charset CS  decode text of files that declare "
                 "no charset or\n"
                 "                       ISO_IR 100 as CS (e.g. GBK)\n"
                 "  --no-charset-guess   do not guess UTF-8/GB18030 for such "
                 "files");
            return 0;
        }
        if (strcmp(argv[i], "--assume-charset") == 0 && i + 1 < argc) {
            oo.assume_charset = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--no-charset-guess") == 0) {
            oo.no_charset_guess = 1;
            continue;
        }
        if (files++)
            putchar('\n');
        failed |= info_one(argv[i], &oo);
    }
    if (!files) {
        fputs("usage: consort-node info FILE...\n", stderr);
        return 2;
    }
    return failed ? 1 : 0;
}
