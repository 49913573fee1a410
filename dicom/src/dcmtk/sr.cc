// sr.cc - Key Object Selection documents, Basic Text SR reports and TID
// 1500 measurement reports (dcx/sr.h) through DCMTK's dcmsr: DSRDocument
// builds the SR modules, the evidence sequence and the content tree, and
// checks the tree against the IOD's relationship constraints.

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmsr/dsrdoc.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "dcx/dataset.h"
#include "dcx/sr.h"
#include "ds_int.hh"
#include "shim.h"

namespace {

const DcmTagKey patient_study[] = {
    DCM_PatientName,  DCM_PatientID,       DCM_IssuerOfPatientID,
    DCM_PatientBirthDate, DCM_PatientSex,  DCM_StudyInstanceUID,
    DCM_StudyDate,    DCM_StudyTime,       DCM_ReferringPhysicianName,
    DCM_StudyID,      DCM_AccessionNumber, DCM_StudyDescription,
};

// Patient and study attributes of the image at path into out, as UTF-8
// (the image may be in GB18030 or another set), and out declared
// ISO_IR 192.
int copy_patient_study(const char *path, DcmDataset *out,
                       struct dcx_error *e)
{
    int rc = dcx_copy_text_utf8(
        path, patient_study, sizeof patient_study / sizeof patient_study[0],
        out, e);
    if (rc < 0)
        return rc;
    out->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    return 0;
}

// Loads the files (headers and values up to 4 KB; pixel data stays on
// disk) and the study they share. 0 or DCX_E* with e.
int load_study(const char *const *images, size_t n,
               std::vector<std::unique_ptr<DcmFileFormat>> &files,
               const char **study, struct dcx_error *e)
{
    for (size_t i = 0; i < n; i++) {
        files.emplace_back(new DcmFileFormat());
        OFCondition c = files.back()->loadFile(images[i], EXS_Unknown,
                                               EGL_noChange, 4096,
                                               ERM_autoDetect);
        if (c.bad()) {
            dcx_err_set(e, "%s: %s", images[i], c.text());
            return DCX_EIO;
        }
    }
    *study = nullptr;
    files[0]->getDataset()->findAndGetString(DCM_StudyInstanceUID, *study);
    if (!*study || !**study) {
        dcx_err_set(e, "%s has no Study Instance UID", images[0]);
        return DCX_EBADDATA;
    }
    return 0;
}

// A new instance in a new series of the study, its root container
// titled; the cursor is left on the root.
OFCondition begin_doc(DSRDocument &doc, const char *study,
                      const DSRCodedEntryValue &title)
{
    doc.createNewSeriesInStudy(study);
    DSRDocumentTree &tree = doc.getTree();
    if (!tree.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container))
        return EC_IllegalCall;
    return tree.getCurrentContentItem().setConceptName(title);
}

// Encodes doc with the patient and study of the image at source (UTF-8)
// and saves it as Part 10.
int save_doc(DSRDocument &doc, const char *what, const char *source,
             const char *path, char out_uid[65], struct dcx_error *e)
{
    DcmFileFormat out;
    OFCondition c = doc.write(*out.getDataset());
    if (c.bad()) {
        dcx_err_set(e, "cannot encode the %s: %s", what, c.text());
        return DCX_EBADDATA;
    }
    int rc = copy_patient_study(source, out.getDataset(), e);
    return rc < 0 ? rc : dcx_shim_save_part10(&out, path, out_uid, e);
}

