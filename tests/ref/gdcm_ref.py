#!/usr/bin/python3
"""Reference pixel decoding via GDCM (gdcmconv --raw), for testing consort-node.

Importable module + CLI.  Uses pydicom only to parse the *uncompressed* DICOM
file written by gdcmconv (raw PixelData bytes); never pydicom's pixel decoders.

Layout of every array produced here (= layout of `consort-node decode` output):
  shape (frames, rows, columns, samples_per_pixel), colour-by-pixel,
  host little-endian dtype chosen from BitsAllocated (8/16/32) and
  PixelRepresentation (0 -> uint, 1 -> int), values masked to BitsStored
  (unsigned) or sign-extended from BitsStored (signed).
  BitsAllocated 1 is unpacked to uint8 0/1 (provisional).
  Native YBR_FULL_422 is expanded to full-resolution YBR_FULL (each chroma
  pair duplicated to both pixels of the pair).

CLI:
  gdcm_ref.py reference FILE OUT.npy          # GDCM reference; prints meta JSON
  gdcm_ref.py dcmtk FILE OUT.npy [--colour never|always]
                                              # DCMTK reference (dcmdjpeg/dcmdjpls/dcmdrle)
  gdcm_ref.py best FILE OUT.npy               # GDCM, or the KNOWN_ISSUES substitute
  gdcm_ref.py compare OURS.raw OURS.json REF.npy [--tol N]
      (OURS.json: file holding the JSON line printed by consort-node, or the
       JSON text itself)
Exit status: 0 ok, 1 mismatch, 2 reference tool refused / error.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pydicom

__all__ = ["RefDecodeError", "gdcm_decode", "dcmtk_decode", "normalise_dataset",
           "normalise_bytes", "mask_to_bits_stored", "expand_ybr_422",
           "load_ours", "compare", "meta_of", "KNOWN_ISSUES", "best_reference"]

# Transfer syntaxes handled by the DCMTK fallback decoder.
_JPEG_TS = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
            "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"}
_JPEGLS_TS = {"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"}
_RLE_TS = {"1.2.840.10008.1.2.5"}


class RefDecodeError(RuntimeError):
    """The reference tool refused the file (or wrote nothing usable)."""


def _dtype(bits_allocated, pixel_representation):
    if bits_allocated not in (8, 16, 32):
        raise RefDecodeError("unsupported BitsAllocated %r for reference layout"
                             % (bits_allocated,))
    return np.dtype(("<i" if pixel_representation else "<u") + str(bits_allocated // 8))


def mask_to_bits_stored(arr, bits_stored, pixel_representation):
    """Clear bits above BitsStored (unsigned) or sign-extend from it (signed)."""
    nbits = arr.dtype.itemsize * 8
    if bits_stored is None or bits_stored >= nbits:
        return arr
    if pixel_representation:
        sh = nbits - bits_stored
        return ((arr << sh) >> sh).astype(arr.dtype)   # arithmetic shift on signed
    return (arr & arr.dtype.type((1 << bits_stored) - 1)).astype(arr.dtype)


def expand_ybr_422(buf, frames, rows, cols):
    """Native YBR_FULL_422 bytes (Y0 Y1 Cb Cr per pixel pair, 8-bit) -> (f,r,c,3)."""
    if cols % 2:
        raise RefDecodeError("YBR_FULL_422 with odd Columns (%d) is not defined" % cols)
    need = frames * rows * cols * 2
    if len(buf) < need:
        raise RefDecodeError("YBR_FULL_422 pixel data too short: %d < %d" % (len(buf), need))
    g = np.frombuffer(buf[:need], dtype=np.uint8).reshape(frames, rows, cols // 2, 4)
    out = np.empty((frames, rows, cols, 3), dtype=np.uint8)
    out[:, :, 0::2, 0] = g[..., 0]
    out[:, :, 1::2, 0] = g[..., 1]
    for k, src in ((1, 2), (2, 3)):
        out[:, :, 0::2, k] = g[..., src]
        out[:, :, 1::2, k] = g[..., src]
    return out


def normalise_bytes(buf, rows, cols, frames, spp, bits_allocated, bits_stored,
                    pixel_representation, planar_configuration=0,
                    photometric="", little_endian=True, allow_short=False):
    """Raw native pixel bytes -> (array in our layout, photometric after expansion)."""
    photometric = (photometric or "").strip()
    if bits_allocated == 1:
        # Packed 1-bit data (frames are not byte aligned): unpack LSB-first into
        # uint8 0/1.  (Layout choice for 1-bit data is provisional.)
        n = frames * rows * cols * spp
        if len(buf) * 8 < n:
            raise RefDecodeError("1-bit pixel data too short")
        bits = np.unpackbits(np.frombuffer(buf, dtype=np.uint8), bitorder="little")[:n]
        return bits.reshape(frames, rows, cols, spp).copy(), photometric
    if photometric == "YBR_FULL_422" and spp == 3 and bits_allocated == 8:
        return expand_ybr_422(buf, frames, rows, cols), "YBR_FULL"
    dt = _dtype(bits_allocated, pixel_representation)
    n = frames * rows * cols * spp
    need = n * dt.itemsize
    if len(buf) < need:
        if not allow_short:
            raise RefDecodeError("pixel data too short: %d bytes < %d expected"
                                 % (len(buf), need))
        buf = bytes(buf) + b"\0" * (need - len(buf))
    a = np.frombuffer(buf[:need], dtype=dt if little_endian else dt.newbyteorder(">"))
    a = a.astype(dt)  # host LE copy
    if spp > 1 and planar_configuration == 1:
        a = a.reshape(frames, spp, rows, cols).transpose(0, 2, 3, 1)
    a = np.ascontiguousarray(a.reshape(frames, rows, cols, spp))
    return mask_to_bits_stored(a, bits_stored, pixel_representation), photometric


def _int(ds, kw, default=None):
    v = ds.get(kw, None)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def meta_of(ds):
    """Image attributes of a dataset, in the key names of consort-node's JSON."""
    return {
        "rows": _int(ds, "Rows"),
        "columns": _int(ds, "Columns"),
        "frames": _int(ds, "NumberOfFrames", 1) or 1,
        "samples_per_pixel": _int(ds, "SamplesPerPixel", 1),
        "bits_allocated": _int(ds, "BitsAllocated"),
        "bits_stored": _int(ds, "BitsStored", _int(ds, "BitsAllocated")),
        "pixel_representation": _int(ds, "PixelRepresentation", 0),
        "planar_configuration": _int(ds, "PlanarConfiguration", 0),
        "photometric": str(ds.get("PhotometricInterpretation", "")).strip(),
    }


