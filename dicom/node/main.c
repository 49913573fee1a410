/* main.c - the consort-node executable: dispatch to subcommands. */
#include "cmd.h"
#include "config.h"
#include "dcx/dcx.h"
#include "index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *to)
{
    fputs("usage: consort-node <command> [options]\n"
          "\n"
          "commands:\n"
          "  info FILE...                 describe DICOM files (patient, "
          "study,\n"
          "                               series, image, transfer syntax)\n"
          "  decode FILE [--frame N] [--rgb] -o OUT.raw\n"
          "                               write decoded samples as "
          "little-endian\n"
          "                               raw data, print the layout as "
          "JSON\n"
          "  serve [--config FILE]        run the DICOM node (store, query, "
          "retrieve)\n"
          "  send PATH... --to AE@HOST:PORT\n"
          "                               send files and folders (C-STORE)\n"
          "  echo AE@HOST:PORT            verify a peer (C-ECHO)\n"
          "  find AE@HOST:PORT [-k KEY=VALUE]...\n"
          "                               query a peer (C-FIND), table or "
          "JSON\n"
          "  get AE@HOST:PORT -k ... -o DIR\n"
          "                               retrieve instances (C-GET)\n"
          "  move AE@HOST:PORT -k ... --dest AE\n"
          "                               have a peer send instances to AE "
          "(C-MOVE)\n"
          "  import PATH...               store files and folders (a CD, a "
          "USB stick)\n"
          "                               in the local archive, as C-STORE "
          "would\n"
          "  ls [--storage DIR]           list the local archive\n"
          "  verify [--deep]              check the archive against its "
          "index\n"
          "  conflicts [list|accept|drop] copies kept aside (other content "
          "under a\n"
          "                               known UID); accept a corrected "
          "one\n"
          "  queue [list|retry|drop]      forwarding: what waits, what went,\n"
          "                               retry or drop dead items\n"
          "  delete --study UID [--yes]   remove a study from the archive "
          "(audited)\n"
          "  export [--anonymize] STUDY_UID... DIR\n"
          "                               write studies as DICOM media with "
          "a\n"
          "                               DICOMDIR, de-identified for "
          "teaching\n"
          "  audit [--since T] [--event E] [--study UID]\n"
          "                               who stored, imported, queried, "
          "retrieved,\n"
          "                               forwarded, exported, deleted\n"
          "                               which study when (audit trail)\n"
          "\n"
          "  --help, -h                   this help; `consort-node CMD "
          "--help`\n"
          "                               for a command's options\n"
          "  --version                    print the version\n"
          "\n"
          "environment: CONSORT_LOG=error|warn|info|debug (default warn)\n",
          to);
}

nd_index *nd_cmd_open_index(const char *cmd, const char *cfg_path,
                            const char *storage, int write, char *storage_out,
                            size_t len)
{
    struct nd_config cfg;
    nd_config_defaults(&cfg);
    char err[512];
    if (cfg_path && nd_config_load(&cfg, cfg_path, err, sizeof err) < 0) {
        fprintf(stderr, "consort-node %s: %s\n", cmd, err);
        return NULL;
    }
    if (storage)
        snprintf(cfg.storage, sizeof cfg.storage, "%s", storage);
    snprintf(storage_out, len, "%s", cfg.storage);
    char path[1200];
    snprintf(path, sizeof path, "%s/index.sqlite", cfg.storage);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "consort-node %s: no archive index at %s\n", cmd,
                path);
        return NULL;
    }
    /* a user who may only read the archive (a monitoring account running
     * ls or verify) reads it as it is; one who would change it is told
     * whose it is */
    int writable = access(path, W_OK) == 0 && access(cfg.storage, W_OK) == 0;
    if (write && !writable) {
        struct stat sb;
        fprintf(stderr,
                "consort-node %s: %s may not be changed by this user; run "
                "it as the user the node runs as (uid %ld)\n",
                cmd, cfg.storage,
                stat(path, &sb) == 0 ? (long)sb.st_uid : -1L);
        return NULL;
    }
    nd_index *ix;
    int rc = writable ? nd_index_open(path, &ix, err, sizeof err)
                      : nd_index_open_readonly(path, &ix, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "consort-node %s: %s\n", cmd, err);
        return NULL;
    }
    return ix;
}

int nd_cmd_config(const char *cmd, const char *cfg_path, const char *storage,
                  struct nd_config *cfg)
{
    char err[512];
    nd_config_defaults(cfg);
    if (cfg_path && nd_config_load(cfg, cfg_path, err, sizeof err) < 0) {
        fprintf(stderr, "consort-node %s: %s\n", cmd, err);
        return -1;
    }
    if (storage) {
        snprintf(cfg->storage, sizeof cfg->storage, "%s", storage);
        if (!cfg_path)
            cfg->audit_log[0] = '\0';
    }
    return 0;
}

const char *nd_cmd_user(const char *given)
{
    static char uid_user[32];
    const char *u = given && *given ? given : getenv("SUDO_USER");
    if (!u || !*u)
        u = getenv("USER");
    if (!u || !*u) {
        snprintf(uid_user, sizeof uid_user, "uid %u", (unsigned)getuid());
        u = uid_user;
    }
    return u;
}

void nd_fail_line(const char *file, const char *msg)
{
    fprintf(stderr, "consort-node: %s: %s\n", file, msg);
}

static enum dcx_log_level env_level(void)
{
    const char *e = getenv("CONSORT_LOG");
    if (!e)
        return DCX_LOG_WARN;
    if (strcmp(e, "error") == 0)
        return DCX_LOG_ERROR;
    if (strcmp(e, "info") == 0)
        return DCX_LOG_INFO;
    if (strcmp(e, "debug") == 0)
        return DCX_LOG_DEBUG;
    return DCX_LOG_WARN;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        puts("consort-node " CONSORT_VERSION);
        return 0;
    }
    if (dcx_init(NULL, NULL, env_level()) < 0) {
        fputs("consort-node: cannot initialise DCMTK (is its data "
              "dictionary installed?)\n",
              stderr);
        return 1;
    }
    if (strcmp(cmd, "info") == 0)
        return nd_cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "decode") == 0)
        return nd_cmd_decode(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return nd_cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "send") == 0)
        return nd_cmd_send(argc - 1, argv + 1);
    if (strcmp(cmd, "echo") == 0)
        return nd_cmd_echo(argc - 1, argv + 1);
    if (strcmp(cmd, "ls") == 0)
        return nd_cmd_ls(argc - 1, argv + 1);
    if (strcmp(cmd, "queue") == 0)
        return nd_cmd_queue(argc - 1, argv + 1);
    if (strcmp(cmd, "audit") == 0)
        return nd_cmd_audit(argc - 1, argv + 1);
    if (strcmp(cmd, "delete") == 0)
        return nd_cmd_delete(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return nd_cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0)
        return nd_cmd_import(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0)
        return nd_cmd_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "conflicts") == 0)
        return nd_cmd_conflicts(argc - 1, argv + 1);
    if (strcmp(cmd, "find") == 0)
        return nd_cmd_find(argc - 1, argv + 1);
    if (strcmp(cmd, "get") == 0)
        return nd_cmd_get(argc - 1, argv + 1);
    if (strcmp(cmd, "move") == 0)
        return nd_cmd_move(argc - 1, argv + 1);
    fprintf(stderr, "consort-node: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
