/* archive.c - the instance files: hashed paths, atomic placement with
 * fsync ordering, duplicate detection, tmp/ clean-up and the walk used to
 * re-index after a power cut. See archive.h. */
#define _GNU_SOURCE
#include "archive.h"

#include "nd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "dcx/dcx.h"

struct nd_archive {
    char root[1024];
    char tmp[1100];
    int sync_full;
};

static int err_of(int e)
{
    return e == ENOSPC || e == EDQUOT ? ND_EFULL : ND_EIO;
}

static int fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) |
                            O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = dir ? fsync(fd) : fdatasync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int mkdir_one(const char *path, int sync_parent, const char *parent)
{
    if (mkdir(path, 0755) == 0) {
        if (sync_parent && fsync_path(parent, 1) != 0)
            return -1;
        return 0;
    }
    return errno == EEXIST ? 0 : -1;
}

/* OpenSSL 3 looks the algorithm up on every EVP_sha256() digest (a third
 * of the cost of naming a file); fetch it once */
static EVP_MD *sha256_md;
static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void nd_archive_rel_path(const char *sop_uid, char *out, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static const char hexd[] = "0123456789abcdef";
    pthread_once(&once, sha256_fetch);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(sop_uid, strlen(sop_uid), md, &mdlen,
               sha256_md ? sha256_md : EVP_sha256(), NULL);
    char hex[33];
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = hexd[md[i] >> 4];
        hex[2 * i + 1] = hexd[md[i] & 15];
    }
    hex[32] = '\0';
    snprintf(out, len, "data/%.2s/%s.dcm", hex, hex);
}

static int purge_tmp(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (unlink(p) == 0)
            (*count)++;
    }
    closedir(d);
    return 0;
}

int nd_archive_open(const char *root, int sync_full, nd_archive **out,
                    int *out_purged, char *err, size_t errlen)
{
    *out = NULL;
    if (!root || !*root || strlen(root) > 1000) {
        snprintf(err, errlen, "storage folder name is empty or too long");
        return ND_EIO;
    }
    nd_archive *ar = calloc(1, sizeof *ar);
    if (!ar) {
        snprintf(err, errlen, "out of memory");
        return ND_ENOMEM;
    }
    snprintf(ar->root, sizeof ar->root, "%s", root);
    snprintf(ar->tmp, sizeof ar->tmp, "%s/tmp", root);
    ar->sync_full = sync_full;
    static const char *const sub[] = {"data", "tmp", "conflicts"};
    if (mkdir(root, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", root, strerror(errno));
        goto fail;
    }
    for (int i = 0; i < 3; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s/%s", root, sub[i]);
        if (mkdir_one(p, sync_full, root) != 0) {
            snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
            goto fail;
        }
    }
    int purged = 0;
    if (out_purged && purge_tmp(ar->tmp, &purged) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", ar->tmp,
                 strerror(errno));
        goto fail;
    }
    if (out_purged)
        *out_purged = purged;
    *out = ar;
    return 0;
fail:
    free(ar);
    return ND_EIO;
}

void nd_archive_close(nd_archive *ar)
{
    free(ar);
}

const char *nd_archive_root(const nd_archive *ar)
{
    return ar->root;
}

const char *nd_archive_tmp_dir(const nd_archive *ar)
{
    return ar->tmp;
}

/* Offset of the data set: after the Part-10 meta group when there is one
 * (its group length says where it ends), else 0. The meta differs between
 * two receptions of the same instance (source AE); the data set must not. */
static long dataset_offset(int fd)
{
    unsigned char h[144];
    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h + 128, "DICM", 4) != 0)
        return 0;
    /* (0002,0000) UL 4 <len>, explicit VR little endian */
    if (!(h[132] == 2 && h[133] == 0 && h[134] == 0 && h[135] == 0 &&
          h[136] == 'U' && h[137] == 'L'))
        return 0;
    uint32_t gl = (uint32_t)h[140] | (uint32_t)h[141] << 8 |
                  (uint32_t)h[142] << 16 | (uint32_t)h[143] << 24;
    return 144 + (long)gl;
}

