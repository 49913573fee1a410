/* dcx/net.h - DICOM networking over DCMTK's dcmnet: a listening SCP that
 * runs each association on its own thread and hands DIMSE requests to C
 * hooks, and an SCU for echo and store. No SDL/GL.
 * Threads: dcx_scp_run() runs on one thread; hooks run on association
 * threads, several at once, so they must be thread-safe. A dcx_scu is used
 * by one thread at a time. Every socket has TCP_NODELAY set (DESIGN.md). */
#ifndef DCX_NET_H
#define DCX_NET_H

#include <stddef.h>
#include <stdint.h>

#include "dcx/dcx.h"
#include "dcx/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DCX_AE_LEN 16 /* AE titles: up to 16 characters (PS3.5 6.2) */

/* DIMSE status codes used here (PS3.4 Annex B, C; PS3.7 Annex C). */
#define DCX_STATUS_SUCCESS 0x0000
#define DCX_STATUS_PENDING 0xFF00
/* C-FIND pending, "one or more Optional Keys were not supported for
 * existence and/or matching" (PS3.4 Table C.4-1) */
#define DCX_STATUS_PENDING_WARNING 0xFF01
#define DCX_STATUS_CANCEL 0xFE00
#define DCX_STATUS_OUT_OF_RESOURCES 0xA700
#define DCX_STATUS_DATA_MISMATCH 0xA900  /* data set does not match class */
#define DCX_STATUS_CANNOT_UNDERSTAND 0xC000
#define DCX_STATUS_SOP_CLASS_NOT_SUPPORTED 0x0122
#define DCX_STATUS_PROCESSING_FAILURE 0x0110

/* Services an association may use; on_associate returns a mask of them. */
enum {
    DCX_SVC_ECHO = 1 << 0,
    DCX_SVC_STORE = 1 << 1,   /* peer sends us instances */
    DCX_SVC_FIND = 1 << 2,
    DCX_SVC_MOVE = 1 << 3,
    DCX_SVC_GET = 1 << 4,
};

/* Who is on the other end; borrowed for the callback's duration. */
/* TLS (DCMTK dcmtls over OpenSSL, BCP 195 profile: TLS 1.2 or later). */
struct dcx_tls {
    const char *cert_file; /* our certificate, PEM (a server needs one) */
    const char *key_file;  /* its private key, PEM, not encrypted */
    const char *ca_file;   /* CA certificates (PEM) the peer's certificate
                              must chain to */
    int verify_peer;       /* 1: the peer must present a certificate that
                              verifies (mutual authentication) */
};

struct dcx_assoc_info {
    unsigned long id;                /* association number, for logs */
    char calling_ae[DCX_AE_LEN + 1]; /* the peer's AE title */
    char called_ae[DCX_AE_LEN + 1];  /* the AE title it asked for */
    char peer_host[64];              /* numeric address */
    unsigned services;               /* DCX_SVC_* granted */
    int tls;                         /* 1: came in on the TLS port */
    void *user;                      /* the hooks' per-association state:
                                        set by on_associate */
};

/* One C-STORE request; strings borrowed for the callback's duration. */
struct dcx_store_rq {
    const char *sop_class_uid;
    const char *sop_instance_uid;
    const char *transfer_syntax_uid; /* of the presentation context */
    uint16_t message_id;
    const char *move_originator_ae;  /* "" unless a C-MOVE sub-operation */
    uint64_t file_size;              /* bytes of the received Part-10 file */
    int fd;                          /* from open_store_file, or -1 */
};

/* Counts reported when an association ends. */
struct dcx_assoc_stats {
    unsigned long stores_ok;     /* C-STORE answered with success/warning */
    unsigned long stores_failed; /* answered with a failure status */
    unsigned long long bytes;    /* data set bytes received */
    int aborted;                 /* 1: ended by A-ABORT or a broken link */
};

/* One attribute of a C-FIND response: the value as UTF-8 text (numbers as
 * their decimal text, several values joined by backslashes). The library
 * gives it the dictionary's VR and encodes the response in the query's
 * character set, or UTF-8 (ISO_IR 192) when that cannot hold it. */
struct dcx_attr {
    uint32_t tag;
    const char *value;
};

typedef struct dcx_find_ctx dcx_find_ctx;

