#!/usr/bin/python3
"""The de-identified teaching export (consort-node export --anonymize).

usage: node_export.py CONSORT_NODE CONSORT_VIEW MAKE_GSPS WORKDIR PORT

A study with identifiers everywhere: a Chinese and Latin patient name, IDs,
an accession number, dates, physicians, institution, station, a device
serial number, a private element, an overlay plane, image references,
descriptions naming the patient; four CT slices (pydicom's CT_small), two
MR images stored JPEG-LS and RLE (pydicom's MR_small), and an ultrasound
image that states no Burned In Annotation. It goes to a running node
(consort-node send) with a GSPS, a key object "For Teaching File Export",
a report (Basic Text SR) and a TID 1500 measurement report made for it by
dcx (tests/make_gsps).

Checks:
  - the teaching key object queued the study (`export --list`);
  - `export --anonymize --teaching DIR` beside the running node writes the
    study, refuses the ultrasound image (exit 3), and says so;
  - DCMTK's dcmmkdir accepts every file for a General Purpose DICOMDIR, and
    dciodvfy finds no error in our DICOMDIR, images, GSPS, KO and SRs;
    pydicom reads the DICOMDIR and each record points to its file;
  - every element of every file (file meta and sequences included) is
    scanned: no original name (whole or part), ID, accession number,
    institution, physician, station, serial number, date or UID is left;
    private, overlay and comment elements are gone; dates moved 10-20 years
    back by one shift; Patient Identity Removed YES and the method codes;
  - the references between images, GSPS, KO and SRs resolve to exported
    files; pixels are unchanged (the JPEG-LS and RLE images decompressed,
    equal to GDCM's decoding of the originals);
  - consort-view opens the exported series and applies the GSPS: the same
    annotations at the same points as on the original files;
  - a second export (--allow-burned-in) gives the same pseudonym and the
    same new UIDs, and includes the ultrasound image (exit 0); the map is in
    the node's index only; the audit trail has both exports;
  - an export killed half-way (kill -9): the next export to the folder
    removes what it left and writes the study whole; two exports to one
    folder at once take turns (one study folder, one DICOMDIR).
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
import pydicom.fileset  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

DATA = os.path.join(nl.PYDICOM_DATA, "test_files")
NAME = "Wang^Wei=王^伟"
IDENT = {  # what must not survive, as text
    "name parts": ["Wang", "Wei", "王伟", "Wang^Wei", "王^伟", "Wang Wei"],
    "ids": ["8812345", "XJ-55501", "A20190417", "RP-4411", "PO-4411", "FO-4411"],
    "people/places": ["Li^Na", "Zhao^Lei", "Xian County Hospital", "XJCT01",
                      "SN-99812", "Dept of Radiology XJ"],
    # the visit and the rest of PS3.15 Table E.1-1 that a county's RIS
    # puts into images: admission and episode, ward, residence, VIP flag
    "visit": ["ADM-77301", "EP-5521", "Ward 5 Bed 12", "Xian Nursing Home",
              "VIP patient", "13900001111", "1958-lunar", "DEV-0042"],
}
# a coded entry's value, scheme and version, context and mapping: codes,
# not text (a scheme called TEST stays for a patient called Test)
CODE_TAGS = {0x00080100, 0x00080102, 0x00080103, 0x00080105, 0x0008010F,
             0x00080119}
CLASS_TAGS = {0x00080016, 0x00081150, 0x00020002, 0x00020010, 0x00020012,
              0x0008001A, 0x0008010C, 0x00080117, 0x00080118}


def identify(ds, study, series, sop, number, desc, when="20190417"):
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = NAME
    ds.PatientID = "8812345"
    ds.IssuerOfPatientID = "XJ"
    ds.OtherPatientIDs = "XJ-55501"
    ds.PatientBirthDate = "19580312"
    ds.PatientSex = "M"
    ds.PatientAge = "061Y"
    ds.AccessionNumber = "A20190417"
    ds.StudyID = "S7788"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = when
    ds.AcquisitionDate = when
    ds.StudyTime = "093000"
    ds.InstitutionName = "Xian County Hospital"
    ds.InstitutionalDepartmentName = "Dept of Radiology XJ"
    ds.ReferringPhysicianName = "Li^Na"
    ds.OperatorsName = "Zhao^Lei"
    ds.StationName = "XJCT01"
    ds.DeviceSerialNumber = "SN-99812"
    ds.StudyDescription = "CT 王伟 复查"
    ds.SeriesDescription = desc + " 8812345"
    ds.ImageComments = "patient Wang Wei, bed 12"
    # the name as text has it: other case, given name first, run together;
    # "Weight" is not the name "Wei"
    ds.ProtocolName = "WANG WEI: Weight-bearing, wei wang, wangwei"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.InstanceNumber = number
    ds.SeriesNumber = {"CT": 1, "MR": 2, "US": 3}.get(str(ds.Modality), 9)
    ds.AdmissionID = "ADM-77301"
    ds.ServiceEpisodeID = "EP-5521"
    ds.CurrentPatientLocation = "Ward 5 Bed 12"
    ds.PatientInstitutionResidence = "Xian Nursing Home"
    ds.ConfidentialityConstraintOnPatientDataDescription = "VIP patient"
    ds.CommentsOnTheScheduledProcedureStep = "call 13900001111"
    ds.PatientBirthDateInAlternativeCalendar = "1958-lunar"
    ds.DeviceID = "DEV-0042"
    ds.CreatorVersionUID = generate_uid()  # U in Table E.1-1
    ds.add_new(0x00190010, "LO", "ACME 1.0")
    ds.add_new(0x00191001, "LO", "Wang Wei 8812345")
    ds.file_meta.SourceApplicationEntityTitle = "XJCT01"


def build_study(src):
    os.makedirs(src)
    study, for_uid = generate_uid(), generate_uid()
    ct_series, mr_series, us_series = generate_uid(), generate_uid(), generate_uid()
    paths, sops = {}, []
    for i in range(4):
        ds = pydicom.dcmread(os.path.join(DATA, "CT_small.dcm"))
        sop = generate_uid()
        identify(ds, study, ct_series, sop, i + 1, "CT chest")
        ds.FrameOfReferenceUID = for_uid
        ds.ImagePositionPatient = [0, 0, -10.0 * i]
        ds.SliceLocation = -10.0 * i
        if sops:
            ref = Dataset()
            ref.ReferencedSOPClassUID = ds.SOPClassUID
            ref.ReferencedSOPInstanceUID = sops[-1]
            ds.ReferencedImageSequence = Sequence([ref])
        if i == 0:  # an overlay plane: it goes with the other 60xx data
            ds.add_new(0x60000010, "US", 8)
            ds.add_new(0x60000011, "US", 8)
            ds.add_new(0x60000040, "CS", "G")
            ds.add_new(0x60000050, "SS", [1, 1])
            ds.add_new(0x60000100, "US", 1)
            ds.add_new(0x60000102, "US", 0)
            ds.add_new(0x60003000, "OW", b"\xff" * 8)
        p = os.path.join(src, "ct%d.dcm" % i)
        ds.save_as(p, write_like_original=False)
        paths["ct%d" % i] = p
        sops.append(sop)
    for i, name in enumerate(["MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm"]):
        ds = pydicom.dcmread(os.path.join(DATA, name))
        identify(ds, study, mr_series, generate_uid(), i + 1, "MR brain")
        p = os.path.join(src, "mr%d.dcm" % i)
        ds.save_as(p, write_like_original=False)
        paths["mr%d" % i] = p
    ds = pydicom.dcmread(os.path.join(DATA, "CT_small.dcm"))
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    ds.Modality = "US"
    identify(ds, study, us_series, generate_uid(), 1, "US liver")
    p = os.path.join(src, "us.dcm")
    ds.save_as(p, write_like_original=False)
    paths["us"] = p
    return study, paths


def pdf_document(study, burned_in):
    """An encapsulated PDF (a scanned referral) naming the patient."""
    ds = Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = \
        "1.2.840.10008.5.1.4.1.1.104.1"
    ds.Modality, ds.ConversionType, ds.Manufacturer = "DOC", "SD", ""
    identify(ds, study, generate_uid(), generate_uid(), 1, "referral")
    ds.ContentTime, ds.AcquisitionDateTime = "093000", "20190417093000"
    ds.BurnedInAnnotation = burned_in
    ds.DocumentTitle = "referral"
    ds.ConceptNameCodeSequence = Sequence()
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = (b"%PDF-1.4\n% Referral: WANG WEI, ID 8812345, "
                               b"born 1958-03-12\n%%EOF\n")
    return ds


def walk(ds, out, path=""):
    """(tag, VR, value) of every element, sequences entered."""
    for el in ds:
        if el.VR == "SQ":
            for item in el.value:
                walk(item, out, path + str(el.tag) + ">")
        else:
            out.append((el.tag, el.VR, el.value, path))
    return out


def elements(path):
    ds = pydicom.dcmread(path)
    return walk(ds.file_meta, []) + walk(ds, [])


def values(v):
    if isinstance(v, (list, pydicom.multival.MultiValue)):
        return [str(x) for x in v]
    if isinstance(v, bytes):
        return []
    return [str(v)]


def originals(files):
    """Dates and instance UIDs of the source files."""
    dates, uids = set(), set()
    for f in files:
        for tag, vr, v, _ in elements(f):
            for s in values(v):
                if vr in ("DA", "DT") and len(s) >= 8:
                    dates.add(s[:8])
                if vr == "UI" and "." in s and not s.startswith("1.2.840.10008.") \
                        and int(tag) not in CLASS_TAGS:
                    uids.add(s)
    return dates, uids


def word(w):
    """w as a whole word or number, any case (\"Wei\" is not in \"Weight\")."""
    pre = r"(?<![A-Za-z])" if w[0].isascii() and w[0].isalpha() else \
        r"(?<![0-9])" if w[0].isdigit() else ""
    post = r"(?![A-Za-z])" if w[-1].isascii() and w[-1].isalpha() else \
        r"(?![0-9])" if w[-1].isdigit() else ""
    return re.compile(pre + re.escape(w) + post, re.I)


def scan(files, dates, uids):
    """Everything of the originals found in the exported files."""
    found = []
    words = [(w, word(w)) for k in IDENT.values() for w in k]
    for f in files:
        for tag, vr, v, where in elements(f):
            if tag.is_private or (tag.group & 0xFF00) == 0x6000 or tag in (
                    0x00204000, 0x00101000):
                found.append("%s: %s%s is there" % (f, where, tag))
            if isinstance(v, bytes) and tag != 0x7FE00010:
                texts = [v.decode("latin-1")]
            else:
                texts = values(v)
            for s in texts:
                for w, rx in words:
                    if int(tag) not in CODE_TAGS and rx.search(s):
                        found.append("%s: %s%s %s holds %r" % (f, where, tag, vr, w))
                if vr != "UI":
                    for d in dates:
                        if d in s:
                            found.append("%s: %s%s holds the date %s" % (f, where, tag, d))
                if s in uids:
                    found.append("%s: %s%s holds an original UID" % (f, where, tag))
    return found


def run_view(view, folder, cache):
    p = subprocess.run([view, "--size", "512x512", "--script", "-", folder],
                       input="wait\nstate\nquit\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120,
                       env=dict(os.environ, SDL_VIDEODRIVER="offscreen",
                                XDG_CACHE_HOME=cache))
    st = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    return st[-1] if st else {"note": p.stdout[-300:], "annotations": []}


def main():
    node, view, make, work, port = sys.argv[1:6]
    port = int(port)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    src = os.path.join(work, "src")
    study, paths = build_study(src)
    cts = [paths["ct%d" % i] for i in range(4)]
    made = os.path.join(work, "made")
    os.makedirs(made)
    gsps, ko = os.path.join(made, "ps.dcm"), os.path.join(made, "ko.dcm")
    report, mrep = os.path.join(made, "report.dcm"), os.path.join(made, "mr.dcm")
    gsps_us = os.path.join(made, "ps-us.dcm")
    nl.run([make, gsps, "40", "400"] + cts[:2], check_rc=0)
    nl.run([make, gsps_us, "40", "400", paths["us"]], check_rc=0)
    # the key object and the report name the ultrasound image too, which
    # the export refuses: references to it must go from what is written
    nl.run([make, "--ko", ko, "teaching", cts[1], paths["us"]], check_rc=0)
    nl.run([make, "--report", report] + cts + [paths["us"]], check_rc=0)
    # the order it answers (PS3.3 C.17.2: Requested Procedure ID is Type 2
    # there, so it is emptied, not removed)
    rep = pydicom.dcmread(report)
    req = Dataset()
    req.StudyInstanceUID = rep.StudyInstanceUID
    req.ReferencedStudySequence = Sequence()
    req.AccessionNumber = "A20190417"
    req.RequestedProcedureID = "RP-4411"
    req.RequestedProcedureDescription = "CT chest Wang Wei"
    req.RequestedProcedureCodeSequence = Sequence()
    req.PlacerOrderNumberImagingServiceRequest = "PO-4411"
    req.FillerOrderNumberImagingServiceRequest = "FO-4411"
    rep.ReferencedRequestSequence = Sequence([req])
    rep.save_as(report, write_like_original=False)
    nl.run([make, "--measure", mrep, cts[0]], check_rc=0)
    sources = list(paths.values()) + [gsps, gsps_us, ko, report, mrep]
    dates, uids = originals(sources)
    raw = open(cts[0], "rb").read()
    nl.expect(all(w.encode() in raw for w in IDENT["visit"]) and
              str(pydicom.dcmread(cts[0]).CreatorVersionUID) in uids,
              "the originals carry the visit, Device ID and Creator-Version UID")

    storage = os.path.join(work, "var")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node.log"),
                         sync="normal").start()
    rc, out = nl.run([node, "send", src, made, "--to", "CONSORT@127.0.0.1:%d" % port,
                      "--no-progress"])
    nl.expect(rc == 0, "the study and its GSPS, KO and reports stored (%s)" %
              out.strip().splitlines()[-1:])
    rc, out = nl.run([node, "export", "--list", "--storage", storage])
    nl.expect(rc == 0 and study in out and "pending" in out,
              "the teaching key object queued the study: %s" % out.strip())

    dest = os.path.join(work, "teaching")
    rc, out = nl.run([node, "export", "--anonymize", "--teaching", dest,
                      "--storage", storage, "--user", "teacher"])
    print(out.strip())
    nl.expect(rc == 3 and "1 refused" in out and "burned-in" in out.lower(),
              "export --anonymize --teaching beside the running node: the "
              "ultrasound image (no Burned In Annotation stated) refused, exit 3")
    nl.expect("1 left out" in out and out.count("reference(s) to refused images "
                                                "taken out") == 2,
              "the GSPS drawn on that image alone left out; its references taken "
              "out of the key object and the report")
    files = [f for f in nl.files_under(os.path.join(dest, "DICOM"))]
    nl.expect(len(files) == 10 and os.path.exists(os.path.join(dest, "DICOMDIR")),
              "10 files (4 CT, 2 MR, GSPS, KO, 2 SR) and a DICOMDIR written")
    nl.expect(not [f for f in files if not re.search(r"/DICOM/ST\d{6}/SE\d{6}/IM\d{6}$", f)],
              "file names fit PS3.10 (8 characters, A-Z 0-9)")

    # DCMTK's own dcmmkdir checks every file against the General Purpose
    # profile (without inventing missing values)
    rc, out = nl.run(["dcmmkdir", "--recurse", "--input-directory", dest,
                      "--output-file", os.path.join(work, "DICOMDIR.check"), "DICOM"])
    nl.expect(rc == 0 and "E:" not in out, "dcmmkdir accepts every exported file%s" %
              (": " + out[-400:] if rc else ""))
    rc, out = nl.run(["dciodvfy", os.path.join(dest, "DICOMDIR")])
    errs = [l for l in out.splitlines() if l.startswith("Error")]
    nl.expect(not errs, "dciodvfy: no error in the DICOMDIR %s" % errs[:3])
    fs = pydicom.fileset.FileSet(os.path.join(dest, "DICOMDIR"))
    recs = [os.path.normpath(i.path) for i in fs]
    nl.expect(sorted(recs) == sorted(os.path.normpath(f) for f in files),
              "the DICOMDIR has a record for each file (%d)" % len(recs))
    bad = []
    for f in files:
        rc, out = nl.run(["dciodvfy", f])
        errs = [l for l in out.splitlines() if l.startswith("Error")]
        if errs:
            bad.append("%s: %s" % (f, errs[:2]))
    nl.expect(not bad, "dciodvfy: no error in any exported file %s" % bad[:3])

    found = scan(files + [os.path.join(dest, "DICOMDIR")], dates, uids)
    nl.expect(not found, "no original name, ID, date, UID, private or overlay "
              "element in any element of any file (%d dates, %d UIDs looked for)%s" %
              (len(dates), len(uids), "; " + "; ".join(found[:6]) if found else ""))
    out_ds = {f: pydicom.dcmread(f) for f in files}
    by_class = {}
    for f, ds in out_ds.items():
        by_class.setdefault(ds.SOPClassUID, []).append(ds)
    img = by_class.get("1.2.840.10008.5.1.4.1.1.2", [])
    pseud = {str(ds.PatientID) for ds in out_ds.values()}
    nl.expect(len(pseud) == 1 and re.fullmatch(r"TF\d{6}", pseud.pop() or "") and
              all(ds.PatientIdentityRemoved == "YES" and
                  "113100" in [c.CodeValue for c in ds.DeidentificationMethodCodeSequence]
                  for ds in out_ds.values()),
              "one pseudonym TFnnnnnn; Patient Identity Removed YES and the "
              "Basic Profile code in every file")
    src_ct = pydicom.dcmread(cts[0])
    shifts = {(np.datetime64("%s-%s-%s" % (d[:4], d[4:6], d[6:8])) -
               np.datetime64("2019-04-17")).astype(int)
              for ds in img for d in [ds.StudyDate]}
    nl.expect(len(shifts) == 1 and -7300 <= next(iter(shifts)) <= -3650 and
              str(img[0].StudyTime) == "093000",
              "dates moved back by one shift of 10-20 years (%s days), times kept" % shifts)
    nl.expect(all(str(ds.PatientSex) == "" and "PatientAge" not in ds for ds in img),
              "sex emptied, age removed (Basic Profile without Retain Patient "
              "Characteristics)")
    nl.expect(all("***" in str(ds.StudyDescription) and "复查" in str(ds.StudyDescription)
                  for ds in img),
              "descriptions kept with the name struck out: %r" %
              str(img[0].StudyDescription if img else ""))
    protocol = {str(ds.ProtocolName) for ds in img}
    nl.expect(protocol == {"***: Weight-bearing, ***, ***"},
              "the name struck out of text whatever its case and order, and "
              "only as a whole word: %s" % protocol)

    # references resolve inside the export
    sop_of = {str(ds.SOPInstanceUID): ds for ds in out_ds.values()}
    ps = by_class.get("1.2.840.10008.5.1.4.1.1.11.1", [None])[0]
    refs = [(str(s.SeriesInstanceUID), str(r.ReferencedSOPInstanceUID))
            for s in ps.ReferencedSeriesSequence for r in s.ReferencedImageSequence] if ps else []
    nl.expect(len(refs) == 2 and all(u in sop_of and str(sop_of[u].SeriesInstanceUID) == s
                                      for s, u in refs),
              "the GSPS references two exported CT images of their exported series")
    for cls, what in (("1.2.840.10008.5.1.4.1.1.88.59", "key object"),
                      ("1.2.840.10008.5.1.4.1.1.88.11", "report"),
                      ("1.2.840.10008.5.1.4.1.1.88.33", "measurement report")):
        doc = by_class.get(cls, [None])[0]
        ev = [(str(st.StudyInstanceUID), str(r.ReferencedSOPInstanceUID))
              for st in (doc.CurrentRequestedProcedureEvidenceSequence if doc else [])
              for se in st.ReferencedSeriesSequence for r in se.ReferencedSOPSequence]
        anywhere = []  # the content tree's IMAGE items too
        if doc is not None:
            doc.walk(lambda d, el: anywhere.append(str(el.value))
                     if el.tag == 0x00081155 else None)
        nl.expect(doc is not None and ev and str(doc.StudyInstanceUID) == str(img[0].StudyInstanceUID) and
                  all(st == str(doc.StudyInstanceUID) and u in sop_of for st, u in ev) and
                  anywhere and all(u in sop_of for u in anywhere),
                  "the %s's evidence resolves to exported images (%d), and so does "
                  "every reference in it (%d)" % (what, len(ev), len(anywhere)))
    ct_uids = {str(ds.SOPInstanceUID) for ds in img}
    inner = [str(r.ReferencedSOPInstanceUID) for ds in img
             for r in ds.get("ReferencedImageSequence", [])]
    nl.expect(len(inner) == 3 and set(inner) <= ct_uids and
              len({str(ds.FrameOfReferenceUID) for ds in img}) == 1,
              "references between the CT images and their frame of reference stay "
              "consistent")

    # pixels: the same, the compressed ones decompressed
    same = all(np.array_equal(ds.pixel_array, src_ct.pixel_array) for ds in img)
    mrs = sorted(by_class.get("1.2.840.10008.5.1.4.1.1.4", []),
                 key=lambda d: int(d.InstanceNumber))
    for i, ds in enumerate(mrs):
        ref = os.path.join(work, "mr%d.raw.dcm" % i)
        nl.run(["gdcmconv", "--raw", paths["mr%d" % i], ref], check_rc=0)
        same = same and ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1" and \
            np.array_equal(ds.pixel_array, pydicom.dcmread(ref).pixel_array)
    nl.expect(len(mrs) == 2 and same, "pixels unchanged; the JPEG-LS and RLE images "
              "decompressed equal GDCM's decoding of the originals")

    # consort-view: the exported series with its GSPS applied
    orig_dir = os.path.join(work, "orig_view")
    os.makedirs(orig_dir)
    for p in cts + [gsps]:
        shutil.copy(p, orig_dir)
    a = run_view(view, orig_dir, os.path.join(work, "cache1"))
    ct_file = [f for f, ds in out_ds.items() if ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"][0]
    b = run_view(view, os.path.dirname(ct_file), os.path.join(work, "cache2"))
    marks = lambda st: sorted((x["tool"], x["points"], x["label"]) for x in st["annotations"])
    nl.expect(a["annotations"] and marks(a) == marks(b) and b.get("presents") == 1,
              "consort-view opens the exported series and applies its GSPS: %d "
              "annotations as on the originals (%s)" % (len(b["annotations"]), b["note"]))
    c = run_view(view, dest, os.path.join(work, "cache3"))
    nl.expect(marks(c) == marks(a) and c.get("layout") == 2,
              "consort-view opens the whole media folder: MR and CT side by side, "
              "the CT's GSPS applied although the CT is not the first viewport")
    # a disc whose DICOMDIR names a file that is not there: the rest opens
    # and the note names the missing one
    disc = os.path.join(work, "disc")
    shutil.copytree(dest, disc)
    gone = sorted(f for f in nl.files_under(disc)
                  if "/DICOM/" in f and pydicom.dcmread(f).SOPClassUID ==
                  "1.2.840.10008.5.1.4.1.1.2")[0]
    os.unlink(gone)
    d = run_view(view, disc, os.path.join(work, "cache4"))
    warn = d.get("warning", d["note"])
    nl.expect(d.get("layout") == 2 and "1 DICOM file(s) cannot be read" in warn
              and os.path.basename(gone) in warn and "No such file" in warn,
              "a file the DICOMDIR names is missing: the rest opens, the "
              "warning says which (%s)" % warn)

    # again, with the ultrasound image: the same pseudonym and UIDs
    dest2 = os.path.join(work, "again")
    rc, out = nl.run([node, "export", "--anonymize", "--allow-burned-in", study,
                      dest2, "--storage", storage, "--user", "teacher"])
    files2 = nl.files_under(os.path.join(dest2, "DICOM"))
    ds2 = [pydicom.dcmread(f) for f in files2]
    nl.expect(rc == 0 and len(files2) == 12 and
              {str(d.SOPInstanceUID) for d in ds2} >= set(sop_of) and
              {str(d.PatientID) for d in ds2} == {str(img[0].PatientID)},
              "a second export: the ultrasound image too (--allow-burned-in), the "
              "same pseudonym and the same new UIDs")
    rc, out = nl.run([node, "export", "--anonymize", study, dest2,
                      "--storage", storage])
    nl.expect(rc == 0 and "already in" in out and
              len(nl.files_under(os.path.join(dest2, "DICOM"))) == 12,
              "exporting it to the same folder again adds nothing: %s" %
              out.strip().splitlines()[:1])
    n_map = nl.index_rows(storage, "SELECT count(*) FROM deid_uids")[0][0]
    nl.expect(n_map >= 11, "the UID map (%d UIDs) is in the node's index" % n_map)
    rc, out = nl.run([node, "export", "--list", "--storage", storage])
    nl.expect("exported to " + dest2 in out, "the teaching queue shows the study "
              "exported: %s" % out.strip())
    rc, out = nl.run([node, "audit", "--storage", storage, "--event", "export",
                      "--json"])
    ev = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    nl.expect(len(ev) == 2 and all(e.get("user") == "teacher" for e in ev) and
              ev[0].get("failed") == 2,
              "the audit trail has both exports (user, destination, 1 refused "
              "and 1 left out)")

    # real files from elsewhere: every study pydicom's test files make in
    # the archive, exported de-identified. Each file is written or left out
    # with a reason; dciodvfy finds no error in what we wrote that the
    # original did not have; no original name, ID, date or UID is left
    before = {r[0] for r in nl.index_rows(storage, "SELECT study_uid FROM studies")}
    nl.run([node, "send", DATA, "--to", "CONSORT@127.0.0.1:%d" % port,
            "--no-progress"])
    real = sorted({r[0] for r in nl.index_rows(storage, "SELECT study_uid FROM studies")}
                  - before)
    dest6 = os.path.join(work, "real")
    rc, out = nl.run([node, "export", "--anonymize", "--allow-burned-in"] + real +
                     [dest6, "--storage", storage], timeout=300)
    left = re.findall(r"(DICOM/\S+) left out: it does not fit a DICOMDIR", out)
    files6 = nl.files_under(os.path.join(dest6, "DICOM"))
    n_in = len(re.findall(r"^study .*: (\d+) written", out, re.M))
    rev = {r[1]: r[0] for r in nl.index_rows(storage, "SELECT original, replacement FROM deid_uids")}
    norm = lambda l: re.sub(r"[0-9][0-9.]*", "N", l)

    def dcio_errors(p):
        r = subprocess.run(["dciodvfy", p], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        return {norm(l) for l in r.stdout.splitlines() if l.startswith("Error")}
    new_errors, srcs, unread = [], [], 0
    for f in files6:
        ds6 = pydicom.dcmread(f, stop_before_pixels=True)
        src6 = os.path.join(storage, nl.rel_path(rev.get(str(ds6.SOPInstanceUID), "")))
        srcs.append(src6)
        before6 = dcio_errors(src6)
        if "Error - Dicom dataset read failed" in before6:
            unread += 1  # dciodvfy cannot read the original: nothing to compare
            continue
        extra = dcio_errors(f) - before6
        if extra:
            new_errors.append("%s (%s): %s" % (f[len(dest6) + 1:], ds6.SOPClassUID,
                                               sorted(extra)[:2]))
    nl.expect(rc in (0, 1) and len(real) >= 15 and len(files6) >= 50 and
              (rc == 0) == (not left) and not new_errors,
              "pydicom's real files: %d studies, %d files exported de-identified, "
              "%d left out with a reason (%s); dciodvfy finds no error the "
              "originals did not have (%d originals it cannot read)%s" % (
                  len(real), len(files6), len(left), ", ".join(left) or "-", unread,
                  "; " + "; ".join(new_errors[:3]) if new_errors else ""))
    names, ids = set(), set()
    for s6 in srcs:
        d6 = pydicom.dcmread(s6, stop_before_pixels=True)
        for part in re.split(r"[\^=]", str(d6.get("PatientName", ""))):
            # (one of them is called Anonymous: so is our dummy value)
            if len(part.strip()) >= 4 and part.strip().upper() != "ANONYMOUS":
                names.add(part.strip())
        if len(str(d6.get("PatientID", ""))) >= 6:
            ids.add(str(d6.PatientID))
    # each patient's dates against that patient's originals: another
    # patient's date moved by a random 10-20 years may well be one of
    # these (Lestrade's 20170101 became 20030903, rtplan.dcm's date)
    dates6, uids6 = originals(srcs)
    of_patient = {}
    for f, s6 in zip(files6, srcs):
        pid = str(pydicom.dcmread(f, stop_before_pixels=True).PatientID)
        of_patient.setdefault(pid, []).append((f, s6))
    saved = IDENT["ids"], IDENT["name parts"]
    IDENT["ids"], IDENT["name parts"] = sorted(ids), sorted(names)
    found6 = [x for pairs in of_patient.values()
              for x in scan([f for f, _ in pairs],
                            originals([s6 for _, s6 in pairs])[0], uids6)]
    IDENT["ids"], IDENT["name parts"] = saved
    struck = [(f, str(el.tag)) for f in files6
              for el in pydicom.dcmread(f, stop_before_pixels=True).iterall()
              if int(el.tag) in CODE_TAGS and "***" in str(el.value)]
    nl.expect(not struck, "codes are not text: no code value or scheme "
              "struck out %s" % struck[:3])
    nl.expect(not found6, "no original name, ID, date or UID of theirs in any "
              "element (%d names, %d IDs, %d dates, %d UIDs looked for)%s" % (
                  len(names), len(ids), len(dates6), len(uids6),
                  "; " + "; ".join(found6[:4]) if found6 else ""))

    # odd cases: an old-style date, a patient ID of stars, a CT flagged
    # with recognizable visual features, a multi-frame secondary capture
    # not stating burned-in annotation (refused by its class), a PDF
    # stating it (its text names the patient: refused as well); with
    # --keep-patient-characteristics sex and age stay
    src3 = os.path.join(work, "src3")
    os.makedirs(src3)
    study3, series3 = generate_uid(), generate_uid()
    for i, kind in enumerate(["plain", "faces", "sc"]):
        ds = pydicom.dcmread(os.path.join(DATA, "CT_small.dcm"))
        identify(ds, study3, series3, generate_uid(), i + 1, "CT odd")
        ds.PatientName, ds.PatientID, ds.PatientSex = "Zhou^Min", "***", "F"
        ds.SeriesDate = "2019.04.17"
        if kind == "faces":
            ds.RecognizableVisualFeatures = "YES"
        if kind == "sc":
            ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = \
                "1.2.840.10008.5.1.4.1.1.7.3"
        ds.save_as(os.path.join(src3, "%s.dcm" % kind), write_like_original=False)
    # a scanned referral as an encapsulated PDF: Burned In Annotation YES
    pdf = pdf_document(study3, "YES")
    pdf.PatientName, pdf.PatientID, pdf.PatientSex = "Zhou^Min", "***", "F"
    pdf.save_as(os.path.join(src3, "pdf.dcm"), write_like_original=False)
    nl.run([node, "send", src3, "--to", "CONSORT@127.0.0.1:%d" % port,
            "--no-progress"], check_rc=0)
    dest3 = os.path.join(work, "odd")
    rc, out = nl.run([node, "export", "--anonymize", "--keep-patient-characteristics",
                      study3, dest3, "--storage", storage], timeout=60)
    files4 = nl.files_under(os.path.join(dest3, "DICOM"))
    d4 = pydicom.dcmread(files4[0]) if len(files4) == 1 else None
    nl.expect(rc == 3 and "3 refused" in out and d4 is not None and
              re.fullmatch(r"\d{8}", str(d4.SeriesDate)) and d4.SeriesDate != "20190417" and
              str(d4.PatientSex) == "F" and str(d4.PatientAge) == "061Y" and
              "113108" in [c.CodeValue for c in d4.DeidentificationMethodCodeSequence] and
              "***" not in str(d4.PatientID),
              "odd cases: recognizable features, a multi-frame SC and a PDF "
              "stating burned-in annotation refused, the "
              "old-style date shifted (%s), a patient ID of stars ends, sex and age "
              "kept with Retain Patient Characteristics" %
              (d4.SeriesDate if d4 is not None else out.strip()[-200:]))

    # a teaching case of ultrasound only: every image refused, so it is
    # marked refused (not tried again) until --allow-burned-in
    src5 = os.path.join(work, "src5")
    os.makedirs(src5)
    study5 = generate_uid()
    ds = pydicom.dcmread(paths["us"])
    identify(ds, study5, generate_uid(), generate_uid(), 1, "US")
    ds.save_as(os.path.join(src5, "us.dcm"), write_like_original=False)
    nl.run([make, "--ko", os.path.join(src5, "ko.dcm"), "teaching",
            os.path.join(src5, "us.dcm")], check_rc=0)
    nl.run([node, "send", src5, "--to", "CONSORT@127.0.0.1:%d" % port,
            "--no-progress"], check_rc=0)
    dest5 = os.path.join(work, "us_case")
    rc1, out1 = nl.run([node, "export", "--anonymize", "--teaching", dest5,
                        "--storage", storage])
    left = os.path.exists(os.path.join(dest5, "DICOM", "ST000001"))
    listed = nl.run([node, "export", "--list", "--storage", storage])[1]
    rc2, out2 = nl.run([node, "export", "--anonymize", "--teaching", dest5,
                        "--storage", storage])
    rc3, out3 = nl.run([node, "export", "--anonymize", "--teaching",
                        "--allow-burned-in", dest5, "--storage", storage])
    nl.expect(rc1 == 3 and not left and
              [l for l in listed.splitlines() if study5 in l and "refused" in l] and
              rc2 == 0 and "nothing to export" in out2 and
              rc3 == 0 and len(nl.files_under(os.path.join(dest5, "DICOM"))) == 2,
              "an ultrasound-only teaching case: refused (exit 3, no empty folders), "
              "listed as refused and not tried again; --allow-burned-in exports it "
              "(exit %d, %d, %d)" % (rc1, rc2, rc3))

    # a teaching folder of two cases: consort-view lists them from the
    # DICOMDIR (reading status from its SOP classes), typing the pseudonym
    # and Enter opens one with its GSPS applied
    multi = os.path.join(work, "multi")
    rc, out = nl.run([node, "export", "--anonymize", study, study3, multi,
                      "--storage", storage])
    p = subprocess.run([view, "--size", "800x600", "--script", "-", multi],
                       input="wait\nstate\ntext %s\nkey Return\nwait\nstate\nquit\n" %
                       img[0].PatientID, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120,
                       env=dict(os.environ, SDL_VIDEODRIVER="offscreen",
                                XDG_CACHE_HOME=os.path.join(work, "cache4")))
    st = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    nl.expect(rc == 3 and len(st) == 2 and st[0]["mode"] == "browser" and
              st[0]["studies"] == 2 and sorted(st[0]["reading"]) == ["reported", "unread"] and
              st[0]["thumbnails"] == 2 and
              st[1]["mode"] == "viewer" and marks(st[1]) == marks(a),
              "consort-view on a teaching folder of two cases: the browser lists "
              "both from the DICOMDIR (reported / unread, thumbnails), the pseudonym typed and "
              "Enter open the first with its GSPS applied (%s)" %
              ([s.get("mode") for s in st] if st else p.stdout[-300:]))

    # an export killed (kill -9) half-way leaves files no DICOMDIR names;
    # the next export to that folder removes them and writes the study
    # whole. Two exports to one folder at once take turns.
    src6 = os.path.join(work, "src6")
    os.makedirs(src6)
    study6, series6 = generate_uid(), generate_uid()
    base = pydicom.dcmread(os.path.join(DATA, "CT_small.dcm"))
    for i in range(400):
        ds = copy.deepcopy(base)
        identify(ds, study6, series6, generate_uid(), i + 1, "CT")
        ds.save_as(os.path.join(src6, "ct%03d.dcm" % i), write_like_original=False)
    nl.run([node, "send", src6, "--to", "CONSORT@127.0.0.1:%d" % port,
            "--no-progress"], check_rc=0)
    dest6 = os.path.join(work, "killed")
    journal = os.path.join(dest6, ".consort-export")
    interrupted, left = False, []
    for _ in range(3):  # until the kill lands before the DICOMDIR
        shutil.rmtree(dest6, ignore_errors=True)
        p = subprocess.Popen([node, "export", "--anonymize", study6, dest6,
                              "--storage", storage], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        t0 = time.time()
        while p.poll() is None and time.time() - t0 < 30:
            if len(nl.files_under(os.path.join(dest6, "DICOM"))) >= 20:
                break
            time.sleep(0.002)
        p.kill()
        p.wait()
        left = nl.files_under(os.path.join(dest6, "DICOM"))
        interrupted = (os.path.exists(journal) and left and
                       not os.path.exists(os.path.join(dest6, "DICOMDIR")))
        if interrupted:
            break
    rc, out = nl.run([node, "export", "--anonymize", study6, dest6,
                      "--storage", storage])
    files6 = nl.files_under(os.path.join(dest6, "DICOM"))
    recs6 = []
    if os.path.exists(os.path.join(dest6, "DICOMDIR")):
        recs6 = [os.path.normpath(i.path) for i in
                 pydicom.fileset.FileSet(os.path.join(dest6, "DICOMDIR"))]
    nl.expect(interrupted and rc == 0 and "interrupted" in out and
              len(files6) == 400 and sorted(recs6) == files6 and
              not os.path.exists(journal),
              "an export killed after %d files: the next one removes them (\"%s\") "
              "and writes all 400 files, each in the DICOMDIR, no journal left" %
              (len(left), (re.findall(r"removed [^\n]*", out) or [out[-200:]])[0]))
    dest7 = os.path.join(work, "twice")
    ps = []
    for _ in range(2):
        ps.append(subprocess.Popen([node, "export", "--anonymize", study6, dest7,
                                    "--storage", storage], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True))
        time.sleep(0.05)
    outs = [q.communicate(timeout=120)[0] for q in ps]
    files7 = nl.files_under(os.path.join(dest7, "DICOM"))
    recs7 = [os.path.normpath(i.path) for i in
             pydicom.fileset.FileSet(os.path.join(dest7, "DICOMDIR"))]
    nl.expect([q.returncode for q in ps] == [0, 0] and len(files7) == 400 and
              sorted(recs7) == files7 and
              sum("left as it is" in o for o in outs) == 1,
              "two exports of one study to one folder at once: one writes it "
              "(400 files, one study folder), the other finds it there%s" %
              (" (it waited its turn)" if any("waiting" in o for o in outs) else ""))
    srv.stop()

    # the node exports by itself: [node] teaching_dir, a new study marked
    auto = os.path.join(work, "auto")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node2.log"),
                         "teaching_dir = %s\nteaching_delay = 1\n" % auto,
                         sync="normal").start()
    src2 = os.path.join(work, "src2")
    os.makedirs(src2)
    study2, series2 = generate_uid(), generate_uid()
    for i in range(2):
        ds = pydicom.dcmread(os.path.join(DATA, "CT_small.dcm"))
        identify(ds, study2, series2, generate_uid(), i + 1, "CT head")
        ds.PatientName, ds.PatientID = "Li^Ming", "7700123"
        ds.save_as(os.path.join(src2, "ct%d.dcm" % i), write_like_original=False)
    ko2 = os.path.join(work, "ko2.dcm")
    nl.run([make, "--ko", ko2, "teaching", os.path.join(src2, "ct0.dcm")], check_rc=0)
    shutil.copy(ko2, src2)
    nl.run([node, "send", src2, "--to", "CONSORT@127.0.0.1:%d" % port,
            "--no-progress"], check_rc=0)
    t0 = time.time()
    while time.time() - t0 < 40 and "teaching export ended" not in srv.log_text():
        time.sleep(0.5)
    listed = nl.run([node, "export", "--list", "--storage", storage])[1]
    files3 = nl.files_under(os.path.join(auto, "DICOM"))
    ids3 = {str(pydicom.dcmread(f).PatientID) for f in files3}
    nl.expect(len(files3) == 3 and os.path.exists(os.path.join(auto, "DICOMDIR")) and
              len(ids3) == 1 and ids3 != {str(img[0].PatientID)} and
              "teaching export ended status=0" in srv.log_text() and
              "exported to " + auto in listed,
              "with teaching_dir the node exported the newly marked study by "
              "itself, de-identified, another patient another pseudonym (%s, "
              "%.0f s)" % (ids3, time.time() - t0))
    srv.stop()

    # one Patient ID, two people (county sites number patients on their
    # own): another person under 7700123 is another teaching patient
    src3 = os.path.join(work, "src-same-id")
    os.makedirs(src3)
    study3 = generate_uid()
    ds = pydicom.dcmread(os.path.join(DATA, "CT_small.dcm"))
    identify(ds, study3, generate_uid(), generate_uid(), 1, "CT chest")
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Zhao^Lei", "7700123", "19400101"
    ds.save_as(os.path.join(src3, "ct.dcm"), write_like_original=False)
    nl.run([node, "import", "--storage", storage, "--no-progress", src3], check_rc=0)

    def pseudonym_of(uid, out):
        nl.run([node, "export", "--anonymize", uid, out, "--storage", storage],
               check_rc=0)
        return {str(pydicom.dcmread(f).PatientID)
                for f in nl.files_under(os.path.join(out, "DICOM"))}
    other = pseudonym_of(study3, os.path.join(work, "same-id-other"))
    nl.check(len(other) == 1 and other != ids3,
             "another person with Li Ming's Patient ID gets a pseudonym of "
             "their own: %s, Li Ming %s" % (other, ids3))
    # a mapping made before people were told apart (person '') is taken
    # over by the first export of its ID: earlier exports still agree
    nl.index_exec(storage, "UPDATE deid_patients SET person = '' WHERE"
                  " pseudonym = ?", (sorted(ids3)[0],))
    again = pseudonym_of(study2, os.path.join(work, "same-id-again"))
    nl.check(again == ids3, "a mapping from schema 7 is kept for its patient: "
             "%s, before %s" % (again, ids3))
    nl.finish("node_export")


if __name__ == "__main__":
    main()
