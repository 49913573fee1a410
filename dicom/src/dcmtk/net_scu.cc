// net_scu.cc - the SCU side of dcx/net.h over dcmnet's ASC/DIMSE API:
// association request, C-ECHO, and C-STORE that sends a file's data set as
// it is stored when the peer accepted its transfer syntax (no parse, no
// re-encoding) and converts it only when it must.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcostrmf.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include <sys/stat.h>

#include "ds_int.hh"
#include "net_int.hh"

#include <cerrno>
#include <unistd.h>

struct dcx_scu {
    T_ASC_Network *net = nullptr;
    T_ASC_Association *assoc = nullptr;
    int timeout = 30;
    std::string err;
};

namespace {

int fail(dcx_scu *scu, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int fail(dcx_scu *scu, int rc, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    scu->err = buf;
    return rc;
}

void close_net(dcx_scu *scu)
{
    if (scu->assoc)
        ASC_destroyAssociation(&scu->assoc);
    if (scu->net)
        ASC_dropNetwork(&scu->net);
}

} // namespace

extern "C" int dcx_scu_open(const struct dcx_scu_opts *o,
                            const struct dcx_scu_context *ctx, size_t n_ctx,
                            dcx_scu **out, struct dcx_error *e)
{
    *out = nullptr;
    if (!o || !o->called_ae || !o->host || o->port <= 0 || o->port > 65535 ||
        n_ctx == 0 || n_ctx > 128) {
        dcx_err_set(e, "invalid SCU options");
        return DCX_EINVAL;
    }
    const char *calling = o->calling_ae ? o->calling_ae : "CONSORT";
    if (strlen(calling) > DCX_AE_LEN || strlen(o->called_ae) > DCX_AE_LEN ||
        !*calling || !*o->called_ae) {
        dcx_err_set(e, "AE titles must be 1-16 characters");
        return DCX_EINVAL;
    }
    dcx_scu *scu = nullptr;
    try {
        scu = new dcx_scu();
        if (o->timeout > 0)
            scu->timeout = o->timeout;
        // Also bounds connect(); a global in DCMTK, same value everywhere.
        dcmConnectionTimeout.set(scu->timeout);
        OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0, scu->timeout,
                                              &scu->net);
        T_ASC_Parameters *p = nullptr;
        if (c.good())
            c = ASC_createAssociationParameters(
                &p, static_cast<long>(o->max_pdu ? o->max_pdu
                                                 : ASC_MAXIMUMPDUSIZE));
        if (c.bad()) {
            dcx_err_set(e, "network set-up failed: %s", c.text());
            close_net(scu);
            delete scu;
            return DCX_ENET;
        }
        if (o->tls) {
            std::string err;
            DcmTransportLayer *layer =
                dcx_net_tls_layer(NET_REQUESTOR, o->tls, err);
            if (layer)
                c = ASC_setTransportLayer(scu->net, layer, 1);
            if (layer)
                c = c.good() ? ASC_setTransportLayerType(p, OFTrue) : c;
            if (!layer || c.bad()) {
                dcx_err_set(e, "TLS set-up failed: %s",
                            layer ? c.text() : err.c_str());
                ASC_destroyAssociationParameters(&p);
                close_net(scu);
                delete scu;
                return DCX_EINVAL;
            }
        }
        ASC_setAPTitles(p, calling, o->called_ae, nullptr);
        char peer[300];
        snprintf(peer, sizeof peer, "%s:%d", o->host, o->port);
        ASC_setPresentationAddresses(p, OFStandard::getHostName().c_str(),
                                     peer);
        for (size_t i = 0; c.good() && i < n_ctx; i++) {
            const char *ts[DICOM_MAXTRANSFERSYNTAXES];
            size_t n = ctx[i].n_transfer_syntaxes;
            if (n == 0 || n > DICOM_MAXTRANSFERSYNTAXES)
                n = 0;
            for (size_t k = 0; k < n; k++)
                ts[k] = ctx[i].transfer_syntaxes[k];
            c = n ? ASC_addPresentationContext(
                        p, static_cast<T_ASC_PresentationContextID>(2 * i + 1),
                        ctx[i].abstract_syntax, ts, static_cast<int>(n),
                        ctx[i].role == DCX_SCU_ROLE_SCP ? ASC_SC_ROLE_SCP
                                                        : ASC_SC_ROLE_DEFAULT)
                  : makeOFCondition(0, 1, OF_error, "empty context");
        }
        if (c.bad()) {
            dcx_err_set(e, "cannot propose contexts: %s", c.text());
            ASC_destroyAssociationParameters(&p);
            close_net(scu);
            delete scu;
            return DCX_EINVAL;
        }
        c = ASC_requestAssociation(scu->net, p, &scu->assoc);
        if (c.bad()) {
            int rc = DCX_ENET;
            if (c == DUL_ASSOCIATIONREJECTED) {
                T_ASC_RejectParameters rej;
                ASC_getRejectParameters(p, &rej);
                OFString why;
                ASC_printRejectParameters(why, &rej);
                // one line: DCMTK prints the parameters on several
                for (size_t k = 0; k < why.size(); k++)
                    if (why[k] == '\n')
                        why[k] = ';';
                dcx_err_set(e, "%s at %s rejected the association: %s",
                            o->called_ae, peer, why.c_str());
                rc = rej.result == ASC_RESULT_REJECTEDTRANSIENT ? DCX_EBUSY
                                                                : DCX_EREFUSED;
            } else {
                dcx_err_set(e, "cannot associate with %s at %s: %s",
                            o->called_ae, peer, c.text());
            }
            if (!scu->assoc)
                ASC_destroyAssociationParameters(&p);
            close_net(scu);
            delete scu;
            return rc;
        }
        dcx_net_nodelay(scu->assoc);
        if (ASC_countAcceptedPresentationContexts(scu->assoc->params) == 0) {
            dcx_err_set(e, "%s at %s accepted none of the proposed "
                           "presentation contexts",
                        o->called_ae, peer);
            ASC_releaseAssociation(scu->assoc);
            close_net(scu);
            delete scu;
            // the peer is there: it is what we proposed that it refused
            return DCX_EUNSUPPORTED;
        }
        *out = scu;
        return 0;
    } catch (...) {
        if (scu) {
            close_net(scu);
            delete scu;
        }
        dcx_err_set(e, "internal error");
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_scu_echo(dcx_scu *scu, uint16_t *out_status)
{
    try {
        DIC_US status = 0;
        OFCondition c = DIMSE_echoUser(scu->assoc, ++scu->assoc->nextMsgID,
                                       DIMSE_NONBLOCKING, scu->timeout,
                                       &status, nullptr);
        if (c.bad())
            return fail(scu, DCX_ENET, "C-ECHO failed: %s", c.text());
        *out_status = status;
        return 0;
    } catch (...) {
        return fail(scu, DCX_EINTERNAL, "internal error");
    }
}

extern "C" int dcx_scu_store(dcx_scu *scu, const char *path,
                             uint16_t *out_status)
{
    try {
        return dcx_net_store(scu->assoc, scu->timeout, path, nullptr, 0,
                             false, out_status, scu->err);
    } catch (...) {
        return fail(scu, DCX_EINTERNAL, "internal error");
    }
}

extern "C" int dcx_scu_store_ex(dcx_scu *scu, const char *path,
                                unsigned flags, uint16_t *out_status,
                                struct dcx_store_result *out)
{
    try {
        return dcx_net_store_ex(scu->assoc, scu->timeout, path, nullptr, 0,
                                false, (flags & DCX_STORE_LOSSLESS) != 0,
                                out_status, out, scu->err);
    } catch (...) {
        return fail(scu, DCX_EINTERNAL, "internal error");
    }
}

int dcx_scu_store_for_move(dcx_scu *scu, const char *path,
                           const char *move_ae, uint16_t move_id,
                           uint16_t *out_status)
{
    try {
        return dcx_net_store(scu->assoc, scu->timeout, path, move_ae, move_id,
                             false, out_status, scu->err);
    } catch (...) {
        return fail(scu, DCX_EINTERNAL, "internal error");
    }
}

namespace {

DcmDataset *query_dataset(const struct dcx_attr *q, size_t n)
{
    DcmDataset *d = new DcmDataset();
    bool non_ascii = false;
    for (size_t i = 0; i < n; i++) {
        const char *v = q[i].value ? q[i].value : "";
        for (const char *p = v; *p; p++)
            non_ascii |= static_cast<unsigned char>(*p) >= 0x80;
        DcmTag tag(static_cast<Uint16>(q[i].tag >> 16),
                   static_cast<Uint16>(q[i].tag & 0xFFFF));
        if (tag.getEVR() == EVR_SQ)
            d->insertEmptyElement(tag);
        else
            d->putAndInsertString(tag, v);
    }
    if (non_ascii)
        d->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    return d;
}

struct find_cb {
    dcx_scu *scu;
    T_ASC_PresentationContextID pcid;
    int (*fn)(void *, dcx_ds *);
    void *user;
    bool cancel_sent;
};

void on_find_rsp(void *data, T_DIMSE_C_FindRQ *rq, int, T_DIMSE_C_FindRSP *,
                 DcmDataset *ids)
{
    find_cb *cb = static_cast<find_cb *>(data);
    if (!ids || cb->cancel_sent)
        return;
    dcx_ds *ds = nullptr;
    dcx_error e;
    if (dcx_ds_adopt(ids, &ds, &e) < 0)
        return;
    if (cb->fn(cb->user, ds) != 0) {
        DIMSE_sendCancelRequest(cb->scu->assoc, cb->pcid, rq->MessageID);
        cb->cancel_sent = true;
    }
    dcx_ds_close(ds);
}

} // namespace

namespace {

// The accepted context of a query/retrieve model; 0 with an error set if
// the peer refused it.
T_ASC_PresentationContextID model_pc(dcx_scu *scu, const char *model)
{
    T_ASC_PresentationContextID pcid =
        ASC_findAcceptedPresentationContextID(scu->assoc, model);
    if (!pcid)
        fail(scu, DCX_EUNSUPPORTED, "the peer did not accept the model %s",
             model);
    return pcid;
}

// The fields every C-FIND/MOVE/GET request shares.
template <class RQ> void init_rq(RQ &rq, dcx_scu *scu, const char *model)
{
    memset(&rq, 0, sizeof rq);
    rq.MessageID = ++scu->assoc->nextMsgID;
    OFStandard::strlcpy(rq.AffectedSOPClassUID, model,
                        sizeof rq.AffectedSOPClassUID);
    rq.Priority = DIMSE_PRIORITY_MEDIUM;
    rq.DataSetType = DIMSE_DATASET_PRESENT;
}

} // namespace

extern "C" int dcx_scu_find(dcx_scu *scu, const char *model,
                            const struct dcx_attr *query, size_t n,
                            int (*fn)(void *user, dcx_ds *match), void *user,
                            uint16_t *out_status)
{
    try {
        T_ASC_PresentationContextID pcid = model_pc(scu, model);
        if (!pcid)
            return DCX_EUNSUPPORTED;
        std::unique_ptr<DcmDataset> q(query_dataset(query, n));
        T_DIMSE_C_FindRQ rq;
        init_rq(rq, scu, model);
        T_DIMSE_C_FindRSP rsp;
        memset(&rsp, 0, sizeof rsp);
        DcmDataset *detail = nullptr;
        find_cb cb{scu, pcid, fn, user, false};
        int count = 0;
        OFCondition c = DIMSE_findUser(scu->assoc, pcid, &rq, q.get(), count,
                                       on_find_rsp, &cb, DIMSE_NONBLOCKING,
                                       scu->timeout, &rsp, &detail);
        delete detail;
        if (c.bad())
            return fail(scu, DCX_ENET, "C-FIND failed: %s", c.text());
        *out_status = rsp.DimseStatus;
        return 0;
    } catch (...) {
        return fail(scu, DCX_EINTERNAL, "internal error");
    }
}

namespace {

// DIMSE_moveUser's callback at each pending response: the caller's
// progress, and C-CANCEL once if it asks to stop.
struct move_cb {
    dcx_scu *scu;
    T_ASC_PresentationContextID pcid;
    dcx_retrieve_progress_fn progress;
    void *user;
    bool cancel_sent;
};

void on_move_rsp(void *data, T_DIMSE_C_MoveRQ *rq, int,
                 T_DIMSE_C_MoveRSP *rsp)
{
    auto *m = static_cast<move_cb *>(data);
    if (!m->progress || m->cancel_sent)
        return;
    int remaining = rsp->opts & O_MOVE_NUMBEROFREMAININGSUBOPERATIONS
                        ? rsp->NumberOfRemainingSubOperations
                        : -1;
    if (m->progress(m->user, rsp->NumberOfCompletedSubOperations,
                    remaining)) {
        m->cancel_sent = true;
        DIMSE_sendCancelRequest(m->scu->assoc, m->pcid, rq->MessageID);
    }
}

} // namespace

extern "C" int dcx_scu_move(dcx_scu *scu, const char *model,
                            const char *dest_ae, const struct dcx_attr *query,
                            size_t n, dcx_retrieve_progress_fn progress,
                            void *user, unsigned *out_completed,
                            unsigned *out_failed, uint16_t *out_status)
{
    try {
        T_ASC_PresentationContextID pcid = model_pc(scu, model);
        if (!pcid)
            return DCX_EUNSUPPORTED;
        std::unique_ptr<DcmDataset> q(query_dataset(query, n));
        T_DIMSE_C_MoveRQ rq;
        init_rq(rq, scu, model);
        OFStandard::strlcpy(rq.MoveDestination, dest_ae,
                            sizeof rq.MoveDestination);
        T_DIMSE_C_MoveRSP rsp;
        memset(&rsp, 0, sizeof rsp);
        DcmDataset *detail = nullptr, *ids = nullptr;
        move_cb cb{scu, pcid, progress, user, false};
        // a long move answers only when it is done: no response timeout
        OFCondition c = DIMSE_moveUser(scu->assoc, pcid, &rq, q.get(),
                                       on_move_rsp, &cb, DIMSE_BLOCKING, 0,
                                       nullptr, nullptr, nullptr, &rsp,
                                       &detail, &ids);
        delete detail;
        delete ids;
        if (c.bad())
            return fail(scu, DCX_ENET, "C-MOVE failed: %s", c.text());
        *out_completed = rsp.NumberOfCompletedSubOperations;
        *out_failed = rsp.NumberOfFailedSubOperations;
        *out_status = rsp.DimseStatus;
        return 0;
    } catch (...) {
        return fail(scu, DCX_EINTERNAL, "internal error");
    }
}

extern "C" int dcx_scu_get(dcx_scu *scu, const char *model,
                           const struct dcx_attr *query, size_t n,
                           const char *out_dir,
                           dcx_retrieve_progress_fn progress,
                           void *user, unsigned *out_received,
                           uint16_t *out_status)
{
    try {
        T_ASC_PresentationContextID pcid = model_pc(scu, model);
        if (!pcid)
            return DCX_EUNSUPPORTED;
        std::unique_ptr<DcmDataset> q(query_dataset(query, n));
        T_DIMSE_Message msg;
        memset(&msg, 0, sizeof msg);
        msg.CommandField = DIMSE_C_GET_RQ;
        T_DIMSE_C_GetRQ &rq = msg.msg.CGetRQ;
        init_rq(rq, scu, model);
        OFCondition c = DIMSE_sendMessageUsingMemoryData(
            scu->assoc, pcid, &msg, nullptr, q.get(), nullptr, nullptr);
        if (c.bad())
            return fail(scu, DCX_ENET, "C-GET not sent: %s", c.text());
        unsigned received = 0, seq = 0;
        int remaining = -1;
        bool cancel_sent = false;
        // the caller's progress; C-CANCEL once if it asks to stop
        auto report = [&]() -> OFCondition {
            if (!progress || cancel_sent ||
                !progress(user, received, remaining))
                return EC_Normal;
            cancel_sent = true;
            return DIMSE_sendCancelRequest(scu->assoc, pcid, rq.MessageID);
        };
        for (;;) {
            T_ASC_PresentationContextID got = 0;
            T_DIMSE_Message in;
            DcmDataset *detail = nullptr;
            // the peer's next message, waited for a second at a time on
            // the socket alone: a peer that went away (a link down sends
            // no reset; a node hung) is given up after the timeout of
            // silence, and a cancel asked meanwhile is sent although
            // nothing arrives. The message itself is then read with the
            // whole timeout: DCMTK's read given up part-way through a
            // PDU (a lossy link stalls a second easily) would lose the
            // bytes already read, and every message after them.
            int idle = 0;
            while (!ASC_dataWaiting(scu->assoc, 1)) {
                if (report().bad())
                    return fail(scu, DCX_ENET, "C-CANCEL not sent");
                if (++idle >= scu->timeout)
                    return fail(scu, DCX_ENET,
                                "no answer from the peer for %d s",
                                scu->timeout);
            }
            c = DIMSE_receiveCommand(scu->assoc, DIMSE_NONBLOCKING,
                                     scu->timeout, &got, &in, &detail);
            delete detail;
            if (c.bad())
                return fail(scu, DCX_ENET, "C-GET failed: %s", c.text());
            if (in.CommandField == DIMSE_C_GET_RSP) {
                const T_DIMSE_C_GetRSP &rsp = in.msg.CGetRSP;
                uint16_t st = rsp.DimseStatus;
                if (st == DCX_STATUS_PENDING || st == 0xFF01) {
                    if (rsp.opts & O_GET_NUMBEROFREMAININGSUBOPERATIONS)
                        remaining = rsp.NumberOfRemainingSubOperations;
                    if (report().bad())
                        return fail(scu, DCX_ENET, "C-CANCEL not sent");
                    continue;
                }
                // a final Warning/Failure/Cancel carries an identifier
                // (Failed SOP Instance UID List): read it, or its PDVs
                // would still be waiting when the association is released
                if (rsp.DataSetType != DIMSE_DATASET_NULL) {
                    T_ASC_PresentationContextID p2 = 0;
                    DcmDataset *ids = nullptr;
                    c = DIMSE_receiveDataSetInMemory(
                        scu->assoc, DIMSE_NONBLOCKING, scu->timeout, &p2,
                        &ids, nullptr, nullptr);
                    delete ids;
                    if (c.bad())
                        return fail(scu, DCX_ENET,
                                    "C-GET identifier not received: %s",
                                    c.text());
                }
                *out_received = received;
                *out_status = st;
                return 0;
            }
            if (in.CommandField != DIMSE_C_STORE_RQ)
                return fail(scu, DCX_ENET, "C-GET: unexpected command 0x%04x",
                            static_cast<unsigned>(in.CommandField));
            // a sub-operation: store the instance as received
            T_DIMSE_C_StoreRQ &srq = in.msg.CStoreRQ;
            char tmp[1100], dst[1200];
            snprintf(tmp, sizeof tmp, "%s/.part-%d-%u", out_dir,
                     static_cast<int>(getpid()), ++seq);
            // the file is named by the UID only if it is a UID: a hostile
            // peer must not write outside out_dir
            const char *u = srq.AffectedSOPInstanceUID;
            if (dcx_uid_valid(u))
                snprintf(dst, sizeof dst, "%s/%s.dcm", out_dir, u);
            else
                snprintf(dst, sizeof dst, "%s/instance-%u.dcm", out_dir, seq);
            uint16_t status = DCX_STATUS_SUCCESS;
            DcmOutputFileStream *fs = nullptr;
            c = DIMSE_createFilestream(tmp, &srq, scu->assoc, got, 1, &fs);
            if (c.good()) {
                T_ASC_PresentationContextID p2 = 0;
                c = DIMSE_receiveDataSetInFile(scu->assoc, DIMSE_NONBLOCKING,
                                               scu->timeout, &p2, fs, nullptr,
                                               nullptr);
                delete fs;
                if (c == DIMSE_OUTOFRESOURCES)
                    status = DCX_STATUS_OUT_OF_RESOURCES;
                else if (c.bad()) {
                    unlink(tmp);
                    return fail(scu, DCX_ENET, "C-GET data not received: %s",
                                c.text());
                }
            } else {
                delete fs;
                DIC_UL nb = 0, np = 0;
                c = DIMSE_ignoreDataSet(scu->assoc, DIMSE_NONBLOCKING,
                                        scu->timeout, &nb, &np);
                if (c.bad())
                    return fail(scu, DCX_ENET, "C-GET data not received: %s",
                                c.text());
                status = DCX_STATUS_OUT_OF_RESOURCES;
            }
            if (status == DCX_STATUS_SUCCESS && rename(tmp, dst) != 0)
                status = DCX_STATUS_OUT_OF_RESOURCES;
            if (status != DCX_STATUS_SUCCESS)
                unlink(tmp);
            else
                received++;
            c = dcx_net_store_rsp(scu->assoc, got, srq, status);
            if (c.bad())
                return fail(scu, DCX_ENET, "C-GET: response not sent: %s",
                            c.text());
            if (report().bad())
                return fail(scu, DCX_ENET, "C-CANCEL not sent");
        }
    } catch (...) {
        return fail(scu, DCX_EINTERNAL, "internal error");
    }
}

extern "C" void dcx_scu_close(dcx_scu *scu)
{
    if (!scu)
        return;
    try {
        if (scu->assoc && ASC_releaseAssociation(scu->assoc).bad())
            ASC_abortAssociation(scu->assoc);
        close_net(scu);
        delete scu;
    } catch (...) {
    }
}

extern "C" const char *dcx_scu_errmsg(const dcx_scu *scu)
{
    return scu ? scu->err.c_str() : "";
}
