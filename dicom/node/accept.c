/* accept.c - see accept.h. */
#include "accept.h"

#include "nd.h"

#include <stdio.h>
#include <string.h>

struct swap {
    nd_archive *ar;
    const char *crel, *rel;
};

static int do_swap(void *user)
{
    struct swap *s = user;
    return nd_archive_swap(s->ar, s->crel, s->rel);
}

int nd_accept_copy(nd_archive *ar, nd_index *ix, const char *crel,
                   struct nd_instance_rec *r, char *replaced_rel,
                   size_t len, char *why, size_t whylen)
{
    char rel[128];
    nd_archive_rel_path(r->sop_uid, rel, sizeof rel);
    r->path = rel;
    struct swap sw = {ar, crel, rel};
    int placed = 0;
    int rc = nd_index_replace(ix, r, do_swap, &sw, &placed);
    r->path = NULL; /* rel is this function's */
    if (rc < 0) {
        /* the index did not take it: the files go back as they were */
        if (placed && nd_archive_swap(ar, crel, rel) != 0) {
            snprintf(why, whylen,
                     "the index did not take it and the files could not be "
                     "swapped back: %s holds the new copy, %s the old one",
                     rel, crel);
            return rc;
        }
        snprintf(why, whylen, "%s",
                 rc == ND_ENOTFOUND
                     ? "the archive no longer holds this instance (its "
                       "study was deleted?); `consort-node import` stores "
                       "it as new"
                 : rc == ND_EIO || rc == ND_EFULL
                     ? "the files could not be swapped (see the log)"
                     : nd_index_errmsg(ix));
        return rc;
    }
    if (nd_archive_name_replaced(ar, crel, rel, replaced_rel, len) != 0)
        snprintf(replaced_rel, len, "%s", crel); /* kept as it is */
    return 0;
}
