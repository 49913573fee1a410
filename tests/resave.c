/* resave.c - test helper: opens FILE and writes it to OUT with explicit VR
 * (explicit little endian when it was uncompressed, else as read), so the
 * bytes show the VR the data dictionary gave each implicit-VR element.
 * Prints the transfer syntax it read.
 * usage: resave FILE OUT */
#include "dcx/dataset.h"
#include "dcx/uids.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3 || dcx_init(NULL, NULL, DCX_LOG_ERROR) < 0)
        return 2;
    dcx_ds *ds;
    struct dcx_error e;
    if (dcx_ds_open(argv[1], NULL, &ds, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const char *ts = dcx_ds_transfer_syntax(ds);
    printf("%s\n", ts); /* as read: tests count implicit VR inputs */
    const char *out_ts = NULL;
    if (strcmp(ts, DCX_TS_IMPLICIT_LE) == 0 ||
        strcmp(ts, DCX_TS_EXPLICIT_LE) == 0 ||
        strcmp(ts, DCX_TS_EXPLICIT_BE) == 0 || strcmp(ts, DCX_TS_DEFLATED_LE) == 0)
        out_ts = DCX_TS_EXPLICIT_LE;
    int rc = dcx_ds_save(ds, argv[2], out_ts, &e);
    if (rc < 0)
        fprintf(stderr, "%s\n", e.msg);
    dcx_ds_close(ds);
    return rc < 0 ? 1 : 0;
}
