// shim.cc - process-wide DCMTK set-up: codec registration, DCMTK's logger
// routed into the dcx log sink, the OFCondition -> DCX_E* mapping, and the
// per-ds error text. The only C++ besides dataset.cc and codec.cc.
#include "dict_int.hh"
#include "ds_int.hh"

#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmjpls/djencode.h"
// Registers colour support in DicomImage, which the "cooked" JPEG and
// JPEG-LS encoders use for RGB images.
#include "dcmtk/dcmimage/diregist.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/oflog/oflog.h"
#include "dcmtk/oflog/spi/logevent.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

extern "C" {
#include "shim.h"
}

namespace {

// Forwards DCMTK's log4cplus events to the dcx sink as one line each.
class SinkAppender : public dcmtk::log4cplus::Appender {
  public:
    ~SinkAppender() override { destructorImpl(); }
    void close() override {}

  protected:
    void append(const dcmtk::log4cplus::spi::InternalLoggingEvent &ev)
        override
    {
        dcmtk::log4cplus::LogLevel l = ev.getLogLevel();
        enum dcx_log_level lvl =
            l >= dcmtk::log4cplus::ERROR_LOG_LEVEL  ? DCX_LOG_ERROR
            : l >= dcmtk::log4cplus::WARN_LOG_LEVEL ? DCX_LOG_WARN
            : l >= dcmtk::log4cplus::INFO_LOG_LEVEL ? DCX_LOG_INFO
                                                    : DCX_LOG_DEBUG;
        if (!dcx_log_enabled(lvl))
            return;
        dcx_log(lvl, "dcmtk: %s", ev.getMessage().c_str());
    }
};

} // namespace

extern "C" void dcx_shim_log_level(int max_level)
{
    try {
        // DCMTK's errors restate failures we report ourselves with
        // context, and its warnings include expected ones (parsing stopped
        // before the pixel data): errors at our INFO, all at DEBUG.
        dcmtk::log4cplus::Logger::getRoot().setLogLevel(
            max_level >= DCX_LOG_DEBUG ? dcmtk::log4cplus::DEBUG_LOG_LEVEL
            : max_level >= DCX_LOG_INFO
                ? dcmtk::log4cplus::ERROR_LOG_LEVEL
                : dcmtk::log4cplus::FATAL_LOG_LEVEL);
    } catch (...) {
    }
}

extern "C" int dcx_shim_init(int max_level)
{
    try {
        // Some writers label an implicit VR dataset as explicit in the meta
        // header (pydicom's SC_rgb_jpeg.dcm); DCMTK then detects the real
        // one. Applies to uncompressed datasets only.
        dcmAutoDetectDatasetXfer.set(OFTrue);
        // A defined-length element a sender wrote as UN although the
        // dictionary knows its VR (PS3.5 6.2.2: it did not know it; pydicom's
        // rtdose_rle.dcm has its UIDs and Dose Grid Scaling so) is read with
        // the dictionary's VR, as the standard expects of a receiver that
        // knows it: otherwise its UIDs read as hex bytes and the instance was
        // refused as having no valid UID. Files are stored as received.
        dcmEnableUnknownVRConversion.set(OFTrue);
        dcx_dict_load_builtin();
        // dcmnet disables Nagle on its sockets only when asked through the
        // environment (DESIGN.md rule 6); we also set it per socket.
        setenv("TCP_NODELAY", "1", 0);
        // Peers are known by their numeric address: access control binds
        // AE titles to addresses, and a reverse DNS lookup per association
        // can stall for seconds on a county network without DNS.
        dcmDisableGethostbyaddr.set(OFTrue);
        DJDecoderRegistration::registerCodecs(EDC_lossyOnly, EUC_never,
                                              EPC_colorByPixel);
        DJEncoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs(EJLSUC_never,
                                                EJLSPC_colorByPixel);
        // DCMTK 3.6.7's "cooked" JPEG-LS encoder pads an odd-length
        // bitstream by writing a byte into its input buffer instead of the
        // output (fixed upstream in December 2024, commit 7696450b): past
        // the end of the input for images that compress poorly (a heap
        // overflow that crashed forwarding of 8x8 images), and the real pad
        // byte is left unset. The raw encoder pads correctly (FF D9 -> FF
        // FF D9, as DICOM asks).
        DJLSEncoderRegistration::registerCodecs(0, 0, 0, 0, OFFalse);
        DcmRLEDecoderRegistration::registerCodecs();
        DcmRLEEncoderRegistration::registerCodecs();

        dcmtk::log4cplus::Logger root =
            dcmtk::log4cplus::Logger::getRoot();
        root.removeAllAppenders();
        root.addAppender(
            dcmtk::log4cplus::SharedAppenderPtr(new SinkAppender()));
        dcx_shim_log_level(max_level);
        if (!dcmDataDict.isDictionaryLoaded()) {
            dcx_log(DCX_LOG_ERROR, "dcmtk data dictionary is not loaded");
            return DCX_EINTERNAL;
        }
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

int dcx_from_ofcondition(const OFCondition &c)
{
    if (c.good())
        return 0;
    if (c == EC_MemoryExhausted)
        return DCX_ENOMEM;
    if (c == EC_StreamNotifyClient || c == EC_EndOfStream ||
        c == EC_PrematureSequDelimitationItem)
        return DCX_ETRUNCATED;
    if (c == EC_TagNotFound)
        return DCX_ENOTFOUND;
    if (c == EC_InvalidFilename || c == EC_InvalidStream ||
        c.module() == 0 /* OFM_ofstd: OS-level errors */)
        return DCX_EIO;
    if (c == EC_UnsupportedEncoding || c == EC_CannotChangeRepresentation)
        return DCX_EUNSUPPORTED;
    return DCX_EBADDATA;
}

extern "C" int dcx_ds_fail(dcx_ds *ds, int err, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    try {
        ds->err = buf;
    } catch (...) {
    }
    return err;
}

extern "C" const char *dcx_ds_errmsg(const dcx_ds *ds)
{
    return ds ? ds->err.c_str() : "";
}

extern "C" void **dcx_ds_pixel_slot(dcx_ds *ds)
{
    return &ds->pixel_state;
}

extern "C" void dcx_ds_set_pixel_free(dcx_ds *ds, void (*fn)(void *))
{
    ds->pixel_free = fn;
}
