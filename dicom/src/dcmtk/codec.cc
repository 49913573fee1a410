// codec.cc - the pixel side of the shim: native pixel bytes (lazily read
// from the file), the items of an encapsulated pixel sequence, and one-frame
// decoding with DCMTK's RLE, JPEG (lossless, 12-bit) and JPEG-LS decoders.
#include "ds_int.hh"

#include <cstring>

extern "C" {
#include "shim.h"
}

namespace {

DcmPixelData *pixel_element(dcx_ds *ds)
{
    DcmElement *el = nullptr;
    if (ds->ff.getDataset()
            ->findAndGetElement(DCM_PixelData, el, OFFalse)
            .bad() ||
        !el || el->ident() != EVR_PixelData)
        return nullptr;
    return static_cast<DcmPixelData *>(el);
}

// The representation the dataset is in: the one read from the file, or,
// after dcx_ds_save() converted it, the current one. Not simply the
// current one: DCMTK's frame decoder may add an uncompressed
// representation and make it current.
void pixel_rep(dcx_ds *ds, DcmPixelData *pd, E_TransferSyntax &rep,
               const DcmRepresentationParameter *&param)
{
    pd->getOriginalRepresentationKey(rep, param);
    if (rep == ds->xfer)
        return;
    pd->getCurrentRepresentationKey(rep, param);
}

DcmPixelSequence *pixel_sequence(dcx_ds *ds)
{
    if (ds->pixseq)
        return ds->pixseq;
    DcmPixelData *pd = pixel_element(ds);
    if (!pd)
        return nullptr;
    E_TransferSyntax rep = EXS_Unknown;
    const DcmRepresentationParameter *param = nullptr;
    pixel_rep(ds, pd, rep, param);
    if (!DcmXfer(rep).isEncapsulated())
        return nullptr;
    DcmPixelSequence *seq = nullptr;
    if (pd->getEncapsulatedRepresentation(rep, param, seq).bad())
        return nullptr;
    ds->pixseq = seq;
    return seq;
}

} // namespace

extern "C" int dcx_shim_pixel_present(dcx_ds *ds, int *out_encapsulated,
                                      size_t *out_native_len)
{
    try {
        DcmPixelData *pd = pixel_element(ds);
        if (!pd)
            return 0;
        E_TransferSyntax rep = EXS_Unknown;
        const DcmRepresentationParameter *param = nullptr;
        pixel_rep(ds, pd, rep, param);
        *out_encapsulated = DcmXfer(rep).isEncapsulated() ? 1 : 0;
        *out_native_len = *out_encapsulated ? 0 : pd->getLength();
        return 1;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_shim_native_read(dcx_ds *ds, size_t offset, void *buf,
                                    size_t len)
{
    try {
        DcmPixelData *pd = pixel_element(ds);
        if (!pd)
            return DCX_ENOPIXELS;
        if (offset + len > pd->getLength() || offset > 0xFFFFFFFFu ||
            len > 0xFFFFFFFFu)
            return dcx_ds_fail(ds, DCX_ETRUNCATED,
                               "pixel data holds %lu bytes, frame needs "
                               "bytes %zu..%zu",
                               static_cast<unsigned long>(pd->getLength()),
                               offset, offset + len);
        OFCondition c = pd->getPartialValue(buf, static_cast<Uint32>(offset),
                                            static_cast<Uint32>(len),
                                            &ds->cache, gLocalByteOrder);
        if (c.bad())
            return dcx_ds_fail(ds, dcx_from_ofcondition(c),
                               "cannot read pixel data: %s", c.text());
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_shim_frag_count(dcx_ds *ds)
{
    try {
        DcmPixelSequence *seq = pixel_sequence(ds);
        if (!seq)
            return dcx_ds_fail(ds, DCX_EBADDATA,
                               "encapsulated pixel data has no items");
        return static_cast<int>(seq->card());
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_shim_frag_get(dcx_ds *ds, unsigned idx,
                                 const uint8_t **out_data, size_t *out_len)
{
    try {
        DcmPixelSequence *seq = pixel_sequence(ds);
        if (!seq)
            return DCX_EBADDATA;
        DcmPixelItem *item = nullptr;
        if (seq->getItem(item, idx).bad() || !item)
            return DCX_ERANGE;
        Uint32 n = item->getLength();
        Uint8 *p = nullptr;
        if (n > 0) {
            OFCondition c = item->getUint8Array(p);
            if (c.bad() || !p)
                return dcx_ds_fail(ds, dcx_from_ofcondition(c),
                                   "cannot read fragment %u: %s", idx,
                                   c.text());
        }
        *out_data = p;
        *out_len = n;
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_shim_dcmtk_decode(dcx_ds *ds, uint32_t frame,
                                     unsigned first_frag, void *buf,
                                     size_t len, char out_color_model[20])
{
    try {
        DcmPixelData *pd = pixel_element(ds);
        if (!pd)
            return DCX_ENOPIXELS;
        if (len > 0xFFFFFFFEu)
            return dcx_ds_fail(ds, DCX_EUNSUPPORTED, "frame too large");
        Uint32 start = first_frag;
        OFString model;
        OFCondition c = pd->getUncompressedFrame(
            ds->ff.getDataset(), frame, start, buf, static_cast<Uint32>(len),
            model, &ds->cache);
        if (c.bad())
            return dcx_ds_fail(ds,
                               dcx_from_ofcondition(c) == DCX_EUNSUPPORTED
                                   ? DCX_EBADDATA
                                   : dcx_from_ofcondition(c),
                               "cannot decode frame %u: %s", frame,
                               c.text());
        snprintf(out_color_model, 20, "%s", model.c_str());
        return 0;
    } catch (...) {
        return DCX_EINTERNAL;
    }
}
