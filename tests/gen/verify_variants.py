#!/usr/bin/python3
"""Verify the synthetic DICOM set made by gen_synthetic.py + encode_variants.sh.

Usage:  /usr/bin/python3 verify_variants.py OUTDIR

1. Every *.dcm under OUTDIR must parse with both `dcmdump` and `gdcminfo`;
   if dicom3tools' `dciodvfy` is installed, the generated originals must have
   no IOD errors (findings on encoded files are only listed).
2. Every row of OUTDIR/enc/manifest.tsv is decoded with `gdcmconv --raw` and,
   where DCMTK has a decoder (all but JPEG 2000), independently with
   dcmdjpeg/dcmdjpls/dcmdrle/dcmconv; each decoding is compared with the
   uncompressed original (OUTDIR/<series>/<same name>):
     lossless (1)       -> stored values identical, same photometric
     near-lossless (N)  -> max |error| <= N in stored values
     lossy (-1)         -> compared in modality units (colour: RGB);
                           must reach MIN_PSNR dB over the original's range
                           and max |error| <= MAX_LOSSY_ERR * range
   OUTDIR/us_ybr is checked the same way (lossy) against OUTDIR/us.
Prints one table row per (series, codec) and exits non-zero on any failure.
"""

import csv
import glob
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pydicom
from pydicom.encaps import generate_pixel_data_frame
from pydicom.pixel_data_handlers.util import apply_modality_lut, convert_color_space

MIN_PSNR = 25.0       # sanity floor for lossy variants (catches colour/scaling bugs)
MAX_LOSSY_ERR = 0.5   # max |error| for lossy variants, as a fraction of the value range


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    return p.returncode, p.stdout + p.stderr


def parse_check(path):
    """Return an error string, or '' if dcmdump and gdcminfo both accept *path*."""
    rc, out = run(["dcmdump", "-q", "-M", path])
    if rc != 0 or any(line.startswith(("E:", "F:")) for line in out.splitlines()):
        return "dcmdump rc=%d %s" % (rc, out.strip().splitlines()[-1:] or "")
    rc, out = run(["gdcminfo", path])
    if rc != 0:
        return "gdcminfo rc=%d %s" % (rc, out.strip().splitlines()[-1:] or "")
    return ""


def iod_errors(path):
    """Unique 'Error' lines from dicom3tools dciodvfy (IOD conformance)."""
    rc, out = run(["dciodvfy", path])
    return sorted({line.strip() for line in out.splitlines() if line.startswith("Error")})


def stream_info(ds):
    """One-line description of the first compressed frame's bitstream."""
    if not ds.file_meta.TransferSyntaxUID.is_compressed:
        return "native"
    frame = next(generate_pixel_data_frame(ds.PixelData, int(ds.get("NumberOfFrames", 1))))
    if ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.5":
        return "RLE %d segments" % struct.unpack("<I", frame[:4])[0]
    if frame[:2] == b"\xff\x4f":
        cod = frame.find(b"\xff\x52")
        return "J2K MCT=%d" % frame[cod + 8] if cod > 0 else "J2K (no COD)"
    if frame[:4] == b"\x00\x00\x00\x0c":
        return "JP2 file format"
    return jpeg_markers(frame)


def jpeg_stream_is_ycbcr(frame):
    """libjpeg's colour-space inference for a 3-component lossy JPEG frame."""
    info = jpeg_markers(frame)
    if "Adobe(transform=" in info:
        return "Adobe(transform=0)" not in info
    if "JFIF" in info:
        return True
    return "ids:hxv=82:" not in info             # component ids 'R','G','B' -> RGB


def jpeg_markers(buf):
    parts, i = [], 2
    while i + 4 <= len(buf) and buf[i] == 0xFF:
        marker, length = buf[i + 1], struct.unpack(">H", buf[i + 2:i + 4])[0]
        seg = buf[i + 4:i + 2 + length]
        if marker == 0xE0 and seg[:4] == b"JFIF":
            parts.append("JFIF")
        elif marker == 0xEE and seg[:5] == b"Adobe":
            parts.append("Adobe(transform=%d)" % seg[11])
        elif marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xF7):
            nc = seg[5]
            comps = ",".join("%d:%dx%d" % (seg[6 + 3 * k], seg[7 + 3 * k] >> 4,
                                          seg[7 + 3 * k] & 15) for k in range(nc))
            name = "JPEG-LS" if marker == 0xF7 else "SOF%d" % (marker - 0xC0)
            parts.append("%s P=%d ids:hxv=%s" % (name, seg[0], comps))
        elif marker == 0xDA:
            ns = seg[0]
            ss, se = seg[1 + 2 * ns], seg[2 + 2 * ns]
            if "JPEG-LS" in parts[-1]:
                parts.append("NEAR=%d ILV=%d" % (ss, se))
            elif parts[-1].startswith("SOF3"):
                parts.append("pred=%d" % ss)
            break
        i += 2 + length
    return " ".join(parts)


def load_pixels(path):
    ds = pydicom.dcmread(path)
    return ds, ds.pixel_array


