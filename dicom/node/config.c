/* config.c - the [node] keys as one static table (name, type, default,
 * limits, offset, doc) that drives defaults, parsing and the sample file;
 * [access] lists and [peer AE] sections beside it. Parsing is libinih's. */
#define _GNU_SOURCE
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_INT, K_SYNC, K_LEVEL, K_BOOL };

struct key {
    const char *name;
    enum kind kind;
    const char *dflt;
    long min, max;    /* K_INT: range; K_STR: max length in max */
    size_t off, size; /* into struct nd_config */
    const char *doc;
};

#define F(field) offsetof(struct nd_config, field), \
                 sizeof(((struct nd_config *)0)->field)

static const struct key node_keys[] = {
    {"ae_title", K_STR, "CONSORT", 1, ND_AE_LEN, F(ae_title),
     "our AE title (1-16 characters, no backslash)"},
    {"port", K_INT, "11112", 1, 65535, F(port), "TCP port to listen on"},
    {"storage", K_STR, "./var", 1, 1023, F(storage),
     "folder holding the instance files and index.sqlite"},
    {"sync", K_SYNC, "full", 0, 0, F(sync),
     "full: answer a C-STORE after file and folder are fsync'd (survives "
     "a power cut); normal: after the file is placed and indexed (survives "
     "a node crash)"},
    {"max_associations", K_INT, "32", 1, 1000, F(max_associations),
     "associations served at once; more are rejected (transient)"},
    {"max_pdu", K_INT, "131072", 4096, 131072, F(max_pdu),
     "largest PDU we accept, bytes"},
    {"idle_timeout", K_INT, "300", 5, 86400, F(idle_timeout),
     "seconds a peer may stay silent inside an association"},
    {"acse_timeout", K_INT, "10", 1, 300, F(acse_timeout),
     "seconds a connection may take to send its association request "
     "(ARTIM); a silent or trickling peer is dropped after that"},
    {"log_level", K_LEVEL, "info", 0, 0, F(log_level),
     "error | warn | info (one line per association and instance) | "
     "debug"},
    {"tls_port", K_INT, "0", 0, 65535, F(tls_port),
     "TCP port for TLS associations (DICOM's is 2762); 0: none"},
    {"tls_cert", K_STR, "", 0, 1023, F(tls_cert),
     "our certificate (PEM): served on tls_port, shown to TLS peers"},
    {"tls_key", K_STR, "", 0, 1023, F(tls_key),
     "its private key (PEM, not encrypted; keep it readable by the node "
     "only)"},
    {"tls_ca", K_STR, "", 0, 1023, F(tls_ca),
     "CA certificates (PEM) a peer's certificate must chain to"},
    {"tls_verify_peer", K_BOOL, "yes", 0, 0, F(tls_verify_peer),
     "yes: a TLS peer must present a certificate signed by tls_ca (mutual "
     "authentication)"},
    {"tls_only", K_BOOL, "no", 0, 0, F(tls_only),
     "refuse DICOM in clear: no plain port (tls_port only), and every\n; "
     "[peer] must have tls = yes"},
    {"audit_log", K_STR, "", 0, 1023, F(audit_log),
     "append-only audit trail, JSON lines (consort-node audit reads it);\n; "
     "empty: STORAGE/audit.log"},
    {"teaching_dir", K_STR, "", 0, 1023, F(teaching_dir),
     "folder the studies marked for teaching (key object \"For Teaching "
     "File\n; Export\") are exported to, de-identified, with a DICOMDIR; "
     "empty: they wait\n; for `consort-node export --teaching DIR`"},
    {"teaching_delay", K_INT, "300", 0, 86400, F(teaching_delay),
     "seconds a marked study must receive nothing (a report may follow "
     "the\n; mark) before it is exported"},
    {"upstream", K_STR, "", 0, ND_AE_LEN, F(upstream),
     "peer that receives everything modalities (calling AEs that are not "
     "peers) store here; empty: none. A county node names its provincial "
     "node"},
    {"back_to_origin", K_BOOL, "yes", 0, 0, F(back_to_origin),
     "presentation states, SR and key object selections made here about a "
     "study that came from a peer go back to that peer"},
    {"retry_min", K_INT, "5", 1, 3600, F(retry_min),
     "seconds before a peer that could not be reached, or an instance it "
     "refused, is tried again; doubles (with jitter) per failure in a row"},
    {"retry_max", K_INT, "300", 1, 86400, F(retry_max),
     "longest wait between retries, seconds"},
    {"max_attempts", K_INT, "5", 1, 1000, F(max_attempts),
     "times a peer may refuse an instance before it is dead (an operator "
     "retries or drops it); a peer that cannot be reached or rejects the "
     "association is retried forever, as a whole, one association attempt "
     "per wait"},
    {"forward_timeout", K_INT, "60", 5, 3600, F(forward_timeout),
     "seconds to wait for a peer's connect and each answer when "
     "forwarding"},
};

