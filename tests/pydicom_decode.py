#!/usr/bin/python3
"""Decode every file of Debian's python3-pydicom test data with consort-node
and compare with an independent reference (GDCM's gdcmconv --raw, or DCMTK
where tests/ref/gdcm_ref.py documents that GDCM is wrong). Prints one line
per file and the counts; exits 1 on any mismatch or unexpected refusal.

usage: pydicom_decode.py CONSORT_NODE [DATA_DIR]
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref"))
import gdcm_ref  # noqa: E402

DATA = "/usr/lib/python3/dist-packages/pydicom/data"
LOSSY_TS = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
            "1.2.840.10008.1.2.4.91"}

# Files we refuse on purpose, with the reason our message must contain.
EXPECTED_REFUSALS = {
    "MR_truncated.dcm": "file ends before its data",
    "badVR.dcm": "Number of Frames is not a valid number",
    "JPEG2000-embedded-sequence-delimiter.dcm": "JPEG 2000",
    "no_meta.dcm": "",          # corrupt: a stray byte before (0008,0005)
    "rtplan_truncated.dcm": "",  # truncated, no pixel data anyway
    "meta_missing_tsyntax.dcm": "",
    # Meta header says a JPEG transfer syntax, the dataset is implicit VR;
    # DCMTK's parser stops. Known gap of the DCMTK-based reader.
    "SC_rgb_jpeg.dcm": "cannot parse",
}


def main():
    node = sys.argv[1]
    data = sys.argv[2] if len(sys.argv) > 2 else DATA
    files = sorted(glob.glob(os.path.join(data, "test_files", "*.dcm")) +
                   glob.glob(os.path.join(data, "charset_files", "*.dcm")) +
                   glob.glob(os.path.join(data, "palettes", "*.dcm")))
    if len(files) < 50:
        print("pydicom test data not found under %s" % data)
        return 1
    counts = {"identical": 0, "within1": 0, "no pixels": 0,
              "refused as documented": 0, "FAILED": 0}
    with tempfile.TemporaryDirectory(prefix="pyd_") as td:
        out = os.path.join(td, "out.raw")
        for path in files:
            name = os.path.basename(path)
            p = subprocess.run([node, "decode", path, "-o", out],
                               capture_output=True, text=True, timeout=120)
            err = p.stderr.strip()
            if p.returncode != 0:
                if p.returncode != 1 or len(err.splitlines()) != 1:
                    verdict = "FAILED"
                    why = "rc=%d, error not one line: %r" % (p.returncode, err)
                elif "no pixel data" in err or "Rows missing" in err:
                    verdict, why = "no pixels", err
                    try:
                        gdcm_ref.gdcm_decode(path)
                        verdict, why = "FAILED", "reference decodes it: " + err
                    except gdcm_ref.RefDecodeError:
                        pass
                elif name in EXPECTED_REFUSALS and \
                        EXPECTED_REFUSALS[name] in err:
                    verdict, why = "refused as documented", err
                else:
                    verdict, why = "FAILED", err
            else:
                meta = json.loads(p.stdout.strip().splitlines()[-1])
                ours = gdcm_ref.load_ours(out, meta)
                try:
                    ref, rmeta = gdcm_ref.best_reference(path)
                except gdcm_ref.RefDecodeError as e:
                    verdict, why = "FAILED", "we decode, reference refuses: %s" % e
                else:
                    ts = rmeta.get("input_transfer_syntax", "") or ""
                    ds_ts = subprocess.run(
                        ["/usr/bin/python3", "-c",
                         "import pydicom,sys;d=pydicom.dcmread(sys.argv[1],"
                         "stop_before_pixels=True,force=True);"
                         "print(d.file_meta.get('TransferSyntaxUID',''))",
                         path], capture_output=True, text=True).stdout.strip()
                    tol = 1 if (ts or ds_ts) in LOSSY_TS or ds_ts in LOSSY_TS else 0
                    ok, md = gdcm_ref.compare(ours, ref, tol)
                    if not ok:
                        verdict = "FAILED"
                        why = "max diff %s vs %s (%s)" % (md, rmeta.get("method"),
                                                          ours.shape)
                    else:
                        verdict = "identical" if md == 0 else "within1"
                        why = "%s %s via %s" % (meta["photometric"],
                                                 "x".join(map(str, ours.shape)),
                                                 rmeta.get("method"))
            counts[verdict] += 1
            print("%-45s %-22s %s" % (name[:45], verdict, why))
    print()
    print("files %d: " % len(files) +
          ", ".join("%s %d" % kv for kv in counts.items()))
    return 1 if counts["FAILED"] else 0


if __name__ == "__main__":
    sys.exit(main())
