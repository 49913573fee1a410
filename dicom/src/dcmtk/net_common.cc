// net_common.cc - helpers of the networking shim used by SCP and SCU: the
// one C-STORE sender (SCU store, C-MOVE and C-GET sub-operations), socket
// options, DIMSE status texts.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpls/djrparam.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmtls/tlslayer.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <mutex>

#include <string>

#include <zlib.h>

#include <netinet/in.h>
#include <sys/stat.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "ds_int.hh"
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

DcmTransportLayer *dcx_net_tls_layer(T_ASC_NetworkRole role,
                                     const struct dcx_tls *t,
                                     std::string &err)
{
    // OpenSSL itself once per process; each layer is an SSL_CTX of its own
    static std::once_flag once;
    std::call_once(once, [] { DcmTLSTransportLayer::initializeOpenSSL(); });
    DcmTLSTransportLayer *l = new DcmTLSTransportLayer(role, nullptr, OFFalse);
    OFCondition c = l->setTLSProfile(TSP_Profile_BCP195);
    if (c.good())
        c = l->activateCipherSuites();
    const char *what = "cipher suites";
    if (c.good() && t->key_file && *t->key_file) {
        what = t->key_file;
        c = l->setPrivateKeyFile(t->key_file, DCF_Filetype_PEM);
    }
    if (c.good() && t->cert_file && *t->cert_file) {
        what = t->cert_file;
        c = l->setCertificateFile(t->cert_file, DCF_Filetype_PEM);
        if (c.good() && !l->checkPrivateKeyMatchesCertificate()) {
            err = std::string("the private key does not match ") + t->cert_file;
            delete l;
            return nullptr;
        }
    }
    if (c.good() && t->ca_file && *t->ca_file) {
        what = t->ca_file;
        c = l->addTrustedCertificateFile(t->ca_file, DCF_Filetype_PEM);
    }
    if (c.bad()) {
        err = std::string(what) + ": " + c.text();
        delete l;
        return nullptr;
    }
    l->setCertificateVerification(t->verify_peer ? DCV_requireCertificate
                                                 : DCV_ignoreCertificate);
    return l;
}

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