/* A whole decimal number in [min, max] into *out; 0 or -1. */
static int parse_int(const char *v, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max)
        return -1;
    *out = (int)n;
    return 0;
}

static int set_key(struct nd_config *cfg, const struct key *k,
                   const char *v, char *err, size_t errlen)
{
    char *dst = (char *)cfg + k->off;
    switch (k->kind) {
    case K_STR:
        if (strlen(v) < (size_t)k->min || strlen(v) > (size_t)k->max) {
            snprintf(err, errlen, "%s: length must be %ld-%ld", k->name,
                     k->min, k->max);
            return -1;
        }
        if (strcmp(k->name, "ae_title") == 0 && strchr(v, '\\')) {
            snprintf(err, errlen, "ae_title: no backslash allowed");
            return -1;
        }
        snprintf(dst, k->size, "%s", v);
        return 0;
    case K_INT:
        if (parse_int(v, k->min, k->max, (int *)(void *)dst) < 0) {
            snprintf(err, errlen, "%s: '%s' is not a number in %ld-%ld",
                     k->name, v, k->min, k->max);
            return -1;
        }
        return 0;
    case K_SYNC:
        if (strcmp(v, "full") == 0)
            *(int *)(void *)dst = ND_SYNC_FULL;
        else if (strcmp(v, "normal") == 0)
            *(int *)(void *)dst = ND_SYNC_NORMAL;
        else {
            snprintf(err, errlen, "sync: '%s' is not full or normal", v);
            return -1;
        }
        return 0;
    case K_BOOL:
        if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
            strcmp(v, "1") == 0)
            *(int *)(void *)dst = 1;
        else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
                 strcmp(v, "0") == 0)
            *(int *)(void *)dst = 0;
        else {
            snprintf(err, errlen, "%s: '%s' is not yes or no", k->name, v);
            return -1;
        }
        return 0;
    case K_LEVEL:
        if (strcmp(v, "error") && strcmp(v, "warn") && strcmp(v, "info") &&
            strcmp(v, "debug")) {
            snprintf(err, errlen, "log_level: '%s' is not error, warn, "
                                  "info or debug", v);
            return -1;
        }
        snprintf(dst, k->size, "%s", v);
        return 0;
    }
    return -1;
}

/* "CT1, US2 MR3" or "*" (several lines append). */
static int set_acl(struct nd_acl *acl, const char *v, char *err,
                   size_t errlen)
{
    const char *p = v;
    while (*p) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        size_t n = 0;
        while (p[n] && !isspace((unsigned char)p[n]) && p[n] != ',')
            n++;
        if (n == 0)
            break;
        if (n == 1 && *p == '*') {
            acl->any = 1;
        } else if (n > ND_AE_LEN) {
            snprintf(err, errlen, "AE title '%.*s' is over 16 characters",
                     (int)n, p);
            return -1;
        } else if (acl->n >= ND_MAX_ACL) {
            snprintf(err, errlen, "more than %d AE titles in one list",
                     ND_MAX_ACL);
            return -1;
        } else {
            memcpy(acl->ae[acl->n], p, n);
            acl->ae[acl->n++][n] = '\0';
        }
        p += n;
    }
    return 0;
}