def as_comparable(ds, arr):
    """Modality-unit (monochrome) or RGB (colour) float array for lossy comparison."""
    if ds.SamplesPerPixel == 3:
        if ds.PhotometricInterpretation.startswith("YBR_FULL"):
            arr = convert_color_space(arr, "YBR_FULL", "RGB")
        return arr.astype(np.float64)
    return np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)


# Second, independent decoder (DCMTK) per transfer syntax; J2K has none in DCMTK.
DCMTK_DECODER = {
    "1.2.840.10008.1.2.4.50": "dcmdjpeg", "1.2.840.10008.1.2.4.51": "dcmdjpeg",
    "1.2.840.10008.1.2.4.57": "dcmdjpeg", "1.2.840.10008.1.2.4.70": "dcmdjpeg",
    "1.2.840.10008.1.2.4.80": "dcmdjpls", "1.2.840.10008.1.2.4.81": "dcmdjpls",
    "1.2.840.10008.1.2.5": "dcmdrle",
    "1.2.840.10008.1.2.1.99": "dcmconv", "1.2.840.10008.1.2.2": "dcmconv",
}


def first_frame(ds):
    return next(generate_pixel_data_frame(ds.PixelData, int(ds.get("NumberOfFrames", 1))))


def evaluate(ods, oarr, eds, raw, lossless, max_error):
    """Compare decoded file *raw* against the original; returns a result dict."""
    dds = pydicom.dcmread(raw)
    darr = dds.pixel_array
    res = {"decoded": dds.PhotometricInterpretation, "maxerr": 0.0,
           "psnr": float("inf"), "ok": True, "msg": ""}
    if oarr.shape != darr.shape:
        return dict(res, ok=False, msg="shape %s != %s" % (darr.shape, oarr.shape))
    if lossless or max_error > 0:
        if dds.PhotometricInterpretation != ods.PhotometricInterpretation:
            return dict(res, ok=False, msg="decoded as " + dds.PhotometricInterpretation)
        diff = np.abs(oarr.astype(np.int64) - darr.astype(np.int64))
        res["maxerr"] = float(diff.max())
        limit = 0 if lossless else max_error
        if res["maxerr"] > limit:
            res.update(ok=False, msg="max error %g > %g (%d px)"
                       % (res["maxerr"], limit, int((diff > limit).sum())))
        return res
    if (eds.SamplesPerPixel == 3 and eds.PhotometricInterpretation == "RGB"
            and dds.PhotometricInterpretation == "RGB"
            and eds.file_meta.TransferSyntaxUID in ("1.2.840.10008.1.2.4.50",
                                                     "1.2.840.10008.1.2.4.51")
            and jpeg_stream_is_ycbcr(first_frame(eds))):
        # Header says RGB but the JPEG stream is YCbCr (no Adobe/JFIF colour
        # marker, component ids 1,2,3): decoders trusting the header output YCbCr.
        darr = convert_color_space(darr, "YBR_FULL", "RGB")
        res["decoded"] = "RGB(!YCbCr)"
    a, b = as_comparable(ods, oarr), as_comparable(dds, darr)
    diff = np.abs(a - b)
    rng = float(a.max() - a.min()) or 1.0
    mse = float((diff ** 2).mean())
    res["maxerr"] = float(diff.max())
    res["psnr"] = 10 * np.log10(rng ** 2 / mse) if mse else float("inf")
    if res["psnr"] < MIN_PSNR:
        res.update(ok=False, msg="PSNR %.1f dB < %.0f" % (res["psnr"], MIN_PSNR))
    elif res["maxerr"] > MAX_LOSSY_ERR * rng:          # e.g. wrap-around at saturation
        res.update(ok=False, msg="max error %g > %.0f%% of range (%d px)" % (
            res["maxerr"], 100 * MAX_LOSSY_ERR, int((diff > MAX_LOSSY_ERR * rng).sum())))
    return res


