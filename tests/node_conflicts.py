#!/usr/bin/python3
"""A study corrected at the modality and sent again with the same UIDs:
kept aside, listed with what differs, accepted by an operator.

usage: node_conflicts.py CONSORT_NODE WORKDIR PORT

Ports PORT..PORT+1 and 12050. A county node (forwarding to PROV, another
consort-node) receives a four-image study from DCMTK's storescu; PROV gets
it. The technician corrects the patient's name (Chinese, UTF-8) and ID and
sends the study again: storescu is told success, the county's archive
keeps the first copies and sets the new ones aside. Then, beside the
running node:
  - `conflicts` lists the four copies, each with the attributes that
    differ (the name, the ID, the character set) and the pixel values the
    same;
  - `conflicts accept --study UID` without --yes changes nothing;
  - with --yes the archive holds the corrected copies: DCMTK's findscu
    finds the study under the new name and ID and nothing under the old
    ID, getscu retrieves the corrected files, `verify --deep` agrees, the
    audit trail names the operator, the copies replaced are listed as
    such, and PROV receives the corrected copies, which it takes in place
    of its own (it trusts COUNTY with corrections: accept_corrections),
    audited;
  - accepting a replaced copy undoes one instance's change, byte for byte;
  - a copy that names another study, and an incomplete copy (a power cut's
    prefix), are refused with a reason and change nothing;
  - `conflicts drop --study` removes the study's kept files (not the
    archive's), each recorded in the audit trail;
  - after a power cut that kept an accept's swap of the files but lost
    its index commit (the index as it was before, the intent mark the
    accept committed to disk first), the node starts by taking the rows
    from the file in place: `verify --deep` agrees.
"""

import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402

NEW_NAME = "王^伟=WANG^WEI"
FS_CALLS = ("rename", "renameat", "renameat2", "link", "linkat")