void nd_config_defaults(struct nd_config *cfg)
{
    char err[128];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < sizeof node_keys / sizeof node_keys[0]; i++)
        set_key(cfg, &node_keys[i], node_keys[i].dflt, err, sizeof err);
    cfg->store.any = cfg->query.any = cfg->retrieve.any = 1;
}

struct parse {
    struct nd_config *cfg;
    char *err;
    size_t errlen;
    int acl_seen[3]; /* a file's [access] list replaces the default "*" */
};

/* SOP class patterns: UIDs, prefixes ending in '.', or aliases. */
static int add_sop(struct nd_route *r, const char *v, char *err,
                   size_t errlen)
{
    static const struct {
        const char *alias, *pattern;
    } aliases[] = {
        {"GSPS", "1.2.840.10008.5.1.4.1.1.11."}, /* every presentation state */
        {"SR", "1.2.840.10008.5.1.4.1.1.88."},   /* every SR, KO included */
        {"KO", "1.2.840.10008.5.1.4.1.1.88.59"},
    };
    const char *p = v;
    while (*p) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        size_t n = 0;
        while (p[n] && !isspace((unsigned char)p[n]) && p[n] != ',')
            n++;
        if (n == 0)
            break;
        char tok[65];
        if (n >= sizeof tok) {
            snprintf(err, errlen, "sop_class: '%.*s' is too long", (int)n, p);
            return -1;
        }
        memcpy(tok, p, n);
        tok[n] = '\0';
        for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
            if (strcmp(tok, aliases[i].alias) == 0)
                snprintf(tok, sizeof tok, "%s", aliases[i].pattern);
        if (strspn(tok, "0123456789.") != strlen(tok)) {
            snprintf(err, errlen, "sop_class: '%s' is not a UID, a prefix "
                                  "ending in '.', GSPS, SR or KO", tok);
            return -1;
        }
        if (r->n_sop >= ND_MAX_SOP_PATTERNS) {
            snprintf(err, errlen, "sop_class: more than %d patterns",
                     ND_MAX_SOP_PATTERNS);
            return -1;
        }
        snprintf(r->sop[r->n_sop++], sizeof r->sop[0], "%s", tok);
        p += n;
    }
    return 0;
}

int nd_route_sop_matches(const struct nd_route *r, const char *sop_class)
{
    if (r->n_sop == 0)
        return 1;
    for (int i = 0; i < r->n_sop; i++) {
        size_t n = strlen(r->sop[i]);
        if (n && r->sop[i][n - 1] == '.'
                ? strncmp(sop_class, r->sop[i], n) == 0
                : strcmp(sop_class, r->sop[i]) == 0)
            return 1;
    }
    return 0;
}