/* 1 if the two files hold the same data set, 0 if not, -1 on error. */
static int same_dataset(const char *a, const char *b)
{
    int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
    int rc = -1;
    if (fa < 0 || fb < 0)
        goto out;
    long oa = dataset_offset(fa), ob = dataset_offset(fb);
    struct stat sa, sb;
    if (fstat(fa, &sa) != 0 || fstat(fb, &sb) != 0)
        goto out;
    if (sa.st_size - oa != sb.st_size - ob) {
        rc = 0;
        goto out;
    }
    static const size_t chunk = 1 << 16;
    unsigned char *ba = malloc(chunk), *bb = malloc(chunk);
    rc = ba && bb ? 1 : -1;
    for (off_t done = 0; rc == 1 && done < sa.st_size - oa;) {
        ssize_t na = pread(fa, ba, chunk, oa + done);
        ssize_t nb = pread(fb, bb, chunk, ob + done);
        if (na <= 0 || na != nb)
            rc = -1;
        else if (memcmp(ba, bb, (size_t)na) != 0)
            rc = 0;
        else
            done += na;
    }
    free(ba);
    free(bb);
out:
    if (fa >= 0)
        close(fa);
    if (fb >= 0)
        close(fb);
    return rc;
}

/* rename that never replaces: renameat2(RENAME_NOREPLACE), or link+unlink
 * where the file system lacks it. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (link(from, to) != 0)
        return -1;
    unlink(from);
    return 0;
}

/* A unique name in conflicts/ for the file at rel (data/xx/<hash>.dcm):
 * conflicts/<prefix><hash>-<ns since 1970>.dcm, relative and full. */
static void aside_name(nd_archive *ar, const char *prefix, const char *rel,
                       char *crel, size_t crel_len, char *cpath,
                       size_t cpath_len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(crel, crel_len, "conflicts/%s%.32s-%lld%09ld.dcm", prefix,
             rel + 8, (long long)ts.tv_sec, ts.tv_nsec);
    snprintf(cpath, cpath_len, "%s/%s", ar->root, crel);
}

int nd_archive_commit(nd_archive *ar, const char *tmp, const char *sop_uid,
                      char *out_rel, size_t rel_len, enum nd_dup *out_dup)
{
    char rel[128], path[1200], d1[1200], data[1100];
    int e;
    /* 1. the bytes are on disk before the name exists (rule 1) */
    if (ar->sync_full && fsync_path(tmp, 0) != 0) {
        e = errno;
        dcx_log(DCX_LOG_ERROR, "archive fsync failed: %s", strerror(e));
        unlink(tmp);
        return err_of(e);
    }
    nd_archive_rel_path(sop_uid, rel, sizeof rel);
    snprintf(path, sizeof path, "%s/%s", ar->root, rel);
    snprintf(data, sizeof data, "%s/data", ar->root);
    snprintf(d1, sizeof d1, "%s/%.7s", ar->root, rel); /* data/xx */
    /* 2. the name appears atomically, never over another file */
    int rc = rename_noreplace(tmp, path);
    if (rc != 0 && errno == ENOENT) {
        if (mkdir_one(d1, ar->sync_full, data) != 0) {
            e = errno;
            dcx_log(DCX_LOG_ERROR, "archive cannot create folder: %s",
                    strerror(e));
            unlink(tmp);
            return err_of(e);
        }
        rc = rename_noreplace(tmp, path);
    }
    if (rc != 0 && errno == EEXIST) {
        int same = same_dataset(tmp, path);
        if (same == 1) {
            unlink(tmp);
            snprintf(out_rel, rel_len, "%s", rel);
            *out_dup = ND_DUP_SAME;
            return 0;
        }
        /* different content under the same SOP Instance UID: keep it
         * aside, never overwrite (rule 5) */
        char crel[160], cpath[1300], cdir[1100];
        aside_name(ar, "", rel, crel, sizeof crel, cpath, sizeof cpath);
        snprintf(cdir, sizeof cdir, "%s/conflicts", ar->root);
        if (rename_noreplace(tmp, cpath) != 0 ||
            (ar->sync_full && fsync_path(cdir, 1) != 0)) {
            e = errno;
            unlink(tmp);
            return err_of(e);
        }
        snprintf(out_rel, rel_len, "%s", crel);
        *out_dup = ND_DUP_CONFLICT;
        return 0;
    }
    if (rc != 0) {
        e = errno;
        dcx_log(DCX_LOG_ERROR, "archive cannot place file: %s",
                strerror(e));
        unlink(tmp);
        return err_of(e);
    }
    /* 3. the directory entry is on disk too (power cut) */
    if (ar->sync_full && fsync_path(d1, 1) != 0) {
        e = errno;
        dcx_log(DCX_LOG_ERROR, "archive folder fsync failed: %s",
                strerror(e));
        unlink(path);
        return err_of(e);
    }
    snprintf(out_rel, rel_len, "%s", rel);
    *out_dup = ND_NEW;
    return 0;
}

