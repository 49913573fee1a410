#!/usr/bin/python3
"""Synthetic series (tests/gen/gen_synthetic.py --small) re-encoded by real
encoders (tests/gen/encode_variants.sh: dcmcjpeg, dcmcjpls, dcmcrle,
gdcmconv) must decode with consort-node to the original stored samples
(lossless), within NEAR (JPEG-LS near-lossless), or within 1 of an
independent decoder of the same file (lossy: GDCM, or DCMTK where
tests/ref/gdcm_ref.py says GDCM is wrong). Exits 1 on any failure.

usage: synthetic_decode.py CONSORT_NODE WORKDIR
"""
import csv
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import gdcm_ref  # noqa: E402
import pydicom  # noqa: E402


def ours(node, path, out):
    p = subprocess.run([node, "decode", path, "-o", out], capture_output=True,
                       text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip())
    return gdcm_ref.load_ours(out, p.stdout.strip().splitlines()[-1])


def main():
    node, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen", "gen_synthetic.py"),
                    work, "--small"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["bash", os.path.join(HERE, "gen", "encode_variants.sh"), work],
                   check=True, stdout=subprocess.DEVNULL)
    out = os.path.join(work, "out.raw")
    passed = failed = 0
    with open(os.path.join(work, "enc", "manifest.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        path = os.path.join(work, r["path"])
        orig = os.path.join(work, r["series"], os.path.basename(path))
        try:
            a = ours(node, path, out)
            if a.shape[0] > 1:
                # Random access: the last frame alone equals its slice.
                last = a.shape[0] - 1
                p = subprocess.run([node, "decode", path, "--frame", str(last),
                                    "-o", out], capture_output=True, text=True)
                one = gdcm_ref.load_ours(out, p.stdout.strip())
                if not (one.shape[0] == 1 and (one[0] == a[last]).all()):
                    raise RuntimeError("--frame %d differs from the full decode" % last)
            if r["lossless"] == "1" or int(r["max_error"]) > 0:
                ref, _ = gdcm_ref.normalise_dataset(pydicom.dcmread(orig))
                tol = max(0, int(r["max_error"]))
                what = "original"
            else:
                # Lossy: at every pixel we are within 1 of an independent
                # decoder, or at least as close to the original as it is
                # (lossy streams overshoot the range; a reference that
                # wraps 4096 to 0 there is not the truth).
                ods = pydicom.dcmread(orig)
                jpeg = r["transfer_syntax_uid"] in ("1.2.840.10008.1.2.4.50",
                                                    "1.2.840.10008.1.2.4.51")
                if int(ods.SamplesPerPixel) == 3 and jpeg:
                    # Colour JPEG comes out as RGB, as dcmdjpeg's does.
                    ref, _ = gdcm_ref.dcmtk_decode(
                        path, "always" if "ycbcr_as_rgb" in r["codec"]
                        else "default")
                else:
                    ref, _ = gdcm_ref.best_reference(path)
                o, _ = gdcm_ref.normalise_dataset(ods)
                if a.shape != ref.shape or a.shape != o.shape:
                    raise RuntimeError("shape %s, reference %s, original %s"
                                       % (a.shape, ref.shape, o.shape))
                a64, r64, o64 = (x.astype("int64") for x in (a, ref, o))
                near = abs(a64 - r64) <= 1
                closer = abs(a64 - o64) <= abs(r64 - o64)
                bad = int((~(near | closer)).sum())
                ok = bad == 0
                verdict = "ok" if ok else "FAILED"
                detail = ("%d pixels neither within 1 of the reference nor "
                          "closer to the original; max diff vs reference %d"
                          % (bad, int(abs(a64 - r64).max())))
                print("%-55s %-7s %s" % (r["path"][:55], verdict, detail))
                passed += ok
                failed += not ok
                continue
            ok, md = gdcm_ref.compare(a, ref, tol)
            verdict = "ok" if ok else "FAILED"
            detail = "max diff %s vs %s (tol %d)" % (md, what, tol)
        except Exception as e:  # a refusal or reference failure is a failure
            verdict, detail = "FAILED", str(e)
        passed += verdict == "ok"
        failed += verdict != "ok"
        print("%-55s %-7s %s" % (r["path"][:55], verdict, detail))
    print("\n%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
