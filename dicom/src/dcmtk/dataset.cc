// dataset.cc - dcx_ds over DcmFileFormat: open (file or memory, with or
// without meta, any byte order), character set resolution and UTF-8 text,
// typed getters, save with a chosen transfer syntax. Text is converted on
// access, never in the dataset, so a save writes the original bytes.
#include "ds_int.hh"

#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpeg/djrploss.h"
#include "dcmtk/dcmjpls/djrparam.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "dcx/charset.h"
#include "iso2022.h"
#include "nesting.h"
#include "shim.h"
}

namespace {

// A bare dataset (no preamble) starts with a low group: command (0000),
// meta (0002), directory (0004) or identifying (0008). Anything else in
// either byte order is not DICOM; refusing it early keeps DCMTK from
// "parsing" text or images into garbage elements.
bool plausible_bare_start(const unsigned char *b, size_t n)
{
    if (n < 8)
        return false;
    unsigned le = b[0] | (b[1] << 8), be = (b[0] << 8) | b[1];
    auto ok = [](unsigned g) {
        return g == 0x0000 || g == 0x0002 || g == 0x0004 || g == 0x0008;
    };
    return ok(le) || ok(be);
}

bool vr_is_text(DcmEVR vr)
{
    return DcmVR(vr).isAffectedBySpecificCharacterSet();
}

bool vr_single_valued_text(DcmEVR vr)
{
    return vr == EVR_ST || vr == EVR_LT || vr == EVR_UT || vr == EVR_UR;
}

void scan_text(DcmItem *item, struct dcx_charset_scan *scan)
{
    DcmStack stack;
    while (item->nextObject(stack, OFTrue).good()) {
        DcmObject *obj = stack.top();
        if (!vr_is_text(obj->ident()))
            continue;
        char *s = nullptr;
        Uint32 len = 0;
        if (static_cast<DcmElement *>(obj)->getString(s, len).good() && s)
            dcx_charset_scan_add(scan, s, len);
    }
}

std::string trim_charset(const char *s)
{
    std::string v = s ? s : "";
    while (!v.empty() && (v.back() == ' ' || v.back() == '\0'))
        v.pop_back();
    size_t i = 0;
    while (i < v.size() && v[i] == ' ')
        i++;
    return v.substr(i);
}

bool is_identity_charset(const std::string &cs)
{
    return cs.empty() || cs == "ISO_IR 6" || cs == "ISO_IR 192";
}

// Works out which character set decodes the text (see dcx/charset.h) and
// prepares the converter.
void resolve_charset(dcx_ds *ds, const struct dcx_open_opts *o)
{
    DcmDataset *d = ds->ff.getDataset();
    const char *declared_c = nullptr;
    d->findAndGetString(DCM_SpecificCharacterSet, declared_c, OFTrue);
    std::string declared = trim_charset(declared_c);
    std::string eff = declared;
    bool latin_or_none = declared.empty() || declared == "ISO_IR 100";
    if (latin_or_none && o && o->assume_charset && *o->assume_charset) {
        eff = o->assume_charset;
        ds->charset_guessed = eff != declared;
    } else if (latin_or_none) {
        struct dcx_charset_scan scan = {0, 0, 0};
        scan_text(d, &scan);
        const char *g =
            (o && o->no_charset_guess) ? nullptr
                                       : dcx_charset_scan_result(&scan);
        if (g) {
            eff = g;
            ds->charset_guessed = true;
        } else if (declared.empty() && scan.runs > 0) {
            // Undeclared 8-bit text is not valid DICOM; Latin-1 is the
            // lenient reading that never fails.
            eff = "ISO_IR 100";
            ds->charset_guessed = true;
        }
    }
    ds->charset = eff;
    ds->conv_identity = is_identity_charset(eff);
    ds->iso2022 = dcx_iso2022_needed(eff.c_str());
    if (!ds->conv_identity && !ds->iso2022) {
        ds->conv.reset(new DcmSpecificCharacterSet());
        OFCondition c = ds->conv->selectCharacterSet(eff.c_str());
        if (c.bad()) {
            dcx_log(DCX_LOG_INFO,
                    "charset unsupported charset=\"%s\" fallback=ISO_IR 100",
                    eff.c_str());
            ds->conv->selectCharacterSet("ISO_IR 100");
        }
    }
}

int finish_open(dcx_ds *ds, const struct dcx_open_opts *o,
                struct dcx_error *e)
{
    DcmDataset *d = ds->ff.getDataset();
    if (d->card() == 0) {
        dcx_err_set(e, "not a DICOM file: no data elements");
        return DCX_EBADDATA;
    }
    ds->xfer = d->getOriginalXfer();
    const char *ts = nullptr;
    if (ds->ff.getMetaInfo()
            ->findAndGetString(DCM_TransferSyntaxUID, ts)
            .good() &&
        ts && *ts &&
        !(DcmXfer(ts).getXfer() != EXS_Unknown &&
          !DcmXfer(ts).isEncapsulated() && ds->xfer != EXS_Unknown &&
          DcmXfer(ts).getXfer() != ds->xfer))
        ds->ts_uid = ts;
    else if (ds->xfer != EXS_Unknown)
        ds->ts_uid = DcmXfer(ds->xfer).getXferID();
    ds->no_pixels = o && o->no_pixels;
    ds->root.item = d;
    ds->root.ds = ds;
    ds->item_of[d] = &ds->root;
    resolve_charset(ds, o);
    return 0;
}

int open_fail(dcx_ds *ds, int rc, struct dcx_error *e, const OFCondition &c,
              const char *what)
{
    dcx_err_set(e, "%s: %s", what,
            rc == DCX_ETRUNCATED ? "file ends before its data does"
                                 : c.text());
    delete ds;
    return rc;
}

const char *vr_name(DcmEVR vr)
{
    return DcmVR(vr).getVRName();
}

} // namespace

