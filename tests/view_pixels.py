#!/usr/bin/python3
"""consort-view screenshots (SDL offscreen driver, Mesa llvmpipe) against
references computed here, independently, with pydicom + numpy.

usage: view_pixels.py CONSORT_VIEW WORKDIR

Display values: pydicom's pixel_array and modality LUT, then the VOI
window of PS3.3 C.11.2.1.2 (LINEAR and LINEAR_EXACT written out below),
MONOCHROME1 inverted, YBR_FULL to RGB with pydicom's conversion, palette
colour with pydicom's apply_color_lut. Each screenshot is the image's own
size with nearest interpolation, so screen pixel (x, y) shows image pixel
(x, y); the largest difference must be at most 1 grey level.

Files: pydicom's CT_small (signed, rescaled) and MR_small (also with an
overlay plane the test adds, drawn white), an RGB file
(SC_rgb_jpeg_dcmd, implicit VR), the uncompressed YBR_FULL_422 one, plus
files the test makes: MR_small as MONOCHROME1, and an 8-bit image with
pydicom's "hotiron" palette; a VOI LUT Sequence made here (pydicom's
apply_voi_lut), then a left drag that must replace it with a window; one
series of three sizes (64x48, 48x64, 40x40), each slice at its own; a
Modality LUT Sequence made here (apply_modality_lut), windowed and with
the default window; pixels 2 mm tall and 1 mm wide, drawn two screen rows
per image row, and turned a quarter.
32-bit samples: pydicom's RT Dose (Dose Grid
Scaling), its 32-bit RGB, and MR_small made signed 32-bit. Then geometry
on a synthetic image with coloured corner markers: zoom, pan, rotation
and flips put each marker where the transform says.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixel_data_handlers.util import (apply_color_lut,
                                              apply_modality_lut,
                                              apply_voi_lut,
                                              convert_color_space)
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

DATA = "/usr/lib/python3/dist-packages/pydicom/data"
TF = os.path.join(DATA, "test_files")
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAILED: ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def shot(view, path, out, *opts):
    p = subprocess.run([view, "--screenshot", out, "--interp", "nearest",
                        "--overlay", "none"] +
                       list(opts) + [path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120,
                       env=dict(os.environ, SDL_VIDEODRIVER="offscreen"))
    if p.returncode != 0:
        check(False, "consort-view on %s: %s" % (os.path.basename(path),
                                                 p.stdout.decode()[-500:]))
        return None
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def window_linear(x, c, w, q=1.0):
    """PS3.3 C.11.2.1.2.1, output range 0..1. Its 0.5 and 1 are one step
    of integer values; for values with fractions (dose in Gy) the viewer
    takes the step q as the slope, and a window narrower than a step as
    LINEAR_EXACT (C.11.2.1.3.2)."""
    if w < q:
        return np.clip((x - c) / w + 0.5, 0.0, 1.0)
    y = ((x - (c - 0.5 * q)) / (w - q) + 0.5)
    y = np.where(x <= c - 0.5 * q - (w - q) / 2, 0.0, y)
    y = np.where(x > c - 0.5 * q + (w - q) / 2, 1.0, y)
    return y


def to8(y):
    return np.clip(np.floor(y * 255 + 0.5), 0, 255).astype(int)


def compare(name, got, want):
    if got is None:
        return
    if want.ndim == 2:
        want = np.stack([want] * 3, axis=-1)
    if got.shape != want.shape:
        check(False, "%s: screenshot %s, reference %s" % (name, got.shape, want.shape))
        return
    d = np.abs(got - want)
    check(d.max() <= 1, "%s: max difference %d grey level(s) over %d pixels "
          "(%.2f%% differ at all)" % (name, d.max(), d.size // 3,
                                      100.0 * (d.max(axis=-1) > 0).mean()))


def grey_case(view, work, name, path, c, w, invert=False, ref=None):
    """ref: an uncompressed file with the same pixels (pydicom here has no
    JPEG-LS decoder)."""
    ds = pydicom.dcmread(ref or path)
    mod = apply_modality_lut(ds.pixel_array, ds).astype(float)
    y = window_linear(mod, c, w)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        y = 1.0 - y
    if invert:
        y = 1.0 - y
    got = shot(view, path, os.path.join(work, name.replace(" ", "_") + ".png"),
               "--window", "%g,%g" % (c, w), *(["--invert"] if invert else []))
    compare("%s (window %g/%g%s)" % (name, c, w, ", inverted" if invert else ""),
            got, to8(y))


def save(ds, path):
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def mr_with_lut(path, seq, curve):
    """MR_small with a LUT sequence (VOILUTSequence or ModalityLUTSequence)
    of 16-bit entries over its stored range, curve(0..1) giving them, and
    no window or rescale of its own."""
    ds = pydicom.dcmread(os.path.join(TF, "MR_small.dcm"))
    lo, hi = int(ds.pixel_array.min()), int(ds.pixel_array.max())
    n = hi - lo + 1
    item = Dataset()
    item.LUTDescriptor = [n, lo, 16]
    if seq == "ModalityLUTSequence":
        item.ModalityLUTType = "US"
        for k in ("WindowCenter", "WindowWidth", "RescaleSlope", "RescaleIntercept"):
            if k in ds:
                del ds[k]
    entries = curve(np.arange(n) / (n - 1)).astype("<u2")
    item.add_new(0x00283006, "OW", entries.tobytes())
    setattr(ds, seq, [item])
    ds.SOPInstanceUID = generate_uid()
    save(ds, path)


def palette_file(path):
    """8-bit indices (a gradient with shapes) under pydicom's hotiron LUT."""
    pal = pydicom.dcmread(os.path.join(DATA, "palettes", "hotiron.dcm"))
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    yy, xx = np.mgrid[0:96, 0:128]
    idx = ((xx * 2 + yy) % 256).astype(np.uint8)
    idx[30:60, 40:90] = 200
    ds.Rows, ds.Columns = idx.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "PALETTE COLOR"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelRepresentation = 0
    for c in ("Red", "Green", "Blue"):
        setattr(ds, c + "PaletteColorLookupTableDescriptor",
                getattr(pal, c + "PaletteColorLookupTableDescriptor"))
        setattr(ds, c + "PaletteColorLookupTableData",
                getattr(pal, c + "PaletteColorLookupTableData"))
    ds.PixelData = idx.tobytes()
    save(ds, path)