def crash_sweep(node, work):
    """`conflicts accept --study --yes` killed (SIGKILL, by strace's fault
    injection) on entering each rename/link it makes, then run again to
    the end, as an operator would: the archive must hold the corrected
    copies, the index agree, and each first copy be kept as replaced-*.
    An accept killed after its index commit but before the copy replaced
    got its replaced-* name left that copy under its kept name, and the
    second run accepted it again: the archive went back to the old data."""
    if not shutil.which("strace"):
        print("skipped: crash sweep (no strace)")
        return
    base = os.path.join(work, "sweep")
    store0 = os.path.join(base, "store0")
    data, fixed = os.path.join(base, "first"), os.path.join(base, "fixed")
    nl.gen_many(data, "--count", "2", "--studies", "1", "--seed", "11")
    os.makedirs(fixed)
    first = {}
    for f in sorted(nl.files_under(data)):
        d = pydicom.dcmread(f)
        first[d.SOPInstanceUID] = nl.dataset_bytes(f)
        d.PatientID = "SWEEP-FIXED"
        d.save_as(os.path.join(fixed, os.path.basename(f)))
    study = d.StudyInstanceUID
    fixed_bytes = {pydicom.dcmread(f).SOPInstanceUID: nl.dataset_bytes(f)
                   for f in nl.files_under(fixed)}
    nl.run([node, "import", "--storage", store0, data], check_rc=0)
    nl.run([node, "import", "--storage", store0, fixed])
    nl.expect(len(os.listdir(os.path.join(store0, "conflicts"))) == 2,
              "sweep: two corrected copies kept aside")
    # a symbolic link put in conflicts/ by hand is no kept copy: accepted,
    # it was renamed into data/, the archive a link to a file elsewhere
    st = os.path.join(base, "symlink")
    shutil.copytree(store0, st)
    cdir = os.path.join(st, "conflicts")
    kept = sorted(os.listdir(cdir))
    os.rename(os.path.join(cdir, kept[0]), os.path.join(base, "outside.dcm"))
    os.symlink(os.path.join(base, "outside.dcm"), os.path.join(cdir, kept[0]))
    rc, out = nl.run([node, "conflicts", "accept", "conflicts/" + kept[0],
                      "--storage", st, "--yes"])
    links = [r for r, _, ns in os.walk(os.path.join(st, "data")) for n in ns
             if os.path.islink(os.path.join(r, n))]
    nl.expect(rc == 1 and "not a regular file" in out and not links and
              os.path.islink(os.path.join(cdir, kept[0])),
              "a symbolic link in conflicts/ is refused, nothing moves: %s"
              % out.strip()[:200])
    shutil.rmtree(st)
    bad, kills = [], 0
    for call in FS_CALLS:
        for n in range(1, 20):
            st = os.path.join(base, "%s-%d" % (call, n))
            shutil.copytree(store0, st)
            acc = [node, "conflicts", "accept", "--study", study, "--storage",
                   st, "--yes", "--user", "sweep"]
            rc, out = nl.run(["strace", "-f", "-qq", "-o", "/dev/null",
                              "-e", "trace=" + call, "-e",
                              "inject=%s:signal=SIGKILL:when=%d" % (call, n)]
                             + acc)
            killed = rc != 0
            kills += killed
            rc2, out2 = nl.run(acc)
            cdir = os.path.join(st, "conflicts")
            names = sorted(os.listdir(cdir))
            replaced = [nl.dataset_bytes(os.path.join(cdir, x)) for x in names
                        if x.startswith("replaced-")]
            ok_files = all(nl.dataset_bytes(os.path.join(st, nl.rel_path(u)))
                           == b for u, b in fixed_bytes.items())
            ids = nl.index_rows(st, "SELECT DISTINCT p.patient_id FROM studies"
                                    " st JOIN patients p ON p.id = st.patient")
            rc3, ver = nl.run([node, "verify", "--deep", "--storage", st])
            ok = (ok_files and ids == [("SWEEP-FIXED",)] and rc3 == 0 and
                  sorted(replaced) == sorted(first.values()) and
                  not [x for x in names if not x.startswith("replaced-")])
            if not ok:
                bad.append("killed at %s #%d (rc %d): archive corrected %s, "
                           "index %s, verify %d, conflicts/ %s; second run: %s"
                           % (call, n, rc, ok_files, ids, rc3, names,
                              out2.strip()[-300:]))
            shutil.rmtree(st)
            if not killed:
                break
    nl.expect(kills > 0 and not bad,
              "an accept killed at any of its %d renames/links and run again "
              "leaves the corrected copies archived and indexed, the first "
              "ones kept as replaced-*:\n%s" % (kills, "\n".join(bad)))


def conflicts(node, *args):
    return nl.run([node, "conflicts"] + list(args))


def find_study(port, level_keys):
    """(rc, output) of findscu at STUDY level with keys."""
    argv = ["findscu", "-S", "-aec", "COUNTY", "-aet", "READER", "127.0.0.1",
            str(port), "-k", "QueryRetrieveLevel=STUDY",
            "-k", "SpecificCharacterSet=ISO_IR 192"]
    for k in level_keys:
        argv += ["-k", k]
    return nl.run(argv)


def responses(out):
    return out.count("Find Response:") - out.count("(Success)")


