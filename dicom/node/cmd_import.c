/* cmd_import.c - `consort-node import PATH...`: DICOM files and folders
 * (a CD or USB stick a patient brought from another hospital, with or
 * without a DICOMDIR; files another system wrote) into the archive, the
 * way a C-STORE stores them: each file checked like a received instance,
 * placed atomically (fsync'd with sync = full), indexed, and queued for the
 * peers the forwarding rules name, as an instance a modality sent (the
 * running node sends it within a second, or when it starts). Files keep
 * their bytes and transfer syntax; a data set without a Part-10 header
 * gets one (DESIGN.md rule 2: every file describes itself). Safe beside a
 * running node. Audited per study (110107 Import). */
#define _GNU_SOURCE
#include "cmd.h"
#include "files.h"
#include "opts.h"

#include "archive.h"
#include "audit.h"
#include "config.h"
#include "forward.h"
#include "index.h"
#include "nd.h"
#include "record.h"

#include "dcx/dataset.h"
#include "dcx/dcx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum outcome { IMPORTED, ALREADY, CONFLICT, SKIPPED, FAILED };

struct run {
    nd_archive *ar;
    nd_index *ix;
    struct nd_study_counts studies; /* imported / failed, for the audit */
    double bytes;
    int disk_full; /* the archive's disk: the run stops */
};

static void usage(FILE *to)
{
    nd_opts_usage(
        to,
        "usage: consort-node import PATH... [--storage DIR | --config "
        "FILE]\n"
        "                          [--user NAME] [--no-progress]\n",
        "\nStores DICOM files, and the files in folders (recursively: "
        "a CD or USB\nstick with or without a DICOMDIR), in the archive "
        "as a C-STORE would:\nchecked, written safely, indexed, and "
        "queued for the peers the forwarding\nrules name (the running "
        "node sends them). Files that are not DICOM are\nskipped; a "
        "file already in the archive is left as it is; one with the "
        "same\nSOP Instance UID but other content is kept aside in "
        "conflicts/. Safe while\nthe node runs. Progress on a terminal, "
        "a summary; exit 1 if a DICOM file\ncould not be imported.");
}

/* 1 if path is a DICOMDIR: its meta says so (its data set has no SOP
 * Class UID of its own, so the record reader refuses it). */
static int is_dicomdir(const char *path)
{
    struct dcx_open_opts o = {.no_pixels = 1};
    dcx_ds *ds;
    if (dcx_ds_open(path, &o, &ds, NULL) < 0)
        return 0;
    int yes = strcmp(dcx_ds_media_class(ds), "1.2.840.10008.1.3.10") == 0;
    dcx_ds_close(ds);
    return yes;
}

/* Copies the file at path into fd; 0 or -1 (errno). */
static int copy_into(int fd, const char *path, off_t size)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    off_t off = 0;
    while (off < size) {
        ssize_t n = sendfile(fd, in, &off, (size_t)(size - off));
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(in);
            errno = e;
            return -1;
        }
    }
    close(in);
    return 0;
}

/* The file placed in the archive: copied as it is (a Part-10 file), or
 * written with a file meta header (a bare data set). */
static int place(struct run *rn, const char *path, int is_part10,
                 const struct stat *sb, const char *sop_uid, char *rel,
                 size_t rel_len, enum nd_dup *dup, char *why, size_t whylen)
{
    if (is_part10) {
        int fd = nd_archive_open_tmp(rn->ar, sop_uid);
        if (fd >= 0) {
            if (copy_into(fd, path, sb->st_size) < 0) {
                int e = errno;
                snprintf(why, whylen, "cannot copy: %s", strerror(e));
                close(fd);
                return e == ENOSPC ? ND_EFULL : ND_EIO;
            }
            return nd_archive_commit_fd(rn->ar, fd, sop_uid, rel, rel_len,
                                        dup);
        }
    }
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s/import-XXXXXX", nd_archive_tmp_dir(rn->ar));
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        snprintf(why, whylen, "cannot write in %s: %s",
                 nd_archive_tmp_dir(rn->ar), strerror(e));
        return e == ENOSPC ? ND_EFULL : ND_EIO;
    }
    int rc = 0, full = 0;
    if (is_part10) {
        rc = copy_into(fd, path, sb->st_size) < 0 ? -1 : 0;
        full = rc < 0 && errno == ENOSPC;
        if (rc < 0)
            snprintf(why, whylen, "cannot copy: %s", strerror(errno));
    } else {
        dcx_ds *ds;
        struct dcx_error e;
        rc = dcx_ds_open(path, NULL, &ds, &e);
        if (rc == 0) {
            rc = dcx_ds_save(ds, tmp, NULL, &e);
            dcx_ds_close(ds);
        }
        if (rc < 0)
            snprintf(why, whylen, "cannot give it a file meta header: %s",
                     e.msg);
    }
    close(fd);
    if (rc < 0) {
        unlink(tmp);
        return full ? ND_EFULL : ND_EIO;
    }
    return nd_archive_commit(rn->ar, tmp, sop_uid, rel, rel_len, dup);
}

