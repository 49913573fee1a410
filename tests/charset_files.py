#!/usr/bin/python3
"""Text decoding against pydicom: every file of pydicom's charset_files must
give the same UTF-8 patient name (and other PN/LO values) as pydicom's own
decoding, and files made here check the county cases: GB18030, GBK bytes
labelled ISO_IR 100 or undeclared (guess and --assume), Latin-1 left alone,
ISO 2022 IR 58, and a GBK character whose second byte is 0x5C inside a
multi-valued name. Exits 1 on any mismatch.

usage: charset_files.py DUMP_VALUES [DATA_DIR] WORKDIR
"""
import glob
import os
import subprocess
import sys

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

TAGS = ["00100010", "00101001", "00080080", "00081030", "0008103e"]


def dump(tool, path, *opts):
    p = subprocess.run([tool, *opts, path, *TAGS], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip())
    vals = {}
    for line in p.stdout.splitlines()[1:]:
        if "]=" in line:
            key, v = line.split("]=", 1)
            tag, idx = key.split("[")
            vals.setdefault(tag.replace(",", ""), []).append(v)
    return p.stdout.splitlines()[0], vals


def pydicom_values(ds):
    out = {}
    for t in TAGS:
        tag = int(t, 16)
        if tag in ds and ds[tag].value not in (None, ""):
            v = ds[tag].value
            vs = v if isinstance(v, (list, pydicom.multival.MultiValue)) else [v]
            out[t] = [str(x).rstrip(" ") for x in vs]
    return out


def write_raw(path, charset, name_bytes, other_bytes=None):
    """A small SC image whose PN bytes are written exactly as given."""
    ds = Dataset()
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.PatientID = "CS1"
    ds.add_new(0x00100010, "PN", name_bytes)
    if other_bytes is not None:
        ds.add_new(0x00101001, "PN", other_bytes)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def main():
    tool = sys.argv[1]
    data = sys.argv[2] if len(sys.argv) > 3 else "/usr/lib/python3/dist-packages/pydicom/data"
    work = sys.argv[-1]
    os.makedirs(work, exist_ok=True)
    ok = bad = 0

    def check(label, got, want):
        nonlocal ok, bad
        good = got == want
        ok += good
        bad += not good
        print("%-40s %s%s" % (label, "ok" if good else "FAILED",
                              "" if good else "  got %r want %r" % (got, want)))

    for path in sorted(glob.glob(os.path.join(data, "charset_files", "*.dcm"))):
        ds = pydicom.dcmread(path)
        _, ours = dump(tool, path)
        want = pydicom_values(ds)
        check(os.path.basename(path), {k: v for k, v in ours.items() if k in want}, want)

    zhang = "Zhang^San=张^三"
    # GB18030, declared
    p = os.path.join(work, "gb18030.dcm")
    write_raw(p, "GB18030", zhang.encode("gb18030"))
    check("GB18030 declared", dump(tool, p)[1].get("00100010"), [zhang])
    # GBK bytes mislabelled ISO_IR 100: the guess, and --assume GBK
    p = os.path.join(work, "gbk_as_latin1.dcm")
    write_raw(p, "ISO_IR 100", zhang.encode("gbk"))
    head, v = dump(tool, p)
    check("GBK labelled ISO_IR 100 (guess)", v.get("00100010"), [zhang])
    check("  reported as guessed", "guessed=1" in head, True)
    check("GBK labelled ISO_IR 100 (--assume)",
          dump(tool, p, "--assume", "GBK", "--no-guess")[1].get("00100010"), [zhang])
    check("GBK labelled ISO_IR 100 (--no-guess)",
          dump(tool, p, "--no-guess")[1].get("00100010"),
          [zhang.encode("gbk").decode("latin-1")])
    # GBK, no charset at all
    p = os.path.join(work, "gbk_undeclared.dcm")
    write_raw(p, None, zhang.encode("gbk"))
    check("GBK undeclared (guess)", dump(tool, p)[1].get("00100010"), [zhang])
    # Latin-1 stays Latin-1, declared or not
    for cs in ("ISO_IR 100", None):
        p = os.path.join(work, "latin1_%s.dcm" % (cs or "none").replace(" ", ""))
        name = "Müller^Jürgen=Ærø^Åsa"
        write_raw(p, cs, name.encode("latin-1"))
        check("Latin-1 %s" % (cs or "undeclared"), dump(tool, p)[1].get("00100010"), [name])
    # 0x5C as the second byte of a GBK character inside a multi-valued PN
    ch = next(c for c in map(chr, range(0x4E00, 0x9FA6))
              if c.encode("gbk", "ignore")[1:] == b"\x5c")
    names = ["王^%s明" % ch, "李^四"]
    p = os.path.join(work, "gbk_5c.dcm")
    write_raw(p, "GBK", "Wang", "\\".join(names).encode("gbk"))
    check("GBK 0x5C trail byte, VM 2 (%s)" % ch, dump(tool, p)[1].get("00101001"), names)
    # ISO 2022 IR 58: GB2312 designated to G1 by ESC $ ) A, re-designated
    # after each delimiter (PS3.5 6.1.2.5.3; pydicom 2.3 cannot write it)
    esc = b"\x1b$)A"
    ir58 = (b"Zhang^San=" + esc + "张".encode("gb2312") + b"^" + esc +
            "三".encode("gb2312"))
    p = os.path.join(work, "ir58.dcm")
    write_raw(p, "\\ISO 2022 IR 58", ir58)
    check("ISO 2022 IR 58", dump(tool, p)[1].get("00100010"), [zhang])
    print("\n%d passed, %d failed" % (ok, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
