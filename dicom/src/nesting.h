/* nesting.h - a bounded, non-recursive pre-scan of an encoded data set
 * that measures how deeply its sequences nest. DCMTK 3.6.7 (Debian 12)
 * parses sequences recursively without a limit, so a data set nested a
 * few ten thousand levels deep overflows the stack of whatever thread
 * parses it: one hostile C-STORE or C-FIND would kill the node. (DCMTK
 * later added a limit of 64, EC_NestingDepthLimitExceeded; we apply the
 * same before DCMTK sees the bytes.) Private to libconsort-dicom; no
 * DCMTK here. Incremental: bytes may come in chunks (network, inflate). */
#ifndef DCX_NESTING_H
#define DCX_NESTING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DCX_MAX_NESTING 64

struct dcx_nest_frame {
    uint8_t kind;     /* sequence, item, encapsulated fragments */
    uint8_t implicit; /* contents in implicit VR (UN of undefined length) */
    uint64_t end;     /* stream offset where it ends; UINT64_MAX: delimited */
};

struct dcx_nest {
    int implicit, big_endian; /* the data set's encoding */
    int detect;               /* decide explicit/implicit from the first
                                 element (as DCMTK's auto-detection) */
    int depth, max_depth;     /* sequences open now / the most seen */
    int sp;
    struct dcx_nest_frame st[2 * DCX_MAX_NESTING + 4];
    uint64_t pos, skip;
    uint8_t hdr[12];
    int got;
    int stopped; /* 1: too deep; 2: not understood (left to DCMTK) */
};

/* Starts a scan of a data set (no meta group) in the given encoding;
 * detect = 1 checks the first element's VR bytes instead. */
void dcx_nest_init(struct dcx_nest *s, int implicit, int big_endian,
                   int detect);

/* Feeds the next n bytes. Returns -1 once sequences nest deeper than
 * DCX_MAX_NESTING (and from then on), else 0. Bytes it cannot follow stop
 * the scan quietly: DCMTK reports malformed data itself, and every
 * recursion it would make first passes through a header seen here. */
int dcx_nest_feed(struct dcx_nest *s, const uint8_t *p, size_t n);

/* A whole buffer: Part-10 (preamble and meta group: the transfer syntax
 * decides the encoding; deflated data sets are inflated on the way), or
 * a bare data set (explicit/implicit detected; big endian if
 * big_endian_hint). 0; -1 if nested too deeply; -2 if an element, item
 * or sequence runs past the end of the buffer (not checked inside
 * deflated data). */
int dcx_nest_check_buffer(const uint8_t *p, size_t n, int big_endian_hint);

#ifdef __cplusplus
}
#endif

#endif