def normalise_dataset(ds, allow_short=False):
    """Native (uncompressed) pydicom Dataset -> (array, meta).  Raw bytes only."""
    if "PixelData" not in ds:
        raise RefDecodeError("no (7FE0,0010) Pixel Data")
    ts = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if ts and ts not in _NATIVE_TS:
        raise RefDecodeError("dataset is still encapsulated (%s)" % ts)
    m = meta_of(ds)
    buf = ds.PixelData
    le = ds.is_little_endian if ds.is_little_endian is not None else True
    if not le and m["bits_allocated"] and m["bits_allocated"] > 8 and ds["PixelData"].VR == "OB":
        le = True  # OB is never byte-swapped
    a, photo = normalise_bytes(buf, m["rows"], m["columns"], m["frames"],
                               m["samples_per_pixel"], m["bits_allocated"],
                               m["bits_stored"], m["pixel_representation"],
                               m["planar_configuration"], m["photometric"],
                               little_endian=le, allow_short=allow_short)
    need = _native_len(m)
    m["photometric"] = photo
    m["planar_configuration"] = 0
    m["pixel_data_bytes"] = len(buf)
    # >0 e.g. for MR_small_padded.dcm (padding) and badVR.dcm (15 frames of data
    # but NumberOfFrames '1A', which GDCM turns into 1).
    m["excess_bytes"] = len(buf) - need if need is not None else None
    return a, m