namespace {

// DCMTK 3.6.7 recurses once per sequence level with no limit: a file
// nested some ten thousand levels deep overflows the stack (nesting.h).
// The file is mapped and its element headers scanned first.
bool too_deep(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false; // DCMTK reports it
    struct stat st;
    bool deep = false;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                       MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            deep = dcx_nest_check_buffer(static_cast<const uint8_t *>(m),
                                         static_cast<size_t>(st.st_size),
                                         0) == -1;
            munmap(m, static_cast<size_t>(st.st_size));
        }
    }
    close(fd);
    return deep;
}

// Shared by both openers. DCMTK reads values over DCM_MaxReadLength
// lazily from path, and drops decoded fragments to re-read them later:
// path must stay readable until dcx_ds_close().
int open_path(const char *path, const struct dcx_open_opts *o, int memfd,
              dcx_ds **out_ds, struct dcx_error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        dcx_err_set(e, "cannot open: %s", strerror(errno));
        return DCX_EIO;
    }
    unsigned char head[132];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n == 0) {
        dcx_err_set(e, "not a DICOM file: empty");
        return DCX_EBADDATA;
    }
    bool part10 = n == 132 && memcmp(head + 128, "DICM", 4) == 0;
    if (!part10 && !plausible_bare_start(head, n)) {
        dcx_err_set(e, "not a DICOM file: no DICM preamble and no dataset "
                   "start");
        return DCX_EBADDATA;
    }
    if (too_deep(path)) {
        dcx_err_set(e, "cannot parse: sequences nested deeper than %d levels",
                    DCX_MAX_NESTING);
        return DCX_EBADDATA;
    }
    dcx_ds *ds = new dcx_ds();
    ds->memfd = memfd;
    OFCondition c =
        (o && o->no_pixels)
            ? ds->ff.loadFileUntilTag(path, EXS_Unknown, EGL_noChange,
                                      DCM_MaxReadLength, ERM_autoDetect,
                                      DCM_PixelData)
            : ds->ff.loadFile(path, EXS_Unknown, EGL_noChange,
                              DCM_MaxReadLength, ERM_autoDetect);
    if (c.bad())
        return open_fail(ds, dcx_from_ofcondition(c) == DCX_ETRUNCATED
                                 ? DCX_ETRUNCATED
                                 : DCX_EBADDATA,
                         e, c, "cannot parse");
    int rc = finish_open(ds, o, e);
    if (rc < 0) {
        delete ds;
        return rc;
    }
    *out_ds = ds;
    return 0;
}

} // namespace

