/* cmd_export.c - `consort-node export`: studies of the archive, with their
 * presentation states, key objects and reports, written as a PS3.10 media
 * folder with a DICOMDIR; with --anonymize de-identified (dcx/media.h)
 * under pseudonyms whose map stays in this node's index (teaching.h).
 * Teaching key objects queue studies; --teaching exports the queue. Every
 * export is in the audit trail. Safe beside a running node: the index is
 * read, and written in short transactions. */
#define _GNU_SOURCE
#include "cmd.h"
#include "files.h"
#include "opts.h"

#include "audit.h"
#include "config.h"
#include "index.h"
#include "nd.h"

#include "dcx/dcx.h"
#include "teaching.h"

#include "dcx/dataset.h"
#include "dcx/media.h"
#include "dcx/tags.h"
#include "dcx/uids.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *to)
{
    fputs(
        "usage: consort-node export [--anonymize] STUDY_UID... DIR\n"
        "       consort-node export [--anonymize] --teaching DIR\n"
        "       consort-node export --list\n"
        "options: [--storage DIR | --config FILE] [--user NAME]\n"
        "         [--allow-burned-in] [--keep-patient-characteristics]\n"
        "\n"
        "Writes the studies, with their presentation states, key images "
        "and\n"
        "reports, to DIR as DICOM media: DIR/DICOMDIR and "
        "DIR/DICOM/ST.../SE.../IM...\n"
        "(explicit VR little endian; JPEG 2000 stays compressed). A "
        "DICOMDIR\n"
        "already in DIR is added to.\n"
        "\n"
        "--anonymize  de-identify per DICOM PS3.15 E.1 (Basic "
        "Application Level\n"
        "             Confidentiality Profile, with the Clean Descriptors, "
        "Clean\n"
        "             Graphics, Clean Structured Content and Modified "
        "Dates\n"
        "             options): patients become TF000001, TF000002, ..., "
        "dates\n"
        "             move 10-20 years back (per patient), every UID is "
        "replaced.\n"
        "             The same patient and UID get the same replacement in "
        "every\n"
        "             export; the map stays in this node's index, never in "
        "DIR.\n"
        "--allow-burned-in\n"
        "             also export images that may show the patient in their "
        "pixels\n"
        "             (Burned In Annotation YES, or not stated on "
        "ultrasound,\n"
        "             secondary capture, photographs) and encapsulated\n"
        "             documents (PDF) that do not say NO; refused otherwise,\n"
        "             and references to them are taken out of the study's\n"
        "             presentation states, key objects and reports (one\n"
        "             left with nothing to reference is left out)\n"
        "--keep-patient-characteristics\n"
        "             keep sex, age, size, weight (Retain Patient "
        "Characteristics)\n"
        "--teaching   the studies a key object \"For Teaching File Export\" "
        "queued\n"
        "             and that were not exported yet\n"
        "--ready S    with --teaching: only studies that received nothing "
        "for S\n"
        "             seconds (what `serve` runs with [node] teaching_dir)\n"
        "--list       the teaching queue\n"
        "\n"
        "Exit status: 0 all written, 3 some images refused (burned-in), 1 "
        "error.\n",
        to);
}

struct instance {
    char *path, *series, *sop;
    int document; /* it references images (GSPS, SR, KO): after them */
};

/* An encapsulated document (PDF, CDA, ...; PS3.3 A.45): no Rows, but like
 * an image it may name the patient in what it holds (its Burned In
 * Annotation), so it is refused as one, not left out as a document
 * without references. */
static int encapsulated(const char *sop_class)
{
    static const char prefix[] = "1.2.840.10008.5.1.4.1.1.104.";
    return strncmp(sop_class, prefix, sizeof prefix - 1) == 0;
}

struct study {
    char uid[68], patient_id[130], issuer[130];
    char person[600]; /* nd_teach_person: one ID can be two people */
    struct instance *v;
    size_t n, cap;
};

