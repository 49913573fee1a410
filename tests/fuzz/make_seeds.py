#!/usr/bin/python3
"""Tiny seed files for fuzz_decode: the pixel paths that Debian's pydicom
test data and the synthetic series do not reach (palette colour, LUT and
VOI sequences, 1-bit and 32-bit samples, a shifted High Bit, colour-by-plane
multi-frame, odd frame sizes, offset tables, fragmented frames, float
pixel data).

Usage:  /usr/bin/python3 make_seeds.py OUTDIR
Needs pydicom + numpy; dcmcjpeg for the fragmented JPEG seeds (skipped if
absent). Deterministic; every file is a few KB.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended
from pydicom.pixel_data_handlers.rle_handler import rle_encode_frame
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

SC = "1.2.840.10008.5.1.4.1.1.7"
RNG = np.random.default_rng(1234)


def base(ts=ExplicitVRLittleEndian, rows=8, cols=8, spp=1, ba=8, bs=None,
         hb=None, pr=0, pi="MONOCHROME2", frames=None, pc=None):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SC
    meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7"
    meta.TransferSyntaxUID = ts
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = SC
    ds.SOPInstanceUID = "1.2.3.4.5.6.7"
    ds.PatientName = "Fuzz^Seed"
    ds.Modality = "OT"
    ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = pi
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = ba
    ds.BitsStored = bs if bs is not None else ba
    ds.HighBit = hb if hb is not None else ds.BitsStored - 1
    ds.PixelRepresentation = pr
    if spp > 1:
        ds.PlanarConfiguration = pc or 0
    if frames is not None:
        ds.NumberOfFrames = frames
    return ds


def pixels(ds, arr, vr="OW"):
    ds.add(DataElement(0x7FE00010, vr, arr.tobytes()))


def palette(ds, n, first, bits, wide=True, high=False, desc_vr="US"):
    for i, c in enumerate((0x1101, 0x1102, 0x1103)):
        ds.add(DataElement(0x00280000 | c, desc_vr, [n & 0xFFFF, first, bits]))
        ramp = (np.arange(n) * (i + 1) * 37) % (1 << bits)
        if high:
            ramp = ramp << 8
        data = ramp.astype("<u2" if wide else "u1").tobytes()
        if len(data) % 2:
            data += b"\0"
        ds.add(DataElement(0x00280000 | (c + 0x100), "OW", data))


def lut_item(n, first, bits):
    it = Dataset()
    it.add(DataElement(0x00283002, "SS" if first < 0 else "US",
                       [n & 0xFFFF, first, bits]))
    it.add(DataElement(0x00283006, "OW",
                       (np.arange(n) * 3 % (1 << bits)).astype("<u2").tobytes()))
    return it


def save(ds, out, name):
    ds.save_as(os.path.join(out, name), write_like_original=False)


def seeds(out):
    # Palette colour: 8-bit indices, 16-bit entries.
    ds = base(pi="PALETTE COLOR")
    palette(ds, 256, 0, 16)
    pixels(ds, RNG.integers(0, 256, (8, 8), dtype=np.uint8), "OB")
    save(ds, out, "pal8_lut16.dcm")
    # 16-bit indices, 8-bit entries stored high in OW words, first 100.
    ds = base(ba=16, bs=12, pi="PALETTE COLOR")
    palette(ds, 4096, 100, 8, high=True)
    pixels(ds, RNG.integers(0, 4300, (8, 8), dtype=np.uint16))
    save(ds, out, "pal16_lut8_high.dcm")
    # Signed indices, SS descriptor, first mapped -128, 8-bit packed bytes.
    ds = base(pr=1, pi="PALETTE COLOR")
    palette(ds, 256, -128, 8, wide=False, desc_vr="SS")
    pixels(ds, RNG.integers(-128, 128, (8, 8), dtype=np.int8), "OB")
    save(ds, out, "pal8_signed.dcm")
    # Segmented palette only: refused.
    ds = base(pi="PALETTE COLOR")
    for c in (0x1101, 0x1102, 0x1103):
        ds.add(DataElement(0x00280000 | c, "US", [256, 0, 16]))
        ds.add(DataElement(0x00280000 | (c + 0x120), "OW",
                           np.array([0, 256, 0, 1, 255, 65535], "<u2").tobytes()))
    pixels(ds, np.zeros((8, 8), np.uint8), "OB")
    save(ds, out, "pal8_segmented.dcm")
    # Palette, RLE, two frames with a Basic Offset Table.
    ds = base(ts=RLELossless, pi="PALETTE COLOR", frames=2)
    palette(ds, 256, 0, 16)
    fr = [RNG.integers(0, 256, (8, 8), dtype=np.uint8) for _ in range(2)]
    enc = [rle_encode_frame(f) for f in fr]
    ds.add(DataElement(0x7FE00010, "OB", encapsulate(enc, has_bot=True)))
    save(ds, out, "pal8_rle_2frames_bot.dcm")

    # Modality LUT sequence, VOI LUT sequence, windows, SIGMOID.
    ds = base(ba=16, bs=16, pr=1)
    ds.RescaleType = "HU"
    ds.ModalityLUTSequence = [lut_item(256, -10, 16)]
    ds.ModalityLUTSequence[0].ModalityLUTType = "OD"
    ds.VOILUTSequence = [lut_item(512, 0, 12),
                         lut_item(16, 5, 16)]
    ds.WindowCenter = ["40", "-600", "300"]
    ds.WindowWidth = ["400", "1500", "0"]
    ds.WindowCenterWidthExplanation = ["SOFT", "LUNG", "BAD"]
    ds.VOILUTFunction = "SIGMOID"
    pixels(ds, RNG.integers(-1024, 3000, (8, 8), dtype=np.int16))
    save(ds, out, "mono16_luts.dcm")
    # Rescale only, DS values with spaces.
    ds = base(ba=16, bs=12, hb=13, frames=2)   # High Bit above Bits Stored
    ds.RescaleSlope = " 2.5"
    ds.RescaleIntercept = "-1024 "
    pixels(ds, (RNG.integers(0, 4096, (2, 8, 8), dtype=np.uint16) << 2))
    save(ds, out, "mono16_hb13_2frames.dcm")
    # 32-bit signed, 24 stored.
    ds = base(ba=32, bs=24, pr=1)
    pixels(ds, RNG.integers(-(1 << 23), 1 << 23, (8, 8), dtype=np.int32), "OB")
    save(ds, out, "mono32_bs24_signed.dcm")
    # 1-bit, odd size, three frames packed back to back.
    ds = base(rows=7, cols=9, ba=1, frames=3)
    bits = RNG.integers(0, 2, 3 * 7 * 9, dtype=np.uint8)
    pixels(ds, np.packbits(bits, bitorder="little"), "OB")
    save(ds, out, "mono1_9x7_3frames.dcm")
    # RGB colour-by-plane, three frames.
    ds = base(spp=3, pi="RGB", pc=1, frames=3)
    pixels(ds, RNG.integers(0, 256, (3, 3, 8, 8), dtype=np.uint8), "OB")
    save(ds, out, "rgb8_planar_3frames.dcm")
    # Float pixel data: refused.
    ds = base(ba=32)
    ds.add(DataElement(0x7FE00008, "OF",
                       RNG.random((8, 8), dtype=np.float32).tobytes()))
    save(ds, out, "float_pixels.dcm")

    # RLE, 8-bit, odd frame size (7 x 9 bytes).
    ds = base(ts=RLELossless, rows=7, cols=9)
    enc = rle_encode_frame(RNG.integers(0, 256, (7, 9), dtype=np.uint8))
    ds.add(DataElement(0x7FE00010, "OB", encapsulate([enc])))
    save(ds, out, "mono8_rle_7x9_odd.dcm")

    # RLE, three frames, empty BOT and an Extended Offset Table.
    ds = base(ts=RLELossless, ba=16, frames=3)
    fr = [RNG.integers(0, 65536, (8, 8), dtype=np.uint16) for _ in range(3)]
    enc = [rle_encode_frame(f) for f in fr]
    pd, eot, eotl = encapsulate_extended(enc)
    ds.add(DataElement(0x7FE00010, "OB", pd))
    ds.add(DataElement(0x7FE00001, "OV", eot))
    ds.add(DataElement(0x7FE00002, "OV", eotl))
    save(ds, out, "mono16_rle_3frames_eot.dcm")

    # JPEG lossless, three frames split into 1 KB fragments, with and
    # without a Basic Offset Table (the marker scan path).
    if shutil.which("dcmcjpeg"):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src.dcm")
            ds = base(rows=32, cols=32, ba=16, bs=12, frames=3)
            pixels(ds, RNG.integers(0, 4096, (3, 32, 32), dtype=np.uint16))
            save(ds, tmp, "src.dcm")
            for name, opts in (("jpegsv1_3frames_frag_bot.dcm", ["+ot"]),
                               ("jpegsv1_3frames_frag_nobot.dcm", ["-ot"])):
                subprocess.run(["dcmcjpeg", "-q", "+e1", "+fs", "1"] + opts +
                               [src, os.path.join(out, name)], check=True)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_seeds.py OUTDIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    seeds(sys.argv[1])


if __name__ == "__main__":
    main()
