#!/usr/bin/python3
"""consort-view's reading tools driven by injected SDL events (--script on
SDL's offscreen driver, Mesa): on pydicom's CT_small (128 x 128, Pixel
Spacing 0.661 mm) in a 512 x 512 window, so one image pixel is four screen
pixels. A drag with the length tool gives the known length in mm; the
angle tool by three clicks gives 90 degrees; an ellipse ROI gives HU
statistics; a text in Chinese; a mark selected and dragged moves by the
drag; Delete removes it; Ctrl+Z brings it back and Ctrl+Y removes it
again; Esc leaves a tool before it quits. The marks are in image
coordinates, so zooming does not change them.

Presentation states: Ctrl+S saves the marks, window and view as a GSPS
in the study's cache folder and C-STOREs it to the node given by --node
(a consort-node started here); opening the images again applies it (the
same tools at the same points); dciodvfy finds no error in it. The
measurements are saved and stored beside it as a TID 1500 measurement
report whose length NUM is the 66.1 mm the label shows.

usage: view_tools.py CONSORT_VIEW CONSORT_NODE WORKDIR PORT
(tools.png is left in WORKDIR)
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import numpy as np  # noqa: E402
import pydicom  # noqa: E402

CT = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAILED: ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def run(view, lines, image=CT, extra=(), env=None):
    p = subprocess.run([view, "--size", "512x512", "--script", "-"] + list(extra) +
                       ([image] if image else []),
                       input="\n".join(["wait"] + lines + ["quit"]) + "\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120,
                       env=dict(os.environ, SDL_VIDEODRIVER="offscreen", **(env or {})))
    states = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0:
        check(False, "consort-view exited %d: %s" % (p.returncode, p.stdout[-500:]))
    return states


SHOT_DIR = "/tmp"


def main():
    global SHOT_DIR
    view, node, SHOT_DIR, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    shutil.rmtree(SHOT_DIR, ignore_errors=True)
    os.makedirs(SHOT_DIR)
    # the test's own cache: presentation states are saved there
    os.environ["XDG_CACHE_HOME"] = os.path.join(SHOT_DIR, "cache")
    st = run(view, [
        "key d", "drag left 40 40 440 40", "state",          # length
        "key d", "key a", "click 200 200", "click 400 200", "click 400 0", "state",
        "key a", "key e", "drag left 200 240 360 400", "state",  # ellipse ROI
        "key e", "key t", "click 100 480", "text 结节", "key Return", "state",
        "key Escape", "state", "screenshot " + os.path.join(SHOT_DIR, "tools.png"),
    ])
    if len(st) < 5:
        check(False, "five states expected, got %d" % len(st))
        return 1
    a = st[0]["annotations"]
    check(len(a) == 1 and a[0]["tool"] == "LENGTH" and
          a[0]["points"] == [10, 10, 110, 10] and a[0]["label"] == "66.1 mm",
          "length tool: drag 400 screen px = 100 image px = 66.1 mm: %s" %
          (a[0] if a else None))
    a = st[1]["annotations"]
    check(len(a) == 2 and a[1]["tool"] == "ANGLE" and a[1]["label"] == "90.0°",
          "angle tool by three clicks: %s" % (a[1]["label"] if len(a) > 1 else None))
    a = st[2]["annotations"]
    check(len(a) == 3 and a[2]["tool"] == "ELLIPSE" and a[2]["points"] == [50, 60, 90, 100],
          "ellipse ROI: %s" % (a[2] if len(a) > 2 else None))
    a = st[3]["annotations"]
    check(len(a) == 4 and a[3]["tool"] == "TEXT" and a[3]["label"] == "结节",
          "text tool with Chinese: %s" % (a[3]["label"] if len(a) > 3 else None))
    check(st[3]["tool"] == "TEXT" and st[4]["tool"] == "",
          "Esc leaves the tool (and does not quit)")

    # select and move, delete, undo, redo; zoom does not move marks
    st = run(view, [
        "key d", "drag left 40 40 440 40", "key d",
        "drag left 240 40 240 80", "state",       # grab the line, move it down
        "key Delete", "state",
        "key z ctrl", "state",
        "key y ctrl", "state",
        "key z ctrl", "drag right 256 256 256 200", "state",
    ])
    if len(st) < 5:
        check(False, "five states expected, got %d" % len(st))
        return 1
    a = st[0]["annotations"]
    check(len(a) == 1 and a[0]["points"] == [10, 20, 110, 20] and st[0]["selected"] == a[0]["id"],
          "a selected line dragged 40 screen px down moves 10 image px: %s" %
          (a[0]["points"] if a else None))
    check(len(st[1]["annotations"]) == 0, "Delete removes it")
    check(len(st[2]["annotations"]) == 1, "Ctrl+Z brings it back")
    check(len(st[3]["annotations"]) == 0, "Ctrl+Y removes it again")
    check(st[4]["zoom"] > st[3]["zoom"] and st[4]["annotations"][0]["points"] == [10, 20, 110, 20],
          "zooming leaves the mark where it is on the image")

    # edit: drag one end of the selected caliper (the other stays), undo;
    # retype a text (Enter on it), undo
    st = run(view, [
        "key d", "drag left 40 40 440 40", "key d",
        "drag left 440 40 440 240", "state",
        "key z ctrl", "state",
        "key t", "click 100 480", "text 结节", "key Return", "key t",
        "key Return", "key BackSpace", "key BackSpace", "text 肿块", "key Return",
        "state",
        "key z ctrl", "state",
    ])
    if len(st) < 4:
        check(False, "four states expected, got %d" % len(st))
        return 1
    a = st[0]["annotations"]
    check(len(a) == 1 and a[0]["points"] == [10, 10, 110, 60] and a[0]["label"] == "74.0 mm",
          "dragging the end of the selected caliper edits it: %r" %
          (((a[0]["points"], a[0]["label"]) if a else None),))
    check(st[1]["annotations"][0]["points"] == [10, 10, 110, 10],
          "Ctrl+Z puts the end back")
    texts = lambda s: [x["label"] for x in s["annotations"] if x["tool"] == "TEXT"]
    check(texts(st[2]) == ["肿块"] and texts(st[3]) == ["结节"],
          "Enter on a selected text retypes it; Ctrl+Z gives the old words "
          "back: %s, %s" % (texts(st[2]), texts(st[3])))
    # save to the node, reopen, apply
    storage = os.path.join(SHOT_DIR, "var")
    srv = nl.node_server(node, storage, port, os.path.join(SHOT_DIR, "node.log"),
                         sync="normal").start()
    img = os.path.join(SHOT_DIR, "img")
    os.makedirs(img)
    shutil.copy(CT, img)
    st = run(view, ["key d", "drag left 40 40 440 40", "key d",
                    "key e", "drag left 200 240 360 400", "key e",
                    "key k", "key k shift",
                    "key s ctrl", "state"],
             image=img, extra=["--node", "CONSORT@127.0.0.1:%d" % port, "--aet", "READER"],
             env={"CONSORT_READER": "Wang^Wei"})
    note = st[-1]["note"] if st else ""
    check("saved (2 mark(s)) and stored to CONSORT" in note and
          "1 key image(s) saved for teaching, stored to CONSORT" in note, "Ctrl+S: %s" % note)
    rows = nl.index_rows(storage, "SELECT sop_class, i.sop_uid FROM instances i")
    gsps = [r for r in rows if r[0] == "1.2.840.10008.5.1.4.1.1.11.1"]
    check(len(gsps) == 1, "the node holds the presentation state (%d GSPS)" % len(gsps))
    kos = nl.index_rows(storage, "SELECT path FROM instances WHERE sop_class = "
                                 "'1.2.840.10008.5.1.4.1.1.88.59'")
    title = pydicom.dcmread(os.path.join(storage, kos[0][0])).ConceptNameCodeSequence[0] \
        if kos else None
    check(len(kos) == 1 and title.CodeValue == "TCE001",
          "the node holds the key object selection 'For Teaching File Export'")
    rc, out = nl.run([node, "export", "--list", "--storage", storage])
    check(rc == 0 and pydicom.dcmread(CT).StudyInstanceUID in out and "pending" in out and
          "queued there for the de-identified teaching export" in note,
          "Shift+K, Ctrl+S: the node queued the study for the teaching export "
          "(%s)" % out.strip())
    saved = [os.path.join(d, f) for d, _, fs in os.walk(os.environ["XDG_CACHE_HOME"])
             for f in fs if f.endswith(".dcm")]
    by_class = {}
    for f in saved:
        by_class.setdefault(str(pydicom.dcmread(f, stop_before_pixels=True).SOPClassUID),
                            []).append(f)
    states = by_class.get("1.2.840.10008.5.1.4.1.1.11.1", [])
    rc, out = nl.run(["dciodvfy", states[0]]) if states else (1, "")
    check(states and "Error" not in out, "dciodvfy: no error in the saved state")
    # the measurement report beside it: the length's NUM is the label's
    # 66.1 mm, the ellipse has HU statistics
    mrs = by_class.get("1.2.840.10008.5.1.4.1.1.88.33", [])
    mr = pydicom.dcmread(mrs[0]) if mrs else None
    nums = sr_nums(mr) if mr else {}
    length = nums.get("Length", (0, ""))
    # the ellipse's mean HU, computed here: pixel centres inside the
    # ellipse inscribed in (50,60)-(90,100) (the viewer keeps its slices
    # packed: the statistics must be of the very pixels)
    ds = pydicom.dcmread(CT)
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    yy, xx = np.mgrid[0:hu.shape[0], 0:hu.shape[1]] + 0.5
    inside = ((xx - 70) / 20) ** 2 + ((yy - 80) / 20) ** 2 <= 1
    want_mean = hu[inside].mean()
    mean = nums.get("Mean", (0, ""))
    check(len(mrs) == 1 and mr.ContentTemplateSequence[0].TemplateIdentifier == "1500" and
          abs(length[0] - 66.1) <= 0.1 and length[1] == "mm" and
          mean[1] == "[hnsf'U]" and abs(mean[0] - want_mean) <= 0.05,
          "the cache holds a TID 1500 measurement report (Comprehensive SR): "
          "length %s, ellipse mean %s (numpy: %.2f HU)" % (length, mean, want_mean))
    rc, out = nl.run(["dciodvfy", mrs[0]]) if mrs else (1, "")
    check(mrs and "Error" not in out, "dciodvfy: no error in the measurement report")
    srs = nl.index_rows(storage, "SELECT sop_uid FROM instances WHERE sop_class = "
                                 "'1.2.840.10008.5.1.4.1.1.88.33'")
    check(len(srs) == 1 and mrs and srs[0][0] == mr.SOPInstanceUID,
          "the node holds the measurement report")
    st = run(view, ["state"], image=img)
    a = st[0]["annotations"] if st else []
    check(st and st[0]["presents"] == 1 and st[0]["present"] == 0 and
          [(x["tool"], x["points"]) for x in a] ==
          [("LENGTH", [10, 10, 110, 10]), ("ELLIPSE", [50, 60, 90, 100])],
          "reopened: the state is applied, same tools at the same points (%s)" %
          (st[0]["note"] if st else ""))
    # the reading status in the study browser, from the SOP classes the
    # node's index holds for the study: a state, key images and a
    # measurement report make it "in progress" (a Comprehensive SR is not a
    # report), a report (Basic Text SR) "reported"; typing "unread" leaves
    # the others
    st = run(view, ["state"], image=None,
             extra=["--node", "CONSORT@127.0.0.1:%d" % port, "--aet", "READER"])
    check(st and st[0]["mode"] == "browser" and st[0]["reading"] == ["in progress"],
          "browser: the study with a state, a measurement report and key images "
          "reads in progress: %s" % (st[0].get("reading") if st else None))
    # the report, written in the viewer (Ctrl+R), stored to the node
    st = run(view, ["key r ctrl", "text 右肺上叶结节 12 mm", "key Return",
                    "text 边界清楚", "key Tab", "text 建议三个月后复查", "state",
                    "key Return ctrl", "state"],
             image=img, extra=["--node", "CONSORT@127.0.0.1:%d" % port, "--aet", "READER"],
             env={"CONSORT_READER": "Wang^Wei"})
    check(len(st) == 2 and st[0]["report_open"] == 1 and st[1]["report_open"] == 0 and
          "report saved and stored to CONSORT" in st[1]["note"],
          "Ctrl+R, typing, Ctrl+Enter: %s" % (st[1]["note"] if len(st) > 1 else st))
    srs = nl.index_rows(storage, "SELECT path FROM instances WHERE sop_class = "
                                 "'1.2.840.10008.5.1.4.1.1.88.11'")
    rep = pydicom.dcmread(os.path.join(storage, srs[0][0])) if srs else None
    secs = {c.ConceptNameCodeSequence[0].CodeMeaning: c.ContentSequence[0].TextValue
            for c in rep.ContentSequence if c.ValueType == "CONTAINER"} if rep else {}
    check(secs == {"Findings": "右肺上叶结节 12 mm\n边界清楚",
                   "Impression": "建议三个月后复查"} and
          str(rep.VerifyingObserverSequence[0].VerifyingObserverName) == "Wang^Wei",
          "the node holds the report (Basic Text SR): findings on two lines, "
          "impression, verified by the reader")
    st = run(view, ["state", "text unread", "state"], image=None,
             extra=["--node", "CONSORT@127.0.0.1:%d" % port, "--aet", "READER"])
    check(len(st) == 2 and st[0]["reading"] == ["reported"] and st[1]["rows"] == 0,
          "browser: with a report the study is reported, and not on the unread "
          "worklist: %s" % ([x.get("reading") for x in st]))
    srv.stop()
    per_image_calibration(view)
    displayed_area(view)
    per_image_state(view)
    multiframe_roi(view)
    print("view_tools: %d failed" % len(failures))
    return 1 if failures else 0


def small_image(path, sop_class, series, number, extra):
    """A 128 x 128 8-bit grey image of series `series`, a square in it."""
    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.StudyInstanceUID = series[:-2] + ".9"
    ds.SeriesInstanceUID = series
    ds.PatientName, ds.PatientID = "Calib^Test", "CAL1"
    ds.InstanceNumber = number
    ds.Rows = ds.Columns = 128
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    px = bytearray(128 * 128)
    for y in range(32, 96):
        px[y * 128 + 32:y * 128 + 96] = b"\xc8" * 64
    ds.PixelData = bytes(px)
    for k, v in extra.items():
        setattr(ds, k, v)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)
    return ds.SOPInstanceUID


def per_image_calibration(view):
    """Each image of a series measures by its own calibration: an
    ultrasound series whose two images were taken at different depths (0.2
    and 0.5 mm per pixel), a DR series whose two views have different
    detector spacings. The first image's was used for all."""
    us_dir = os.path.join(SHOT_DIR, "us-depths")
    os.makedirs(us_dir)
    series = pydicom.uid.generate_uid()
    mm = {}
    for n, delta in ((1, 0.02), (2, 0.05)):
        region = pydicom.Dataset()
        region.RegionSpatialFormat, region.RegionDataType = 1, 1
        region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = 127, 127
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
        region.PhysicalDeltaX = region.PhysicalDeltaY = delta
        uid = small_image(os.path.join(us_dir, "us%d.dcm" % n),
                          "1.2.840.10008.5.1.4.1.1.6.1", series, n,
                          {"Modality": "US",
                           "SequenceOfUltrasoundRegions": pydicom.Sequence([region])})
        mm[uid] = delta * 10
    st = run(view, ["key d", "drag left 40 40 440 40", "state", "wheel -1",
                    "drag left 40 80 440 80", "state"], image=us_dir)
    if len(st) != 2:
        check(False, "two states expected, got %d" % len(st))
        return
    a = st[1]["annotations"]
    want = ["%.1f mm (US region)" % (100 * mm[x["sop"]]) for x in a]
    check(st[0]["slice"] != st[1]["slice"] and len(a) == 2 and
          a[0]["sop"] != a[1]["sop"] and [x["label"] for x in a] == want and
          abs(st[1]["mm_per_pixel"] - mm[a[1]["sop"]]) < 1e-9,
          "ultrasound at two depths: 100 pixels measure %s, each by its own "
          "region (want %s); scale %s mm/pixel"
          % ([x["label"] for x in a], want, st[1]["mm_per_pixel"]))
    # one image, two regions side by side at different depths (a dual
    # B-mode view): a caliper measures by the region that holds it, one
    # across both has no mm
    regions = []
    for x0, x1, delta in ((0, 63, 0.02), (64, 127, 0.05)):
        region = pydicom.Dataset()
        region.RegionSpatialFormat, region.RegionDataType = 1, 1
        region.RegionLocationMinX0, region.RegionLocationMinY0 = x0, 0
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = x1, 127
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
        region.PhysicalDeltaX = region.PhysicalDeltaY = delta
        regions.append(region)
    dual = os.path.join(SHOT_DIR, "us-dual.dcm")
    small_image(dual, "1.2.840.10008.5.1.4.1.1.6.1", pydicom.uid.generate_uid(), 1,
                {"Modality": "US", "SequenceOfUltrasoundRegions": pydicom.Sequence(regions)})
    st = run(view, ["key d", "drag left 40 40 200 40", "drag left 300 80 460 80",
                    "drag left 40 120 460 120", "state"], image=dual)
    labels = [x["label"] for x in st[0]["annotations"]] if st else None
    check(labels == ["8.0 mm (US region)", "20.0 mm (US region)",
                     "105.0 px (uncalibrated)"],
          "two regions at two depths: 40 pixels in the left one, 40 in the "
          "right one, 105 across both: %s" % labels)
    # a region whose y is not in cm (a Doppler strip's cm/s) is no
    # distance: the image is uncalibrated, not measured in x's mm
    strip = regions[0].copy()
    strip.PhysicalUnitsYDirection = 7  # cm/s
    odd = os.path.join(SHOT_DIR, "us-strip.dcm")
    small_image(odd, "1.2.840.10008.5.1.4.1.1.6.1", pydicom.uid.generate_uid(), 1,
                {"Modality": "US", "SequenceOfUltrasoundRegions": pydicom.Sequence([strip])})
    st = run(view, ["key d", "drag left 40 40 40 200", "state"], image=odd)
    lab = [x["label"] for x in st[0]["annotations"]] if st else None
    check(lab == ["40.0 px (uncalibrated)"] and st[0]["calibration"] == "none",
          "a region in cm along x only (y in cm/s): uncalibrated: %s" % lab)
    dx_dir = os.path.join(SHOT_DIR, "dr-views")
    os.makedirs(dx_dir)
    series = pydicom.uid.generate_uid()
    for n, (sp, po) in enumerate(((0.1, ["L", "F"]), (0.15, ["P", "F"])), 1):
        small_image(os.path.join(dx_dir, "dx%d.dcm" % n), "1.2.840.10008.5.1.4.1.1.1.1",
                    series, n, {"Modality": "DX", "ImagerPixelSpacing": [sp, sp],
                                "PatientOrientation": po})
    st = run(view, ["state", "wheel -1", "state"], image=dx_dir)
    got = sorted(round(x["mm_per_pixel"], 4) for x in st)
    check(len(st) == 2 and got == [0.1, 0.15] and
          all(x["calibration"] == "detector" for x in st),
          "DR views with their own detector spacing: %s" % got)