int nd_archive_open_tmp(nd_archive *ar, const char *sop_uid)
{
    /* tests: the path for file systems without O_TMPFILE (STORAGE/tmp) */
    const char *no = getenv("CONSORT_NO_TMPFILE");
    if (no && strcmp(no, "1") == 0)
        return -1;
    char rel[128], dir[1200], data[1100];
    nd_archive_rel_path(sop_uid, rel, sizeof rel);
    snprintf(dir, sizeof dir, "%s/%.7s", ar->root, rel); /* data/xx */
    snprintf(data, sizeof data, "%s/data", ar->root);
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) {
        if (mkdir_one(dir, ar->sync_full, data) != 0)
            return -1;
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    }
    return fd;
}

/* Names an O_TMPFILE file. AT_EMPTY_PATH skips resolving /proc/self/fd/N
 * (a third of the link's cost) but needs CAP_DAC_READ_SEARCH on older
 * kernels; without it the call fails with ENOENT and the /proc path is
 * used from then on. */
static int link_fd(int fd, const char *proc, const char *path)
{
    static atomic_int no_empty_path;
    if (!atomic_load_explicit(&no_empty_path, memory_order_relaxed)) {
        if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
            return 0;
        if (errno != ENOENT && errno != EPERM)
            return -1;
        atomic_store_explicit(&no_empty_path, 1, memory_order_relaxed);
    }
    return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

/* The size a file must have to be complete, set before it gets its name:
 * see nd_archive_commit_fd and nd_archive_complete. */
#define SIZE_XATTR "user.consort.size"

int nd_archive_commit_fd(nd_archive *ar, int fd, const char *sop_uid,
                         char *out_rel, size_t rel_len, enum nd_dup *out_dup)
{
    char rel[128], path[1200], dir[1200], proc[64];
    int e, rc = 0;
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    /* 1. sync = full: either the bytes are on disk before the name exists
     * (rule 1), or - one journal commit instead of two - the file carries
     * its complete size in an extended attribute, gets its name, and is
     * fsync'd with it. A power cut between name and fsync can then leave
     * a prefix of an instance that was never acknowledged under its name;
     * ordered-data file systems (ext4, XFS) make that a shorter file, never
     * garbage, and start-up sets aside any file shorter than its marked
     * size (nd_archive_complete). */
    int marked = 0;
    if (ar->sync_full) {
        struct stat st;
        char v[32];
        if (fstat(fd, &st) == 0) {
            int n = snprintf(v, sizeof v, "%lld", (long long)st.st_size);
            marked = fsetxattr(fd, SIZE_XATTR, v, (size_t)n, 0) == 0;
        }
        if (!marked && fdatasync(fd) != 0) {
            e = errno;
            dcx_log(DCX_LOG_ERROR, "archive fsync failed: %s", strerror(e));
            close(fd);
            return err_of(e);
        }
    }
    nd_archive_rel_path(sop_uid, rel, sizeof rel);
    snprintf(path, sizeof path, "%s/%s", ar->root, rel);
    snprintf(dir, sizeof dir, "%s/%.7s", ar->root, rel);
    /* 2. the name appears atomically, never over another file */
    const char *where = path, *where_dir = dir;
    char crel[160], cpath[1300], cdir[1100];
    enum nd_dup dup = ND_NEW;
    if (link_fd(fd, proc, path) != 0) {
        e = errno;
        if (e != EEXIST) {
            dcx_log(DCX_LOG_ERROR, "archive cannot place file: %s",
                    strerror(e));
            close(fd);
            return err_of(e);
        }
        int same = same_dataset(proc, path);
        if (same == 1) {
            close(fd);
            snprintf(out_rel, rel_len, "%s", rel);
            *out_dup = ND_DUP_SAME;
            return 0;
        }
        /* different content under the same SOP Instance UID: kept aside,
         * never overwritten (rule 5) */
        aside_name(ar, "", rel, crel, sizeof crel, cpath, sizeof cpath);
        snprintf(cdir, sizeof cdir, "%s/conflicts", ar->root);
        if (link_fd(fd, proc, cpath) != 0) {
            e = errno;
            close(fd);
            return err_of(e);
        }
        where = cpath;
        where_dir = cdir;
        dup = ND_DUP_CONFLICT;
    }
    /* 3. data, size and name on disk (power cut): fsync of the file
     * commits the link with it; the folder's fsync is then cheap, and
     * required where that does not hold */
    if (ar->sync_full &&
        ((marked && fsync(fd) != 0) || fsync_path(where_dir, 1) != 0)) {
        e = errno;
        dcx_log(DCX_LOG_ERROR, "archive fsync failed: %s", strerror(e));
        unlink(where);
        rc = err_of(e);
    }
    close(fd);
    if (rc == 0) {
        snprintf(out_rel, rel_len, "%s",
                 dup == ND_DUP_CONFLICT ? crel : rel);
        *out_dup = dup;
    }
    return rc;
}

int nd_archive_complete(nd_archive *ar, const char *rel)
{
    char path[1200], v[32];
    snprintf(path, sizeof path, "%s/%s", ar->root, rel);
    ssize_t n = getxattr(path, SIZE_XATTR, v, sizeof v - 1);
    if (n < 0)
        return errno == ENODATA || errno == ENOTSUP ? 1 : -1;
    v[n] = '\0';
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return strtoll(v, NULL, 10) == (long long)st.st_size ? 1 : 0;
}

int nd_archive_set_aside(nd_archive *ar, const char *rel, const char *why,
                         char *out_rel, size_t rel_len)
{
    char path[1200], dst[1300], prefix[40];
    snprintf(path, sizeof path, "%s/%s", ar->root, rel);
    snprintf(prefix, sizeof prefix, "%s-", why);
    aside_name(ar, prefix, rel, out_rel, rel_len, dst, sizeof dst);
    return rename_noreplace(path, dst) == 0 ? 0 : ND_EIO;
}

void nd_archive_replaced_name(nd_archive *ar, const char *rel, char *out_rel,
                              size_t len)
{
    char dst[1300];
    aside_name(ar, "replaced-", rel, out_rel, len, dst, sizeof dst);
}

/* fsync of the folders of a and b (the same folder once) */
static int sync_dirs(const char *a, const char *b)
{
    char da[1200], db[1200];
    dcx_dir_of(a, da, sizeof da);
    dcx_dir_of(b, db, sizeof db);
    if (fsync_path(da, 1) != 0)
        return -1;
    return strcmp(da, db) == 0 ? 0 : fsync_path(db, 1);
}

/* The paths a replacement moves between, under the archive's root: the
 * copy kept aside, the archived instance, the name the replaced one
 * keeps. */
struct replace_paths {
    char copy[1200], archived[1200], replaced[1200];
};

static void replace_paths(const nd_archive *ar, const char *conflict_rel,
                          const char *rel, const char *replaced_rel,
                          struct replace_paths *p)
{
    snprintf(p->copy, sizeof p->copy, "%s/%s", ar->root, conflict_rel);
    snprintf(p->archived, sizeof p->archived, "%s/%s", ar->root, rel);
    snprintf(p->replaced, sizeof p->replaced, "%s/%s", ar->root,
             replaced_rel);
}

int nd_archive_replace(nd_archive *ar, const char *conflict_rel,
                       const char *rel, const char *replaced_rel)
{
    struct replace_paths p;
    replace_paths(ar, conflict_rel, rel, replaced_rel, &p);
    const char *c = p.copy, *a = p.archived, *r = p.replaced;
    /* 1. the archived copy gets its replaced-* name too (a second link):
     * from here on it is kept under the name that says what it is */
    if (link(a, r) != 0) {
        int e = errno;
        dcx_log(DCX_LOG_ERROR, "archive cannot keep %s as %s: %s", rel,
                replaced_rel, strerror(e));
        return err_of(e);
    }
    if (ar->sync_full && sync_dirs(r, r) != 0)
        goto fail;
    /* 2. the copy takes the archived one's name in one step: a reader
     * sees one or the other, and the kept name is gone with it */
    if (rename(c, a) != 0)
        goto fail;
    if (ar->sync_full && sync_dirs(a, c) != 0) {
        int e = errno;
        nd_archive_unreplace(ar, conflict_rel, rel, replaced_rel);
        return err_of(e);
    }
    return 0;
fail:;
    int e = errno;
    dcx_log(DCX_LOG_ERROR, "archive cannot put %s in place of %s: %s",
            conflict_rel, rel, strerror(e));
    unlink(r);
    return err_of(e);
}

int nd_archive_unreplace(nd_archive *ar, const char *conflict_rel,
                         const char *rel, const char *replaced_rel)
{
    struct replace_paths p;
    replace_paths(ar, conflict_rel, rel, replaced_rel, &p);
    const char *c = p.copy, *a = p.archived, *r = p.replaced;
    if ((link(a, c) != 0 && errno != EEXIST) || rename(r, a) != 0 ||
        (ar->sync_full && sync_dirs(a, c) != 0)) {
        int e = errno;
        dcx_log(DCX_LOG_ERROR, "archive cannot put %s back in place of %s: "
                               "%s",
                replaced_rel, rel, strerror(e));
        return err_of(e);
    }
    return 0;
}

int nd_archive_remove(nd_archive *ar, const char *rel)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", ar->root, rel);
    return unlink(path) == 0 || errno == ENOENT ? 0 : ND_EIO;
}

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0';
}

