// net_common.cc - helpers of the networking shim used by SCP and SCU, and
// DIMSE status texts.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dul.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "net_int.hh"

namespace {
// getSocket() is protected; a pointer to it taken inside a derived class is
// the legal way to call it on a connection DCMTK made.
struct SocketOf : DcmTransportConnection {
    static DcmNativeSocketType get(DcmTransportConnection *t)
    {
        DcmNativeSocketType (DcmTransportConnection::*fn)() =
            &SocketOf::getSocket;
        return (t->*fn)();
    }
};
} // namespace

void dcx_net_nodelay(T_ASC_Association *assoc)
{
    if (!assoc || !assoc->DULassociation)
        return;
    DcmTransportConnection *t =
        DUL_getTransportConnection(assoc->DULassociation);
    if (!t)
        return;
    int one = 1;
    setsockopt(SocketOf::get(t), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void dcx_net_trim_ae(char *ae)
{
    size_t n = strlen(ae);
    while (n > 0 && ae[n - 1] == ' ')
        ae[--n] = '\0';
    size_t lead = strspn(ae, " ");
    if (lead)
        memmove(ae, ae + lead, n - lead + 1);
}

void dcx_net_err(struct dcx_error *e, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

extern "C" const char *dcx_status_str(uint16_t s)
{
    // PS3.4 Annex B (storage), C (query/retrieve); PS3.7 Annex C.
    switch (s) {
    case 0x0000: return "0x0000 success";
    case 0x0001: return "0x0001 warning: requested optional attributes "
                        "not supported";
    case 0x0107: return "0x0107 warning: attribute list error";
    case 0x0110: return "0x0110 processing failure";
    case 0x0111: return "0x0111 duplicate SOP instance";
    case 0x0117: return "0x0117 invalid object instance";
    case 0x0122: return "0x0122 refused: SOP class not supported";
    case 0x0124: return "0x0124 refused: not authorized";
    case 0x0211: return "0x0211 unrecognised operation";
    case 0xA700: return "0xA700 refused: out of resources";
    case 0xA701: return "0xA701 refused: out of resources (matches)";
    case 0xA702: return "0xA702 refused: out of resources (sub-operations)";
    case 0xA801: return "0xA801 refused: move destination unknown";
    case 0xA900: return "0xA900 error: data set does not match SOP class";
    case 0xB000: return "0xB000 warning: coercion of data elements or "
                        "sub-operations failed";
    case 0xB006: return "0xB006 warning: elements discarded";
    case 0xB007: return "0xB007 warning: data set does not match SOP class";
    case 0xC000: return "0xC000 error: cannot understand";
    case 0xFE00: return "0xFE00 cancelled";
    case 0xFF00: return "0xFF00 pending";
    case 0xFF01: return "0xFF01 pending (optional keys not supported)";
    default:
        break;
    }
    if ((s & 0xF000) == 0xA700) return "out of resources (0xA7xx)";
    if ((s & 0xF000) == 0xA900) return "data set does not match SOP class "
                                       "(0xA9xx)";
    if ((s & 0xF000) == 0xB000) return "warning (0xBxxx)";
    if ((s & 0xF000) == 0xC000) return "error: cannot understand (0xCxxx)";
    return "failure";
}
