/* get_cancel.c - test client: a C-GET of a study that sends C-CANCEL at
 * the first pending response, when the node is already into its next
 * sub-operation (so the cancel meets it waiting for that C-STORE-RSP),
 * then a C-ECHO on the same association: it must still answer.
 * usage: get_cancel PORT STUDY_UID OUT_DIR
 * Prints "received N status 0xXXXX echo 0xXXXX"; exit 0 when the C-GET
 * ended cancelled (0xFE00) with fewer than all instances and the echo
 * succeeded. */
#include "dcx/dcx.h"
#include "dcx/net.h"
#include "dcx/tags.h"

#include <stdio.h>
#include <stdlib.h>

#define GET_STUDY "1.2.840.10008.5.1.4.1.2.2.3"

static int at_pending(void *user, unsigned done, int remaining)
{
    (void)user;
    (void)done;
    return remaining >= 0; /* said only by a pending response */
}

int main(int argc, char **argv)
{
    if (argc != 4 || dcx_init(NULL, NULL, DCX_LOG_ERROR) < 0)
        return 2;
    static struct dcx_scu_context ctx[128];
    static const char *const plain[] = {"1.2.840.10008.1.2.1",
                                        "1.2.840.10008.1.2"};
    size_t n = dcx_scu_get_contexts(GET_STUDY, ctx, 127);
    ctx[n++] = (struct dcx_scu_context){"1.2.840.10008.1.1", plain, 2, 0};
    struct dcx_scu_opts o = {.calling_ae = "GETCANCEL", .called_ae = "CONSORT",
                             .host = "127.0.0.1", .port = atoi(argv[1]),
                             .timeout = 30};
    dcx_scu *scu;
    struct dcx_error e;
    if (dcx_scu_open(&o, ctx, n, &scu, &e) < 0) {
        fprintf(stderr, "get_cancel: %s\n", e.msg);
        return 1;
    }
    struct dcx_attr q[] = {{DCX_TAG(0x0008, 0x0052), "STUDY"},
                           {DCX_TAG(0x0020, 0x000D), argv[2]}};
    unsigned got = 0;
    uint16_t st = 0, echo = 0xFFFF;
    int rc = dcx_scu_get(scu, GET_STUDY, q, 2, argv[3], at_pending, NULL,
                         &got, &st);
    if (rc == 0 && dcx_scu_echo(scu, &echo) < 0)
        echo = 0xFFFF;
    printf("received %u status 0x%04x echo 0x%04x%s%s\n", got, st, echo,
           rc < 0 ? " error " : "", rc < 0 ? dcx_scu_errmsg(scu) : "");
    dcx_scu_close(scu);
    return rc == 0 && st == 0xFE00 && echo == 0 ? 0 : 1;
}
