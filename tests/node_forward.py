#!/usr/bin/python3
"""Store-and-forward between consort-node instances on loopback, and to
peers nobody here wrote.

usage: node_forward.py CONSORT_NODE WORKDIR PORT

Ports PORT..PORT+7. A county node (upstream = PROV), the provincial node
(peers COUNTY and COUNTY2) and a second county node COUNTY2; storescu plays
the modality (calling AE CT1) and the viewer (VIEWER).
  - the synthetic CT, DR, RGB ultrasound (uncompressed) and YBR ultrasound
    (JPEG baseline) plus 120 small instances reach the province exactly
    once; the uncompressed images arrive losslessly compressed (JPEG-LS or
    deflate) and decode (GDCM) to the original pixels bit for bit; the JPEG
    file arrives as it was; `queue --json` counts what went;
  - the province stopped: items wait with the error shown, and go when it
    is back;
  - kill -9 of the county node while it forwards: after a restart the rest
    arrives, nothing twice, nothing set aside as a conflict;
  - a peer refusing every instance (0xC000, tests/hardening/fakepeer.py
    in the province's place): items go dead after max_attempts; `queue
    retry` sends them once the province is back; `queue drop` removes a
    dead item but not the instance (a peer that cannot be reached or
    rejects the association makes no item dead: node_forward_backoff);
  - back to origin: a GSPS (DCMTK dcmpsmk) and a report (Basic Text SR)
    stored at the province about a forwarded study reach COUNTY and nowhere
    else, and are not sent back;
  - peer compatibility: a node forwarding to Orthanc (stores JPEG-LS) and to
    DCMTK storescp accepting only uncompressed syntaxes (sent as stored),
    the latter by a rule with delay = 3 (nothing goes before the study has
    been stable that long).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402
import pydicom.uid  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
JLS, DEFLATE = "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.1.99"
EXPLICIT, JPEG_BASE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50"
GSPS = "1.2.840.10008.5.1.4.1.1.11.1"
FAST_RETRY = "retry_min = 1\nretry_max = 2\nmax_attempts = 2\n"
FAKEPEER = os.path.join(HERE, "hardening", "fakepeer.py")


def storescu(port, aec, paths, aet="CT1"):
    # JPEG files go on an association of their own: storescu proposes a
    # compressed syntax only when told which (-xy)
    jpeg = [p for p in paths if "/us_ybr/" in p]
    rest = [p for p in paths if p not in jpeg]
    for group, opt in ((rest, []), (jpeg, ["-xy"])):
        if group:
            storescu_run(port, aec, group, aet, opt)


def storescu_run(port, aec, paths, aet, opt):
    rc, out = nl.run(["storescu"] + opt + ["-aec", aec, "-aet", aet, "+sd", "+r",
                                          "127.0.0.1", str(port)] + paths)
    if rc != 0:
        nl.fail("storescu to %s failed:\n%s" % (aec, out[-2000:]))


def sops(storage, where="1"):
    return dict(nl.index_rows(storage, "SELECT sop_uid, transfer_syntax FROM "
                                       "instances WHERE " + where))


def queue(node, storage, *args):
    rc, out = nl.run([node, "queue"] + list(args) + ["--storage", storage,
                                                      "--json"])
    if rc != 0:
        nl.fail("queue %s failed: %s" % (" ".join(args), out))
    return json.loads(out) if out.strip().startswith("[") else out


def dest_stat(node, storage, dest):
    for d in queue(node, storage):
        if d["dest"] == dest:
            return d
    return {"pending": 0, "in_flight": 0, "dead": 0, "sent": 0, "bytes": 0,
            "stored_bytes": 0, "last_error": ""}


def wait_for(what, cond, timeout=90):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    nl.fail("timed out after %d s waiting for %s" % (timeout, what))


def pixels(path):
    """The pixel data after GDCM (an independent decoder) made it raw."""
    fd, tmp = tempfile.mkstemp(suffix=".dcm")
    os.close(fd)
    try:
        subprocess.run(["gdcmconv", "--raw", path, tmp], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return pydicom.dcmread(tmp).PixelData
    finally:
        os.unlink(tmp)


def files_by_uid(paths):
    out = {}
    for p in paths:
        out[str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)] = p
    return out


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    p_county, p_prov, p_county2 = port, port + 1, port + 2
    syn = os.path.join(work, "syn")
    nl.gen_synthetic(syn, "--small")
    many = os.path.join(work, "many")
    nl.gen_many(many, "--count", "120", "--studies", "12", "--seed", "21")
    syn_files = nl.files_under(syn)
    originals = files_by_uid(syn_files + nl.files_under(many))

    peer = "[peer %s]\nhost = 127.0.0.1\nport = %d\n"
    county_conf = ("upstream = PROV\n" + FAST_RETRY + peer % ("PROV", p_prov))
    prov_conf = FAST_RETRY + peer % ("COUNTY", p_county) + \
        peer % ("COUNTY2", p_county2)
    c_store, p_store = os.path.join(work, "county"), os.path.join(work, "prov")
    c2_store = os.path.join(work, "county2")
    c_log, p_log = os.path.join(work, "county.log"), os.path.join(work, "prov.log")

    def county():
        return nl.node_server(node, c_store, p_county, c_log, county_conf,
                              aet="COUNTY", sync="normal").start()

    def prov(extra=""):
        return nl.node_server(node, p_store, p_prov, p_log, prov_conf + extra,
                              aet="PROV", sync="normal").start()

    csrv, psrv = county(), prov()
    c2srv = nl.node_server(node, c2_store, p_county2,
                           os.path.join(work, "county2.log"),
                           "upstream = PROV\n" + peer % ("PROV", p_prov),
                           aet="COUNTY2", sync="normal").start()

    # ---- everything a modality stores reaches the province ----
    storescu(p_county, "COUNTY", syn_files + [many])
    n = len(originals)
    wait_for("%d instances at the province" % n,
             lambda: len(sops(p_store)) >= n)
    got = sops(p_store)
    nl.check(set(got) == set(originals) and
             nl.index_rows(p_store, "SELECT count(*) FROM instances")[0][0] == n,
             "all %d instances at the province, each once" % n)
    same, wrong_ts = 0, []
    for uid, path in originals.items():
        if not path.startswith(syn):
            continue
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        orig_ts = str(ds.file_meta.TransferSyntaxUID)
        rel = nl.index_rows(p_store, "SELECT path FROM instances WHERE sop_uid = ?",
                            (uid,))[0][0]
        there = os.path.join(p_store, rel)
        if orig_ts == EXPLICIT:
            want = (JLS, DEFLATE) if ds.SamplesPerPixel == 3 else (JLS,)
            if got[uid] not in want:
                wrong_ts.append((os.path.basename(path), got[uid]))
            same += pixels(there) == pydicom.dcmread(path).PixelData
        else:  # compressed at the source: forwarded as it was
            if got[uid] != orig_ts:
                wrong_ts.append((os.path.basename(path), got[uid]))
            same += nl.dataset_bytes(there) == nl.dataset_bytes(path)
    n_syn = len(syn_files)
    nl.check(not wrong_ts and same == n_syn,
             "synthetic CT/DR/US: %d/%d identical after decoding (GDCM); "
             "uncompressed ones went as JPEG-LS (colour: JPEG-LS or deflate), "
             "JPEG as it was; wrong syntaxes: %s" % (same, n_syn, wrong_ts))
    st = dest_stat(node, c_store, "PROV")
    nl.check(st["sent"] == n and st["pending"] == 0 and st["in_flight"] == 0 and
             0 < st["bytes"] < st["stored_bytes"],
             "queue: PROV sent=%d pending=%d, %.1f MB on the wire for %.1f MB "
             "stored (ratio %.2f, small noise images included)" % (
                 st["sent"], st["pending"], st["bytes"] / 1e6,
                 st["stored_bytes"] / 1e6, st["bytes"] / st["stored_bytes"]))

    # ---- the same instances again, compressed by another node: a resend
    # must be the identical data set (acknowledged, not a conflict) ----
    again = syn_files + nl.files_under(many)[:20]
    storescu(p_county2, "COUNTY2", again)
    wait_for("COUNTY2's copies to be sent",
             lambda: dest_stat(node, c2_store, "PROV")["sent"] >= len(again), 60)
    conflicts = os.listdir(os.path.join(p_store, "conflicts")) \
        if os.path.isdir(os.path.join(p_store, "conflicts")) else []
    dups = psrv.log_text().count("duplicate=identical")
    nl.check(not conflicts and dups >= len(again),
             "the same %d instances compressed again by COUNTY2: %d acknowledged "
             "as identical duplicates, %d conflicts (encoders' pad bytes zeroed)"
             % (len(again), dups, len(conflicts)))

    # ---- the province is down: items wait, then go ----
    psrv.stop()
    down = os.path.join(work, "down")
    nl.gen_many(down, "--count", "30", "--studies", "3", "--seed", "22")
    storescu(p_county, "COUNTY", [down])
    st = wait_for("the county to notice the province is down",
                  lambda: (lambda s: s if s["last_error"] and s["pending"] +
                           s["in_flight"] == 30 else None)(
                      dest_stat(node, c_store, "PROV")), 30)
    nl.check(True, "province down: 30 items wait, last error: %s"
             % st["last_error"][:100])
    psrv = prov()
    down_uids = set(files_by_uid(nl.files_under(down)))
    wait_for("the backlog after the province is back",
             lambda: down_uids <= set(sops(p_store)), 60)
    nl.check(True, "province back: the 30 waiting instances arrived")

    # ---- kill -9 of the county node while it forwards ----
    crash = os.path.join(work, "crash")
    nl.gen_many(crash, "--count", "600", "--studies", "6", "--seed", "23")
    crash_uids = set(files_by_uid(nl.files_under(crash)))
    psrv.stop()  # let a backlog build, then forward and kill mid-way
    storescu(p_county, "COUNTY", [crash])
    psrv = prov()
    wait_for("forwarding to start",
             lambda: len(crash_uids & set(sops(p_store))) > 0, 60)
    csrv.kill9()
    at_kill = len(crash_uids & set(sops(p_store)))
    csrv = county()
    wait_for("the rest after the restart",
             lambda: crash_uids <= set(sops(p_store)), 90)
    total = nl.index_rows(p_store, "SELECT count(*), count(DISTINCT sop_uid) "
                                   "FROM instances")[0]
    conflicts = os.listdir(os.path.join(p_store, "conflicts")) \
        if os.path.isdir(os.path.join(p_store, "conflicts")) else []
    nl.check(total[0] == total[1] == n + 30 + 600 and not conflicts,
             "kill -9 with %d/600 forwarded: after restart all %d at the "
             "province once each, no conflicts" % (at_kill, total[0]))

    # ---- a peer that refuses the instances: dead items, retry, drop ----
    # (each C-STORE refused counts against its item; an association
    # rejected would count against the destination only)
    psrv.stop()
    fake = nl.Server(["/usr/bin/python3", FAKEPEER, str(p_prov), "status:0xC000",
                      os.path.join(work, "fakepeer.log")], p_prov,
                     os.path.join(work, "fakepeer.out")).start()
    refused = os.path.join(work, "refused")
    nl.gen_many(refused, "--count", "5", "--studies", "1", "--seed", "24")
    storescu(p_county, "COUNTY", [refused])
    wait_for("5 dead items", lambda: dest_stat(node, c_store, "PROV")["dead"] == 5, 60)
    dead = queue(node, c_store, "list", "--dead")
    nl.check(len(dead) == 5 and all(d["attempts"] == 2 for d in dead),
             "refused twice (max_attempts = 2): 5 dead items, error: %s"
             % dead[0]["last_error"])
    drop_id = str(dead[0]["id"])
    out = queue(node, c_store, "drop", "--id", drop_id)
    kept = nl.index_rows(c_store, "SELECT count(*) FROM instances WHERE sop_uid = ?",
                         (dead[0]["sop_uid"],))[0][0]
    nl.check("1 item(s) dropped" in out and kept == 1,
             "queue drop --id %s: %s; the instance stays in the archive"
             % (drop_id, out.strip()))
    fake.stop()
    psrv = prov()
    out = queue(node, c_store, "retry")
    refused_uids = set(files_by_uid(nl.files_under(refused))) - {dead[0]["sop_uid"]}
    wait_for("the retried items", lambda: refused_uids <= set(sops(p_store)), 60)
    nl.check("4 item(s) queued again" in out and
             dead[0]["sop_uid"] not in sops(p_store),
             "queue retry: %s; they arrived, the dropped one did not go"
             % out.strip())

    # ---- back to origin: a GSPS made at the province ----
    ct_image = sorted(f for f in syn_files if "/ct/" in f)[0]
    gsps = os.path.join(work, "gsps.dcm")
    nl.run(["dcmpsmk", ct_image, gsps], check_rc=0)
    guid = str(pydicom.dcmread(gsps).SOPInstanceUID)
    # and the radiologist's report on the same study: a Basic Text SR
    ref = pydicom.dcmread(ct_image, stop_before_pixels=True)
    sr = pydicom.Dataset()
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    sr.SOPInstanceUID = pydicom.uid.generate_uid()
    sr.StudyInstanceUID = ref.StudyInstanceUID
    sr.SeriesInstanceUID = pydicom.uid.generate_uid()
    sr.PatientID, sr.PatientName, sr.Modality = ref.PatientID, ref.PatientName, "SR"
    sr.file_meta = pydicom.dataset.FileMetaDataset()
    sr.file_meta.MediaStorageSOPClassUID = sr.SOPClassUID
    sr.file_meta.MediaStorageSOPInstanceUID = sr.SOPInstanceUID
    sr.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    sr.is_little_endian, sr.is_implicit_VR = True, False
    srf = os.path.join(work, "report.dcm")
    sr.save_as(srf, write_like_original=False)
    suid = str(sr.SOPInstanceUID)
    storescu(p_prov, "PROV", [gsps, srf], aet="VIEWER")
    wait_for("the GSPS and the report at the county",
             lambda: guid in sops(c_store) and suid in sops(c_store), 30)
    time.sleep(1.5)  # give a wrong route the time to show
    in_c2 = guid in sops(c2_store) or suid in sops(c2_store)
    p_dests = {d["dest"] for d in queue(node, p_store)}
    c_items = queue(node, c_store, "list")
    nl.check(not in_c2 and "COUNTY2" not in p_dests and not c_items,
             "GSPS and report (SR) stored at the province by VIEWER went back "
             "to COUNTY only (not COUNTY2; province destinations: %s) and not "
             "up again (county queue: %d items)" % (sorted(p_dests), len(c_items)))

    # ---- peers nobody here wrote: Orthanc (JPEG-LS), storescp (uncompressed) ----
    p_orth, p_orth_http, p_scp, p_hub = port + 3, port + 4, port + 5, port + 6
    ostore = os.path.join(work, "orthanc")
    oconf = {"Name": "forward-test", "StorageDirectory": ostore,
             "IndexDirectory": ostore, "DicomAet": "ORTHANC",
             "DicomPort": p_orth, "HttpPort": p_orth_http,
             "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
             "DicomCheckCalledAet": False, "DicomAlwaysAllowStore": True,
             "DicomAlwaysAllowEcho": True, "Plugins": []}
    ocp = os.path.join(work, "orthanc.json")
    with open(ocp, "w") as f:
        json.dump(oconf, f)
    orth = nl.Server(["/usr/sbin/Orthanc", ocp], p_orth,
                     os.path.join(work, "orthanc.log"), env=nl.PEER_ENV).start(60)
    nl.wait_port(p_orth_http, 30)
    scp_dir = os.path.join(work, "storescp")
    os.makedirs(scp_dir)
    scp = nl.Server(["storescp", "-od", scp_dir, "+xe", str(p_scp)], p_scp,
                    os.path.join(work, "storescp.log"), env=nl.PEER_ENV).start()
    hub_conf = (FAST_RETRY + peer % ("ORTHANC", p_orth) + peer % ("STORESCP", p_scp) +
                "[route orthanc]\nto = ORTHANC\n"
                "[route storescp]\nto = STORESCP\ndelay = 3\n")
    hub = nl.node_server(node, os.path.join(work, "hub"), p_hub,
                         os.path.join(work, "hub.log"), hub_conf, aet="HUB",
                         sync="normal").start()
    peer_files = [f for f in syn_files if "/ct/" in f or "/us/" in f or "/dr/" in f]
    storescu(p_hub, "HUB", peer_files)
    stored_at = time.time()

    def orthanc_count():
        with urllib.request.urlopen("http://127.0.0.1:%d/statistics" % p_orth_http,
                                    timeout=30) as r:
            return json.loads(r.read())["CountInstances"]
    wait_for("Orthanc and storescp to hold %d" % len(peer_files),
             lambda: orthanc_count() >= len(peer_files) and
             len(os.listdir(scp_dir)) >= len(peer_files), 60)
    first = min(os.path.getmtime(os.path.join(scp_dir, f)) for f in os.listdir(scp_dir))
    nl.check(first - stored_at >= 1.5,
             "route with delay = 3: storescp got the first instance %.1f s after "
             "the last C-STORE to the hub (study stable first)" % (first - stored_at))
    with urllib.request.urlopen("http://127.0.0.1:%d/instances?expand" % p_orth_http,
                                timeout=30) as r:
        inst = json.loads(r.read())
    o_ts = set()
    for i in inst:
        with urllib.request.urlopen("http://127.0.0.1:%d/instances/%s/metadata/"
                                    "TransferSyntax" % (p_orth_http, i["ID"]),
                                    timeout=30) as r:
            o_ts.add(r.read().decode())
    scp_ok = 0
    for f in os.listdir(scp_dir):
        ds = pydicom.dcmread(os.path.join(scp_dir, f))
        orig = pydicom.dcmread(originals[str(ds.SOPInstanceUID)])
        scp_ok += (str(ds.file_meta.TransferSyntaxUID) == EXPLICIT and
                   ds.PixelData == orig.PixelData)
    nl.check(len(inst) == len(peer_files) and o_ts <= {JLS, DEFLATE} and JLS in o_ts and
             scp_ok == len(peer_files),
             "Orthanc stored %d instances as %s; storescp (uncompressed only) "
             "got %d/%d as explicit VR little endian with the original pixels"
             % (len(inst), sorted(o_ts), scp_ok, len(peer_files)))

    for s in (hub, scp, orth, c2srv, csrv, psrv):
        rc = s.stop()
        if s in (hub, c2srv, csrv, psrv) and rc != 0:
            nl.fail("%s did not stop cleanly (exit %s)" % (s.argv[0], rc))
    ok = nl.index_rows(p_store, "PRAGMA integrity_check")[0][0]
    nl.check(ok == "ok", "province index integrity_check: %s" % ok)
    print("node_forward: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