int write_ko(const struct dcx_ko_desc *d, const char *path, char out_uid[65],
             struct dcx_error *e)
{
    if (!d->images || d->n_images == 0) {
        dcx_err_set(e, "a key object selection needs images");
        return DCX_EINVAL;
    }
    std::vector<std::unique_ptr<DcmFileFormat>> files;
    const char *study;
    int lrc = load_study(d->images, d->n_images, files, &study, e);
    if (lrc < 0)
        return lrc;
    DSRDocument doc(DSRTypes::DT_KeyObjectSelectionDocument);
    DSRDocumentTree &tree = doc.getTree();
    OFCondition c = begin_doc(
        doc, study,
        d->title == DCX_KO_TEACHING
            ? DSRCodedEntryValue("TCE001", "IHERADTF",
                                 "For Teaching File Export")
            : DSRCodedEntryValue("113000", "DCM", "Of Interest"));
    if (c.good() && d->description && *d->description) {
        if (!tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Text,
                                 DSRTypes::AM_belowCurrent))
            c = EC_IllegalCall;
        if (c.good())
            c = tree.getCurrentContentItem().setConceptName(
                DSRCodedEntryValue("113012", "DCM", "Key Object Description"));
        if (c.good())
            c = tree.getCurrentContentItem().setStringValue(d->description,
                                                            OFFalse);
    }
    for (size_t i = 0; c.good() && i < d->n_images; i++) {
        DcmDataset *ds = files[i]->getDataset();
        const char *cls = nullptr, *inst = nullptr, *st = nullptr;
        ds->findAndGetString(DCM_SOPClassUID, cls);
        ds->findAndGetString(DCM_SOPInstanceUID, inst);
        ds->findAndGetString(DCM_StudyInstanceUID, st);
        if (!cls || !inst || !st || strcmp(st, study) != 0) {
            dcx_err_set(e, "%s is not an image of the same study",
                        d->images[i]);
            return DCX_EINVAL;
        }
        // the first reference goes below the description or the title,
        // the others after it
        bool below = i == 0 && !(d->description && *d->description);
        if (!tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Image,
                                 below ? DSRTypes::AM_belowCurrent
                                       : DSRTypes::AM_afterCurrent))
            c = EC_IllegalCall;
        if (c.good())
            c = tree.getCurrentContentItem().setImageReference(
                DSRImageReferenceValue(cls, inst));
        if (c.good())
            c = doc.getCurrentRequestedProcedureEvidence().addItem(*ds);
    }
    if (c.bad()) {
        dcx_err_set(e, "cannot build the key object selection: %s", c.text());
        return DCX_EINVAL;
    }
    return save_doc(doc, "key object selection", d->images[0], path, out_uid,
                    e);
}

// The report: title, then Findings and Impression as text under
// containers, the study's images as evidence (TID 2000 shape).
int write_report(const struct dcx_report_desc *d, const char *path,
                 char out_uid[65], struct dcx_error *e)
{
    if (!d->images || d->n_images == 0 ||
        !((d->findings && *d->findings) || (d->impression && *d->impression))) {
        dcx_err_set(e, "a report needs the study's images and some text");
        return DCX_EINVAL;
    }
    std::vector<std::unique_ptr<DcmFileFormat>> files;
    const char *study;
    int lrc = load_study(d->images, d->n_images, files, &study, e);
    if (lrc < 0)
        return lrc;
    DSRDocument doc(DSRTypes::DT_BasicTextSR);
    DSRDocumentTree &tree = doc.getTree();
    OFCondition c = begin_doc(doc, study,
                              DSRCodedEntryValue("18748-4", "LN",
                                                 "Diagnostic Imaging Report"));
    struct section {
        const char *code, *meaning, *text;
    } sections[] = {{"121070", "Findings", d->findings},
                    {"121073", "Impression", d->impression}};
    bool first_section = true;
    for (const section &sec : sections) {
        if (c.bad() || !sec.text || !*sec.text)
            continue;
        // a container per section, its text below it
        if (!tree.addContentItem(DSRTypes::RT_contains,
                                 DSRTypes::VT_Container,
                                 first_section ? DSRTypes::AM_belowCurrent
                                               : DSRTypes::AM_afterCurrent))
            c = EC_IllegalCall;
        if (c.good())
            c = tree.getCurrentContentItem().setConceptName(
                DSRCodedEntryValue(sec.code, "DCM", sec.meaning));
        if (c.good() &&
            !tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Text,
                                 DSRTypes::AM_belowCurrent))
            c = EC_IllegalCall;
        if (c.good())
            c = tree.getCurrentContentItem().setConceptName(
                DSRCodedEntryValue(sec.code, "DCM", sec.meaning));
        if (c.good())
            c = tree.getCurrentContentItem().setStringValue(sec.text, OFFalse);
        tree.goUp(); // back to the section container
        first_section = false;
    }
    for (size_t i = 0; c.good() && i < d->n_images; i++)
        c = doc.getCurrentRequestedProcedureEvidence().addItem(
            *files[i]->getDataset());
    if (c.good() && d->final) {
        c = doc.completeDocument();
        if (c.good() && d->author && *d->author)
            c = doc.verifyDocument(d->author, "Consort reading");
    }
    if (c.bad()) {
        dcx_err_set(e, "cannot build the report: %s", c.text());
        return DCX_EINVAL;
    }
    return save_doc(doc, "report", d->images[0], path, out_uid, e);
}