static int route_entry(struct parse *ps, const char *section,
                       const char *name, const char *value)
{
    struct nd_config *cfg = ps->cfg;
    const char *rn = section + 6;
    if (!*rn || strlen(rn) >= sizeof cfg->routes[0].name) {
        snprintf(ps->err, ps->errlen, "[%s]: route name must be 1-31 "
                                      "characters", section);
        return 0;
    }
    struct nd_route *r = NULL;
    for (int i = 0; i < cfg->n_routes; i++)
        if (strcmp(cfg->routes[i].name, rn) == 0)
            r = &cfg->routes[i];
    if (!r) {
        if (cfg->n_routes >= ND_MAX_ROUTES) {
            snprintf(ps->err, ps->errlen, "more than %d routes",
                     ND_MAX_ROUTES);
            return 0;
        }
        r = &cfg->routes[cfg->n_routes++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", rn);
    }
    char err[200] = "";
    int ok = 1;
    if (strcmp(name, "from") == 0) {
        if (strcmp(value, "any") == 0)
            r->from = ND_FROM_ANY;
        else if (strcmp(value, "modalities") == 0)
            r->from = ND_FROM_MODALITIES;
        else if (strcmp(value, "peers") == 0)
            r->from = ND_FROM_PEERS;
        else {
            snprintf(err, sizeof err, "from: '%s' is not any, modalities "
                                      "or peers", value);
            ok = 0;
        }
    } else if (strcmp(name, "from_ae") == 0) {
        r->set_from_ae = 1;
        ok = set_acl(&r->from_ae, value, err, sizeof err) == 0;
    } else if (strcmp(name, "from_peer") == 0) {
        r->set_from_peer = 1;
        ok = set_acl(&r->from_peer, value, err, sizeof err) == 0;
    } else if (strcmp(name, "modality") == 0) {
        r->set_modality = 1;
        ok = set_acl(&r->modality, value, err, sizeof err) == 0;
    } else if (strcmp(name, "sop_class") == 0) {
        ok = add_sop(r, value, err, sizeof err) == 0;
    } else if (strcmp(name, "to") == 0) {
        struct nd_acl to;
        memset(&to, 0, sizeof to);
        ok = set_acl(&to, value, err, sizeof err) == 0;
        if (ok && (to.any || to.n + r->n_to > ND_MAX_ROUTE_TO)) {
            snprintf(err, sizeof err, "to: 1-%d peers or 'origin', not *",
                     ND_MAX_ROUTE_TO);
            ok = 0;
        }
        for (int i = 0; ok && i < to.n; i++)
            snprintf(r->to[r->n_to++], sizeof r->to[0], "%s", to.ae[i]);
    } else if (strcmp(name, "delay") == 0) {
        ok = parse_int(value, 0, 86400, &r->delay) == 0;
        if (!ok)
            snprintf(err, sizeof err, "delay: '%s' is not 0-86400 s", value);
    } else {
        snprintf(err, sizeof err, "has no key '%s'", name);
        ok = 0;
    }
    if (!ok)
        snprintf(ps->err, ps->errlen, "[%s] %s", section, err);
    return ok;
}

int nd_net_parse(const char *s, struct nd_net *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    struct nd_net r = {0};
    if (inet_pton(AF_INET, buf, r.addr) == 1) {
        r.family = AF_INET;
        r.prefix = 32;
    } else if (inet_pton(AF_INET6, buf, r.addr) == 1) {
        r.family = AF_INET6;
        r.prefix = 128;
    } else {
        return -1;
    }
    if (slash) {
        int bits;
        if (parse_int(slash + 1, 0, r.prefix, &bits) < 0)
            return -1;
        r.prefix = bits;
    }
    *out = r;
    return 0;
}

int nd_net_contains(const struct nd_net *n, const char *host)
{
    unsigned char a[16];
    int fam;
    if (inet_pton(AF_INET, host, a) == 1) {
        fam = AF_INET;
    } else if (inet_pton(AF_INET6, host, a) == 1) {
        fam = AF_INET6;
        /* an IPv4 client on a dual-stack socket: ::ffff:a.b.c.d */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0,
                                                 0, 0, 0, 0, 0xFF, 0xFF};
        if (n->family == AF_INET && memcmp(a, mapped, 12) == 0) {
            memmove(a, a + 12, 4);
            fam = AF_INET;
        }
    } else {
        return 0;
    }
    if (fam != n->family)
        return 0;
    int full = n->prefix / 8, rest = n->prefix % 8;
    if (memcmp(a, n->addr, (size_t)full) != 0)
        return 0;
    if (rest) {
        unsigned char mask = (unsigned char)(0xFF << (8 - rest));
        if ((a[full] & mask) != (n->addr[full] & mask))
            return 0;
    }
    return 1;
}