/* Sends one C-FIND match, a pending response with status
 * DCX_STATUS_PENDING or DCX_STATUS_PENDING_WARNING (some key of the query
 * was neither matched nor returned). 0; DCX_ECANCELLED when the peer sent
 * C-CANCEL (stop, and return DCX_STATUS_CANCEL from on_find); another
 * negative code when the link failed (stop). */
int dcx_find_reply(dcx_find_ctx *ctx, uint16_t status,
                   const struct dcx_attr *attrs, size_t n);

/* What a C-MOVE or C-GET retrieves: Part-10 files, in sending order. The
 * hook fills it with malloc'd strings in malloc'd arrays; the library
 * frees them. uids (optional, NULL or n entries) are the files' SOP
 * Instance UIDs, named in the final response's Failed SOP Instance UID
 * List when a sub-operation fails; without them the library reads the
 * UID from the file, so a file it cannot read goes unnamed. */
struct dcx_file_list {
    char **paths;
    size_t n;
    char **uids;
};

struct dcx_scp_hooks {
    void *user;
    /* An association was requested (called AE already checked). Return the
     * DCX_SVC_* mask the calling AE may use; 0 rejects it as "calling AE
     * title not recognised". It may set a->user (freed in on_end; on_end
     * also runs when it rejected). NULL: everything. */
    unsigned (*on_associate)(void *user, struct dcx_assoc_info *a);
    /* Where to receive a C-STORE data set: an open read/write descriptor
     * (an O_TMPFILE in the folder the instance will end up in saves a
     * directory entry and a rename), or -1 for a temp file in tmp_dir.
     * rq->file_size is 0 here. NULL: always tmp_dir. */
    int (*open_store_file)(void *user, const struct dcx_assoc_info *a,
                           const struct dcx_store_rq *rq);
    /* A C-STORE data set was received into tmp_path, a Part-10 file with a
     * meta header made from the request (with a descriptor from
     * open_store_file, tmp_path is "/proc/self/fd/N" and rq->fd is it).
     * Return the DIMSE status to send. The hook owns the file from then
     * on: it renames, links, closes or removes it. */
    uint16_t (*on_store)(void *user, const struct dcx_assoc_info *a,
                         const struct dcx_store_rq *rq, const char *tmp_path);
    /* C-FIND (Patient or Study Root, model_uid): reply to each match with
     * dcx_find_reply(), then return the final status (success, cancel,
     * or a failure such as 0xA900 / 0xC000 for a bad query). query is
     * borrowed, its text already UTF-8. */
    uint16_t (*on_find)(void *user, const struct dcx_assoc_info *a,
                        const char *model_uid, dcx_ds *query,
                        dcx_find_ctx *ctx);
    /* C-MOVE / C-GET: resolve the query (model_uid) to files. Return 0
     * with out filled, or a failure status (e.g. 0xA900, 0xC000). */
    uint16_t (*on_retrieve)(void *user, const struct dcx_assoc_info *a,
                            const char *model_uid, dcx_ds *query,
                            struct dcx_file_list *out);
    /* C-MOVE: where is move destination dest_ae? 0 with host/port, or -1
     * if unknown (answered 0xA801). */
    int (*on_move_dest)(void *user, const struct dcx_assoc_info *a,
                        const char *dest_ae, char *host, size_t hostlen,
                        int *port, const struct dcx_tls **out_tls);
    /* A C-MOVE or C-GET ended: how many sub-operations completed, failed,
     * warned, and whether it was cancelled. */
    void (*on_retrieve_end)(void *user, const struct dcx_assoc_info *a,
                            int is_get, const char *dest_ae,
                            unsigned completed, unsigned failed,
                            unsigned warning, int cancelled);
    /* The association ended (released, aborted or broken). */
    void (*on_end)(void *user, const struct dcx_assoc_info *a,
                   const struct dcx_assoc_stats *s);
};