// ---- TID 1500 measurement report ----
//
// DCMTK 3.6.7's cmr TID1500 classes take measurement names from CID 7469
// only, which has no length or angle, so the tree is built by hand. Codes
// and meanings are those of PS3.16 (as in pydicom's sr tables; the
// language is DCMTK's CID 5000 entry).

typedef DSRCodedEntryValue code;

// the SR's IMAGE reference to image i (its frame for a multi-frame image)
struct image_ref {
    const char *cls, *inst;
};

// A content item below (or after) the cursor, named; the cursor moves to
// it.
OFCondition add(DSRDocumentTree &tree, DSRTypes::E_RelationshipType rel,
                DSRTypes::E_ValueType vt, DSRTypes::E_AddMode mode,
                const code &name)
{
    if (!tree.addContentItem(rel, vt, mode))
        return EC_IllegalCall;
    return tree.getCurrentContentItem().setConceptName(name);
}

// A CODE item (name = value) after or below the cursor, cursor on it.
OFCondition add_code(DSRDocumentTree &tree, DSRTypes::E_RelationshipType rel,
                     DSRTypes::E_AddMode mode, const code &name,
                     const code &value)
{
    OFCondition c = add(tree, rel, DSRTypes::VT_Code, mode, name);
    return c.good() ? tree.getCurrentContentItem().setCodeValue(value) : c;
}

// NUM with value and unit after the cursor (mode) and the cursor on it.
// DS holds 16 characters: %.9g keeps the viewer's precision and fits.
OFCondition add_num(DSRDocumentTree &tree, DSRTypes::E_AddMode mode,
                    const code &name, double v, const code &unit)
{
    OFCondition c = add(tree, DSRTypes::RT_contains, DSRTypes::VT_Num, mode,
                        name);
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", v);
    if (c.good())
        c = tree.getCurrentContentItem().setNumericValue(
            DSRNumericMeasurementValue(buf, unit));
    return c;
}

// SCOORD of the points (closed: the first repeated at the end) with its
// IMAGE below it (SELECTED FROM); the cursor is left on the SCOORD.
OFCondition add_scoord(DSRDocumentTree &tree, DSRTypes::E_RelationshipType rel,
                       DSRTypes::E_AddMode mode, DSRTypes::E_GraphicType gt,
                       const float *xy, size_t n, bool closed,
                       const image_ref &img, unsigned frame)
{
    OFCondition c = add(tree, rel, DSRTypes::VT_SCoord, mode,
                        code("111030", "DCM", "Image Region"));
    DSRSpatialCoordinatesValue sc(gt);
    for (size_t k = 0; k < n; k++)
        sc.getGraphicDataList().addItem(xy[2 * k], xy[2 * k + 1]);
    if (closed)
        sc.getGraphicDataList().addItem(xy[0], xy[1]);
    if (c.good())
        c = tree.getCurrentContentItem().setSpatialCoordinates(sc);
    if (c.good() &&
        !tree.addContentItem(DSRTypes::RT_selectedFrom, DSRTypes::VT_Image,
                             DSRTypes::AM_belowCurrent))
        c = EC_IllegalCall;
    DSRImageReferenceValue ref(img.cls, img.inst);
    if (frame > 0)
        ref.getFrameList().addItem(static_cast<Sint32>(frame));
    if (c.good())
        c = tree.getCurrentContentItem().setImageReference(ref);
    tree.goUp();
    return c;
}