int dcx_shim_save_part10(DcmFileFormat *f, const char *path,
                         char out_uid[65], struct dcx_error *e)
{
    OFCondition c = f->saveFile(path, EXS_LittleEndianExplicit,
                                EET_ExplicitLength, EGL_recalcGL,
                                EPD_noChange, 0, 0, EWM_createNewMeta);
    if (c.bad()) {
        dcx_err_set(e, "%s: %s", path, c.text());
        return DCX_EIO;
    }
    if (out_uid) {
        const char *u = nullptr;
        f->getDataset()->findAndGetString(DCM_SOPInstanceUID, u);
        snprintf(out_uid, 65, "%s", u ? u : "");
    }
    return 0;
}

extern "C" int dcx_file_check_structure(int fd, struct dcx_error *e)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        dcx_err_set(e, "cannot read the file: %s", strerror(errno));
        return DCX_EIO;
    }
    if (st.st_size == 0) {
        dcx_err_set(e, "empty file");
        return DCX_ETRUNCATED;
    }
    void *m = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                   MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        dcx_err_set(e, "cannot map the file: %s", strerror(errno));
        return DCX_EIO;
    }
    int rc = dcx_nest_check_buffer(static_cast<const uint8_t *>(m),
                                   static_cast<size_t>(st.st_size), 0);
    munmap(m, static_cast<size_t>(st.st_size));
    if (rc == -1) {
        dcx_err_set(e, "sequences nested deeper than %d levels",
                    DCX_MAX_NESTING);
        return DCX_EBADDATA;
    }
    if (rc == -2) {
        dcx_err_set(e, "an element runs past the end of the data set");
        return DCX_ETRUNCATED;
    }
    return 0;
}

extern "C" int dcx_file_is_part10(const char *path)
{
    char b[132];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, b, sizeof b, 0);
    close(fd);
    return n == (ssize_t)sizeof b && memcmp(b + 128, "DICM", 4) == 0;
}

