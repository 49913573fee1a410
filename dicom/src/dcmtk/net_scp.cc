// net_scp.cc - the SCP side of dcx/net.h over dcmnet's ASC/DIMSE API: an
// accept loop, one thread per association, presentation-context
// negotiation, and C-ECHO / C-STORE handling that calls the C hooks.
//
// Why not DcmSCP/DcmSCPPool: DcmSCP negotiates only from a fixed profile
// (no "any storage class", no per-AE role selection) and keeps the
// association private, so the hooks we need cannot be reached from a
// subclass. The ASC/DIMSE calls below are the ones DcmSCP makes itself.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcostrmf.h"
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

#include <sys/stat.h>
#include <unistd.h>

#include "net_int.hh"

struct dcx_scp {
    std::string ae, tmp_dir;
    int port = 0, max_assocs = 32, acse_timeout = 10, dimse_timeout = 300;
    unsigned long max_pdu = ASC_MAXIMUMPDUSIZE;
    bool any_called_ae = false;
    dcx_scp_hooks hooks{};
    T_ASC_Network *net = nullptr;
    std::atomic<bool> stop{false}; // lock-free: set from a signal handler
    std::mutex mu;
    std::condition_variable idle;
    int active = 0;
    unsigned long next_id = 1;     // accept thread only
    std::atomic<unsigned long> tmp_seq{0};
};

static_assert(std::atomic<bool>::is_always_lock_free,
              "dcx_scp_stop must be async-signal-safe");

namespace {

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
    Assoc(dcx_scp *scp, T_ASC_Association *assoc, unsigned long id)
        : scp_(scp), assoc_(assoc)
    {
        info_.id = id;
    }
    void run();

private:
    bool accept();
    void loop();
    bool handle_store(T_DIMSE_C_StoreRQ &rq, T_ASC_PresentationContextID pc);
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
    if (ASC_acknowledgeAssociation(assoc_).bad()) {
        log(DCX_LOG_WARN, "association acknowledge failed");
        return false;
    }
    log(DCX_LOG_INFO, "association accepted peer=%s contexts=%d",
        info_.peer_host, ASC_countAcceptedPresentationContexts(p));
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
    if (status == DCX_STATUS_SUCCESS) {
        char name[96];
        snprintf(name, sizeof name, "/%lu-%lu.part", info_.id,
                 scp_->tmp_seq.fetch_add(1) + 1);
        tmp = scp_->tmp_dir + name;
        DcmOutputFileStream *fs = nullptr;
        c = DIMSE_createFilestream(tmp.c_str(), &rq, assoc_, pcid, 1, &fs);
        if (c.bad()) {
            log(DCX_LOG_ERROR, "c-store cannot create temp file: %s",
                strerror(errno));
            status = DCX_STATUS_OUT_OF_RESOURCES;
            delete fs;
            unlink(tmp.c_str());
            tmp.clear();
        } else {
            offile_off_t meta = fs->tell();
            T_ASC_PresentationContextID got = 0;
            c = DIMSE_receiveDataSetInFile(assoc_, DIMSE_BLOCKING,
                                           scp_->dimse_timeout, &got, fs,
                                           nullptr, nullptr);
            offile_off_t total = fs->tell();
            bool stream_ok = fs->good();
            delete fs; // flushes and closes
            bytes = static_cast<unsigned long long>(total - meta);
            if (c == DIMSE_OUTOFRESOURCES || (c.good() && !stream_ok)) {
                log(DCX_LOG_ERROR, "c-store cannot write temp file "
                                   "(disk full?)");
                status = DCX_STATUS_OUT_OF_RESOURCES;
                unlink(tmp.c_str());
                tmp.clear();
            } else if (c.bad()) {
                // The link broke mid-transfer: nothing to answer.
                log(DCX_LOG_WARN, "c-store data not received: %s",
                    c.text());
                unlink(tmp.c_str());
                stats_.aborted = 1;
                return false;
            } else {
                struct stat st;
                if (stat(tmp.c_str(), &st) != 0 || st.st_size != total) {
                    log(DCX_LOG_ERROR, "c-store temp file short "
                                       "(disk full?)");
                    status = DCX_STATUS_OUT_OF_RESOURCES;
                    unlink(tmp.c_str());
                    tmp.clear();
                }
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
        dcx_store_rq r;
        r.sop_class_uid = rq.AffectedSOPClassUID;
        r.sop_instance_uid = rq.AffectedSOPInstanceUID;
        r.transfer_syntax_uid = pc.acceptedTransferSyntax;
        r.message_id = rq.MessageID;
        r.move_originator_ae = (rq.opts & O_STORE_MOVEORIGINATORAETITLE)
                                   ? rq.MoveOriginatorApplicationEntityTitle
                                   : "";
        status = scp_->hooks.on_store
                     ? scp_->hooks.on_store(scp_->hooks.user, &info_, &r,
                                            tmp.c_str())
                     : DCX_STATUS_OUT_OF_RESOURCES;
        if (!scp_->hooks.on_store)
            unlink(tmp.c_str());
    }
    if (status == DCX_STATUS_SUCCESS || (status & 0xF000) == 0xB000)
        stats_.stores_ok++;
    else
        stats_.stores_failed++;

    T_DIMSE_C_StoreRSP rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.MessageIDBeingRespondedTo = rq.MessageID;
    rsp.DimseStatus = status;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, rq.AffectedSOPClassUID,
                        sizeof rsp.AffectedSOPClassUID);
    OFStandard::strlcpy(rsp.AffectedSOPInstanceUID,
                        rq.AffectedSOPInstanceUID,
                        sizeof rsp.AffectedSOPInstanceUID);
    rsp.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;
    if (rq.opts & O_STORE_RQ_BLANK_PADDING)
        rsp.opts |= O_STORE_RSP_BLANK_PADDING;
    c = DIMSE_sendStoreResponse(assoc_, pcid, &rq, &rsp, nullptr);
    if (c.bad()) {
        log(DCX_LOG_WARN, "c-store response not sent: %s", c.text());
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
    }
}

void Assoc::run()
{
    bool accepted = accept();
    if (accepted)
        loop();
    if (scp_->hooks.on_end && (accepted || info_.user))
        scp_->hooks.on_end(scp_->hooks.user, &info_, &stats_);
    ASC_dropSCPAssociation(assoc_);
    ASC_destroyAssociation(&assoc_);
}

void assoc_thread(dcx_scp *scp, T_ASC_Association *assoc, unsigned long id)
{
    try {
        Assoc a(scp, assoc, id);
        a.run();
    } catch (...) {
        dcx_log(DCX_LOG_ERROR, "assoc=%lu internal error", id);
    }
    std::lock_guard<std::mutex> lk(scp->mu);
    scp->active--;
    scp->idle.notify_all();
}

} // namespace