namespace {

int fail_msg(std::string &err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int fail_msg(std::string &err, int rc, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    err = buf;
    return rc;
}

} // namespace

// The value of a UID element of it: "" if absent, empty or unreadable. (A
// UID a sender wrote as UN reads as its text: dcx_shim_init has DCMTK read
// UN elements of known tags with the dictionary's VR.)
std::string dcx_net_get_uid(DcmItem *it, const DcmTagKey &key)
{
    OFString s;
    if (it->findAndGetOFString(key, s).bad())
        return "";
    std::string v(s.c_str(), s.size());
    while (!v.empty() && (v.back() == '\0' || v.back() == ' '))
        v.pop_back();
    return v;
}

int dcx_net_read_head(const char *path, std::string &cls, std::string &inst,
                      std::string &ts, bool bare, std::string *why)
{
    DcmFileFormat ff;
    OFCondition c =
        ff.loadFileUntilTag(path, EXS_Unknown, EGL_noChange, 256,
                            ERM_autoDetect, DcmTagKey(0x0008, 0x0019));
    if (c.bad()) {
        if (why)
            *why = std::string("cannot read ") + path + ": " + c.text();
        return DCX_EIO;
    }
    DcmDataset *d = ff.getDataset();
    std::string a = dcx_net_get_uid(d, DCM_SOPClassUID),
                b = dcx_net_get_uid(d, DCM_SOPInstanceUID);
    OFString t;
    DcmMetaInfo *m = ff.getMetaInfo();
    if (m)
        m->findAndGetOFString(DCM_TransferSyntaxUID, t);
    if (t.empty() && bare) // no meta: the syntax DCMTK found the data set in
        t = DcmXfer(d->getOriginalXfer()).getXferID();
    bool class_ok = dcx_uid_valid(a.c_str()) != 0;
    if (!class_ok || !dcx_uid_valid(b.c_str())) {
        const std::string &v = class_ok ? b : a;
        if (why)
            *why = std::string("SOP ") + (class_ok ? "Instance" : "Class") +
                   " UID " +
                   (v.empty() ? "missing" : "cannot be read (not a valid UID)");
        return DCX_EBADDATA;
    }
    if (t.empty()) {
        if (why)
            *why = bare ? "unknown transfer syntax" : "no meta header";
        return DCX_EBADDATA;
    }
    cls = a;
    inst = b;
    ts = t.c_str();
    return 0;
}

extern "C" int dcx_store_head(const char *path, char *out_class,
                              size_t class_len, char *out_inst, size_t inst_len,
                              char *out_ts, size_t ts_len,
                              struct dcx_error *out_err)
{
    try {
        std::string cls, inst, ts, why;
        int rc = dcx_net_read_head(path, cls, inst, ts, true, &why);
        if (rc < 0) {
            dcx_err_set(out_err, "%s", why.c_str());
            return rc;
        }
        snprintf(out_class, class_len, "%s", cls.c_str());
        snprintf(out_inst, inst_len, "%s", inst.c_str());
        snprintf(out_ts, ts_len, "%s", ts.c_str());
        return 0;
    } catch (...) {
        dcx_err_set(out_err, "internal error");
        return DCX_EINTERNAL;
    }
}

T_ASC_PresentationContextID dcx_net_find_pc(T_ASC_Association *assoc,
                                            const char *cls, const char *ts,
                                            bool scp_role)
{
    if (!scp_role) {
        T_ASC_PresentationContextID id = 0;
        if (ts)
            id = ASC_findAcceptedPresentationContextID(assoc, cls, ts);
        return id ? id : ASC_findAcceptedPresentationContextID(assoc, cls);
    }
    // C-GET: only contexts where the requester accepted us as SCP
    T_ASC_PresentationContextID any = 0;
    int n = ASC_countPresentationContexts(assoc->params);
    for (int i = 0; i < n; i++) {
        T_ASC_PresentationContext pc;
        if (ASC_getPresentationContext(assoc->params, i, &pc).bad() ||
            pc.resultReason != ASC_P_ACCEPTANCE ||
            strcmp(pc.abstractSyntax, cls) != 0 ||
            (pc.acceptedRole != ASC_SC_ROLE_SCP &&
             pc.acceptedRole != ASC_SC_ROLE_SCUSCP))
            continue;
        if (ts && strcmp(pc.acceptedTransferSyntax, ts) == 0)
            return pc.presentationContextID;
        if (!any)
            any = pc.presentationContextID;
    }
    return any;
}

namespace {

bool uncompressed(E_TransferSyntax x)
{
    return x == EXS_LittleEndianImplicit || x == EXS_LittleEndianExplicit ||
           x == EXS_BigEndianExplicit;
}

// The accepted context for cls whose transfer syntax is exactly ts, or 0
// (ASC_findAcceptedPresentationContextID with a syntax falls back to any).
T_ASC_PresentationContextID exact_pc(T_ASC_Association *assoc,
                                     const char *cls, const char *ts)
{
    int n = ASC_countPresentationContexts(assoc->params);
    for (int i = 0; i < n; i++) {
        T_ASC_PresentationContext pc;
        if (ASC_getPresentationContext(assoc->params, i, &pc).good() &&
            pc.resultReason == ASC_P_ACCEPTANCE &&
            strcmp(pc.abstractSyntax, cls) == 0 &&
            strcmp(pc.acceptedTransferSyntax, ts) == 0)
            return pc.presentationContextID;
    }
    return 0;
}

T_ASC_PresentationContextID exact_pc(T_ASC_Association *assoc,
                                     const char *cls, E_TransferSyntax x)
{
    return exact_pc(assoc, cls, DcmXfer(x).getXferID());
}

// Deflated size of the data set's encoding in explicit VR little endian,
// the way DCMTK would send it (zlib default level). Written to memory, so
// only worth it where deflate may win (colour images).
size_t deflated_size(DcmDataset *ds)
{
    Uint32 len = ds->calcElementLength(EXS_LittleEndianExplicit,
                                       EET_ExplicitLength);
    std::string buf(len + 1024, '\0');
    DcmOutputBufferStream out(&buf[0], buf.size());
    ds->transferInit();
    OFCondition c = ds->write(out, EXS_LittleEndianExplicit,
                              EET_ExplicitLength, nullptr);
    ds->transferEnd();
    if (c.bad())
        return SIZE_MAX;
    void *p = nullptr;
    offile_off_t n = 0;
    out.flushBuffer(p, n);
    uLongf zn = compressBound(static_cast<uLong>(n));
    std::string z(zn, '\0');
    if (compress2(reinterpret_cast<Bytef *>(&z[0]), &zn,
                  static_cast<const Bytef *>(p), static_cast<uLong>(n),
                  Z_DEFAULT_COMPRESSION) != Z_OK)
        return SIZE_MAX;
    return zn;
}

// Forwarding: the smallest lossless encoding of uncompressed pixel data
// that the peer accepted (JPEG-LS, else JPEG lossless SV1; deflate against
// those for colour images, where JPEG-LS may do poorly), or as it is when
// nothing is smaller. Leaves ds in the chosen representation; 0 when the
// data set is to go as stored.
T_ASC_PresentationContextID choose_lossless(T_ASC_Association *assoc,
                                            const char *cls, DcmDataset *ds,
                                            E_TransferSyntax stored,
                                            T_ASC_PresentationContextID as_is,
                                            uint64_t *out_len)
{
    Uint16 spp = 1, bits = 0;
    if (!ds->tagExists(DCM_PixelData) ||
        ds->findAndGetUint16(DCM_BitsAllocated, bits).bad() ||
        (bits != 8 && bits != 16))
        return 0;
    ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
    size_t best = as_is ? ds->calcElementLength(stored, EET_ExplicitLength)
                        : SIZE_MAX;
    T_ASC_PresentationContextID best_pc = 0;
    E_TransferSyntax best_x = stored;
    T_ASC_PresentationContextID pc = exact_pc(assoc, cls, EXS_JPEGLSLossless);
    DJLSRepresentationParameter jls(0, OFTrue);
    DJ_RPLossless sv1(1, 0);
    if (pc && ds->chooseRepresentation(EXS_JPEGLSLossless, &jls).good() &&
        ds->canWriteXfer(EXS_JPEGLSLossless)) {
        size_t n = ds->calcElementLength(EXS_JPEGLSLossless,
                                         EET_ExplicitLength);
        if (n < best)
            best = n, best_pc = pc, best_x = EXS_JPEGLSLossless;
    } else if ((pc = exact_pc(assoc, cls, EXS_JPEGProcess14SV1)) != 0 &&
               ds->chooseRepresentation(EXS_JPEGProcess14SV1, &sv1).good() &&
               ds->canWriteXfer(EXS_JPEGProcess14SV1)) {
        size_t n = ds->calcElementLength(EXS_JPEGProcess14SV1,
                                         EET_ExplicitLength);
        if (n < best)
            best = n, best_pc = pc, best_x = EXS_JPEGProcess14SV1;
    }
    if (spp == 3 &&
        (pc = exact_pc(assoc, cls, EXS_DeflatedLittleEndianExplicit)) != 0 &&
        ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).good()) {
        size_t n = deflated_size(ds);
        if (n < best)
            best = n, best_pc = pc, best_x = EXS_DeflatedLittleEndianExplicit;
    }
    if (!best_pc)
        return 0;
    const DcmRepresentationParameter *param =
        best_x == EXS_JPEGLSLossless     ? &jls
        : best_x == EXS_JPEGProcess14SV1 ? static_cast<const DcmRepresentationParameter *>(&sv1)
                                         : nullptr;
    if (best_x == EXS_DeflatedLittleEndianExplicit)
        best_x = EXS_LittleEndianExplicit; // deflate is applied on the wire
    if (ds->chooseRepresentation(best_x, param).bad())
        return 0;
    if (param)
        dcx_zero_jpeg_padding(ds, best_x, param);
    *out_len = best;
    return best_pc;
}

} // namespace

