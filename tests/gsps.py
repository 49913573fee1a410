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
windowing computed here with numpy (within 1 grey level).
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
    print("gsps: %d failed" % len(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