const struct nd_bind *nd_config_bind(const struct nd_config *cfg,
                                     const char *ae)
{
    for (int i = 0; i < cfg->n_binds; i++)
        if (strcmp(cfg->binds[i].ae, ae) == 0)
            return &cfg->binds[i];
    return NULL;
}

/* [bind] AE = address or network, ... (several lines for one AE add up) */
static int bind_entry(struct parse *ps, const char *name, const char *value)
{
    struct nd_config *cfg = ps->cfg;
    if (!*name || strlen(name) > ND_AE_LEN || strchr(name, '\\')) {
        snprintf(ps->err, ps->errlen, "[bind] '%s': an AE title is 1-16 "
                                      "characters", name);
        return 0;
    }
    struct nd_bind *b = (struct nd_bind *)nd_config_bind(cfg, name);
    if (!b) {
        if (cfg->n_binds >= ND_MAX_BINDS) {
            snprintf(ps->err, ps->errlen, "[bind] more than %d AE titles",
                     ND_MAX_BINDS);
            return 0;
        }
        b = &cfg->binds[cfg->n_binds++];
        memset(b, 0, sizeof *b);
        snprintf(b->ae, sizeof b->ae, "%s", name);
    }
    char copy[512];
    snprintf(copy, sizeof copy, "%s", value);
    for (char *save = NULL, *t = strtok_r(copy, " ,\t", &save); t;
         t = strtok_r(NULL, " ,\t", &save)) {
        if (b->n >= ND_MAX_BIND_NETS) {
            snprintf(ps->err, ps->errlen, "[bind] %s: more than %d "
                                          "addresses", name, ND_MAX_BIND_NETS);
            return 0;
        }
        if (nd_net_parse(t, &b->nets[b->n]) < 0) {
            snprintf(ps->err, ps->errlen, "[bind] %s: '%s' is not an IP "
                                          "address or network (a.b.c.d/n)",
                     name, t);
            return 0;
        }
        b->n++;
    }
    if (b->n == 0) {
        snprintf(ps->err, ps->errlen, "[bind] %s: no address", name);
        return 0;
    }
    return 1;
}

int nd_config_bind_peers(struct nd_config *cfg, char *err, size_t errlen)
{
    if (!cfg->bind_peers)
        return 0;
    for (int i = 0; i < cfg->n_peers; i++) {
        const struct nd_peer *p = &cfg->peers[i];
        if (nd_config_bind(cfg, p->ae))
            continue; /* [bind] says it explicitly */
        if (cfg->n_binds >= ND_MAX_BINDS) {
            snprintf(err, errlen, "bind_peers: more than %d AE titles bound",
                     ND_MAX_BINDS);
            return -1;
        }
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        int rc = getaddrinfo(p->host, NULL, &hints, &res);
        if (rc != 0) {
            snprintf(err, errlen, "bind_peers: [peer %s] host %s: %s", p->ae,
                     p->host, gai_strerror(rc));
            return -1;
        }
        struct nd_bind *b = &cfg->binds[cfg->n_binds];
        memset(b, 0, sizeof *b);
        snprintf(b->ae, sizeof b->ae, "%s", p->ae);
        for (struct addrinfo *r = res; r && b->n < ND_MAX_BIND_NETS;
             r = r->ai_next) {
            struct nd_net *n = &b->nets[b->n];
            if (r->ai_family == AF_INET) {
                n->family = AF_INET;
                n->prefix = 32;
                memcpy(n->addr,
                       &((struct sockaddr_in *)r->ai_addr)->sin_addr, 4);
            } else if (r->ai_family == AF_INET6) {
                n->family = AF_INET6;
                n->prefix = 128;
                memcpy(n->addr,
                       &((struct sockaddr_in6 *)r->ai_addr)->sin6_addr, 16);
            } else {
                continue;
            }
            /* getaddrinfo lists an address once per socket type */
            int dup = 0;
            for (int k = 0; k < b->n; k++)
                dup |= memcmp(&b->nets[k], n, sizeof *n) == 0;
            if (!dup)
                b->n++;
        }
        freeaddrinfo(res);
        if (b->n)
            cfg->n_binds++;
    }
    return 0;
}