int dcx_net_store(T_ASC_Association *assoc, int timeout, const char *path,
                  const char *move_ae, uint16_t move_id, bool scp_role,
                  uint16_t *out_status, std::string &err, bool *out_cancelled)
{
    return dcx_net_store_ex(assoc, timeout, path, move_ae, move_id, scp_role,
                            false, out_status, nullptr, err, out_cancelled);
}

int dcx_net_store_ex(T_ASC_Association *assoc, int timeout, const char *path,
                     const char *move_ae, uint16_t move_id, bool scp_role,
                     bool compress, uint16_t *out_status,
                     struct dcx_store_result *out, std::string &err,
                     bool *out_cancelled)
{
    try {
        std::string cls, inst, ts;
        DcmFileFormat ff;
        DcmDataset *ds = nullptr;
        bool from_file = dcx_net_read_head(path, cls, inst, ts) == 0;
        T_ASC_PresentationContextID pcid = 0;
        uint64_t sent_len = 0;
        if (from_file && compress && !scp_role &&
            uncompressed(DcmXfer(ts.c_str()).getXfer())) {
            T_ASC_PresentationContextID as_is =
                exact_pc(assoc, cls.c_str(), ts.c_str());
            if (ff.loadFile(path).good()) {
                ds = ff.getDataset();
                pcid = choose_lossless(assoc, cls.c_str(), ds,
                                       DcmXfer(ts.c_str()).getXfer(), as_is,
                                       &sent_len);
                if (pcid)
                    from_file = false;
            }
        }
        if (from_file && !pcid) {
            pcid = dcx_net_find_pc(assoc, cls.c_str(), ts.c_str(), scp_role);
            T_ASC_PresentationContext pc;
            if (pcid && (ASC_findAcceptedPresentationContext(assoc->params,
                                                             pcid, &pc)
                             .bad() ||
                         strcmp(pc.acceptedTransferSyntax, ts.c_str()) != 0))
                pcid = 0; // accepted, but in another syntax: convert
        }
        if (pcid == 0) {
            // Not sendable as stored: parse it and convert to what the peer
            // accepted for its SOP class.
            from_file = false;
            ff.clear();
            OFCondition c = ff.loadFile(path);
            if (c.bad())
                return fail_msg(err, DCX_EBADDATA, "cannot read %s: %s", path,
                            c.text());
            ds = ff.getDataset();
            cls = dcx_net_get_uid(ds, DCM_SOPClassUID);
            inst = dcx_net_get_uid(ds, DCM_SOPInstanceUID);
            if (cls.empty() || inst.empty())
                return fail_msg(err, DCX_EBADDATA,
                            "%s has no SOP Class/Instance UID", path);
            if (!dcx_uid_valid(cls.c_str()) || !dcx_uid_valid(inst.c_str()))
                return fail_msg(
                    err, DCX_EBADDATA,
                    "%s: its SOP %s UID cannot be read (not a "
                    "valid UID)",
                    path, dcx_uid_valid(cls.c_str()) ? "Instance" : "Class");
            pcid = dcx_net_find_pc(assoc, cls.c_str(), nullptr, scp_role);
            if (pcid == 0)
                return fail_msg(err, DCX_EUNSUPPORTED,
                            "the peer accepted no context for SOP class %s",
                            cls.c_str());
            T_ASC_PresentationContext pc;
            ASC_findAcceptedPresentationContext(assoc->params, pcid,
                                                &pc);
            E_TransferSyntax want = DcmXfer(pc.acceptedTransferSyntax)
                                        .getXfer();
            if (ds->chooseRepresentation(want, nullptr).bad() ||
                !ds->canWriteXfer(want))
                return fail_msg(err, DCX_EUNSUPPORTED,
                            "cannot convert %s to %s, the syntax the peer "
                            "accepted",
                            path, pc.acceptedTransferSyntax);
            sent_len = ds->calcElementLength(want, EET_ExplicitLength);
        }
        T_DIMSE_C_StoreRQ rq;
        memset(&rq, 0, sizeof rq);
        rq.MessageID = ++assoc->nextMsgID;
        OFStandard::strlcpy(rq.AffectedSOPClassUID, cls.c_str(),
                            sizeof rq.AffectedSOPClassUID);
        OFStandard::strlcpy(rq.AffectedSOPInstanceUID, inst.c_str(),
                            sizeof rq.AffectedSOPInstanceUID);
        rq.DataSetType = DIMSE_DATASET_PRESENT;
        rq.Priority = DIMSE_PRIORITY_MEDIUM;
        if (move_ae && *move_ae) {
            OFStandard::strlcpy(rq.MoveOriginatorApplicationEntityTitle,
                                move_ae,
                                sizeof rq.MoveOriginatorApplicationEntityTitle);
            rq.MoveOriginatorID = move_id;
            rq.opts = O_STORE_MOVEORIGINATORAETITLE | O_STORE_MOVEORIGINATORID;
        }
        T_DIMSE_C_StoreRSP rsp;
        memset(&rsp, 0, sizeof rsp);
        DcmDataset *detail = nullptr;
        long size = 0;
        struct stat st;
        if (from_file && stat(path, &st) == 0)
            size = static_cast<long>(st.st_size);
        // a C-GET's requester may cancel while its sub-operation's response
        // is awaited: DCMTK takes the C-CANCEL-RQ aside and waits on
        T_DIMSE_DetectedCancelParameters cancel;
        memset(&cancel, 0, sizeof cancel);
        OFCondition c = DIMSE_storeUser(
            assoc, pcid, &rq, from_file ? path : nullptr,
            from_file ? nullptr : ds, nullptr, nullptr, DIMSE_NONBLOCKING,
            timeout, &rsp, &detail, scp_role ? &cancel : nullptr, size);
        delete detail;
        if (out_cancelled)
            *out_cancelled = cancel.cancelEncountered;
        if (c.bad())
            return fail_msg(err, DCX_ENET, "C-STORE of %s failed: %s", path,
                        c.text());
        *out_status = rsp.DimseStatus;
        if (out) {
            T_ASC_PresentationContext pc;
            out->bytes = from_file ? static_cast<uint64_t>(size) : sent_len;
            out->transfer_syntax[0] = '\0';
            if (ASC_findAcceptedPresentationContext(assoc->params, pcid, &pc)
                    .good())
                OFStandard::strlcpy(out->transfer_syntax,
                                    pc.acceptedTransferSyntax,
                                    sizeof out->transfer_syntax);
        }
        return 0;
    } catch (...) {
        return fail_msg(err, DCX_EINTERNAL, "internal error");
    }
}