static int collect(void *user, const char *const *v)
{
    struct study *s = user;
    struct instance *nv = dcx_grow(s->v, s->n, &s->cap, sizeof *nv, 64);
    if (!nv)
        return ND_ENOMEM;
    s->v = nv;
    struct instance *in = &s->v[s->n];
    in->path = strdup(v[NK_PATH]);
    in->series = strdup(v[NK_SERIES_UID]);
    in->sop = strdup(v[NK_SOP_UID]);
    /* no Rows: no pixels */
    in->document = v[NK_ROWS][0] == '\0' && !encapsulated(v[NK_SOP_CLASS]);
    if (!in->path || !in->series || !in->sop) {
        free(in->path);
        free(in->series);
        free(in->sop);
        return ND_ENOMEM;
    }
    s->n++;
    snprintf(s->patient_id, sizeof s->patient_id, "%s", v[NK_PATIENT_ID]);
    snprintf(s->issuer, sizeof s->issuer, "%s", v[NK_ISSUER]);
    nd_teach_person(v[NK_PATIENT_NAME], v[NK_BIRTH_DATE], v[NK_SEX],
                    s->person, sizeof s->person);
    return 0;
}

static void study_free(struct study *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].path);
        free(s->v[i].series);
        free(s->v[i].sop);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Series by series, the images' first: the DICOMDIR's study record
 * takes its values (the description) from the first file it is given,
 * and a presentation state carries none. */
static int by_series(const void *a, const void *b)
{
    const struct instance *x = a, *y = b;
    if (x->document != y->document)
        return x->document - y->document;
    return strcmp(x->series, y->series);
}

/* The next free STnnnnnn folder number under dir/DICOM. */
static int next_study_folder(const char *dir)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/DICOM", dir);
    DIR *d = opendir(path);
    int next = 1;
    if (!d)
        return next;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "ST", 2) == 0 && strlen(e->d_name) == 8) {
            int k = atoi(e->d_name + 2);
            if (k >= next)
                next = k + 1;
        }
    closedir(d);
    return next;
}

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            int rc = mkdir(path, 0755);
            *p = '/';
            if (rc != 0 && errno != EEXIST)
                return -1;
        }
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

struct map_ctx {
    nd_index *ix;
    struct nd_files refused; /* SOP Instance UIDs of the images refused */
};

static int map_uid(void *user, const char *uid, char out[65])
{
    struct map_ctx *m = user;
    return nd_teach_uid(m->ix, uid, out) < 0 ? DCX_EIO : 0;
}

/* The images come first (by_series): a GSPS, key object or report then
 * references only what the export holds. */
static int left_out(void *user, const char *sop_uid)
{
    const struct map_ctx *m = user;
    for (size_t i = 0; i < m->refused.n; i++)
        if (strcmp(m->refused.v[i], sop_uid) == 0)
            return 1;
    return 0;
}

/* 1 if dir's DICOMDIR already has a STUDY record for uid: exporting it
 * again would put its instances in the file-set twice. */
static int dicomdir_has_study(const char *dir, const char *uid)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/DICOMDIR", dir);
    if (access(path, R_OK) != 0)
        return 0;
    dcx_ds *ds;
    if (dcx_ds_open(path, NULL, &ds, NULL) < 0)
        return 0;
    const uint32_t records = DCX_TAG(0x0004, 0x1220);
    int n = dcx_item_seq_count(dcx_ds_root(ds), records), found = 0;
    for (int i = 0; i < n && !found; i++) {
        dcx_item *r;
        char type[16], study[68];
        if (dcx_item_seq_get(dcx_ds_root(ds), records, (unsigned)i, &r) < 0 ||
            dcx_item_get_str(r, DCX_TAG(0x0004, 0x1430), -1, type,
                             sizeof type) < 0 ||
            strcmp(type, "STUDY") != 0 ||
            dcx_item_get_str(r, DCX_TAG(0x0020, 0x000D), -1, study,
                             sizeof study) < 0)
            continue;
        found = strcmp(study, uid) == 0;
    }
    dcx_ds_close(ds);
    return found;
}