_NATIVE_TS = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
              "1.2.840.10008.1.2.1.99"}


def _native_len(m):
    try:
        n = m["frames"] * m["rows"] * m["columns"] * m["samples_per_pixel"]
        if m["bits_allocated"] == 1:
            return (n + 7) // 8
        if m["photometric"] == "YBR_FULL_422":
            return n * 2 // 3
        return n * (m["bits_allocated"] // 8)
    except TypeError:
        return None


def _run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except FileNotFoundError as e:
        raise RefDecodeError("tool not found: %s" % cmd[0]) from e


def gdcm_decode(path, gdcmconv="gdcmconv", allow_short=False):
    """Decode `path` with `gdcmconv --raw`; return (array, meta_dict).

    meta_dict has consort-node's JSON keys (values from GDCM's *output* file,
    photometric after YBR_FULL_422 expansion) plus 'gdcm_photometric' (as
    written by GDCM), 'input_photometric', 'input_transfer_syntax',
    'pixel_data_bytes' and 'gdcm_messages' (stderr).  Raises RefDecodeError if
    gdcmconv fails or writes no pixel data.
    """
    with tempfile.TemporaryDirectory(prefix="gdcm_ref_") as td:
        out = os.path.join(td, "raw.dcm")
        p = _run([gdcmconv, "--raw", path, out])
        msg = (p.stderr + p.stdout).strip()
        if p.returncode != 0 or not os.path.exists(out):
            raise RefDecodeError("gdcmconv --raw failed (rc=%d) on %s: %s"
                                 % (p.returncode, path, msg or "no message"))
        ds = pydicom.dcmread(out, force=True)
        gphoto = str(ds.get("PhotometricInterpretation", "")).strip()
        a, m = normalise_dataset(ds, allow_short=allow_short)
    m["input_photometric"] = m["input_transfer_syntax"] = None
    try:
        ids = pydicom.dcmread(path, force=True)
        im = meta_of(ids)
        m["input_photometric"] = im["photometric"]
        m["input_transfer_syntax"] = str(ids.file_meta.get("TransferSyntaxUID", ""))
        m["input_bits_stored"] = im["bits_stored"]
        m["input_pixel_representation"] = im["pixel_representation"]
        m["input_frames"] = im["frames"]
    except Exception:  # pragma: no cover - informational only
        ids = None
    # gdcmconv silently zero-pads truncated native Pixel Data (MR_truncated.dcm).
    if (ids is not None and not allow_short and "PixelData" in ids
            and m["input_transfer_syntax"] in _NATIVE_TS):
        need = _native_len(meta_of(ids))
        if need is not None and len(ids.PixelData) < need:
            raise RefDecodeError("input Pixel Data truncated (%d < %d bytes); gdcmconv "
                                 "would zero-pad it" % (len(ids.PixelData), need))
    m["gdcm_photometric"] = gphoto
    m["gdcm_messages"] = msg
    return a, m


def dcmtk_decode(path, colour="default"):
    """Alternative reference: DCMTK dcmdjpeg / dcmdjpls / dcmdrle (or dcmconv for
    native data) -> (array, meta).  colour: 'default' (DCMTK default: YCbCr->RGB
    for JPEG), 'never' (+cn: keep YBR), 'always' (+ca)."""
    ids = pydicom.dcmread(path, force=True, stop_before_pixels=True)
    ts = str(ids.file_meta.get("TransferSyntaxUID", ""))
    if ts in _JPEG_TS:
        cmd = ["dcmdjpeg"] + {"default": [], "never": ["+cn"], "always": ["+ca"]}[colour]
    elif ts in _JPEGLS_TS:
        cmd = ["dcmdjpls"]
    elif ts in _RLE_TS:
        cmd = ["dcmdrle"]
    else:
        cmd = ["dcmconv"]
    with tempfile.TemporaryDirectory(prefix="dcmtk_ref_") as td:
        out = os.path.join(td, "raw.dcm")
        p = _run(cmd + ["+te", path, out])
        msg = (p.stderr + p.stdout).strip()
        if p.returncode != 0 or not os.path.exists(out):
            raise RefDecodeError("%s failed (rc=%d) on %s: %s"
                                 % (cmd[0], p.returncode, path, msg or "no message"))
        ds = pydicom.dcmread(out, force=True)
        a, m = normalise_dataset(ds)
    m["dcmtk_messages"] = msg
    return a, m


# Files of pydicom's test data (Debian python3-pydicom 2.3.1) where the plain
# GDCM 3.0.21 reference is wrong, missing or needs a caveat.  Value:
# (method, note); method is one of
#   "gdcm"            GDCM is fine (note is a caveat only)
#   "dcmtk"           use dcmtk_decode(path)           (DCMTK default colour)
#   "dcmtk-always"    use dcmtk_decode(path, "always") (force YCbCr->RGB)
#   "gdcm:<file>"     use gdcm_decode of a sibling file holding the same image
#   "error"           corrupt / no image: a decoder should refuse it
KNOWN_ISSUES = {
    "SC_rgb_rle_16bit.dcm": ("dcmtk", "GDCM puts RLE byte segments in the wrong "
                             "samples for 3-sample 16-bit (pixel 0 = 0,65280,255 "
                             "instead of 65535,0,0); dcmdrle == pydicom"),
    "SC_rgb_rle_32bit.dcm": ("dcmtk", "same GDCM RLE segment-order bug, 32-bit"),
    "SC_rgb_rle_16bit_2frame.dcm": ("dcmtk", "gdcmconv: 'Failed to write'"),
    "SC_rgb_rle_32bit_2frame.dcm": ("dcmtk", "gdcmconv: 'Failed to write'"),
    "rtdose_expb.dcm": ("gdcm:rtdose.dcm", "32-bit OW in Big Endian: GDCM and DCMTK "
                        "swap 16-bit words, pydicom (and the file's author) swap "
                        "32-bit values; only the latter reproduces rtdose.dcm"),
    "rtdose_expb_1frame.dcm": ("gdcm:rtdose_1frame.dcm", "as rtdose_expb.dcm"),
    "SC_rgb_dcmtk_+eb+cy+n1.dcm": ("dcmtk", "GDCM leaves JPEG YBR_FULL as YCbCr"),
    "SC_rgb_dcmtk_+eb+cy+n2.dcm": ("dcmtk", "GDCM leaves JPEG YBR_FULL as YCbCr"),
    "SC_rgb_dcmtk_+eb+cy+s4.dcm": ("dcmtk", "GDCM leaves JPEG YBR_FULL as YCbCr"),
    "SC_rgb_dcmtk_+eb+cy+np.dcm": ("dcmtk", "GDCM: YBR_FULL_422 -> upsampled YCbCr"),
    "SC_rgb_dcmtk_+eb+cy+s2.dcm": ("dcmtk", "GDCM: YBR_FULL_422 -> upsampled YCbCr"),
    "SC_rgb_jpeg_dcmtk.dcm": ("dcmtk", "GDCM leaves JPEG YBR_FULL as YCbCr"),
    "SC_rgb_small_odd_jpeg.dcm": ("dcmtk", "GDCM leaves JPEG YBR_FULL as YCbCr"),
    "SC_rgb_jpeg_lossy_gdcm.dcm": ("dcmtk-always", "labelled RGB but JPEG is YCbCr "
                                   "4:2:0 without JFIF/Adobe: GDCM and dcmdjpeg "
                                   "(default) skip the colour transform -> wrong"),
    "SC_rgb_jpeg.dcm": ("gdcm", "JPEG really RGB (ids 0,1,2, no markers); libjpeg's "
                        "default guess (YCbCr) is wrong; DCMTK cannot parse dataset"),
    "SC_jpeg_no_color_transform.dcm": ("gdcm", "as SC_rgb_jpeg.dcm; dcmdjpeg agrees"),
    "693_J2KI.dcm": ("gdcm", "BitsStored 14 but J2K is signed 16-bit; GDCM reports "
                     "BitsStored 16; values fit in 14 bits so arrays agree"),
    "J2K_pixelrep_mismatch.dcm": ("gdcm", "J2K unsigned 13-bit, PixelRepresentation 1;"
                                  " GDCM outputs 0..8191, normalisation sign-extends"),
    "MR_truncated.dcm": ("error", "Pixel Data 8130 < 8192 bytes; GDCM zero-pads"),
    "badVR.dcm": ("gdcm", "NumberOfFrames '1A'; GDCM assumes 1 frame (data has 15)"),
    "JPEG2000-embedded-sequence-delimiter.dcm": ("error", "corrupt J2K (SIZ)"),
    "no_meta.dcm": ("error", "stray byte before (0008,0005); no tool reads it"),
}


def best_reference(path):
    """Reference honouring KNOWN_ISSUES -> (array, meta); meta['method'] says how."""
    method, note = KNOWN_ISSUES.get(os.path.basename(path), ("gdcm", ""))
    if method == "error":
        raise RefDecodeError("%s: expected to be refused (%s)" % (path, note))
    if method == "dcmtk":
        a, m = dcmtk_decode(path)
    elif method == "dcmtk-always":
        a, m = dcmtk_decode(path, "always")
    elif method.startswith("gdcm:"):
        a, m = gdcm_decode(os.path.join(os.path.dirname(path), method[5:]))
    else:
        a, m = gdcm_decode(path)
    m["method"] = method
    m["note"] = note
    return a, m


def load_ours(raw_path, json_meta):
    """Read consort-node's raw output given its JSON line (str or dict)."""
    if isinstance(json_meta, (bytes, str)):
        json_meta = json.loads(json_meta)
    m = json_meta
    f, r, c, s = (int(m["frames"]), int(m["rows"]), int(m["columns"]),
                  int(m["samples_per_pixel"]))
    ba = int(m["bits_allocated"])
    dt = _dtype(8 if ba == 1 else ba, int(m["pixel_representation"]))
    data = open(raw_path, "rb").read() if isinstance(raw_path, (str, os.PathLike)) else raw_path
    need = f * r * c * s * dt.itemsize
    if len(data) != need:
        raise ValueError("raw output has %d bytes, JSON implies %d" % (len(data), need))
    return np.frombuffer(data, dtype=dt).reshape(f, r, c, s).copy()


def compare(ours, ref, tol=0):
    """-> (ok, maxdiff).  Shapes must match; maxdiff is inf if they don't."""
    ours = np.asarray(ours)
    ref = np.asarray(ref)
    if ours.shape != ref.shape:
        return False, float("inf")
    if ours.size == 0:
        return True, 0
    d = np.abs(ours.astype(np.int64) - ref.astype(np.int64))
    md = int(d.max())
    return md <= tol, md


def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("reference", "dcmtk", "best"):
        sp = sub.add_parser(name)
        sp.add_argument("file")
        sp.add_argument("out_npy")
        if name == "dcmtk":
            sp.add_argument("--colour", choices=("default", "never", "always"),
                            default="default")
    sp = sub.add_parser("compare")
    sp.add_argument("ours_raw")
    sp.add_argument("ours_json")
    sp.add_argument("ref_npy")
    sp.add_argument("--tol", type=int, default=0)
    a = ap.parse_args(argv)
    try:
        if a.cmd in ("reference", "dcmtk", "best"):
            arr, meta = (gdcm_decode(a.file) if a.cmd == "reference" else
                         best_reference(a.file) if a.cmd == "best" else
                         dcmtk_decode(a.file, a.colour))
            np.save(a.out_npy, arr)
            meta["dtype"] = str(arr.dtype)
            meta["shape"] = list(arr.shape)
            print(json.dumps(meta))
            return 0
        js = a.ours_json
        if os.path.exists(js):
            js = open(js).read().strip().splitlines()[-1]
        ok, md = compare(load_ours(a.ours_raw, js), np.load(a.ref_npy), a.tol)
        print(json.dumps({"ok": ok, "maxdiff": md}))
        return 0 if ok else 1
    except RefDecodeError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
