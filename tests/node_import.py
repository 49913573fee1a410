#!/usr/bin/python3
"""consort-node import: a patient's CD (files and a DICOMDIR made by
DCMTK's dcmmkdir, a README and an autorun.inf beside them) into the
archive of a running node whose forwarding rules send everything to an
upstream peer.

usage: node_import.py CONSORT_NODE WORKDIR PORT

Checks:
  - the CD's images are imported (CT, DR and US of tests/gen), the README,
    autorun.inf and the DICOMDIR skipped and named, a truncated Part-10
    file FAILED and named, exit 1 because of it;
  - every imported file is in the archive byte for byte; a data set
    without a Part-10 header (pydicom, no meta) gets one, its data set
    unchanged;
  - the running node answers DCMTK's findscu with the imported study at
    once; each instance is queued for the upstream peer (the forwarding
    rule of a modality's instance);
  - a second import of the CD: everything "already there", exit 0, no new
    queue item; a file with a known SOP Instance UID but other content is
    kept aside in conflicts/, never over the first;
  - the audit trail has an import event per study, with the operator;
  - `verify --deep` finds the archive and its index in agreement and points
    at the conflict; after a file is removed, one cut short and a stray one
    put in data/, `verify` names each and exits 1.
"""

import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402



def queued(node, conf):
    rc, out = nl.run([node, "queue", "list", "--config", conf, "--json"])
    return [e for e in json.loads(out)] if rc == 0 and out.strip() else []


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    syn = os.path.join(work, "syn")
    nl.gen_synthetic(syn, "--small", "--only", "ct,dr,us")
    # the CD: PS3.10 names, a DICOMDIR by DCMTK, things that are not DICOM
    cd = os.path.join(work, "cd")
    os.makedirs(os.path.join(cd, "DICOM"))
    images = []
    for i, f in enumerate(nl.files_under(syn)):
        dst = os.path.join(cd, "DICOM", "IM%06d" % (i + 1))
        shutil.copy(f, dst)
        images.append(dst)
    nl.run(["dcmmkdir", "--recurse", "--input-directory", cd, "DICOM"], cwd=cd,
           check_rc=0)
    with open(os.path.join(cd, "README.TXT"), "w") as f:
        f.write("Images of the patient. Open with the viewer on this disc.\n")
    with open(os.path.join(cd, "autorun.inf"), "w") as f:
        f.write("[autorun]\nopen=viewer.exe\n")
    # a data set without preamble and meta (older systems wrote these)
    bare = os.path.join(cd, "DICOM", "BARE0001")
    ds = pydicom.dcmread(os.path.join(nl.PYDICOM_DATA, "test_files", "CT_small.dcm"))
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.preamble = None
    ds.is_little_endian, ds.is_implicit_VR = True, True
    pydicom.filewriter.dcmwrite(bare, ds, write_like_original=True)
    bare_uid = str(ds.SOPInstanceUID)
    # a Part-10 file cut short (a scratched disc)
    cut = os.path.join(work, "cut")
    os.makedirs(cut)
    with open(images[0], "rb") as f:
        data = f.read()
    with open(os.path.join(cut, "IM999999"), "wb") as f:
        f.write(data[:len(data) // 2])

    storage = os.path.join(work, "var")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node.log"),
                         "upstream = PROV\nretry_min = 60\n"
                         "[peer PROV]\nhost = 127.0.0.1\nport = %d\n" % (port + 1),
                         sync="full").start()
    conf = os.path.join(work, "node.log.conf")
    rc, out = nl.run([node, "import", cd, cut, "--config", conf, "--user", "tech1",
                      "--no-progress"])
    print(out.strip())
    n = len(images) + 1
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    nl.expect(rc == 1 and summary.startswith("%d instance(s)" % n) and
              "3 skipped" in summary and "1 FAILED" in summary,
              "import of the CD beside the running node: %d instances, 3 skipped, "
              "1 failed, exit 1 (%s)" % (n, summary))
    nl.expect(all(re.search(r"skipped\s+%s: " % re.escape(os.path.join(cd, x)), out)
                  for x in ("README.TXT", "autorun.inf", "DICOMDIR")) and
              re.search(r"FAILED\s+%s: " % re.escape(os.path.join(cut, "IM999999")), out),
              "the README, autorun.inf and DICOMDIR are named as skipped, the cut "
              "file as failed with its reason")
    same = 0
    for f in images:
        uid = str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
        stored = os.path.join(storage, nl.rel_path(uid))
        if os.path.exists(stored):
            with open(f, "rb") as a, open(stored, "rb") as b:
                same += a.read() == b.read()
    nl.expect(same == len(images), "%d/%d files in the archive byte for byte"
              % (same, len(images)))
    stored = os.path.join(storage, nl.rel_path(bare_uid))
    ok = False
    if os.path.exists(stored):
        with open(stored, "rb") as f:
            head = f.read(132)
        sds = pydicom.dcmread(stored)
        ok = (head[128:132] == b"DICM" and
              str(sds.file_meta.MediaStorageSOPInstanceUID) == bare_uid and
              sds.PixelData == ds.PixelData and sds.PatientName == ds.PatientName)
    nl.expect(ok, "the data set without a Part-10 header is stored with one, "
              "its data set unchanged")
    study = str(pydicom.dcmread(images[0], stop_before_pixels=True).StudyInstanceUID)
    rc, out = nl.run(["findscu", "-S", "-k", "QueryRetrieveLevel=STUDY",
                      "-k", "StudyInstanceUID=%s" % study,
                      "-k", "NumberOfStudyRelatedInstances", "-aec", "CONSORT",
                      "127.0.0.1", str(port)])
    cnt = re.findall(r"\(0020,1208\) IS \[(\d+)", out)
    want = sum(1 for f in images
               if str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID)
               == study)
    nl.expect(rc == 0 and cnt == [str(want)],
              "the running node finds the imported study at once (%s of %d "
              "instances)" % (cnt, want))
    q = queued(node, conf)
    nl.expect(len(q) == n and all(e.get("dest") == "PROV" for e in q),
              "each imported instance is queued for the upstream peer (%d of %d)"
              % (len(q), n))

    rc, out = nl.run([node, "import", cd, "--config", conf, "--no-progress"])
    summary = out.strip().splitlines()[-1] if out.strip() else ""
    nl.expect(rc == 0 and summary.startswith("0 instance(s)") and
              "%d already there" % n in summary and len(queued(node, conf)) == n,
              "the CD again: all already there, exit 0, nothing queued twice (%s)"
              % summary)
    other = os.path.join(work, "other")
    os.makedirs(other)
    ds2 = pydicom.dcmread(images[0])
    ds2.PatientName = "Somebody^Else"
    ds2.save_as(os.path.join(other, "IM000001"), write_like_original=False)
    rc, out = nl.run([node, "import", other, "--config", conf, "--no-progress"])
    uid0 = str(ds2.SOPInstanceUID)
    with open(images[0], "rb") as a, open(os.path.join(storage, nl.rel_path(uid0)),
                                          "rb") as b:
        first_kept = a.read() == b.read()
    aside = nl.files_under(os.path.join(storage, "conflicts"))
    nl.expect(rc == 0 and "1 conflicting, kept aside" in out and first_kept and
              len(aside) == 1,
              "a file with a known SOP Instance UID and other content is kept aside "
              "in conflicts/, the first stays")

    rc, out = nl.run([node, "audit", "--config", conf, "--event", "import", "--json"])
    ev = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    studies = {str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID)
               for f in images} | {str(ds.StudyInstanceUID)}
    nl.expect(rc == 0 and {e.get("study_uid") for e in ev} == studies and
              all(e.get("user") == "tech1" for e in ev if e.get("instances")),
              "the audit trail has an import event per study (%d), by tech1"
              % len(ev))
    nl.expect(srv.stop() == 0, "node stopped cleanly")

    # verify: the archive against its index, then with damage done to it
    rc, out = nl.run([node, "verify", "--config", conf, "--deep", "--no-progress"])
    nl.expect(rc == 0 and "the archive and its index agree" in out and
              "1 file(s) in %s" % os.path.join(storage, "conflicts") in out,
              "verify --deep: the archive and its index agree, the conflict is "
              "pointed out (%s)" % out.strip().replace("\n", " | "))
    uids = [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
            for f in images[1:3]]
    gone, cut_short = [nl.rel_path(u) for u in uids]
    os.remove(os.path.join(storage, gone))
    with open(os.path.join(storage, cut_short), "r+b") as f:
        f.truncate(1000)
    stray = os.path.join(os.path.dirname(os.path.join(storage, gone)),
                         "0" * 32 + ".dcm")
    shutil.copy(images[0], stray)
    rc, out = nl.run([node, "verify", "--config", conf, "--no-progress"])
    print(out.strip())
    nl.expect(rc == 1 and re.search(r"MISSING\s+%s" % re.escape(gone), out) and
              re.search(r"WRONG SIZE\s+%s" % re.escape(cut_short), out) and
              re.search(r"NOT INDEXED\s+\S*%s" % ("0" * 32), out) and
              "1 missing; 1 of the wrong size; 1 not indexed" in out,
              "verify names a missing file, one cut short and one not indexed, "
              "exit 1")
    nl.finish("node_import")


if __name__ == "__main__":
    main()
