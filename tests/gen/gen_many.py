#!/usr/bin/python3
"""Many synthetic instances for network, durability and ingest tests.

usage: gen_many.py OUTDIR --count N [--kind tiny|small|ct|dr] [--studies S]
                   [--patients P] [--seed K] [--name-gb18030]

Writes N Explicit VR Little Endian Part-10 files OUTDIR/NNNNNN.dcm with
unique, deterministic UIDs (seeded), in S consecutive studies (default N/10,
at least 1) of P patients (default S), each study one series:

    tiny   8x8 16-bit CT image (~1 KB): index-only loads (query benchmarks)
    small  64x64 16-bit CT image (~8.5 KB): the many-small-instances case
    ct     512x512 int16 CT slice (~0.5 MB): a CT series
    dr     2500x3000 12-bit DX image (~15 MB): large radiographs

Patient names, IDs, study dates (spread over 2019-2024) and descriptions
vary so that C-FIND tests have something to match. --name-gb18030 gives
every patient a Chinese name encoded in GB18030. Pixel data is cheap
deterministic noise: this is about transfer, not image content.
Prints one line: the number of files and bytes written.
"""

import argparse
import os
import sys

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT = "1.2.840.10008.5.1.4.1.1.2"
DX = "1.2.840.10008.5.1.4.1.1.1.1"

SURNAMES = ["WANG", "LI", "ZHANG", "LIU", "CHEN", "YANG", "HUANG", "ZHAO",
            "WU", "ZHOU"]
GIVEN = ["WEI", "FANG", "NA", "MIN", "JING", "LEI", "QIANG", "JUN", "YAN",
         "HUI"]
CN_SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"]
CN_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "强", "军", "艳", "慧"]
DESCS = ["CHEST", "HEAD", "ABDOMEN", "KNEE", "SPINE"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--kind", choices=["tiny", "small", "ct", "dr"], default="small")
    ap.add_argument("--studies", type=int)
    ap.add_argument("--patients", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--name-gb18030", action="store_true")
    a = ap.parse_args()
    n = a.count
    studies = max(1, a.studies or n // 10)
    patients = max(1, min(a.patients or studies, studies))
    os.makedirs(a.outdir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    shape, bits, cls, mod = {
        "tiny": ((8, 8), 16, CT, "CT"),
        "small": ((64, 64), 16, CT, "CT"),
        "ct": ((512, 512), 16, CT, "CT"),
        "dr": ((3000, 2500), 12, DX, "DX"),
    }[a.kind]
    # One noise block reused with a per-instance offset: generating fresh
    # noise for 2,000 files would dominate the test's run time.
    base = rng.integers(0, 1 << 12, size=shape, dtype=np.uint16)
    total = 0
    for i in range(n):
        s = i * studies // n  # a study is sent instance after instance
        p = s % patients
        ds = Dataset()
        if a.name_gb18030:
            ds.SpecificCharacterSet = "GB18030"
            ds.PatientName = CN_SURNAMES[p % 10] + CN_GIVEN[(p // 10) % 10]
        else:
            ds.PatientName = "%s^%s%d" % (SURNAMES[p % 10], GIVEN[(p // 10) % 10],
                                          p)
        ds.PatientID = ("CN%06d" if a.name_gb18030 else "P%06d") % p
        ds.PatientBirthDate = "19%02d0%d1%d" % (40 + p % 60, 1 + p % 9, p % 10)
        ds.PatientSex = "MF"[p % 2]
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["many", str(a.seed),
                                                         "study", str(s)])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["many", str(a.seed),
                                                          "series", str(s)])
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["many", str(a.seed),
                                                       a.kind, str(i)])
        ds.SOPClassUID = cls
        ds.StudyDate = "%04d%02d%02d" % (2019 + s % 6, 1 + s % 12, 1 + s % 28)
        ds.StudyTime = "%02d%02d00" % (8 + s % 10, s % 60)
        ds.AccessionNumber = "A%07d" % s
        ds.StudyID = str(s)
        ds.StudyDescription = DESCS[s % len(DESCS)]
        ds.SeriesDescription = DESCS[s % len(DESCS)] + " AXIAL"
        ds.ReferringPhysicianName = "DOCTOR^%d" % (s % 7)
        ds.Modality = mod
        ds.SeriesNumber = 1
        ds.InstanceNumber = i - (s * n + studies - 1) // studies + 1
        ds.Rows, ds.Columns = shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = bits
        ds.HighBit = bits - 1
        ds.PixelRepresentation = 0
        if mod == "CT":
            ds.RescaleIntercept = "-1024"
            ds.RescaleSlope = "1"
        px = np.roll(base, i * 7, axis=1) if n > 1 else base
        ds.PixelData = px.tobytes()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = cls
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = os.path.join(a.outdir, "%06d.dcm" % i)
        save(ds, path)
        total += os.path.getsize(path)
    print("%d files, %d bytes in %s" % (n, total, a.outdir))


def save(ds, path):
    """A Part-10 file (preamble, meta); pydicom 2.x (Debian 12) API."""
    from pydicom.dataset import FileDataset
    fd = FileDataset(path, ds, file_meta=ds.file_meta, preamble=b"\0" * 128)
    fd.is_little_endian = True
    fd.is_implicit_VR = False
    fd.save_as(path, write_like_original=False)


if __name__ == "__main__":
    sys.exit(main())
