// net_scp.cc - the SCP side of dcx/net.h over dcmnet's ASC/DIMSE API: an
// accept loop, one thread per association, presentation-context
// negotiation, and C-ECHO / C-STORE handling that calls the C hooks.
//
// Why not DcmSCP/DcmSCPPool: DcmSCP negotiates only from a fixed profile
// (no "any storage class", no per-AE role selection) and keeps the
// association private, so the hooks we need cannot be reached from a
// subclass. The ASC/DIMSE calls below are the ones DcmSCP makes itself.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/diutil.h"

#include <atomic>
#include <cstdarg>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcmtk/dcmnet/dul.h"

#include "ds_int.hh"
#include "net_int.hh"
#include "nesting.h"

#include <set>
#include <utility>
#include <vector>

struct dcx_scp {
    std::string ae, tmp_dir, move_ae;
    int port = 0, max_assocs = 32, acse_timeout = 10, dimse_timeout = 300;
    unsigned long max_pdu = ASC_MAXIMUMPDUSIZE;
    bool any_called_ae = false;
    dcx_scp_hooks hooks{};
    T_ASC_Network *net = nullptr;
    T_ASC_Network *tls_net = nullptr; // the TLS port's, if any
    int listen_fd = -1;     // the plain port, accepted by us; -1: none
    int tls_listen_fd = -1; // the TLS port, accepted by us; -1: none
    // connections inside DCMTK's TLS handshake / request read, with their
    // deadline (steady clock ms): the accept loop shuts overdue ones down
    std::vector<std::pair<int, long long>> handshaking; // under mu
    int pending = 0;      // connections still sending their request (mu)
    std::atomic<bool> stop{false}; // lock-free: set from a signal handler
    std::mutex mu;
    std::condition_variable idle;
    int active = 0;
    int active_threads = 0; // connection threads of the plain port (mu)
    unsigned long next_id = 1;     // under mu (two accept threads)
    std::atomic<unsigned long> tmp_seq{0};
};

struct dcx_find_ctx {
    T_ASC_Association *assoc;
    T_ASC_PresentationContextID pcid;
    T_DIMSE_C_FindRQ *rq;
    std::string charset; // the query's Specific Character Set, "" if none
    bool cancelled = false;
    unsigned long sent = 0;
    // the keys' tags with their dictionary VRs, looked up once per query
    // rather than once per match (a dictionary lock and hash lookup each)
    std::vector<std::pair<uint32_t, DcmTag>> tags;
};

static_assert(std::atomic<bool>::is_always_lock_free,
              "dcx_scp_stop must be async-signal-safe");

namespace {

// dcmExternalSocketHandle is one global: hand DCMTK one socket at a time.
std::mutex external_socket_mu;

}

