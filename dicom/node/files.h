/* files.h - the files a command line names (send, import): files as they
 * are, folders searched recursively in name order, hidden names ('.')
 * skipped, so that a run over the same folder goes in the same order. The
 * list is the node's string list for other paths and UIDs too (export,
 * verify); and the progress line of long runs. */
#ifndef ND_FILES_H
#define ND_FILES_H

#include <stddef.h>

struct nd_files {
    char **v; /* paths (or other strings), each malloc'd */
    size_t n, cap;
};

/* Adds path, or the regular files under it. 0, or -1 after saying why on
 * stderr as "consort-node CMD: PATH: ...". */
int nd_files_add(const char *cmd, struct nd_files *l, const char *path);
void nd_files_free(struct nd_files *l);

/* Appends a copy of s. 0 or -1 (out of memory). */
int nd_files_push(struct nd_files *l, const char *s);

/* Seconds on a monotonic clock, for the progress of long runs. */
double nd_now_s(void);

/* One progress bar line on stderr (for a terminal): done of total files,
 * bytes in secs; final ends the line. */
void nd_files_progress(size_t done, size_t total, double bytes, double secs,
                       int final);

#endif