extern "C" int dcx_ds_open(const char *path, const struct dcx_open_opts *o,
                           dcx_ds **out_ds, struct dcx_error *e)
{
    *out_ds = nullptr;
    try {
        return open_path(path, o, -1, out_ds, e);
    } catch (...) {
        dcx_err_set(e, "internal error while reading");
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_ds_open_mem(const void *buf, size_t len,
                               const struct dcx_open_opts *o,
                               dcx_ds **out_ds, struct dcx_error *e)
{
    *out_ds = nullptr;
    if (len == 0) {
        dcx_err_set(e, "not a DICOM file: empty");
        return DCX_EBADDATA;
    }
    // Through an anonymous in-memory file and DCMTK's file reader: its
    // buffer-stream reader trusts element lengths and allocates what a
    // bogus one declares (4 GiB) before finding the data short. The file
    // lives as long as the dataset (DCMTK re-reads values from it).
    int fd = memfd_create("dcx_ds_open_mem", MFD_CLOEXEC);
    if (fd < 0) {
        dcx_err_set(e, "cannot create a memory file: %s", strerror(errno));
        return DCX_EIO;
    }
    const char *p = static_cast<const char *>(buf);
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = w < 0 ? errno : ENOSPC;
            dcx_err_set(e, "cannot fill a memory file: %s", strerror(err));
            close(fd);
            return err == ENOMEM || err == ENOSPC ? DCX_ENOMEM : DCX_EIO;
        }
        done += static_cast<size_t>(w);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rc;
    try {
        rc = open_path(path, o, fd, out_ds, e); // the ds owns fd on success
    } catch (...) {
        dcx_err_set(e, "internal error while reading");
        rc = DCX_EINTERNAL;
    }
    if (rc < 0)
        close(fd);
    return rc;
}

extern "C" void dcx_ds_close(dcx_ds *ds)
{
    if (!ds)
        return;
    try {
        if (ds->pixel_free)
            ds->pixel_free(ds->pixel_state);
        int fd = ds->memfd;
        delete ds;
        if (fd >= 0)
            close(fd);
    } catch (...) {
    }
}

extern "C" const char *dcx_ds_transfer_syntax(const dcx_ds *ds)
{
    return ds->ts_uid.c_str();
}

extern "C" const char *dcx_ds_media_class(dcx_ds *ds)
{
    const char *v = nullptr;
    try {
        if (ds->ff.getMetaInfo()
                ->findAndGetString(DCM_MediaStorageSOPClassUID, v)
                .bad())
            v = nullptr;
    } catch (...) {
        v = nullptr;
    }
    return v ? v : "";
}

extern "C" const char *dcx_ds_charset(const dcx_ds *ds, int *out_guessed)
{
    if (out_guessed)
        *out_guessed = ds->charset_guessed;
    return ds->charset.c_str();
}

extern "C" dcx_item *dcx_ds_root(dcx_ds *ds)
{
    return &ds->root;
}

extern "C" int dcx_ds_save(dcx_ds *ds, const char *path, const char *ts_uid,
                           struct dcx_error *e)
{
    try {
        E_TransferSyntax x = ds->xfer;
        if (ts_uid && *ts_uid) {
            DcmXfer want(ts_uid);
            x = want.getXfer();
            if (x == EXS_Unknown) {
                dcx_err_set(e, "unknown transfer syntax %s", ts_uid);
                return DCX_EINVAL;
            }
        }
        if (ds->no_pixels) {
            dcx_err_set(e, "dataset was opened without pixel data");
            return DCX_EINVAL;
        }
        DcmDataset *d = ds->ff.getDataset();
        // Cached fragment pointers, and pixel.c's attributes and frame map,
        // die when the representation changes (also on failure below).
        ds->pixseq = nullptr;
        if (ds->pixel_free)
            ds->pixel_free(ds->pixel_state);
        ds->pixel_state = nullptr;
        // DCMTK transcodes between two compressed syntaxes only through
        // the uncompressed representation; go there first.
        OFCondition c = EC_Normal;
        if (DcmXfer(ds->xfer).isEncapsulated() && DcmXfer(x).isEncapsulated()
            && x != ds->xfer)
            c = d->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
        // Explicit codec parameters: DCMTK's JPEG-LS encoder refuses colour
        // images with none. Lossless unless the syntax is lossy only.
        DJLSRepresentationParameter jls_lossless(0, OFTrue);
        DJLSRepresentationParameter jls_near(2, OFFalse);
        DJ_RPLossless jpeg_lossless(1, 0);
        DJ_RPLossy jpeg_lossy(90);
        const DcmRepresentationParameter *param = nullptr;
        if (x == EXS_JPEGLSLossless)
            param = &jls_lossless;
        else if (x == EXS_JPEGLSLossy)
            param = &jls_near;
        else if (x == EXS_JPEGProcess14SV1 || x == EXS_JPEGProcess14)
            param = &jpeg_lossless;
        else if (x == EXS_JPEGProcess1 || x == EXS_JPEGProcess2_4)
            param = &jpeg_lossy;
        // Same syntax: write the pixel data as read. Asking DCMTK for it
        // with codec parameters would decode and re-encode (a lossy file
        // would lose again and get a new SOP Instance UID).
        if (c.good() && x != ds->xfer) {
            c = d->chooseRepresentation(x, param);
            if (c.good() && param)
                dcx_zero_jpeg_padding(d, x, param);
        }
        if (c.bad() || !d->canWriteXfer(x)) {
            dcx_err_set(e, "cannot convert to %s: %s", DcmXfer(x).getXferName(),
                    c.bad() ? c.text() : "no encoder for this image");
            return DCX_EUNSUPPORTED;
        }
        c = ds->ff.saveFile(path, x, EET_ExplicitLength, EGL_recalcGL,
                            EPD_noChange, 0, 0, EWM_updateMeta);
        if (c.bad()) {
            dcx_err_set(e, "cannot write %s: %s", path, c.text());
            return DCX_EIO;
        }
        ds->xfer = x;
        ds->ts_uid = DcmXfer(x).getXferID();
        return 0;
    } catch (...) {
        dcx_err_set(e, "internal error while writing");
        return DCX_EINTERNAL;
    }
}

// ---------------------------------------------------------------- getters

namespace {

DcmElement *find(const dcx_item *it, uint32_t tag)
{
    DcmElement *el = nullptr;
    DcmTagKey key(static_cast<Uint16>(tag >> 16),
                  static_cast<Uint16>(tag & 0xFFFF));
    if (it->item->findAndGetElement(key, el, OFFalse).bad())
        return nullptr;
    return el;
}

// Whole value as UTF-8 (not trimmed). Returns 0, or DCX_ECHARSET with the
// best-effort text (illegal sequences dropped) in out.
int text_value(const dcx_item *it, DcmElement *el, std::string &out)
{
    char *s = nullptr;
    Uint32 len = 0;
    out.clear();
    DcmEVR vr = el->ident();
    if (el->getString(s, len).bad() || !s) {
        OFString v;
        if (el->getLength() == 0)
            return 0;
        if (el->getOFStringArray(v).bad())
            return DCX_EBADDATA;
        out.assign(v.c_str(), v.size());
        return 0;
    }
    dcx_ds *ds = it->ds;
    bool high = false;
    // ESC counts: 7-bit ISO 2022 text (JIS X 0208) has no 8-bit bytes.
    for (Uint32 i = 0; i < len && !high; i++)
        high = static_cast<unsigned char>(s[i]) >= 0x80 || s[i] == 0x1B;
    if (!high || (vr_is_text(vr) && ds->conv_identity)) {
        out.assign(s, len);
        return 0;
    }
    if (!vr_is_text(vr)) {
        // Code strings, dates, UIDs are ASCII by definition; stray 8-bit
        // bytes are read as Latin-1 so the output stays valid UTF-8.
        for (Uint32 i = 0; i < len; i++) {
            unsigned char c = static_cast<unsigned char>(s[i]);
            if (c < 0x80) {
                out += static_cast<char>(c);
            } else {
                out += static_cast<char>(0xC0 | (c >> 6));
                out += static_cast<char>(0x80 | (c & 0x3F));
            }
        }
        return 0;
    }
    if (ds->iso2022) {
        char *u = nullptr;
        size_t ulen = 0;
        int rc = dcx_iso2022_to_utf8(ds->charset.c_str(), s, len,
                                     vr == EVR_PN, &u, &ulen);
        if (u)
            out.assign(u, ulen);
        free(u);
        return rc;
    }
    OFString conv;
    const char *delim = vr == EVR_PN ? "\\^=" : "\\";
    OFCondition c = ds->conv->convertString(s, len, conv, delim);
    if (c.good()) {
        out.assign(conv.c_str(), conv.size());
        return 0;
    }
    DcmSpecificCharacterSet lenient;
    if (lenient.selectCharacterSet(ds->charset.c_str()).good() &&
        lenient
            .setConversionFlags(OFCharacterEncoding::DiscardIllegalSequences)
            .good() &&
        lenient.convertString(s, len, conv, delim).good())
        out.assign(conv.c_str(), conv.size());
    return DCX_ECHARSET;
}

void trim(std::string &v, bool keep_leading)
{
    while (!v.empty() && (v.back() == ' ' || v.back() == '\0'))
        v.pop_back();
    if (!keep_leading) {
        size_t i = 0;
        while (i < v.size() && v[i] == ' ')
            i++;
        v.erase(0, i);
    }
}

// Splits on backslash: only after conversion, where 0x5C is always '\'.
bool nth_value(const std::string &all, int idx, std::string &out)
{
    size_t start = 0;
    for (int i = 0; i < idx; i++) {
        size_t p = all.find('\\', start);
        if (p == std::string::npos)
            return false;
        start = p + 1;
    }
    size_t end = all.find('\\', start);
    out = all.substr(start, end == std::string::npos ? std::string::npos
                                                       : end - start);
    return true;
}

bool is_binary_number(DcmEVR vr)
{
    switch (vr) {
    case EVR_US: case EVR_SS: case EVR_UL: case EVR_SL: case EVR_FL:
    case EVR_FD: case EVR_AT: case EVR_UV: case EVR_SV: case EVR_xs:
        return true;
    default:
        return false;
    }
}

} // namespace

extern "C" int dcx_tag_parse(const char *text, uint32_t *out_tag)
{
    try {
        unsigned g, e;
        char tail;
        if (sscanf(text, "%4x,%4x%c", &g, &e, &tail) == 2 ||
            sscanf(text, "(%4x,%4x)%c", &g, &e, &tail) == 2) {
            *out_tag = (g & 0xFFFF) << 16 | (e & 0xFFFF);
            return 0;
        }
        DcmTag tag;
        if (DcmTag::findTagFromName(text, tag).bad())
            return DCX_ENOTFOUND;
        *out_tag = static_cast<uint32_t>(tag.getGTag()) << 16 | tag.getETag();
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" const char *dcx_tag_name(uint32_t t, char *buf, size_t len)
{
    try {
        DcmTag tag(static_cast<Uint16>(t >> 16),
                   static_cast<Uint16>(t & 0xFFFF));
        const char *n = tag.getTagName();
        if (n && strcmp(n, DcmTag_ERROR_TagName) != 0)
            snprintf(buf, len, "%s", n);
        else
            snprintf(buf, len, "%04x,%04x", t >> 16, t & 0xFFFF);
    } catch (...) {
        snprintf(buf, len, "%04x,%04x", t >> 16, t & 0xFFFF);
    }
    return buf;
}

extern "C" int dcx_item_tag_count(const dcx_item *it)
{
    try {
        return static_cast<int>(it->item->card());
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_item_tag_at(const dcx_item *it, unsigned idx,
                               uint32_t *out_tag)
{
    try {
        DcmElement *el = it->item->getElement(idx);
        if (!el)
            return DCX_ERANGE;
        *out_tag = static_cast<uint32_t>(el->getGTag()) << 16 | el->getETag();
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

int dcx_ds_adopt(DcmDataset *d, dcx_ds **out, struct dcx_error *e)
{
    *out = nullptr;
    dcx_ds *ds = new dcx_ds();
    *ds->ff.getDataset() = *d;
    int rc = finish_open(ds, nullptr, e);
    if (rc < 0) {
        delete ds;
        return rc;
    }
    *out = ds;
    return 0;
}

extern "C" int dcx_item_has(const dcx_item *it, uint32_t tag)
{
    try {
        return find(it, tag) != nullptr;
    } catch (...) {
        return 0;
    }
}

extern "C" int dcx_item_vr(const dcx_item *it, uint32_t tag,
                           char out_vr[3])
{
    try {
        DcmElement *el = find(it, tag);
        if (!el)
            return DCX_ENOTFOUND;
        snprintf(out_vr, 3, "%s", vr_name(el->ident()));
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_item_vm(const dcx_item *it, uint32_t tag)
{
    try {
        DcmElement *el = find(it, tag);
        if (!el)
            return DCX_ENOTFOUND;
        DcmEVR vr = el->ident();
        if (el->getLength() == 0)
            return 0;
        if (vr_single_valued_text(vr))
            return 1;
        if (vr_is_text(vr)) {
            std::string v;
            int rc = text_value(it, el, v);
            if (rc < 0 && rc != DCX_ECHARSET)
                return rc;
            int n = 1;
            for (char ch : v)
                n += ch == '\\';
            return n;
        }
        return static_cast<int>(el->getVM());
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_item_get_str(const dcx_item *it, uint32_t tag, int idx,
                                char *buf, size_t len)
{
    try {
        DcmElement *el = find(it, tag);
        if (!el)
            return DCX_ENOTFOUND;
        DcmEVR vr = el->ident();
        std::string v;
        int rc = 0;
        if (is_binary_number(vr)) {
            OFString s;
            if (idx < 0) {
                if (el->getOFStringArray(s).bad() && el->getLength() > 0)
                    return DCX_EBADDATA;
            } else if (el->getOFString(s, static_cast<unsigned long>(idx))
                           .bad()) {
                return DCX_ERANGE;
            }
            v.assign(s.c_str(), s.size());
        } else {
            rc = text_value(it, el, v);
            if (rc < 0 && rc != DCX_ECHARSET)
                return rc;
            if (idx >= 0 && !vr_single_valued_text(vr)) {
                std::string one;
                if (!nth_value(v, idx, one))
                    return DCX_ERANGE;
                v.swap(one);
            } else if (idx > 0) {
                return DCX_ERANGE;
            }
            trim(v, vr_single_valued_text(vr));
            // Empty trailing PN components and groups carry nothing
            // (PS3.5 6.2.1): "Wang^XiaoDong=王^小东=" reads as without '='.
            while (vr == EVR_PN && !v.empty() &&
                   (v.back() == '=' || v.back() == '^' || v.back() == ' '))
                v.pop_back();
        }
        if (len > 0) {
            size_t n = v.size() < len - 1 ? v.size() : len - 1;
            memcpy(buf, v.data(), n);
            buf[n] = '\0';
        }
        if (rc < 0)
            return rc;
        return v.size() > 0x7FFFFFFF ? 0x7FFFFFFF : static_cast<int>(v.size());
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

/* One binary integer value of el through its typed getter (getUint16 for
 * US...), widened to int64_t. */
template <typename T>
using getter = OFCondition (DcmElement::*)(T &, const unsigned long);

template <typename T>
static OFCondition get_as(DcmElement *el, getter<T> get, unsigned idx,
                          int64_t *out)
{
    T v;
    OFCondition c = (el->*get)(v, idx);
    if (c.good())
        *out = static_cast<int64_t>(v);
    return c;
}

extern "C" int dcx_item_get_int(const dcx_item *it, uint32_t tag,
                                unsigned idx, int64_t *out_val)
{
    try {
        DcmElement *el = find(it, tag);
        if (!el)
            return DCX_ENOTFOUND;
        if (idx >= el->getVM())
            return DCX_ERANGE;
        OFCondition c;
        switch (el->ident()) {
        case EVR_US:
            c = get_as<Uint16>(el, &DcmElement::getUint16, idx, out_val);
            break;
        case EVR_SS:
            c = get_as<Sint16>(el, &DcmElement::getSint16, idx, out_val);
            break;
        case EVR_UL:
            c = get_as<Uint32>(el, &DcmElement::getUint32, idx, out_val);
            break;
        case EVR_SL:
            c = get_as<Sint32>(el, &DcmElement::getSint32, idx, out_val);
            break;
        case EVR_UV: /* above 2^63 wraps: no real attribute goes there */
            c = get_as<Uint64>(el, &DcmElement::getUint64, idx, out_val);
            break;
        case EVR_SV:
            c = get_as<Sint64>(el, &DcmElement::getSint64, idx, out_val);
            break;
        case EVR_IS:
        case EVR_DS: {
            OFString s;
            c = el->getOFString(s, idx);
            if (c.bad())
                break;
            char *end = nullptr;
            double d = strtod(s.c_str(), &end);
            while (end && *end == ' ')
                end++;
            if (end == s.c_str() || (end && *end) || d != std::floor(d) ||
                std::fabs(d) > 9.2e18)
                return DCX_EBADDATA;
            *out_val = static_cast<int64_t>(d);
            return 0;
        }
        default:
            return DCX_EBADDATA;
        }
        return c.good() ? 0 : DCX_EBADDATA;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_item_get_float(const dcx_item *it, uint32_t tag,
                                  unsigned idx, double *out_val)
{
    try {
        DcmElement *el = find(it, tag);
        if (!el)
            return DCX_ENOTFOUND;
        if (idx >= el->getVM())
            return DCX_ERANGE;
        switch (el->ident()) {
        case EVR_FL: case EVR_OF: {
            Float32 v;
            if (el->getFloat32(v, idx).bad())
                return DCX_EBADDATA;
            *out_val = v;
            return 0;
        }
        case EVR_FD: case EVR_OD: {
            Float64 v;
            if (el->getFloat64(v, idx).bad())
                return DCX_EBADDATA;
            *out_val = v;
            return 0;
        }
        case EVR_DS: case EVR_IS: {
            OFString s;
            if (el->getOFString(s, idx).bad())
                return DCX_EBADDATA;
            char *end = nullptr;
            double d = strtod(s.c_str(), &end);
            while (end && *end == ' ')
                end++;
            if (end == s.c_str() || (end && *end) || !std::isfinite(d))
                return DCX_EBADDATA;
            *out_val = d;
            return 0;
        }
        default: {
            int64_t v;
            int rc = dcx_item_get_int(it, tag, idx, &v);
            if (rc == 0)
                *out_val = static_cast<double>(v);
            return rc;
        }
        }
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_item_get_bytes(const dcx_item *it, uint32_t tag,
                                  const void **out_data, size_t *out_len)
{
    try {
        DcmElement *el = find(it, tag);
        if (!el)
            return DCX_ENOTFOUND;
        if (el->ident() == EVR_SQ || el->ident() == EVR_pixelSQ)
            return DCX_EBADDATA;
        OFCondition c = el->loadAllDataIntoMemory();
        if (c.bad())
            return dcx_ds_fail(it->ds, dcx_from_ofcondition(c),
                               "cannot load value: %s", c.text());
        void *p = nullptr;
        Uint32 len = el->getLength();
        if (len == 0) {
            *out_data = "";
            *out_len = 0;
            return 0;
        }
        switch (el->ident()) {
        case EVR_OW: case EVR_US: case EVR_lt: case EVR_xs: case EVR_SS:
        case EVR_ox: case EVR_px: {
            Uint16 *w = nullptr;
            c = el->getUint16Array(w);
            if (c.bad()) {
                Sint16 *sw = nullptr;
                c = el->getSint16Array(sw);
                p = sw;
            } else {
                p = w;
            }
            break;
        }
        case EVR_OL: case EVR_UL: {
            Uint32 *w = nullptr;
            c = el->getUint32Array(w);
            p = w;
            break;
        }
        case EVR_SL: {
            Sint32 *w = nullptr;
            c = el->getSint32Array(w);
            p = w;
            break;
        }
        case EVR_OF: case EVR_FL: {
            Float32 *w = nullptr;
            c = el->getFloat32Array(w);
            p = w;
            break;
        }
        case EVR_OD: case EVR_FD: {
            Float64 *w = nullptr;
            c = el->getFloat64Array(w);
            p = w;
            break;
        }
        case EVR_OV: case EVR_UV: case EVR_SV: {
            Uint64 *w = nullptr;
            c = el->getUint64Array(w);
            p = w;
            break;
        }
        default: {
            Uint8 *b = nullptr;
            c = el->getUint8Array(b);
            if (c.bad()) {
                char *s = nullptr;
                c = el->getString(s);
                b = reinterpret_cast<Uint8 *>(s);
            }
            p = b;
            break;
        }
        }
        if (c.bad() || !p)
            return DCX_EBADDATA;
        *out_data = p;
        *out_len = len;
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_item_seq_count(const dcx_item *it, uint32_t tag)
{
    try {
        DcmElement *el = find(it, tag);
        if (!el)
            return DCX_ENOTFOUND;
        if (el->ident() != EVR_SQ)
            return DCX_EBADDATA;
        return static_cast<int>(static_cast<DcmSequenceOfItems *>(el)->card());
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_item_seq_get(const dcx_item *it, uint32_t tag,
                                unsigned idx, dcx_item **out_item)
{
    try {
        DcmElement *el = find(it, tag);
        if (!el)
            return DCX_ENOTFOUND;
        if (el->ident() != EVR_SQ)
            return DCX_EBADDATA;
        auto *seq = static_cast<DcmSequenceOfItems *>(el);
        if (idx >= seq->card())
            return DCX_ERANGE;
        DcmItem *child = seq->getItem(idx);
        dcx_ds *ds = it->ds;
        auto found = ds->item_of.find(child);
        if (found != ds->item_of.end()) {
            *out_item = found->second;
            return 0;
        }
        ds->items.push_back(dcx_item{child, ds});
        ds->item_of[child] = &ds->items.back();
        *out_item = &ds->items.back();
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

// DCMTK's encoders pad an odd-length JPEG / JPEG-LS frame with a byte they
// never set (3.6.7): the same image then encodes to different bytes on a
// resend, and the upstream sees a conflicting duplicate instead of an
// identical one; a file saved twice differs too. PS3.5 A.4 wants 0x00 there; a frame that ends in EOI
// (FF D9) followed by one byte has that pad byte.
void dcx_zero_jpeg_padding(DcmDataset *ds, E_TransferSyntax x,
                       const DcmRepresentationParameter *param)
{
    DcmElement *el = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el)
        return;
    DcmPixelSequence *seq = nullptr;
    if (static_cast<DcmPixelData *>(el)
            ->getEncapsulatedRepresentation(x, param, seq)
            .bad() ||
        !seq)
        return;
    for (unsigned long i = 1; i < seq->card(); i++) { // 0: offset table
        DcmPixelItem *it = nullptr;
        Uint8 *d = nullptr;
        if (seq->getItem(it, i).bad() || it->getUint8Array(d).bad() || !d)
            continue;
        Uint32 n = it->getLength();
        if (n >= 3 && d[n - 3] == 0xFF && d[n - 2] == 0xD9)
            d[n - 1] = 0;
    }
}

int dcx_copy_text_utf8(const char *path, const DcmTagKey *keys, size_t n,
                       DcmItem *out, struct dcx_error *e)
{
    struct dcx_open_opts o = {};
    o.no_pixels = 1;
    dcx_ds *ds = nullptr;
    int rc = dcx_ds_open(path, &o, &ds, e);
    if (rc < 0)
        return rc;
    const dcx_item *root = dcx_ds_root(ds);
    for (size_t i = 0; i < n; i++) {
        char buf[1024];
        uint32_t tag = static_cast<uint32_t>(keys[i].getGroup()) << 16 |
                       keys[i].getElement();
        int len = dcx_item_get_str(root, tag, -1, buf, sizeof buf);
        if ((len >= 0 && static_cast<size_t>(len) < sizeof buf) ||
            len == DCX_ECHARSET)
            out->putAndInsertString(keys[i], buf);
    }
    dcx_ds_close(ds);
    return 0;
}