OFCondition dcx_net_store_rsp(T_ASC_Association *assoc,
                              T_ASC_PresentationContextID pcid,
                              T_DIMSE_C_StoreRQ &rq, uint16_t status)
{
    T_DIMSE_C_StoreRSP rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.MessageIDBeingRespondedTo = rq.MessageID;
    rsp.DimseStatus = status;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, rq.AffectedSOPClassUID,
                        sizeof rsp.AffectedSOPClassUID);
    OFStandard::strlcpy(rsp.AffectedSOPInstanceUID, rq.AffectedSOPInstanceUID,
                        sizeof rsp.AffectedSOPInstanceUID);
    rsp.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;
    if (rq.opts & O_STORE_RQ_BLANK_PADDING)
        rsp.opts |= O_STORE_RSP_BLANK_PADDING;
    return DIMSE_sendStoreResponse(assoc, pcid, &rq, &rsp, nullptr);
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
    if ((s & 0xFF00) == 0xA700) return "out of resources (0xA7xx)";
    if ((s & 0xFF00) == 0xA900) return "data set does not match SOP class "
                                       "(0xA9xx)";
    if ((s & 0xF000) == 0xB000) return "warning (0xBxxx)";
    if ((s & 0xF000) == 0xC000) return "error: cannot understand (0xCxxx)";
    return "failure";
}
