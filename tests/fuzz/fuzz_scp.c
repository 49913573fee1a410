/* fuzz_scp.c - libFuzzer target for the SCP's PDU and association reader
 * (dicom/src/dcmtk/net_scp.cc over DCMTK's dcmnet): each input is the
 * byte stream a client sends on one TCP connection to an in-process SCP
 * on 127.0.0.1 (A-ASSOCIATE-RQ, P-DATA with DIMSE commands and data sets,
 * A-RELEASE-RQ, ...). The harness sends it, half-closes, reads whatever
 * the SCP answers until it closes, and waits until the SCP serves no
 * connection before the next input, so that sanitizer and leak reports
 * belong to this input. Seeds are recorded from DCMTK's echoscu, storescu,
 * findscu, getscu and movescu talking to consort-node (run.sh scp).
 *
 * The hooks grant every service: C-STORE data sets are received and
 * dropped, C-FIND answers one match (Chinese name: the response encoder
 * runs), C-GET sends one small file (the sub-operation path runs), C-MOVE
 * destinations are unknown. An SCP that still serves the connection 15 s
 * after the client closed aborts with "fuzz_scp: hang". */
#define _GNU_SOURCE
#include "dcx/dcx.h"
#include "dcx/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static dcx_scp *g_scp;
static int g_port;
static char g_dir[64], g_file[128], g_tmp[128];

