/* cmd_delete.c - `consort-node delete`: removes a study from the archive
 * (index rows in one transaction, then its files) and records who did it
 * in the audit trail. Safe beside a running node: SQLite serialises the
 * index, and files are unlinked only after the commit. */
#define _GNU_SOURCE
#include "cmd.h"
#include "opts.h"

#include "audit.h"
#include "config.h"
#include "index.h"
#include "nd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int preview(void *user, const char *const *v)
{
    *(int *)user = 1;
    printf("would delete: patient %s (%s), study %s dated %s \"%s\", %s "
           "series, %s instances\n",
           v[NK_PATIENT_ID], v[NK_PATIENT_NAME], v[NK_STUDY_UID],
           v[NK_STUDY_DATE], v[NK_STUDY_DESC], v[NK_STUDY_SERIES],
           v[NK_STUDY_INSTANCES]);
    return 0;
}

static void usage(FILE *to)
{
    fputs("usage: consort-node delete --study UID [--storage DIR | --config "
          "FILE]\n"
          "                           [--user NAME] [--yes]\n"
          "\n"
          "Removes a study from the local archive: its instances from the "
          "index,\n"
          "its queued forwarding, then its files; the patient too when no "
          "other\n"
          "study is left. Without --yes it only says what would go. The "
          "audit\n"
          "trail records the deletion with NAME (default: $SUDO_USER or "
          "$USER).\n"
          "Peers that already received the study keep their copy.\n",
          to);
}

int nd_cmd_delete(int argc, char **argv)
{
    const char *cfg_path = NULL, *storage = NULL, *study = NULL, *user = NULL;
    int yes = 0, n_pos;
    const struct nd_opt opts[] = {
        ND_STR("--config", &cfg_path),
        ND_STR("--storage", &storage),
        ND_STR("--study", &study),
        ND_STR("--user", &user),
        ND_FLAG("--yes", &yes),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("delete", argc, argv, 1, opts, 0, &n_pos);
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    if (!study) {
        fprintf(stderr, "consort-node delete: --study UID is required\n");
        usage(stderr);
        return 2;
    }
    user = nd_cmd_user(user);
    struct nd_config cfg;
    nd_config_defaults(&cfg);
    char err[512], dir[1024];
    if (cfg_path && nd_config_load(&cfg, cfg_path, err, sizeof err) < 0) {
        fprintf(stderr, "consort-node delete: %s\n", err);
        return 1;
    }
    nd_index *ix = nd_cmd_open_index("delete", cfg_path, storage, 1, dir,
                                     sizeof dir);
    if (!ix)
        return 1;
    if (storage) {
        snprintf(cfg.storage, sizeof cfg.storage, "%s", storage);
        cfg.audit_log[0] = '\0';
    }
    if (!yes) {
        /* what would go, touching nothing */
        const char *one[1] = {study};
        struct nd_cond c = {.key = NK_STUDY_UID, .match = NM_LIST,
                            .values = one, .n_values = 1};
        unsigned char want[NK_COUNT] = {0};
        want[NK_STUDY_SERIES] = want[NK_STUDY_INSTANCES] = 1;
        int found = 0;
        int rc = nd_index_find(ix, ND_STUDY, &c, 1, want, preview, &found);
        nd_index_close(ix);
        if (rc < 0) {
            fprintf(stderr, "consort-node delete: cannot read the index\n");
            return 1;
        }
        if (!found) {
            fprintf(stderr, "consort-node delete: no such study in %s\n",
                    dir);
            return 1;
        }
        printf("run again with --yes to delete it (the audit trail will "
               "name %s)\n", user);
        return 0;
    }
    char audit_path[1200];
    nd_config_audit_path(&cfg, audit_path, sizeof audit_path);
    nd_audit *audit = NULL;
    if (nd_audit_open(audit_path, &audit, err, sizeof err) < 0) {
        /* no record of it, no deletion */
        fprintf(stderr, "consort-node delete: %s\n", err);
        nd_index_close(ix);
        return 1;
    }
    struct nd_deleted d;
    int rc = nd_index_delete_study(ix, study, &d);
    if (rc < 0) {
        fprintf(stderr, "consort-node delete: %s\n",
                rc == ND_ENOTFOUND ? "no such study in the archive"
                                   : nd_index_errmsg(ix));
        nd_index_close(ix);
        nd_audit_close(audit);
        return 1;
    }
    long gone = 0, left = 0;
    for (int64_t i = 0; i < d.instances; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, d.paths[i]);
        if (unlink(path) == 0) {
            gone++;
        } else {
            left++;
            fprintf(stderr, "consort-node delete: cannot remove %s: %m\n",
                    path);
        }
    }
    char detail[160];
    snprintf(detail, sizeof detail, "series=%lld files_removed=%ld%s",
             (long long)d.series, gone, left ? " (some files left)" : "");
    nd_audit_write(audit, &(struct nd_audit_event){
                              .what = ND_AUDIT_DELETE,
                              .outcome = left ? ND_AUDIT_MINOR : ND_AUDIT_OK,
                              .ae = cfg.ae_title, .user = user,
                              .patient_id = d.patient_id, .study_uid = study,
                              .instances = (long)d.instances,
                              .failed = left, .detail = detail});
    printf("deleted study %s: %lld series, %lld instances, %ld files "
           "removed\n",
           study, (long long)d.series, (long long)d.instances, gone);
    nd_deleted_free(&d);
    nd_index_close(ix);
    nd_audit_close(audit);
    return left ? 1 : 0;
}
