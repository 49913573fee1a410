// gsps.cc - writing Grayscale Softcopy Presentation States (dcx/gsps.h)
// through DCMTK's DVPresentationState: it builds the modules of PS3.3
// A.33.1 from the referenced images (patient, study, presentation state
// relationship, modality LUT, graphic annotation and layers, softcopy VOI
// LUT, displayed area, spatial transformation, presentation LUT).

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmpstat/dvpsgr.h"
#include "dcmtk/dcmpstat/dvpstat.h"
#include "dcmtk/dcmpstat/dvpstx.h"

#include <cstring>
#include <memory>
#include <vector>

#include "dcx/gsps.h"
#include "ds_int.hh"
#include "shim.h"

namespace {

DVPSGraphicType shape_of(enum dcx_gsps_shape s)
{
    switch (s) {
    case DCX_GSPS_POINT:
        return DVPST_point;
    case DCX_GSPS_INTERPOLATED:
        return DVPST_interpolated;
    case DCX_GSPS_CIRCLE:
        return DVPST_circle;
    case DCX_GSPS_ELLIPSE:
        return DVPST_ellipse;
    default:
        return DVPST_polyline;
    }
}

bool label_ok(const char *l)
{
    size_t n = 0;
    for (; l && l[n]; n++)
        if (!((l[n] >= 'A' && l[n] <= 'Z') || (l[n] >= '0' && l[n] <= '9') ||
              l[n] == '_' || l[n] == ' '))
            return false;
    return n > 0 && n <= 16;
}

bool has_8bit(const char *s)
{
    for (; s && *s; s++)
        if (static_cast<unsigned char>(*s) >= 0x80)
            return true;
    return false;
}

int fail(struct dcx_error *e, int rc, const char *what, const OFCondition &c)
{
    dcx_err_set(e, "%s: %s", what, c.text());
    return rc;
}

// The text DCMTK copied from the image into the state (patient, study,
// equipment: createFromImage copies the bytes, in the image's character
// set) as UTF-8, read through dcx, which knows GB18030, ISO 2022 IR 58
// and undeclared sets: the state is declared ISO_IR 192 for its own
// Chinese text, and a GB18030 name under that declaration reads as
// garbage everywhere. Our own values (Content Description, Creator's
// Name) are UTF-8 already. 0 or DCX_E* with e.
int image_text_to_utf8(const char *image, DcmDataset *ds,
                       struct dcx_error *e)
{
    std::vector<DcmTagKey> keys;
    for (unsigned long i = 0; i < ds->card(); i++) {
        DcmElement *el = ds->getElement(i);
        DcmTagKey k = el->getTag();
        if (DcmVR(el->getVR()).isAffectedBySpecificCharacterSet() &&
            k != DCM_ContentDescription && k != DCM_ContentCreatorName)
            keys.push_back(k);
    }
    return dcx_copy_text_utf8(image, keys.data(), keys.size(), ds, e);
}

int write_ps(const struct dcx_gsps_desc *d, const char *path,
             char out_uid[65], struct dcx_error *e)
{
    if (!d->images || d->n_images == 0 || !label_ok(d->label) ||
        (d->rotation % 90) != 0) {
        dcx_err_set(e, "a presentation state needs images and a label of "
                       "A-Z, 0-9, _ or space (at most 16)");
        return DCX_EINVAL;
    }
    std::vector<std::unique_ptr<DcmFileFormat>> files;
    for (size_t i = 0; i < d->n_images; i++) {
        files.emplace_back(new DcmFileFormat());
        OFCondition c = files.back()->loadFile(d->images[i]);
        if (c.bad())
            return fail(e, DCX_EIO, d->images[i], c);
    }
    DVPresentationState ps;
    OFCondition c = ps.createFromImage(*files[0]->getDataset(),
                                       DVPSO_ignoreOverlays, DVPSV_ignoreVOI,
                                       OFFalse, OFFalse, OFTrue,
                                       DVPSG_oneLayer);
    if (c.bad())
        return fail(e, DCX_EBADDATA, "cannot make a presentation state", c);
    for (size_t i = 1; i < d->n_images; i++) {
        c = ps.addImageReference(*files[i]->getDataset());
        if (c.bad())
            return fail(e, DCX_EBADDATA, d->images[i], c);
    }
    const char *deflayer = d->layer && *d->layer ? d->layer : "MARKS";
    // the index of a layer, added on first use
    auto layer_of = [&](const char *name, size_t *out) {
        for (size_t i = 0; i < ps.getNumberOfGraphicLayers(); i++) {
            const char *n = ps.getGraphicLayerName(i);
            if (n && strcmp(n, name) == 0) {
                *out = i;
                return true;
            }
        }
        if (ps.addGraphicLayer(name, "Reading marks").bad())
            return false;
        *out = ps.getNumberOfGraphicLayers() - 1;
        return true;
    };
    bool utf8 = has_8bit(d->description) || has_8bit(d->creator);
    for (size_t m = 0; m < d->n_marks; m++) {
        const struct dcx_gsps_mark *mk = &d->marks[m];
        if (mk->image >= d->n_images) {
            dcx_err_set(e, "mark %zu refers to image %zu of %zu", m,
                        mk->image, d->n_images);
            return DCX_EINVAL;
        }
        size_t li;
        if (!layer_of(mk->layer && *mk->layer ? mk->layer : deflayer, &li)) {
            dcx_err_set(e, "graphic layer '%s' is not a valid name",
                        mk->layer && *mk->layer ? mk->layer : deflayer);
            return DCX_EINVAL;
        }
        // the image the objects apply to; the presentation state keeps
        // the file's data set, we keep ownership
        c = ps.attachImage(files[mk->image]->getDataset(), OFFalse);
        if (c.good() && mk->frame > 0)
            c = ps.selectImageFrameNumber(mk->frame);
        if (c.bad())
            return fail(e, DCX_EBADDATA, d->images[mk->image], c);
        // one frame of a multi-frame image, or the whole image
        DVPSObjectApplicability on =
            mk->frame > 0 ? DVPSB_currentFrame : DVPSB_currentImage;
        for (size_t g = 0; g < mk->n_graphics; g++) {
            const struct dcx_gsps_graphic *gr = &mk->graphics[g];
            DVPSGraphicObject *o = ps.addGraphicObject(li, on);
            if (!o || gr->n == 0 || !gr->xy ||
                o->setData(gr->n, gr->xy, DVPSA_pixels).bad() ||
                o->setGraphicType(shape_of(gr->shape)).bad() ||
                o->setFilled(gr->filled ? OFTrue : OFFalse).bad()) {
                dcx_err_set(e, "graphic %zu of mark %zu is not valid", g, m);
                ps.detachImage();
                return DCX_EINVAL;
            }
        }
        for (size_t t = 0; t < mk->n_texts; t++) {
            const struct dcx_gsps_text *tx = &mk->texts[t];
            DVPSTextObject *o = ps.addTextObject(li, on);
            utf8 |= has_8bit(tx->text);
            bool ok = o && tx->text && *tx->text &&
                      (tx->has_anchor || tx->has_box) &&
                      o->setText(tx->text).good();
            if (ok && tx->has_anchor)
                ok = o->setAnchorPoint(tx->anchor[0], tx->anchor[1],
                                       DVPSA_pixels,
                                       tx->anchor_visible ? OFTrue : OFFalse)
                         .good();
            if (ok && tx->has_box)
                ok = o->setBoundingBox(tx->box[0], tx->box[1], tx->box[2],
                                       tx->box[3], DVPSA_pixels, DVPSX_left)
                         .good();
            if (!ok) {
                dcx_err_set(e, "text %zu of mark %zu is not valid (it needs "
                               "text and an anchor or a box)", t, m);
                ps.detachImage();
                return DCX_EINVAL;
            }
        }
        ps.detachImage();
    }
    // window and displayed area for every referenced image
    c = ps.attachImage(files[0]->getDataset(), OFFalse);
    if (c.good() && d->has_window)
        c = ps.setVOIWindow(d->window_center, d->window_width, nullptr,
                            DVPSB_allImages);
    if (c.good() && d->has_area)
        c = ps.setStandardDisplayedArea(DVPSD_scaleToFit, d->area[0],
                                        d->area[1], d->area[2], d->area[3],
                                        1.0, DVPSB_allImages);
    // then the images whose own differ: items of their own
    for (size_t i = 0; c.good() && d->views && i < d->n_images; i++) {
        const struct dcx_gsps_view *v = &d->views[i];
        bool win = v->has_window &&
                   (!d->has_window || v->window_center != d->window_center ||
                    v->window_width != d->window_width);
        bool area = v->has_area &&
                    (!d->has_area ||
                     memcmp(v->area, d->area, sizeof d->area) != 0);
        if (!win && !area)
            continue;
        c = ps.attachImage(files[i]->getDataset(), OFFalse);
        if (c.good() && win)
            c = ps.setVOIWindow(v->window_center, v->window_width, nullptr,
                                DVPSB_currentImage);
        if (c.good() && area)
            c = ps.setStandardDisplayedArea(DVPSD_scaleToFit, v->area[0],
                                            v->area[1], v->area[2],
                                            v->area[3], 1.0,
                                            DVPSB_currentImage);
    }
    if (c.good() && d->views) // back to the first image, as for all
        c = ps.attachImage(files[0]->getDataset(), OFFalse);
    int rot = ((d->rotation % 360) + 360) % 360;
    if (c.good())
        c = ps.setRotation(rot == 90    ? DVPSR_90_deg
                           : rot == 180 ? DVPSR_180_deg
                           : rot == 270 ? DVPSR_270_deg
                                        : DVPSR_0_deg);
    if (c.good())
        c = ps.setFlip(d->flip ? OFTrue : OFFalse);
    if (c.good())
        c = ps.setPresentationLabel(d->label);
    if (c.good() && d->description && *d->description)
        c = ps.setPresentationDescription(d->description);
    if (c.good() && d->creator && *d->creator)
        c = ps.setPresentationCreatorsName(d->creator);
    ps.detachImage();
    if (c.bad())
        return fail(e, DCX_EINVAL, "presentation state", c);
    DcmFileFormat out;
    DcmDataset *ds = out.getDataset();
    c = ps.write(*ds, OFTrue);
    if (c.bad())
        return fail(e, DCX_EBADDATA, "cannot encode the presentation state",
                    c);
    if (utf8) {
        int rc = image_text_to_utf8(d->images[0], ds, e);
        if (rc < 0)
            return rc;
        ds->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    }
    // General Series Laterality (2C): the images' own, else present and
    // empty (unknown), which validators expect for a series of a paired
    // body part and which is allowed for any
    if (!ds->tagExists(DCM_Laterality)) {
        const char *lat = nullptr;
        files[0]->getDataset()->findAndGetString(DCM_Laterality, lat);
        ds->putAndInsertString(DCM_Laterality, lat ? lat : "");
    }
    return dcx_shim_save_part10(&out, path, out_uid, e);
}

} // namespace

extern "C" int dcx_gsps_write(const struct dcx_gsps_desc *d, const char *path,
                              char out_sop_uid[65], struct dcx_error *e)
{
    try {
        return write_ps(d, path, out_sop_uid, e);
    } catch (...) {
        dcx_err_set(e, "internal error while writing a presentation state");
        return DCX_EINTERNAL;
    }
}