static enum outcome import_one(struct run *rn, const char *path, char *why,
                               size_t whylen)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return FAILED;
    }
    int is_part10 = dcx_file_is_part10(path);
    struct nd_record rec;
    if (nd_record_read(path, -1, &rec, why, whylen) < 0) {
        if (is_part10 && is_dicomdir(path)) {
            snprintf(why, whylen, "a DICOMDIR (the media's index, not an "
                                  "instance)");
            return SKIPPED;
        }
        /* a broken Part-10 file is a failure; anything else (a viewer on
         * the CD, a text file) is simply not DICOM */
        if (is_part10)
            return FAILED;
        snprintf(why, whylen, "not a DICOM file");
        return SKIPPED;
    }
    int invalid_uid;
    const char *problem = nd_record_problem(&rec, &invalid_uid);
    if (problem) {
        snprintf(why, whylen, "%s", problem);
        return FAILED;
    }
    char rel[200];
    enum nd_dup dup;
    int rc = place(rn, path, is_part10, &sb, rec.sop_uid, rel, sizeof rel,
                   &dup, why, whylen);
    if (rc < 0) {
        rn->disk_full = rc == ND_EFULL;
        if (rc == ND_EFULL)
            snprintf(why, whylen, "disk full");
        else if (!why[0])
            snprintf(why, whylen, "cannot write the archive file");
        nd_study_counts_add(&rn->studies, rec.study_uid, rec.r.patient_id,
                            0);
        return FAILED;
    }
    if (dup == ND_DUP_CONFLICT) {
        snprintf(why, whylen, "another instance with this SOP Instance UID "
                              "is in the archive: kept aside as %s",
                 rel);
        return CONFLICT;
    }
    char full[1400];
    snprintf(full, sizeof full, "%s/%s", nd_archive_root(rn->ar), rel);
    struct stat placed;
    rec.r.size = stat(full, &placed) == 0 ? (int64_t)placed.st_size
                                          : (int64_t)sb.st_size;
    rec.r.path = rel;
    rec.r.calling_ae = ""; /* not a peer: routed as a modality's */
    rec.r.origin = "";
    rc = nd_index_add(rn->ix, &rec.r);
    if (rc < 0) {
        rn->disk_full = rc == ND_EFULL;
        snprintf(why, whylen, "index: %s", nd_index_errmsg(rn->ix));
        if (dup == ND_NEW)
            nd_archive_remove(rn->ar, rel);
        nd_study_counts_add(&rn->studies, rec.study_uid, rec.r.patient_id,
                            0);
        return FAILED;
    }
    if (dup == ND_DUP_SAME && rc == 1)
        return ALREADY;
    nd_study_counts_add(&rn->studies, rec.study_uid, rec.r.patient_id, 1);
    rn->bytes += (double)rec.r.size;
    return IMPORTED;
}

