// net_int.hh - private helpers shared by net_scp.cc and net_scu.cc.
#ifndef DCX_NET_INT_HH
#define DCX_NET_INT_HH

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/assoc.h"

#include "dcx/net.h"

// Turns Nagle off on the association's socket (DESIGN.md rule 6: with it
// on, every small C-STORE waits ~40-88 ms for a delayed ACK).
void dcx_net_nodelay(T_ASC_Association *assoc);

// Removes the space padding of an AE title in place.
void dcx_net_trim_ae(char *ae);

// printf into e->msg (e may be NULL).
void dcx_net_err(struct dcx_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
