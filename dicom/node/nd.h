/* nd.h - error codes shared by the node's modules (archive, index, serve).
 * Negative like dcx_ codes; the two ranges do not overlap. And the one
 * way the node grows an array. */
#ifndef ND_ND_H
#define ND_ND_H

#include <stdlib.h>

enum {
    ND_EIO = -100,       /* file system error (see errno text in the log) */
    ND_EFULL = -101,     /* no space left (disk or quota) */
    ND_EINDEX = -102,    /* the index database failed */
    ND_EBADDATA = -103,  /* the instance cannot be parsed or is inconsistent */
    ND_ENOMEM = -104,
    ND_ENOTFOUND = -105, /* no such study (or other entity) */
};

/* Room for element n of v (elem bytes each, *cap allocated), doubling
 * from first: v itself, or its reallocation (*cap updated), or NULL when
 * out of memory (v is then unchanged and still the caller's). */
static inline void *nd_grow(void *v, size_t n, size_t *cap, size_t elem,
                            size_t first)
{
    if (n < *cap)
        return v;
    size_t c = *cap ? 2 * *cap : first;
    void *nv = realloc(v, c * elem);
    if (nv)
        *cap = c;
    return nv;
}

#endif
