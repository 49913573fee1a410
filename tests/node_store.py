#!/usr/bin/python3
"""consort-node serve as a Storage and Verification SCP, tested with tools
nobody here wrote (DCMTK echoscu/storescu) and with consort-node's own SCU.

usage: node_store.py CONSORT_NODE WORKDIR PORT

Checks, on loopback (ports PORT..PORT+2):
  - C-ECHO with echoscu and `consort-node echo`; a wrong called AE title is
    rejected; a second serve on the same storage folder is refused;
  - usage mistakes of echo, find, get, move and send (a port out of range
    or missing, no AE title, a bad --level, a missing peer, -o, --dest or
    --to) are named on one line before the synopsis, exit 2;
  - storescu: pydicom's test files and the synthetic CT/DR/US series in
    several transfer syntaxes (dcmcjpeg, dcmcjpls, dcmcrle, gdcmconv J2K):
    each stored instance equals what was sent (pydicom comparison) and keeps
    its transfer syntax and encapsulated pixel data byte for byte (never
    transcoded); `consort-node send` stores byte-identical data sets, and
    sends a file whose UIDs have VR UN under its real UIDs;
  - the index matches the files; `ls` lists them; a GB18030 name is UTF-8;
  - access control: a calling AE not in [access] store stores nothing;
  - bad input: a truncated file cut off mid-transfer and hostile bytes leave
    no temp file and the node answering;
  - 32 storescu processes at once all succeed;
  - SIGTERM stops it cleanly (exit 0), a restart does not re-index; after
    kill -9 the restart re-indexes and loses nothing.
"""

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# back to schema 2 as the release before made it: instances with a UNIQUE
# path, no forwarding or teaching tables
SCHEMA2_INSTANCES = """
BEGIN;
DROP TABLE teaching;
DROP TABLE deid_patients;
DROP TABLE deid_uids;
DROP TABLE queue;
DROP TABLE forward_stats;
ALTER TABLE studies DROP COLUMN origin_ae;
CREATE TABLE old(
  id INTEGER PRIMARY KEY,
  series INTEGER NOT NULL REFERENCES series(id),
  sop_uid TEXT NOT NULL UNIQUE,
  sop_class TEXT NOT NULL,
  instance_number INTEGER,
  transfer_syntax TEXT NOT NULL,
  rows INTEGER, columns INTEGER, frames INTEGER,
  path TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  received TEXT NOT NULL,
  calling_ae TEXT NOT NULL DEFAULT '',
  charset TEXT NOT NULL DEFAULT '');
INSERT INTO old SELECT * FROM instances;
DROP TABLE instances;
ALTER TABLE old RENAME TO instances;
CREATE INDEX instances_series ON instances(series);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
PRAGMA user_version = 2;
COMMIT;
"""
# every record is read both ways, the log says where they differ
CHECK = dict(os.environ, CONSORT_RECORD_CHECK="1")

# storescu proposes compressed syntaxes only when told which
STORESCU_PROPOSE = {
    "1.2.840.10008.1.2.2": "-xb", "1.2.840.10008.1.2.1.99": "-xd",
    "1.2.840.10008.1.2.4.50": "-xy", "1.2.840.10008.1.2.4.51": "-xx",
    "1.2.840.10008.1.2.4.70": "-xs", "1.2.840.10008.1.2.4.80": "-xt",
    "1.2.840.10008.1.2.4.81": "-xu", "1.2.840.10008.1.2.4.90": "-xv",
    "1.2.840.10008.1.2.4.91": "-xw", "1.2.840.10008.1.2.5": "-xr",
}


def send_cmd(node, port, paths, ts):
    """storescu where it can propose ts, else consort-node send."""
    if ts in STORESCU_PROPOSE or ts in ("1.2.840.10008.1.2",
                                        "1.2.840.10008.1.2.1"):
        opt = [STORESCU_PROPOSE[ts]] if ts in STORESCU_PROPOSE else []
        return ["storescu", "-R"] + opt + ["-aec", "CONSORT", "-aet", "STORESCU",
                                           "127.0.0.1", str(port)] + paths
    return [node, "send", "--no-progress", "--aet", "TESTSCU", "--to",
            "CONSORT@127.0.0.1:%d" % port] + paths


