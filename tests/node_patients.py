#!/usr/bin/python3
"""Patients at consort-node: who a study belongs to, as C-FIND tells it.

usage: node_patients.py CONSORT_NODE WORKDIR PORT

County sites number their patients on their own and seldom send an Issuer
of Patient ID, so one Patient ID is often two people. Studies made here
from pydicom's CT_small, stored with DCMTK storescu, queried with findscu:
- two people under one Patient ID: each study answers with its own
  patient's name and birth date; PATIENT level lists both; a wildcard on
  the second name finds its study;
- two patients without a Patient ID stay two patients;
- an index of schema 5, where such studies had been merged under the first
  name (rebuilt here as version 5 kept patients), is given each study's own
  patient back from its files when the node opens it, and migrated on to
  schema 7 (Person Name component groups, indexed) finds names as before;
- and that index, up to date, is listed and verified by a user who may
  only read it (nobody, when the test runs as root): nothing is written;
  queue retry and delete tell that user they may not change it.
"""

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

TF = "/usr/lib/python3/dist-packages/pydicom/data/test_files"

# (Patient ID, name, birth date): two people share 12345, two have no ID
PEOPLE = [("12345", "ZHAO^LEI", "19500101"),
          ("12345", "QIAN^FANG", "19820707"),
          ("", "EMERG^ONE", ""),
          ("", "EMERG^TWO", "")]


def make_studies(d):
    os.makedirs(d)
    out = []
    for i, (pid, name, birth) in enumerate(PEOPLE):
        ds = pydicom.dcmread(os.path.join(TF, "CT_small.dcm"))
        ds.PatientID, ds.PatientName, ds.PatientBirthDate = pid, name, birth
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyDate = "2026110%d" % (i + 1)
        ds.save_as(os.path.join(d, "p%d.dcm" % i))
        out.append(ds.StudyInstanceUID)
    return out


def findscu(port, keys, model="-S"):
    args = ["findscu", model, "-aec", "CONSORT", "-aet", "FINDSCU", "-X",
            "127.0.0.1", str(port)]
    for k in keys:
        args += ["-k", k]
    tmp = os.path.join(sys.argv[2], "rsp")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=nl.PEER_ENV, cwd=tmp, timeout=120)
    if p.returncode != 0:
        nl.check(False, "findscu %s: exit %d %s" % (keys, p.returncode,
                                                    p.stdout.decode()[-500:]))
        return []
    return [pydicom.dcmread(os.path.join(tmp, f))
            for f in sorted(os.listdir(tmp)) if f.startswith("rsp")]


def names_by_study(port, uids):
    rs = findscu(port, ["QueryRetrieveLevel=STUDY", "StudyInstanceUID=" +
                        "\\".join(uids), "PatientName", "PatientID",
                        "PatientBirthDate"])
    return {str(r.StudyInstanceUID): (str(r.PatientID), str(r.PatientName),
                                      str(r.PatientBirthDate)) for r in rs}


