/* dump_values.c - test helper: prints the charset in use, then each value
 * of the given top-level tags as "gggg,eeee[i]=UTF-8 text", so that Python
 * tests can check text decoding and multi-value splitting.
 * usage: dump_values [--assume CS] [--no-guess] FILE TAG...   (TAG: ggggeeee) */
#include "dcx/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct dcx_open_opts oo = {0};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--assume") == 0 && i + 1 < argc)
            oo.assume_charset = argv[++i];
        else if (strcmp(argv[i], "--no-guess") == 0)
            oo.no_charset_guess = 1;
    }
    if (i >= argc || dcx_init(NULL, NULL, DCX_LOG_ERROR) < 0)
        return 2;
    dcx_ds *ds;
    struct dcx_error e;
    if (dcx_ds_open(argv[i], &oo, &ds, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int guessed;
    const char *cs = dcx_ds_charset(ds, &guessed);
    printf("charset=%s guessed=%d\n", cs, guessed);
    for (i++; i < argc; i++) {
        uint32_t tag = (uint32_t)strtoul(argv[i], NULL, 16);
        int vm = dcx_item_vm(dcx_ds_root(ds), tag);
        printf("%04x,%04x vm=%d\n", tag >> 16, tag & 0xFFFF, vm);
        for (int k = 0; k < vm; k++) {
            char buf[1024];
            int rc = dcx_item_get_str(dcx_ds_root(ds), tag, k, buf,
                                      sizeof buf);
            printf("%04x,%04x[%d]=%s%s\n", tag >> 16, tag & 0xFFFF, k, buf,
                   rc < 0 ? " (charset error)" : "");
        }
    }
    dcx_ds_close(ds);
    return 0;
}