int nd_archive_walk(nd_archive *ar, time_t since,
                    int (*fn)(void *user, const char *rel), void *user)
{
    char data[1100];
    snprintf(data, sizeof data, "%s/data", ar->root);
    DIR *d0 = opendir(data);
    if (!d0)
        return ND_EIO;
    struct dirent *a;
    int rc = 0;
    while (rc == 0 && (a = readdir(d0)) != NULL) {
        if (!is_hex(a->d_name, 2))
            continue;
        char p1[1200];
        snprintf(p1, sizeof p1, "%s/%.2s", data, a->d_name);
        struct stat st;
        /* a folder's mtime moves when a file is renamed into it */
        if (since && (stat(p1, &st) != 0 || st.st_mtime < since))
            continue;
        DIR *d1 = opendir(p1);
        if (!d1)
            continue;
        struct dirent *c;
        while (rc == 0 && (c = readdir(d1)) != NULL) {
            size_t n = strlen(c->d_name);
            if (n != 36 || strcmp(c->d_name + 32, ".dcm") != 0)
                continue;
            /* a file's ctime moves when it gets its name (link or
             * rename); older files were indexed before the checkpoint */
            if (since && (fstatat(dirfd(d1), c->d_name, &st,
                                  AT_SYMLINK_NOFOLLOW) != 0 ||
                          st.st_ctime < since))
                continue;
            char rel[128];
            snprintf(rel, sizeof rel, "data/%.2s/%.36s", a->d_name,
                     c->d_name);
            rc = fn(user, rel);
        }
        closedir(d1);
    }
    closedir(d0);
    return rc;
}
