/* config.h - consort-node's configuration: one INI file (parsed by Debian's
 * libinih), defaults that work with no file, and the sample file generated
 * from the same table. No globals: the struct is passed explicitly. */
#ifndef ND_CONFIG_H
#define ND_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define ND_AE_LEN 16
#define ND_MAX_PEERS 64
#define ND_MAX_ACL 64

enum nd_sync { ND_SYNC_NORMAL = 0, ND_SYNC_FULL = 1 };

struct nd_peer {
    char ae[ND_AE_LEN + 1];
    char host[256];
    int port;
    int associations; /* parallel associations when forwarding to it */
    int compress;     /* forward uncompressed images losslessly compressed */
    int tls;          /* associate with it over TLS ([node] tls_* files) */
    int accept_corrections; /* a copy of a known instance with other
                               content from it takes the archived one's
                               place (the copy replaced kept aside), as
                               an operator's `conflicts accept` would */
};

/* Calling AE titles allowed one kind of access; any = 1 means "*". */
struct nd_acl {
    int any;
    int n;
    char ae[ND_MAX_ACL][ND_AE_LEN + 1];
};

/* An address or network (CIDR) a calling AE title is bound to. */
struct nd_net {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix; /* bits */
};

#define ND_MAX_BINDS 64
#define ND_MAX_BIND_NETS 8

/* [bind]: a calling AE title accepted only from these networks. */
struct nd_bind {
    char ae[ND_AE_LEN + 1];
    int n;
    struct nd_net nets[ND_MAX_BIND_NETS];
};

#define ND_MAX_ROUTES 32
#define ND_MAX_ROUTE_TO 8
#define ND_MAX_SOP_PATTERNS 16

enum nd_from { ND_FROM_ANY, ND_FROM_MODALITIES, ND_FROM_PEERS };

/* A forwarding rule: every condition that is set must hold. */
struct nd_route {
    char name[32];
    int from;                   /* enum nd_from: is the calling AE a peer */
    struct nd_acl from_ae;      /* calling AE titles (unset: any) */
    struct nd_acl from_peer;    /* the peer the study came from (unset:
                                   any, including none) */
    struct nd_acl modality;     /* (0008,0060) values (unset: any) */
    int n_sop;                  /* SOP classes; a pattern ending in '.' is
                                   a prefix (aliases GSPS, SR, KO) */
    char sop[ND_MAX_SOP_PATTERNS][65];
    int n_to;
    char to[ND_MAX_ROUTE_TO][ND_AE_LEN + 1]; /* peers; "origin": the peer
                                                the study came from */
    int delay;                  /* s the study must be unchanged */
    int set_from_ae, set_from_peer, set_modality;
};

struct nd_config {
    char ae_title[ND_AE_LEN + 1];
    int port;
    char storage[1024];        /* folder with files and index.sqlite */
    int sync;                  /* enum nd_sync */
    int max_associations;
    int max_pdu;               /* bytes */
    int idle_timeout;          /* s */
    int acse_timeout;          /* s for an association request (ARTIM) */
    char log_level[8];         /* error | warn | info | debug */
    struct nd_acl store, query, retrieve;
    int bind_peers;            /* [access]: a peer's AE only from its host */
    int n_binds;
    struct nd_bind binds[ND_MAX_BINDS];
    char audit_log[1024];      /* "" = STORAGE/audit.log */
    int tls_only;              /* no plain port; peers over TLS only */
    char teaching_dir[1024];   /* "" = teaching exports wait for a
                                  command */
    int teaching_delay;        /* s a marked study must be unchanged */
    int n_peers;
    struct nd_peer peers[ND_MAX_PEERS];
    /* TLS: a second port, and the files for both directions */
    int tls_port;                 /* 0: none */
    char tls_cert[1024], tls_key[1024], tls_ca[1024];
    int tls_verify_peer;          /* mutual authentication */
    /* forwarding */
    char upstream[ND_AE_LEN + 1]; /* default rule: what modalities send */
    int back_to_origin;           /* default rule: GSPS/SR/KO made here go
                                     to the peer their study came from */
    int retry_min, retry_max;     /* s, backoff bounds */
    int max_attempts;             /* refusals before an item is dead */
    int forward_timeout;          /* s for connect and each response */
    int n_routes;
    struct nd_route routes[ND_MAX_ROUTES];
};

/* Fills cfg with the defaults (AE CONSORT, port 11112, ./var, sync full,
 * any AE may store, query and retrieve). */
void nd_config_defaults(struct nd_config *cfg);

/* Reads path over the current values. 0, or -1 with a one-line reason in
 * err (file missing, unknown key, bad value with its line). */
int nd_config_load(struct nd_config *cfg, const char *path, char *err,
                   size_t errlen);

/* Sets one [node] key from text, checked as in a file. 0 or -1 + err. */
int nd_config_set(struct nd_config *cfg, const char *key, const char *value,
                  char *err, size_t errlen);

/* 1 if the calling AE may use the access an ACL describes. */
int nd_acl_allows(const struct nd_acl *acl, const char *ae);

/* Parses "10.1.2.3", "10.1.2.0/24", "fd00::/8". 0 or -1. */
int nd_net_parse(const char *s, struct nd_net *out);

/* 1 if the numeric address host (as the SCP reports it) is in n. */
int nd_net_contains(const struct nd_net *n, const char *host);

/* The [bind] entry of a calling AE title, or NULL when it is not bound. */
const struct nd_bind *nd_config_bind(const struct nd_config *cfg,
                                     const char *ae);

/* bind_peers = yes: binds every [peer] not in [bind] to the addresses its
 * host resolves to (at start-up, so a name is looked up once). 0, or -1
 * with err naming a host that does not resolve. */
int nd_config_bind_peers(struct nd_config *cfg, char *err, size_t errlen);

/* The peer with this AE title, or NULL. */
const struct nd_peer *nd_config_peer(const struct nd_config *cfg,
                                     const char *ae);

/* 1 if the SOP class matches one of the route's patterns (or it has
 * none). */
int nd_route_sop_matches(const struct nd_route *r, const char *sop_class);

/* The audit trail's path: [node] audit_log, else STORAGE/audit.log. */
void nd_config_audit_path(const struct nd_config *cfg, char *out,
                          size_t len);

/* Writes the documented sample configuration (all keys, defaults). */
void nd_config_write_sample(FILE *to);

#endif