GSPS = "1.2.840.10008.5.1.4.1.1.11.1"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"


def cached(study, sop_class):
    """The files the viewer saved in its cache for a study, of one class."""
    out = []
    for r, _, fs in os.walk(os.environ["XDG_CACHE_HOME"]):
        for f in fs:
            if not f.endswith(".dcm"):
                continue
            d = pydicom.dcmread(os.path.join(r, f), stop_before_pixels=True)
            if d.get("StudyInstanceUID") == study and d.SOPClassUID == sop_class:
                out.append(os.path.join(r, f))
    return out


def displayed_area(view):
    """A reading zoomed into a region (a teacher's view of a nodule) is
    saved with the presentation state as its displayed area (PS3.3 C.10.4,
    SCALE TO FIT), and opening the images again shows that region: the
    same centre and zoom. Without it the state opened on the whole image.
    Once more turned a quarter: the area is the same part of the image.
    Panned alone (the zoom still fitted) the part on screen is not the
    whole image either: it was saved without an area."""
    for case, (turn, zoom) in enumerate(((0, True), (1, True), (0, False))):
        d = os.path.join(SHOT_DIR, "area%d" % case)
        os.makedirs(d)
        ds = pydicom.dcmread(CT)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = (pydicom.uid.generate_uid()
                                                     for _ in range(2))
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = \
            pydicom.uid.generate_uid()
        ds.save_as(os.path.join(d, "ct.dcm"))
        st = run(view, ["key r shift"] * turn + [
            "drag right 256 256 256 176"] * zoom + ["drag middle 256 256 316 226",
            "state", "key s ctrl", "state"], image=d)
        if len(st) != 2:
            check(False, "two states expected, got %d" % len(st))
            return
        z, px, py = st[0]["zoom"], st[0]["pan_x"], st[0]["pan_y"]
        states = cached(ds.StudyInstanceUID, GSPS)
        ps = pydicom.dcmread(states[0]) if states else None
        item = ps.DisplayedAreaSelectionSequence[0] if ps else None
        tl = [int(v) for v in item.DisplayedAreaTopLeftHandCorner] if item else []
        br = [int(v) for v in item.DisplayedAreaBottomRightHandCorner] if item else []
        # the image region on screen (512 x 512 window, 128 x 128 image);
        # a quarter turn swaps the screen's axes over the image's
        hx, hy = (256 / z, 256 / z)
        cx, cy = 64 - px / z, 64 - py / z
        if turn:
            cx, cy = 64 - py / z, 64 + px / z
        want = [int(np.floor(cx - hx)) + 1, int(np.floor(cy - hy)) + 1,
                int(np.ceil(cx + hx)), int(np.ceil(cy + hy))]
        got = [min(tl[0], br[0]), min(tl[1], br[1]), max(tl[0], br[0]),
               max(tl[1], br[1])] if tl else []
        check(item is not None and item.PresentationSizeMode == "SCALE TO FIT" and
              got == want,
              "turn %d: %s %.2fx and panned, the state's displayed area is "
              "columns %s, rows %s (the part on screen: %s)"
              % (turn, "zoomed" if zoom else "fitted", z, got[0::2] if got else None, got[1::2] if got else None,
                 want))
        rc, out = nl.run(["dciodvfy", states[0]]) if states else (1, "")
        # a corner left of or above the image is negative (VR SL: the
        # area may reach beyond the image, PS3.3 C.10.4); dciodvfy reads
        # it as unsigned (4294967282) and calls the corners inconsistent
        errors = [l for l in out.splitlines()
                  if "Error" in l and not ("DisplayedAreaTopLeftHandCorner = (42949" in l
                                           and min(tl) <= 0)]
        check(states and not errors, "dciodvfy: no error in the state (%s)"
              % "; ".join(errors)[:300])
        st2 = run(view, ["state", "key l", "state"], image=d)
        v = st2[0] if st2 else {}
        # L: two cells of 255 x 512; the same area fitted into its cell
        if len(st2) == 2 and got:
            aw, ah = got[2] - got[0] + 1, got[3] - got[1] + 1
            if turn:
                aw, ah = ah, aw
            want_z = min(255 / aw, 512 / ah)
            check(abs(st2[1]["zoom"] - want_z) / want_z < 0.02,
                  "turn %d: L (1x2): the state's area fitted into the smaller "
                  "cell, zoom %.2f (%.2f expected; %.2f in the whole window)"
                  % (turn, st2[1]["zoom"], want_z, v.get("zoom", 0)))
        check(abs(v.get("zoom", 0) - z) / z < 0.05 and
              abs(v.get("pan_x", 1e9) - px) <= z and abs(v.get("pan_y", 1e9) - py) <= z and
              v.get("rotate") == turn,
              "turn %d: opened again, the state shows that part: zoom %.2f (was "
              "%.2f), pan %.0f,%.0f (was %.0f,%.0f)"
              % (turn, v.get("zoom", 0), z, v.get("pan_x", 0), v.get("pan_y", 0), px, py))


