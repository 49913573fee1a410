#!/usr/bin/python3
"""Synthetic DICOM test-data generator for Consort.

Writes deterministic (seeded) uncompressed Explicit VR Little Endian Part-10
files whose pixel content looks roughly like real anatomy (smooth shapes plus
noise), so that compressors behave realistically:

    OUTDIR/ct/      CT Image Storage stack, 512x512 int16 signed (GB18030 name)
    OUTDIR/dr/      DX Image Storage - For Presentation, 12-bit unsigned
    OUTDIR/us/      US Multi-frame Image Storage, RGB 8-bit, PlanarConfig 0
    OUTDIR/us_ybr/  same kind of US cine, JPEG Baseline YBR_FULL_422
                    (written uncompressed, then encoded with DCMTK dcmcjpeg +eb)

Usage:  /usr/bin/python3 gen_synthetic.py OUTDIR [--small] [--ct-slices N]
                                            [--only ct,dr,us,us_ybr]
Needs only pydicom + numpy (and dcmcjpeg/dcmdump for us_ybr).
UIDs are derived deterministically from fixed seeds via generate_uid().
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
DX_PRESENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
US_MULTIFRAME_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"

STUDY_DATE = "20240315"


def uid(*parts):
    """Deterministic UID under the pydicom root, derived from *parts*."""
    return generate_uid(entropy_srcs=["consort-synthetic"] + [str(p) for p in parts])


# --------------------------------------------------------------------------
# Pixel helpers
# --------------------------------------------------------------------------

def upsample(a, shape):
    """Bilinear resize of 2-D array *a* to *shape* (numpy only)."""
    def axis(n_in, n_out):
        pos = np.linspace(0, n_in - 1, n_out, dtype=np.float32)
        i0 = np.minimum(pos.astype(np.int32), n_in - 2)
        return i0, pos - i0
    yi, yf = axis(a.shape[0], shape[0])
    xi, xf = axis(a.shape[1], shape[1])
    rows = a[yi] * (1 - yf)[:, None] + a[yi + 1] * yf[:, None]
    return (rows[:, xi] * (1 - xf) + rows[:, xi + 1] * xf).astype(np.float32)


def smooth_noise(rng, shape, cell):
    """Low-frequency noise (unit-ish std) with feature size ~*cell* pixels."""
    lo = rng.standard_normal((shape[0] // cell + 2, shape[1] // cell + 2))
    return upsample(lo.astype(np.float32), shape)


def soft_ellipse(x, y, cx, cy, a, b, edge=1.5):
    """Anti-aliased ellipse mask in [0, 1]; *edge* is the blur width (pixels)."""
    d = np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2)
    return 1.0 / (1.0 + np.exp(np.clip((d - 1.0) * min(a, b) / edge, -30, 30)))


def grid(rows, cols):
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    return x, y


# --------------------------------------------------------------------------
# Common dataset construction
# --------------------------------------------------------------------------

def new_dataset(path, sop_class, sop_uid):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = uid("implementation")
    meta.ImplementationVersionName = "CONSORT_SYNTH"
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    return ds


def code_item(value, scheme, meaning):
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def fill_common(ds, pat, study, series, modality, number, time_str, image_type):
    if pat.get("charset"):
        ds.SpecificCharacterSet = pat["charset"]
    ds.ImageType = image_type
    ds.InstanceCreationDate = STUDY_DATE
    ds.InstanceCreationTime = time_str
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = STUDY_DATE
    ds.StudyTime = study["time"]
    ds.SeriesTime = ds.ContentTime = time_str
    ds.AccessionNumber = study["accession"]
    ds.Modality = modality
    ds.Manufacturer = "Consort Synthetic"
    ds.InstitutionName = "Consort Test Hospital"
    ds.ReferringPhysicianName = "Ref^Doctor"
    ds.StudyDescription = study["description"]
    ds.SeriesDescription = series["description"]
    ds.PatientName = pat["name"]
    ds.PatientID = pat["id"]
    ds.PatientBirthDate = pat["birth"]
    ds.PatientSex = pat["sex"]
    ds.StudyInstanceUID = study["uid"]
    ds.SeriesInstanceUID = series["uid"]
    ds.StudyID = study["id"]
    ds.SeriesNumber = series["number"]
    ds.InstanceNumber = number
    ds.FrameOfReferenceUID = study["for_uid"]
    ds.PositionReferenceIndicator = ""


def set_pixels(ds, arr, *, samples=1, bits_stored, signed, photometric):
    arr = np.ascontiguousarray(arr)
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = (arr.shape[-3], arr.shape[-2]) if samples > 1 else arr.shape[-2:]
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    vr = "OW" if ds.BitsAllocated > 8 else "OB"
    ds.add_new(0x7FE00010, vr, arr.astype(arr.dtype.newbyteorder("<")).tobytes())


def save(ds, path):
    ds.save_as(path, write_like_original=False)


# --------------------------------------------------------------------------
# CT
# --------------------------------------------------------------------------

def ct_slice_hu(rng, x, y, zf):
    """One axial chest-ish slice in HU; zf in [0, 1] runs feet -> head."""
    n = x.shape[0]
    c = n / 2.0
    hu = np.full(x.shape, -1000.0, np.float32)
    body_a, body_b = 215 - 15 * zf, 150 - 8 * zf
    body = soft_ellipse(x, y, c, c + 10, body_a, body_b)
    inner = soft_ellipse(x, y, c, c + 10, body_a - 12, body_b - 12)
    hu += body * (1000 - 100)                           # subcutaneous fat -100
    hu += inner * (40 + 100) + inner * 15 * smooth_noise(rng, x.shape, 24)
    lung_s = 0.55 + 0.45 * np.sin(np.pi * (0.15 + 0.8 * zf))
    for side in (-1, 1):                                # lungs
        lung = soft_ellipse(x, y, c + side * 95, c - 5, 70 * lung_s + 10,
                            105 * lung_s + 10, edge=2.0)
        texture = 25 * smooth_noise(rng, x.shape, 6)
        hu += lung * (-860 - 40 + texture)
    heart = soft_ellipse(x, y, c + 25, c + 20, 70 * (1 - zf * 0.6), 58 * (1 - zf * 0.6))
    hu += heart * (45 - hu) * 0.98
    aorta = soft_ellipse(x, y, c + 5, c + 55, 16, 16)
    hu += aorta * (220 - hu)                            # contrast-filled aorta
    spine_cy = c + 105
    vert = soft_ellipse(x, y, c, spine_cy, 30, 26)
    cortex = vert - soft_ellipse(x, y, c, spine_cy, 24, 20)
    hu += vert * (250 - hu) + cortex * 700
    hu += soft_ellipse(x, y, c, spine_cy + 38, 8, 18) * 600   # spinous process
    for k in range(11):                                 # ribs on the body wall
        t = np.pi * (0.08 + 0.84 * k / 10.0) + 0.15 * np.sin(6 * zf + k)
        rx, ry = c + (body_a - 22) * np.cos(t), c + 10 - (body_b - 20) * np.sin(t)
        if ry < c + 100:
            rib = soft_ellipse(x, y, rx, ry, 9, 6)
            hu += rib * (900 - hu)
    if 0.3 < zf < 0.5:                                  # small metal clip
        hu += soft_ellipse(x, y, c + 40, c + 30, 3, 2, edge=0.5) * 2800
    table = (y > c + 175) & (y < c + 183) & (np.abs(x - c) < 210)
    hu[table] = 150.0
    hu += rng.normal(0.0, 12.0, x.shape).astype(np.float32)  # quantum noise
    return hu


def gen_ct(outdir, n_slices, pats, t0):
    rng = np.random.default_rng(1001)
    rows = cols = 512
    spacing, thick = 0.7, 2.5
    pat, study = pats["ct"]
    series = {"uid": uid("ct", "series"), "number": 2,
              "description": "Thorax 2.5mm 胸部"}
    x, y = grid(rows, cols)
    fov = ((x - cols / 2 + 0.5) ** 2 + (y - rows / 2 + 0.5) ** 2) > (rows / 2) ** 2
    os.makedirs(os.path.join(outdir, "ct"), exist_ok=True)
    for i in range(n_slices):
        zf = i / max(n_slices - 1, 1)
        hu = np.clip(ct_slice_hu(rng, x, y, zf), -1024, 3071)
        stored = np.rint(hu + 1024).astype(np.int16)    # intercept -1024
        stored[fov] = -2000                             # outside recon circle
        path = os.path.join(outdir, "ct", "ct_%04d.dcm" % (i + 1))
        ds = new_dataset(path, CT_STORAGE, uid("ct", "sop", i))
        fill_common(ds, pat, study, series, "CT", i + 1, "1016%02d" % (i % 60),
                    ["ORIGINAL", "PRIMARY", "AXIAL"])
        ds.BodyPartExamined = "CHEST"
        z = -150.0 + i * thick
        ds.ImagePositionPatient = [-(cols / 2) * spacing, -(rows / 2) * spacing, z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [spacing, spacing]
        ds.SliceThickness = thick
        ds.SpacingBetweenSlices = thick
        ds.SliceLocation = z
        ds.KVP = 120
        ds.XRayTubeCurrent = 250
        ds.ConvolutionKernel = "STANDARD"
        ds.PatientPosition = "FFS"
        ds.AcquisitionNumber = 1
        set_pixels(ds, stored, bits_stored=16, signed=True, photometric="MONOCHROME2")
        ds.add_new(0x00280120, "SS", -2000)             # PixelPaddingValue
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = [40, -600]
        ds.WindowWidth = [400, 1500]
        ds.LossyImageCompression = "00"
        save(ds, path)
    report("ct", outdir, "%d slices %dx%d int16 signed" % (n_slices, cols, rows), t0)


# --------------------------------------------------------------------------
# DR
# --------------------------------------------------------------------------

def gen_dr(outdir, size, pats, t0, views=1):
    rng = np.random.default_rng(2002)
    pat, study = pats["dr"]
    series = {"uid": uid("dr", "series"), "number": 1, "description": "Chest PA"}
    x, y = grid(size, size)
    s = size / 2048.0                                   # geometry scale
    c = size / 2.0
    v = np.full(x.shape, 180.0, np.float32)             # direct exposure
    body = soft_ellipse(x, y, c, c + 150 * s, 900 * s, 1150 * s, edge=25 * s)
    v += body * 2000
    lungs = sum(soft_ellipse(x, y, c + sd * 380 * s, c - 50 * s, 300 * s, 620 * s,
                             edge=40 * s) for sd in (-1, 1))
    v -= lungs * (1000 + 120 * smooth_noise(rng, x.shape, max(int(40 * s), 4)))
    v += soft_ellipse(x, y, c + 90 * s, c + 250 * s, 330 * s, 300 * s, edge=30 * s) * 700
    v += soft_ellipse(x, y, c, c, 75 * s, 1100 * s, edge=10 * s) * 900   # spine
    for k in range(10):                                 # ribs: curved bands
        y0 = c - 620 * s + k * 125 * s
        for sd in (-1, 1):
            dx = (x - c) * sd
            arc = y0 + 0.00045 / s * (dx - 300 * s) ** 2 - 0.3 * dx
            band = np.exp(-((y - arc) / (16 * s)) ** 2) * (dx > 60 * s) * (dx < 720 * s)
            v += band * lungs * 450
    v += soft_ellipse(x, y, c, c - 880 * s, 600 * s, 60 * s, edge=8 * s) * 500  # clavicles
    v += 60 * smooth_noise(rng, x.shape, max(int(200 * s), 4))
    mark = (np.abs(x - 150 * s) < 40 * s) & (np.abs(y - 150 * s) < 60 * s)
    os.makedirs(os.path.join(outdir, "dr"), exist_ok=True)
    for k in range(views):                              # exposures: own noise
        gen_dr_view(outdir, k, v + rng.normal(0.0, 18.0, x.shape).astype(np.float32),
                    mark, s, pat, study, series)
    report("dr", outdir, "%d image(s) %dx%d uint16 12-bit" % (views, size, size), t0)


def gen_dr_view(outdir, k, v, mark, s, pat, study, series):
    v[mark] = 4095                                      # lead side marker
    pixels = np.clip(np.rint(v), 0, 4095).astype(np.uint16)
    path = os.path.join(outdir, "dr", "dr_%04d.dcm" % (k + 1))
    ds = new_dataset(path, DX_PRESENTATION_STORAGE, uid("dr", "sop", k))
    fill_common(ds, pat, study, series, "DX", k + 1, "091500", ["ORIGINAL", "PRIMARY"])
    ds.AnatomicRegionSequence = [code_item("43799004", "SCT", "Chest")]
    ds.ViewCodeSequence = [code_item("399348003", "SCT", "postero-anterior")]
    ds.ImageLaterality = "U"
    ds.PositionerType = ""
    ds.DetectorType = "SCINTILLATOR"
    ds.AcquisitionContextSequence = []
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.ImagerPixelSpacing = [0.139 / s, 0.139 / s]
    ds.PixelSpacing = [0.139 / s, 0.139 / s]
    ds.KVP = 125
    ds.DistanceSourceToDetector = 1800
    ds.BurnedInAnnotation = "NO"
    set_pixels(ds, pixels, bits_stored=12, signed=False, photometric="MONOCHROME2")
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.WindowCenter = 2048
    ds.WindowWidth = 4096
    ds.PresentationLUTShape = "IDENTITY"
    ds.LossyImageCompression = "00"
    save(ds, path)


# --------------------------------------------------------------------------
# US
# --------------------------------------------------------------------------

def speckle_field(rng, shape):
    """Rayleigh speckle with a laterally elongated grain (~3 px wide)."""
    a = rng.rayleigh(1.0, shape).astype(np.float32)
    return (a + np.roll(a, 1, axis=1) + np.roll(a, -1, axis=1)) / 3.0


def us_frames(n_frames, seed):
    """Cardiac-ish sector cine: (n, 480, 640, 3) uint8, grey except Doppler."""
    rng = np.random.default_rng(seed)
    rows, cols = 480, 640
    x, y = grid(rows, cols)
    ax, ay = cols / 2.0, 40.0                           # sector apex
    r = np.hypot(x - ax, y - ay)
    th = np.arctan2(x - ax, y - ay)
    half = np.deg2rad(38)
    sector = (np.clip((430 - r) / 1.5, 0, 1) * np.clip((half - np.abs(th)) * r / 1.5, 0, 1)
              * (r > 25))
    echo = 0.55 + 0.18 * smooth_noise(rng, (rows, cols), 40)
    base_speckle = speckle_field(rng, (rows, cols))
    tgc = np.clip(1.1 - r / 900.0, 0.5, 1.0)
    out = np.zeros((n_frames, rows, cols, 3), np.uint8)
    for f in range(n_frames):
        ph = 2 * np.pi * f / 15.0                       # ~2 Hz at 30 fps
        fresh = speckle_field(rng, (rows, cols))
        speckle = 0.8 * base_speckle + 0.2 * fresh
        cav = soft_ellipse(x, y, ax + 10, 250, 80 + 12 * np.sin(ph), 95 + 10 * np.sin(ph),
                           edge=4)                      # pulsating chamber
        wall = soft_ellipse(x, y, ax + 10, 250, 110 + 8 * np.sin(ph), 125 + 8 * np.sin(ph),
                            edge=4) - cav
        refl = np.exp(-((y - 400 - 3 * np.sin(ph)) / 3.0) ** 2) * (np.abs(x - ax) < 150)
        amp = echo * (1 - 0.9 * cav) + 0.5 * wall + 0.8 * refl
        img = np.log1p(6 * amp * speckle * tgc) / np.log1p(6 * 3.0) * 235 * sector
        grey = np.clip(img, 0, 255).astype(np.uint8)
        frame = np.repeat(grey[:, :, None], 3, axis=2)
        frame[12:20, 16:120] = 200                      # "text" overlay blocks
        frame[26:34, 16:80] = 200
        frame[440:470, 600:608] = np.linspace(0, 255, 30, dtype=np.uint8)[:, None, None]
        if f % 3 == 2:                                  # colour Doppler box
            bx, by, bw, bh = 290, 200, 80, 90
            frame[by, bx:bx + bw] = frame[by + bh, bx:bx + bw] = 180
            frame[by:by + bh, bx] = frame[by:by + bh, bx + bw] = 180
            yy, xx = y[by + 1:by + bh, bx + 1:bx + bw], x[by + 1:by + bh, bx + 1:bx + bw]
            jet = np.exp(-((xx - (bx + bw / 2 + 10 * np.sin(yy / 15.0))) / 12.0) ** 2)
            vel = jet * np.cos(ph) * (0.7 + 0.3 * rng.random(jet.shape))
            sub = frame[by + 1:by + bh, bx + 1:bx + bw]
            fwd, rev = vel > 0.15, vel < -0.15
            mag = np.clip(np.abs(vel) * 255, 0, 255).astype(np.uint8)
            sub[fwd] = np.stack([mag[fwd], mag[fwd] // 6, mag[fwd] // 8], -1)
            sub[rev] = np.stack([mag[rev] // 8, mag[rev] // 3, mag[rev]], -1)
        out[f] = frame
    return out


def us_dataset(path, pats, key, sop_uid, series, frames):
    pat, study = pats[key]
    ds = new_dataset(path, US_MULTIFRAME_STORAGE, sop_uid)
    # ImageType value 4 = US mode bitmap: 0001 2D + 0010 colour flow Doppler
    fill_common(ds, pat, study, series, "US", 1, "143000",
                ["ORIGINAL", "PRIMARY", "EPICARDIAL", "0011"])
    ds.PatientOrientation = ""
    del ds.FrameOfReferenceUID, ds.PositionReferenceIndicator
    ds.BodyPartExamined = "HEART"
    ds.NumberOfFrames = frames.shape[0]
    ds.FrameIncrementPointer = 0x00181063               # -> FrameTime
    ds.FrameTime = 33.3
    ds.CineRate = 30
    ds.RecommendedDisplayFrameRate = 30
    ds.TransducerData = ["S5-1"]
    ds.BurnedInAnnotation = "YES"
    # the calibration a scanner gives (PS3.3 C.8.5.5): one 2D region over
    # the whole frame, 0.2 mm per pixel both ways
    region = Dataset()
    region.RegionSpatialFormat = 1          # 2D
    region.RegionDataType = 1               # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0 = 0
    region.RegionLocationMinY0 = 0
    region.RegionLocationMaxX1 = frames.shape[2] - 1
    region.RegionLocationMaxY1 = frames.shape[1] - 1
    region.PhysicalUnitsXDirection = 3      # cm
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = 0.02
    region.PhysicalDeltaY = 0.02
    ds.SequenceOfUltrasoundRegions = [region]
    set_pixels(ds, frames, samples=3, bits_stored=8, signed=False, photometric="RGB")
    ds.LossyImageCompression = "00"
    return ds


def gen_us(outdir, n_frames, pats, t0):
    frames = us_frames(n_frames, 3003)
    series = {"uid": uid("us", "series"), "number": 1, "description": "Echo cine RGB"}
    os.makedirs(os.path.join(outdir, "us"), exist_ok=True)
    path = os.path.join(outdir, "us", "us_0001.dcm")
    save(us_dataset(path, pats, "us", uid("us", "sop", 0), series, frames), path)
    report("us", outdir, "1 file %d frames 640x480 RGB 8-bit" % n_frames, t0)
    return frames


def gen_us_ybr(outdir, frames, pats, t0):
    series = {"uid": uid("us_ybr", "series"), "number": 2,
              "description": "Echo cine JPEG baseline"}
    os.makedirs(os.path.join(outdir, "us_ybr"), exist_ok=True)
    path = os.path.join(outdir, "us_ybr", "us_ybr_0001.dcm")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "rgb.dcm")
        save(us_dataset(src, pats, "us", uid("us_ybr", "sop", 0), series, frames), src)
        # +eb: baseline; colour defaults are +cy (YCbCr) and +s2 (4:2:2 -> YBR_FULL_422).
        # +un keeps our deterministic SOP Instance UID (source is a temp file).
        subprocess.run(["dcmcjpeg", "+eb", "+un", src, path], check=True)
    dump = subprocess.run(["dcmdump", "-q", "-Un", "+P", "0002,0010", "+P", "0028,0004",
                           "+P", "0028,0006", path], check=True,
                          capture_output=True, text=True).stdout
    got = {line[1:10]: line[14:].split("#")[0].strip().strip("[]")
           for line in dump.splitlines() if line.startswith("(")}
    desc = "dcmcjpeg +eb -> TS %s, %s, PlanarConfiguration %s" % (
        got.get("0002,0010"), got.get("0028,0004"), got.get("0028,0006", "(absent)"))
    if got.get("0002,0010") != JPEG_BASELINE:
        sys.exit("us_ybr: unexpected transfer syntax: " + desc)
    report("us_ybr", outdir, desc, t0)


# --------------------------------------------------------------------------

def report(name, outdir, what, t0):
    d = os.path.join(outdir, name)
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print("%-7s %-64s %8.1f MB %6.1f s" % (name, what, size / 1e6, time.time() - t0),
          flush=True)


def patients():
    ct_pat = {"name": "Zhang^San=张^三", "id": "SYN0001", "birth": "19650412",
              "sex": "M", "charset": "GB18030"}
    dr_pat = {"name": "Müller^Anna", "id": "SYN0002", "birth": "19880730",
              "sex": "F", "charset": "ISO_IR 100"}
    us_pat = {"name": "Doe^John", "id": "SYN0003", "birth": "19720101", "sex": "M"}

    def study(key, desc, t):
        return {"uid": uid(key, "study"), "for_uid": uid(key, "for"), "time": t,
                "id": key.upper(), "accession": "ACC" + key.upper(), "description": desc}
    us_study = study("us", "Echocardiography", "143000")
    return {"ct": (ct_pat, study("ct", "CT 胸部 Thorax", "101500")),
            "dr": (dr_pat, study("dr", "Thorax PA", "091500")),
            "us": (us_pat, us_study)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--small", action="store_true", help="reduced sizes for quick tests")
    ap.add_argument("--ct-slices", type=int, help="CT stack size (default 40, --small 8)")
    ap.add_argument("--only", default="ct,dr,us,us_ybr", help="which series to write")
    ap.add_argument("--dr-size", type=int, help="DR image size (default 2048, --small 512)")
    ap.add_argument("--dr-views", type=int, default=1, help="DR images in the series")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if not only or only - {"ct", "dr", "us", "us_ybr"}:
        ap.error("--only takes ct, dr, us, us_ybr")
    os.makedirs(args.outdir, exist_ok=True)
    pats = patients()
    t0 = time.time()
    if "ct" in only:
        gen_ct(args.outdir, args.ct_slices or (8 if args.small else 40), pats, t0)
    if "dr" in only:
        gen_dr(args.outdir, args.dr_size or (512 if args.small else 2048), pats, t0,
               args.dr_views)
    if only & {"us", "us_ybr"}:
        frames = gen_us(args.outdir, 6 if args.small else 30, pats, t0)
        if "us_ybr" in only:
            gen_us_ybr(args.outdir, frames, pats, t0)


if __name__ == "__main__":
    main()
