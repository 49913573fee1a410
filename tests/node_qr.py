#!/usr/bin/python3
"""consort-node serve as a Query/Retrieve SCP, tested with DCMTK findscu,
movescu, getscu and GDCM gdcmscu, plus consort-node's own find/get/move.

usage: node_qr.py CONSORT_NODE WORKDIR PORT GET_CANCEL  (uses PORT..PORT+3)

Loads 200 synthetic instances (20 studies of 20 patients) and a GB18030
study, then checks hit counts against the generated metadata for each
level and matching kind (single value, PN wildcard, ? wildcard, date
range, UID list, universal, Modalities in Study), Person Names matched by
component group ("Zhang^San=张^三" found by "张*", "Zhang^San", "=张*" and
both groups, not by the groups of two people), date and time ranges,
open or closed, and single times ("000000") that leave out a study
without a date or time, 0xFF01 for matches of a
query with keys the node neither matches nor returns, a GB18030
C-FIND with the same name (answered in GB18030), one whose bytes are not
valid in its character set (0xC000), C-CANCEL, C-MOVE and
C-GET with the retrieved data sets byte-identical to what was sent, the
Failed SOP Instance UID List of final C-MOVE/C-GET responses (a storescp
that takes only CT, one that refuses the association, getscu offering no
Extensible SR context), an unknown move destination (0xA801), C-MOVE and
C-GET identifiers without the unique key of their level (0xA900) and
with other keys (ignored), consort-node get and move interrupted by SIGINT over
a 20 kB/s relay, a C-GET cancelled at a pending response while the node
is into the next sub-operation (GET_CANCEL, tests/get_cancel.c), and
gdcmscu as an independent SCU.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian  # noqa: E402

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
EXTENSIBLE_SR = "1.2.840.10008.5.1.4.1.1.88.35"  # getscu offers no context

HERE = os.path.dirname(os.path.abspath(__file__))


def findscu(port, keys, model="-S", extra=(), cwd=None):
    args = ["findscu", "-v", model, "-aec", "CONSORT", "-aet", "FINDSCU"] + list(extra)
    args += ["127.0.0.1", str(port)]
    for k in keys:
        args += ["-k", k]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=nl.PEER_ENV, cwd=cwd, timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    return p.returncode, out, len(re.findall(r"Find Response: \d+ \(Pending\)", out))


def write_instance(path, patient_id, name, study, series, sop, cls=CT_IMAGE,
                   modality="CT", date="20240101", time="101010",
                   birth=None, charset=None):
    """A small Part-10 instance with the keys these checks match on."""
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.PatientName, ds.PatientID = name, patient_id
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.SOPInstanceUID, ds.SOPClassUID = sop, cls
    ds.StudyDate, ds.StudyTime, ds.Modality = date, time, modality
    if birth is not None:
        ds.PatientBirthDate = birth
    ds.SeriesNumber, ds.InstanceNumber = 1, int(sop.rsplit(".", 1)[1])
    if cls == CT_IMAGE:
        ds.Rows = ds.Columns = 2
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation, ds.PixelData = 0, b"\0" * 8
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = cls
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    fd = FileDataset(path, ds, file_meta=ds.file_meta, preamble=b"\0" * 128)
    fd.is_little_endian, fd.is_implicit_VR = True, False
    fd.save_as(path, write_like_original=False)


def pn_groups(port, work):
    """Person Name component groups: "Zhang^San=张^三" is found by either
    group or both (a query without '=' matches any group, one with '='
    group by group)."""
    d = os.path.join(work, "pn")
    os.makedirs(d)
    names = {"PN0001": "Zhang^San=张^三", "PN0002": "Li^Si=李^四",
             "PN0003": "=张^伟"}  # ideographic only
    for k, (pid, name) in enumerate(sorted(names.items())):
        base = "1.2.826.0.1.3680043.8.498.7701.%d" % (k + 1)
        write_instance(os.path.join(d, "%d.dcm" % k), pid, name, base,
                       base + ".1", base + ".1.1", charset="GB18030")
    nl.run(["storescu", "-aec", "CONSORT", "+sd", "127.0.0.1", str(port), d],
           check_rc=0)
    for value, level, want in [
            ("张*", "STUDY", ["PN0001", "PN0003"]),  # ideographic prefix
            ("张^三", "STUDY", ["PN0001"]),           # ideographic, exact
            ("Zhang^San", "STUDY", ["PN0001"]),      # alphabetic, exact
            ("zhang^san", "STUDY", ["PN0001"]),      # ... any case
            ("*San", "STUDY", ["PN0001"]),           # alphabetic suffix
            ("Zhang^San=张^三", "STUDY", ["PN0001"]),  # both groups
            ("Zh*=张*", "STUDY", ["PN0001"]),
            ("=张*", "STUDY", ["PN0001", "PN0003"]),   # ideographic group only
            ("Li*=张*", "STUDY", []),                # groups of two people
            ("Zhang^San=李^四", "STUDY", []),
            ("李^四", "PATIENT", ["PN0002"]),
            ("Zhang*", "PATIENT", ["PN0001"])]:
        rc, out, n = findscu(port, ["QueryRetrieveLevel=" + level,
                                    "SpecificCharacterSet=ISO_IR 192",
                                    "PatientName=" + value, "PatientID=PN*"],
                             model="-P" if level == "PATIENT" else "-S")
        got = sorted(re.findall(r"\(0010,0020\) LO \[(PN\d+)", out))
        nl.check(rc == 0 and got == want,
                 "C-FIND %s PatientName=%s: %s (expected %s)" % (
                     level, value, got, want))


def empty_dates(port, work):
    """A study without a date (or time, or birth date) is in no range:
    "-20301231" leaves it out as "19000101-20301231" does."""
    d = os.path.join(work, "nodate")
    os.makedirs(d)
    for k, (pid, date, time_, birth) in enumerate([
            ("ND0001", "", "", ""), ("ND0002", "20200101", "101010", "19800101")]):
        base = "1.2.826.0.1.3680043.8.498.7702.%d" % (k + 1)
        write_instance(os.path.join(d, "%d.dcm" % k), pid, "NODATE^%d" % k,
                       base, base + ".1", base + ".1.1", date=date,
                       time=time_, birth=birth)
    nl.run(["storescu", "-aec", "CONSORT", "+sd", "127.0.0.1", str(port), d],
           check_rc=0)
    for key in ["StudyDate=-20301231", "StudyDate=19000101-20301231",
                "StudyDate=19000101-", "StudyTime=-235959",
                "StudyTime=000000-235959", "StudyTime=0000-",
                "PatientBirthDate=-20301231"]:
        rc, out, n = findscu(port, ["QueryRetrieveLevel=STUDY", key,
                                    "PatientID=ND*"])
        got = sorted(re.findall(r"\(0010,0020\) LO \[(ND\d+)", out))
        nl.check(rc == 0 and got == ["ND0002"],
                 "C-FIND %s: %s (the study without one is in no range)" % (
                     key, got))
    # nor does a single time: an empty Study Time is no time, not midnight
    # (the time is compared padded to hhmmss, and "" padded was "000000")
    for key in ["StudyTime=000000", "StudyTime=0000", "StudyTime=00"]:
        rc, out, n = findscu(port, ["QueryRetrieveLevel=STUDY", key,
                                    "PatientID=ND*"])
        got = sorted(re.findall(r"\(0010,0020\) LO \[(ND\d+)", out))
        nl.check(rc == 0 and got == [],
                 "C-FIND %s: %s (the study without a time is not at "
                 "midnight)" % (key, got))
    rc, out, n = findscu(port, ["QueryRetrieveLevel=STUDY",
                                "StudyTime=101010", "PatientID=ND*"])
    got = sorted(re.findall(r"\(0010,0020\) LO \[(ND\d+)", out))
    nl.check(rc == 0 and got == ["ND0002"], "C-FIND StudyTime=101010: %s" % got)
    # without a range, the study without a date is still found
    rc, out, n = findscu(port, ["QueryRetrieveLevel=STUDY", "StudyDate",
                                "PatientID=ND*"])
    nl.check(rc == 0 and n == 2, "C-FIND StudyDate universal: %d of 2" % n)


def retrieve_keys(port, move_port, work, study, sops):
    """A C-MOVE or C-GET names what it retrieves by the unique keys of its
    level (PS3.4 C.4.2.2.1, C.4.3.2.1): without the level's own unique key
    (absent, empty, "*"), or with a wildcard Patient ID, it is refused
    with 0xA900 instead of sending the whole archive; keys that are not
    unique keys (a name, a modality) do not narrow what is sent."""
    for what, keys in [
            ("no Study Instance UID", ["QueryRetrieveLevel=STUDY"]),
            ("an empty Study Instance UID", ["QueryRetrieveLevel=STUDY",
                                            "StudyInstanceUID"]),
            ("Study Instance UID *", ["QueryRetrieveLevel=STUDY",
                                      "StudyInstanceUID=*"]),
            ("a Patient ID at the SERIES level",
             ["QueryRetrieveLevel=SERIES", "PatientID=P000005"]),
            ("a wildcard Patient ID (Patient Root)",
             ["QueryRetrieveLevel=PATIENT", "PatientID=P*"])]:
        model = "-P" if "PATIENT" in keys[0] else "-S"
        for tool, extra in [("movescu", ["--move", "MOVESCU"]),
                            ("getscu", ["-od", os.path.join(work, "g0")])]:
            os.makedirs(os.path.join(work, "g0"), exist_ok=True)
            argv = [tool, "-v", model, "-aec", "CONSORT", "-aet",
                    "MOVESCU"] + extra + ["127.0.0.1", str(port)]
            for k in keys:
                argv += ["-k", k]
            rc, out = nl.run(argv)
            got = len(os.listdir(os.path.join(work, "g0")))
            nl.check(re.search(r"(Final Move|C-GET) Response \(Error: "
                               r"DataSetDoesNotMatchSOPClass\)", out)
                     is not None and got == 0,
                     "%s with %s is refused (0xA900), nothing sent" % (
                         tool, what))
    mdir = os.path.join(work, "moved-unique")
    os.makedirs(mdir)
    rc, out = nl.run(["movescu", "-S", "-aec", "CONSORT", "-aet", "MOVESCU",
                      "+P", str(move_port), "-od", mdir, "127.0.0.1",
                      str(port), "-k", "QueryRetrieveLevel=STUDY", "-k",
                      "StudyInstanceUID=" + study, "-k", "PatientName=NOBODY",
                      "-k", "Modality=XX"])
    got = sorted(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID
                 for f in nl.files_under(mdir))
    nl.check(rc == 0 and got == sops,
             "C-MOVE of a study with other keys (name, modality) sends the "
             "whole study: %d of %d" % (len(got), len(sops)))


def unsupported_keys(port, study):
    """A match is answered 0xFF01 ("one or more Optional Keys were not
    supported for existence and/or matching", PS3.4 Table C.4-1), not
    0xFF00, when the query has a key the node returns empty whatever the
    instances hold, a value for a key it returns but does not match, or a
    key below the query level (neither matched nor returned)."""
    for extra, warn in [([], False),
                        (["SOPClassesInStudy", "NumberOfStudyRelatedInstances",
                          "RetrieveAETitle"], False),
                        (["InstanceAvailability"], False),
                        (["InstanceAvailability=ONLINE"], False),
                        (["InstanceAvailability=NEARLINE"], True),
                        (["InstitutionName"], True),
                        (["SOPClassesInStudy=" + CT_IMAGE], True),
                        (["NumberOfStudyRelatedInstances=1"], True),
                        (["Modality=MR"], True),
                        (["SOPInstanceUID"], True)]:
        rc, out, n = findscu(port, ["QueryRetrieveLevel=STUDY",
                                    "StudyInstanceUID=" + study,
                                    "PatientID"] + extra)
        st = re.findall(r"Find Response: \d+ \(([^)]*)\)", out)
        want = "Pending: WarningUnsupportedOptionalKeys" if warn else "Pending"
        nl.check(rc == 0 and st == [want],
                 "C-FIND with %s: %s (expected %s)" % (
                     extra or "supported keys", st, want))
        if extra and extra[0].startswith("InstanceAvailability"):
            got = re.findall(r"\(0008,0056\) CS \[([^\]]*)\]",
                             out.split("Find Response")[1])
            nl.check([g.strip() for g in got] == ["ONLINE"],
                     "Instance Availability is ONLINE: %s" % got)


def modalities_in_study(port, work):
    """Modalities in Study holds the distinct Modality values of the
    study's series: a series without a Modality adds no empty value."""
    d = os.path.join(work, "nomod")
    os.makedirs(d)
    base = "1.2.826.0.1.3680043.8.498.7704.1"
    for k, mod in enumerate(["", "CT", "CT"]):
        write_instance(os.path.join(d, "%d.dcm" % k), "MS0001", "NO^MODALITY",
                       base, base + ".%d" % (k + 1), base + ".%d.1" % (k + 1),
                       modality=mod)
    nl.run(["storescu", "-aec", "CONSORT", "+sd", "127.0.0.1", str(port), d],
           check_rc=0)
    rc, out, n = findscu(port, ["QueryRetrieveLevel=STUDY",
                                "StudyInstanceUID=" + base,
                                "ModalitiesInStudy"])
    got = re.findall(r"\(0008,0061\) CS \[([^\]]*)\]", out)
    nl.check(rc == 0 and n == 1 and [g.strip() for g in got] == ["CT"],
             "Modalities in Study of a study with a series without Modality: "
             "%s (expected CT)" % got)
    # Series Number is an IS, a number: "01" is 1; IS has no wildcards
    for value, want in [("1", 3), ("01", 3), ("2", 0), ("1*", 0)]:
        rc, out, n = findscu(port, ["QueryRetrieveLevel=SERIES",
                                    "StudyInstanceUID=" + base,
                                    "SeriesInstanceUID",
                                    "SeriesNumber=" + value])
        nl.check(rc == 0 and n == want, "C-FIND SERIES SeriesNumber=%s: %d "
                 "series (expected %d)" % (value, n, want))


def failed_lists(node_port, dest_port, work):
    """C-MOVE and C-GET final responses name the failed instances: a study
    of 2 CT and 1 SR moved to a storescp that takes only CT (0xB000), to
    one that refuses the association (0xA702), fetched with getscu, which
    offers no Extensible SR context (0xB000)."""
    d = os.path.join(work, "ct-sr")
    os.makedirs(d)
    base = "1.2.826.0.1.3680043.8.498.7703.1"
    sr = base + ".2.3"
    for k, (sop, cls, mod) in enumerate([(base + ".1.1", CT_IMAGE, "CT"),
                                         (base + ".1.2", CT_IMAGE, "CT"),
                                         (sr, EXTENSIBLE_SR, "SR")]):
        write_instance(os.path.join(d, "%d.dcm" % k), "RT0001", "FAILED^LIST",
                       base, sop.rsplit(".", 1)[0], sop, cls=cls, modality=mod)
    nl.run(["storescu", "-R", "-aec", "CONSORT", "+sd", "127.0.0.1",
            str(node_port), d], check_rc=0)
    every = sorted([base + ".1.1", base + ".1.2", sr])

    def final(out, what):
        """status, completed, failed, whether a data set came and the
        Failed SOP Instance UID List of the final response in
        movescu/getscu -d output"""
        tail = out[out.rfind(what):] if what in out else ""
        st = re.search(r"DIMSE Status\s*:\s*(0x[0-9a-fA-F]{4})", tail)
        done = re.search(r"Completed Suboperations\s*:\s*(\d+)", tail)
        bad = re.search(r"Failed Suboperations\s*:\s*(\d+)", tail)
        ds = re.search(r"Data Set\s*:\s*(\w+)", tail)
        lst = re.search(r"\(0008,0058\) UI \[([^\]]*)\]", tail)
        return (st.group(1).lower() if st else None,
                int(done.group(1)) if done else None,
                int(bad.group(1)) if bad else None,
                ds.group(1) if ds else None,
                sorted(lst.group(1).split("\\")) if lst else None)

    cfg = os.path.join(work, "ct-only.cfg")
    with open(cfg, "w") as f:
        f.write("[[TransferSyntaxes]]\n[Plain]\n"
                "TransferSyntax1 = LittleEndianExplicit\n"
                "TransferSyntax2 = LittleEndianImplicit\n"
                "[[PresentationContexts]]\n[CTContexts]\n"
                "PresentationContext1 = CTImageStorage\\Plain\n"
                "[[Profiles]]\n[CTOnly]\nPresentationContexts = CTContexts\n")
    for dest, argv, want in [
            ("CTONLY", ["-xf", cfg, "CTOnly"],
             ("0xb000", 2, 1, "present", [sr])),
            ("REFUSER", ["--refuse"], ("0xa702", 0, 3, "present", every))]:
        rdir = os.path.join(work, "dest-" + dest)
        os.makedirs(rdir)
        srv = nl.Server(["storescp", "-aet", dest, "-od", rdir] + argv +
                        [str(dest_port)], dest_port,
                        os.path.join(work, dest + ".log")).start()
        rc, out = nl.run(["movescu", "-d", "-S", "-aec", "CONSORT", "-aet",
                          "MOVESCU", "--move", dest, "127.0.0.1",
                          str(node_port), "-k", "QueryRetrieveLevel=STUDY",
                          "-k", "StudyInstanceUID=" + base])
        srv.stop()
        got = final(out, "Received Final Move Response")
        nl.check(got == want, "movescu to %s: final status, completed, "
                 "failed, Failed SOP Instance UID List %s (expected %s)" % (
                     dest, got, want))
    gdir = os.path.join(work, "got-ct-sr")
    os.makedirs(gdir)
    rc, out = nl.run(["getscu", "-d", "-S", "-aec", "CONSORT", "-od", gdir,
                      "127.0.0.1", str(node_port), "-k",
                      "QueryRetrieveLevel=STUDY", "-k",
                      "StudyInstanceUID=" + base])
    # DCMTK 3.6.7's getscu (DcmSCU) neither prints nor reads a C-GET
    # response identifier (it then fails to release and aborts): the list
    # itself is checked with movescu above, the same code in the node
    got = final(out, "Received C-GET Response")[:4]
    nl.check(got == ("0xb000", 2, 1, "present"),
             "getscu (no Extensible SR context): final status, completed, "
             "failed, identifier %s" % (got,))


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    get_cancel = sys.argv[4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    storage = os.path.join(work, "var")
    data = os.path.join(work, "many")
    nl.gen_many(data, "--count", "200", "--studies", "20", "--seed", "3")
    # many matches for the C-CANCEL check: more than socket buffers hold,
    # so that the cancel always arrives while answers are still going out
    tiny = os.path.join(work, "tiny")
    nl.gen_many(tiny, "--count", "4000", "--studies", "1", "--patients", "1",
                "--seed", "13", "--kind", "tiny", "--name-gb18030")
    cn = os.path.join(work, "cn")
    nl.gen_many(cn, "--count", "2", "--studies", "1", "--seed", "8",
                "--name-gb18030")
    files = nl.files_under(data)
    meta = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    studies = {}  # every study stored, for expected counts
    for f in files + nl.files_under(cn):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        studies.setdefault(ds.StudyInstanceUID, ds)

    move_port, orth_port, slow_port = port + 1, port + 2, port + 3
    # SLOWDEST: a storescp behind a 20 kB/s relay, for a C-MOVE interrupted
    move_relay, move_relay_port = nl.slow_link(slow_port, 20000, to_target=True)
    conf = ("[peer MOVESCU]\nhost = 127.0.0.1\nport = %d\n" % move_port +
            "[peer CTONLY]\nhost = 127.0.0.1\nport = %d\n" % orth_port +
            "[peer REFUSER]\nhost = 127.0.0.1\nport = %d\n" % orth_port +
            "[peer SLOWDEST]\nhost = 127.0.0.1\nport = %d\n" % move_relay_port)
    srv = nl.node_server(node, storage, port, os.path.join(work, "node.log"),
                         conf, sync="normal").start()
    nl.run(["storescu", "-aec", "CONSORT", "+sd", "127.0.0.1", str(port), data],
           check_rc=0)
    nl.run(["storescu", "-aec", "CONSORT", "+sd", "127.0.0.1", str(port), cn],
           check_rc=0)
    tiny_study = str(pydicom.dcmread(nl.files_under(tiny)[0],
                                     stop_before_pixels=True).StudyInstanceUID)

    # ---- C-FIND: each level and kind of matching ----
    def expect(pred):
        return sum(1 for s in studies.values() if pred(s))

    cases = [
        ("PN wildcard WANG*", ["QueryRetrieveLevel=STUDY", "PatientName=WANG*"],
         expect(lambda s: str(s.PatientName).upper().startswith("WANG"))),
        ("PN wildcard, other case wang*", ["QueryRetrieveLevel=STUDY",
                                           "PatientName=wang*"],
         expect(lambda s: str(s.PatientName).upper().startswith("WANG"))),
        ("? wildcard on accession", ["QueryRetrieveLevel=STUDY",
                                     "AccessionNumber=A000000?"],
         expect(lambda s: re.fullmatch(r"A000000.", s.AccessionNumber) is not None)),
        ("single Patient ID", ["QueryRetrieveLevel=STUDY", "PatientID=P000005"],
         expect(lambda s: s.PatientID == "P000005")),
        ("date range 2020-2021", ["QueryRetrieveLevel=STUDY",
                                  "StudyDate=20200101-20211231"],
         expect(lambda s: "20200101" <= s.StudyDate <= "20211231")),
        ("open date range -20191231", ["QueryRetrieveLevel=STUDY",
                                       "StudyDate=-20191231"],
         expect(lambda s: s.StudyDate <= "20191231")),
        ("single date", ["QueryRetrieveLevel=STUDY",
                         "StudyDate=%s" % meta[0].StudyDate],
         expect(lambda s: s.StudyDate == meta[0].StudyDate)),
        ("time range", ["QueryRetrieveLevel=STUDY", "StudyTime=080000-095959"],
         expect(lambda s: "080000" <= s.StudyTime <= "095959")),
        ("UID list", ["QueryRetrieveLevel=STUDY",
                      "StudyInstanceUID=%s\\%s" % (meta[0].StudyInstanceUID,
                                                   meta[-1].StudyInstanceUID)], 2),
        ("universal", ["QueryRetrieveLevel=STUDY", "StudyDate", "PatientName"],
         len(studies)),
        ("Modalities in Study CT\\MR", ["QueryRetrieveLevel=STUDY",
                                        "ModalitiesInStudy=CT\\MR"], len(studies)),
        ("Modalities in Study US", ["QueryRetrieveLevel=STUDY",
                                    "ModalitiesInStudy=US"], 0),
        ("SERIES level", ["QueryRetrieveLevel=SERIES",
                          "StudyInstanceUID=%s" % meta[0].StudyInstanceUID,
                          "SeriesInstanceUID", "Modality"], 1),
        ("IMAGE level", ["QueryRetrieveLevel=IMAGE",
                         "StudyInstanceUID=%s" % meta[0].StudyInstanceUID,
                         "SeriesInstanceUID=%s" % meta[0].SeriesInstanceUID,
                         "SOPInstanceUID"],
         sum(1 for m in meta if m.SeriesInstanceUID == meta[0].SeriesInstanceUID)),
    ]
    # a long UID list (more than 256 values: bound one parameter each)
    many_uids = list(studies) + ["1.2.3.%d" % k for k in range(300)]
    cases.append(("UID list of %d" % len(many_uids),
                  ["QueryRetrieveLevel=STUDY",
                   "StudyInstanceUID=%s" % "\\".join(many_uids)], len(studies)))
    for name, keys, want in cases:
        rc, out, n = findscu(port, keys)
        nl.check(rc == 0 and n == want, "C-FIND %s: %d match(es), expected %d" % (
            name, n, want))
    rc, out, n = findscu(port, ["QueryRetrieveLevel=PATIENT", "PatientID=P00001*",
                                "PatientName", "NumberOfPatientRelatedStudies"],
                         model="-P")
    want = len({s.PatientID for s in studies.values() if s.PatientID.startswith("P00001")})
    nl.check(rc == 0 and n == want and "NumberOfPatientRelatedStudies" in out,
             "C-FIND Patient Root, PATIENT level: %d (expected %d)" % (n, want))
    rc, out, n = findscu(port, ["QueryRetrieveLevel=PATIENT", "PatientID"])
    nl.check("DataSetDoesNotMatchSOPClass" in out and n == 0,
             "PATIENT level in the Study Root model is refused (0xA900)")

    unsupported_keys(port, meta[0].StudyInstanceUID)
    pn_groups(port, work)
    modalities_in_study(port, work)
    empty_dates(port, work)

    # ---- GB18030 name ----
    q = Dataset()
    q.SpecificCharacterSet = "GB18030"
    q.QueryRetrieveLevel = "STUDY"
    want_name = str(pydicom.dcmread(os.path.join(cn, "000000.dcm")).PatientName)
    q.PatientName = want_name
    q.StudyInstanceUID = ""
    qf = os.path.join(work, "q_gb18030.dcm")
    q.is_little_endian, q.is_implicit_VR = True, False
    q.save_as(qf)
    rsp_dir = os.path.join(work, "rsp")
    os.makedirs(rsp_dir)
    p = subprocess.run(["findscu", "-S", "-X", "-aec", "CONSORT", "127.0.0.1",
                        str(port), qf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=nl.PEER_ENV, cwd=rsp_dir)
    rsps = sorted(glob.glob(os.path.join(rsp_dir, "rsp*.dcm")))
    got = [pydicom.dcmread(r) for r in rsps]
    nl.check(len(got) == 1 and str(got[0].PatientName) == want_name and
             got[0].SpecificCharacterSet == "GB18030",
             "GB18030 C-FIND for %s finds it, answered in GB18030 (%s)" % (
                 want_name, [(str(g.PatientName), g.get("SpecificCharacterSet"))
                             for g in got]))

    # a value whose bytes are not valid in the declared character set (GB
    # 2312 bytes under ISO 2022 IR 58 without the escape sequence that
    # designates it, as some workstations send) cannot be processed
    # (0xC000): with the invalid bytes dropped, "张*" became "*" and
    # matched every study
    q = Dataset()
    q.SpecificCharacterSet = ["", "ISO 2022 IR 58"]
    q.QueryRetrieveLevel = "STUDY"
    q.add_new(0x00100010, "PN", "张*".encode("gb2312"))
    q.StudyInstanceUID = ""
    qf = os.path.join(work, "q_ir58_unescaped.dcm")
    q.is_little_endian, q.is_implicit_VR = True, False
    q.save_as(qf)
    rc, out = nl.run(["findscu", "-v", "-S", "-aec", "CONSORT", "127.0.0.1",
                      str(port), qf])
    n = len(re.findall(r"Find Response: \d+ \(Pending", out))
    nl.check(n == 0 and "Final Find Response (Failed: UnableToProcess)" in out,
             "C-FIND with bytes invalid in its character set: %d matches, "
             "refused 0xC000" % n)

    # ---- C-CANCEL ----
    nl.run(["storescu", "-aec", "CONSORT", "+sd", "127.0.0.1", str(port), tiny],
           check_rc=0)
    rc, out, n = findscu(port, ["QueryRetrieveLevel=IMAGE",
                                "StudyInstanceUID=%s" % tiny_study,
                                "SOPInstanceUID", "SOPClassUID", "InstanceNumber"],
                         extra=["--cancel", "3"])
    nl.check(n < 4000 and "Final Find Response (Cancel" in out,
             "findscu --cancel 3: stopped after %d of 4000 matches, final status "
             "Cancel" % n)

    # ---- C-MOVE with movescu (bit-preserving receiver) ----
    mdir = os.path.join(work, "moved")
    os.makedirs(mdir)
    s0 = meta[0].StudyInstanceUID
    rc, out = nl.run(["movescu", "-S", "-aec", "CONSORT", "-aet", "MOVESCU", "+P",
                      str(move_port), "+B", "-od", mdir, "127.0.0.1", str(port),
                      "-k", "QueryRetrieveLevel=STUDY", "-k",
                      "StudyInstanceUID=%s" % s0], cwd=mdir)  # +B writes to cwd
    sent = {m.SOPInstanceUID: f for m, f in zip(meta, files) if m.StudyInstanceUID == s0}
    moved = nl.files_under(mdir)
    same = 0
    for f in moved:
        uid = pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID
        if uid in sent and nl.dataset_bytes(f) == nl.dataset_bytes(sent[uid]):
            same += 1
    nl.check(rc == 0 and same == len(sent) == len(moved),
             "movescu C-MOVE of a study: %d/%d received byte-identical" % (same, len(sent)))
    rc, out = nl.run(["movescu", "-v", "-S", "-aec", "CONSORT", "-aet", "MOVESCU",
                      "--move", "NOWHERE", "127.0.0.1", str(port), "-k",
                      "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=%s" % s0])
    nl.check("MoveDestinationUnknown" in out,
             "C-MOVE to an unknown AE is refused with 0xA801")

    retrieve_keys(port, move_port, work, s0,
                  sorted(m.SOPInstanceUID for m in meta
                         if m.StudyInstanceUID == s0))

    failed_lists(port, orth_port, work)

    # ---- C-GET with getscu ----
    gdir = os.path.join(work, "got")
    os.makedirs(gdir)
    s1 = meta[-1].StudyInstanceUID
    rc, out = nl.run(["getscu", "-S", "-aec", "CONSORT", "+B", "-od", gdir,
                      "127.0.0.1", str(port), "-k", "QueryRetrieveLevel=STUDY",
                      "-k", "StudyInstanceUID=%s" % s1], cwd=gdir)
    sent = {m.SOPInstanceUID: f for m, f in zip(meta, files) if m.StudyInstanceUID == s1}
    got = nl.files_under(gdir)
    same = sum(1 for f in got
               if nl.dataset_bytes(f) == nl.dataset_bytes(
                   sent.get(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID, f + "x"))
               ) if got else 0
    nl.check(rc == 0 and same == len(sent) == len(got),
             "getscu C-GET of a study: %d/%d received byte-identical" % (same, len(sent)))

    # ---- consort-node find / get / move as SCU ----
    rc, out = nl.run([node, "find", "CONSORT@127.0.0.1:%d" % port, "-k",
                      "PatientName=WANG*", "--json"])
    nl.check(rc == 0 and out.count("StudyInstanceUID") == cases[0][2],
             "consort-node find --json: %d studies" % out.count("StudyInstanceUID"))
    cdir = os.path.join(work, "cget")
    rc, out = nl.run([node, "get", "CONSORT@127.0.0.1:%d" % port, "-k",
                      "StudyInstanceUID=%s" % s0, "-o", cdir])
    got = nl.files_under(cdir)
    sent = {m.SOPInstanceUID: f for m, f in zip(meta, files) if m.StudyInstanceUID == s0}
    same = sum(1 for f in got if nl.dataset_bytes(f) == nl.dataset_bytes(
        sent.get(os.path.basename(f)[:-4], f)))
    nl.check(rc == 0 and same == len(sent) == len(got),
             "consort-node get: %d/%d byte-identical" % (same, len(sent)))
    # Ctrl+C during a get over a slow link: the peer is asked to stop
    # (C-CANCEL) and what arrived is whole, named by its UID
    relay, slow = nl.slow_link(port, 20000)
    sdir = os.path.join(work, "cget-slow")
    before = srv.log_text().count("c-get completed")
    p = subprocess.Popen([node, "get", "CONSORT@127.0.0.1:%d" % slow, "-k",
                          "StudyInstanceUID=%s" % s0, "-o", sdir],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    relay.close()
    got = nl.files_under(sdir)
    whole = all(nl.dataset_bytes(f) == nl.dataset_bytes(sent.get(os.path.basename(f)[:-4], f))
                for f in got)
    ends = [l for l in srv.log_text().splitlines() if "c-get completed" in l][before:]
    nl.check(p.returncode == 1 and "interrupted" in out and 0 < len(got) < len(sent)
             and whole and ends and ends[-1].endswith(" cancelled"),
             "consort-node get interrupted (SIGINT) over a 20 kB/s link: exit %d, "
             "%d of %d instances, each whole; the node: %r" % (
                 p.returncode, len(got), len(sent), ends[-1][-45:] if ends else None))
    # a requester that cancels at a pending response, when the node is
    # already into its next sub-operation and waits for that C-STORE-RSP:
    # the cancel is taken (not read as a broken answer), the C-GET ends
    # Cancel and the association still answers a C-ECHO
    cdir2 = os.path.join(work, "cget-cancel")
    os.makedirs(cdir2)
    before = srv.log_text().count("c-get completed")
    rc, out = nl.run([get_cancel, str(port), s0, cdir2])
    ends = [l for l in srv.log_text().splitlines() if "c-get completed" in l][before:]
    nl.check(rc == 0 and ends and ends[-1].endswith(" cancelled") and
             "failed=0" in ends[-1],
             "C-CANCEL at a pending response, during the next sub-operation: %s; "
             "the node: %r" % (out.strip(), ends[-1][-50:] if ends else None))
    # the same for a C-MOVE to a destination behind a slow link
    mdir2 = os.path.join(work, "slowdest")
    os.makedirs(mdir2)
    dest = nl.Server(["storescp", "-aet", "SLOWDEST", "-od", mdir2, str(slow_port)],
                     slow_port, os.path.join(work, "slowdest.log")).start()
    before = srv.log_text().count("c-move ")
    p = subprocess.Popen([node, "move", "CONSORT@127.0.0.1:%d" % port, "-k",
                          "StudyInstanceUID=%s" % s0, "--dest", "SLOWDEST"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    moved = nl.files_under(mdir2)
    ends = [l for l in srv.log_text().splitlines() if "c-move " in l][before:]
    dest.stop()
    move_relay.close()
    nl.check(p.returncode == 1 and "interrupted" in out and
             0 < len(moved) < len(sent) and
             any(l.endswith(" cancelled") for l in ends),
             "consort-node move interrupted (SIGINT), the destination behind a "
             "20 kB/s link: exit %d, %d of %d instances moved; the node: %r" % (
                 p.returncode, len(moved), len(sent), ends[-1][-45:] if ends else None))

    # ---- gdcmscu: an independent SCU ----
    # Debian's gdcmscu 3.0.21 aborts while closing every association
    # ("ProtocolStream as nullptr is invalid", also against DCMTK's
    # storescp) and prints no C-FIND results, so what it did is read from
    # the node's log and index.
    extra = os.path.join(cn, "000001.dcm")
    xuid = str(pydicom.dcmread(extra, stop_before_pixels=True).SOPInstanceUID)
    nl.index_exec(storage, "DELETE FROM instances WHERE sop_uid = ?", (xuid,))
    os.unlink(os.path.join(storage, nl.rel_path(xuid)))
    mark = len(srv.log_text())
    nl.run(["gdcmscu", "--echo", "--call", "CONSORT", "127.0.0.1", str(port)])
    nl.run(["gdcmscu", "--store", "--call", "CONSORT", "127.0.0.1", str(port),
            extra])
    nl.run(["gdcmscu", "--find", "--study", "--studyroot", "--call", "CONSORT",
            "--key", "8,52=STUDY", "--key", "10,20=P000007", "--key", "20,d=",
            "127.0.0.1", str(port)])
    log = srv.log_text()[mark:]
    back = nl.index_rows(storage, "SELECT count(*) FROM instances WHERE sop_uid = ?",
                         (xuid,))[0][0]
    want = expect(lambda s: s.PatientID == "P000007")
    nl.check(log.count("aet=GDCMSCU association released") == 3 and back == 1 and
             ("aet=GDCMSCU c-find level=STUDY keys=1 matches=%d status=0x0000"
              % want) in log,
             "gdcmscu echo, store (indexed again) and find (%d match)" % want)
    same = nl.dataset_bytes(os.path.join(storage, nl.rel_path(xuid))) == \
        nl.dataset_bytes(extra)
    nl.check(same, "the instance gdcmscu stored is byte-identical")
    rc = srv.stop()
    nl.check(rc == 0, "node stopped cleanly")
    print("node_qr: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