def compare(orig_path, enc_path, lossless, max_error, tmpdir):
    """Decode *enc_path* with gdcmconv --raw (and DCMTK) and compare with *orig_path*."""
    ods = pydicom.dcmread(orig_path)
    oarr = ods.pixel_array
    eds = pydicom.dcmread(enc_path)
    ts = str(eds.file_meta.TransferSyntaxUID)
    out = {"photo": "%s/%s" % (eds.PhotometricInterpretation,
                               eds.get("PlanarConfiguration", "-")),
           "stream": stream_info(eds)}
    decoders = [("gdcm", ["gdcmconv", "--raw"])]
    if ts in DCMTK_DECODER:
        tool = DCMTK_DECODER[ts]
        decoders.append(("dcmtk", [tool, "+te"] if tool == "dcmconv" else [tool]))
    for name, cmd in decoders:
        raw = os.path.join(tmpdir, "%s_%d.dcm" % (name, abs(hash(enc_path))))
        rc, log = run(cmd + [enc_path, raw])
        if rc != 0:
            out[name] = {"ok": False, "msg": "%s failed: %s" % (
                cmd[0], " ".join(log.split())[-160:])}
            continue
        out[name] = evaluate(ods, oarr, eds, raw, lossless, max_error)
        os.remove(raw)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = os.path.abspath(sys.argv[1])
    failures = []

    files = sorted(glob.glob(os.path.join(outdir, "**", "*.dcm"), recursive=True))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        errs = list(pool.map(parse_check, files))
    bad = [(f, e) for f, e in zip(files, errs) if e]
    print("parse check: %d files, %d rejected by dcmdump/gdcminfo" % (len(files), len(bad)))
    for f, e in bad:
        failures.append("%s: %s" % (os.path.relpath(f, outdir), e))

    # IOD conformance (dicom3tools, if installed): originals must be clean; for
    # encoded files the findings are informational (they come from the encoders).
    if shutil.which("dciodvfy"):
        enc_dir = os.path.join(outdir, "enc") + os.sep
        todo = [f for f in files if "/deflate/" not in f]   # dciodvfy cannot inflate
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            found = dict(zip(todo, pool.map(iod_errors, todo)))
        notes = {}
        for f, errs in found.items():
            for e in errs:
                if f.startswith(enc_dir):
                    codec = os.path.relpath(f, enc_dir).split(os.sep)[:2]
                    notes.setdefault(e, set()).add("/".join(codec))
                else:
                    failures.append("%s: dciodvfy: %s" % (os.path.relpath(f, outdir), e))
        print("dciodvfy: %d files checked (deflated skipped); originals with errors: %d"
              % (len(todo), sum(1 for f, e in found.items()
                                if e and not f.startswith(enc_dir))))
        for e, where in sorted(notes.items()):
            print("  [encoded, info] %s -- %s" % (e, ", ".join(sorted(where))))

    manifest = os.path.join(outdir, "enc", "manifest.tsv")
    with open(manifest, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        failures.append("empty manifest")
    jobs = []
    for r in rows:
        orig = os.path.join(outdir, r["series"], os.path.basename(r["path"]))
        jobs.append((r["series"], r["codec"], r["transfer_syntax_uid"], orig,
                     os.path.join(outdir, r["path"]), r["lossless"] == "1",
                     int(r["max_error"])))
    for f in sorted(glob.glob(os.path.join(outdir, "us_ybr", "*.dcm"))):
        orig = os.path.join(outdir, "us", os.path.basename(f).replace("us_ybr", "us"))
        if os.path.exists(orig):
            ts = pydicom.dcmread(f, stop_before_pixels=True).file_meta.TransferSyntaxUID
            jobs.append(("us_ybr", "(generated)", str(ts), orig, f, False, -1))

    with tempfile.TemporaryDirectory() as tmp, \
            ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda j: compare(j[3], j[4], j[5], j[6], tmp), jobs))

    groups = {}
    for job, res in zip(jobs, results):
        groups.setdefault(job[:3] + (job[5], job[6]), []).append((job[4], res))
    fmt = "%-6s %-32s %-9s %3s %5s | %7s %6s %-11s | %-9s | %-15s %s"
    hdr = fmt % ("series", "codec", "TS", "n", "tol", "maxerr", "psnr", "decoded",
                 "dcmtk", "photometric/PC", "bitstream (first frame)")
    print("TS = transfer syntax UID without 1.2.840.10008.; maxerr/psnr/decoded from "
          "gdcmconv --raw;\ndcmtk = independent decode by dcmdjpeg/dcmdjpls/dcmdrle/dcmconv "
          "(same tolerance), n/a for J2K")
    print(hdr)
    print("-" * len(hdr))
    for (series, codec, ts, lossless, maxe), items in groups.items():
        gd = [r["gdcm"] for _, r in items]
        dc = [r["dcmtk"] for _, r in items if "dcmtk" in r]
        worst = max((r.get("maxerr", float("nan")) for r in gd), default=float("nan"))
        psnr = min((r.get("psnr", float("nan")) for r in gd), default=float("nan"))
        dstat = "n/a" if not dc else ("ok %g" % max(r["maxerr"] for r in dc)
                                      if all(r["ok"] for r in dc) else "FAIL")
        tol = "0" if lossless else ("lossy" if maxe < 0 else str(maxe))
        ok = all(r["ok"] for r in gd + dc)
        print(fmt % (series, codec, ts.replace("1.2.840.10008.", ""), len(items), tol,
                     "%g" % worst, "inf" if psnr == float("inf") else "%.1f" % psnr,
                     gd[0].get("decoded", "?"), dstat, items[0][1]["photo"],
                     items[0][1]["stream"]) + ("" if ok else "   <-- FAIL"))
        for path, r in items:
            for name in ("gdcm", "dcmtk"):
                if name in r and not r[name]["ok"]:
                    failures.append("%s [%s]: %s" % (os.path.relpath(path, outdir), name,
                                                     r[name]["msg"]))

    print("compared %d encoded files in %d groups" % (len(jobs), len(groups)))
    if failures:
        print("\nFAILURES (%d):" % len(failures))
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("ALL OK")


if __name__ == "__main__":
    main()