int check_measure(const struct dcx_measure *m, size_t n_images,
                  struct dcx_error *e)
{
    static const size_t need[] = {2, 3, 4, 4, 3};
    bool ok = static_cast<unsigned>(m->kind) <= DCX_MEAS_RECT_ROI &&
              m->image < n_images && m->xy && std::isfinite(m->value) &&
              (m->kind == DCX_MEAS_RECT_ROI ? m->n >= need[m->kind]
                                            : m->n == need[m->kind]);
    for (size_t k = 0; ok && k < 2 * m->n; k++)
        ok = std::isfinite(m->xy[k]);
    if (ok && m->has_stats)
        ok = std::isfinite(m->mean) && std::isfinite(m->sd) &&
             std::isfinite(m->min) && std::isfinite(m->max) &&
             (!m->unit || !*m->unit || strcmp(m->unit, "HU") == 0);
    if (!ok) {
        dcx_err_set(e, "measurement of kind %d: bad points, value or unit",
                    static_cast<int>(m->kind));
        return DCX_EINVAL;
    }
    return 0;
}

// One Measurement Group below the cursor (mode), cursor left on it.
// ROIs in the shape of TID 1410 (Image Region, then TID 1419 values),
// lines and angles of TID 1501 (the NUM INFERRED FROM its lines, TID 300
// and 320): TID 1410's region must be an area.
OFCondition add_group(DSRDocumentTree &tree, DSRTypes::E_AddMode mode,
                      const struct dcx_measure *m, size_t idx,
                      const image_ref &img)
{
    static const char *const names[] = {"Length", "Angle", "Cobb angle",
                                        "Ellipse ROI", "Rectangle ROI"};
    OFCondition c = add(tree, DSRTypes::RT_contains, DSRTypes::VT_Container,
                        mode, code("125007", "DCM", "Measurement Group"));
    if (c.good())
        c = tree.getCurrentContentItem().setTemplateIdentification(
            m->kind >= DCX_MEAS_ELLIPSE_ROI ? "1410" : "1501", "DCMR");
    // TID 4108: a readable name (what the tool was) and a UID
    char id[64], uid[65];
    snprintf(id, sizeof id, "%s %zu", names[m->kind], idx + 1);
    if (c.good())
        c = add(tree, DSRTypes::RT_hasObsContext, DSRTypes::VT_Text,
                DSRTypes::AM_belowCurrent,
                code("112039", "DCM", "Tracking Identifier"));
    if (c.good())
        c = tree.getCurrentContentItem().setStringValue(id);
    if (c.good())
        c = add(tree, DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef,
                DSRTypes::AM_afterCurrent,
                code("112040", "DCM", "Tracking Unique Identifier"));
    if (c.good())
        c = tree.getCurrentContentItem().setStringValue(
            dcmGenerateUniqueIdentifier(uid));
    if (c.bad())
        return c;

    const code mm("mm", "UCUM", "millimeter"), mm2("mm2", "UCUM",
                                                    "square millimeter");
    const code px("{pixels}", "UCUM", "pixels"), deg("deg", "UCUM", "Degree");
    const code len_unit = m->calibrated ? mm : px;
    switch (m->kind) {
    case DCX_MEAS_ELLIPSE_ROI:
    case DCX_MEAS_RECT_ROI: {
        bool ell = m->kind == DCX_MEAS_ELLIPSE_ROI;
        c = add_scoord(tree, DSRTypes::RT_contains, DSRTypes::AM_afterCurrent,
                       ell ? DSRTypes::GT_Ellipse : DSRTypes::GT_Polyline,
                       m->xy, m->n, !ell, img, m->frame);
        if (c.good())
            c = add_num(tree, DSRTypes::AM_afterCurrent,
                        code("42798000", "SCT", "Area"), m->value,
                        m->calibrated ? mm2 : px);
        if (c.good() && m->has_stats) {
            const code u = m->unit && strcmp(m->unit, "HU") == 0
                               ? code("[hnsf'U]", "UCUM", "Hounsfield Unit")
                               : code("1", "UCUM", "no units");
            const struct {
                const char *v, *meaning;
                double x;
            } st[] = {{"373098007", "Mean", m->mean},
                      {"386136009", "Standard Deviation", m->sd},
                      {"255605001", "Minimum", m->min},
                      {"56851009", "Maximum", m->max}};
            for (size_t k = 0; c.good() && k < 4; k++)
                c = add_num(tree, DSRTypes::AM_afterCurrent,
                            code(st[k].v, "SCT", st[k].meaning), st[k].x, u);
        }
        break;
    }
    case DCX_MEAS_LENGTH:
    case DCX_MEAS_ANGLE:
    case DCX_MEAS_COBB: {
        bool len = m->kind == DCX_MEAS_LENGTH;
        c = add_num(tree, DSRTypes::AM_afterCurrent,
                    len ? code("410668003", "SCT", "Length")
                        : code("1483009", "SCT", "Angle"),
                    m->value, len ? len_unit : deg);
        // a Cobb angle is between two lines: one SCOORD each
        size_t lines = m->kind == DCX_MEAS_COBB ? 2 : 1;
        size_t per = m->kind == DCX_MEAS_COBB ? 2 : m->n;
        for (size_t l = 0; c.good() && l < lines; l++)
            c = add_scoord(tree, DSRTypes::RT_inferredFrom,
                           l == 0 ? DSRTypes::AM_belowCurrent
                                  : DSRTypes::AM_afterCurrent,
                           DSRTypes::GT_Polyline, m->xy + 2 * per * l, per,
                           false, img, m->frame);
        tree.goUp(); // back to the NUM
        break;
    }
    }
    tree.goUp(); // back to the group
    return c;
}