/* A yes/no key of a section into *out: 1, or 0 with
 * "[section] name: 'value' is not yes or no". */
static int yes_no(struct parse *ps, const char *section, const char *name,
                  const char *value, int *out)
{
    if (strcmp(value, "yes") && strcmp(value, "no")) {
        snprintf(ps->err, ps->errlen, "[%s] %s: '%s' is not yes or no",
                 section, name, value);
        return 0;
    }
    *out = strcmp(value, "yes") == 0;
    return 1;
}

static int on_entry(void *user, const char *section, const char *name,
                    const char *value)
{
    struct parse *ps = user;
    struct nd_config *cfg = ps->cfg;
    if (strcmp(section, "node") == 0)
        return nd_config_set(cfg, name, value, ps->err, ps->errlen) == 0;
    if (strcmp(section, "access") == 0) {
        static const char *const names[3] = {"store", "query", "retrieve"};
        struct nd_acl *acls[3] = {&cfg->store, &cfg->query, &cfg->retrieve};
        for (int i = 0; i < 3; i++) {
            if (strcmp(name, names[i]) != 0)
                continue;
            if (!ps->acl_seen[i]) {
                memset(acls[i], 0, sizeof *acls[i]);
                ps->acl_seen[i] = 1;
            }
            return set_acl(acls[i], value, ps->err, ps->errlen) == 0;
        }
        if (strcmp(name, "bind_peers") == 0)
            return yes_no(ps, section, name, value, &cfg->bind_peers);
        snprintf(ps->err, ps->errlen, "[access] has no key '%s'", name);
        return 0;
    }
    if (strcmp(section, "bind") == 0)
        return bind_entry(ps, name, value);
    if (strncmp(section, "peer ", 5) == 0) {
        const char *ae = section + 5;
        if (!*ae || strlen(ae) > ND_AE_LEN || strchr(ae, '\\')) {
            snprintf(ps->err, ps->errlen, "[%s]: peer AE title must be "
                                          "1-16 characters", section);
            return 0;
        }
        struct nd_peer *p = NULL;
        for (int i = 0; i < cfg->n_peers; i++)
            if (strcmp(cfg->peers[i].ae, ae) == 0)
                p = &cfg->peers[i];
        if (!p) {
            if (cfg->n_peers >= ND_MAX_PEERS) {
                snprintf(ps->err, ps->errlen, "more than %d peers",
                         ND_MAX_PEERS);
                return 0;
            }
            p = &cfg->peers[cfg->n_peers++];
            snprintf(p->ae, sizeof p->ae, "%s", ae);
            p->associations = 2;
            p->compress = 1;
        }
        if (strcmp(name, "host") == 0) {
            if (!*value || strlen(value) >= sizeof p->host) {
                snprintf(ps->err, ps->errlen, "[%s] host: bad value",
                         section);
                return 0;
            }
            snprintf(p->host, sizeof p->host, "%s", value);
            return 1;
        }
        if (strcmp(name, "port") == 0) {
            if (parse_int(value, 1, 65535, &p->port) < 0) {
                snprintf(ps->err, ps->errlen, "[%s] port: '%s' is not "
                                              "1-65535", section, value);
                return 0;
            }
            return 1;
        }
        if (strcmp(name, "associations") == 0) {
            if (parse_int(value, 1, 16, &p->associations) < 0) {
                snprintf(ps->err, ps->errlen, "[%s] associations: '%s' is "
                                              "not 1-16", section, value);
                return 0;
            }
            return 1;
        }
        if (strcmp(name, "tls") == 0)
            return yes_no(ps, section, name, value, &p->tls);
        if (strcmp(name, "accept_corrections") == 0)
            return yes_no(ps, section, name, value, &p->accept_corrections);
        if (strcmp(name, "compress") == 0) {
            if (strcmp(value, "lossless") && strcmp(value, "none")) {
                snprintf(ps->err, ps->errlen, "[%s] compress: '%s' is not "
                                              "lossless or none", section,
                         value);
                return 0;
            }
            p->compress = strcmp(value, "lossless") == 0;
            return 1;
        }
        snprintf(ps->err, ps->errlen, "[%s] has no key '%s'", section, name);
        return 0;
    }
    if (strncmp(section, "route ", 6) == 0)
        return route_entry(ps, section, name, value);
    snprintf(ps->err, ps->errlen, "unknown section [%s]", section);
    return 0;
}