struct opts {
    const char *dir, *storage_dir, *user;
    int anonymize, allow_burned_in, keep_chars;
};

struct totals {
    long written, refused, left, failed;
    int j2k;
    struct nd_files rel; /* the files written, for the DICOMDIR */
    int journal;     /* DIR/.consort-export, see below */
};

/* ---- DIR/.consort-export: the run's lock and journal ----
 * Locked (flock) for the whole run, so that two exports to one folder
 * (the node's automatic one and a teacher's) take turns instead of
 * writing into the same study folder. It names the study folders the run
 * creates. The DICOMDIR names their files only at the end, so a run
 * killed before that (kill -9, a power cut) leaves folders no DICOMDIR
 * refers to; the next run removes those it finds named here. Removed at
 * the end of a run that left nothing behind. */
#define JOURNAL ".consort-export"

/* The journal of dir, open and locked (waiting for another export that
 * holds it); -1 if it cannot be made. */
static int journal_lock(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/" JOURNAL, dir);
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return -1;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            if (errno != EWOULDBLOCK) {
                close(fd);
                return -1;
            }
            fprintf(stderr, "waiting for the export already writing to "
                            "%s...\n",
                    dir);
            if (flock(fd, LOCK_EX) < 0) {
                close(fd);
                return -1;
            }
        }
        /* the one before may have removed the file while we waited: the
         * lock counts only on the file the path still names */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
            a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            return fd;
        close(fd);
    }
    return -1;
}

/* Appends "DICOM/STnnnnnn" before the folder is made. */
static void journal_add(int fd, int st_no)
{
    char line[32];
    int n = snprintf(line, sizeof line, "DICOM/ST%06d\n", st_no);
    if (fd >= 0 && write(fd, line, (size_t)n) == n)
        fdatasync(fd);
}

static int referenced(void *user, const struct dcx_dir_record *r)
{
    struct nd_files *files = user;
    return r->file[0] && nd_files_push(files, r->file) < 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes the folders a killed run named and no DICOMDIR refers to. */
static void journal_recover(int fd, const char *dir)
{
    char buf[8192];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return;
    buf[n] = '\0';
    struct nd_files files = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s/DICOMDIR", dir);
    struct dcx_error e;
    if (access(path, F_OK) == 0 &&
        dcx_dicomdir_read(path, referenced, &files, &e) != 0) {
        fprintf(stderr, "consort-node export: %s: %s; folders of an "
                        "interrupted export are left as they are\n",
                path, e.msg);
        nd_files_free(&files);
        return;
    }
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        int st;
        char tail;
        /* only what we name so: never a path of the journal's choosing */
        if (strlen(line) != 14 ||
            sscanf(line, "DICOM/ST%6d%c", &st, &tail) != 1)
            continue;
        int used = 0;
        for (size_t i = 0; i < files.n && !used; i++)
            used = strncmp(files.v[i], line, 14) == 0 && files.v[i][14] == '/';
        snprintf(path, sizeof path, "%s/%s", dir, line);
        if (!used && access(path, F_OK) == 0) {
            if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0)
                fprintf(stderr, "removed %s, left by an export that was "
                                "interrupted\n",
                        line);
            else
                fprintf(stderr, "consort-node export: cannot remove %s, "
                                "left by an interrupted export: %m\n",
                        path);
        }
    }
    nd_files_free(&files);
    if (ftruncate(fd, 0) == 0)
        fdatasync(fd);
}

/* Writes one study into its own STnnnnnn folder. 1 if written, 0 if it
 * was there already or every image was refused, -1 when nothing of it
 * could be written (said on stderr). */
