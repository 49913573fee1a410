/* cmd_info.c - `consort-node info FILE...`: a readable summary per file. */
#include "cmd.h"
#include "opts.h"
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

static void usage(FILE *to)
{
    nd_opts_usage(to,
                  "usage: consort-node info [--assume-charset CS] "
                  "[--no-charset-guess] FILE...\n",
                  "  --assume-charset CS  decode text of files that declare no "
                  "charset or\n"
                  "                       ISO_IR 100 as CS (e.g. GBK)\n"
                  "  --no-charset-guess   do not guess UTF-8/GB18030 for such "
                  "files");
}

int nd_cmd_info(int argc, char **argv)
{
    struct dcx_open_opts oo = {0};
    int n_pos;
    const struct nd_opt opts[] = {
        ND_STR("--assume-charset", &oo.assume_charset),
        ND_FLAG("--no-charset-guess", &oo.no_charset_guess),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("info", argc, argv, 1, opts, argc, &n_pos);
    if (pr == ND_OPTS_OK && n_pos == 0)
        pr = ND_OPTS_BAD;
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    int failed = 0;
    for (int i = 0; i < n_pos; i++) {
        if (i)
            putchar('\n');
        failed |= info_one(argv[i], &oo);
    }
    return failed ? 1 : 0;
}
