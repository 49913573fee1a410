/* cmd_audit.c - `consort-node audit`: reads the node's audit trail (JSON
 * lines, audit.h), filters it and prints a table or the lines. Only the
 * flat objects audit.c writes are understood; any other line is counted
 * and reported, never fatal. */
#define _GNU_SOURCE
#include "cmd.h"
#include "opts.h"

#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_TIME, F_EVENT, F_OUTCOME, F_AE, F_HOST, F_TLS, F_DEST, F_USER,
       F_PATIENT, F_STUDY, F_INSTANCES, F_FAILED, F_DETAIL, F_COUNT };

static const char *const field_names[F_COUNT] = {
    "time", "event", "outcome", "ae", "host", "tls", "dest", "user",
    "patient_id", "study_uid", "instances", "failed", "detail",
};

static void set_field(const char *v[F_COUNT], const char *key,
                      const char *val)
{
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(key, field_names[i]) == 0)
            v[i] = val;
}

/* Parses one flat JSON object into v[] (strings unescaped in place, numbers and true/false as their text). 0, or -1 if malformed. */
static int parse_line(char *p, const char *v[F_COUNT])
{
    for (int i = 0; i < F_COUNT; i++)
        v[i] = "";
    while (*p == ' ')
        p++;
    if (*p++ != '{')
        return -1;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '}')
            return 0;
        if (*p++ != '"')
            return -1;
        const char *key = p;
        char *q = strchr(p, '"');
        if (!q)
            return -1;
        *q = '\0';
        p = q + 1;
        if (*p++ != ':')
            return -1;
        const char *val;
        if (*p == '"') {
            char *o = ++p;
            val = o;
            for (;;) {
                if (*p == '\0')
                    return -1;
                if (*p == '"')
                    break;
                if (*p == '\\') {
                    p++;
                    if (*p == 'u') {
                        /* audit.c escapes only control characters */
                        unsigned c;
                        for (int k = 1; k <= 4; k++)
                            if (!isxdigit((unsigned char)p[k]))
                                return -1;
                        sscanf(p + 1, "%4x", &c);
                        *o++ = c < 0x80 && c >= 0x20 ? (char)c : ' ';
                        p += 5;
                        continue;
                    }
                    if (!*p)
                        return -1;
                    *o++ = *p == 'n' ? ' ' : *p;
                    p++;
                    continue;
                }
                *o++ = *p++;
            }
            p++;
            *o = '\0';
        } else { /* number, true, false */
            val = p;
            while (*p && *p != ',' && *p != '}')
                p++;
            if (!*p)
                return -1;
            int last = *p == '}';
            *p++ = '\0';
            set_field(v, key, val);
            if (last)
                return 0;
            continue;
        }
        set_field(v, key, val);
    }
}

static const char *outcome_text(const char *o)
{
    return strcmp(o, "0") == 0    ? "ok"
           : strcmp(o, "4") == 0  ? "partial"
           : strcmp(o, "8") == 0  ? "refused"
           : strcmp(o, "12") == 0 ? "failed"
                                  : o;
}

/* 1 if list ("store,query") holds word */
static int in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0)
            return 1;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

static void usage(FILE *to)
{
    fputs("usage: consort-node audit [--config FILE | --storage DIR | "
          "--file PATH]\n"
          "                          [--since TIME] [--until TIME] "
          "[--event E[,E...]]\n"
          "                          [--ae AE] [--study UID] [--patient ID] "
          "[--json]\n"
          "\n"
          "Prints the node's audit trail (STORAGE/audit.log, or [node] "
          "audit_log):\n"
          "who stored, imported, queried, retrieved, forwarded, exported, "
          "updated or\n"
          "deleted which study when, refused associations, starts and stops. "
          "TIME is\n"
          "UTC, as 2026-11-23 or 2026-11-23T08:30 (--until includes what it "
          "names).\n"
          "Events: start stop store import query retrieve forward export "
          "update\n"
          "delete refused. --ae matches the calling AE or the destination. --json "
          "prints\n"
          "the matching lines as they are.\n",
          to);
}