int nd_config_load(struct nd_config *cfg, const char *path, char *err,
                   size_t errlen)
{
    struct parse ps = {cfg, err, errlen, {0, 0, 0}};
    err[0] = '\0';
    int rc = ini_parse(path, on_entry, &ps);
    if (rc == -1) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (rc == -2) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (rc > 0) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", err[0] ? err : "syntax error");
        snprintf(err, errlen, "%s:%d: %s", path, rc, detail);
        return -1;
    }
    for (int i = 0; i < cfg->n_peers; i++) {
        if (!cfg->peers[i].host[0] || !cfg->peers[i].port) {
            snprintf(err, errlen, "%s: [peer %s] needs host and port", path,
                     cfg->peers[i].ae);
            return -1;
        }
    }
    if (cfg->upstream[0] && !nd_config_peer(cfg, cfg->upstream)) {
        snprintf(err, errlen, "%s: upstream %s is not a [peer]", path,
                 cfg->upstream);
        return -1;
    }
    for (int i = 0; i < cfg->n_routes; i++) {
        const struct nd_route *r = &cfg->routes[i];
        if (r->n_to == 0) {
            snprintf(err, errlen, "%s: [route %s] needs to =", path,
                     r->name);
            return -1;
        }
        for (int k = 0; k < r->n_to; k++) {
            if (strcmp(r->to[k], "origin") != 0 &&
                !nd_config_peer(cfg, r->to[k])) {
                snprintf(err, errlen, "%s: [route %s] to %s is not a [peer] "
                                      "(nor 'origin')",
                         path, r->name, r->to[k]);
                return -1;
            }
        }
    }
    int any_tls = cfg->tls_port > 0;
    for (int i = 0; i < cfg->n_peers; i++)
        any_tls |= cfg->peers[i].tls;
    if (any_tls && (!cfg->tls_cert[0] || !cfg->tls_key[0] || !cfg->tls_ca[0])) {
        snprintf(err, errlen, "%s: TLS (tls_port or a peer with tls = yes) "
                              "needs tls_cert, tls_key and tls_ca",
                 path);
        return -1;
    }
    if (cfg->tls_only) {
        if (!cfg->tls_port) {
            snprintf(err, errlen, "%s: tls_only needs tls_port", path);
            return -1;
        }
        for (int i = 0; i < cfg->n_peers; i++) {
            if (!cfg->peers[i].tls) {
                snprintf(err, errlen, "%s: tls_only, but [peer %s] has no "
                                      "tls = yes",
                         path, cfg->peers[i].ae);
                return -1;
            }
        }
    }
    if (cfg->tls_port && cfg->tls_port == cfg->port) {
        snprintf(err, errlen, "%s: tls_port is the same as port", path);
        return -1;
    }
    if (cfg->retry_max < cfg->retry_min) {
        snprintf(err, errlen, "%s: retry_max is below retry_min", path);
        return -1;
    }
    return 0;
}

