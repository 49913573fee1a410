/* accept.h - a copy of an instance kept aside in conflicts/ taken in the
 * archived copy's place: the archived file linked as conflicts/replaced-*
 * (accepting that undoes it), the copy renamed over it (a reader sees one
 * or the other), the index's instance, series, study and patient rows
 * taken from the copy in the same transaction (the instance queued for
 * the peers again). Killed at any point, the old copy is in place or
 * under its replaced-* name, never under the kept copy's name.
 * Used by `consort-node conflicts accept` and by `serve` for a correction
 * from a peer trusted with them ([peer] accept_corrections). The caller
 * holds the index's write lock where there is one, and audits. */
#ifndef ND_ACCEPT_H
#define ND_ACCEPT_H

#include <stddef.h>

#include "archive.h"
#include "index.h"

/* r: the copy's record (size, calling_ae and origin set; path is set
 * for the call and NULL after it),
 * crel: its path relative to the storage folder. 0 with the replaced
 * copy's relative path in replaced_rel; else why says why (a sentence)
 * and the archive and index are as they were: ND_ENOTFOUND (the archive
 * no longer holds the instance), ND_EBADDATA (another study or series),
 * ND_EIO / ND_EFULL / ND_EINDEX. */
int nd_accept_copy(nd_archive *ar, nd_index *ix, const char *crel,
                   struct nd_instance_rec *r, char *replaced_rel,
                   size_t len, char *why, size_t whylen);

#endif
