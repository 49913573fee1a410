#!/usr/bin/python3
"""Writes hang-dcmtk-jpeg-tem-after-eoi-ts70.dcm and ...-after-res-ts70.dcm
(65 KB each, over the 50 KB kept in regress/) into OUTDIR: JPEG Lossless
SV1 fragments FF D8, FF D9 (or reserved FF 03), FF 01 (TEM), padding, SOF3.
px_jpeg_precision() reads FF D9 / FF 03 as a segment whose length is the
next two bytes (0xFF01), jumps over the TEM and finds the SOF3; DCMTK's
scanJpegDataForBitDepth steps 2 bytes past FF D9 / FF 03, lands on TEM and
loops forever.  Usage: /usr/bin/python3 gen_tem_bypass.py OUTDIR"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import make_seeds as m  # noqa: E402
from pydicom.dataelem import DataElement  # noqa: E402
from pydicom.encaps import encapsulate  # noqa: E402

SOF3 = b"\xff\xc3\x00\x0b\x08\x00\x02\x00\x02\x01\x01\x11\x00"
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for mk, name in ((b"\xff\xd9", "hang-dcmtk-jpeg-tem-after-eoi-ts70.dcm"),
                 (b"\xff\x03", "hang-dcmtk-jpeg-tem-after-res-ts70.dcm")):
    frag = b"\xff\xd8" + mk + b"\xff\x01"
    frag += b"\x00" * (4 + 0xFF01 - len(frag)) + SOF3 + b"\xff\xd9"
    if len(frag) % 2:
        frag += b"\x00"
    ds = m.base(ts="1.2.840.10008.1.2.4.70", rows=2, cols=2)
    del ds.PatientName
    ds.add(DataElement(0x7FE00010, "OB", encapsulate([frag])))
    m.save(ds, out, name)
