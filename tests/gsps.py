#!/usr/bin/python3
"""Presentation states written by dcx_gsps_write (tests/make_gsps.c): one
of each graphic type, a Chinese text, a window and a displayed area on
pydicom's CT_small.

usage: gsps.py MAKE_GSPS WORKDIR

Checks: dciodvfy (dicom3tools) reports no error; DCMTK's dcmpschk passes
the ASCII variant (dcmpschk 3.6.7 rejects every byte over 0x7F whatever
the character set: shown here on DCMTK's own dcmpsmk output for a UTF-8
image); the Chinese text reads back with pydicom; DCMTK's dcmp2pgm
applies the state to the image, and its output equals PS3.3 C.11.2
windowing computed here with numpy (within 1 grey level); dcx_gsps_read
gives back every object, text, window and area exactly as written, and
reads a state DCMTK's dcmpsmk made (label, reference, window, area).

Measurement reports (dcx_measure_sr_write, make_gsps --measure): a TID
1500 Comprehensive SR that dciodvfy finds no error in and DCMTK's dsrdump
reads; read back with pydicom, every group's concept codes, NUM values and
units, SCOORD graphic data and image (and frame) references are what was
written.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pydicom

DATA = "/usr/lib/python3/dist-packages/pydicom/data"
CT = os.path.join(DATA, "test_files", "CT_small.dcm")
failed = []


def check(ok, msg):
    print(("ok: " if ok else "FAILED: ") + msg, flush=True)
    if not ok:
        failed.append(msg)


def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def read_pgm(path):
    b = open(path, "rb").read()
    parts = b.split(maxsplit=4)
    w, h, mx = int(parts[1]), int(parts[2]), int(parts[3])
    return np.frombuffer(parts[4][:w * h], np.uint8).reshape(h, w), mx


def code(item, attr="ConceptNameCodeSequence"):
    c = getattr(item, attr)[0]
    return (c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning)


def scoord(item):
    ref = item.ContentSequence[0]
    r = ref.ReferencedSOPSequence[0]
    return (item.RelationshipType, item.GraphicType,
            [round(float(v), 4) for v in item.GraphicData],
            ref.RelationshipType, str(r.ReferencedSOPInstanceUID),
            int(getattr(r, "ReferencedFrameNumber", 0) or 0))


def groups(sr):
    """Each Measurement Group as (tracking id, [NUM/SCOORD tuples])."""
    meas = [c for c in sr.ContentSequence
            if c.ValueType == "CONTAINER" and code(c)[0] == "126010"][0]
    out = []
    for g in meas.ContentSequence:
        tid, items = None, []
        for c in g.ContentSequence:
            if code(c)[0] == "112039":
                tid = c.TextValue
            elif c.ValueType == "NUM":
                mv = c.MeasuredValueSequence[0]
                items.append(("NUM", code(c), float(mv.NumericValue),
                              code(mv, "MeasurementUnitsCodeSequence")))
                items += [scoord(x) for x in getattr(c, "ContentSequence", [])]
            elif c.ValueType == "SCOORD":
                items.append(scoord(c))
        out.append((code(g), g.ContentTemplateSequence[0].TemplateIdentifier,
                    tid, items))
    return out


def want_groups(uid, frame):
    """What make_gsps --measure writes."""
    mm, deg = ("mm", "UCUM", "millimeter"), ("deg", "UCUM", "Degree")
    hu, one = ("[hnsf'U]", "UCUM", "Hounsfield Unit"), ("1", "UCUM", "no units")
    length, angle = ("410668003", "SCT", "Length"), ("1483009", "SCT", "Angle")
    area = ("42798000", "SCT", "Area")
    stats = [("373098007", "SCT", "Mean"), ("386136009", "SCT", "Standard Deviation"),
             ("255605001", "SCT", "Minimum"), ("56851009", "SCT", "Maximum")]
    mg = ("125007", "DCM", "Measurement Group")

    def sc(rel, kind, xy):
        return (rel, kind, xy, "SELECTED FROM", uid, frame)
    return [
        (mg, "1501", "Length 1", [("NUM", length, 33.05, mm),
                                  sc("INFERRED FROM", "POLYLINE", [10.5, 10.5, 50.5, 40.5])]),
        (mg, "1501", "Angle 2", [("NUM", angle, 90.0, deg),
                                 sc("INFERRED FROM", "POLYLINE", [20, 100, 60, 100, 60, 60])]),
        (mg, "1501", "Cobb angle 3", [("NUM", angle, 12.5, deg),
                                      sc("INFERRED FROM", "POLYLINE", [10, 10, 100, 20]),
                                      sc("INFERRED FROM", "POLYLINE", [10, 60, 100, 90])]),
        (mg, "1410", "Ellipse ROI 4", [sc("CONTAINS", "ELLIPSE", [30, 60, 70, 60, 50, 50, 50, 70]),
                                       ("NUM", area, 137.25, ("mm2", "UCUM", "square millimeter"))] +
         [("NUM", c, v, hu) for c, v in zip(stats, (40.25, 3.5, -12, 97))]),
        (mg, "1410", "Rectangle ROI 5",
         [sc("CONTAINS", "POLYLINE", [20, 20, 40, 20, 40, 40, 20, 40, 20, 20]),
          ("NUM", area, 400.0, ("{pixels}", "UCUM", "pixels"))] +
         [("NUM", c, v, one) for c, v in zip(stats, (1021.5, 0.125, 990, 1100))]),
    ]


def check_measure_sr(make, work, image, frame):
    """make_gsps --measure on image (frame: 0 or a frame number)."""
    what = "frame %d of %s" % (frame, os.path.basename(image)) if frame else \
        os.path.basename(image)
    sr = os.path.join(work, "measure-%d.dcm" % frame)
    rc, out = run([make, "--measure", sr] + (["--frame", str(frame)] if frame else []) +
                  [image])
    check(rc == 0, "dcx_measure_sr_write on %s: %s" % (what, out.strip()[:100]))
    if rc != 0:
        return
    rc, out = run(["dciodvfy", sr])
    errors = [l for l in out.splitlines() if l.startswith("Error")]
    check(not errors and "ComprehensiveSR" in out,
          "dciodvfy: no error in the measurement report on %s%s" % (
              what, "; " + "; ".join(errors[:3]) if errors else ""))
    rc, out = run(["dsrdump", sr])
    check(rc == 0 and "Imaging Measurement Report" in out and
          not any(l.startswith(("E:", "F:")) for l in out.splitlines()),
          "DCMTK dsrdump reads the measurement report on %s" % what)
    r = pydicom.dcmread(sr)
    img = pydicom.dcmread(image, stop_before_pixels=True)
    uid = str(img.SOPInstanceUID)
    tpl = r.ContentTemplateSequence[0]
    check(r.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33" and
          code(r) == ("126000", "DCM", "Imaging Measurement Report") and
          tpl.TemplateIdentifier == "1500" and tpl.MappingResource == "DCMR" and
          r.StudyInstanceUID == img.StudyInstanceUID and r.Modality == "SR",
          "Comprehensive SR, Imaging Measurement Report, TemplateIdentifier 1500 "
          "(DCMR) on the root, the image's study")
    top = [(c.RelationshipType, code(c)) for c in r.ContentSequence]
    ctx = {code(c)[0]: c for c in r.ContentSequence}
    lib = ctx["111028"].ContentSequence[0]
    check([x[1][0] for x in top] == ["121049", "121005", "121008", "121058",
                                     "111028", "126010"] and
          code(ctx["121049"], "ConceptCodeSequence")[0] == "en-US" and
          str(ctx["121008"].PersonName) == "Wang^Wei" and
          code(ctx["121058"], "ConceptCodeSequence") ==
          ("363679005", "SCT", "Imaging procedure") and
          code(lib) == ("126200", "DCM", "Image Library Group") and
          [str(i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
           for i in lib.ContentSequence] == [uid] and
          [str(i.ReferencedSOPInstanceUID) for i in
           r.CurrentRequestedProcedureEvidenceSequence[0]
           .ReferencedSeriesSequence[0].ReferencedSOPSequence] == [uid],
          "language, observer Wang^Wei, procedure reported, the image in the "
          "image library and the evidence: %s" % [x[1][2] for x in top])
    got, want = groups(r), want_groups(uid, frame)
    for g, w in zip(got, want):
        check(g == w, "measurement group %s: codes, values, units, SCOORD and "
              "image reference as written%s" % (w[2], "" if g == w else ": %r" % (g,)))
    check(len(got) == len(want), "%d measurement groups" % len(got))


def main():
    make, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ps = os.path.join(work, "ps.dcm")
    rc, out = run([make, ps, "120", "900", CT])
    check(rc == 0, "dcx_gsps_write: %s" % out.strip()[:100])

    rc, out = run(["dciodvfy", ps])
    errors = [l for l in out.splitlines() if l.startswith("Error")]
    check(not errors and "GrayscaleSoftcopyPresentationState" in out,
          "dciodvfy: no error (%d warning(s))%s" % (
              sum(l.startswith("Warning") for l in out.splitlines()),
              "; " + "; ".join(errors) if errors else ""))

    ds = pydicom.dcmread(ps)
    texts = [t.UnformattedTextValue for a in ds.GraphicAnnotationSequence
             for t in getattr(a, "TextObjectSequence", [])]
    kinds = sorted(g.GraphicType for a in ds.GraphicAnnotationSequence
                   for g in getattr(a, "GraphicObjectSequence", []))
    check(texts == ["右肺结节 12 mm"] and ds.ContentDescription == "初读",
          "UTF-8 text reads back with pydicom: %r" % texts)
    check(kinds == ["CIRCLE", "ELLIPSE", "INTERPOLATED", "POINT", "POLYLINE", "POLYLINE"],
          "graphic types: %s" % kinds)
    check(ds.SoftcopyVOILUTSequence[0].WindowCenter == 120 and
          ds.SoftcopyVOILUTSequence[0].WindowWidth == 900, "window 120/900 stored")

    # on a GB18030 image (chrX2): the state's own Chinese text makes it
    # ISO_IR 192, so what it copies from the image (the patient's name)
    # must be UTF-8 too; GB18030 bytes under ISO_IR 192 are garbage to
    # any viewer or archive that shows the state's patient
    gb = os.path.join(DATA, "charset_files", "chrX2.dcm")
    gbname = str(pydicom.dcmread(gb).PatientName).rstrip("=")
    for variant in ([], ["--ascii"]):
        gps = os.path.join(work, "ps-gb18030%s.dcm" % "".join(variant))
        rc, out = run([make] + variant + [gps, "120", "900", gb])
        g = pydicom.dcmread(gps) if rc == 0 else None
        texts = [t.UnformattedTextValue for a in g.GraphicAnnotationSequence
                 for t in getattr(a, "TextObjectSequence", [])] if g else []
        rc2, vout = run(["dciodvfy", gps]) if g else (1, "")
        errors = [l for l in vout.splitlines() if l.startswith("Error")]
        check(g is not None and str(g.PatientName) == gbname and
              texts == (["nodule 12 mm"] if variant else ["右肺结节 12 mm"]) and
              not errors,
              "state %s on a GB18030 image (%s): the patient %r reads as the "
              "image's (%r), the text %s%s" % (
                  "in ASCII" if variant else "with Chinese text",
                  g.SpecificCharacterSet if g else out.strip()[:80],
                  str(g.PatientName) if g else None, gbname, texts,
                  "; " + "; ".join(errors) if errors else ""))

    ascii_ps = os.path.join(work, "ps-ascii.dcm")
    run([make, "--ascii", ascii_ps, "40", "400", CT])
    rc, out = run(["dcmpschk", ascii_ps])
    check(rc == 0 and "Test failed" not in out, "dcmpschk passes the ASCII variant")
    utf8_img = os.path.join(DATA, "charset_files", "chrX1.dcm")
    mk = os.path.join(work, "dcmpsmk.dcm")
    run(["dcmpsmk", utf8_img, mk])
    rc, out = run(["dcmpschk", mk])
    check("Test failed" in out,
          "(dcmpschk 3.6.7 also fails DCMTK's own dcmpsmk state of a UTF-8 image)")

    pgm = os.path.join(work, "ps.pgm")
    rc, out = run(["dcmp2pgm", "-p", ps, CT, pgm])
    check(rc == 0 and os.path.exists(pgm), "dcmp2pgm applies it")
    img, mx = read_pgm(pgm)
    ct = pydicom.dcmread(CT)
    hu = ct.pixel_array.astype(np.float64) * float(ct.RescaleSlope) + float(ct.RescaleIntercept)
    c, w = 120.0, 900.0
    y = np.where(hu <= c - 0.5 - (w - 1) / 2, 0.0,
                 np.where(hu > c - 0.5 + (w - 1) / 2, 1.0,
                          ((hu - (c - 0.5)) / (w - 1) + 0.5)))
    ref = np.round(y * mx)
    diff = np.abs(img.astype(np.int32) - ref.astype(np.int32))
    check(img.shape == ref.shape and diff.max() <= 1,
          "dcmp2pgm output = PS3.3 C.11.2 window 120/900, not the file's (max diff %d over %s)" % (
              diff.max() if img.shape == ref.shape else -1, img.shape))
    # read back with dcx_gsps_read (make_gsps --read)
    rc, out = run([make, "--read", ps, str(ct.SOPInstanceUID)])
    want = [
        "label READING", "description 初读", "creator Wang^Wei", "images 1",
        "window 120 900", "area 1 1 128 128",
        "graphic LENGTH POLYLINE 0 10.5 10.5 50.5 40.5",
        "graphic MARKS POLYLINE 0 20 20 40 20 40 40 20 40 20 20",
        "graphic MARKS CIRCLE 0 64 64 64 84",
        "graphic MARKS ELLIPSE 1 30 90 70 90 50 80 50 100",
        "graphic MARKS POINT 0 100 100",
        "graphic MARKS INTERPOLATED 0 5 120 30 100 60 120 90 100",
        "text 右肺结节 12 mm|anchor 1 50.5 40.5 1|box 1 60 30 120 45",
    ]
    got = out.strip().splitlines()
    check(rc == 0 and got == want, "dcx_gsps_read gives back what was written%s" % (
        "" if got == want else ": " + " / ".join(g for g in got if g not in want)))
    rc, out = run([make, "--read", ps, "1.2.3.4"])
    check(rc == 0 and "graphic" not in out,
          "no marks for an image the state does not reference")
    mr = os.path.join(DATA, "test_files", "MR_small.dcm")
    mk_mr = os.path.join(work, "dcmpsmk-mr.dcm")
    run(["dcmpsmk", mr, mk_mr])
    rc, out = run([make, "--read", mk_mr, str(pydicom.dcmread(mr).SOPInstanceUID)])
    got = out.strip().splitlines()
    check(rc == 0 and "images 1" in got and "window 600 1600" in got and
          "area 1 1 64 64" in got,
          "reads DCMTK dcmpsmk's state of MR_small: %s" % "; ".join(got[:6]))
    # key object selections (dcx_ko_write)
    for title, code in (("interest", "113000"), ("teaching", "TCE001")):
        ko = os.path.join(work, "ko-%s.dcm" % title)
        rc, out = run([make, "--ko", ko, title, CT])
        check(rc == 0, "dcx_ko_write (%s): %s" % (title, out.strip()[:80]))
        rc, out = run(["dciodvfy", ko])
        errors = [l for l in out.splitlines() if l.startswith("Error")]
        check(not errors and "KeyObjectSelectionDocument" in out,
              "dciodvfy: no error in the KO (%s)%s" % (title, "; " + "; ".join(errors)
                                                       if errors else ""))
        k = pydicom.dcmread(ko)
        refs = [i.ReferencedSOPInstanceUID for i in
                k.CurrentRequestedProcedureEvidenceSequence[0]
                .ReferencedSeriesSequence[0].ReferencedSOPSequence]
        texts = [c.TextValue for c in k.ContentSequence if c.ValueType == "TEXT"]
        check(k.ConceptNameCodeSequence[0].CodeValue == code and
              refs == [ct.SOPInstanceUID] and k.StudyInstanceUID == ct.StudyInstanceUID and
              k.PatientID == ct.PatientID and texts == ["右肺结节"],
              "KO %s: title %s, the image referenced, same study and patient, "
              "Chinese description" % (title, k.ConceptNameCodeSequence[0].CodeMeaning))
    # the report (dcx_report_write) on a GB18030 image: patient in UTF-8
    gb = os.path.join(DATA, "charset_files", "chrX2.dcm")
    rep = os.path.join(work, "report.dcm")
    rc, out = run([make, "--report", rep, gb])
    check(rc == 0, "dcx_report_write: %s" % out.strip()[:80])
    rc, out = run(["dciodvfy", rep])
    errors = [l for l in out.splitlines() if l.startswith("Error")]
    check(not errors and "BasicTextSR" in out,
          "dciodvfy: no error in the report%s" % ("; " + "; ".join(errors) if errors else ""))
    r = pydicom.dcmread(rep)
    secs = {c.ConceptNameCodeSequence[0].CodeMeaning: c.ContentSequence[0].TextValue
            for c in r.ContentSequence if c.ValueType == "CONTAINER"}
    check(r.ConceptNameCodeSequence[0].CodeValue == "18748-4" and
          secs == {"Findings": "右肺上叶 12 mm 结节", "Impression": "建议随访"},
          "report: Diagnostic Imaging Report with Findings and Impression in Chinese")
    check(r.SpecificCharacterSet == "ISO_IR 192" and str(r.PatientName) == "Wang^XiaoDong=王^小东" and
          r.CompletionFlag == "COMPLETE" and r.VerificationFlag == "VERIFIED" and
          str(r.VerifyingObserverSequence[0].VerifyingObserverName) == "Wang^Wei" and
          r.StudyInstanceUID == pydicom.dcmread(gb).StudyInstanceUID,
          "report: the GB18030 image's patient in UTF-8, complete and verified, same study")
    # measurement reports: CT_small, and frame 2 of a two-frame image
    # (pydicom's SC_rgb_rle_2frame relabelled Multi-frame True Colour SC:
    # a frame of a single-frame class is an error to dciodvfy)
    check_measure_sr(make, work, CT, 0)
    mf = pydicom.dcmread(os.path.join(DATA, "test_files", "SC_rgb_rle_2frame.dcm"))
    mf.SOPClassUID = mf.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7.4"
    mf.save_as(os.path.join(work, "mf.dcm"))
    check_measure_sr(make, work, os.path.join(work, "mf.dcm"), 2)
    print("gsps: %d failed" % len(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