static int export_study(nd_index *ix, nd_audit *audit,
                        const struct nd_config *cfg, const struct opts *o,
                        const char *study_uid, struct totals *t)
{
    struct study s = {0};
    snprintf(s.uid, sizeof s.uid, "%s", study_uid);
    const char *one[1] = {study_uid};
    struct nd_cond c = {.key = NK_STUDY_UID, .match = NM_LIST,
                        .values = one, .n_values = 1};
    unsigned char want[NK_COUNT] = {0};
    want[NK_PATH] = 1;
    int rc = nd_index_find(ix, ND_IMAGE, &c, 1, want, collect, &s);
    if (rc < 0 || s.n == 0) {
        fprintf(stderr, "consort-node export: %s: %s\n", study_uid,
                rc < 0 ? "cannot read the index" : "no such study");
        study_free(&s);
        return -1;
    }
    char new_uid[65];
    snprintf(new_uid, sizeof new_uid, "%s", study_uid);
    if ((!o->anonymize || nd_teach_uid(ix, study_uid, new_uid) == 0) &&
        dicomdir_has_study(o->dir, new_uid)) {
        printf("study %s is already in %s: left as it is\n", study_uid,
               o->dir);
        nd_teach_done(ix, study_uid, o->dir, 0);
        study_free(&s);
        return 0;
    }
    qsort(s.v, s.n, sizeof *s.v, by_series);
    struct nd_teach_patient tp = {0};
    struct map_ctx mc = {.ix = ix};
    struct dcx_deid_opts d = {0};
    if (o->anonymize) {
        if (nd_teach_patient(ix, s.patient_id, s.issuer, s.person, &tp) < 0) {
            fprintf(stderr, "consort-node export: %s\n",
                    nd_index_errmsg(ix));
            study_free(&s);
            return -1;
        }
        d = (struct dcx_deid_opts){
            .patient_name = tp.pseudonym, .patient_id = tp.pseudonym,
            .date_shift_days = tp.date_shift,
            .keep_characteristics = o->keep_chars,
            .allow_burned_in = o->allow_burned_in,
            .map_uid = map_uid, .user = &mc, .left_out = left_out};
    }
    int st_no = next_study_folder(o->dir), se_no = 0, im_no = 0;
    journal_add(t->journal, st_no);
    long written = 0, refused = 0, failed = 0, images = 0, left = 0;
    size_t first_rel = t->rel.n;
    const char *last_series = "";
    for (size_t i = 0; i < s.n; i++) {
        if (strcmp(s.v[i].series, last_series) != 0) {
            last_series = s.v[i].series;
            se_no++;
            im_no = 0;
        }
        char rel[64], folder[1200], out[1300], tmp[1320], src[1400];
        snprintf(rel, sizeof rel, "DICOM/ST%06d/SE%06d/IM%06d", st_no, se_no,
                 ++im_no);
        snprintf(folder, sizeof folder, "%s/DICOM/ST%06d/SE%06d", o->dir,
                 st_no, se_no);
        snprintf(out, sizeof out, "%s/%s", o->dir, rel);
        snprintf(tmp, sizeof tmp, "%s.part", out);
        snprintf(src, sizeof src, "%s/%s", o->storage_dir, s.v[i].path);
        if (mkdir_p(folder) < 0) {
            fprintf(stderr, "consort-node export: cannot create %s: %m\n",
                    folder);
            failed++;
            break;
        }
        struct dcx_error e;
        struct dcx_deid_info info = {0};
        if (o->anonymize) {
            rc = dcx_deid_file(src, tmp, &d, &info, &e);
        } else {
            /* identified copy: the same file, rewritten for the profile */
            dcx_ds *ds;
            rc = dcx_ds_open(src, NULL, &ds, &e);
            if (rc == 0) {
                const char *ts = dcx_ds_transfer_syntax(ds);
                int keep = strcmp(ts, DCX_TS_J2K_LOSSLESS) == 0 ||
                           strcmp(ts, DCX_TS_J2K) == 0;
                snprintf(info.transfer_syntax, sizeof info.transfer_syntax,
                         "%s", keep ? ts : DCX_TS_EXPLICIT_LE);
                info.has_pixels = 1; /* not asked: nothing is refused */
                rc = dcx_ds_save(ds, tmp, keep ? NULL : DCX_TS_EXPLICIT_LE,
                                 &e);
                dcx_ds_close(ds);
            }
        }
        if (rc == DCX_EREFUSED && s.v[i].document) {
            fprintf(stderr, "consort-node export: left out %s: %s\n",
                    s.v[i].path, e.msg);
            unlink(tmp);
            left++;
            im_no--;
            continue;
        }
        if (rc == DCX_EREFUSED) {
            fprintf(stderr,
                    "consort-node export: refused %s: the pixels or the "
                    "document may show identifying text (Burned In "
                    "Annotation); --allow-burned-in exports it\n",
                    s.v[i].path);
            unlink(tmp);
            refused++;
            im_no--;
            if (nd_files_push(&mc.refused, s.v[i].sop) < 0) {
                failed++;
                break;
            }
            continue;
        }
        if (rc == 0 && info.references_removed)
            fprintf(stderr, "consort-node export: %s: %d reference(s) to "
                            "refused images taken out\n",
                    s.v[i].path, info.references_removed);
        if (rc < 0 || rename(tmp, out) != 0) {
            fprintf(stderr, "consort-node export: %s: %s\n", s.v[i].path,
                    rc < 0 ? e.msg : strerror(errno));
            unlink(tmp);
            failed++;
            im_no--;
            continue;
        }
        if (strcmp(info.transfer_syntax, DCX_TS_EXPLICIT_LE) != 0)
            t->j2k = 1;
        if (nd_files_push(&t->rel, rel) < 0) {
            failed++;
            break;
        }
        written++;
        images += info.has_pixels;
    }
    /* every image refused: its presentation states and reports alone are
     * no teaching case */
    if (images == 0 && refused > 0) {
        for (size_t k = first_rel; k < t->rel.n; k++) {
            char path[1200];
            snprintf(path, sizeof path, "%s/%s", o->dir, t->rel.v[k]);
            unlink(path);
            free(t->rel.v[k]);
        }
        t->rel.n = first_rel;
        written = 0;
    }
    if (o->anonymize && written)
        printf("study %s -> %s (ST%06d): %ld written", study_uid,
               tp.pseudonym, st_no, written);
    else
        printf("study %s (ST%06d): %ld written", study_uid, st_no, written);
    if (refused)
        printf(", %ld refused (burned-in annotation)", refused);
    if (left)
        printf(", %ld left out (they reference only refused images)", left);
    if (failed)
        printf(", %ld failed", failed);
    printf("\n");
    /* folders of series (and the study) whose images were all refused */
    for (int k = se_no; k >= 1; k--) {
        char folder[1200];
        snprintf(folder, sizeof folder, "%s/DICOM/ST%06d/SE%06d", o->dir,
                 st_no, k);
        rmdir(folder); /* only if empty */
    }
    char st_folder[1200];
    snprintf(st_folder, sizeof st_folder, "%s/DICOM/ST%06d", o->dir, st_no);
    rmdir(st_folder);
    char detail[200];
    snprintf(detail, sizeof detail, "anonymized=%s%s refused=%ld left_out=%ld",
             o->anonymize ? "yes pseudonym=" : "no",
             o->anonymize ? tp.pseudonym : "", refused, left);
    nd_audit_write(audit,
                   &(struct nd_audit_event){
                       .what = ND_AUDIT_EXPORT,
                       .outcome = nd_audit_outcome_of(written,
                                                      refused + left + failed),
                       .ae = cfg->ae_title, .dest = o->dir, .user = o->user,
                       .patient_id = s.patient_id, .study_uid = study_uid,
                       .instances = written,
                       .failed = refused + left + failed,
                       .detail = detail});
    t->written += written;
    t->refused += refused;
    t->left += left;
    t->failed += failed;
    study_free(&s);
    nd_files_free(&mc.refused);
    if (written == 0 && failed == 0) { /* every image refused */
        nd_teach_done(ix, study_uid, o->dir, 1);
        return 0;
    }
    return written ? 1 : -1;
}