def ts_of(path):
    return str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)


def sop_uids(paths):
    out = {}
    for p in paths:
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
            out[p] = (str(ds.SOPInstanceUID), str(ds.SOPClassUID))
        except Exception:
            pass
    return out


def same_dataset(a, b):
    """pydicom element-wise equality of the data sets (not the meta)."""
    da, db = pydicom.dcmread(a, force=True), pydicom.dcmread(b, force=True)
    da.file_meta = None
    db.file_meta = None
    if da == db:
        return True
    for el in da:
        if el.tag not in db or db[el.tag].value != el.value:
            print("   differs at %s" % el.tag)
            return False
    return False


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    storage = os.path.join(work, "var")

    # ---- data ----
    syn = os.path.join(work, "syn")
    nl.gen_synthetic(syn, "--small")
    nl.run(["bash", os.path.join(HERE, "gen", "encode_variants.sh"), syn], check_rc=0)
    many = os.path.join(work, "many")
    nl.gen_many(many, "--count", "320", "--studies", "32")
    cn = os.path.join(work, "cn")
    nl.gen_many(cn, "--count", "3", "--studies", "1", "--seed", "7",
                "--name-gb18030")

    conf = ("[access]\nstore = STORESCU CONSORT TESTSCU GDCMSCU\n"
            "query = *\nretrieve = *\n")
    log = os.path.join(work, "node.log")
    srv = nl.node_server(node, storage, port, log, conf, env=CHECK).start()

    # ---- verification ----
    nl.run(["echoscu", "-aec", "CONSORT", "127.0.0.1", str(port)], check_rc=0)
    nl.check(True, "echoscu C-ECHO succeeds")
    rc, out = nl.run([node, "echo", "CONSORT@127.0.0.1:%d" % port])
    nl.check(rc == 0 and "ok" in out, "consort-node echo succeeds")
    rc, out = nl.run(["echoscu", "-aec", "NOTCONSORT", "127.0.0.1", str(port)])
    nl.check(rc != 0, "a wrong called AE title is rejected (echoscu exit %d)" % rc)

    # ---- a mistake on the command line is named on one line ----
    # (these printed only the usage text)
    named = []
    for args, want in (
            (["echo", "COUNTY@localhost:99999"],
             "echo: 'COUNTY@localhost:99999': port must be 1-65535"),
            (["echo", "COUNTY@localhost"], "echo: 'COUNTY@localhost': no port"),
            (["echo", "localhost:104"], "'localhost:104': no AE title"),
            (["echo", "ABCDEFGHIJKLMNOPQ@h:104"], "longer than 16 characters"),
            (["echo"], "echo: which peer?"),
            (["find", "AE@127.0.0.1:%d" % port, "--level", "FOO"],
             "find: --level 'FOO': must be PATIENT, STUDY, SERIES or IMAGE"),
            (["find", "AE@127.0.0.1:0"], "find: 'AE@127.0.0.1:0': port must be"),
            (["find"], "find: which peer?"),
            (["get", "AE@h:104", "-k", "StudyInstanceUID=1"], "get: into which "
             "folder? (-o DIR)"),
            (["move", "AE@h:104", "-k", "StudyInstanceUID=1"], "move: to which AE?"),
            (["move", "AE@h", "--dest", "X"], "move: 'AE@h': no port"),
            (["send", "x"], "send: where to? (--to AE@HOST:PORT)"),
            (["send", "x", "--to", "A@h:70000"], "send: 'A@h:70000': port must")):
        rc, out = nl.run([node] + args)
        lines = out.strip().splitlines()
        if not (rc == 2 and lines and want in lines[0] and
                lines[0].startswith("consort-node ") and len(lines) == 2 and
                lines[1].startswith("usage: ")):
            named.append("%s -> exit %d: %r" % (" ".join(args), rc, out[:300]))
    nl.check(not named, "13 usage mistakes (bad port, no port, no AE, long AE, "
             "bad level, missing peer/-o/--dest/--to) named on one line, then "
             "the synopsis, exit 2; wrong: %s" % named)

    # ---- a second node on the same storage folder is refused ----
    # (before its crash recovery: that would take the running node's
    # in-flight work back and mark the index cleanly shut down)
    rc, out = nl.run([node, "serve", "--storage", storage, "--port",
                      str(port + 2)], timeout=30)
    nl.check(rc == 1 and ("in use by another consort-node serve (pid %d)"
                          % srv.proc.pid) in out and "did not stop" not in out,
             "a second serve on the same storage exits 1 at once: %s"
             % out.strip()[-200:])
    rc, out = nl.run(["echoscu", "-aec", "CONSORT", "127.0.0.1", str(port)])
    nl.check(rc == 0, "the first node still answers")

    # ---- storescu: synthetic series in several transfer syntaxes ----
    enc = nl.files_under(os.path.join(syn, "enc"))
    enc = [p for p in enc if p.endswith(".dcm")]
    plain = [p for d in ("ct", "dr", "us", "us_ybr")
             for p in nl.files_under(os.path.join(syn, d))]
    # one storescu per folder (storescu proposes at most 128 contexts):
    # each file proposed in its own transfer syntax
    groups = {}
    for p in plain + enc:
        groups.setdefault(os.path.dirname(p), []).append(p)
    for d, ps in sorted(groups.items()):
        rc, out = nl.run(send_cmd(node, port, ps, ts_of(ps[0])))
        if rc != 0:
            nl.fail("storescu of %s exited %d:\n%s" % (d, rc, out[-2000:]))
    nl.check(True, "storescu (or send for process 14) sent %d synthetic files from %d folders" % (
        len(plain) + len(enc), len(groups)))
    uids = sop_uids(plain + enc)
    # encoded variants share SOP Instance UIDs with their source; the first
    # one sent is kept, later ones with other bytes are conflicts kept aside
    first = {}
    for p in plain + enc:
        if p in uids:
            first.setdefault(uids[p][0], p)
    bad = []
    for uid, p in first.items():
        stored = os.path.join(storage, nl.rel_path(uid))
        if not os.path.exists(stored) or not same_dataset(p, stored):
            bad.append(p)
    nl.check(not bad, "%d synthetic instances stored equal to what was sent %s" % (
        len(first), bad[:3]))
    rows = nl.index_rows(storage, "SELECT count(*) FROM instances")[0][0]
    nl.check(rows == len(first), "index holds %d instances (files %d)" % (
        rows, len(first)))
    conflicts = os.listdir(os.path.join(storage, "conflicts"))
    nl.check(len(conflicts) > 0, "re-encoded copies under known UIDs are kept "
             "aside in conflicts/ (%d), not overwritten" % len(conflicts))

    # compressed variants each in a fresh archive: syntax and fragments kept
    srv.stop()
    storage2 = os.path.join(work, "var2")
    srv = nl.node_server(node, storage2, port, log, conf, env=CHECK).start()
    kept = 0
    by_codec = {}
    for p in enc:
        by_codec.setdefault(os.path.basename(os.path.dirname(p)), p)
    for codec, p in sorted(by_codec.items()):
        rc, out = nl.run(send_cmd(node, port, [p], ts_of(p)))
        uid = uids[p][0]
        stored = os.path.join(storage2, nl.rel_path(uid))
        a = pydicom.dcmread(p)
        b = pydicom.dcmread(stored) if os.path.exists(stored) else None
        ok = (rc == 0 and b is not None and
              a.file_meta.TransferSyntaxUID == b.file_meta.TransferSyntaxUID and
              a.PixelData == b.PixelData)
        if not ok:
            nl.fail("%s (%s): stored transfer syntax or pixel data differ" % (
                codec, p))
        # then remove it so the next codec of the same instance is new
        os.unlink(stored)
        nl.index_exec(storage2, "DELETE FROM instances WHERE sop_uid = ?", (uid,))
        kept += 1
    nl.check(kept == len(by_codec), "%d encodings (%s) stored as received: same "
             "transfer syntax, same pixel bytes" % (kept, ", ".join(sorted(by_codec))))
    srv.stop()

    # ---- consort-node send: bit-preserving ----
    storage3 = os.path.join(work, "var3")
    srv = nl.node_server(node, storage3, port, log, conf, env=CHECK).start()
    rc, out = nl.run([node, "send", os.path.join(syn, "ct"), os.path.join(syn, "us"),
                      "--to", "CONSORT@127.0.0.1:%d" % port, "--no-progress"])
    nl.check(rc == 0 and " 0 failed" in out, "consort-node send of two folders "
             "(exit %d): %s" % (rc, out.strip().splitlines()[-1]))
    sent = nl.files_under(os.path.join(syn, "ct")) + nl.files_under(os.path.join(syn, "us"))
    ident = 0
    for p in sent:
        uid = uids[p][0]
        st = os.path.join(storage3, nl.rel_path(uid))
        if os.path.exists(st) and nl.dataset_bytes(st) == nl.dataset_bytes(p):
            ident += 1
    nl.check(ident == len(sent), "%d/%d data sets byte-identical after send" % (
        ident, len(sent)))

    # ---- pydicom corpus with storescu ----
    corpus = [p for p in nl.files_under(os.path.join(nl.PYDICOM_DATA, "test_files"))
              if p.endswith(".dcm")]
    cu = sop_uids(corpus)
    # uncompressed files with storescu (-nh: go on past the deliberately
    # broken files), the rest with consort-node send
    unc, comp = [], []
    for p in corpus:
        try:
            t = ts_of(p)
        except Exception:
            t = ""
        (unc if t in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1",
                      "1.2.840.10008.1.2.2", "") else comp).append(p)
    nl.run(["storescu", "-R", "-nh", "-aec", "CONSORT", "-aet", "STORESCU",
            "127.0.0.1", str(port)] + unc)
    nl.run([node, "send", "--no-progress", "--aet", "TESTSCU", "--to",
            "CONSORT@127.0.0.1:%d" % port] + comp)
    stored_ok = 0
    checked = set()
    for p, (uid, _) in cu.items():
        st = os.path.join(storage3, nl.rel_path(uid))
        if uid in checked or not os.path.exists(st):
            continue
        checked.add(uid)
        stored_ok += 1
    nl.check(stored_ok >= 0.85 * len(set(u for u, _ in cu.values())),
             "pydicom corpus: %d distinct instances stored of %d readable files" % (
                 stored_ok, len(cu)))
    # SOP Class and Instance UID stored with VR UN: send proposed the hex
    # DCMTK shows for UN bytes ("31\2e\32...") and failed the file with
    # "the peer accepted no context for SOP class 31"; now the C-STORE
    # names the real UIDs (this node then refuses the data set: its own
    # reading of UN-encoded UIDs is another matter)
    rtdose = os.path.join(nl.PYDICOM_DATA, "test_files", "rtdose_rle.dcm")
    at = os.path.getsize(log)
    rc, out = nl.run([node, "send", "--no-progress", "--to",
                      "CONSORT@127.0.0.1:%d" % port, rtdose])
    with open(log, "rb") as f:
        f.seek(at)
        seen = f.read().decode("utf-8", "replace")
    nl.check("SOP class 31" not in out and "sop=1.9.999.999.99.9.9999.9999."
             "20030818153516" in seen and "association rejected" not in seen,
             "rtdose_rle.dcm (UIDs with VR UN) goes as a C-STORE naming its "
             "real SOP Instance UID: %s" % out.strip().splitlines()[0][-80:])
    # and is kept: the node reads a known tag sent as UN with the
    # dictionary's VR (it refused it with 0x0117, its UIDs read as hex)
    got = nl.index_rows(storage3, "SELECT sop_class FROM instances WHERE sop_uid"
                        " = '1.9.999.999.99.9.9999.9999.20030818153516'")
    nl.check(rc == 0 and got == [("1.2.840.10008.5.1.4.1.1.481.2",)],
             "rtdose_rle.dcm is stored and indexed as RT Dose (send exit %d, "
             "index %s)" % (rc, got))
    rows = nl.index_rows(storage3, "SELECT path FROM instances")
    missing = [r[0] for r in rows if not os.path.exists(os.path.join(storage3, r[0]))]
    nl.check(not missing, "every indexed path exists (%d rows)" % len(rows))

    # ---- GB18030 name ----
    rc, out = nl.run(["storescu", "-aec", "CONSORT", "-aet", "STORESCU", "+sd",
                      "127.0.0.1", str(port), cn], check_rc=0)
    names = nl.index_rows(storage3, "SELECT name FROM patients WHERE patient_id"
                          " = 'CN000000'")
    want = pydicom.dcmread(os.path.join(cn, "000000.dcm")).PatientName
    nl.check(any(n[0] == str(want) for n in names),
             "GB18030 name stored as UTF-8: %r" % (names,))
    rc, out = nl.run([node, "ls", "--storage", storage3], check_rc=0)
    nl.check(str(want) in out, "consort-node ls shows it")

    # ---- access control ----
    before = nl.index_rows(storage3, "SELECT count(*) FROM instances")[0][0]
    rc, out = nl.run(["storescu", "-aec", "CONSORT", "-aet", "INTRUDER",
                      "127.0.0.1", str(port), os.path.join(many, "000000.dcm")])
    after = nl.index_rows(storage3, "SELECT count(*) FROM instances")[0][0]
    nl.check(rc != 0 and after == before, "calling AE INTRUDER may not store "
             "(storescu exit %d, %d -> %d)" % (rc, before, after))
    rc, out = nl.run(["echoscu", "-aec", "CONSORT", "-aet", "INTRUDER",
                      "127.0.0.1", str(port)])
    nl.check(rc == 0, "but may echo")

    # ---- bad input ----
    rc, out = nl.run([node, "send", os.path.join(nl.PYDICOM_DATA, "test_files",
                                                 "MR_truncated.dcm"),
                      "--to", "CONSORT@127.0.0.1:%d" % port, "--no-progress"])
    nl.check(rc == 1, "a truncated file fails to send (exit %d)" % rc)
    hostile = [os.urandom(65536),
               b"\x01\x00\xff\xff\xff\xf0" + os.urandom(100),  # A-ASSOC-RQ, 4 GB
               b"\x04\x00\x00\x00\x10\x00" + os.urandom(64)]   # P-DATA first
    for h in hostile:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            try:
                s.sendall(h)
                s.settimeout(3)
                s.recv(100)
            except OSError:
                pass
    time.sleep(0.5)
    rc, out = nl.run(["echoscu", "-aec", "CONSORT", "127.0.0.1", str(port)])
    nl.check(rc == 0, "after hostile bytes the node still answers C-ECHO")
    tmp = os.listdir(os.path.join(storage3, "tmp"))
    nl.check(tmp == [], "no temp file left after aborted transfers (%s)" % tmp)

    # ---- 32 associations at once ----
    files = nl.files_under(many)
    procs = []
    for k in range(32):
        part = files[k * 10:(k + 1) * 10]
        procs.append(subprocess.Popen(
            ["storescu", "-aec", "CONSORT", "-aet", "STORESCU", "127.0.0.1",
             str(port)] + part, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT, env=nl.PEER_ENV))
    rcs = [p.wait(timeout=300) for p in procs]
    mu = sop_uids(files)
    n = nl.index_rows(storage3, "SELECT count(*) FROM instances WHERE sop_uid IN (%s)"
                      % ",".join("'%s'" % u for u, _ in mu.values()))[0][0]
    nl.check(all(r == 0 for r in rcs) and n == 320,
             "32 parallel storescu associations: all succeeded, %d/320 indexed" % n)

    # ---- clean stop, restart, kill -9 ----
    t0 = time.time()
    rc = srv.stop()
    nl.check(rc == 0, "SIGTERM: exit status %s after %.1f s" % (rc, time.time() - t0))
    nl.check("stopped:" in srv.log_text(), "the log says it stopped")
    total = nl.index_rows(storage3, "SELECT count(*) FROM instances")[0][0]
    mark = len(srv.log_text())
    srv = nl.node_server(node, storage3, port, log, conf, env=CHECK).start()
    nl.check("did not stop cleanly" not in srv.log_text()[mark:],
             "restart after a clean stop does not re-index")
    srv.kill9()
    # a file placed but never indexed (as if the power failed between
    # rename and commit) must be picked up again
    extra = os.path.join(cn, "000001.dcm")
    uid = pydicom.dcmread(extra).SOPInstanceUID
    nl.index_exec(storage3, "DELETE FROM instances WHERE sop_uid = ?", (str(uid),))
    # and a file a power cut caught with only part of its data on disk: it
    # carries the size it was written with (sync = full), so it is set aside
    cut = os.path.join(many, "000005.dcm")
    cuid = str(pydicom.dcmread(cut, stop_before_pixels=True).SOPInstanceUID)
    cpath = os.path.join(storage3, nl.rel_path(cuid))
    marked = os.getxattr(cpath, "user.consort.size").decode() \
        if "user.consort.size" in os.listxattr(cpath) else None
    nl.index_exec(storage3, "DELETE FROM instances WHERE sop_uid = ?", (cuid,))
    with open(cpath, "r+b") as f:
        f.truncate(os.path.getsize(cpath) // 2)
    if marked is None:  # a file system without user xattrs: mark it here
        os.setxattr(cpath, "user.consort.size", str(os.path.getsize(cut)).encode())
    mark = len(open(log, "rb").read())
    srv = nl.node_server(node, storage3, port, log, conf, env=CHECK).start()
    text = srv.log_text()[mark:]
    after = nl.index_rows(storage3, "SELECT count(*) FROM instances")[0][0]
    nl.check("did not stop cleanly" in text and after == total - 1,
             "after kill -9 the restart re-indexes: %d instances (was %d, one "
             "cut short)" % (after, total))
    aside = [n for n in os.listdir(os.path.join(storage3, "conflicts"))
             if n.startswith("incomplete-")]
    nl.check(not os.path.exists(cpath) and len(aside) == 1 and marked is not None,
             "the file cut short (marked size %s) was set aside: %s" % (marked, aside))
    rc = srv.stop()
    ok = nl.index_rows(storage3, "PRAGMA integrity_check")[0][0]
    nl.check(rc == 0 and ok == "ok", "index integrity_check: %s" % ok)
    text = open(log, "rb").read().decode("utf-8", "replace")

    # ---- an index written by schema 2 (UNIQUE path) is migrated ----
    storage4 = os.path.join(work, "var-v2")
    shutil.copytree(storage3, storage4)
    db = sqlite3.connect(os.path.join(storage4, "index.sqlite"))
    db.executescript(SCHEMA2_INSTANCES)
    db.close()
    before = nl.index_rows(storage4, "SELECT count(*), sum(size) FROM instances")[0]
    log4 = os.path.join(work, "node-v2.log")
    srv = nl.node_server(node, storage4, port, log4, conf).start()
    rc = srv.stop()
    after = nl.index_rows(storage4, "SELECT count(*), sum(size) FROM instances")[0]
    ver = nl.index_rows(storage4, "PRAGMA user_version")[0][0]
    uniq = [r[1] for r in nl.index_rows(storage4, "PRAGMA index_list(instances)")
            if r[2]]
    tables = {r[0] for r in nl.index_rows(storage4, "SELECT name FROM sqlite_master"
                                           " WHERE type = 'table'")}
    # schema 6: a patient is its ID, issuer and demographics
    pkey = [[c[2] for c in nl.index_rows(storage4, "PRAGMA index_info('%s')" % r[1])]
            for r in nl.index_rows(storage4, "PRAGMA index_list(patients)") if r[2]]
    nl.check(rc == 0 and before == after and ver == 8 and len(uniq) == 1 and
             {"queue", "forward_stats", "teaching", "deid_uids"} <= tables and
             pkey == [["patient_id", "issuer", "name", "birth_date", "sex"]],
             "schema 2 index migrated to 8: %d instances kept, unique indexes "
             "left on instances: %s, forwarding and teaching tables made, "
             "patients keyed by %s" % (after[0], uniq, pkey))

    agree, full = text.count("fast path agrees"), text.count("full parse needed")
    nl.check("fast path differs" not in text and agree > 300,
             "index records read without DCMTK equal the full parse: %d agree, "
             "%d needed the full parse, 0 differ" % (agree, full))
    print("node_store: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