int write_measure_sr(const struct dcx_measure_sr_desc *d, const char *path,
                     char out_uid[65], struct dcx_error *e)
{
    if (!d->images || d->n_images == 0 || !d->m || d->n == 0) {
        dcx_err_set(e, "a measurement report needs images and measurements");
        return DCX_EINVAL;
    }
    for (size_t i = 0; i < d->n; i++) {
        int rc = check_measure(&d->m[i], d->n_images, e);
        if (rc < 0)
            return rc;
    }
    std::vector<std::unique_ptr<DcmFileFormat>> files;
    const char *study;
    int lrc = load_study(d->images, d->n_images, files, &study, e);
    if (lrc < 0)
        return lrc;
    std::vector<image_ref> refs(d->n_images);
    for (size_t i = 0; i < d->n_images; i++) {
        DcmDataset *ds = files[i]->getDataset();
        const char *st = nullptr;
        ds->findAndGetString(DCM_SOPClassUID, refs[i].cls);
        ds->findAndGetString(DCM_SOPInstanceUID, refs[i].inst);
        ds->findAndGetString(DCM_StudyInstanceUID, st);
        if (!refs[i].cls || !refs[i].inst || !st || strcmp(st, study) != 0) {
            dcx_err_set(e, "%s is not an image of the same study",
                        d->images[i]);
            return DCX_EINVAL;
        }
        // dcmsr takes only image storage classes in IMAGE items (not RT
        // Dose, for one)
        if (!DSRImageReferenceValue(refs[i].cls, refs[i].inst).isValid()) {
            dcx_err_set(e, "%s: DCMTK cannot reference its SOP class %s as "
                        "an image", d->images[i], refs[i].cls);
            return DCX_EBADDATA;
        }
    }
    DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
    DSRDocumentTree &tree = doc.getTree();
    OFCondition c = begin_doc(doc, study,
                              code("126000", "DCM",
                                   "Imaging Measurement Report"));
    if (c.good())
        c = tree.getCurrentContentItem().setTemplateIdentification("1500",
                                                                   "DCMR");
    // TID 1204 language, TID 1001/1002 observer, the procedure (CID 100)
    if (c.good())
        c = add_code(tree, DSRTypes::RT_hasConceptMod,
                     DSRTypes::AM_belowCurrent,
                     code("121049", "DCM",
                          "Language of Content Item and Descendants"),
                     code("en-US", "RFC5646", "English (US)"));
    if (c.good() && d->observer && *d->observer) {
        c = add_code(tree, DSRTypes::RT_hasObsContext,
                     DSRTypes::AM_afterCurrent,
                     code("121005", "DCM", "Observer Type"),
                     code("121006", "DCM", "Person"));
        if (c.good())
            c = add(tree, DSRTypes::RT_hasObsContext, DSRTypes::VT_PName,
                    DSRTypes::AM_afterCurrent,
                    code("121008", "DCM", "Person Observer Name"));
        if (c.good())
            c = tree.getCurrentContentItem().setStringValue(d->observer);
    }
    if (c.good())
        c = add_code(tree, DSRTypes::RT_hasConceptMod,
                     DSRTypes::AM_afterCurrent,
                     code("121058", "DCM", "Procedure reported"),
                     code("363679005", "SCT", "Imaging procedure"));
    // TID 1600: one group holding every image
    if (c.good())
        c = add(tree, DSRTypes::RT_contains, DSRTypes::VT_Container,
                DSRTypes::AM_afterCurrent,
                code("111028", "DCM", "Image Library"));
    if (c.good())
        c = add(tree, DSRTypes::RT_contains, DSRTypes::VT_Container,
                DSRTypes::AM_belowCurrent,
                code("126200", "DCM", "Image Library Group"));
    for (size_t i = 0; c.good() && i < d->n_images; i++) {
        if (!tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Image,
                                 i == 0 ? DSRTypes::AM_belowCurrent
                                        : DSRTypes::AM_afterCurrent))
            c = EC_IllegalCall;
        if (c.good())
            c = tree.getCurrentContentItem().setImageReference(
                DSRImageReferenceValue(refs[i].cls, refs[i].inst));
        if (c.good())
            c = doc.getCurrentRequestedProcedureEvidence().addItem(
                *files[i]->getDataset());
    }
    tree.goUp(); // the group
    tree.goUp(); // the library
    if (c.good())
        c = add(tree, DSRTypes::RT_contains, DSRTypes::VT_Container,
                DSRTypes::AM_afterCurrent,
                code("126010", "DCM", "Imaging Measurements"));
    for (size_t i = 0; c.good() && i < d->n; i++)
        c = add_group(tree,
                      i == 0 ? DSRTypes::AM_belowCurrent
                             : DSRTypes::AM_afterCurrent,
                      &d->m[i], i, refs[d->m[i].image]);
    if (c.bad()) {
        dcx_err_set(e, "cannot build the measurement report: %s", c.text());
        return DCX_EINVAL;
    }
    return save_doc(doc, "measurement report", d->images[0], path, out_uid,
                    e);
}

} // namespace

extern "C" int dcx_measure_sr_write(const struct dcx_measure_sr_desc *d,
                                    const char *path, char out_uid[65],
                                    struct dcx_error *e)
{
    try {
        return write_measure_sr(d, path, out_uid, e);
    } catch (...) {
        dcx_err_set(e, "internal error while writing a measurement report");
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_report_write(const struct dcx_report_desc *d,
                                const char *path, char out_uid[65],
                                struct dcx_error *e)
{
    try {
        return write_report(d, path, out_uid, e);
    } catch (...) {
        dcx_err_set(e, "internal error while writing a report");
        return DCX_EINTERNAL;
    }
}

extern "C" int dcx_ko_write(const struct dcx_ko_desc *d, const char *path,
                            char out_uid[65], struct dcx_error *e)
{
    try {
        return write_ko(d, path, out_uid, e);
    } catch (...) {
        dcx_err_set(e, "internal error while writing a key object selection");
        return DCX_EINTERNAL;
    }
}