/* Zero-initialised fields mean defaults. */
struct dcx_scp_opts {
    const char *calling_ae_for_moves; /* our AE in C-MOVE sub-associations;
                                         NULL = ae_title */
    const char *ae_title;   /* our AE title (required) */
    int port;               /* plain TCP port; 0: none (TLS only) */
    const char *tmp_dir;    /* where received data sets land (required) */
    int max_assocs;         /* concurrent associations; more are rejected
                               as "local limit exceeded". 0 = 32 */
    unsigned long max_pdu;  /* our maximum receive PDU; 0 = 131072 */
    int acse_timeout;       /* s to read an association request; 0 = 10 */
    int dimse_timeout;      /* s a peer may idle inside an association
                               before it is aborted; 0 = 300 */
    int accept_any_called_ae; /* 1: do not check the called AE title */
    int tls_port;           /* a second port for TLS associations; 0 none */
    const struct dcx_tls *tls; /* its settings (required with tls_port) */
};

typedef struct dcx_scp dcx_scp;

/* Binds the port. On failure *out_scp = NULL and out_err (may be NULL) says
 * why: DCX_EIO (port in use, no permission), DCX_EINVAL (bad options). */
int dcx_scp_create(const struct dcx_scp_opts *opts,
                   const struct dcx_scp_hooks *hooks, dcx_scp **out_scp,
                   struct dcx_error *out_err);

/* Accepts associations until dcx_scp_stop(); then lets each running
 * association finish its current operation, aborts it, and returns once
 * every association thread has ended. 0, or a negative DCX_E* code. */
int dcx_scp_run(dcx_scp *scp);

/* Asks dcx_scp_run() to return (within about a second). Async-signal-safe:
 * may be called from a signal handler or another thread. */
void dcx_scp_stop(dcx_scp *scp);

/* 1 when no connection is being served (no association request being
 * read, no association running), else 0. For tests and harnesses that
 * must know the SCP has finished with what they sent. */
int dcx_scp_idle(dcx_scp *scp);

/* Closes the port. NULL is a no-op. Only after dcx_scp_run() returned. */
void dcx_scp_destroy(dcx_scp *scp);

/* ---- SCU ---- */

struct dcx_scu_opts {
    const char *calling_ae;  /* ours; NULL = "CONSORT" */
    const char *called_ae;   /* theirs (required) */
    const char *host;        /* (required) */
    int port;                /* (required) */
    int timeout;             /* s for connect and each response; 0 = 30 */
    unsigned long max_pdu;   /* our maximum receive PDU; 0 = 131072 */
    const struct dcx_tls *tls; /* NULL: plain TCP */
};

/* A presentation context to propose: abstract syntax and, in order of
 * preference, transfer syntaxes. */
struct dcx_scu_context {
    const char *abstract_syntax;
    const char *const *transfer_syntaxes;
    size_t n_transfer_syntaxes;
    int role; /* 0: default (we are SCU); DCX_SCU_ROLE_SCP: we also act as
                 SCP for it (storage classes for C-GET), by role selection */
};

#define DCX_SCU_ROLE_SCP 1

typedef struct dcx_scu dcx_scu;

/* Connects and negotiates the given contexts (at most 128). On failure
 * *out_scu = NULL: DCX_EREFUSED (association
 * rejected permanently; out_err says why), DCX_EBUSY (rejected for now),
 * DCX_EUNSUPPORTED (associated, but the peer accepted none of the
 * contexts), DCX_ENET (no connection), DCX_EINVAL. */
int dcx_scu_open(const struct dcx_scu_opts *opts,
                 const struct dcx_scu_context *ctx, size_t n_ctx,
                 dcx_scu **out_scu, struct dcx_error *out_err);

/* What a C-STORE of the DICOM file at path names (dcx_scu_store reads
 * it the same way): SOP Class and SOP Instance UID, and its transfer
 * syntax. A UID stored with VR UN (PS3.5 6.2.2) is read as the text it
 * holds. 0; DCX_EBADDATA when a UID is missing or not a valid UID
 * (out_err says which), DCX_EIO when the file cannot be read. The out
 * strings are written only on success. */
int dcx_store_head(const char *path, char *out_class, size_t class_len,
                   char *out_inst, size_t inst_len, char *out_ts, size_t ts_len,
                   struct dcx_error *out_err);

/* C-FIND at the given model (e.g. Study Root FIND UID): query holds the
 * keys as (tag, UTF-8 value) pairs, including (0008,0052) the level. fn is
 * called per match with the response data set (borrowed, text UTF-8);
 * return non-zero from it to send C-CANCEL. 0 and the final status, or a
 * negative DCX_E* code. */