def unbound_trust(node, work):
    """accept_corrections for a peer whose AE title is bound to no address
    and comes without TLS: anyone calling with that AE title could replace
    archived data. Such a correction is kept aside, and start-up warns."""
    port = 12050
    st, log = os.path.join(work, "unbound"), os.path.join(work, "unbound.log")
    srv = nl.node_server(node, st, port, log,
                         "[peer COUNTY]\nhost = 127.0.0.1\nport = 104\n"
                         "accept_corrections = yes\n", aet="UNBOUND").start()
    data, forged = os.path.join(work, "ub-first"), os.path.join(work, "ub-forged")
    nl.gen_many(data, "--count", "1", "--studies", "1", "--seed", "23")
    f = nl.files_under(data)[0]
    nl.run(["storescu", "-aec", "UNBOUND", "-aet", "CT1", "127.0.0.1",
            str(port), f], check_rc=0)
    d = pydicom.dcmread(f)
    d.PatientID = "FORGED"
    os.makedirs(forged)
    g = os.path.join(forged, "x.dcm")
    d.save_as(g)
    rc, out = nl.run(["storescu", "-aec", "UNBOUND", "-aet", "COUNTY",
                      "127.0.0.1", str(port), g])
    arch = pydicom.dcmread(os.path.join(st, nl.rel_path(d.SOPInstanceUID)))
    ids = nl.index_rows(st, "SELECT patient_id FROM patients")
    cdir = os.path.join(st, "conflicts")
    kept = os.listdir(cdir) if os.path.isdir(cdir) else []
    text = srv.log_text()
    nl.expect(rc == 0 and arch.PatientID != "FORGED" and ids != [("FORGED",)]
              and len(kept) == 1 and not kept[0].startswith("replaced-") and
              "correction kept aside, not accepted" in text,
              "a copy from a caller named as a trusted but unbound peer, "
              "without TLS, is kept aside, not accepted (archive %s, index "
              "%s, conflicts/ %s)" % (arch.PatientID, ids, kept))
    nl.expect("[peer COUNTY] accept_corrections: its AE title is bound to no "
              "address" in text, "start-up warns that the peer is bound to "
              "no address")
    nl.expect(srv.stop() == 0, "unbound node stopped cleanly")


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    crash_sweep(node, work)
    p_county, p_prov = port, port + 1
    c_store, p_store = os.path.join(work, "county"), os.path.join(work, "prov")
    c_log, p_log = os.path.join(work, "county.log"), os.path.join(work, "prov.log")
    unbound_trust(node, work)
    prov = nl.node_server(node, p_store, p_prov, p_log,
                          "[access]\nbind_peers = yes\n"
                          "[peer COUNTY]\nhost = 127.0.0.1\nport = %d\n"
                          "accept_corrections = yes\n" % p_county,
                          aet="PROV", sync="normal").start()
    c_conf = "upstream = PROV\n[peer PROV]\nhost = 127.0.0.1\nport = %d\n" % p_prov
    county = nl.node_server(node, c_store, p_county, c_log, c_conf,
                            aet="COUNTY").start()
    conf = c_log + ".conf"
    data = os.path.join(work, "first")
    nl.gen_many(data, "--count", "4", "--studies", "1", "--seed", "7")
    files = sorted(nl.files_under(data))
    first = {pydicom.dcmread(f).SOPInstanceUID: f for f in files}
    ds0 = pydicom.dcmread(files[0])
    study, old_id = ds0.StudyInstanceUID, ds0.PatientID
    nl.run(["storescu", "-aec", "COUNTY", "-aet", "CT1", "+sd", "+r",
            "127.0.0.1", str(p_county), data], check_rc=0)

    def prov_count():
        return nl.index_rows(p_store, "SELECT count(*) FROM instances")[0][0]
    t0 = time.time()
    while prov_count() < 4 and time.time() - t0 < 30:
        time.sleep(0.2)
    nl.expect(prov_count() == 4, "PROV received the study (%d of 4)" % prov_count())

    # the technician's correction, sent again under the same UIDs
    fixed = os.path.join(work, "fixed")
    os.makedirs(fixed)
    for uid, f in first.items():
        d = pydicom.dcmread(f)
        d.SpecificCharacterSet = "ISO_IR 192"
        d.PatientName = NEW_NAME
        d.PatientID = "FIXED-1"
        d.save_as(os.path.join(fixed, os.path.basename(f)))
    rc, out = nl.run(["storescu", "-aec", "COUNTY", "-aet", "CT1", "+sd", "+r",
                      "127.0.0.1", str(p_county), fixed])
    cdir = os.path.join(c_store, "conflicts")
    kept = sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []
    nl.expect(rc == 0 and len(kept) == 4,
              "the corrected study sent again: storescu told success (rc %d), "
              "4 copies set aside (%d)" % (rc, len(kept)))
    nl.expect(all(nl.dataset_bytes(os.path.join(c_store, nl.rel_path(u))) ==
                  nl.dataset_bytes(f) for u, f in first.items()),
              "the archive still holds the first copies")

    # ---- the list ----
    rc, out = conflicts(node, "--storage", c_store)
    nl.expect(rc == 0 and out.count("a copy with other content") == 4 and
              out.count('PatientName (0010,0010): "%s" here' % NEW_NAME) == 4 and
              out.count('PatientID (0010,0020): "FIXED-1" here, "%s" archived'
                        % old_id) == 4 and
              out.count("pixel data: the same values") == 4 and
              "4 copy(ies) with other content, 0 incomplete" in out,
              "conflicts lists the four copies, each with the name and ID "
              "that differ and the same pixel values:\n%s" % out[:900])

    # ---- accept: first without --yes ----
    before = nl.index_rows(c_store, "SELECT p.patient_id, p.name FROM studies st"
                                    " JOIN patients p ON p.id = st.patient")
    rc, out = conflicts(node, "accept", "--study", study, "--config", conf)
    nl.expect(rc == 0 and "run again with --yes" in out and
              sorted(os.listdir(cdir)) == kept and
              nl.index_rows(c_store, "SELECT p.patient_id, p.name FROM studies st"
                                     " JOIN patients p ON p.id = st.patient") == before,
              "accept without --yes shows what would change and changes nothing")
    # one copy of the four asked for: the operator is told the study's
    # other three are still aside, and how to take them all
    rc, out = conflicts(node, "accept", "conflicts/" + kept[0], "--config", conf)
    nl.expect(rc == 0 and "note: 3 more kept copies of study %s are aside" % study in out
              and "accept --study %s" % study in out,
              "accepting one copy of a study says the other 3 are still aside: %s"
              % [ln for ln in out.splitlines() if ln.startswith("note")])

    # ---- accept with --yes, beside the running node ----
    rc, out = conflicts(node, "accept", "--study", study, "--config", conf,
                        "--yes", "--user", "tech.li")
    nl.expect(rc == 0 and out.count("accepted conflicts/") == 4 and
              out.count("queued for the peers again") == 4,
              "accept --study --yes: four copies accepted, queued again:\n%s"
              % out[-600:])
    nl.expect(all(pydicom.dcmread(os.path.join(c_store, nl.rel_path(u))).PatientID
                  == "FIXED-1" for u in first),
              "the archive's files are the corrected copies")
    rc, out = find_study(p_county, ["PatientID=FIXED-1", "PatientName",
                                    "StudyInstanceUID",
                                    "NumberOfStudyRelatedInstances"])
    nl.expect(rc == 0 and responses(out) == 1 and "WANG^WEI" in out and
              "王" in out and re.search(r"\(0020,1208\) IS \[4 ?\]", out),
              "findscu finds the study under the new ID and name with its "
              "4 instances:\n%s" % out[-900:])
    rc, out = find_study(p_county, ["PatientID=%s" % old_id, "StudyInstanceUID"])
    nl.expect(rc == 0 and responses(out) == 0,
              "nothing is found under the old ID any more")
    got = os.path.join(work, "got")
    os.makedirs(got)
    rc, out = nl.run(["getscu", "-aec", "COUNTY", "-aet", "READER", "-S",
                      "-k", "QueryRetrieveLevel=STUDY", "-k",
                      "StudyInstanceUID=%s" % study, "-od", got,
                      "127.0.0.1", str(p_county)])
    names = [str(pydicom.dcmread(f).PatientName) for f in nl.files_under(got)]
    nl.expect(rc == 0 and names == [NEW_NAME] * 4,
              "getscu retrieves the 4 corrected instances: %s" % names)
    rc, out = nl.run([node, "verify", "--deep", "--storage", c_store])
    nl.expect(rc == 0 and "the archive and its index agree" in out,
              "verify --deep: the archive and its index agree:\n%s" % out)
    rc, out = conflicts(node, "--storage", c_store)
    nl.expect(out.count("the archived copy an accept replaced") == 4 and
              "0 copy(ies) with other content, 0 incomplete, 4 replaced" in out,
              "the copies replaced are listed as such")
    rc, out = nl.run([node, "audit", "--storage", c_store, "--config", conf,
                      "--event", "update", "--json"])
    nl.expect(out.count('"user":"tech.li"') == 4 and out.count("110103") == 4,
              "the audit trail has four updates (110103) by tech.li")
    # PROV trusts COUNTY with corrections: they take the archived copies'
    # place there too, the first copies kept aside as replaced
    t0 = time.time()
    pc = os.path.join(p_store, "conflicts")
    while time.time() - t0 < 30 and len(os.listdir(pc) if os.path.isdir(pc) else []) < 4:
        time.sleep(0.2)
    time.sleep(0.5)
    kept_p = sorted(os.listdir(pc)) if os.path.isdir(pc) else []
    ids = [str(pydicom.dcmread(os.path.join(p_store, nl.rel_path(u))).PatientID)
           for u in first]
    rows = nl.index_rows(p_store, "SELECT DISTINCT p.patient_id, p.name FROM"
                                  " studies st JOIN patients p ON p.id = st.patient")
    rc, aud = nl.run([node, "audit", "--config", p_log + ".conf", "--event", "update",
                      "--json"])
    nl.expect(len(kept_p) == 4 and all(k.startswith("replaced-") for k in kept_p) and
              ids == ["FIXED-1"] * 4 and rows == [("FIXED-1", NEW_NAME)] and
              aud.count('"ae":"COUNTY"') == 4,
              "PROV (accept_corrections = yes for COUNTY) took the corrected "
              "copies in place of its own, kept the first ones as replaced "
              "(%s), indexed the new patient %s, audited 4 updates from COUNTY"
              % (kept_p[:1], rows))
    rc, out = nl.run([node, "verify", "--deep", "--config", p_log + ".conf"])
    nl.expect(rc == 0 and "the archive and its index agree" in out,
              "verify --deep at PROV: the archive and its index agree")

    # ---- undo one: accept the copy it replaced ----
    uid0 = sorted(first)[0]
    rc, out = conflicts(node, "--storage", c_store)
    rep = [ln for ln in out.splitlines() if ln.startswith("conflicts/replaced-") and
           nl.rel_path(uid0).split("/")[-1][:-4] in ln]
    rc, out = conflicts(node, "accept", rep[0] if rep else "none", "--storage",
                        c_store, "--yes")
    nl.expect(rc == 0 and nl.dataset_bytes(os.path.join(c_store, nl.rel_path(uid0)))
              == nl.dataset_bytes(first[uid0]),
              "accepting the replaced copy puts the first one back, byte for "
              "byte")

    # ---- refused: another study, an incomplete copy ----
    other = os.path.join(work, "other.dcm")
    d = pydicom.dcmread(first[uid0])
    d.StudyInstanceUID = pydicom.uid.generate_uid()
    d.save_as(other)
    nl.run([node, "import", "--storage", c_store, other])
    rc, out = conflicts(node, "--storage", c_store)
    mine = [ln for ln in out.splitlines() if ln.startswith("conflicts/") and
            "replaced-" not in ln]
    state = sorted(os.listdir(cdir)), nl.dataset_bytes(
        os.path.join(c_store, nl.rel_path(uid0)))
    rc, out = conflicts(node, "accept", mine[0] if mine else "none",
                        "--storage", c_store, "--yes")
    nl.expect(rc == 1 and "belongs to study" in out and
              (sorted(os.listdir(cdir)), nl.dataset_bytes(
                  os.path.join(c_store, nl.rel_path(uid0)))) == state,
              "a copy that names another study is refused and nothing moves: %s"
              % out.strip()[:300])
    inc = os.path.join(cdir, "incomplete-%s-1700000000000000000.dcm"
                       % nl.rel_path(uid0).split("/")[-1][:-4])
    with open(first[uid0], "rb") as f:
        head = f.read(700)
    with open(inc, "wb") as f:
        f.write(head)
    rc, out = conflicts(node, "accept", os.path.basename(inc), "--storage",
                        c_store, "--yes")
    nl.expect(rc == 1 and "never acknowledged" in out and os.path.exists(inc),
              "an incomplete copy is refused: %s" % out.strip()[:200])
    rc, out = conflicts(node, "accept", "--storage", c_store)
    nl.expect(rc == 2 and "accept needs FILE" in out, "accept without a file: "
              "usage, exit 2")
    rc, out = conflicts(node, "accept", "conflicts/nosuch.dcm", "--storage", c_store)
    nl.expect(rc == 1 and "is not in" in out, "a file that is not kept aside "
              "is named: %s" % out.strip()[:200])

    # ---- drop: what is no longer needed goes, recorded ----
    before = sorted(os.listdir(cdir))
    rc, out = conflicts(node, "drop", "--study", study, "--storage", c_store)
    nl.expect(rc == 0 and "run again with --yes" in out and
              sorted(os.listdir(cdir)) == before,
              "drop without --yes removes nothing")
    rc, out = conflicts(node, "drop", "--study", study, os.path.basename(inc),
                        "--storage", c_store, "--yes", "--user", "tech.li")
    left = os.listdir(cdir)
    rc2, aud = nl.run([node, "audit", "--storage", c_store, "--event", "delete",
                       "--json"])
    nl.expect(rc == 0 and left == [os.path.basename(mine[0])] and
              out.count("dropped conflicts/") == len(before) - 1 and
              aud.count("dropped conflicts/") == len(before) - 1,
              "drop --study (and the incomplete file by name) --yes removes "
              "the study's %d kept files, each in the audit trail; the other "
              "study's copy stays: %s" % (len(before) - 1, left))
    nl.expect(all(os.path.exists(os.path.join(c_store, nl.rel_path(u)))
                  for u in first), "the archived instances stay")

    # ---- a power cut after an accept: the swap of the files survives, the
    # index commit (synchronous = NORMAL, not checkpointed) does not; the
    # intent mark committed to disk before the swap does ----
    nl.expect(county.stop() == 0, "county stopped cleanly")
    uid1 = sorted(first)[1]
    d = pydicom.dcmread(first[uid1])
    d.PatientID = "POWERCUT"
    cut = os.path.join(work, "powercut.dcm")
    d.save_as(cut)
    nl.run([node, "import", "--storage", c_store, cut])
    index = os.path.join(c_store, "index.sqlite")
    shutil.copy(index, index + ".before")
    mine = [f for f in os.listdir(cdir) if not f.startswith("replaced-") and
            pydicom.dcmread(os.path.join(cdir, f)).PatientID == "POWERCUT"]
    rc, out = conflicts(node, "accept", mine[0] if mine else "none", "--storage",
                        c_store, "--yes")
    nl.expect(rc == 0, "the POWERCUT copy accepted: %s" % out.strip()[:200])
    m = re.search(r"the copy it replaced is (conflicts/replaced-\S+\.dcm)", out)
    mark = ("accepting:" + m.group(1), uid1) if m else ("none", "none")
    for ext in ("", "-wal", "-shm"):
        if os.path.exists(index + ext):
            os.unlink(index + ext)
    shutil.copy(index + ".before", index)
    nl.index_exec(c_store, "INSERT INTO meta(key, value) VALUES(?, ?)", mark)
    nl.index_exec(c_store, "UPDATE meta SET value = '0' WHERE key = 'clean_shutdown'")
    county = nl.node_server(node, c_store, p_county, c_log, c_conf,
                            aet="COUNTY").start()
    rows = nl.index_rows(c_store, "SELECT p.patient_id, i.size FROM instances i"
                                  " JOIN series se ON se.id = i.series JOIN studies st"
                                  " ON st.id = se.study JOIN patients p"
                                  " ON p.id = st.patient WHERE i.sop_uid = ?", (uid1,))
    size = os.path.getsize(os.path.join(c_store, nl.rel_path(uid1)))
    marks = nl.index_rows(c_store, "SELECT count(*) FROM meta WHERE key GLOB 'accepting:*'")
    nl.expect(rows == [("POWERCUT", size)] and marks == [(0,)] and
              "cut short" in county.log_text(),
              "after the power cut the node takes the rows from the file in "
              "place (%s, file %d bytes), and the mark goes (%s)" % (rows, size, marks))
    rc, out = nl.run([node, "verify", "--deep", "--storage", c_store])
    nl.expect(rc == 0 and "the archive and its index agree" in out,
              "verify --deep agrees after the recovery")

    for s in (county, prov):
        if s.stop() != 0:
            nl.expect(False, "%s stopped cleanly" % s.log_path)
    nl.finish("node_conflicts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
