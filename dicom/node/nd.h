/* nd.h - error codes shared by the node's modules (archive, index, serve).
 * Negative like dcx_ codes; the two ranges do not overlap. */
#ifndef ND_ND_H
#define ND_ND_H


enum {
    ND_EIO = -100,       /* file system error (see errno text in the log) */
    ND_EFULL = -101,     /* no space left (disk or quota) */
    ND_EINDEX = -102,    /* the index database failed */
    ND_EBADDATA = -103,  /* the instance cannot be parsed or is inconsistent */
    ND_ENOMEM = -104,
    ND_ENOTFOUND = -105, /* no such study (or other entity) */
};

#endif