static void discard(enum dcx_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

static unsigned on_associate(void *user, struct dcx_assoc_info *a)
{
    (void)user;
    (void)a;
    return DCX_SVC_ECHO | DCX_SVC_STORE | DCX_SVC_FIND | DCX_SVC_MOVE |
           DCX_SVC_GET;
}

static uint16_t on_store(void *user, const struct dcx_assoc_info *a,
                         const struct dcx_store_rq *rq, const char *tmp)
{
    (void)user;
    (void)a;
    if (rq->fd >= 0)
        close(rq->fd);
    else
        unlink(tmp);
    return DCX_STATUS_SUCCESS;
}

static uint16_t on_find(void *user, const struct dcx_assoc_info *a,
                        const char *model, dcx_ds *query, dcx_find_ctx *ctx)
{
    (void)user;
    (void)a;
    (void)model;
    (void)query;
    const struct dcx_attr attrs[] = {
        {0x00080052, "STUDY"},
        {0x00100010, "Wang^Wei=\xe7\x8e\x8b^\xe4\xbc\x9f"},
        {0x00100020, "P001"},
        {0x0020000D, "1.2.826.0.1.1"},
        {0x00080020, "20240315"},
    };
    int rc = dcx_find_reply(ctx, DCX_STATUS_PENDING, attrs, sizeof attrs / sizeof attrs[0]);
    return rc == DCX_ECANCELLED ? DCX_STATUS_CANCEL : DCX_STATUS_SUCCESS;
}

static uint16_t on_retrieve(void *user, const struct dcx_assoc_info *a,
                            const char *model, dcx_ds *query,
                            struct dcx_file_list *out)
{
    (void)user;
    (void)a;
    (void)model;
    (void)query;
    out->paths = malloc(sizeof *out->paths);
    if (!out->paths)
        return DCX_STATUS_OUT_OF_RESOURCES;
    out->paths[0] = strdup(g_file);
    out->n = out->paths[0] ? 1 : 0;
    return 0;
}

static int on_move_dest(void *user, const struct dcx_assoc_info *a,
                        const char *dest, char *host, size_t hostlen,
                        int *port, const struct dcx_tls **tls)
{
    (void)user;
    (void)a;
    (void)dest;
    (void)host;
    (void)hostlen;
    (void)port;
    (void)tls;
    return -1;
}

/* one explicit-VR-little-endian element with a short (16-bit) length */
static size_t el(uint8_t *o, uint16_t g, uint16_t e, const char *vr,
                 const char *v)
{
    size_t n = strlen(v), pad = n & 1;
    o[0] = (uint8_t)g, o[1] = (uint8_t)(g >> 8);
    o[2] = (uint8_t)e, o[3] = (uint8_t)(e >> 8);
    o[4] = (uint8_t)vr[0], o[5] = (uint8_t)vr[1];
    o[6] = (uint8_t)(n + pad), o[7] = (uint8_t)((n + pad) >> 8);
    memcpy(o + 8, v, n);
    if (pad)
        o[8 + n] = strcmp(vr, "UI") == 0 ? '\0' : ' ';
    return 8 + n + pad;
}

/* A small Part-10 file (Secondary Capture class, no image) for C-GET to
 * send. */
static void write_file(void)
{
    static uint8_t b[1024];
    const char *cls = "1.2.840.10008.5.1.4.1.1.7", *uid = "1.2.826.0.1.1.1.1";
    size_t n = 128;
    memcpy(b + n, "DICM", 4);
    n += 4;
    uint8_t meta[512];
    size_t m = 0;
    meta[m++] = 0x02, meta[m++] = 0x00, meta[m++] = 0x01, meta[m++] = 0x00;
    memcpy(meta + m, "OB\0\0\2\0\0\0\0\1", 10);
    m += 10;
    m += el(meta + m, 2, 2, "UI", cls);
    m += el(meta + m, 2, 3, "UI", uid);
    m += el(meta + m, 2, 0x10, "UI", "1.2.840.10008.1.2.1");
    b[n] = 2, b[n + 1] = 0, b[n + 2] = 0, b[n + 3] = 0;
    memcpy(b + n + 4, "UL\4\0", 4);
    b[n + 8] = (uint8_t)m, b[n + 9] = (uint8_t)(m >> 8), b[n + 10] = 0,
    b[n + 11] = 0;
    n += 12;
    memcpy(b + n, meta, m);
    n += m;
    n += el(b + n, 8, 0x16, "UI", cls);
    n += el(b + n, 8, 0x18, "UI", uid);
    n += el(b + n, 8, 0x60, "CS", "OT");
    n += el(b + n, 0x10, 0x10, "PN", "FUZZ^GET");
    n += el(b + n, 0x10, 0x20, "LO", "P001");
    n += el(b + n, 0x20, 0x0D, "UI", "1.2.826.0.1.1");
    n += el(b + n, 0x20, 0x0E, "UI", "1.2.826.0.1.1.1");
    FILE *f = fopen(g_file, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0)
        abort();
}

static void cleanup(void)
{
    unlink(g_file);
    rmdir(g_tmp);
    rmdir(g_dir);
}

static void *run_scp(void *arg)
{
    (void)arg;
    dcx_scp_run(g_scp);
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (dcx_init(discard, NULL, DCX_LOG_ERROR) != 0)
        abort();
    snprintf(g_dir, sizeof g_dir, "/tmp/consort-fuzz-scp-XXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    snprintf(g_tmp, sizeof g_tmp, "%s/tmp", g_dir);
    snprintf(g_file, sizeof g_file, "%s/get.dcm", g_dir);
    mkdir(g_tmp, 0700);
    write_file();
    atexit(cleanup);
    static const struct dcx_scp_hooks hooks = {
        .on_associate = on_associate,
        .on_store = on_store,
        .on_find = on_find,
        .on_retrieve = on_retrieve,
        .on_move_dest = on_move_dest,
    };
    /* a port of our own per process (fork mode runs several) */
    for (int i = 0; i < 200 && !g_scp; i++) {
        g_port = 20000 + (int)((unsigned)(getpid() * 7 + i * 131) % 30000);
        struct dcx_scp_opts o = {.ae_title = "CONSORT",
                                 .port = g_port,
                                 .tmp_dir = g_tmp,
                                 .max_assocs = 4,
                                 .acse_timeout = 5,
                                 .dimse_timeout = 5};
        dcx_scp_create(&o, &hooks, &g_scp, NULL);
    }
    if (!g_scp) {
        fprintf(stderr, "fuzz_scp: no free port\n");
        abort();
    }
    pthread_t th;
    if (pthread_create(&th, NULL, run_scp, NULL) != 0)
        abort();
    pthread_detach(th);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        abort();
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "fuzz_scp: connect: %s\n", strerror(errno));
        abort();
    }
    /* send and read at once: a server answering early must not block us */
    size_t off = 0;
    int wr_open = 1;
    double t0 = now();
    char buf[65536];
    for (;;) {
        if (wr_open && off == size) {
            shutdown(fd, SHUT_WR);
            wr_open = 0;
        }
        struct pollfd p = {fd, (short)(POLLIN | (wr_open ? POLLOUT : 0)), 0};
        if (poll(&p, 1, 500) < 0 && errno != EINTR)
            break;
        if (p.revents & POLLOUT && wr_open) {
            ssize_t w = send(fd, data + off, size - off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                off += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                wr_open = 0; /* the SCP closed: fine */
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                break;
        }
        if (now() - t0 > 15) {
            fprintf(stderr, "fuzz_scp: hang: the SCP kept the connection "
                            "open 15 s\n");
            abort();
        }
    }
    close(fd);
    while (!dcx_scp_idle(g_scp)) {
        if (now() - t0 > 15) {
            fprintf(stderr, "fuzz_scp: hang: still serving 15 s after the "
                            "client closed\n");
            abort();
        }
        usleep(200);
    }
    return 0;
}
