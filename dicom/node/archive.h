/* archive.h - the on-disk store: one Part-10 file per instance under
 * STORAGE/data/xx/<hash>.dcm, the path derived from a SHA-256 of the
 * SOP Instance UID (never from UID text or names); 256 folders, so that a
 * new archive does not create a folder per instance. Data sets arrive in
 * unnamed files in their folder (or temp files in STORAGE/tmp) and get
 * their name atomically; with sync = full the file is fsync'd before and
 * its folder after (DESIGN.md rules 1-3). Conflicting duplicates go to
 * STORAGE/conflicts. Thread-safe: the handle holds only immutable state
 * after open. */
#ifndef ND_ARCHIVE_H
#define ND_ARCHIVE_H

#include <stddef.h>
#include <time.h>

typedef struct nd_archive nd_archive;

/* Creates root, data/, tmp/, conflicts/ as needed and removes what a crash
 * left in tmp/ (*out_purged: how many). out_purged NULL: tmp/ is left
 * alone (another process, the running node, may be receiving there). On
 * failure *out = NULL and err says why. */
int nd_archive_open(const char *root, int sync_full, nd_archive **out,
                    int *out_purged, char *err, size_t errlen);
void nd_archive_close(nd_archive *ar);

const char *nd_archive_root(const nd_archive *ar);
const char *nd_archive_tmp_dir(const nd_archive *ar);

enum nd_dup { ND_NEW = 0, ND_DUP_SAME = 1, ND_DUP_CONFLICT = 2 };

/* Moves tmp_path (a received Part-10 file) into place for sop_uid.
 * out_rel gets the path relative to the root: the instance's file, or for
 * ND_DUP_CONFLICT the file kept aside in conflicts/. ND_DUP_SAME: the same
 * data set was already there; tmp_path is removed. On error tmp_path is
 * removed and ND_EFULL / ND_EIO returned. */
int nd_archive_commit(nd_archive *ar, const char *tmp_path,
                      const char *sop_uid, char *out_rel, size_t rel_len,
                      enum nd_dup *out_dup);

/* An unnamed file (O_TMPFILE) in the folder where sop_uid's file goes, to
 * receive it into: nothing is left if the node dies before it is linked
 * (nd_archive_commit_fd). -1 if the file system cannot (then use tmp/). */
int nd_archive_open_tmp(nd_archive *ar, const char *sop_uid);

/* nd_archive_commit for a file from nd_archive_open_tmp: linked into
 * place (never over another file) and closed, also on error. */
int nd_archive_commit_fd(nd_archive *ar, int fd, const char *sop_uid,
                         char *out_rel, size_t rel_len, enum nd_dup *out_dup);

/* 1 if the file at rel has the size it was marked with before it got its
 * name (or carries no mark), 0 if it is shorter or longer: a power cut
 * caught it before its data was on disk. -1 on error. */
int nd_archive_complete(nd_archive *ar, const char *rel);

/* Moves the file at rel to conflicts/<why>-<hash>-<time>.dcm for an
 * operator; the new relative path into out_rel. */
int nd_archive_set_aside(nd_archive *ar, const char *rel, const char *why,
                         char *out_rel, size_t rel_len);

/* A new name conflicts/replaced-<hash>-<ns>.dcm for the copy of rel's
 * instance an accept replaces (nd_archive_replace). */
void nd_archive_replaced_name(nd_archive *ar, const char *rel, char *out_rel,
                              size_t len);

/* Puts the file at conflict_rel (in conflicts/) in place of the archived
 * file at rel (an operator accepting a corrected copy): the archived file
 * is first linked as replaced_rel, then the copy renamed over rel, so a
 * reader sees one or the other, never neither, and whenever the process
 * dies the old copy is at its replaced-* name or still in place (with a
 * second name: replaced_rel and rel the same file), never under the kept
 * copy's name, where it would look like a copy still to accept. 0, or
 * ND_EIO / ND_EFULL with nothing changed. */
int nd_archive_replace(nd_archive *ar, const char *conflict_rel,
                       const char *rel, const char *replaced_rel);

/* Undoes nd_archive_replace: the copy back at conflict_rel, the old one
 * at rel again. 0, or ND_EIO / ND_EFULL. */
int nd_archive_unreplace(nd_archive *ar, const char *conflict_rel,
                         const char *rel, const char *replaced_rel);

/* Removes an instance file again (its index commit failed). */
int nd_archive_remove(nd_archive *ar, const char *rel);

/* The relative path an instance has (whether or not it exists). */
void nd_archive_rel_path(const char *sop_uid, char *out_rel, size_t len);

/* Calls fn for every instance file named (linked or renamed into place)
 * at or after since (0: all), with its relative path. Stops early if fn returns non-zero
 * and returns that value; else 0, or ND_EIO. */
int nd_archive_walk(nd_archive *ar, time_t since,
                    int (*fn)(void *user, const char *rel), void *user);

#endif