int dcx_scu_find(dcx_scu *scu, const char *model_uid,
                 const struct dcx_attr *query, size_t n,
                 int (*fn)(void *user, dcx_ds *match), void *user,
                 uint16_t *out_status);

/* Progress of a C-GET or C-MOVE, after each instance received (C-GET)
 * and each pending response: the sub-operations done so far (instances
 * received; for a C-MOVE, completed ones), and those the peer still has
 * to do as its last pending response said (-1: not said). Non-zero asks
 * the peer to stop (C-CANCEL, sent once); the final status is then Cancel
 * (0xFE00) unless the peer had finished. */
typedef int (*dcx_retrieve_progress_fn)(void *user, unsigned done,
                                        int remaining);

/* C-GET at the given model: the peer sends the matching instances back on
 * this association (propose their storage classes with the SCP role in
 * dcx_scu_open: DCX_SCU_ROLE_SCP); each is written to out_dir as
 * <SOP Instance UID>.dcm, bit for bit. progress may be NULL; while the
 * peer is silent it is also called once a second (a cancel then goes out
 * at once). A peer silent for the association's timeout (a node gone
 * away, a link down) ends it with DCX_ENET. 0 and the final status and
 * counts, or a negative DCX_E* code. */
int dcx_scu_get(dcx_scu *scu, const char *model_uid,
                const struct dcx_attr *query, size_t n, const char *out_dir,
                dcx_retrieve_progress_fn progress, void *user,
                unsigned *out_received, uint16_t *out_status);

/* The contexts a C-GET needs: the model (query/retrieve UID), and the
 * common storage classes (CT, MR, CR, DX, MG, US, SC, XA, NM, PET,
 * enhanced CT/MR, GSPS, SR, KO, PDF) with the SCP role, uncompressed and
 * in the lossless and JPEG baseline syntaxes, as many as fit in max.
 * Returns how many were written. The strings are static. */
size_t dcx_scu_get_contexts(const char *model, struct dcx_scu_context *out,
                            size_t max);

/* C-MOVE at the given model to dest_ae; progress may be NULL. 0 and the
 * final status with completed/failed sub-operation counts, or a negative
 * DCX_E* code. */
int dcx_scu_move(dcx_scu *scu, const char *model_uid, const char *dest_ae,
                 const struct dcx_attr *query, size_t n,
                 dcx_retrieve_progress_fn progress, void *user,
                 unsigned *out_completed, unsigned *out_failed,
                 uint16_t *out_status);

/* C-ECHO. 0 and *out_status, or a negative DCX_E* code (transport). */
int dcx_scu_echo(dcx_scu *scu, uint16_t *out_status);

/* C-STORE of the Part-10 file at path. If the peer did not accept the
 * file's own transfer syntax, the data set is converted to one it accepted
 * (decompressed). Two results (STYLE.md 3): a negative DCX_E* code when the
 * request could not be sent or answered (DCX_EUNSUPPORTED: no accepted
 * context for its SOP class / syntax; the association is still usable), or
 * 0 and the peer's DIMSE status in *out_status, which may be a failure. */
int dcx_scu_store(dcx_scu *scu, const char *path, uint16_t *out_status);

/* What dcx_scu_store_ex sent. */
struct dcx_store_result {
    uint64_t bytes;            /* data set bytes sent (the file's size when
                                  sent as stored) */
    char transfer_syntax[65];  /* the syntax it went in */
};

/* dcx_scu_store; with DCX_STORE_LOSSLESS, uncompressed pixel data goes in
 * the smallest lossless encoding the peer accepted in a context of its own
 * (JPEG-LS, else JPEG lossless SV1; deflated explicit little endian too
 * for colour images), or as stored when none is smaller. out may be
 * NULL. */
#define DCX_STORE_LOSSLESS 1
int dcx_scu_store_ex(dcx_scu *scu, const char *path, unsigned flags,
                     uint16_t *out_status, struct dcx_store_result *out);

/* Releases the association (aborts it if release fails) and frees scu.
 * NULL is a no-op. */
void dcx_scu_close(dcx_scu *scu);

/* Detail of the last failure on scu; valid until the next call on it. */
const char *dcx_scu_errmsg(const dcx_scu *scu);

/* The status as text, e.g. "0xA700 out of resources". Static string. */
const char *dcx_status_str(uint16_t status);

#ifdef __cplusplus
}
#endif

#endif
