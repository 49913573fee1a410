/* accept.c - see accept.h. */
#include "accept.h"

#include "nd.h"

#include <stdio.h>
#include <string.h>

struct swap {
    nd_archive *ar;
    const char *crel, *rel, *replaced;
};

static int do_replace(void *user)
{
    struct swap *s = user;
    return nd_archive_replace(s->ar, s->crel, s->rel, s->replaced);
}

int nd_accept_copy(nd_archive *ar, nd_index *ix, const char *crel,
                   struct nd_instance_rec *r, char *replaced_rel,
                   size_t len, char *why, size_t whylen)
{
    char rel[128], replaced[300];
    nd_archive_rel_path(r->sop_uid, rel, sizeof rel);
    nd_archive_replaced_name(ar, rel, replaced, sizeof replaced);
    r->path = rel;
    struct swap sw = {ar, crel, rel, replaced};
    int placed = 0;
    int rc = nd_index_replace(ix, r, replaced, do_replace, &sw, &placed);
    r->path = NULL; /* rel is this function's */
    if (rc < 0) {
        /* the index did not take it: the files go back as they were */
        if (placed && nd_archive_unreplace(ar, crel, rel, replaced) != 0) {
            snprintf(why, whylen,
                     "the index did not take it and the files could not be "
                     "put back: %s holds the new copy, %s the old one",
                     rel, replaced);
            return rc;
        }
        snprintf(why, whylen, "%s",
                 rc == ND_ENOTFOUND
                     ? "the archive no longer holds this instance (its "
                       "study was deleted?); `consort-node import` stores "
                       "it as new"
                 : (rc == ND_EIO || rc == ND_EFULL) && !placed
                     ? "the files could not be swapped (see the log)"
                     : nd_index_errmsg(ix));
        return rc;
    }
    snprintf(replaced_rel, len, "%s", replaced);
    return 0;
}