int nd_cmd_audit(int argc, char **argv)
{
    const char *cfg_path = NULL, *storage = NULL, *file = NULL;
    const char *since = NULL, *until = NULL, *events = NULL, *ae = NULL,
               *study = NULL, *patient = NULL;
    int json = 0, n_pos;
    const struct nd_opt opts[] = {
        ND_STR("--config", &cfg_path),
        ND_STR("--storage", &storage),
        ND_STR("--file", &file),
        ND_STR("--since", &since),
        ND_STR("--until", &until),
        ND_STR("--event", &events),
        ND_STR("--ae", &ae),
        ND_STR("--study", &study),
        ND_STR("--patient", &patient),
        ND_FLAG("--json", &json),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("audit", argc, argv, 1, opts, 0, &n_pos);
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    char path[1200];
    if (file) {
        snprintf(path, sizeof path, "%s", file);
    } else {
        struct nd_config cfg;
        nd_config_defaults(&cfg);
        char err[512];
        if (cfg_path && nd_config_load(&cfg, cfg_path, err, sizeof err) < 0) {
            fprintf(stderr, "consort-node audit: %s\n", err);
            return 1;
        }
        if (storage) { /* the folder named here, not the file's log */
            snprintf(cfg.storage, sizeof cfg.storage, "%s", storage);
            cfg.audit_log[0] = '\0';
        }
        nd_config_audit_path(&cfg, path, sizeof path);
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "consort-node audit: cannot open %s: %m\n", path);
        return 1;
    }
    char *line = NULL, *copy = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long shown = 0, bad = 0, lineno = 0;
    if (!json)
        printf("%-19s  %-8s  %-7s  %-28s  %-5s  %-18s  %s\n", "TIME (UTC)",
               "EVENT", "OUTCOME", "WHO", "INST", "PATIENT", "STUDY / DETAIL");
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (n == 0)
            continue;
        free(copy);
        copy = strdup(line);
        const char *v[F_COUNT];
        if (!copy || parse_line(copy, v) < 0 || !v[F_TIME][0] ||
            !v[F_EVENT][0]) {
            bad++;
            continue;
        }
        if (since && strcmp(v[F_TIME], since) < 0)
            continue;
        if (until && strncmp(v[F_TIME], until, strlen(until)) > 0)
            continue;
        if (events && !in_list(events, v[F_EVENT]))
            continue;
        if (ae && strcmp(v[F_AE], ae) != 0 && strcmp(v[F_DEST], ae) != 0)
            continue;
        if (study && strcmp(v[F_STUDY], study) != 0)
            continue;
        if (patient && strcmp(v[F_PATIENT], patient) != 0)
            continue;
        shown++;
        if (json) {
            puts(line);
            continue;
        }
        char t[20], who[80], inst[24];
        snprintf(t, sizeof t, "%.10s %.8s", v[F_TIME],
                 strlen(v[F_TIME]) > 11 ? v[F_TIME] + 11 : "");
        snprintf(who, sizeof who, "%s%s%s%s%s%s", v[F_AE][0] ? v[F_AE] : "-",
                 v[F_HOST][0] ? "@" : "", v[F_HOST],
                 strcmp(v[F_TLS], "true") == 0 ? " tls" : "",
                 v[F_DEST][0] && strcmp(v[F_DEST], v[F_AE]) != 0 ? " -> " : "",
                 v[F_DEST][0] && strcmp(v[F_DEST], v[F_AE]) != 0 ? v[F_DEST]
                                                                 : "");
        if (v[F_FAILED][0] && strcmp(v[F_FAILED], "0") != 0)
            snprintf(inst, sizeof inst, "%s/%s!", v[F_INSTANCES],
                     v[F_FAILED]);
        else
            snprintf(inst, sizeof inst, "%s", v[F_INSTANCES]);
        printf("%-19s  %-8s  %-7s  %-28s  %-5s  %-18s  %s%s%s%s%s\n", t,
               v[F_EVENT], outcome_text(v[F_OUTCOME]), who, inst,
               v[F_PATIENT], v[F_STUDY], v[F_STUDY][0] && v[F_DETAIL][0]
                                             ? "  "
                                             : "",
               v[F_DETAIL], v[F_USER][0] ? "  user=" : "", v[F_USER]);
    }
    free(line);
    free(copy);
    fclose(f);
    if (!json)
        printf("%lu event(s)%s\n", shown,
               since || until || events || ae || study || patient
                   ? " matching"
                   : "");
    if (bad)
        fprintf(stderr, "consort-node audit: %lu of %lu line(s) in %s not "
                        "understood (not written by consort-node?)\n",
                bad, lineno, path);
    return 0;
}