int nd_config_set(struct nd_config *cfg, const char *key, const char *value,
                  char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof node_keys / sizeof node_keys[0]; i++)
        if (strcmp(key, node_keys[i].name) == 0)
            return set_key(cfg, &node_keys[i], value, err, errlen);
    snprintf(err, errlen, "[node] has no key '%s'", key);
    return -1;
}

int nd_acl_allows(const struct nd_acl *acl, const char *ae)
{
    if (acl->any)
        return 1;
    for (int i = 0; i < acl->n; i++)
        if (strcmp(acl->ae[i], ae) == 0)
            return 1;
    return 0;
}

const struct nd_peer *nd_config_peer(const struct nd_config *cfg,
                                     const char *ae)
{
    for (int i = 0; i < cfg->n_peers; i++)
        if (strcmp(cfg->peers[i].ae, ae) == 0)
            return &cfg->peers[i];
    return NULL;
}

void nd_config_audit_path(const struct nd_config *cfg, char *out, size_t len)
{
    if (cfg->audit_log[0])
        snprintf(out, len, "%s", cfg->audit_log);
    else
        snprintf(out, len, "%s/audit.log", cfg->storage);
}

void nd_config_write_sample(FILE *to)
{
    fputs("; consort-node configuration (INI). Every key is optional; the "
          "values\n; shown are the defaults. Use: consort-node serve "
          "--config FILE\n\n[node]\n",
          to);
    for (size_t i = 0; i < sizeof node_keys / sizeof node_keys[0]; i++)
        fprintf(to, "; %s\n%s = %s\n", node_keys[i].doc, node_keys[i].name,
                node_keys[i].dflt);
    fputs("\n[access]\n"
          "; calling AE titles allowed each kind of access, separated by "
          "spaces or\n; commas; * = any. C-ECHO is always allowed.\n"
          "store = *\nquery = *\nretrieve = *\n"
          "; yes: the AE title of a [peer] is accepted only from the "
          "addresses its\n; host resolves to (at start-up)\n"
          "bind_peers = no\n"
          "\n; Calling AE titles accepted only from these addresses or "
          "networks;\n; an association from elsewhere is refused and "
          "audited.\n;[bind]\n;CT1 = 10.1.2.3\n;US2 = 10.1.2.0/24, "
          "10.1.3.7\n"
          "\n; One section per known peer (C-MOVE destinations, forwarding "
          "targets);\n; the section name carries its AE title.\n"
          ";[peer PACS1]\n;host = 10.0.0.5\n;port = 104\n"
          "; when forwarding: parallel associations (1-16), and whether\n"
          "; uncompressed images go losslessly compressed (JPEG-LS, JPEG\n"
          "; lossless or deflate, whichever is smallest and accepted)\n"
          ";associations = 2\n;compress = lossless\n"
          "; associate with it over TLS (our tls_cert/tls_key, its\n"
          "; certificate checked against tls_ca)\n;tls = no\n"
          "; yes: a copy of an instance this node holds that comes from "
          "this peer\n; with other content (a study corrected at its "
          "site and accepted\n; there) takes the archived one's place, "
          "audited; no: kept aside for\n; `consort-node conflicts`. Only "
          "from its bound address ([bind],\n; bind_peers) or over TLS "
          "with tls_verify_peer\n"
          ";accept_corrections = no\n"
          "\n; Forwarding rules besides upstream/back_to_origin: every "
          "condition given\n; must hold. from = any | modalities (calling "
          "AE not a peer) | peers;\n; from_ae, from_peer (the peer the "
          "study came from), modality: lists;\n; sop_class: UIDs, prefixes "
          "ending in '.', GSPS, SR, KO; to: peers or\n; origin; delay: "
          "seconds the study must be unchanged before it goes.\n"
          ";[route ct-to-archive]\n;from = modalities\n;modality = CT\n"
          ";to = PACS1\n;delay = 30\n",
          to);
}