def sr_nums(mr):
    """The NUM values of a TID 1500 report's measurements, by name:
    (value, unit code)."""
    nums = {}
    meas = [c for c in mr.ContentSequence
            if c.ConceptNameCodeSequence[0].CodeValue == "126010"]
    for g in meas[0].ContentSequence if meas else []:
        for c in g.ContentSequence:
            if c.ValueType == "NUM":
                mv = c.MeasuredValueSequence[0]
                nums[c.ConceptNameCodeSequence[0].CodeMeaning] = (
                    float(mv.NumericValue),
                    mv.MeasurementUnitsCodeSequence[0].CodeValue)
    return nums


def multiframe_roi(view):
    """An ellipse on frame 3 of a multi-frame grey image: its statistics
    in the saved measurement report are frame 3's (each frame 100 higher
    than the one before), and the series is kept packed. Before, the
    first frame's pixels were measured whatever the frame."""
    import copy
    d = os.path.join(SHOT_DIR, "multiframe")
    os.makedirs(d)
    base = pydicom.dcmread(CT)
    frames = np.stack([base.pixel_array.astype(np.int32) + 100 * k
                       for k in range(4)]).clip(-32768, 32767).astype(np.int16)
    ds = copy.deepcopy(base)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = \
        "1.2.840.10008.5.1.4.1.1.7.3"  # multi-frame grayscale word SC
    ds.StudyInstanceUID, ds.SeriesInstanceUID = (pydicom.uid.generate_uid()
                                                 for _ in range(2))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = \
        pydicom.uid.generate_uid()
    for k in ("ImagePositionPatient", "ImageOrientationPatient", "SliceLocation"):
        if k in ds:
            delattr(ds, k)
    ds.Modality = "OT"
    ds.NumberOfFrames = 4
    ds.FrameIncrementPointer = 0x00181063
    ds.FrameTime = 100
    ds.PixelData = frames.tobytes()
    ds.save_as(os.path.join(d, "mf.dcm"))
    # saved from frame 2: frame 4's pixels are unpacked for the statistics
    st = run(view, ["wheel -3", "key e", "drag left 200 240 360 400", "key e",
                    "wheel 2", "key s ctrl", "state"], image=d)
    a = st[-1]["annotations"] if st else []
    mrs = cached(ds.StudyInstanceUID, COMPREHENSIVE_SR)
    mean = sr_nums(pydicom.dcmread(mrs[0])).get("Mean", (None,))[0] if mrs else None
    want = []
    if a and a[0]["frame"] == 3:
        x0, y0, x1, y1 = a[0]["points"]
        yy, xx = np.mgrid[0:128, 0:128] + 0.5
        inside = (((xx - (x0 + x1) / 2) / ((x1 - x0) / 2)) ** 2 +
                  ((yy - (y0 + y1) / 2) / ((y1 - y0) / 2)) ** 2) <= 1
        rs, ri = float(base.RescaleSlope), float(base.RescaleIntercept)
        want = [frames[k][inside].mean() * rs + ri for k in range(4)]
    check(st and st[-1]["slice"] == 1 and len(want) == 4 and mean is not None and
          abs(mean - want[3]) <= 0.05,
          "multi-frame: the ellipse on frame 4's mean is frame 4's: %s (numpy, "
          "frames 1-4: %s)" % (mean, ["%.2f" % w for w in want]))
    check(st and 0 < st[-1]["kept_bytes"] < st[-1]["decoded_bytes"],
          "multi-frame: its frames are kept packed (%s of %s bytes)" %
          (st[-1]["kept_bytes"] if st else None, st[-1]["decoded_bytes"] if st else None))
    # a mark another program put on frames 2 and 4 at once (Referenced
    # Frame Number holds both, VM 1-n) shows on both; only the first
    # value was read before
    states = cached(ds.StudyInstanceUID, GSPS)
    if not states:
        check(False, "multi-frame: no state saved")
        return
    ps = pydicom.dcmread(states[0])
    for f in states + mrs:
        os.remove(f)
    ps.GraphicAnnotationSequence[0].ReferencedImageSequence[0].ReferencedFrameNumber = [2, 4]
    ps.SOPInstanceUID = ps.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ps.save_as(os.path.join(d, "state.dcm"))
    st = run(view, ["state"], image=d)
    frames = sorted(x["frame"] for x in st[0]["annotations"]) if st else []
    check(frames == [1, 3], "multi-frame: a mark on frames 2 and 4 of another "
                            "program's state shows on both (viewer frames %s)" % frames)


