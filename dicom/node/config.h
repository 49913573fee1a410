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
};

/* Calling AE titles allowed one kind of access; any = 1 means "*". */
struct nd_acl {
    int any;
    int n;
    char ae[ND_MAX_ACL][ND_AE_LEN + 1];
};

struct nd_config {
    char ae_title[ND_AE_LEN + 1];
    int port;
    char storage[1024];        /* folder with files and index.sqlite */
    int sync;                  /* enum nd_sync */
    int max_associations;
    int max_pdu;               /* bytes */
    int idle_timeout;          /* s */
    char log_level[8];         /* error | warn | info | debug */
    struct nd_acl store, query, retrieve;
    int n_peers;
    struct nd_peer peers[ND_MAX_PEERS];
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

/* The peer with this AE title, or NULL. */
const struct nd_peer *nd_config_peer(const struct nd_config *cfg,
                                     const char *ae);

/* Writes the documented sample configuration (all keys, defaults). */
void nd_config_write_sample(FILE *to);

#endif
