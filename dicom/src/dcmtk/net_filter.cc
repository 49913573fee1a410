// net_filter.cc - a transport layer that watches the PDU stream DCMTK
// reads and ends the connection when a DIMSE command set holds anything
// but command elements. DCMTK 3.6.7 parses command sets itself, in
// memory, recursing once per sequence level with no limit: a command with
// a private element of undefined length nested some ten thousand levels
// deep overflowed the association thread's stack and killed the node
// (hardening test). Command sets (PS3.7 6.3, implicit VR little endian)
// hold only group 0000 elements of defined length, never sequences, and
// are small; anything else is refused before DCMTK parses a byte of it.
// Data sets are not looked at here: C-STORE data goes to a file unparsed,
// and identifiers are checked before parsing (nesting.h).

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/dcmlayer.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dul.h"

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "dcx/dcx.h"
#include "net_int.hh"

namespace {

// Larger than any command set (a C-MOVE-RQ is ~200 bytes); a peer that
// sends more is not speaking DIMSE.
const uint32_t MAX_COMMAND_BYTES = 65536;

// Follows PDUs and PDV items across reads of any size.
class CommandWatch {
public:
    // Bytes as DCMTK read them; false once they break the rules.
    bool feed(const unsigned char *p, size_t n)
    {
        while (n > 0 && !bad_) {
            if (pdu_hdr_ < 6) { // PDU type, reserved, length
                pdu_[pdu_hdr_++] = *p++, n--;
                if (pdu_hdr_ == 6) {
                    pdu_left_ = be32(pdu_ + 2);
                    pdv_hdr_ = 0;
                    if (pdu_left_ == 0)
                        pdu_hdr_ = 0;
                }
                continue;
            }
            if (pdu_[0] != 0x04) { // not P-DATA: skip its body
                size_t k = n < pdu_left_ ? n : pdu_left_;
                p += k, n -= k, pdu_left_ -= static_cast<uint32_t>(k);
                if (pdu_left_ == 0)
                    pdu_hdr_ = 0;
                continue;
            }
            if (pdv_hdr_ < 6) { // PDV length, context ID, control header
                pdv_[pdv_hdr_++] = *p++, n--;
                pdu_left_--;
                if (pdv_hdr_ == 6) {
                    uint32_t len = be32(pdv_);
                    if (len < 2 || len - 2 > pdu_left_)
                        return fail("PDV item longer than its PDU");
                    pdv_left_ = len - 2;
                    command_ = pdv_[5] & 1;
                    last_ = pdv_[5] & 2;
                    if (pdv_left_ == 0)
                        end_pdv();
                } else if (pdu_left_ == 0) {
                    return fail("PDV item header cut by the PDU end");
                }
                continue;
            }
            size_t k = n < pdv_left_ ? n : pdv_left_;
            if (command_ && !command_bytes(p, k))
                return false;
            p += k, n -= k;
            pdv_left_ -= static_cast<uint32_t>(k);
            pdu_left_ -= static_cast<uint32_t>(k);
            if (pdv_left_ == 0)
                end_pdv();
        }
        return !bad_;
    }

    const char *why() const { return why_; }

private:
    static uint32_t be32(const unsigned char *p)
    {
        return static_cast<uint32_t>(p[0]) << 24 |
               static_cast<uint32_t>(p[1]) << 16 |
               static_cast<uint32_t>(p[2]) << 8 | p[3];
    }

    bool fail(const char *why)
    {
        bad_ = true;
        why_ = why;
        return false;
    }

    void end_pdv()
    {
        pdv_hdr_ = 0;
        if (command_ && last_) {
            if (el_got_ || el_left_)
                fail("command set ends inside an element");
            cmd_total_ = 0;
        }
        if (pdu_left_ == 0)
            pdu_hdr_ = 0;
    }

    // Element headers of the command stream: tag, 32-bit length.
    bool command_bytes(const unsigned char *p, size_t n)
    {
        cmd_total_ += n;
        if (cmd_total_ > MAX_COMMAND_BYTES)
            return fail("command set over 64 KB");
        while (n > 0) {
            if (el_left_) {
                size_t k = n < el_left_ ? n : el_left_;
                p += k, n -= k, el_left_ -= static_cast<uint32_t>(k);
                continue;
            }
            el_[el_got_++] = *p++, n--;
            if (el_got_ < 8)
                continue;
            el_got_ = 0;
            uint16_t group = static_cast<uint16_t>(el_[0] | el_[1] << 8);
            uint32_t len = static_cast<uint32_t>(el_[4]) |
                           static_cast<uint32_t>(el_[5]) << 8 |
                           static_cast<uint32_t>(el_[6]) << 16 |
                           static_cast<uint32_t>(el_[7]) << 24;
            if (group != 0x0000)
                return fail("command set holds an element outside group "
                            "0000");
            if (len == 0xFFFFFFFFu)
                return fail("command set holds an element of undefined "
                            "length");
            el_left_ = len;
        }
        return true;
    }

