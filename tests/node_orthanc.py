#!/usr/bin/python3
"""consort-node against Orthanc (Debian's orthanc, its own configuration,
loopback), in both directions.

usage: node_orthanc.py CONSORT_NODE WORKDIR PORT   (uses PORT..PORT+2)

  - Orthanc pushes a study to consort-node (REST /modalities/.../store):
    every instance arrives byte-identical;
  - consort-node send pushes a study to Orthanc: Orthanc has them all;
  - consort-node find queries Orthanc: the expected studies come back;
  - consort-node move has Orthanc send a study to consort-node: it arrives
    byte-identical.
Orthanc is started by PID and stopped by PID.
"""

import json
import os
import shutil
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402



def rest(port, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=body.encode() if body is not None else None,
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read().decode() or "null")


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if not os.path.exists("/usr/sbin/Orthanc"):
        print("Orthanc is not installed (apt-get install orthanc)")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    o_dicom, o_http = port + 1, port + 2
    a = os.path.join(work, "a")   # pushed by Orthanc to us
    b = os.path.join(work, "b")   # pushed by us to Orthanc, moved back
    for d, seed in ((a, 11), (b, 12)):
        nl.gen_many(d, "--count", "12", "--studies", "2", "--seed", str(seed))

    ostore = os.path.join(work, "orthanc")
    conf = {
        "Name": "consort-test", "StorageDirectory": ostore,
        "IndexDirectory": ostore, "DicomAet": "ORTHANC",
        "DicomPort": o_dicom, "HttpPort": o_http, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "DicomCheckCalledAet": False,
        "DicomAlwaysAllowEcho": True, "DicomAlwaysAllowStore": True,
        "DicomModalities": {"consort": ["CONSORT", "127.0.0.1", port]},
        "Plugins": [], "StableAge": 1, "LogExportedResources": False,
    }
    cpath = os.path.join(work, "orthanc.json")
    with open(cpath, "w") as f:
        json.dump(conf, f)
    orth = nl.Server(["/usr/sbin/Orthanc", cpath], o_dicom,
                     os.path.join(work, "orthanc.log"), env=nl.PEER_ENV).start(60)
    nl.wait_port(o_http, 30)

    nconf = "[peer ORTHANC]\nhost = 127.0.0.1\nport = %d\n" % o_dicom
    storage = os.path.join(work, "var")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node.log"),
                         nconf, sync="normal").start()

    # ---- Orthanc pushes a study to consort-node ----
    nl.run(["storescu", "-aec", "ORTHANC", "+sd", "127.0.0.1", str(o_dicom), a],
           check_rc=0)
    studies = rest(o_http, "/studies")
    nl.check(len(studies) == 2, "Orthanc holds the 2 studies loaded into it")
    job = rest(o_http, "/modalities/consort/store", json.dumps(studies[0]))
    sent = rest(o_http, "/studies/%s/instances" % studies[0])
    same = 0
    for inst in sent:
        uid = inst["MainDicomTags"]["SOPInstanceUID"]
        src = [f for f in nl.files_under(a)
               if pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID == uid][0]
        st = os.path.join(storage, nl.rel_path(uid))
        if os.path.exists(st) and nl.dataset_bytes(st) == nl.dataset_bytes(src):
            same += 1
    nl.check(same == len(sent) > 0, "Orthanc C-STORE to consort-node: %d/%d "
             "instances byte-identical (%s)" % (same, len(sent), job))

    # ---- consort-node pushes to Orthanc ----
    rc, out = nl.run([node, "send", b, "--to", "ORTHANC@127.0.0.1:%d" % o_dicom,
                      "--no-progress"])
    n_b = len(nl.files_under(b))
    stats = rest(o_http, "/statistics")
    nl.check(rc == 0 and stats["CountInstances"] == 12 + n_b,
             "consort-node send to Orthanc: %d instances there now" % stats["CountInstances"])

    # ---- consort-node finds in Orthanc ----
    bmeta = [pydicom.dcmread(f, stop_before_pixels=True) for f in nl.files_under(b)]
    pid = bmeta[0].PatientID
    rc, out = nl.run([node, "find", "ORTHANC@127.0.0.1:%d" % o_dicom, "-k",
                      "PatientID=%s" % pid, "--json"])
    want = len({m.StudyInstanceUID for m in bmeta if m.PatientID == pid}) + \
        len({pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID
             for f in nl.files_under(a)
             if pydicom.dcmread(f, stop_before_pixels=True).PatientID == pid})
    got = json.loads(out[:out.rindex("]") + 1]) if "[" in out else []
    nl.check(rc == 0 and len(got) == want,
             "consort-node find in Orthanc by Patient ID: %d studies (expected %d)" % (
                 len(got), want))

    # ---- consort-node moves a study from Orthanc to itself ----
    s = bmeta[0].StudyInstanceUID
    rc, out = nl.run([node, "move", "ORTHANC@127.0.0.1:%d" % o_dicom, "--dest",
                      "CONSORT", "-k", "StudyInstanceUID=%s" % s])
    files = [f for f, m in zip(nl.files_under(b), bmeta) if m.StudyInstanceUID == s]
    same = sum(1 for f, m in zip(nl.files_under(b), bmeta)
               if m.StudyInstanceUID == s and os.path.exists(
                   os.path.join(storage, nl.rel_path(m.SOPInstanceUID))) and
               nl.dataset_bytes(os.path.join(storage, nl.rel_path(m.SOPInstanceUID)))
               == nl.dataset_bytes(f))
    nl.check(rc == 0 and same == len(files) > 0,
             "consort-node move from Orthanc: %d/%d instances arrived byte-identical "
             "(%s)" % (same, len(files), out.strip()))

    rc = srv.stop()
    nl.check(rc == 0, "consort-node stopped cleanly")
    orth.stop()
    print("node_orthanc: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