def per_image_state(view):
    """Another program's state may give each image its own window and
    displayed area (a Softcopy VOI LUT and a displayed area item per
    group of referenced images). Scrolling onto an image of another group
    applies that group's; within a group the reader's own W/L stays.
    Before, the first image's window and area were used for all."""
    import copy
    d = os.path.join(SHOT_DIR, "per-image")
    os.makedirs(d)
    base = pydicom.dcmread(CT)
    study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    uids = []
    for i in range(5):
        ds = copy.deepcopy(base)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = \
            pydicom.uid.generate_uid()
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0, 0, 5.0 * i]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.save_as(os.path.join(d, "ct%d.dcm" % i))
        uids.append(ds.SOPInstanceUID)
    run(view, ["key s ctrl"], image=d)
    mine = cached(study, GSPS)
    if not mine:
        check(False, "per-image state: no state saved to start from")
        return
    ps = pydicom.dcmread(mine[0])
    for f in mine:
        os.remove(f)

    def refs(group):
        out = []
        for u in group:
            r = pydicom.Dataset()
            r.ReferencedSOPClassUID = base.SOPClassUID
            r.ReferencedSOPInstanceUID = u
            out.append(r)
        return out
    voi = []
    # the fifth slice is not the state's at all
    ps.ReferencedSeriesSequence[0].ReferencedImageSequence = refs(uids[:4])
    for group, (c, w) in ((uids[:2], (40, 400)), (uids[2:4], (-600, 1500))):
        it = pydicom.Dataset()
        it.ReferencedImageSequence = refs(group)
        it.WindowCenter, it.WindowWidth = c, w
        voi.append(it)
    ps.SoftcopyVOILUTSequence = voi
    area0 = ps.get("DisplayedAreaSelectionSequence", [pydicom.Dataset()])[0]
    areas = []
    for group, (tl, br) in ((uids[:2], ([1, 1], [128, 128])),
                            (uids[2:4], ([33, 33], [96, 96]))):
        it = copy.deepcopy(area0)
        it.ReferencedImageSequence = refs(group)
        it.DisplayedAreaTopLeftHandCorner, it.DisplayedAreaBottomRightHandCorner = tl, br
        it.PresentationSizeMode = "SCALE TO FIT"
        if "PresentationPixelSpacing" not in it and "PresentationPixelAspectRatio" not in it:
            it.PresentationPixelAspectRatio = [1, 1]
        areas.append(it)
    ps.DisplayedAreaSelectionSequence = areas
    ps.SOPInstanceUID = ps.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ps.save_as(os.path.join(d, "state.dcm"))
    st = run(view, ["state", "wheel -2", "state", "drag left 256 256 306 226", "state",
                    "wheel -1", "state", "wheel -1", "state", "wheel 1", "state",
                    "wheel 3", "state"], image=d)
    got = [(x["slice"], round(x["center"]), round(x["width"]), round(x["zoom"], 1))
           for x in st]
    ok = len(st) == 7
    # 512 x 512 window: the whole 128 x 128 image at zoom 4, columns and
    # rows 33..96 (64 pixels) at zoom 8
    ok = ok and got[0] == (0, 40, 400, 4.0) and got[1] == (2, -600, 1500, 8.0)
    ok = ok and got[2][:3] != got[1][:3] and got[3] == (3,) + got[2][1:]
    # slice 5, which the state leaves alone: the file's view (fitted; CT_small
    # has no window: its range), then back in the state's second group
    ok = ok and got[4][0] == 4 and got[4][3] == 4.0 and got[4][1:3] not in (
        (40, 400), (-600, 1500), got[2][1:3])
    ok = ok and got[5] == (3, -600, 1500, 8.0) and got[6] == (0, 40, 400, 4.0)
    check(ok, "per-image state: slice, W/L and zoom as each image's group says, "
              "the reader's W/L kept within a group, an image outside the state "
              "as the file has it: %s" % got)
    # the reader saves on the second group with a window of their own: the
    # state saved keeps the first group's window and area (it was saved
    # flat, the reader's view for every image)
    st = run(view, ["wheel -2", "drag left 256 256 306 226", "state", "key s ctrl"],
             image=d)
    mine = (round(st[0]["center"]), round(st[0]["width"])) if st else None
    os.remove(os.path.join(d, "state.dcm"))  # the new state alone applies
    new = cached(study, GSPS)
    rc, out = nl.run(["dciodvfy", new[0]]) if new else (1, "no state saved")
    errors = [l for l in out.splitlines() if "Error" in l]
    check(new and not errors, "dciodvfy: no error in the state saved with "
                              "per-image windows and areas (%s)" % "; ".join(errors)[:300])
    st = run(view, ["state", "wheel -2", "state", "wheel -2", "state"], image=d)
    got = [(x["slice"], round(x["center"]), round(x["width"]), round(x["zoom"], 1))
           for x in st]
    check(len(st) == 3 and mine and got[0] == (0, 40, 400, 4.0) and
          got[1] == (2,) + mine + (8.0,) and got[2] == (4,) + mine + (8.0,),
          "per-image state saved again from the second group: the first keeps "
          "its own, the rest the reader's %s: %s" % (mine, got))


if __name__ == "__main__":
    sys.exit(main())