    unsigned char pdu_[6] = {}, pdv_[6] = {}, el_[8] = {};
    int pdu_hdr_ = 0, pdv_hdr_ = 0, el_got_ = 0;
    uint32_t pdu_left_ = 0, pdv_left_ = 0, el_left_ = 0;
    size_t cmd_total_ = 0;
    bool command_ = false, last_ = false, bad_ = false;
    const char *why_ = "";
};

// The connection DCMTK made, with every read passed through CommandWatch.
class WatchedConnection : public DcmTransportConnection {
public:
    WatchedConnection(DcmNativeSocketType s, DcmTransportConnection *inner)
        : DcmTransportConnection(s), inner_(inner)
    {
    }
    ~WatchedConnection() override { delete inner_; }

    OFCondition serverSideHandshake() override
    {
        return inner_->serverSideHandshake();
    }
    OFCondition clientSideHandshake() override
    {
        return inner_->clientSideHandshake();
    }
    OFCondition renegotiate(const char *suite) override
    {
        return inner_->renegotiate(suite);
    }
    ssize_t read(void *buf, size_t nbyte) override
    {
        if (refused_) {
            errno = EPROTO;
            return -1;
        }
        ssize_t n = inner_->read(buf, nbyte);
        if (n > 0 &&
            !watch_.feed(static_cast<unsigned char *>(buf),
                         static_cast<size_t>(n))) {
            refused_ = true;
            dcx_log(DCX_LOG_WARN, "assoc=%lu connection ended: %s",
                    dcx_net_current_assoc, watch_.why());
            errno = EPROTO;
            return -1;
        }
        return n;
    }
    ssize_t write(void *buf, size_t nbyte) override
    {
        return inner_->write(buf, nbyte);
    }
    void close() override { inner_->close(); }
    void closeTransportConnection() override
    {
        inner_->closeTransportConnection();
    }
    unsigned long getPeerCertificateLength() override
    {
        return inner_->getPeerCertificateLength();
    }
    unsigned long getPeerCertificate(void *buf, unsigned long len) override
    {
        return inner_->getPeerCertificate(buf, len);
    }
    OFBool networkDataAvailable(int timeout) override
    {
        return inner_->networkDataAvailable(timeout);
    }
    OFBool isTransparentConnection() override
    {
        return inner_->isTransparentConnection();
    }
    OFString &dumpConnectionParameters(OFString &str) override
    {
        return inner_->dumpConnectionParameters(str);
    }

private:
    DcmTransportConnection *inner_;
    CommandWatch watch_;
    bool refused_ = false;
};

// Wraps what inner (or DCMTK's plain TCP) creates.
class WatchLayer : public DcmTransportLayer {
public:
    explicit WatchLayer(DcmTransportLayer *inner) : inner_(inner) {}
    ~WatchLayer() override { delete inner_; }

    DcmTransportConnection *createConnection(DcmNativeSocketType s,
                                             OFBool secure) override
    {
        // DCMTK has read dcmExternalSocketHandle: let the next connection
        // have it while this one does its handshake and request
        if (dcx_net_handoff && dcx_net_handoff->owns_lock()) {
            dcmExternalSocketHandle.set(-1);
            dcx_net_handoff->unlock();
        }
        DcmTransportConnection *c =
            inner_ ? inner_->createConnection(s, secure)
                   : DcmTransportLayer::createConnection(s, secure);
        if (!c)
            return nullptr;
        try {
            return new WatchedConnection(s, c);
        } catch (...) {
            delete c;
            return nullptr;
        }
    }

private:
    DcmTransportLayer *inner_;
};

} // namespace

thread_local unsigned long dcx_net_current_assoc = 0;
thread_local std::unique_lock<std::mutex> *dcx_net_handoff = nullptr;

DcmTransportLayer *dcx_net_watch_layer(DcmTransportLayer *inner)
{
    return new WatchLayer(inner);
}
