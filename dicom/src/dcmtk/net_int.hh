// net_int.hh - private helpers shared by net_scp.cc and net_scu.cc.
#ifndef DCX_NET_INT_HH
#define DCX_NET_INT_HH

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dcmlayer.h"
#include "dcmtk/dcmnet/dimse.h"

#include <mutex>
#include <string>

#include "dcx/net.h"

// Turns Nagle off on the association's socket (DESIGN.md rule 6: with it
// on, every small C-STORE waits ~40-88 ms for a delayed ACK).
void dcx_net_nodelay(T_ASC_Association *assoc);

/* A TLS transport layer for role (requestor or acceptor) from t: BCP 195
 * profile, our certificate and key, trusted CAs, peer verification. NULL
 * and err on failure (unreadable file, key not matching the certificate). */
DcmTransportLayer *dcx_net_tls_layer(T_ASC_NetworkRole role,
                                     const struct dcx_tls *t,
                                     std::string &err);

// A transport layer that creates inner's connections (NULL: plain TCP)
// and ends one whose peer sends a command set holding anything but
// defined-length group 0000 elements (net_filter.cc). Owns inner.
DcmTransportLayer *dcx_net_watch_layer(DcmTransportLayer *inner);
// The association the calling thread serves, for that layer's log lines.
extern thread_local unsigned long dcx_net_current_assoc;
// Set by the SCP around ASC_receiveAssociation: the lock that guards the
// global dcmExternalSocketHandle. The watch layer releases it as soon as
// DCMTK has taken the socket (createConnection), before any handshake.
extern thread_local std::unique_lock<std::mutex> *dcx_net_handoff;

// A UID element's value, trailing padding off; "" if absent or unreadable
// (the caller checks it with dcx_uid_valid).
class DcmItem;
class DcmTagKey;
std::string dcx_net_get_uid(DcmItem *it, const DcmTagKey &key);

// SOP class/instance (from the data set: what the receiver checks; some
// meta headers disagree with it) and transfer syntax (meta; bare: else the
// one DCMTK found a file without meta in) of a file, parsing no further
// than (0008,0018). 0; DCX_EIO if unreadable; DCX_EBADDATA if a UID is
// missing or not valid or there is no syntax (why, if not null, says
// which). The out strings are written only on success.
int dcx_net_read_head(const char *path, std::string &cls, std::string &inst,
                      std::string &ts, bool bare = false,
                      std::string *why = nullptr);

// C-STORE of the file at path on assoc: as stored when an accepted context
// has its transfer syntax, else converted to what was accepted for its SOP
// class. move_ae/move_id: C-MOVE originator (NULL/0 if none). 0 and the
// peer's status, or DCX_E* with err set (DCX_ENET: the link is gone).
// scp_role: a C-GET sub-operation, only on contexts where the requester
// accepted us as SCP.
// A C-GET sub-operation (scp_role) may meet the requester's C-CANCEL-RQ
// while it waits for the C-STORE-RSP: *out_cancelled (may be NULL) then
// says so, and the response is still waited for.
int dcx_net_store(T_ASC_Association *assoc, int timeout, const char *path,
                  const char *move_ae, uint16_t move_id, bool scp_role,
                  uint16_t *out_status, std::string &err,
                  bool *out_cancelled = nullptr);

// An accepted context for SOP class cls, preferring transfer syntax ts
// (may be NULL); 0 if none.
/* dcx_net_store, optionally compressing losslessly (compress) and telling
 * what went on the wire (out, may be NULL). */
int dcx_net_store_ex(T_ASC_Association *assoc, int timeout, const char *path,
                     const char *move_ae, uint16_t move_id, bool scp_role,
                     bool compress, uint16_t *out_status,
                     struct dcx_store_result *out, std::string &err,
                     bool *out_cancelled = nullptr);

T_ASC_PresentationContextID dcx_net_find_pc(T_ASC_Association *assoc,
                                            const char *cls, const char *ts,
                                            bool scp_role);

// C-STORE as a C-MOVE sub-operation (net_scu.cc).
int dcx_scu_store_for_move(dcx_scu *scu, const char *path,
                           const char *move_ae, uint16_t move_id,
                           uint16_t *out_status);

// Answers the C-STORE rq with status (SCP side and C-GET sub-operations).
OFCondition dcx_net_store_rsp(T_ASC_Association *assoc,
                              T_ASC_PresentationContextID pcid,
                              T_DIMSE_C_StoreRQ &rq, uint16_t status);

// Removes the space padding of an AE title in place.
void dcx_net_trim_ae(char *ae);

extern "C" {
#include "shim.h" // dcx_err_set
}

#endif