extern "C" int dcx_scp_create(const struct dcx_scp_opts *o,
                              const struct dcx_scp_hooks *h,
                              dcx_scp **out, struct dcx_error *e)
{
    *out = nullptr;
    if (!o || !o->ae_title || !*o->ae_title ||
        strlen(o->ae_title) > DCX_AE_LEN || o->port <= 0 ||
        o->port > 65535 || !o->tmp_dir) {
        dcx_net_err(e, "invalid SCP options (AE title 1-16 characters, port "
                       "1-65535, temp folder)");
        return DCX_EINVAL;
    }
    dcx_scp *s = nullptr;
    try {
        s = new dcx_scp();
        s->ae = o->ae_title;
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
        OFCondition c = ASC_initializeNetwork(NET_ACCEPTOR, s->port,
                                              s->acse_timeout, &s->net);
        if (c.bad()) {
            dcx_net_err(e, "cannot listen on port %d: %s", s->port, c.text());
            delete s;
            return DCX_EIO;
        }
        *out = s;
        return 0;
    } catch (...) {
        delete s;
        dcx_net_err(e, "internal error");
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_scp_run(dcx_scp *s)
{
    try {
        while (!s->stop.load()) {
            T_ASC_Association *assoc = nullptr;
            OFCondition c = ASC_receiveAssociation(
                s->net, &assoc, static_cast<long>(s->max_pdu), nullptr,
                nullptr, OFFalse, DUL_NOBLOCK, 1);
            if (c.bad()) {
                if (c != DUL_NOASSOCIATIONREQUEST)
                    dcx_log(DCX_LOG_WARN, "association request failed: %s",
                            c.text());
                if (assoc) {
                    ASC_dropAssociation(assoc);
                    ASC_destroyAssociation(&assoc);
                }
                continue;
            }
            unsigned long id = s->next_id++;
            {
                std::unique_lock<std::mutex> lk(s->mu);
                if (s->active >= s->max_assocs) {
                    lk.unlock();
                    dcx_log(DCX_LOG_WARN, "assoc=%lu rejected: %d "
                                          "associations already running",
                            id, s->max_assocs);
                    reject(assoc, ASC_RESULT_REJECTEDTRANSIENT,
                           ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
                    ASC_dropAssociation(assoc);
                    ASC_destroyAssociation(&assoc);
                    continue;
                }
                s->active++;
            }
            try {
                std::thread(assoc_thread, s, assoc, id).detach();
            } catch (...) {
                dcx_log(DCX_LOG_ERROR, "assoc=%lu no thread for it", id);
                ASC_abortAssociation(assoc);
                ASC_dropAssociation(assoc);
                ASC_destroyAssociation(&assoc);
                std::lock_guard<std::mutex> lk(s->mu);
                s->active--;
            }
        }
        std::unique_lock<std::mutex> lk(s->mu);
        s->idle.wait(lk, [s] { return s->active == 0; });
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

extern "C" void dcx_scp_destroy(dcx_scp *s)
{
    if (!s)
        return;
    try {
        if (s->net)
            ASC_dropNetwork(&s->net);
        delete s;
    } catch (...) {
    }
}
