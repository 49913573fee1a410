// sr.cc - Key Object Selection documents (dcx/sr.h) through DCMTK's
// dcmsr: DSRDocument builds the SR modules, the evidence sequence and the
// content tree (TID 2010: title, optional description, image references).

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmsr/dsrdoc.h"

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
// (the image may be in GB18030 or another set: read through dcx, which
// converts), and out declared ISO_IR 192.
int copy_patient_study(const char *path, DcmDataset *out,
                       struct dcx_error *e)
{
    struct dcx_open_opts o = {};
    o.no_pixels = 1;
    dcx_ds *ds = nullptr;
    int rc = dcx_ds_open(path, &o, &ds, e);
    if (rc < 0)
        return rc;
    const dcx_item *root = dcx_ds_root(ds);
    for (const DcmTagKey &k : patient_study) {
        char buf[1024];
        uint32_t tag = static_cast<uint32_t>(k.getGroup()) << 16 | k.getElement();
        int n = dcx_item_get_str(root, tag, -1, buf, sizeof buf);
        if (n >= 0 || n == DCX_ECHARSET)
            out->putAndInsertString(k, buf);
    }
    dcx_ds_close(ds);
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

} // namespace

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