def check_own_names(port, uids, when):
    got = names_by_study(port, uids)
    for uid, want in zip(uids, PEOPLE):
        nl.check(got.get(uid) == want,
                 "%s: study of %s answers as %s" % (when, want, got.get(uid)))


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    storage = os.path.join(work, "var")
    uids = make_studies(os.path.join(work, "in"))
    srv = nl.node_server(node, storage, port, os.path.join(work, "node.log"))
    srv.start()
    nl.run(["storescu", "+sd", "-aec", "CONSORT", "127.0.0.1", str(port),
            os.path.join(work, "in")], check_rc=0)
    check_own_names(port, uids, "one Patient ID, two people")
    rs = findscu(port, ["QueryRetrieveLevel=PATIENT", "PatientID=12345",
                        "PatientName"], model="-P")
    nl.check(sorted(str(r.PatientName) for r in rs) == ["QIAN^FANG", "ZHAO^LEI"],
             "PATIENT level, ID 12345: %s" % [str(r.PatientName) for r in rs])
    rs = findscu(port, ["QueryRetrieveLevel=STUDY", "PatientName=QIAN*",
                        "StudyInstanceUID"])
    nl.check([str(r.StudyInstanceUID) for r in rs] == [uids[1]],
             "PatientName=QIAN* finds the second person's study (%d hits)"
             % len(rs))
    srv.stop()

    # the index as schema 5 kept it: one row per (ID, issuer), the first
    # name for all its studies
    db = sqlite3.connect(os.path.join(storage, "index.sqlite"))
    db.executescript("""
        PRAGMA foreign_keys = OFF;
        BEGIN;
        CREATE TABLE p5(id INTEGER PRIMARY KEY, patient_id TEXT NOT NULL,
          issuer TEXT NOT NULL DEFAULT '', name TEXT NOT NULL DEFAULT '',
          birth_date TEXT NOT NULL DEFAULT '', sex TEXT NOT NULL DEFAULT '',
          UNIQUE(patient_id, issuer));
        INSERT INTO p5 SELECT id, patient_id, issuer, name, birth_date, sex
          FROM patients p WHERE p.id = (SELECT min(q.id)
          FROM patients q WHERE q.patient_id = p.patient_id
          AND q.issuer = p.issuer);
        UPDATE studies SET patient = (SELECT p5.id FROM p5 JOIN patients p
          ON p.patient_id = p5.patient_id AND p.issuer = p5.issuer
          WHERE p.id = studies.patient);
        DROP TABLE patients;
        ALTER TABLE p5 RENAME TO patients;
        CREATE INDEX patients_name ON patients(name COLLATE NOCASE);
        PRAGMA user_version = 5;
        COMMIT;""")
    merged = db.execute("SELECT count(DISTINCT patient) FROM studies").fetchone()[0]
    db.close()
    nl.check(merged == 2, "schema 5 made here: 4 studies under %d patients" % merged)
    srv = nl.node_server(node, storage, port, os.path.join(work, "node2.log"))
    srv.start()
    check_own_names(port, uids, "after the migration from schema 5")
    # schema 7: Person Name component groups, indexed for the rows that
    # were there before (generated columns)
    rs = findscu(port, ["QueryRetrieveLevel=STUDY", "PatientName=qian*",
                        "StudyInstanceUID"])
    nl.check([str(r.StudyInstanceUID) for r in rs] == [uids[1]],
             "after the migration, PatientName=qian* finds the second "
             "person's study (%d hits)" % len(rs))
    version = nl.index_rows(storage, "PRAGMA user_version")[0][0]
    nl.check(version == 8, "schema after opening: %d" % version)
    idx = sorted(r[1] for r in nl.index_rows(storage,
                                             "PRAGMA index_list(patients)")
                 if r[1].startswith("patients_name"))
    nl.check(idx == ["patients_name_alpha", "patients_name_ideo",
                     "patients_name_phon"],
             "name indexes after the migration: %s" % idx)
    srv.stop()

    # read-only: a copy under /tmp that nobody may read but not write
    if os.getuid() == 0 and shutil.which("setpriv"):
        ro = tempfile.mkdtemp(prefix="consort-ro-")
        try:
            shutil.copytree(storage, os.path.join(ro, "var"))
            for root, dirs, files in os.walk(ro):
                for d in dirs:
                    os.chmod(os.path.join(root, d), 0o755)
                for f in files:
                    os.chmod(os.path.join(root, f), 0o644)
            os.chmod(ro, 0o755)
            before = os.stat(os.path.join(ro, "var", "index.sqlite")).st_mtime_ns
            for cmd in (["ls"], ["verify"], ["queue"]):
                rc, out = nl.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                                  "--clear-groups", node] + cmd +
                                 ["--storage", os.path.join(ro, "var")])
                nl.check(rc == 0, "%s as a user who may only read: exit %d %s"
                         % (cmd[0], rc, out.strip()[-200:]))
            # and one that would change it is told whose it is
            for cmd in (["queue", "retry", "--dead"],
                        ["delete", "--study", uids[0], "--yes"]):
                rc, out = nl.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                                  "--clear-groups", node] + cmd +
                                 ["--storage", os.path.join(ro, "var")])
                nl.check(rc == 1 and "may not be changed by this user" in out,
                         "%s as a user who may only read: exit %d, %s"
                         % (" ".join(cmd[:2]), rc, out.strip()[-160:]))
            after = os.stat(os.path.join(ro, "var", "index.sqlite")).st_mtime_ns
            nl.check(before == after, "the read-only user's commands left the "
                     "index as it was")
        finally:
            shutil.rmtree(ro, ignore_errors=True)
    else:
        print("skipped: the read-only user check needs root and setpriv")
    nl.finish("node_patients")


if __name__ == "__main__":
    main()