def marker_file(path):
    """64 x 48 grey image, with a bright block in the top-left corner and a
    mid-grey block in the top-right one (2 x 2 each)."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    a = np.full((48, 64), 20, np.uint16)
    a[0:2, 0:2] = 1000
    a[0:2, 62:64] = 500
    ds.Rows, ds.Columns = a.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.PixelData = a.tobytes()
    save(ds, path)


def where(img, level, tol=8):
    """Centre of the pixels near grey level `level`, in continuous screen
    coordinates (pixel x covers x .. x+1)."""
    ys, xs = np.nonzero(np.abs(img[:, :, 0] - level) <= tol)
    if len(xs) == 0:
        return None
    return (xs.mean() + 0.5, ys.mean() + 0.5)


def main():
    view, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    grey_case(view, work, "CT_small", os.path.join(TF, "CT_small.dcm"), 40, 400)
    grey_case(view, work, "CT_small-bone", os.path.join(TF, "CT_small.dcm"), 300, 1500)
    # the same CT through a codec: JPEG-LS lossless made by DCMTK's dcmcjpls
    jls = os.path.join(work, "ct_jpegls.dcm")
    subprocess.run(["dcmcjpls", os.path.join(TF, "CT_small.dcm"), jls], check=True)
    grey_case(view, work, "CT_small as JPEG-LS", jls, 40, 400, ref=os.path.join(TF, "CT_small.dcm"))
    grey_case(view, work, "MR_small", os.path.join(TF, "MR_small.dcm"), 600, 1200)
    grey_case(view, work, "MR_small", os.path.join(TF, "MR_small.dcm"), 600, 1200,
              invert=True)
    m1 = os.path.join(work, "mr_monochrome1.dcm")
    ds = pydicom.dcmread(os.path.join(TF, "MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.SOPInstanceUID = generate_uid()
    save(ds, m1)
    grey_case(view, work, "MONOCHROME1", m1, 600, 1200)

    # an overlay plane (6000) made here: a 20 x 30 plane at origin (5, 10)
    # holding a frame and a diagonal; set bits show white
    ov = os.path.join(work, "mr_overlay.dcm")
    ds = pydicom.dcmread(os.path.join(TF, "MR_small.dcm"))
    plane = np.zeros((20, 30), np.uint8)
    plane[0, :] = plane[-1, :] = plane[:, 0] = plane[:, -1] = 1
    for i in range(20):
        plane[i, i] = 1
    ds.add_new(0x60000010, "US", 20)
    ds.add_new(0x60000011, "US", 30)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [5, 10])
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", np.packbits(plane.ravel(), bitorder="little").tobytes())
    ds.SOPInstanceUID = generate_uid()
    save(ds, ov)
    mod = apply_modality_lut(ds.pixel_array, ds).astype(float)
    want = to8(window_linear(mod, 600, 1200))
    full = np.zeros(want.shape, bool)
    full[4:24, 9:39] = plane.astype(bool)  # origin is 1-based (row, column)
    want = np.where(full, 255, want)
    compare("overlay plane 6000 (20x30 at 5,10) over MR_small",
            shot(view, ov, os.path.join(work, "overlay.png"), "--window", "600,1200"),
            want)

    rgb = os.path.join(TF, "SC_rgb_jpeg_dcmd.dcm")
    compare("RGB (SC_rgb_jpeg_dcmd)", shot(view, rgb, os.path.join(work, "rgb.png")),
            pydicom.dcmread(rgb).pixel_array.astype(int))
    ybr = os.path.join(TF, "SC_ybr_full_422_uncompressed.dcm")
    yds = pydicom.dcmread(ybr)
    want = convert_color_space(yds.pixel_array, "YBR_FULL", "RGB").astype(int)
    compare("YBR_FULL_422 (SC_ybr_full_422_uncompressed)",
            shot(view, ybr, os.path.join(work, "ybr.png")), want)
    pf = os.path.join(work, "palette.dcm")
    palette_file(pf)
    pds = pydicom.dcmread(pf)
    lut = apply_color_lut(pds.pixel_array, pds).astype(float)
    bits = int(pds.RedPaletteColorLookupTableDescriptor[2])
    compare("PALETTE COLOR (hotiron, %d-bit entries)" % bits,
            shot(view, pf, os.path.join(work, "palette.png")),
            to8(lut / (2 ** bits - 1)))

    # a VOI LUT Sequence (a square-root curve over MR_small's range, made
    # here) against pydicom's apply_voi_lut; then a window dragged with the
    # left button replaces it (the LUT used to go on deciding the image
    # while the corner showed the dragged window)
    vl = os.path.join(work, "mr_voilut.dcm")
    mr_with_lut(vl, "VOILUTSequence", lambda t: np.round(t ** 0.5 * 65535))
    vds = pydicom.dcmread(vl)
    want = to8(apply_voi_lut(vds.pixel_array, vds).astype(float) / 65535.0)
    compare("VOI LUT Sequence (square root, 16-bit entries)",
            shot(view, vl, os.path.join(work, "voilut.png")), want)
    p = subprocess.run([view, "--script", "-", "--interp", "nearest", "--overlay",
                        "none", "--size", "64x64", vl],
                       input="wait\nstate\ndrag left 20 20 50 10\nstate\n"
                             "screenshot %s\nquit\n" % os.path.join(work, "voidrag.png"),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120,
                       env=dict(os.environ, SDL_VIDEODRIVER="offscreen"))
    st = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode == 0 and len(st) == 2:
        c, w = st[1]["center"], st[1]["width"]
        check(st[0]["voi_lut"] == 1 and st[1]["voi_lut"] == 0,
              "a left drag leaves the VOI LUT for the window: voi_lut %d -> %d"
              % (st[0]["voi_lut"], st[1]["voi_lut"]))
        mod = apply_modality_lut(vds.pixel_array, vds).astype(float)
        compare("after the drag: window %.1f/%.1f" % (c, w),
                np.asarray(Image.open(os.path.join(work, "voidrag.png"))
                           .convert("RGB")).astype(int),
                to8(window_linear(mod, c, w)))
    else:
        check(False, "consort-view --script on the VOI LUT file: %s" % p.stdout[-500:])

    # a Modality LUT Sequence (a curve made here, values 20000 and up) and no
    # window in the file: the shader's LUT against pydicom's
    # apply_modality_lut, with a window given and with the default one,
    # which must span the LUT's values, not the stored ones (it was white)
    ml = os.path.join(work, "mr_mlut.dcm")
    mr_with_lut(ml, "ModalityLUTSequence", lambda t: 20000 + 16000 * t ** 1.5)
    mds = pydicom.dcmread(ml)
    mod = apply_modality_lut(mds.pixel_array, mds).astype(float)
    compare("Modality LUT Sequence (window 28000/8000)",
            shot(view, ml, os.path.join(work, "mlut.png"), "--window", "28000,8000"),
            to8(window_linear(mod, 28000, 8000)))
    mlo, mhi = mod.min(), mod.max()
    compare("Modality LUT Sequence, default window %g/%g (its values' range)"
            % ((mlo + mhi) / 2, mhi - mlo + 1),
            shot(view, ml, os.path.join(work, "mlut-default.png")),
            to8(window_linear(mod, (mlo + mhi) / 2, mhi - mlo + 1)))

    # pixels twice as tall as wide (Pixel Spacing 2\\1 mm, a reformat's
    # kind): drawn so, each image row two screen rows, and turned a quarter
    # each image row two screen columns (they were drawn square)
    tall = os.path.join(work, "mr_tall.dcm")
    ds = pydicom.dcmread(os.path.join(TF, "MR_small.dcm"))
    ds.PixelSpacing = [2.0, 1.0]
    ds.SOPInstanceUID = generate_uid()
    save(ds, tall)
    want = to8(window_linear(apply_modality_lut(ds.pixel_array, ds).astype(float),
                             600, 1200))
    compare("pixels 2 mm tall, 1 mm wide, fitted into 64x128",
            shot(view, tall, os.path.join(work, "tall.png"), "--size", "64x128",
                 "--window", "600,1200"),
            np.repeat(want, 2, axis=0))
    compare("the same turned a quarter clockwise, into 128x64",
            shot(view, tall, os.path.join(work, "tall-r1.png"), "--size", "128x64",
                 "--window", "600,1200", "--rotate", "1"),
            np.rot90(np.repeat(want, 2, axis=0), k=-1))

    # one series, three sizes (a DR study's views): 64x48 and 48x64 have
    # the same byte count (the second was drawn sheared with the first's
    # layout), 40x40 another (it was refused); each slice is its own size
    mixed = os.path.join(work, "mixed")
    os.makedirs(mixed)
    src = pydicom.dcmread(os.path.join(TF, "MR_small.dcm"))
    suid = generate_uid()
    crops = [(48, 64), (64, 48), (40, 40)]  # rows, columns
    for i, (r, c) in enumerate(crops):
        d = pydicom.dcmread(os.path.join(TF, "MR_small.dcm"))
        a = src.pixel_array[:r, :c].copy()
        d.Rows, d.Columns = r, c
        d.PixelData = a.astype(src.pixel_array.dtype).tobytes()
        d.SeriesInstanceUID, d.SOPInstanceUID = suid, generate_uid()
        d.InstanceNumber = i + 1
        for k in ("ImagePositionPatient", "ImageOrientationPatient"):
            if k in d:
                del d[k]
        save(d, os.path.join(mixed, "v%d.dcm" % i))
    mod = apply_modality_lut(src.pixel_array, src).astype(float)
    for i, (r, c) in enumerate(crops):
        compare("series of mixed sizes, view %d (%dx%d)" % (i + 1, c, r),
                shot(view, mixed, os.path.join(work, "mixed%d.png" % i),
                     "--frame", str(i), "--size", "%dx%d" % (c, r),
                     "--window", "600,1200"),
                to8(window_linear(mod[:r, :c], 600, 1200)))

    # options out of range are named, not taken: --frame -1 used to wrap
    # to 4294967295 and wait for that slice for ever
    for opt in (["--frame", "-1"], ["--rotate", "90"], ["--flip", "x"]):
        try:
            p = subprocess.run([view, "--screenshot", os.path.join(work, "x.png")] +
                               opt + [os.path.join(TF, "CT_small.dcm")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=30,
                               env=dict(os.environ, SDL_VIDEODRIVER="offscreen"))
            check(p.returncode == 2 and opt[0] in p.stdout,
                  "%s %s: exit %d, %s" % (opt[0], opt[1], p.returncode,
                                          p.stdout.strip()))
        except subprocess.TimeoutExpired:
            check(False, "%s %s: still running after 30 s" % tuple(opt))

    # 32-bit samples: pydicom's RT Dose (unsigned; Dose Grid Scaling, not
    # a rescale, gives the dose), a signed 32-bit image made here from
    # MR_small with values beyond 16 bits either side of zero, and
    # pydicom's 32-bit RGB (RLE)
    rd = os.path.join(TF, "rtdose.dcm")
    rds = pydicom.dcmread(rd)
    dgs = float(rds.DoseGridScaling)
    dose = rds.pixel_array[0].astype(float) * dgs
    compare("RT Dose, unsigned 32-bit with Dose Grid Scaling (window 1/0.4 Gy)",
            shot(view, rd, os.path.join(work, "rtdose.png"), "--window", "1,0.4"),
            to8(window_linear(dose, 1.0, 0.4, dgs)))
    # with no window in the file: its range, min to max (not all white, as
    # a LINEAR window in whole units would make it)
    lo, hi = dose.min(), dose.max()
    compare("RT Dose, default window %.4g/%.4g Gy" % ((lo + hi) / 2, hi - lo + dgs),
            shot(view, rd, os.path.join(work, "rtdose-default.png")),
            to8(window_linear(dose, (lo + hi) / 2, hi - lo + dgs, dgs)))
    # the same dose as RLE with its attributes written as UN (a sender that
    # did not know their VR): Dose Grid Scaling is read all the same
    compare("RT Dose as RLE, attributes with VR UN, the same window",
            shot(view, os.path.join(TF, "rtdose_rle.dcm"),
                 os.path.join(work, "rtdose-un.png"), "--window", "1,0.4"),
            to8(window_linear(dose, 1.0, 0.4, dgs)))
    s32 = os.path.join(work, "mr_signed32.dcm")
    ds = pydicom.dcmread(os.path.join(TF, "MR_small.dcm"))
    big = (ds.pixel_array.astype(np.int64) - 600) * 9000  # about -5.4e6..+1.8e7
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.PixelRepresentation = 1
    ds.RescaleSlope, ds.RescaleIntercept = "0.001", "100"
    ds.PixelData = big.astype("<i4").tobytes()
    ds.SOPInstanceUID = generate_uid()
    save(ds, s32)
    mod = big.astype(float) * 0.001 + 100
    compare("signed 32-bit, rescaled (window 100/9000)",
            shot(view, s32, os.path.join(work, "signed32.png"), "--window", "100,9000"),
            to8(window_linear(mod, 100, 9000)))
    r32 = os.path.join(TF, "SC_rgb_rle_32bit.dcm")
    compare("RGB, 32-bit samples (SC_rgb_rle_32bit)",
            shot(view, r32, os.path.join(work, "rgb32.png")),
            to8(pydicom.dcmread(r32).pixel_array.astype(float) / 4294967295.0))

    # ---- geometry on markers: top-left bright (1000), top-right mid (500)
    mk = os.path.join(work, "markers.dcm")
    marker_file(mk)
    win = ["--window", "500,1000"]  # 1000 -> white, 500 -> ~mid grey, 20 -> black
    lev_hi, lev_mid = 255, to8(window_linear(np.array(500.0), 500, 1000))

    def markers(*opts, size="64x48"):
        img = shot(view, mk, os.path.join(work, "geo.png"), "--size", size, *win, *opts)
        return None if img is None else (where(img, lev_hi), where(img, lev_mid))

    def near(p, q):
        return p is not None and abs(p[0] - q[0]) <= 0.01 and abs(p[1] - q[1]) <= 0.01

    # the markers' centres in image coordinates: (1, 1) and (63, 1)
    hi, mid = markers()
    check(near(hi, (1, 1)) and near(mid, (63, 1)),
          "identity: markers at %s and %s (expected (1,1) and (63,1))" % (hi, mid))
    hi, mid = markers("--flip", "h")
    check(near(hi, (63, 1)) and near(mid, (1, 1)),
          "flip h: markers at %s and %s" % (hi, mid))
    hi, mid = markers("--flip", "v")
    check(near(hi, (1, 47)) and near(mid, (63, 47)),
          "flip v: markers at %s and %s" % (hi, mid))
    # a quarter turn clockwise in a 48 x 64 screen: (x, y) -> (48 - y, x)
    hi, mid = markers("--rotate", "1", size="48x64")
    check(near(hi, (47, 1)) and near(mid, (47, 63)),
          "rotate 90 clockwise: markers at %s and %s (expected (47,1), (47,63))"
          % (hi, mid))
    hi, mid = markers("--rotate", "2")
    check(near(hi, (63, 47)) and near(mid, (1, 47)),
          "rotate 180: markers at %s and %s" % (hi, mid))
    # zoom 2 about the centre (32, 24) of a 200 x 160 screen, panned (10, -6):
    # screen = (100, 80) + pan + 2 * (image - (32, 24))
    hi, mid = markers("--zoom", "2", "--pan", "10,-6", size="200x160")
    check(near(hi, (100 + 10 + 2 * (1 - 32), 80 - 6 + 2 * (1 - 24))) and
          near(mid, (100 + 10 + 2 * (63 - 32), 80 - 6 + 2 * (1 - 24))),
          "zoom 2, pan (10,-6): markers at %s and %s" % (hi, mid))
    # fit: 64 x 48 into 128 x 128 is zoom 2, centred vertically
    hi, mid = markers(size="128x128")
    check(near(hi, (2, 16 + 2)) and near(mid, (126, 18)),
          "fit into 128x128: markers at %s and %s" % (hi, mid))

    if failures:
        print("view_pixels: %d check(s) failed" % len(failures))
        return 1
    print("view_pixels: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