static int print_row(void *user, const struct nd_teach_row *r)
{
    (void)user;
    char when[32];
    time_t m = (time_t)r->marked;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime(&m));
    printf("%s  marked %s by %s  %s%s\n", r->study_uid, when,
           r->marked_by[0] ? r->marked_by : "-",
           r->exported > 0   ? "exported to "
           : r->exported < 0 ? "refused (burned-in annotation; "
                               "--allow-burned-in exports it)"
                             : "pending",
           r->exported > 0 ? r->export_dir : "");
    return 0;
}

static int add_pending(void *user, const struct nd_teach_row *r)
{
    return nd_files_push(user, r->study_uid);
}

int nd_cmd_export(int argc, char **argv)
{
    const char *cfg_path = NULL, *storage = NULL;
    struct opts o = {0};
    int teaching = 0, list = 0, ready = 0;
    struct nd_files studies = {0};
    int n_pos;
    const struct nd_opt opts[] = {
        ND_STR("--config", &cfg_path),
        ND_STR("--storage", &storage),
        ND_STR("--user", &o.user),
        ND_FLAG("--anonymize", &o.anonymize),
        ND_FLAG("--anonymise", &o.anonymize),
        ND_FLAG("--allow-burned-in", &o.allow_burned_in),
        ND_FLAG("--keep-patient-characteristics", &o.keep_chars),
        ND_FLAG("--teaching", &teaching),
        ND_INT("--ready", &ready, 0, 10 * 365 * 86400),
        ND_FLAG("--list", &list),
        ND_OPT_END,
    };
    int pr = nd_opts_parse("export", argc, argv, 1, opts, argc, &n_pos);
    if (pr != ND_OPTS_OK)
        return nd_opts_exit(pr, usage);
    char **pos = argv;
    if (!list && (n_pos < 1 || (!teaching && n_pos < 2) ||
                  (teaching && n_pos != 1))) {
        usage(stderr);
        return 2;
    }
    struct nd_config cfg;
    nd_config_defaults(&cfg);
    char err[512], dir[1024];
    if (cfg_path && nd_config_load(&cfg, cfg_path, err, sizeof err) < 0) {
        fprintf(stderr, "consort-node export: %s\n", err);
        return 1;
    }
    nd_index *ix =
        nd_cmd_open_index("export", cfg_path, storage, 1, dir, sizeof dir);
    if (!ix)
        return 1;
    if (list) {
        int rc = nd_teach_list(ix, ND_TEACH_ALL, 0, print_row, NULL);
        nd_index_close(ix);
        return rc < 0 ? 1 : 0;
    }
    if (storage) {
        snprintf(cfg.storage, sizeof cfg.storage, "%s", storage);
        if (!cfg_path)
            cfg.audit_log[0] = '\0';
    }
    o.storage_dir = dir;
    o.dir = pos[n_pos - 1];
    o.user = nd_cmd_user(o.user);
    int rc = 0;
    if (teaching) {
        rc = nd_teach_list(ix,
                           o.allow_burned_in ? ND_TEACH_PENDING_OR_REFUSED
                                             : ND_TEACH_PENDING,
                           ready, add_pending, &studies);
    } else {
        for (int i = 0; i < n_pos - 1 && rc == 0; i++) {
            struct nd_teach_row r = {.study_uid = pos[i]};
            rc = add_pending(&studies, &r);
        }
    }
    char audit_path[1200];
    nd_config_audit_path(&cfg, audit_path, sizeof audit_path);
    nd_audit *audit = NULL;
    char out_dir[1100];
    snprintf(out_dir, sizeof out_dir, "%s", o.dir);
    int journal = -1;
    if (rc < 0) {
        fprintf(stderr, "consort-node export: cannot read the index\n");
        rc = 1;
        goto out;
    }
    if (studies.n == 0) {
        printf("nothing to export%s\n",
               teaching ? ": the teaching queue is empty" : "");
        rc = 0;
        goto out;
    }
    if (mkdir_p(out_dir) < 0) {
        fprintf(stderr, "consort-node export: cannot create %s: %m\n",
                o.dir);
        rc = 1;
        goto out;
    }
    journal = journal_lock(o.dir);
    if (journal < 0) {
        fprintf(stderr, "consort-node export: cannot lock %s/" JOURNAL
                        ": %m\n",
                o.dir);
        rc = 1;
        goto out;
    }
    journal_recover(journal, o.dir);
    /* no record of it, no export */
    if (nd_audit_open(audit_path, &audit, err, sizeof err) < 0) {
        fprintf(stderr, "consort-node export: %s\n", err);
        rc = 1;
        goto out;
    }
    struct totals t = {.journal = journal};
    int bad = 0;
    unsigned char *written = calloc(studies.n, 1);
    if (!written) {
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < studies.n; i++) {
        fprintf(stderr, "exporting study %zu of %zu...\n", i + 1, studies.n);
        int r = export_study(ix, audit, &cfg, &o, studies.v[i], &t);
        written[i] = r > 0;
        bad |= r < 0;
    }
    int dir_ok = 1;
    unsigned char *added = calloc(t.rel.n ? t.rel.n : 1, 1);
    if (t.rel.n && added) {
        struct dcx_error e;
        if (dcx_dicomdir_write(o.dir, (const char *const *)t.rel.v, t.rel.n,
                               "CONSORT_EXPORT", t.j2k, added, &e) < 0) {
            fprintf(stderr, "consort-node export: DICOMDIR: %s\n", e.msg);
            bad = 1;
            dir_ok = 0;
        }
        /* a file the DICOMDIR cannot list does not stay on the media */
        for (size_t i = 0; i < t.rel.n && dir_ok; i++)
            if (!added[i]) {
                char path[1200];
                snprintf(path, sizeof path, "%s/%s", o.dir, t.rel.v[i]);
                fprintf(stderr, "consort-node export: %s left out: it does "
                                "not fit a DICOMDIR (an attribute its "
                                "directory record needs is missing; "
                                "CONSORT_LOG=info shows which)\n",
                        t.rel.v[i]);
                unlink(path);
                t.written--;
                t.failed++;
            }
    } else if (t.rel.n) {
        bad = 1;
        dir_ok = 0;
    }
    free(added);
    /* exported once the DICOMDIR names it (the teaching queue's view) */
    for (size_t i = 0; i < studies.n && dir_ok; i++)
        if (written[i] && nd_teach_done(ix, studies.v[i], o.dir, 0) < 0)
            fprintf(stderr, "consort-node export: %s\n",
                    nd_index_errmsg(ix));
    free(written);
    printf("%ld instance(s) written to %s%s", t.written, o.dir,
           o.anonymize ? ", de-identified" : "");
    if (t.refused)
        printf("; %ld refused (burned-in annotation)", t.refused);
    if (t.left)
        printf("; %ld left out (they reference only refused images)",
               t.left);
    if (t.failed)
        printf("; %ld failed", t.failed);
    printf("\n");
    nd_files_free(&t.rel);
    rc = bad || t.failed ? 1 : t.refused ? 3 : 0;
    /* every folder of the run is in the DICOMDIR (or was removed): no
     * journal left on the media (unlinked while locked: a waiting export
     * sees that and makes a new one) */
    if (dir_ok) {
        char path[1200];
        snprintf(path, sizeof path, "%s/" JOURNAL, o.dir);
        unlink(path);
    }
out:
    if (journal >= 0)
        close(journal);
    nd_files_free(&studies);
    nd_audit_close(audit);
    nd_index_close(ix);
    return rc;
}
