// net_scu.cc - the SCU side of dcx/net.h over dcmnet's ASC/DIMSE API:
// association request, C-ECHO, and C-STORE that sends a file's data set as
// it is stored when the peer accepted its transfer syntax (no parse, no
// re-encoding) and converts it only when it must.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
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

#include "net_int.hh"

struct dcx_scu {
    T_ASC_Network *net = nullptr;
    T_ASC_Association *assoc = nullptr;
    int timeout = 30;
    std::string err;
    std::string ts;
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

// SOP class and instance from the data set (what the receiver checks; some
// meta headers disagree with it) and the transfer syntax from the meta
// header, parsing no further than (0008,0018). False if the file has no
// usable meta header.
bool read_head(const char *path, std::string &cls, std::string &inst,
               std::string &ts)
{
    DcmFileFormat ff;
    if (ff.loadFileUntilTag(path, EXS_Unknown, EGL_noChange, 256,
                            ERM_autoDetect, DcmTagKey(0x0008, 0x0019))
            .bad())
        return false;
    DcmMetaInfo *m = ff.getMetaInfo();
    DcmDataset *d = ff.getDataset();
    OFString a, b, c;
    if (!m || m->findAndGetOFString(DCM_TransferSyntaxUID, c).bad() ||
        d->findAndGetOFString(DCM_SOPClassUID, a).bad() ||
        d->findAndGetOFString(DCM_SOPInstanceUID, b).bad() || a.empty() ||
        b.empty() || c.empty())
        return false;
    cls = a.c_str();
    inst = b.c_str();
    ts = c.c_str();
    return true;
}

} // namespace

extern "C" int dcx_scu_open(const struct dcx_scu_opts *o,
                            const struct dcx_scu_context *ctx, size_t n_ctx,
                            dcx_scu **out, struct dcx_error *e)
{
    *out = nullptr;
    if (!o || !o->called_ae || !o->host || o->port <= 0 || o->port > 65535 ||
        n_ctx == 0 || n_ctx > 128) {
        dcx_net_err(e, "invalid SCU options");
        return DCX_EINVAL;
    }
    const char *calling = o->calling_ae ? o->calling_ae : "CONSORT";
    if (strlen(calling) > DCX_AE_LEN || strlen(o->called_ae) > DCX_AE_LEN ||
        !*calling || !*o->called_ae) {
        dcx_net_err(e, "AE titles must be 1-16 characters");
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
            dcx_net_err(e, "network set-up failed: %s", c.text());
            close_net(scu);
            delete scu;
            return DCX_ENET;
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
                        ctx[i].abstract_syntax, ts, static_cast<int>(n))
                  : makeOFCondition(0, 1, OF_error, "empty context");
        }
        if (c.bad()) {
            dcx_net_err(e, "cannot propose contexts: %s", c.text());
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
                dcx_net_err(e, "%s at %s rejected the association: %s",
                            o->called_ae, peer, why.c_str());
                rc = DCX_EREFUSED;
            } else {
                dcx_net_err(e, "cannot associate with %s at %s: %s",
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
            dcx_net_err(e, "%s at %s accepted none of the proposed "
                           "presentation contexts",
                        o->called_ae, peer);
            ASC_releaseAssociation(scu->assoc);
            close_net(scu);
            delete scu;
            return DCX_EREFUSED;
        }
        *out = scu;
        return 0;
    } catch (...) {
        if (scu) {
            close_net(scu);
            delete scu;
        }
        dcx_net_err(e, "internal error");
        return DCX_EINTERNAL;
    }
}

extern "C" const char *dcx_scu_accepted_ts(dcx_scu *scu, const char *as,
                                           const char *want)
{
    T_ASC_PresentationContextID id = 0;
    if (want)
        id = ASC_findAcceptedPresentationContextID(scu->assoc, as, want);
    if (id == 0)
        id = ASC_findAcceptedPresentationContextID(scu->assoc, as);
    T_ASC_PresentationContext pc;
    if (id == 0 ||
        ASC_findAcceptedPresentationContext(scu->assoc->params, id, &pc)
            .bad())
        return nullptr;
    scu->ts = pc.acceptedTransferSyntax;
    return scu->ts.c_str();
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
        std::string cls, inst, ts;
        DcmFileFormat ff;
        DcmDataset *ds = nullptr;
        bool from_file = read_head(path, cls, inst, ts);
        T_ASC_PresentationContextID pcid = 0;
        if (from_file)
            pcid = ASC_findAcceptedPresentationContextID(
                scu->assoc, cls.c_str(), ts.c_str());
        if (pcid == 0) {
            // Not sendable as stored: parse it and convert to what the peer
            // accepted for its SOP class.
            from_file = false;
            OFCondition c = ff.loadFile(path);
            if (c.bad())
                return fail(scu, DCX_EBADDATA, "cannot read %s: %s", path,
                            c.text());
            ds = ff.getDataset();
            OFString a, b;
            if (ds->findAndGetOFString(DCM_SOPClassUID, a).bad() ||
                ds->findAndGetOFString(DCM_SOPInstanceUID, b).bad() ||
                a.empty() || b.empty())
                return fail(scu, DCX_EBADDATA,
                            "%s has no SOP Class/Instance UID", path);
            cls = a.c_str();
            inst = b.c_str();
            pcid = ASC_findAcceptedPresentationContextID(scu->assoc,
                                                         cls.c_str());
            if (pcid == 0)
                return fail(scu, DCX_EUNSUPPORTED,
                            "the peer accepted no context for SOP class %s",
                            cls.c_str());
            T_ASC_PresentationContext pc;
            ASC_findAcceptedPresentationContext(scu->assoc->params, pcid,
                                                &pc);
            E_TransferSyntax want = DcmXfer(pc.acceptedTransferSyntax)
                                        .getXfer();
            if (ds->chooseRepresentation(want, nullptr).bad() ||
                !ds->canWriteXfer(want))
                return fail(scu, DCX_EUNSUPPORTED,
                            "cannot convert %s to %s, the syntax the peer "
                            "accepted",
                            path, pc.acceptedTransferSyntax);
        }
        T_DIMSE_C_StoreRQ rq;
        memset(&rq, 0, sizeof rq);
        rq.MessageID = ++scu->assoc->nextMsgID;
        OFStandard::strlcpy(rq.AffectedSOPClassUID, cls.c_str(),
                            sizeof rq.AffectedSOPClassUID);
        OFStandard::strlcpy(rq.AffectedSOPInstanceUID, inst.c_str(),
                            sizeof rq.AffectedSOPInstanceUID);
        rq.DataSetType = DIMSE_DATASET_PRESENT;
        rq.Priority = DIMSE_PRIORITY_MEDIUM;
        T_DIMSE_C_StoreRSP rsp;
        memset(&rsp, 0, sizeof rsp);
        DcmDataset *detail = nullptr;
        long size = 0;
        struct stat st;
        if (from_file && stat(path, &st) == 0)
            size = static_cast<long>(st.st_size);
        OFCondition c = DIMSE_storeUser(
            scu->assoc, pcid, &rq, from_file ? path : nullptr,
            from_file ? nullptr : ds, nullptr, nullptr, DIMSE_NONBLOCKING,
            scu->timeout, &rsp, &detail, nullptr, size);
        delete detail;
        if (c.bad())
            return fail(scu, DCX_ENET, "C-STORE of %s failed: %s", path,
                        c.text());
        *out_status = rsp.DimseStatus;
        return 0;
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
