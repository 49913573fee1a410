#!/usr/bin/python3
"""consort-view driven by injected SDL events (its --script pushes them
into the event queue the mouse and keyboard fill), on SDL's offscreen
driver: slice index, window/level, zoom, pan, invert and reset after
wheel, keys and drags, and a screenshot of the resulting view.

usage: view_interact.py CONSORT_VIEW WORKDIR

The series is the synthetic CT of tests/gen/gen_synthetic.py (--small: 8
slices), given as a folder in shuffled file order: the viewer must sort it
along the slice normal.
"""

import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pydicom
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAILED: ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def run(view, folder, lines, size="400x300", overlay="none"):
    folders = folder if isinstance(folder, list) else [folder]
    p = subprocess.run([view, "--size", size, "--script", "-", "--overlay",
                        overlay] + folders,
                       input="\n".join(lines + ["quit"]) + "\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120,
                       env=dict(os.environ, SDL_VIDEODRIVER="offscreen"))
    states = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0:
        check(False, "consort-view --script exited %d: %s" % (p.returncode,
                                                            p.stdout[-800:]))
    return states


def main():
    view, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    gen = os.path.join(work, "gen")
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen", "gen_synthetic.py"),
                    gen, "--small", "--only", "ct"], check=True,
                   stdout=subprocess.DEVNULL)
    # shuffled names: order must come from the headers, not the file names
    ct = os.path.join(work, "ct")
    os.makedirs(ct)
    files = sorted(os.listdir(os.path.join(gen, "ct")))
    names = ["%03d.dcm" % i for i in range(len(files))]
    random.Random(5).shuffle(names)
    for f, n in zip(files, names):
        shutil.copy(os.path.join(gen, "ct", f), os.path.join(ct, n))
    slices = []
    for n in os.listdir(ct):
        ds = pydicom.dcmread(os.path.join(ct, n))
        slices.append((float(ds.ImagePositionPatient[2]), n, ds))
    slices.sort()
    n = len(slices)
    ds0 = slices[0][2]
    def first(v):
        return float(v[0]) if isinstance(v, pydicom.multival.MultiValue) else float(v)
    c0, w0 = first(ds0.WindowCenter), first(ds0.WindowWidth)

    s = run(view, ct, ["wait", "state", "wheel -3", "state", "wheel 1", "state",
                       "key End", "state", "key Home", "state",
                       "key PageDown", "state"])
    check(len(s) == 6 and s[0]["slice"] == 0 and s[0]["slices"] == n,
          "opens at slice 0 of %d" % n)
    check(len(s) == 6 and s[0]["calibration"] == "pixel_spacing" and
          abs(s[0]["mm_per_pixel"] - float(ds0.PixelSpacing[1])) < 1e-6,
          "CT scale bar from Pixel Spacing: %.3f mm/pixel" % (
              s[0]["mm_per_pixel"] if s else -1))
    # the decoded series is kept packed (lossless: every pixel test and
    # statistic reads it back): under half its decoded size
    want = sum(sl[2].Rows * sl[2].Columns * 2 for sl in slices)
    check(len(s) == 6 and s[0]["decoded_bytes"] == want and
          0 < s[0]["kept_bytes"] < want / 2,
          "the series kept packed: %s of %d decoded bytes" %
          (s[0]["kept_bytes"] if s else None, want))
    check(len(s) == 6 and [x["slice"] for x in s[1:]] == [3, 2, n - 1, 0, min(10, n - 1)],
          "wheel down 3, up 1, End, Home, Page Down: slices %s"
          % [x["slice"] for x in s[1:]])

    # numbered head first (Instance 1 the top slice, as most CT scans
    # are): still in order along the normal, but opening at Instance 1 and
    # going on with 2 (RadiAnt/Horos; a report's "image 1" is the PACS's)
    hf = os.path.join(work, "ct-head-first")
    os.makedirs(hf)
    for i, (z, name, ds) in enumerate(slices):
        ds.InstanceNumber = n - i
        ds.save_as(os.path.join(hf, name))
    s = run(view, hf, ["wait", "state", "wheel -1", "state", "key End", "state"])
    check(len(s) == 3 and [x["instance"] for x in s] == [1, 2, n] and
          s[0]["slice"] == 0,
          "head-first numbering: opens at Instance 1 (the top), then 2, End "
          "%d: %s" % (n, [x["instance"] for x in s]))
    s = run(view, hf, ["wait", "key End", "state"])
    check(len(s) == 1 and abs(s[0]["viewport_positions"][0] - slices[0][0]) < 1e-6,
          "head-first: the last image is the lowest slice (z %s)" %
          (s[0]["viewport_positions"][0] if s else None))

    # window/level: left-drag right widens, down raises the level; the
    # step is the slice's modality range / 512 per pixel
    mod = [sl[2].pixel_array.astype(float) * float(sl[2].RescaleSlope) +
           float(sl[2].RescaleIntercept) for sl in slices]
    rng = mod[0].max() - mod[0].min() + 1
    k = rng / 512.0
    s = run(view, ct, ["state", "drag left 200 150 260 110", "state", "key i",
                       "state", "drag right 200 150 200 50", "state",
                       "drag middle 200 150 230 170", "state", "key r", "state"])
    check(len(s) == 6 and abs(s[0]["center"] - c0) < 1e-3 and abs(s[0]["width"] - w0) < 1e-3,
          "starts with the file's window %g/%g" % (c0, w0))
    if len(s) == 6:
        check(abs(s[1]["width"] - (w0 + 60 * k)) < 0.01 and
              abs(s[1]["center"] - (c0 - 40 * k)) < 0.01,
              "left-drag (+60, -40): window %.2f/%.2f, expected %.2f/%.2f" % (
                  s[1]["center"], s[1]["width"], c0 - 40 * k, w0 + 60 * k))
        check(s[2]["invert"] == 1 and s[1]["invert"] == 0, "I inverts")
        check(abs(s[3]["zoom"] / s[2]["zoom"] - np.exp(100 / 200.0)) < 1e-3,
              "right-drag up 100 px zooms by e^0.5: %.4f -> %.4f" % (
                  s[2]["zoom"], s[3]["zoom"]))
        check(abs(s[4]["pan_x"] - 30) < 1e-6 and abs(s[4]["pan_y"] - 20) < 1e-6,
              "middle-drag (+30, +20) pans by that: (%g, %g)" % (s[4]["pan_x"],
                                                                 s[4]["pan_y"]))
        check(abs(s[5]["center"] - c0) < 1e-3 and s[5]["invert"] == 0 and
              s[5]["pan_x"] == 0 and abs(s[5]["zoom"] - s[0]["zoom"]) < 1e-6,
              "R resets window, inversion, zoom and pan")

    # the view after events, on screen, against a reference: slice 5 at
    # window 40/400, fitted into 400x300 (zoom 300/512) - compared at the
    # screen pixel centres with nearest sampling
    shot = os.path.join(work, "after.png")
    s = run(view, ct, ["wait", "wheel -5", "key n", "state", "screenshot " + shot])
    img = np.asarray(Image.open(shot).convert("L")).astype(int)
    z = 300 / 512.0
    ys, xs = np.mgrid[0:300, 0:400]
    ix = np.floor((xs + 0.5 - 200) / z + 256).astype(int)
    iy = np.floor((ys + 0.5 - 150) / z + 256).astype(int)
    inside = (ix >= 0) & (ix < 512) & (iy >= 0) & (iy < 512)
    m = mod[5]
    c, w = c0, w0
    x = m[np.clip(iy, 0, 511), np.clip(ix, 0, 511)]
    y = np.clip((x - (c - 0.5)) / (w - 1) + 0.5, 0, 1)
    y = np.where(x <= c - 0.5 - (w - 1) / 2, 0, np.where(x > c - 0.5 + (w - 1) / 2, 1, y))
    want = np.where(inside, np.floor(y * 255 + 0.5), 0)
    d = np.abs(img - want)
    # pixel centres that fall on a texel boundary may round either way
    bad = (d > 1).mean()
    check(s and s[0]["slice"] == 5 and s[0]["linear"] == 0 and bad < 0.002,
          "screenshot after wheel -5 and N (nearest): slice %s, %.3f%% of pixels "
          "more than 1 grey level from the reference" % (
              s[0]["slice"] if s else None, 100 * bad))

    # Shift + left drag scrolls (a slice per 4 px) and leaves W/L alone; Z
    # switches between fit and 1:1
    s = run(view, ct, ["wait", "state", "drag left 200 100 200 120 shift", "state",
                       "key z", "state", "key z", "state"])
    if len(s) == 4:
        check(s[1]["slice"] == 5 and s[1]["center"] == s[0]["center"] and
              s[1]["width"] == s[0]["width"],
              "Shift+drag down 20 px: slice %d (expected 5), window unchanged"
              % s[1]["slice"])
        check(s[2]["zoom"] == 1.0 and abs(s[3]["zoom"] - s[0]["zoom"]) < 1e-6,
              "Z: 1:1 (zoom %.3f), Z again: fit (%.4f)" % (s[2]["zoom"], s[3]["zoom"]))

    # presets on the number keys, auto window from the histogram
    s = run(view, ct, ["wait", "key 2", "state", "key 5", "state", "key 0", "state",
                       "key 7", "state"])
    if len(s) == 4:
        check((s[0]["center"], s[0]["width"]) == (-600, 1500) and
              (s[1]["center"], s[1]["width"]) == (50, 350),
              "keys 2 and 5: lung -600/1500 and mediastinum 50/350")
        m0 = mod[0].ravel()
        pad = m0.min()
        if (m0 == pad).mean() > 0.1:  # padding outside the field of view
            m0 = m0[m0 != pad]
        p1, p99 = np.percentile(m0, 1), np.percentile(m0, 99)
        tol = (mod[0].max() - mod[0].min()) / 4095 * 2 + 1
        check(abs(s[2]["center"] - (p1 + p99) / 2) <= tol and
              abs(s[2]["width"] - (p99 - p1)) <= 2 * tol,
              "key 0: auto window %.1f/%.1f from the histogram, 1st-99th "
              "percentile here %.1f/%.1f" % (s[2]["center"], s[2]["width"],
                                             (p1 + p99) / 2, p99 - p1))
        wc = ds0.WindowCenter
        check(isinstance(wc, pydicom.multival.MultiValue) and len(wc) > 1 and
              abs(s[3]["center"] - float(wc[1])) < 1e-3 or
              not isinstance(wc, pydicom.multival.MultiValue),
              "key 7: the file's second window %s" % s[3]["center"])

    # cine: Frame Time of the ultrasound cine gives the rate; space plays
    us = os.path.join(work, "us")
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen", "gen_synthetic.py"),
                    us, "--small", "--only", "us"], check=True, stdout=subprocess.DEVNULL)
    usf = os.path.join(us, "us", os.listdir(os.path.join(us, "us"))[0])
    ft = float(pydicom.dcmread(usf, stop_before_pixels=True).FrameTime)
    s = run(view, usf, ["wait", "state", "key space", "sleep 500", "key space", "state",
                        "key F1", "state"])
    if len(s) == 3:
        frames = int(pydicom.dcmread(usf, stop_before_pixels=True).NumberOfFrames)
        moved = (s[1]["slice"] - s[0]["slice"]) % frames
        check(abs(s[0]["fps"] - 1000 / ft) < 0.01 and s[1]["playing"] == 0 and
              moved > 0,
              "cine at %.2f frames/s (Frame Time %.1f ms): 0.5 s of play moved "
              "%d frame(s) (wrapping at %d)" % (s[0]["fps"], ft, moved, frames))
        check(s[2]["help"] == 1, "F1 shows the help")
        check(s[0]["calibration"] == "us_region" and abs(s[0]["mm_per_pixel"] - 0.2) < 1e-6,
              "ultrasound scale from the region calibration: %s, %.3f mm/pixel"
              % (s[0]["calibration"], s[0]["mm_per_pixel"]))
    # two cine loops in one series (an echo exam's clips, Instance 1 and
    # 2): each loop's frames together, in their order; they were shown
    # interleaved (frame 1 of loop 1, frame 1 of loop 2, ...)
    loops = os.path.join(work, "us-loops")
    os.makedirs(loops)
    frames = int(pydicom.dcmread(usf, stop_before_pixels=True).NumberOfFrames)
    for i in (2, 1):
        d = pydicom.dcmread(usf)
        d.SOPInstanceUID = d.file_meta.MediaStorageSOPInstanceUID = \
            pydicom.uid.generate_uid()
        d.InstanceNumber = i
        d.save_as(os.path.join(loops, "loop%d.dcm" % (3 - i)))
    s = run(view, loops, ["wait"] + ["state", "key Right"] * (2 * frames))
    seq = [x["instance"] for x in s]
    check(seq == [1] * frames + [2] * frames,
          "two loops in one series: loop 1's %d frames, then loop 2's: %s"
          % (frames, seq))

    # a Frame Time that is a mistake (0.001 ms) plays at the fastest rate +
    # keeps to, not a million frames a second; one of an hour at the slowest
    rates = []
    for ms in ("0.001", "3600000"):
        d = pydicom.dcmread(usf)
        d.FrameTime = ms
        odd = os.path.join(work, "us-ft.dcm")
        d.save_as(odd)
        s = run(view, odd, ["wait", "state"])
        rates.append(s[0]["fps"] if s else None)
    check(rates == [120, 1], "Frame Time 0.001 ms and 1 h play at 120 and 1 "
          "frames/s, the range + and - keep to: %s" % rates)

    # each viewport its own rate: the cine beside the CT (it was the first
    # viewport's 10/s for all)
    s = run(view, [ct, usf], ["wait", "state", "click 600 200", "state"],
            size="800x400")
    check(len(s) == 2 and abs(s[0]["fps"] - 10) < 0.01 and
          abs(s[1]["fps"] - 1000 / ft) < 0.01,
          "the CT stack plays at %s/s, the cine beside it at %s/s (Frame Time "
          "%.1f ms)" % (s[0]["fps"] if s else None,
                        s[1]["fps"] if len(s) > 1 else None, ft))

    # two series side by side; S scrolls the other to the nearest position
    ct2 = os.path.join(work, "ct2")
    os.makedirs(ct2)
    suid = pydicom.uid.generate_uid()
    for i, (z, name, ds) in enumerate(slices):
        if i % 2:
            continue  # half the slices, shifted by 0.4 of the spacing
        d = pydicom.dcmread(os.path.join(ct, name))
        d.SeriesInstanceUID = suid
        d.SOPInstanceUID = pydicom.uid.generate_uid()
        d.ImagePositionPatient = [d.ImagePositionPatient[0], d.ImagePositionPatient[1],
                                  float(d.ImagePositionPatient[2]) + 1.0]
        d.save_as(os.path.join(ct2, name))
    s = run(view, [ct, ct2], ["wait", "state", "key s", "wheel -5", "state",
                              "click 600 100", "wheel 1", "state", "key l", "state",
                              "key l", "state"], size="800x400")
    if len(s) == 5:
        pos1 = sorted(float(pydicom.dcmread(os.path.join(ct2, f)).ImagePositionPatient[2])
                      for f in os.listdir(ct2))
        z5 = slices[5][0]
        nearest = int(np.argmin([abs(p - z5) for p in pos1]))
        check(s[0]["layout"] == 2 and len(s[0]["viewport_slices"]) == 2,
              "two series: layout 1x2 (%d viewports)" % len(s[0]["viewport_slices"]))
        check(s[1]["sync"] == 1 and s[1]["viewport_slices"] == [5, nearest],
              "synchronised: slice 5 (z %.1f) on the left brings the right to "
              "its nearest position, slice %d: %s" % (z5, nearest,
                                                      s[1]["viewport_slices"]))
        check(s[2]["active"] == 1 and s[2]["viewport_slices"][1] == nearest - 1,
              "a click makes the right viewport active; the wheel moves it: %s"
              % s[2]["viewport_slices"])
        check([x["layout"] for x in s[3:]] == [4, 1], "L cycles the layout: %s"
              % [x["layout"] for x in s[3:]])

    # a prior exam (another Frame of Reference, its table 300 mm away):
    # the radiologist brings both to the same anatomy, presses S, and they
    # scroll together by the same distance; by raw coordinates the prior
    # went to its end and stayed there
    prior = os.path.join(work, "prior")
    os.makedirs(prior)
    st_uid, se_uid, for_uid = (pydicom.uid.generate_uid() for _ in range(3))
    for z, name, ds in slices:
        d = pydicom.dcmread(os.path.join(ct, name))
        d.StudyInstanceUID, d.SeriesInstanceUID = st_uid, se_uid
        d.FrameOfReferenceUID = for_uid
        d.SOPInstanceUID = pydicom.uid.generate_uid()
        d.ImagePositionPatient = [d.ImagePositionPatient[0], d.ImagePositionPatient[1],
                                  float(d.ImagePositionPatient[2]) + 300.0]
        d.save_as(os.path.join(prior, name))
    s = run(view, [ct, prior], ["wait", "wheel -2", "click 600 100", "wheel -1",
                                "click 200 100", "key s", "state", "wheel -3",
                                "state", "wheel 2", "state"], size="800x400")
    got = [x["viewport_slices"] for x in s]
    check(got == [[2, 1], [5, 4], [3, 2]],
          "a prior exam (another Frame of Reference) synchronised where it "
          "was: left 2 with right 1, then both move together: %s" % got)

    # reference lines: an axial CT and a sagittal series made from it (the
    # headers say sagittal; the pixels do not matter here)
    sag = os.path.join(work, "sag")
    os.makedirs(sag)
    suid = pydicom.uid.generate_uid()
    z_top = slices[-1][0] + 10.0
    x_first = -100.0
    for i in range(4):
        d = pydicom.dcmread(os.path.join(ct, slices[i][1]))
        d.SeriesInstanceUID = suid
        d.SOPInstanceUID = pydicom.uid.generate_uid()
        d.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        d.ImagePositionPatient = [x_first + 20.0 * i, -180.0, z_top]
        d.save_as(os.path.join(sag, "s%d.dcm" % i))
    s = run(view, [ct, sag], ["wait", "state", "click 600 200", "state"],
            size="800x400")
    ax = slices[0][2]
    sp = [float(v) for v in ax.PixelSpacing]
    z0 = slices[0][0]
    zoom = 400 / 512.0
    # the axial slice cuts the sagittal image along the row at z0
    want_y = 200 + zoom * ((z_top - z0) / sp[0] + 0.5 - 256)
    # the sagittal viewport opens at Instance 1 (x_first): its normal (row
    # x column = -x) orders the slices from the largest x, but they are
    # numbered the other way, and the numbering decides the direction; it
    # cuts the axial image along a column
    x_shown = x_first
    col = (x_shown - float(ax.ImagePositionPatient[0])) / sp[1]
    # the left cell is 399 px wide (a 1-px gap between cells)
    want_x = 399 / 2.0 + (399 / 512.0) * (col + 0.5 - 256)
    if len(s) == 2:
        r1, r0 = s[0]["reference"][1], s[1]["reference"][0]
        check(r1 is not None and abs(r1[1] - want_y) < 0.05 and
              abs(r1[3] - want_y) < 0.05 and abs(abs(r1[2] - r1[0]) - 400) < 0.05,
              "reference line of the axial slice on the sagittal viewport: "
              "y %.2f (expected %.2f), across the image" % (
                  r1[1] if r1 else -1, want_y))
        check(r0 is not None and abs(r0[0] - want_x) < 0.05 and
              abs(r0[2] - want_x) < 0.05,
              "and of the sagittal slice on the axial one: x %.2f (expected %.2f)"
              % (r0[0] if r0 else -1, want_x))

    # the same sagittal series in another Frame of Reference (a prior
    # study's): its positions are not today's, so no line is drawn (one
    # was, where the numbers happened to fall)
    sag_prior = os.path.join(work, "sag-prior")
    os.makedirs(sag_prior)
    puid, pfor = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    for i in range(4):
        d = pydicom.dcmread(os.path.join(sag, "s%d.dcm" % i))
        d.SeriesInstanceUID, d.FrameOfReferenceUID = puid, pfor
        d.SOPInstanceUID = pydicom.uid.generate_uid()
        d.save_as(os.path.join(sag_prior, "s%d.dcm" % i))
    s = run(view, [ct, sag_prior], ["wait", "state", "click 600 200", "state"],
            size="800x400")
    check(len(s) == 2 and s[0]["reference"][1] is None and
          s[1]["reference"][0] is None,
          "no reference lines between two Frames of Reference: %s" %
          [x["reference"] for x in s])

    # synchronised scrolling moves only parallel series: the sagittal one
    # stays when the axial one goes to its end
    s = run(view, [ct, sag], ["wait", "state", "key s", "key End", "state"],
            size="800x400")
    check(len(s) == 2 and s[1]["viewport_slices"] == [n - 1, s[0]["viewport_slices"][1]],
          "sync: the axial series to its end leaves the sagittal one where it "
          "was: %s -> %s" % (s[0]["viewport_slices"] if s else None,
                             s[1]["viewport_slices"] if len(s) > 1 else None))
    # a parallel series whose rows run the other way (normal -z): its own
    # positions along its normal have the other sign, the slice matched is
    # still the one at the same z
    anti = os.path.join(work, "ct-anti")
    os.makedirs(anti)
    auid = pydicom.uid.generate_uid()
    for i, (z, name, ds) in enumerate(slices):
        d = pydicom.dcmread(os.path.join(ct, name))
        d.SeriesInstanceUID = auid
        d.SOPInstanceUID = pydicom.uid.generate_uid()
        d.ImageOrientationPatient = [-1, 0, 0, 0, 1, 0]
        d.save_as(os.path.join(anti, name))
    s = run(view, [ct, anti], ["wait", "key s", "wheel -2", "state"], size="800x400")
    if len(s) == 1:
        zs = s[0]["viewport_positions"]
        check(s[0]["viewport_slices"][0] == 2 and abs(zs[0] + zs[1]) < 1e-6,
              "sync with a series whose normal is reversed: the same z (positions "
              "along each normal %s)" % zs)

    # the corner's location: Slice Location where the file has it, else
    # the plane's position along its normal (an MR without Slice Location
    # showed none)
    noloc = os.path.join(work, "ct-noloc")
    os.makedirs(noloc)
    for z, name, ds in slices:
        d = pydicom.dcmread(os.path.join(ct, name))
        del d.SliceLocation
        d.save_as(os.path.join(noloc, name))
    s = run(view, noloc, ["wait", "state", "key End", "state"])
    s2 = run(view, ct, ["wait", "state"])
    check([x.get("location") for x in s] == [slices[0][0], slices[-1][0]] and
          len(s2) == 1 and s2[0].get("location") == float(slices[0][2].SliceLocation),
          "location without Slice Location from the plane: %s (want %s); with "
          "it, the file's: %s" % ([x.get("location") for x in s],
                                  [slices[0][0], slices[-1][0]],
                                  s2[0].get("location") if s2 else None))

    # marks with --overlay none (no corner text): drawn, not a crash (the
    # lines were drawn with the overlay's font, which was not opened)
    s = run(view, ct, ["wait", "key d", "drag left 100 100 200 150", "state"])
    check(len(s) == 1 and len(s[0]["annotations"]) == 1,
          "--overlay none: a length drawn (%s)" %
          ([a["label"] for a in s[0]["annotations"]] if s else "no state"))

    # orientation letters (right, left, top, bottom) follow rotation and flip
    s = run(view, ct, ["state", "key r shift", "state", "key f", "state"])
    o = [x["orientation"] for x in s]
    check(o == [["L", "R", "A", "P"], ["A", "P", "R", "L"], ["P", "A", "R", "L"]],
          "orientation letters (right, left, top, bottom): %s, after a quarter "
          "turn %s, then a flip %s" % tuple(o) if len(o) == 3 else "orientation: %s" % o)

    # each slice its own letters: a localizer series of three planes
    # (axial, coronal, sagittal) had the first file's on all three
    loc = os.path.join(work, "loc")
    os.makedirs(loc)
    luid = pydicom.uid.generate_uid()
    planes = [([1, 0, 0, 0, 1, 0], ["L", "R", "A", "P"]),
              ([1, 0, 0, 0, 0, -1], ["L", "R", "H", "F"]),
              ([0, 1, 0, 0, 0, -1], ["P", "A", "H", "F"])]
    for i, (iop, _) in enumerate(planes):
        d = pydicom.dcmread(os.path.join(ct, slices[0][1]))
        d.SeriesInstanceUID, d.SOPInstanceUID = luid, pydicom.uid.generate_uid()
        d.ImageOrientationPatient = iop
        d.InstanceNumber = i + 1
        d.save_as(os.path.join(loc, "l%d.dcm" % i))
    s = run(view, loc, ["wait", "state", "key Down", "state", "key Down", "state"])
    want = sorted(p[1] for p in planes)
    check(sorted(x["orientation"] for x in s) == want and
          len({tuple(x["orientation"]) for x in s}) == 3,
          "a three-plane localizer: each image its own letters %s"
          % [x["orientation"] for x in s])
    # a projection image (DR) has no Image Orientation; Patient Orientation
    # "L\F" says rows run to the patient's left, columns to the feet
    dr = os.path.join(work, "dr")
    os.makedirs(dr)
    d = pydicom.dcmread(os.path.join(ct, slices[0][1]))
    for k in ("ImageOrientationPatient", "ImagePositionPatient"):
        del d[k]
    d.Modality, d.PatientOrientation = "DX", ["L", "F"]
    d.save_as(os.path.join(dr, "dr.dcm"))
    s = run(view, dr, ["wait", "state", "key r shift", "state"])
    o = [x["orientation"] for x in s]
    check(o == [["L", "R", "H", "F"], ["H", "F", "R", "L"]],
          "DR letters from Patient Orientation L\\F: %s, after a quarter turn %s"
          % tuple(o) if len(o) == 2 else "DR orientation: %s" % o)

    # overlays: text in the four corners and the scale bar, nothing over the
    # middle of the image
    plain, over = os.path.join(work, "plain.png"), os.path.join(work, "over.png")
    run(view, ct, ["screenshot " + plain], size="640x560")
    run(view, ct, ["screenshot " + over], size="640x560", overlay="full")
    a = np.asarray(Image.open(plain).convert("L")).astype(int)
    b = np.asarray(Image.open(over).convert("L")).astype(int)
    diff = np.abs(a - b) > 0
    corners = [diff[:60, :200], diff[:60, -200:], diff[-60:, :200], diff[-60:, -200:]]
    middle = diff[150:400, 200:440]
    check(all(c.sum() > 100 for c in corners) and middle.sum() == 0,
          "overlays change the four corners (%s pixels) and leave the image's "
          "middle alone (%d)" % ([int(c.sum()) for c in corners], int(middle.sum())))

    # an Enhanced CT (one file, its frames in shuffled order): plane
    # position per frame, spacing, orientation, rescale and window shared
    # in functional groups, none at the top level. It opened uncalibrated,
    # without letters, at a window from stored values, without the rescale
    # (HU off by 1024) and in file order
    order = list(range(n))
    random.Random(9).shuffle(order)
    e = pydicom.dcmread(os.path.join(ct, slices[0][1]))
    e.SOPClassUID = e.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
    e.SOPInstanceUID = e.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    e.SeriesInstanceUID = pydicom.uid.generate_uid()
    e.NumberOfFrames = n
    e.PixelData = b"".join(slices[k][2].pixel_array.tobytes() for k in order)
    sh, pm, po, pv, fv = (pydicom.dataset.Dataset() for _ in range(5))
    pm.PixelSpacing, pm.SliceThickness = e.PixelSpacing, e.SliceThickness
    po.ImageOrientationPatient = e.ImageOrientationPatient
    pv.RescaleSlope, pv.RescaleIntercept = e.RescaleSlope, e.RescaleIntercept
    pv.RescaleType = "HU"
    fv.WindowCenter, fv.WindowWidth = "40", "400"
    sh.PixelMeasuresSequence, sh.PlaneOrientationSequence = [pm], [po]
    sh.PixelValueTransformationSequence, sh.FrameVOILUTSequence = [pv], [fv]
    e.SharedFunctionalGroupsSequence = [sh]
    per = []
    for k in order:
        pp, g = pydicom.dataset.Dataset(), pydicom.dataset.Dataset()
        pp.ImagePositionPatient = slices[k][2].ImagePositionPatient
        g.PlanePositionSequence = [pp]
        per.append(g)
    e.PerFrameFunctionalGroupsSequence = per
    for k in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
              "SliceThickness", "RescaleSlope", "RescaleIntercept", "RescaleType",
              "WindowCenter", "WindowWidth", "SliceLocation"):
        if k in e:
            del e[k]
    # a converter may leave the first slice's Slice Location at the top:
    # it is no frame's (it was shown on every frame)
    e.SliceLocation = slices[0][2].SliceLocation
    enh_dir = os.path.join(work, "enhanced")
    os.makedirs(enh_dir)
    e.save_as(os.path.join(enh_dir, "enh.dcm"))
    shot_e = os.path.join(work, "enh5.png")
    s = run(view, enh_dir, ["wait", "state", "wheel -5", "key n", "screenshot " + shot_e,
                            "key End", "state"], size="512x512")
    if len(s) == 2:
        check(abs(s[0]["center"] - 40) < 1e-6 and abs(s[0]["width"] - 400) < 1e-6 and
              s[0]["calibration"] == "pixel_spacing" and
              s[0]["orientation"] == ["L", "R", "A", "P"] and
              abs(s[0]["viewport_positions"][0] - slices[0][0]) < 1e-6 and
              abs(s[1]["viewport_positions"][0] - slices[-1][0]) < 1e-6,
              "Enhanced CT: window %g/%g, %s, letters %s, frames in z order "
              "(%s .. %s)" % (s[0]["center"], s[0]["width"], s[0]["calibration"],
                              s[0]["orientation"], s[0]["viewport_positions"],
                              s[1]["viewport_positions"]))
        check([x.get("location") for x in s] == [slices[0][0], slices[-1][0]] and
              [x.get("thickness") for x in s] == [2.5, 2.5],
              "Enhanced CT: each frame's own location in the corner, from its "
              "plane: %s (want %s), thickness %s" % (
                  [x.get("location") for x in s], [slices[0][0], slices[-1][0]],
                  [x.get("thickness") for x in s]))
        img = np.asarray(Image.open(shot_e).convert("L")).astype(int)
        x = mod[5]
        y = np.clip((x - 39.5) / 399 + 0.5, 0, 1)
        y = np.where(x <= 39.5 - 199.5, 0, np.where(x > 39.5 + 199.5, 1, y))
        d = np.abs(img - np.floor(y * 255 + 0.5))
        check(d.max() <= 1, "Enhanced CT, 6th frame along z at 40/400 in HU: max "
              "difference %d grey levels" % d.max())
    else:
        check(False, "Enhanced CT: %d states" % len(s))

    # damaged slices are said, never silently left out or drawn as another
    # slice; a file that is not DICOM is skipped
    def damage(folder, name, keep):
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:keep])  # the Part-10 preamble stays
        return path

    def view_run(folder, lines, extra=()):
        p = subprocess.run([view, "--size", "400x300", "--script", "-"] +
                           list(extra) + [folder],
                           input="\n".join(lines + ["quit"]) + "\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=120,
                           env=dict(os.environ, SDL_VIDEODRIVER="offscreen"))
        return p, [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]

    # a header cut short: the file cannot be read; the others open
    hdr = os.path.join(work, "broken-header")
    shutil.copytree(ct, hdr)
    damage(hdr, slices[3][1], 400)
    with open(os.path.join(hdr, "README.txt"), "w") as f:
        f.write("notes of the radiographer\n")
    p, s = view_run(hdr, ["wait", "state"])
    check(p.returncode == 0 and len(s) == 1 and s[0]["slices"] == n - 1 and
          s[0].get("warning", "").startswith("1 DICOM file(s) cannot be read") and
          slices[3][1] in s[0]["warning"] and slices[3][1] in p.stderr and
          "README" not in p.stderr,
          "a slice whose header is cut: %s of %d slices open, warning %r, stderr %r"
          % (s[0]["slices"] if s else None, n, s[0].get("warning") if s else None,
             p.stderr.strip()[-300:]))
    lone = os.path.join(hdr, slices[3][1])
    p = subprocess.run([view, "--screenshot", os.path.join(work, "x.png"), lone],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120, env=dict(os.environ, SDL_VIDEODRIVER="offscreen"))
    check(p.returncode != 0 and "cannot read %s: cannot parse" % lone in p.stdout,
          "that file alone: exit %d, %r" % (p.returncode, p.stdout.strip()))

    # pixels cut short: the slice keeps its place; on it no image (the
    # texture still holds the slice before), its name and why instead
    pix = os.path.join(work, "broken-pixels")
    shutil.copytree(ct, pix)
    size = os.path.getsize(os.path.join(pix, slices[2][1]))
    damage(pix, slices[2][1], size // 2)
    good, bad = os.path.join(work, "good.png"), os.path.join(work, "bad.png")
    p, s = view_run(pix, ["wait", "wheel -1", "state", "screenshot " + good,
                          "wheel -1", "state", "screenshot " + bad,
                          "wheel -1", "state"])
    ok = len(s) == 3
    check(ok and s[0]["slice"] == 1 and s[0].get("shown") == 1 and
          s[1]["slice"] == 2 and s[1].get("shown") == -1 and
          s[2]["slice"] == 3 and s[2].get("shown") == 3 and
          slices[2][1] in p.stderr,
          "scrolling over a slice with cut pixels: slice/shown %s"
          % [(x["slice"], x.get("shown")) for x in s])
    if ok:
        g = np.asarray(Image.open(good).convert("L")).astype(int)
        b = np.asarray(Image.open(bad).convert("L")).astype(int)
        # above the error text's two lines (at the middle), below the
        # corner text
        lit = lambda a: (a[70:130, 120:280] > 20).mean()
        check(lit(g) > 0.3 and lit(b) == 0 and (b[130:170] > 20).sum() > 50,
              "its screen: no image (%.3f of the upper middle lit, %.3f on the "
              "slice before), the error text (%d pixels)" % (
                  lit(b), lit(g), int((b > 20).sum())))
    # the auto window (key 0) on a slice that shows no image keeps the
    # window: it took the undecoded slice's "range" and set 0/1, which
    # then turned every slice black and white
    p, s = view_run(pix, ["wait", "wheel -2", "state", "key 0", "state",
                          "wheel 1", "key 0", "state"])
    check(len(s) == 3 and s[1]["shown"] == -1 and
          (s[1]["center"], s[1]["width"]) == (s[0]["center"], s[0]["width"]) and
          s[2]["width"] > 100,
          "key 0 on the slice that cannot be shown keeps the window %s; on "
          "the one before it, the auto window %s" % (
              [(x["center"], x["width"]) for x in s[:2]],
              (s[2]["center"], s[2]["width"]) if len(s) == 3 else None))
    # the first slice cut: the series opens at the nearest that decodes
    first = os.path.join(work, "broken-first")
    shutil.copytree(ct, first)
    damage(first, slices[0][1], size // 2)
    p, s = view_run(first, ["wait", "state"])
    check(p.returncode == 0 and len(s) == 1 and s[0]["slice"] == 1 and
          s[0].get("shown") == 1 and "slice 1 cannot be shown" in s[0].get("warning", "")
          and slices[0][1] in s[0]["warning"],
          "the first slice's pixels cut: opens at slice %s, warning %r" % (
              s[0]["slice"] + 1 if s else None, s[0].get("warning") if s else None))

    if failures:
        print("view_interact: %d check(s) failed" % len(failures))
        return 1
    print("view_interact: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
