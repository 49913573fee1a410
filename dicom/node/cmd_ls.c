/* cmd_ls.c - `consort-node ls`: the local archive from the index:
 * patients, their studies and series, with instance counts and sizes. */
#include "cmd.h"
#include "opts.h"

#include "config.h"
#include "index.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcx/dcx.h"

struct ls_state {
    int json;
    int n;
    char patient[200], study[80];
};

static int row(void *user, const struct nd_ls_row *r)
{
    struct ls_state *st = user;
    if (st->json) {
        printf("%s{\"patient_id\":", st->n++ ? ",\n " : "[");
        dcx_json_print(stdout, r->patient_id);
        printf(",\"patient_name\":");
        dcx_json_print(stdout, r->patient_name);
        printf(",\"study_uid\":");
        dcx_json_print(stdout, r->study_uid);
        printf(",\"study_date\":");
        dcx_json_print(stdout, r->study_date);
        printf(",\"study_description\":");
        dcx_json_print(stdout, r->study_desc);
        printf(",\"series_uid\":");
        dcx_json_print(stdout, r->series_uid);
        printf(",\"modality\":");
        dcx_json_print(stdout, r->modality);
        printf(",\"series_number\":%d,\"series_description\":",
               r->series_number);
        dcx_json_print(stdout, r->series_desc);
        printf(",\"instances\":%lld,\"bytes\":%lld}", (long long)r->instances,
               (long long)r->bytes);
        return 0;
    }
    char pkey[200];
    snprintf(pkey, sizeof pkey, "%s|%s", r->patient_id, r->patient_name);
    if (strcmp(pkey, st->patient) != 0) {
        printf("%sPatient %s  [ID %s]\n", st->n++ ? "\n" : "",
               r->patient_name[0] ? r->patient_name : "(no name)",
               r->patient_id[0] ? r->patient_id : "-");
        snprintf(st->patient, sizeof st->patient, "%s", pkey);
        st->study[0] = '\0';
    }
    if (strcmp(r->study_uid, st->study) != 0) {
        printf("  Study  %s  %s  (%s)\n",
               r->study_date[0] ? r->study_date : "--------",
               r->study_desc[0] ? r->study_desc : "(no description)",
               r->study_uid);
        snprintf(st->study, sizeof st->study, "%s", r->study_uid);
    }
    char num[16] = "-";
    if (r->series_number >= 0)
        snprintf(num, sizeof num, "%d", r->series_number);
    printf("    Series %-4s %-3s %-30s %6lld instances %9.1f MB\n", num,
           r->modality[0] ? r->modality : "?",
           r->series_desc[0] ? r->series_desc : "(no description)",
           (long long)r->instances, (double)r->bytes / 1e6);
    return 0;
}

static void usage(FILE *to)
{
    nd_opts_usage(
        to, "usage: consort-node ls [--storage DIR | --config FILE] [--json]\n",
        "\nLists the archive's patients, studies and series from its "
        "index\n(default storage ./var).");
}

int nd_cmd_ls(int argc, char **argv)
{
    const char *storage = NULL, *cfg_path = NULL;
    struct ls_state st = {0};
    int n_pos;
    const struct nd_opt opts[] = {
        ND_STR("--storage", &storage),
        ND_STR("--config", &cfg_path),
        ND_FLAG("--json", &st.json),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("ls", argc, argv, 1, opts, 0, &n_pos);
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    char dir[1024];
    nd_index *ix = nd_cmd_open_index("ls", cfg_path, storage, 0, dir,
                                     sizeof dir);
    if (!ix)
        return 1;
    int rc = nd_index_ls(ix, row, &st);
    int64_t t[5] = {0};
    if (rc == 0)
        rc = nd_index_totals(ix, t);
    nd_index_close(ix);
    if (rc < 0) {
        fprintf(stderr, "consort-node ls: index query failed\n");
        return 1;
    }
    if (st.json)
        puts(st.n ? "]" : "[]");
    else
        printf("%s%lld patient(s), %lld stud%s, %lld series, %lld "
               "instance(s), %.1f MB in %s\n",
               st.n ? "\n" : "", (long long)t[0], (long long)t[1],
               t[1] == 1 ? "y" : "ies", (long long)t[2], (long long)t[3],
               (double)t[4] / 1e6, dir);
    return 0;
}
