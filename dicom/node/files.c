/* files.c - see files.h. */
#define _GNU_SOURCE
#include "files.h"

#include "nd.h"

#include "dcx/dcx.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int nd_files_push(struct nd_files *l, const char *path)
{
    char **v = dcx_grow(l->v, l->n, &l->cap, sizeof *v, 256);
    if (!v)
        return -1;
    l->v = v;
    l->v[l->n] = strdup(path);
    if (!l->v[l->n])
        return -1;
    l->n++;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(const char *cmd, struct nd_files *l, const char *path,
                int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "consort-node %s: %s: %s\n", cmd, path,
                strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode))
        return nd_files_push(l, path);
    if (!S_ISDIR(st.st_mode) || depth > 32)
        return 0;
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "consort-node %s: %s: %s\n", cmd, path,
                strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char **nn = dcx_grow(names, n, &cap, sizeof *nn, 64);
        if (!nn) {
            rc = -1;
            break;
        }
        names = nn;
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            char *p;
            if (asprintf(&p, "%s/%s", path, names[i]) < 0) {
                rc = -1;
            } else {
                rc = walk(cmd, l, p, depth + 1);
                free(p);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int nd_files_add(const char *cmd, struct nd_files *l, const char *path)
{
    return walk(cmd, l, path, 0);
}

void nd_files_free(struct nd_files *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

void nd_files_progress(size_t done, size_t total, double bytes, double secs,
                       int final)
{
    int w = 30, fill = total ? (int)((double)w * (double)done / (double)total)
                             : w;
    char bar[40];
    for (int i = 0; i < w; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[w] = '\0';
    fprintf(stderr, "\r[%s] %zu/%zu  %.1f MB  %.1f MB/s   %s", bar, done,
            total, bytes / 1e6, secs > 0 ? bytes / 1e6 / secs : 0.0,
            final ? "\n" : "");
    fflush(stderr);
}

double nd_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