namespace {

// A DcmConsumer writing straight to a file descriptor: each PDV of a
// received data set is one write(), errors show at once (no stdio
// buffer), and the descriptor may be an O_TMPFILE.
// Writes the received data set to a file descriptor. A write error (disk
// full) is recorded, not reported: DCMTK's DIMSE_receiveDataSetInFile
// answers a failing stream by reading on for a data set it has already
// consumed (3.6.7), which hangs the association until the timeout. The
// remaining PDVs are swallowed instead and the caller checks failed().
class FdConsumer : public DcmConsumer {
public:
    explicit FdConsumer(int fd, uint64_t cap = UINT64_MAX)
        : fd_(fd), cap_(cap)
    {
    }
    OFBool good() const override { return OFTrue; }
    OFCondition status() const override { return EC_Normal; }
    OFBool isFlushed() const override { return OFTrue; }
    offile_off_t avail() const override { return 1 << 30; }
    offile_off_t write(const void *buf, offile_off_t len) override
    {
        const char *p = static_cast<const char *>(buf);
        offile_off_t done = 0;
        total_ += static_cast<uint64_t>(len);
        if (total_ > cap_ && !err_)
            err_ = EFBIG;
        while (!err_ && done < len) {
            ssize_t w = ::write(fd_, p + done, static_cast<size_t>(len - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                err_ = w < 0 ? errno : ENOSPC;
            else
                done += w;
        }
        return len;
    }
    void flush() override {}
    int failed() const { return err_; }

private:
    int fd_;
    uint64_t cap_, total_ = 0;
    int err_ = 0;
};

struct FdConsumerHolder {
    FdConsumerHolder(int fd, uint64_t cap) : consumer(fd, cap) {}
    FdConsumer consumer;
};

// The holder is the first base, so the consumer exists before
// DcmOutputStream's constructor gets its address.
class FdOutputStream : private FdConsumerHolder, public DcmOutputStream {
public:
    explicit FdOutputStream(int fd, uint64_t cap = UINT64_MAX)
        : FdConsumerHolder(fd, cap), DcmOutputStream(&consumer)
    {
    }
    int write_failed() const { return consumer.failed(); }
};

void put_el(std::string &m, Uint16 e, const char *vr, const std::string &v)
{
    // explicit VR little endian, short form (UI, SH, AE)
    char h[8] = {2, 0, static_cast<char>(e & 0xFF), static_cast<char>(e >> 8),
                 vr[0], vr[1], static_cast<char>(v.size() & 0xFF),
                 static_cast<char>(v.size() >> 8)};
    m.append(h, 8);
    m += v;
}

std::string padded(const char *s, char pad)
{
    std::string v = s;
    if (v.size() % 2)
        v += pad;
    return v;
}

// Preamble and file meta group (PS3.10 7.1) for a received C-STORE: the
// same elements DCMTK's DIMSE_createFilestream writes, encoded directly.
std::string part10_head(const T_DIMSE_C_StoreRQ &rq, const char *ts,
                        const char *calling_ae)
{
    std::string g;
    // (0002,0001) OB 00\01: long form
    static const char ver[] = {2, 0, 1, 0, 'O', 'B', 0, 0, 2, 0, 0, 0, 0, 1};
    g.append(ver, sizeof ver);
    put_el(g, 0x0002, "UI", padded(rq.AffectedSOPClassUID, '\0'));
    put_el(g, 0x0003, "UI", padded(rq.AffectedSOPInstanceUID, '\0'));
    put_el(g, 0x0010, "UI", padded(ts, '\0'));
    put_el(g, 0x0012, "UI", padded(OFFIS_IMPLEMENTATION_CLASS_UID, '\0'));
    put_el(g, 0x0013, "SH", padded(OFFIS_DTK_IMPLEMENTATION_VERSION_NAME2, ' '));
    if (calling_ae && *calling_ae)
        put_el(g, 0x0016, "AE", padded(calling_ae, ' '));
    std::string m(128, '\0');
    m += "DICM";
    Uint32 gl = static_cast<Uint32>(g.size());
    char h[12] = {2, 0, 0, 0, 'U', 'L', 4, 0,
                  static_cast<char>(gl & 0xFF), static_cast<char>((gl >> 8) & 0xFF),
                  static_cast<char>((gl >> 16) & 0xFF),
                  static_cast<char>(gl >> 24)};
    m.append(h, 12);
    return m + g;
}

bool write_all(int fd, const std::string &b)
{
    for (size_t done = 0; done < b.size();) {
        ssize_t w = ::write(fd, b.data() + done, b.size() - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        done += static_cast<size_t>(w);
    }
    return true;
}

bool is_storage_class(const char *uid)
{
    // Every storage SOP class DCMTK knows, and unknown ones under the
    // storage root (PS3.4 B.5: 1.2.840.10008.5.1.4.1.1.x).
    return dcmIsaStorageSOPClassUID(uid, ESSC_All) ||
           strncmp(uid, "1.2.840.10008.5.1.4.1.1.", 24) == 0;
}

// Which service a non-storage abstract syntax belongs to, 0 if none.
unsigned service_of(const char *as)
{
    if (strcmp(as, UID_VerificationSOPClass) == 0)
        return DCX_SVC_ECHO;
    if (strcmp(as, UID_FINDPatientRootQueryRetrieveInformationModel) == 0 ||
        strcmp(as, UID_FINDStudyRootQueryRetrieveInformationModel) == 0)
        return DCX_SVC_FIND;
    if (strcmp(as, UID_MOVEPatientRootQueryRetrieveInformationModel) == 0 ||
        strcmp(as, UID_MOVEStudyRootQueryRetrieveInformationModel) == 0)
        return DCX_SVC_MOVE;
    if (strcmp(as, UID_GETPatientRootQueryRetrieveInformationModel) == 0 ||
        strcmp(as, UID_GETStudyRootQueryRetrieveInformationModel) == 0)
        return DCX_SVC_GET;
    return 0;
}

// The transfer syntax to accept among those proposed, or nullptr.
// Storage keeps what the sender has (never transcoded): the sender's first
// choice that DCMTK can parse, except that explicit VR little endian wins
// over implicit (it keeps the VRs of private elements). Other services:
// explicit, then implicit little endian.
const char *choose_ts(const T_ASC_PresentationContext &pc, bool storage)
{
    bool has_explicit = false, has_implicit = false;
    const char *first = nullptr;
    for (int i = 0; i < pc.transferSyntaxCount; i++) {
        const char *ts = pc.proposedTransferSyntaxes[i];
        DcmXfer x(ts);
        if (x.getXfer() == EXS_Unknown)
            continue;
        if (x.getXfer() == EXS_LittleEndianExplicit)
            has_explicit = true;
        else if (x.getXfer() == EXS_LittleEndianImplicit)
            has_implicit = true;
        if (!first)
            first = ts;
    }
    if (has_explicit &&
        (!storage || (first && DcmXfer(first).getXfer() ==
                                    EXS_LittleEndianImplicit)))
        return UID_LittleEndianExplicitTransferSyntax;
    if (!storage)
        return has_implicit ? UID_LittleEndianImplicitTransferSyntax
                            : nullptr;
    return first;
}

void reject(T_ASC_Association *assoc, T_ASC_RejectParametersResult result,
            T_ASC_RejectParametersReason reason)
{
    T_ASC_RejectParameters rj;
    rj.result = result;
    rj.source = (reason & 0xFF00) == 0x0100
                    ? ASC_SOURCE_SERVICEUSER
                : (reason & 0xFF00) == 0x0200
                    ? ASC_SOURCE_SERVICEPROVIDER_ACSE_RELATED
                    : ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED;
    rj.reason = reason;
    ASC_rejectAssociation(assoc, &rj);
}

// Accepts or refuses each proposed context; returns how many it accepted.
int negotiate(T_ASC_Association *assoc, unsigned services)
{
    int n = ASC_countPresentationContexts(assoc->params), accepted = 0;
    for (int i = 0; i < n; i++) {
        T_ASC_PresentationContext pc;
        if (ASC_getPresentationContext(assoc->params, i, &pc).bad())
            continue;
        bool storage = is_storage_class(pc.abstractSyntax);
        T_ASC_SC_ROLE role = pc.proposedRole;
        bool ok;
        if (storage) {
            // Role selection (PS3.7 D.3.3.4): SCU role = they send us
            // instances (STORE); SCP role = we send them instances (GET).
            bool they_send = services & DCX_SVC_STORE;
            bool we_send = services & DCX_SVC_GET;
            switch (pc.proposedRole) {
            case ASC_SC_ROLE_SCP:
                ok = we_send;
                break;
            case ASC_SC_ROLE_SCUSCP:
                ok = they_send || we_send;
                role = they_send && we_send ? ASC_SC_ROLE_SCUSCP
                       : they_send          ? ASC_SC_ROLE_SCU
                                            : ASC_SC_ROLE_SCP;
                break;
            default:
                ok = they_send;
            }
        } else {
            ok = (service_of(pc.abstractSyntax) & services) != 0;
            if (role == ASC_SC_ROLE_SCP || role == ASC_SC_ROLE_SCUSCP)
                role = ASC_SC_ROLE_SCU; // they are the user of Q/R, echo
        }
        if (!ok) {
            ASC_refusePresentationContext(assoc->params,
                                          pc.presentationContextID,
                                          ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
            continue;
        }
        const char *ts = choose_ts(pc, storage);
        if (!ts) {
            ASC_refusePresentationContext(assoc->params,
                                          pc.presentationContextID,
                                          ASC_P_TRANSFERSYNTAXESNOTSUPPORTED);
            continue;
        }
        if (ASC_acceptPresentationContext(assoc->params,
                                          pc.presentationContextID, ts,
                                          role)
                .good())
            accepted++;
    }
    return accepted;
}

class Assoc {
public:
    Assoc(dcx_scp *scp, T_ASC_Association *assoc, unsigned long id,
          bool tls)
        : scp_(scp), assoc_(assoc)
    {
        info_.id = id;
        info_.tls = tls ? 1 : 0;
    }
    void run();

private:
    bool accept();
    void loop();
    bool handle_store(T_DIMSE_C_StoreRQ &rq, T_ASC_PresentationContextID pc);
    bool receive_query(T_ASC_PresentationContextID pcid, const char *cls,
                       unsigned svc, DcmDataset *&q, uint16_t &status);
    bool handle_find(T_DIMSE_C_FindRQ &rq, T_ASC_PresentationContextID pc);
    bool handle_retrieve(T_DIMSE_Message &msg, T_ASC_PresentationContextID pc,
                         bool is_get);
    void log(enum dcx_log_level lv, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    dcx_scp *scp_;
    T_ASC_Association *assoc_;
    dcx_assoc_info info_{};
    dcx_assoc_stats stats_{};
};

void Assoc::log(enum dcx_log_level lv, const char *fmt, ...)
{
    if (!dcx_log_enabled(lv))
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    dcx_log(lv, "assoc=%lu aet=%s %s", info_.id, info_.calling_ae, buf);
}

bool ae_printable(const char *ae)
{
    for (const unsigned char *p = reinterpret_cast<const unsigned char *>(ae);
         *p; p++)
        if (*p < 0x20 || *p > 0x7E || *p == '\\')
            return false;
    return true;
}

void ae_sanitise(char *ae)
{
    for (unsigned char *p = reinterpret_cast<unsigned char *>(ae); *p; p++)
        if (*p < 0x20 || *p > 0x7E || *p == '\\')
            *p = '?';
}

bool Assoc::accept()
{
    dcx_net_nodelay(assoc_);
    T_ASC_Parameters *p = assoc_->params;
    char responding[DCX_AE_LEN + 1] = "";
    ASC_getAPTitles(p, info_.calling_ae, sizeof info_.calling_ae,
                    info_.called_ae, sizeof info_.called_ae, responding,
                    sizeof responding);
    dcx_net_trim_ae(info_.calling_ae);
    dcx_net_trim_ae(info_.called_ae);
    char caller[128] = "", called[128] = "";
    ASC_getPresentationAddresses(p, caller, sizeof caller, called,
                                 sizeof called);
    snprintf(info_.peer_host, sizeof info_.peer_host, "%s", caller);

    char app_ctx[128] = "";
    ASC_getApplicationContextName(p, app_ctx, sizeof app_ctx);
    if (!app_ctx[0] && !info_.calling_ae[0]) {
        // a bare TCP connect (port probe, load balancer check)
        log(DCX_LOG_DEBUG, "connection closed before an association "
                           "request (peer %s)", info_.peer_host);
        return false;
    }
    // AE titles are printable ASCII without backslash (PS3.5 6.2). Others
    // are refused before DCMTK builds its answer (it leaks ~26 KB when
    // that fails on them) and shown as '?' so they cannot forge log lines.
    bool calling_ok = ae_printable(info_.calling_ae) && info_.calling_ae[0];
    bool called_ok = ae_printable(info_.called_ae);
    if (!calling_ok || !called_ok) {
        ae_sanitise(info_.calling_ae);
        ae_sanitise(info_.called_ae);
        log(DCX_LOG_WARN, "association rejected: %s AE title is empty or "
                          "not printable ASCII (peer %s)",
            calling_ok ? "called" : "calling", info_.peer_host);
        reject(assoc_, ASC_RESULT_REJECTEDPERMANENT,
               calling_ok ? ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED
                          : ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
        return false;
    }
    if (strcmp(app_ctx, UID_StandardApplicationContext) != 0) {
        log(DCX_LOG_WARN, "association rejected: application context %s",
            app_ctx);
        reject(assoc_, ASC_RESULT_REJECTEDPERMANENT,
               ASC_REASON_SU_APPCONTEXTNAMENOTSUPPORTED);
        return false;
    }
    if (!scp_->any_called_ae && scp_->ae != info_.called_ae) {
        log(DCX_LOG_WARN, "association rejected: called AE %s is not ours",
            info_.called_ae);
        reject(assoc_, ASC_RESULT_REJECTEDPERMANENT,
               ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED);
        return false;
    }
    unsigned svc = scp_->hooks.on_associate
                       ? scp_->hooks.on_associate(scp_->hooks.user, &info_)
                       : ~0u;
    if (svc == 0) {
        log(DCX_LOG_WARN, "association rejected: calling AE not allowed "
                          "(peer %s)", info_.peer_host);
        reject(assoc_, ASC_RESULT_REJECTEDPERMANENT,
               ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED);
        return false;
    }
    info_.services = svc;
    if (negotiate(assoc_, svc) == 0) {
        log(DCX_LOG_WARN, "association rejected: no acceptable "
                          "presentation context (peer %s)", info_.peer_host);
        reject(assoc_, ASC_RESULT_REJECTEDPERMANENT, ASC_REASON_SU_NOREASON);
        return false;
    }
    OFCondition ack = ASC_acknowledgeAssociation(assoc_);
    if (ack.bad()) {
        log(DCX_LOG_WARN, "association acknowledge failed: %s", ack.text());
        return false;
    }
    log(DCX_LOG_INFO, "association accepted peer=%s contexts=%d%s",
        info_.peer_host, ASC_countAcceptedPresentationContexts(p),
        info_.tls ? " tls=1" : "");
    return true;
}

bool Assoc::handle_store(T_DIMSE_C_StoreRQ &rq,
                         T_ASC_PresentationContextID pcid)
{
    T_ASC_PresentationContext pc;
    uint16_t status = DCX_STATUS_SUCCESS;
    OFCondition c = ASC_findAcceptedPresentationContext(assoc_->params, pcid,
                                                         &pc);
    bool may_store = c.good() && (info_.services & DCX_SVC_STORE) &&
                     pc.acceptedRole != ASC_SC_ROLE_SCP;
    if (!may_store)
        status = 0x0124; // refused: not authorized (PS3.7 C.5.x)
    else if (strcmp(pc.abstractSyntax, rq.AffectedSOPClassUID) != 0)
        status = DCX_STATUS_DATA_MISMATCH;

    std::string tmp;
    unsigned long long bytes = 0;
    uint64_t file_size = 0;
    dcx_store_rq r;
    r.sop_class_uid = rq.AffectedSOPClassUID;
    r.sop_instance_uid = rq.AffectedSOPInstanceUID;
    r.transfer_syntax_uid = c.good() ? pc.acceptedTransferSyntax : "";
    r.message_id = rq.MessageID;
    r.move_originator_ae = (rq.opts & O_STORE_MOVEORIGINATORAETITLE)
                               ? rq.MoveOriginatorApplicationEntityTitle
                               : "";
    r.file_size = 0;
    r.fd = -1;
    // drop the file a failed reception left (a descriptor: just close it)
    auto discard = [&]() {
        if (r.fd >= 0)
            close(r.fd);
        else
            unlink(tmp.c_str());
        r.fd = -1;
        tmp.clear();
    };
    if (status == DCX_STATUS_SUCCESS) {
        if (scp_->hooks.open_store_file)
            r.fd = scp_->hooks.open_store_file(scp_->hooks.user, &info_, &r);
        int fd = r.fd;
        char name[96];
        if (r.fd >= 0) {
            snprintf(name, sizeof name, "/proc/self/fd/%d", r.fd);
            tmp = name;
        } else {
            snprintf(name, sizeof name, "/%lu-%lu.part", info_.id,
                     scp_->tmp_seq.fetch_add(1) + 1);
            tmp = scp_->tmp_dir + name;
            fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                      0644);
        }
        std::string head = part10_head(rq, r.transfer_syntax_uid,
                                       info_.calling_ae);
        if (fd < 0 || !write_all(fd, head)) {
            log(DCX_LOG_ERROR, "c-store cannot create the file for the data "
                               "set: %s", strerror(errno));
            status = DCX_STATUS_OUT_OF_RESOURCES;
            if (fd >= 0 && fd != r.fd)
                close(fd);
            if (!tmp.empty())
                discard();
            // the data set still has to be read off the link
            DIC_UL nbytes = 0, npdv = 0;
            if (DIMSE_ignoreDataSet(assoc_, DIMSE_BLOCKING,
                                    scp_->dimse_timeout, &nbytes, &npdv)
                    .bad()) {
                stats_.aborted = 1;
                return false;
            }
        } else {
            FdOutputStream fs(fd);
            T_ASC_PresentationContextID got = 0;
            c = DIMSE_receiveDataSetInFile(assoc_, DIMSE_BLOCKING,
                                           scp_->dimse_timeout, &got, &fs,
                                           nullptr, nullptr);
            offile_off_t data = fs.tell();
            bool stream_ok = fs.good() && !fs.write_failed();
            struct stat st;
            bool size_ok = fstat(fd, &st) == 0 &&
                           st.st_size == static_cast<off_t>(head.size()) + data;
            if (fd != r.fd)
                close(fd);
            bytes = static_cast<unsigned long long>(data);
            if (c == DIMSE_OUTOFRESOURCES || (c.good() && !stream_ok)) {
                log(DCX_LOG_ERROR, "c-store cannot write the data set "
                                   "(disk full?)");
                status = DCX_STATUS_OUT_OF_RESOURCES;
                discard();
            } else if (c.bad()) {
                // The link broke mid-transfer: nothing to answer.
                log(DCX_LOG_WARN, "c-store data not received: %s",
                    c.text());
                discard();
                stats_.aborted = 1;
                return false;
            } else if (!size_ok) {
                log(DCX_LOG_ERROR, "c-store file short (disk full?)");
                status = DCX_STATUS_OUT_OF_RESOURCES;
                discard();
            } else {
                file_size = static_cast<uint64_t>(st.st_size);
            }
        }
    } else {
        DIC_UL nbytes = 0, npdv = 0;
        c = DIMSE_ignoreDataSet(assoc_, DIMSE_BLOCKING, scp_->dimse_timeout,
                                &nbytes, &npdv);
        if (c.bad()) {
            stats_.aborted = 1;
            return false;
        }
        log(DCX_LOG_WARN, "c-store refused status=0x%04X", status);
    }
    stats_.bytes += bytes;

    if (!tmp.empty()) {
        r.file_size = file_size;
        if (scp_->hooks.on_store) {
            status = scp_->hooks.on_store(scp_->hooks.user, &info_, &r,
                                          tmp.c_str());
        } else {
            status = DCX_STATUS_OUT_OF_RESOURCES;
            discard();
        }
    }
    if (status == DCX_STATUS_SUCCESS || (status & 0xF000) == 0xB000)
        stats_.stores_ok++;
    else
        stats_.stores_failed++;

    c = dcx_net_store_rsp(assoc_, pcid, rq, status);
    if (c.bad()) {
        log(DCX_LOG_WARN, "c-store response not sent: %s", c.text());
        stats_.aborted = 1;
        return false;
    }
    return true;
}

// The identifier of a C-FIND/MOVE/GET. False if the link failed. status
// stays 0 if the request may proceed, else the refusal to answer with.
// Largest C-FIND/C-MOVE/C-GET identifier we take (a UID list of a few
// thousand studies is well under 1 MB).
const uint64_t MAX_QUERY_BYTES = 16u << 20;

bool Assoc::receive_query(T_ASC_PresentationContextID pcid, const char *cls,
                          unsigned svc, DcmDataset *&q, uint16_t &status)
{
    q = nullptr;
    status = 0;
    // The bytes first, parsed only after the nesting check: DCMTK 3.6.7
    // parses sequences recursively without a limit (see nesting.h).
    int fd = memfd_create("consort-query", MFD_CLOEXEC);
    if (fd < 0) {
        log(DCX_LOG_ERROR, "query: no memory file: %s", strerror(errno));
        stats_.aborted = 1;
        return false;
    }
    FdOutputStream fs(fd, MAX_QUERY_BYTES);
    T_ASC_PresentationContextID got = 0;
    OFCondition c = DIMSE_receiveDataSetInFile(
        assoc_, DIMSE_BLOCKING, scp_->dimse_timeout, &got, &fs, nullptr,
        nullptr);
    if (c.bad()) {
        close(fd);
        log(DCX_LOG_WARN, "query not received: %s", c.text());
        stats_.aborted = 1;
        return false;
    }
    T_ASC_PresentationContext pc;
    if (ASC_findAcceptedPresentationContext(assoc_->params, pcid, &pc)
            .bad() ||
        strcmp(pc.abstractSyntax, cls) != 0)
        status = DCX_STATUS_SOP_CLASS_NOT_SUPPORTED;
    else if (!(info_.services & svc))
        status = 0x0124; // not authorized
    else if (fs.write_failed()) {
        log(DCX_LOG_WARN, "query identifier refused: over %llu bytes",
            static_cast<unsigned long long>(MAX_QUERY_BYTES));
        status = DCX_STATUS_OUT_OF_RESOURCES;
    }
    if (status == 0) {
        off_t n = lseek(fd, 0, SEEK_END);
        std::string buf(n > 0 ? static_cast<size_t>(n) : 0, '\0');
        E_TransferSyntax xfer = DcmXfer(pc.acceptedTransferSyntax).getXfer();
        if (n <= 0 || pread(fd, &buf[0], buf.size(), 0) != n) {
            status = DCX_STATUS_CANNOT_UNDERSTAND;
        } else if (dcx_nest_check_buffer(
                       reinterpret_cast<const uint8_t *>(buf.data()),
                       buf.size(), xfer == EXS_BigEndianExplicit) < 0) {
            log(DCX_LOG_WARN, "query identifier refused: sequences nested "
                              "deeper than %d levels", DCX_MAX_NESTING);
            status = DCX_STATUS_DATA_MISMATCH;
        } else {
            // DCMTK's file reader checks element lengths against the size
            // (its buffer reader allocates what a bogus length says); every
            // value is read now, the memory file closes below
            q = new DcmDataset();
            char path[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            c = q->loadFile(path, xfer, EGL_noChange, 0xFFFFFFFE);
            if (c.bad()) {
                log(DCX_LOG_WARN, "query identifier not understood: %s",
                    c.text());
                delete q;
                q = nullptr;
                status = DCX_STATUS_CANNOT_UNDERSTAND;
            }
        }
    }
    close(fd);
    return true;
}

bool Assoc::handle_find(T_DIMSE_C_FindRQ &rq, T_ASC_PresentationContextID pcid)
{
    DcmDataset *q = nullptr;
    uint16_t status = 0;
    if (!receive_query(pcid, rq.AffectedSOPClassUID, DCX_SVC_FIND, q, status))
        return false;
    dcx_find_ctx ctx;
    ctx.assoc = assoc_;
    ctx.pcid = pcid;
    ctx.rq = &rq;
    if (status == 0) {
        const char *cs = nullptr;
        if (q->findAndGetString(DCM_SpecificCharacterSet, cs).good() && cs)
            ctx.charset = cs;
        dcx_ds *qd = nullptr;
        dcx_error e;
        if (dcx_ds_adopt(q, &qd, &e) < 0) {
            status = DCX_STATUS_CANNOT_UNDERSTAND;
        } else {
            status = scp_->hooks.on_find
                         ? scp_->hooks.on_find(scp_->hooks.user, &info_,
                                               rq.AffectedSOPClassUID, qd,
                                               &ctx)
                         : DCX_STATUS_SOP_CLASS_NOT_SUPPORTED;
            dcx_ds_close(qd);
        }
        // a C-CANCEL that came after the last periodic check still turns
        // the final answer into Cancel
        if (!ctx.cancelled && status == DCX_STATUS_SUCCESS &&
            DIMSE_checkForCancelRQ(assoc_, pcid, rq.MessageID) == EC_Normal)
            ctx.cancelled = true;
        if (ctx.cancelled)
            status = DCX_STATUS_CANCEL;
    }
    delete q;
    T_DIMSE_C_FindRSP rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.MessageIDBeingRespondedTo = rq.MessageID;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, rq.AffectedSOPClassUID,
                        sizeof rsp.AffectedSOPClassUID);
    rsp.opts = O_FIND_AFFECTEDSOPCLASSUID;
    rsp.DimseStatus = status;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    OFCondition c =
        DIMSE_sendFindResponse(assoc_, pcid, &rq, &rsp, nullptr, nullptr);
    if (c.bad()) {
        stats_.aborted = 1;
        return false;
    }
    return true;
}

namespace {

struct sub_counts {
    unsigned remaining, done, failed, warning;
    bool with_remaining, with_counts;
};

// Fills a C-GET or C-MOVE response (their fields and flags match).
template <class RSP>
void fill_rsp(RSP &rsp, DIC_US msg_id, const char *cls, uint16_t status,
              const sub_counts &k, unsigned f_cls, unsigned f_rem,
              unsigned f_counts)
{
    memset(&rsp, 0, sizeof rsp);
    rsp.MessageIDBeingRespondedTo = msg_id;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, cls,
                        sizeof rsp.AffectedSOPClassUID);
    rsp.DimseStatus = status;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    rsp.opts = f_cls;
    if (k.with_counts) {
        rsp.NumberOfRemainingSubOperations = static_cast<DIC_US>(k.remaining);
        rsp.NumberOfCompletedSubOperations = static_cast<DIC_US>(k.done);
        rsp.NumberOfFailedSubOperations = static_cast<DIC_US>(k.failed);
        rsp.NumberOfWarningSubOperations = static_cast<DIC_US>(k.warning);
        rsp.opts |= f_counts | (k.with_remaining ? f_rem : 0);
    }
}

// One C-GET or C-MOVE response, pending or final (PS3.4 C.4.2.1.4); ids:
// the identifier of a final response, or null.
OFCondition send_retrieve_rsp(T_ASC_Association *assoc,
                              T_ASC_PresentationContextID pcid,
                              T_DIMSE_C_GetRQ *grq, T_DIMSE_C_MoveRQ *mrq,
                              const char *cls, DIC_US msg_id, uint16_t status,
                              const sub_counts &k, DcmDataset *ids = nullptr)
{
    if (grq) {
        T_DIMSE_C_GetRSP rsp;
        fill_rsp(rsp, msg_id, cls, status, k, O_GET_AFFECTEDSOPCLASSUID,
                 O_GET_NUMBEROFREMAININGSUBOPERATIONS,
                 O_GET_NUMBEROFCOMPLETEDSUBOPERATIONS |
                     O_GET_NUMBEROFFAILEDSUBOPERATIONS |
                     O_GET_NUMBEROFWARNINGSUBOPERATIONS);
        if (ids)
            rsp.DataSetType = DIMSE_DATASET_PRESENT;
        return DIMSE_sendGetResponse(assoc, pcid, grq, &rsp, ids, nullptr);
    }
    T_DIMSE_C_MoveRSP rsp;
    fill_rsp(rsp, msg_id, cls, status, k, O_MOVE_AFFECTEDSOPCLASSUID,
             O_MOVE_NUMBEROFREMAININGSUBOPERATIONS,
             O_MOVE_NUMBEROFCOMPLETEDSUBOPERATIONS |
                 O_MOVE_NUMBEROFFAILEDSUBOPERATIONS |
                 O_MOVE_NUMBEROFWARNINGSUBOPERATIONS);
    if (ids)
        rsp.DataSetType = DIMSE_DATASET_PRESENT;
    return DIMSE_sendMoveResponse(assoc, pcid, mrq, &rsp, ids, nullptr);
}

// The Failed SOP Instance UID List (0008,0058) as one value. A UI element
// of explicit VR holds at most 65534 bytes (16-bit length): past some
// thousand UIDs the list is cut at a whole UID (the counts stay exact).
std::string failed_list(const std::vector<std::string> &uids, bool &cut)
{
    std::string v;
    cut = false;
    for (const std::string &u : uids) {
        if (v.size() + u.size() + 1 > 65534) {
            cut = true;
            break;
        }
        if (!v.empty())
            v += '\\';
        v += u;
    }
    return v;
}

} // namespace

bool Assoc::handle_retrieve(T_DIMSE_Message &msg,
                            T_ASC_PresentationContextID pcid, bool is_get)
{
    T_DIMSE_C_MoveRQ *mrq = is_get ? nullptr : &msg.msg.CMoveRQ;
    T_DIMSE_C_GetRQ *grq = is_get ? &msg.msg.CGetRQ : nullptr;
    const char *cls = is_get ? grq->AffectedSOPClassUID
                             : mrq->AffectedSOPClassUID;
    DIC_US msg_id = is_get ? grq->MessageID : mrq->MessageID;
    DcmDataset *q = nullptr;
    uint16_t status = 0;
    if (!receive_query(pcid, cls, is_get ? DCX_SVC_GET : DCX_SVC_MOVE, q,
                       status))
        return false;
    std::string dest;
    if (!is_get) {
        char d[DCX_AE_LEN + 1];
        OFStandard::strlcpy(d, mrq->MoveDestination, sizeof d);
        dcx_net_trim_ae(d);
        dest = d;
    }
    char host[256] = "";
    int port = 0;
    const dcx_tls *dest_tls = nullptr;
    if (status == 0 && !is_get &&
        (!scp_->hooks.on_move_dest ||
         scp_->hooks.on_move_dest(scp_->hooks.user, &info_, dest.c_str(),
                                  host, sizeof host, &port,
                                  &dest_tls) != 0)) {
        log(DCX_LOG_WARN, "c-move refused: destination %s unknown",
            dest.c_str());
        status = 0xA801;
    }
    dcx_file_list files{nullptr, 0, nullptr};
    if (status == 0) {
        dcx_ds *qd = nullptr;
        dcx_error e;
        if (dcx_ds_adopt(q, &qd, &e) < 0)
            status = DCX_STATUS_CANNOT_UNDERSTAND;
        else if (!scp_->hooks.on_retrieve)
            status = DCX_STATUS_SOP_CLASS_NOT_SUPPORTED;
        else
            status = scp_->hooks.on_retrieve(scp_->hooks.user, &info_, cls,
                                             qd, &files);
        dcx_ds_close(qd);
    }
    delete q;

    unsigned n = static_cast<unsigned>(files.n), done = 0, failed = 0,
             warning = 0;
    bool cancelled = false, link_ok = true;
    dcx_scu *sub = nullptr;
    // the SOP Instance UIDs of failed sub-operations, for the final
    // response (PS3.4 C.4.2.3.1 / C.4.3.3.1)
    std::vector<std::string> failed_uids;
    auto note_failed = [&](size_t i) {
        std::string c, inst, ts;
        if (files.uids && files.uids[i])
            failed_uids.push_back(files.uids[i]);
        else if (dcx_net_read_head(files.paths[i], c, inst, ts) == 0)
            failed_uids.push_back(inst);
    };
    if (status == 0 && n > 0 && !is_get) {
        // one sub-association proposing each file's class and syntax,
        // with uncompressed as fallback
        std::vector<std::pair<std::string, std::string>> pairs;
        std::set<std::pair<std::string, std::string>> seen;
        for (size_t i = 0; i < files.n; i++) {
            std::string c, inst, ts;
            if (dcx_net_read_head(files.paths[i], c, inst, ts) == 0 &&
                seen.insert({c, ts}).second)
                pairs.push_back({c, ts});
        }
        static const char *const plain[] = {UID_LittleEndianExplicitTransferSyntax,
                                            UID_LittleEndianImplicitTransferSyntax};
        std::vector<dcx_scu_context> ctx;
        std::vector<const char *> tsv(pairs.size());
        std::set<std::string> fallback;
        for (size_t i = 0; i < pairs.size() && ctx.size() < 127; i++) {
            tsv[i] = pairs[i].second.c_str();
            ctx.push_back({pairs[i].first.c_str(), &tsv[i], 1, 0});
            if (fallback.insert(pairs[i].first).second)
                ctx.push_back({pairs[i].first.c_str(), plain, 2, 0});
        }
        dcx_scu_opts so{};
        so.calling_ae = scp_->move_ae.c_str();
        so.called_ae = dest.c_str();
        so.host = host;
        so.port = port;
        so.timeout = 60;
        so.tls = dest_tls;
        dcx_error e;
        if (ctx.empty() ||
            dcx_scu_open(&so, ctx.data(), ctx.size(), &sub, &e) < 0) {
            log(DCX_LOG_WARN, "c-move to %s failed: %s", dest.c_str(),
                ctx.empty() ? "no readable files" : e.msg);
            status = 0xA702; // unable to perform sub-operations
            failed = n;
            for (size_t i = 0; i < files.n; i++)
                note_failed(i);
        }
    }
    for (unsigned i = 0; status == 0 && i < n; i++) {
        if (DIMSE_checkForCancelRQ(assoc_, pcid, msg_id) == EC_Normal) {
            cancelled = true;
            break;
        }
        uint16_t st = 0;
        std::string err;
        bool cancel_seen = false; // while the sub-operation's answer was due
        int rc = is_get ? dcx_net_store(assoc_, scp_->dimse_timeout,
                                        files.paths[i], nullptr, 0, true,
                                        &st, err, &cancel_seen)
                        : dcx_scu_store_for_move(sub, files.paths[i],
                                                 info_.calling_ae, msg_id,
                                                 &st);
        if (rc < 0) {
            failed++;
            note_failed(i);
            log(DCX_LOG_WARN, "%s sub-operation failed: %s",
                is_get ? "c-get" : "c-move",
                is_get ? err.c_str() : dcx_scu_errmsg(sub));
            if (rc == DCX_ENET) {
                if (is_get) {
                    link_ok = false;
                    break;
                }
                failed += n - i - 1; // the sub-association is gone
                for (unsigned j = i + 1; j < n; j++)
                    note_failed(j);
                break;
            }
        } else if (st == 0) {
            done++;
        } else if ((st & 0xF000) == 0xB000) {
            warning++;
        } else {
            failed++;
            note_failed(i);
        }
        unsigned remaining = n - i - 1;
        if (remaining == 0)
            break;
        if (cancel_seen) {
            cancelled = true;
            break;
        }
        // pending response with the counts so far
        sub_counts k{remaining, done, failed, warning, true, true};
        OFCondition c = send_retrieve_rsp(assoc_, pcid, grq, mrq, cls, msg_id,
                                          DCX_STATUS_PENDING, k);
        if (c.bad()) {
            link_ok = false;
            break;
        }
    }
    dcx_scu_close(sub);
    for (size_t i = 0; i < files.n; i++) {
        free(files.paths[i]);
        if (files.uids)
            free(files.uids[i]);
    }
    free(files.paths);
    free(files.uids);
    if (scp_->hooks.on_retrieve_end)
        scp_->hooks.on_retrieve_end(scp_->hooks.user, &info_, is_get,
                                    dest.c_str(), done, failed, warning,
                                    cancelled);
    if (!link_ok) {
        stats_.aborted = 1;
        return false;
    }
    if (status == 0)
        status = cancelled              ? DCX_STATUS_CANCEL
                 : failed == 0 && warning == 0 ? DCX_STATUS_SUCCESS
                 : done == 0 && warning == 0   ? 0xA702
                                               : 0xB000;
    sub_counts k{cancelled ? n - done - failed - warning : 0, done, failed,
                 warning, cancelled, n > 0 || status == 0};
    // A final Warning, Failure or Cancel after matching carries the Failed
    // SOP Instance UID List (PS3.4 C.4.2.1.4, C.4.3.1.4; empty when none
    // failed): the requester learns which instances to ask for again.
    // Refusals before matching (unknown destination, bad identifier) have
    // no sub-operations to list.
    DcmDataset ids;
    bool with_ids = status != DCX_STATUS_SUCCESS && n > 0;
    if (with_ids) {
        bool cut = false;
        std::string v = failed_list(failed_uids, cut);
        if (cut)
            log(DCX_LOG_WARN,
                "%s failed=%u: Failed SOP Instance UID List "
                "cut to what one element holds",
                is_get ? "c-get" : "c-move", failed);
        with_ids =
            ids.putAndInsertString(DCM_FailedSOPInstanceUIDList, v.c_str())
                .good();
    }
    OFCondition c = send_retrieve_rsp(assoc_, pcid, grq, mrq, cls, msg_id,
                                      status, k, with_ids ? &ids : nullptr);
    if (c.bad()) {
        stats_.aborted = 1;
        return false;
    }
    return true;
}

void Assoc::loop()
{
    int idle = 0;
    for (;;) {
        T_ASC_PresentationContextID pcid = 0;
        T_DIMSE_Message msg;
        // Short waits so that a stop request is seen within a second.
        OFCondition c = DIMSE_receiveCommand(assoc_, DIMSE_NONBLOCKING, 1,
                                             &pcid, &msg, nullptr);
        if (c == DIMSE_NODATAAVAILABLE) {
            if (scp_->stop.load()) {
                log(DCX_LOG_INFO, "node stopping: aborting association");
                ASC_abortAssociation(assoc_);
                stats_.aborted = 1;
                return;
            }
            if (++idle >= scp_->dimse_timeout) {
                log(DCX_LOG_WARN, "idle for %d s: aborting association",
                    idle);
                ASC_abortAssociation(assoc_);
                stats_.aborted = 1;
                return;
            }
            continue;
        }
        idle = 0;
        if (c == DUL_PEERREQUESTEDRELEASE) {
            ASC_acknowledgeRelease(assoc_);
            return;
        }
        if (c == DUL_PEERABORTEDASSOCIATION) {
            stats_.aborted = 1;
            return;
        }
        if (c.bad()) {
            log(DCX_LOG_WARN, "aborting association: %s", c.text());
            ASC_abortAssociation(assoc_);
            stats_.aborted = 1;
            return;
        }
        bool ok;
        switch (msg.CommandField) {
        case DIMSE_C_ECHO_RQ:
            ok = DIMSE_sendEchoResponse(assoc_, pcid, &msg.msg.CEchoRQ,
                                        STATUS_Success, nullptr)
                     .good();
            break;
        case DIMSE_C_STORE_RQ:
            ok = handle_store(msg.msg.CStoreRQ, pcid);
            break;
        case DIMSE_C_FIND_RQ:
            ok = handle_find(msg.msg.CFindRQ, pcid);
            break;
        case DIMSE_C_MOVE_RQ:
            ok = handle_retrieve(msg, pcid, false);
            break;
        case DIMSE_C_GET_RQ:
            ok = handle_retrieve(msg, pcid, true);
            break;
        case DIMSE_C_CANCEL_RQ:
            ok = true; // for an operation already answered: nothing to do
            break;
        default:
            log(DCX_LOG_WARN, "unsupported command 0x%04X: aborting",
                static_cast<unsigned>(msg.CommandField));
            ok = false;
        }
        if (!ok) {
            ASC_abortAssociation(assoc_);
            stats_.aborted = 1;
            return;
        }
        // stopping: the operation just answered was finished; a busy
        // sender must not hold the node up
        if (scp_->stop.load()) {
            log(DCX_LOG_INFO, "node stopping: aborting association");
            ASC_abortAssociation(assoc_);
            stats_.aborted = 1;
            return;
        }
    }
}

void Assoc::run()
{
    dcx_net_current_assoc = info_.id;
    bool accepted = accept();
    if (accepted)
        loop();
    if (scp_->hooks.on_end && (accepted || info_.user))
        scp_->hooks.on_end(scp_->hooks.user, &info_, &stats_);
    ASC_dropSCPAssociation(assoc_);
    ASC_destroyAssociation(&assoc_);
}

void assoc_thread(dcx_scp *scp, T_ASC_Association *assoc, unsigned long id,
                  bool tls)
{
    try {
        Assoc a(scp, assoc, id, tls);
        a.run();
    } catch (...) {
        dcx_log(DCX_LOG_ERROR, "assoc=%lu internal error", id);
    }
    std::lock_guard<std::mutex> lk(scp->mu);
    scp->active--;
    scp->idle.notify_all();
}

} // namespace

extern "C" int dcx_find_reply(dcx_find_ctx *ctx, uint16_t status,
                              const struct dcx_attr *attrs, size_t n)
{
    try {
        // a C-CANCEL is looked for every 8 matches: the check is a system
        // call, and large answers are thousands of matches
        if (ctx->sent % 8 == 0 &&
            DIMSE_checkForCancelRQ(ctx->assoc, ctx->pcid,
                                   ctx->rq->MessageID) == EC_Normal) {
            ctx->cancelled = true;
            return DCX_ECANCELLED;
        }
        DcmDataset d;
        bool non_ascii = false;
        for (size_t i = 0; i < n; i++) {
            const DcmTag *tp = nullptr;
            for (auto &t : ctx->tags)
                if (t.first == attrs[i].tag)
                    tp = &t.second;
            if (!tp) {
                ctx->tags.emplace_back(
                    attrs[i].tag,
                    DcmTag(static_cast<Uint16>(attrs[i].tag >> 16),
                           static_cast<Uint16>(attrs[i].tag & 0xFFFF)));
                tp = &ctx->tags.back().second;
            }
            const DcmTag &tag = *tp;
            const char *v = attrs[i].value ? attrs[i].value : "";
            for (const char *p = v; *p && !non_ascii; p++)
                non_ascii = static_cast<unsigned char>(*p) >= 0x80;
            if (tag.getEVR() == EVR_SQ)
                d.insertEmptyElement(tag); // sequences: returned empty
            else
                d.putAndInsertString(tag, v);
        }
        if (non_ascii) {
            d.putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
            // Answer in the querier's own character set when it holds the
            // values (a GB18030 workstation gets GB18030), else UTF-8.
            if (!ctx->charset.empty() && ctx->charset != "ISO_IR 192") {
                DcmDataset conv(d);
                if (conv.convertCharacterSet(ctx->charset.c_str()).good())
                    d = conv;
            }
        } else if (!ctx->charset.empty()) {
            d.putAndInsertString(DCM_SpecificCharacterSet,
                                 ctx->charset.c_str());
        }
        T_DIMSE_C_FindRSP rsp;
        memset(&rsp, 0, sizeof rsp);
        rsp.MessageIDBeingRespondedTo = ctx->rq->MessageID;
        OFStandard::strlcpy(rsp.AffectedSOPClassUID,
                            ctx->rq->AffectedSOPClassUID,
                            sizeof rsp.AffectedSOPClassUID);
        rsp.opts = O_FIND_AFFECTEDSOPCLASSUID;
        rsp.DimseStatus = status == DCX_STATUS_PENDING_WARNING
                              ? DCX_STATUS_PENDING_WARNING
                              : DCX_STATUS_PENDING;
        rsp.DataSetType = DIMSE_DATASET_PRESENT;
        OFCondition c = DIMSE_sendFindResponse(ctx->assoc, ctx->pcid,
                                               ctx->rq, &rsp, &d, nullptr);
        if (c.bad())
            return DCX_ENET;
        ctx->sent++;
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

namespace {

// A listening IPv4 socket (as DCMTK's own listener: its peer-address code
// reads a sockaddr_in), or -1 with errno.
int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    a4.sin_port = htons(static_cast<uint16_t>(port));
    if (bind(fd, reinterpret_cast<sockaddr *>(&a4), sizeof a4) != 0 ||
        listen(fd, 64) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

void close_listeners(dcx_scp *s)
{
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->tls_listen_fd >= 0)
        close(s->tls_listen_fd);
    s->listen_fd = s->tls_listen_fd = -1;
}

} // namespace

extern "C" int dcx_scp_create(const struct dcx_scp_opts *o,
                              const struct dcx_scp_hooks *h,
                              dcx_scp **out, struct dcx_error *e)
{
    *out = nullptr;
    if (!o || !o->ae_title || !*o->ae_title ||
        strlen(o->ae_title) > DCX_AE_LEN || o->port < 0 ||
        o->port > 65535 || (o->port == 0 && o->tls_port <= 0) ||
        !o->tmp_dir) {
        dcx_err_set(e, "invalid SCP options (AE title 1-16 characters, port "
                       "1-65535 or a TLS port only, temp folder)");
        return DCX_EINVAL;
    }
    dcx_scp *s = nullptr;
    try {
        s = new dcx_scp();
        s->ae = o->ae_title;
        s->move_ae = o->calling_ae_for_moves && *o->calling_ae_for_moves
                         ? o->calling_ae_for_moves
                         : o->ae_title;
        s->tmp_dir = o->tmp_dir;
        s->port = o->port;
        if (o->max_assocs > 0)
            s->max_assocs = o->max_assocs;
        if (o->max_pdu)
            s->max_pdu = o->max_pdu < ASC_MINIMUMPDUSIZE   ? ASC_MINIMUMPDUSIZE
                         : o->max_pdu > ASC_MAXIMUMPDUSIZE ? ASC_MAXIMUMPDUSIZE
                                                           : o->max_pdu;
        if (o->acse_timeout > 0)
            s->acse_timeout = o->acse_timeout;
        if (o->dimse_timeout > 0)
            s->dimse_timeout = o->dimse_timeout;
        s->any_called_ae = o->accept_any_called_ae != 0;
        if (h)
            s->hooks = *h;
        // the plain port is ours (accept_plain): DCMTK's network must not
        // open a listening socket, which it skips while an external socket
        // handle is set
        OFCondition c;
        {
            std::lock_guard<std::mutex> lk(external_socket_mu);
            dcmExternalSocketHandle.set(0);
            c = ASC_initializeNetwork(NET_ACCEPTOR, s->port, s->acse_timeout,
                                      &s->net);
            dcmExternalSocketHandle.set(-1);
        }
        if (c.good())
            c = ASC_setTransportLayer(s->net, dcx_net_watch_layer(nullptr),
                                      1);
        if (c.bad()) {
            dcx_err_set(e, "cannot set up the network: %s", c.text());
            delete s;
            return DCX_EIO;
        }
        if (s->port && (s->listen_fd = listen_on(s->port)) < 0) {
            dcx_err_set(e, "cannot listen on port %d: %s", s->port,
                        strerror(errno));
            ASC_dropNetwork(&s->net);
            delete s;
            return DCX_EIO;
        }
        if (o->tls_port > 0) {
            std::string err;
            DcmTransportLayer *layer =
                o->tls ? dcx_net_tls_layer(NET_ACCEPTOR, o->tls, err) : nullptr;
            if (!layer) {
                dcx_err_set(e, "TLS port %d: %s", o->tls_port,
                            o->tls ? err.c_str() : "no TLS settings");
                close_listeners(s);
                ASC_dropNetwork(&s->net);
                delete s;
                return DCX_EINVAL;
            }
            {
                std::lock_guard<std::mutex> lk(external_socket_mu);
                dcmExternalSocketHandle.set(0); // no listener of DCMTK's
                c = ASC_initializeNetwork(NET_ACCEPTOR, o->tls_port,
                                          s->acse_timeout, &s->tls_net);
                dcmExternalSocketHandle.set(-1);
            }
            if (c.good())
                c = ASC_setTransportLayer(s->tls_net,
                                          dcx_net_watch_layer(layer), 1);
            else
                delete layer;
            if (c.good() && (s->tls_listen_fd = listen_on(o->tls_port)) < 0)
                c = makeOFCondition(0, 1, OF_error, strerror(errno));
            if (c.bad()) {
                dcx_err_set(e, "cannot listen on TLS port %d: %s", o->tls_port,
                            c.text());
                if (s->tls_net)
                    ASC_dropNetwork(&s->tls_net);
                close_listeners(s);
                ASC_dropNetwork(&s->net);
                delete s;
                return DCX_EIO;
            }
        }
        *out = s;
        return 0;
    } catch (...) {
        delete s;
        dcx_err_set(e, "internal error");
        return DCX_EINTERNAL;
    }
}

namespace {

// Largest association request we wait for (a request with 128 contexts and
// user identity is well under 16 KB; more would not fit the socket buffer
// we peek into).
const size_t MAX_ASSOC_RQ = 65536;

// Checks the item structure of an A-ASSOCIATE-RQ (PS3.8 9.3.2) before
// DCMTK parses it: every item and sub-item length must stay inside its
// parent; the variable part holds only application context (10H),
// presentation context (20H: one abstract syntax 30H, one or more
// transfer syntaxes 40H) and user information (50H) items; UIDs are at
// most 64 bytes. DCMTK 3.6.7 leaks memory on requests that break these
// rules (its own storescp too, seen under valgrind with our fuzzer's
// inputs: the transfer syntax list of a presentation context it then
// drops), so such requests never reach it. p is the whole PDU.
size_t be16(const unsigned char *p)
{
    return static_cast<size_t>(p[0]) << 8 | p[1];
}

// A UID in an item: digits and dots, at most 64, trailing NUL or space
// padding allowed. (DCMTK fails to build its answer, and leaks, on a UID
// that turns out empty after its NUL.)
bool uid_item_ok(const unsigned char *p, size_t n)
{
    while (n > 0 && (p[n - 1] == 0 || p[n - 1] == ' '))
        n--;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || p[i] == '.'))
            return false;
    return true;
}

bool user_info_ok(const unsigned char *p, size_t n, const char **why)
{
    for (size_t o = 0; o < n;) {
        size_t len;
        if (n - o < 4 || (len = be16(p + o + 2)) > n - o - 4) {
            *why = "user information sub-item runs past its item";
            return false;
        }
        const unsigned char *q = p + o + 4;
        size_t k;
        bool ok = true;
        switch (p[o]) {
        case 0x51: // maximum length
        case 0x53: // asynchronous operations window
            ok = len == 4;
            break;
        case 0x52: // implementation class UID
            ok = uid_item_ok(q, len);
            break;
        case 0x55: // implementation version name
            ok = len <= 64;
            break;
        case 0x54: // SCP/SCU role selection: UID length, UID, 2 roles
            ok = len >= 2 && (k = be16(q)) <= 64 && k + 4 == len;
            break;
        case 0x56: // SOP class extended negotiation: UID length, UID, info
            ok = len >= 2 && (k = be16(q)) <= 64 && k <= len - 2;
            break;
        case 0x57: { // common extended negotiation: three length-prefixed
            size_t at = 0;
            for (int part = 0; ok && part < 3; part++) {
                ok = len - at >= 2 && (k = be16(q + at)) <= len - at - 2;
                at += 2 + k;
            }
            break;
        }
        case 0x58: // user identity: type, response, primary, secondary
            ok = len >= 6 && (k = be16(q + 2)) <= len - 6 &&
                 be16(q + 4 + k) == len - 6 - k;
            break;
        default:
            break; // other sub-items: skipped, as DCMTK does
        }
        if (!ok) {
            *why = "malformed user information sub-item";
            return false;
        }
        o += 4 + len;
    }
    return true;
}

bool assoc_rq_wellformed(const unsigned char *p, size_t n, const char **why)
{
    if (n < 6 + 68) {
        *why = "shorter than its fixed fields";
        return false;
    }
    for (size_t o = 6 + 68; o < n;) {
        size_t len;
        if (n - o < 4 || (len = be16(p + o + 2)) > n - o - 4) {
            *why = "item runs past the PDU";
            return false;
        }
        const unsigned char *q = p + o + 4;
        if (p[o] == 0x10) {
            if (!uid_item_ok(q, len)) {
                *why = "application context name is not a UID";
                return false;
            }
        } else if (p[o] == 0x20) {
            if (len < 4) {
                *why = "presentation context item too short";
                return false;
            }
            int abstract = 0, transfer = 0;
            for (size_t i = 4; i < len;) {
                size_t sl;
                if (len - i < 4 || (sl = be16(q + i + 2)) > len - i - 4) {
                    *why = "presentation context sub-item runs past its item";
                    return false;
                }
                if ((q[i] != 0x30 && q[i] != 0x40) ||
                    !uid_item_ok(q + i + 4, sl)) {
                    *why = "presentation context sub-item is not a UID of "
                           "an abstract or transfer syntax";
                    return false;
                }
                abstract += q[i] == 0x30;
                transfer += q[i] == 0x40;
                i += 4 + sl;
            }
            if (abstract != 1 || transfer < 1) {
                *why = "presentation context without one abstract syntax "
                       "and a transfer syntax";
                return false;
            }
        } else if (p[o] == 0x50) {
            if (!user_info_ok(q, len, why))
                return false;
        } else {
            *why = "unknown item type";
            return false;
        }
        o += 4 + len;
    }
    return true;
}

// A connection on the plain port: its A-ASSOCIATE-RQ must arrive whole
// within acse_timeout seconds in total. DCMTK's own ARTIM restarts on
// every read, so a request trickled a byte at a time held the accept loop
// indefinitely; here only this connection's thread waits, and not beyond
// the deadline. Once the PDU is in the socket buffer (and well formed),
// DCMTK reads it from this socket without blocking. False: dropped (not
// in time, or malformed; logged).
bool request_arrived(dcx_scp *s, int fd)
{
    auto drop = [&](const char *why) {
        dcx_log(DCX_LOG_WARN, "association request dropped: %s", why);
        return false;
    };
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    std::string buf(MAX_ASSOC_RQ + 6, '\0');
    size_t need = 6;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = s->acse_timeout * 1000L -
                    ((now.tv_sec - t0.tv_sec) * 1000L +
                     (now.tv_nsec - t0.tv_nsec) / 1000000L);
        if (s->stop.load())
            return drop("node stopping");
        if (left <= 0)
            return drop("no complete request within acse_timeout");
        // POLLRDHUP: a client that half-closed after part of a request
        // will send no more; without it we would wait out the deadline
        struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
        int r = poll(&p, 1, left < 500 ? static_cast<int>(left) : 500);
        if (r < 0 && errno != EINTR)
            return drop("poll failed");
        if (r <= 0)
            continue;
        // all that is there (the whole request, usually, in one segment):
        // peeking only the header first cost every association a sleep
        ssize_t n = recv(fd, &buf[0], buf.size(), MSG_PEEK);
        if (n <= 0)
            return drop(n == 0 ? "peer closed" : "receive failed");
        if (need == 6 && n >= 6) {
            const unsigned char *h =
                reinterpret_cast<const unsigned char *>(buf.data());
            if (h[0] != 0x01)
                return drop("not an A-ASSOCIATE-RQ");
            uint32_t len = (uint32_t)h[2] << 24 | (uint32_t)h[3] << 16 |
                           (uint32_t)h[4] << 8 | h[5];
            if (len > MAX_ASSOC_RQ)
                return drop("A-ASSOCIATE-RQ too large");
            need = 6 + len;
        }
        if (static_cast<size_t>(n) >= need) {
            const char *why = nullptr;
            if (!assoc_rq_wellformed(
                    reinterpret_cast<const unsigned char *>(buf.data()),
                    need, &why)) {
                // logged first: the peer may act on the A-ABORT at once
                std::string m = std::string("malformed A-ASSOCIATE-RQ (") +
                                why + "), answered with A-ABORT";
                drop(m.c_str());
                // A-ABORT, service provider, invalid PDU parameter value
                static const unsigned char abort_pdu[10] = {
                    0x07, 0, 0, 0, 0, 4, 0, 0, 2, 6};
                send(fd, abort_pdu, sizeof abort_pdu, MSG_NOSIGNAL);
                return false;
            }
            return true;
        }
        if (static_cast<size_t>(n) < need &&
            p.revents & (POLLHUP | POLLERR | POLLRDHUP))
            return drop("peer closed");
        // more to come: wait without spinning on the bytes already there
        usleep(5000);
    }
}

long long steady_ms()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// One accepted connection, on its own thread. Plain: the request is read
// whole first (request_arrived). TLS: the handshake and the request are
// DCMTK's, with a total deadline the accept loop enforces. Either way the
// global dcmExternalSocketHandle is held only until DCMTK has taken the
// socket (the watch layer's createConnection releases it), so a slow peer
// never holds up the others.
void serve_connection(dcx_scp *s, int fd, bool tls)
{
    auto done_pending = [&] {
        std::lock_guard<std::mutex> lk(s->mu);
        s->pending--;
    };
    if (!tls && !request_arrived(s, fd)) {
        close(fd);
        done_pending();
        return;
    }
    if (tls) {
        std::lock_guard<std::mutex> lk(s->mu);
        s->handshaking.emplace_back(fd, steady_ms() + s->acse_timeout * 1000L);
    }
    T_ASC_Association *assoc = nullptr;
    OFCondition c;
    {
        std::unique_lock<std::mutex> lk(external_socket_mu);
        dcmExternalSocketHandle.set(fd);
        dcx_net_handoff = &lk;
        c = ASC_receiveAssociation(tls ? s->tls_net : s->net, &assoc,
                                   static_cast<long>(s->max_pdu), nullptr,
                                   nullptr, tls ? OFTrue : OFFalse, DUL_BLOCK,
                                   s->acse_timeout);
        dcx_net_handoff = nullptr;
        if (lk.owns_lock()) // DCMTK failed before taking the socket
            dcmExternalSocketHandle.set(-1);
    }
    unsigned long id;
    {
        std::lock_guard<std::mutex> lk(s->mu);
        s->pending--;
        id = s->next_id++;
        for (size_t i = 0; i < s->handshaking.size(); i++)
            if (s->handshaking[i].first == fd) {
                s->handshaking.erase(s->handshaking.begin() +
                                     static_cast<long>(i));
                break;
            }
    }
    if (c.bad()) {
        dcx_log(DCX_LOG_WARN, "association request failed%s: %s",
                tls ? " (TLS port)" : "", c.text());
        if (assoc) {
            ASC_dropAssociation(assoc); // closes fd
            ASC_destroyAssociation(&assoc);
        } else {
            close(fd);
        }
        return;
    }
    {
        std::unique_lock<std::mutex> lk(s->mu);
        if (s->active >= s->max_assocs) {
            lk.unlock();
            dcx_log(DCX_LOG_WARN, "assoc=%lu rejected: %d associations "
                                  "already running",
                    id, s->max_assocs);
            reject(assoc, ASC_RESULT_REJECTEDTRANSIENT,
                   ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
            ASC_dropAssociation(assoc);
            ASC_destroyAssociation(&assoc);
            return;
        }
        s->active++;
    }
    assoc_thread(s, assoc, id, tls);
}

// Shuts down connections still in their TLS handshake or request past
// the deadline: DCMTK restarts its timer on every byte, so a trickling
// client would otherwise hold its thread (and a slot) for ever.
void reap_handshakes(dcx_scp *s)
{
    long long now = steady_ms();
    std::lock_guard<std::mutex> lk(s->mu);
    for (auto &h : s->handshaking)
        if (h.second && now > h.second) {
            dcx_log(DCX_LOG_WARN, "TLS connection dropped: no association "
                                  "request within acse_timeout");
            shutdown(h.first, SHUT_RDWR);
            h.second = 0; // once
        }
}

// Both ports' accept loop: accept() and a thread per connection.
void accept_loop(dcx_scp *s)
{
    while (!s->stop.load()) {
        struct pollfd p[2];
        int n = 0;
        if (s->listen_fd >= 0)
            p[n++] = {s->listen_fd, POLLIN, 0};
        if (s->tls_listen_fd >= 0)
            p[n++] = {s->tls_listen_fd, POLLIN, 0};
        int r = poll(p, static_cast<nfds_t>(n), 500);
        reap_handshakes(s);
        for (int i = 0; r > 0 && i < n; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            bool tls = p[i].fd == s->tls_listen_fd;
            int fd = accept4(p[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                // out of descriptors: the listening socket stays readable,
                // so do not spin on it
                if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
                    errno == ENOBUFS) {
                    dcx_log(DCX_LOG_ERROR, "accept failed: %s",
                            strerror(errno));
                    usleep(100000);
                }
                continue;
            }
            {
                std::lock_guard<std::mutex> lk(s->mu);
                // connections still talking: bounded, so that a flood of
                // silent ones cannot exhaust threads
                if (s->pending >= 2 * s->max_assocs + 16) {
                    close(fd);
                    dcx_log(DCX_LOG_WARN, "connection dropped: %d still "
                                          "sending their association request",
                            s->pending);
                    continue;
                }
                s->pending++;
                s->active_threads++;
            }
            try {
                std::thread([s, fd, tls] {
                    serve_connection(s, fd, tls);
                    std::lock_guard<std::mutex> lk(s->mu);
                    s->active_threads--;
                    s->idle.notify_all();
                }).detach();
            } catch (...) {
                close(fd);
                std::lock_guard<std::mutex> lk(s->mu);
                s->pending--;
                s->active_threads--;
            }
        }
    }
}

} // namespace

extern "C" int dcx_scp_run(dcx_scp *s)
{
    try {
        accept_loop(s);
        std::unique_lock<std::mutex> lk(s->mu);
        s->idle.wait(lk, [s] {
            return s->active == 0 && s->active_threads == 0;
        });
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" void dcx_scp_stop(dcx_scp *s)
{
    if (s)
        s->stop.store(true);
}

extern "C" int dcx_scp_idle(dcx_scp *s)
{
    std::lock_guard<std::mutex> lk(s->mu);
    return s->pending == 0 && s->active == 0 && s->active_threads == 0;
}

extern "C" void dcx_scp_destroy(dcx_scp *s)
{
    if (!s)
        return;
    try {
        if (s->net)
            ASC_dropNetwork(&s->net);
        if (s->tls_net)
            ASC_dropNetwork(&s->tls_net);
        close_listeners(s);
        delete s;
    } catch (...) {
    }
}