int nd_cmd_import(int argc, char **argv)
{
    const char *cfg_path = NULL, *storage = NULL, *user = NULL;
    int no_progress = 0, n_pos;
    const struct nd_opt opts[] = {
        ND_STR("--config", &cfg_path),
        ND_STR("--storage", &storage),
        ND_STR("--user", &user),
        ND_FLAG("--no-progress", &no_progress),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("import", argc, argv, 1, opts, argc, &n_pos);
    if (pr == ND_OPTS_OK && n_pos == 0)
        pr = ND_OPTS_BAD;
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    user = nd_cmd_user(user);
    struct nd_config cfg;
    if (nd_cmd_config("import", cfg_path, storage, &cfg) < 0)
        return 1;
    char err[512];
    struct nd_files files = {0};
    for (int i = 0; i < n_pos; i++)
        if (nd_files_add("import", &files, argv[i]) < 0) {
            nd_files_free(&files);
            return 1;
        }
    struct run rn = {0};
    nd_audit *audit = NULL;
    int rc = 1;
    char path[1200], audit_path[1200];
    /* NULL out_purged: tmp/ is the running node's */
    if (nd_archive_open(cfg.storage, cfg.sync == ND_SYNC_FULL, &rn.ar, NULL,
                        err, sizeof err) < 0) {
        fprintf(stderr, "consort-node import: %s\n", err);
        goto out;
    }
    snprintf(path, sizeof path, "%s/index.sqlite", cfg.storage);
    if (nd_index_open(path, &rn.ix, err, sizeof err) < 0) {
        fprintf(stderr, "consort-node import: %s\n", err);
        goto out;
    }
    nd_index_set_router(rn.ix, nd_forward_plan_route, &cfg);
    nd_config_audit_path(&cfg, audit_path, sizeof audit_path);
    if (nd_audit_open(audit_path, &audit, err, sizeof err) < 0) {
        fprintf(stderr, "consort-node import: %s\n", err);
        goto out;
    }
    int show = !no_progress && isatty(2);
    long count[FAILED + 1] = {0};
    size_t not_tried = 0;
    double t0 = nd_now_s();
    for (size_t i = 0; i < files.n; i++) {
        char why[400] = "";
        enum outcome o = import_one(&rn, files.v[i], why, sizeof why);
        count[o]++;
        if (o == FAILED || o == CONFLICT || (o == SKIPPED && !show)) {
            if (show)
                fputc('\n', stderr);
            fprintf(o == SKIPPED ? stdout : stderr, "%s %s: %s\n",
                    o == FAILED     ? "FAILED  "
                    : o == CONFLICT ? "conflict"
                                    : "skipped ",
                    files.v[i], why);
        }
        if (show && (i % 16 == 15 || i + 1 == files.n))
            nd_files_progress(i + 1, files.n, rn.bytes, nd_now_s() - t0, 0);
        if (rn.disk_full) { /* every next file would fail the same way */
            not_tried = files.n - i - 1;
            fprintf(stderr, "consort-node import: the archive's disk is "
                            "full: stopped, %zu file(s) not tried\n",
                    not_tried);
            break;
        }
    }
    if (show && files.n)
        fputc('\n', stderr);
    size_t n_studies = 0;
    for (size_t i = 0; i < rn.studies.n; i++) {
        const struct nd_study_count *s = &rn.studies.v[i];
        n_studies += s->done > 0;
        char detail[1300];
        snprintf(detail, sizeof detail, "from %s", argv[0]);
        nd_audit_write(audit,
                       &(struct nd_audit_event){
                           .what = ND_AUDIT_IMPORT,
                           .outcome = nd_audit_outcome_of(s->done, s->failed),
                           .ae = cfg.ae_title, .user = user,
                           .patient_id = s->patient_id,
                           .study_uid = s->study_uid, .instances = s->done,
                           .failed = s->failed,
                           .detail = detail});
    }
    nd_audit_sync(audit);
    double dt = nd_now_s() - t0;
    printf("%ld instance(s) of %zu study(ies) imported into %s (%.1f MB, "
           "%.1f s)",
           count[IMPORTED], n_studies, cfg.storage, rn.bytes / 1e6, dt);
    if (count[ALREADY])
        printf("; %ld already there", count[ALREADY]);
    if (count[CONFLICT])
        printf("; %ld conflicting, kept aside", count[CONFLICT]);
    if (count[SKIPPED])
        printf("; %ld skipped (not DICOM, DICOMDIR)", count[SKIPPED]);
    if (count[FAILED])
        printf("; %ld FAILED", count[FAILED]);
    if (not_tried)
        printf("; %zu not tried (disk full)", not_tried);
    printf("\n");
    rc = count[FAILED] || not_tried ? 1 : 0;
out:
    nd_audit_close(audit);
    nd_index_close(rn.ix);
    nd_archive_close(rn.ar);
    nd_study_counts_free(&rn.studies);
    nd_files_free(&files);
    return rc;
}
