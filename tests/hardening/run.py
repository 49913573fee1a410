#!/usr/bin/python3
"""Hostile input at consort-node's SCP: the fast cases of the hardening
issue. Each case runs against one node (its own storage, ARTIM 2 s, DIMSE
idle timeout 5 s) while the node must keep serving others; the script
prints one table at the end: case, expected behaviour, observed, pass/fail,
and the node's resident memory and open file descriptors before and after.

usage: tests/hardening/run.py CONSORT_NODE WORKDIR PORT [--soak SECONDS]
                              [--fuzz SECONDS] [--only-opt-in]
(uses PORT-9 .. PORT: more nodes, three misbehaving peers, the disk-full
test node_fulldisk.py run from here)

Hostile input: a connection that sends nothing; a slowloris association
request (the PDU header, then the body a byte every 0.4 s) while another
client asks for C-ECHO; a PDU claiming 4 GB; a P-DATA PDU before any
association; 64 KB of random bytes; a malformed A-ASSOCIATE-RQ; P-DATA
on a presentation context that was never negotiated; a command set, a
C-FIND identifier and a C-STORE data set with sequences nested 30,000+
levels deep; a C-STORE whose SOP Instance UID holds "/" and ".."; a CT
Image Storage data set without an image.
Access: an AE title bound to another address ([bind]); the audit trail.
Opt-in (load.py): --soak runs 200 associations storing at once and a
steady soak of SECONDS with C-FIND and C-GET in parallel (RSS and fds
before/after); --fuzz runs tests/fuzz/run.sh on each target for SECONDS
and reports executions and findings; --only-opt-in skips the fast cases.
Faults: the index locked by another process; forwarding to a peer that
hangs after the association, one that answers 0xA700 and one that
answers 0xC000 (fakepeer.py); kill -9 during ingest and during
forwarding; a full disk (node_fulldisk.py, reported as one row). C-ECHO answered throughout. Exit 1 if any
case fails.

The slowloris case failed before the node read association requests off
its accept loop with a total deadline: DCMTK's ARTIM restarts on every
read, so a trickled request held the accept loop and others could not
associate.
"""

import copy
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

ACSE = 2
rows = []


def record(case, expected, observed, ok, figures=""):
    rows.append((case, expected, observed, "pass" if ok else "FAIL", figures))
    print(("ok: " if ok else "FAILED: ") + "%s: %s" % (case, observed), flush=True)


def proc_figures(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith("VmRSS:"):
                rss = int(l.split()[1]) * 1024
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return rss, fds


def closed_within(sock, limit):
    """Seconds until the peer closed (EOF or reset), or None."""
    t0 = time.time()
    sock.settimeout(0.2)
    while time.time() - t0 < limit:
        try:
            if sock.recv(65536) == b"":
                return time.time() - t0
        except socket.timeout:
            continue
        except OSError:
            return time.time() - t0
    return None


def echo_ok(port):
    try:
        rc, _ = nl.run(["echoscu", "-to", "10", "-ta", "10", "-aec", "CONSORT",
                        "127.0.0.1", str(port)], timeout=30)
    except subprocess.TimeoutExpired:
        return False
    return rc == 0


def item(t, payload):
    return struct.pack(">BBH", t, 0, len(payload)) + payload


def assoc_rq_bytes(called=b"CONSORT", calling=b"HOSTILE", find=False, pc=None):
    """A minimal A-ASSOCIATE-RQ (PS3.8 9.3.2): Verification (context 1) and,
    with find, Study Root C-FIND (context 3), implicit VR LE."""
    app = item(0x10, b"1.2.840.10008.3.1.1.1")
    if pc is None:
        pc = item(0x20, struct.pack(">BBBB", 1, 0, 0, 0) +
                  item(0x30, b"1.2.840.10008.1.1") + item(0x40, b"1.2.840.10008.1.2"))
        if find:
            pc += item(0x20, struct.pack(">BBBB", 3, 0, 0, 0) +
                       item(0x30, b"1.2.840.10008.5.1.4.1.2.2.1") +
                       item(0x40, b"1.2.840.10008.1.2"))
    ui = item(0x50, item(0x51, struct.pack(">I", 16384)))
    body = (struct.pack(">HH", 1, 0) + called.ljust(16) + calling.ljust(16) +
            b"\0" * 32 + app + pc + ui)
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def cmd_el(e, v):
    return struct.pack("<HHI", 0, e, len(v)) + v


def pdata(pcid, ctl, payload, chunk=16000):
    """P-DATA PDUs carrying payload in fragments (ctl: 1 command, 0 data;
    the last fragment gets bit 1)."""
    out = b""
    for o in range(0, len(payload), chunk):
        part = payload[o:o + chunk]
        last = 2 if o + chunk >= len(payload) else 0
        out += struct.pack(">BBI", 4, 0, len(part) + 6) + \
            struct.pack(">IBB", len(part) + 2, pcid, ctl | last) + part
    return out


def nested_sq(tag, depth):
    """Implicit VR LE: tag as a sequence of undefined length, depth deep."""
    sq = struct.pack("<HHI", tag[0], tag[1], 0xFFFFFFFF)
    it = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    end = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return (sq + it) * depth + end * depth


def associate(port, rq, source=None):
    """Connects (from source address), sends rq; (socket, reply PDU type)."""
    s = socket.socket()
    if source:
        s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(rq)
    s.settimeout(10)
    r = b""
    try:  # the whole reply PDU, so that what follows starts clean
        while len(r) < 6 or len(r) < 6 + struct.unpack(">I", r[2:6])[0]:
            d = s.recv(6 if len(r) < 6 else 6 + struct.unpack(">I", r[2:6])[0] - len(r))
            if not d:
                break
            r += d
    except OSError:
        pass
    return s, (r[0] if r else None)


def recv_pdu(s, timeout):
    """One whole PDU (b"" if the link closes first)."""
    s.settimeout(timeout)
    r = b""
    try:
        while len(r) < 6 or len(r) < 6 + struct.unpack(">I", r[2:6])[0]:
            d = s.recv(65536)
            if not d:
                break
            r += d
    except OSError:
        pass
    return r


def send_quietly(s, data):
    try:
        s.sendall(data)
    except OSError:
        pass


def alive(srv):
    return srv.proc.poll() is None


def new_instance(base, path, implicit=False):
    """A copy of base with a new SOP Instance UID, saved to path."""
    ds = copy.deepcopy(base)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if implicit:
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
        ds.is_implicit_VR = True
        ds.is_little_endian = True
    ds.save_as(path, write_like_original=False)
    return ds


def raw_store(port, sop_class, sop_uid, dataset):
    """C-STORE of dataset bytes (implicit VR LE) on an association of our
    own: DCMTK's storescu parses the file first, and DCMTK 3.6.7 cannot
    parse what this sends. The response status, or None."""
    pc = item(0x20, struct.pack(">BBBB", 1, 0, 0, 0) + item(0x30, sop_class.encode()) +
              item(0x40, b"1.2.840.10008.1.2"))
    s, reply = associate(port, assoc_rq_bytes(calling=b"DEEP", pc=pc))
    if reply != 0x02:
        s.close()
        return None
    uid = lambda v: v.encode() + (b"\0" if len(v) % 2 else b"")
    cmd = (cmd_el(0x0002, uid(sop_class)) + cmd_el(0x0100, struct.pack("<H", 1)) +
           cmd_el(0x0110, struct.pack("<H", 1)) + cmd_el(0x0700, struct.pack("<H", 0)) +
           cmd_el(0x0800, struct.pack("<H", 0)) + cmd_el(0x1000, uid(sop_uid)))
    cmd = cmd_el(0x0000, struct.pack("<I", len(cmd))) + cmd
    send_quietly(s, pdata(1, 1, cmd) + pdata(1, 0, dataset))
    r = recv_pdu(s, 15)
    s.close()
    k = r.find(struct.pack("<HHI", 0, 0x0900, 2))
    return struct.unpack("<H", r[k + 8:k + 10])[0] if k >= 0 else None


def store_on(s, pcid, msg_id, sop_class, sop_uid, dataset):
    """One C-STORE on an open association; the response status or None."""
    uid = lambda v: v.encode() + (b"\0" if len(v) % 2 else b"")
    cmd = (cmd_el(0x0002, uid(sop_class)) + cmd_el(0x0100, struct.pack("<H", 1)) +
           cmd_el(0x0110, struct.pack("<H", msg_id)) + cmd_el(0x0700, struct.pack("<H", 0)) +
           cmd_el(0x0800, struct.pack("<H", 0)) + cmd_el(0x1000, uid(sop_uid)))
    cmd = cmd_el(0x0000, struct.pack("<I", len(cmd))) + cmd
    send_quietly(s, pdata(pcid, 1, cmd) + pdata(pcid, 0, dataset))
    r = recv_pdu(s, 60)
    k = r.find(struct.pack("<HHI", 0, 0x0900, 2))
    return struct.unpack("<H", r[k + 8:k + 10])[0] if k >= 0 else None


def print_table():
    w = [max(len(str(r[i])) for r in rows + [("case", "expected", "observed", "result",
                                                 "figures")]) for i in range(5)]
    print()
    line = "  ".join("%-*s" % (w[i], h) for i, h in
                     enumerate(("case", "expected", "observed", "result", "figures")))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join("%-*s" % (w[i], r[i]) for i in range(5)))
    bad = [r for r in rows if r[3] == "FAIL"]
    print("\nhardening: %d case(s), %d failed" % (len(rows), len(bad)))
    return 1 if bad else 0


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    opts = sys.argv[4:]
    soak_s = int(opts[opts.index("--soak") + 1]) if "--soak" in opts else 0
    fuzz_s = int(opts[opts.index("--fuzz") + 1]) if "--fuzz" in opts else 0
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if soak_s or fuzz_s:
        import load
        me = sys.modules[__name__]
        if soak_s:
            load.concurrent_stores(me, node, work, port, record)
            load.soak(me, node, work, port, record, soak_s)
        if fuzz_s:
            load.fuzz(os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__)))), record, fuzz_s)
        if "--only-opt-in" in opts:
            return print_table()
    storage = os.path.join(work, "var")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node.log"),
                         "acse_timeout = %d\nidle_timeout = 5\n"
                         "[bind]\nBOUND = 127.0.0.2\n" % ACSE,
                         sync="normal").start()
    pid = srv.proc.pid
    rss0, fds0 = proc_figures(pid)

    # 1. a connection that sends nothing
    s = socket.create_connection(("127.0.0.1", port))
    t = closed_within(s, ACSE + 5)
    s.close()
    record("silent connection", "dropped after ARTIM (%d s)" % ACSE,
           "dropped after %.1f s" % t if t else "still open after %d s" % (ACSE + 5),
           t is not None and t <= ACSE + 2)

    # 2. slowloris: the association request a byte at a time
    # the trickle in a thread; a normal C-ECHO must get through meanwhile
    import threading
    s = socket.create_connection(("127.0.0.1", port))
    data = assoc_rq_bytes()
    state = {"sent": 0, "dropped": None}
    t0 = time.time()

    def trickle():
        try:
            s.send(data[:6])  # the PDU header at once, the body slowly
            state["sent"] = 6
            for b in data[6:]:
                s.send(bytes([b]))
                state["sent"] += 1
                time.sleep(0.4)
                if time.time() - t0 > ACSE + 6:
                    return
        except OSError:
            state["dropped"] = time.time() - t0
    th = threading.Thread(target=trickle)
    th.start()
    time.sleep(0.5)
    e0 = time.time()
    echo = echo_ok(port)
    echo_s = time.time() - e0
    th.join()
    s.close()
    d = state["dropped"]
    record("slowloris association request",
           "dropped by ARTIM; a C-ECHO meanwhile answered",
           "trickle %s after %d of %d bytes; C-ECHO meanwhile %s in %.1f s" % (
               "dropped %.1f s" % d if d else "not dropped", state["sent"],
               len(data), "ok" if echo else "FAILED", echo_s),
           d is not None and d <= ACSE + 4 and echo)

    # 3. a PDU claiming 4 GB
    rss_b, _ = proc_figures(pid)
    s = socket.create_connection(("127.0.0.1", port))
    s.send(struct.pack(">BBI", 0x01, 0, 0xFFFFFFF0) + b"\0" * 64)
    t = closed_within(s, ACSE + 5)
    s.close()
    rss_a, _ = proc_figures(pid)
    record("PDU length 0xFFFFFFF0", "refused, bounded memory",
           "closed after %.1f s, RSS %+.1f MB" % (t, (rss_a - rss_b) / 1e6)
           if t is not None else "not closed",
           t is not None and rss_a - rss_b < 20e6)

    # 4. a P-DATA PDU before any association
    s = socket.create_connection(("127.0.0.1", port))
    s.send(struct.pack(">BBI", 0x04, 0, 12) + struct.pack(">IBB", 6, 1, 3) + b"\0" * 6)
    t = closed_within(s, ACSE + 5)
    s.close()
    record("P-DATA before association", "connection dropped",
           "closed after %.1f s" % t if t is not None else "not closed",
           t is not None and t <= ACSE + 2)

    # 5. random bytes
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(random.Random(7).randbytes(65536))
    except OSError:
        pass
    t = closed_within(s, ACSE + 5)
    s.close()
    record("64 KB of random bytes", "connection dropped",
           "closed after %.1f s" % t if t is not None else "not closed", t is not None)

    # 6. a UID with "/" and ".." (PS3.5 9.1 allows digits and dots)
    good = os.path.join(work, "good")
    nl.gen_many(good, "--count", "1", "--kind", "tiny", "--seed", "61")
    base = pydicom.dcmread(nl.files_under(good)[0])
    evil = os.path.join(work, "evil.dcm")
    ds = copy.deepcopy(base)
    escape = "consort-hardening-%d" % os.getpid()
    ds.SOPInstanceUID = "1.2.3/../../../tmp/" + escape
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(evil, write_like_original=False)
    rc, out = nl.run(["storescu", "-v", "-aec", "CONSORT", "127.0.0.1", str(port), evil])
    stored = nl.index_rows(storage, "SELECT count(*) FROM instances")[0][0] \
        if os.path.exists(os.path.join(storage, "index.sqlite")) else 0
    outside = any(os.path.exists(os.path.join(d, escape))
                  for d in ("/tmp", work, os.path.dirname(work)))
    # storescu -v reports the status; the node logs the refusal with it
    refused = "0x117" in out.lower() and "status=0x0117" in srv.log_text()
    record("SOP Instance UID with / and ..", "refused 0x0117, nothing stored",
           "%s, %d stored, file outside: %s" % (
               "refused 0x0117" if refused else "not refused: " + out[-120:].replace("\n", " "),
               stored, outside), refused and stored == 0 and not outside)

    # 7. CT Image Storage without an image
    bare = os.path.join(work, "bare.dcm")
    ds = copy.deepcopy(base)
    for kw in ("Rows", "Columns", "PixelData", "BitsAllocated", "BitsStored",
               "HighBit", "PixelRepresentation", "SamplesPerPixel",
               "PhotometricInterpretation"):
        if kw in ds:
            delattr(ds, kw)
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(bare, write_like_original=False)
    rc, out = nl.run(["storescu", "-v", "-aec", "CONSORT", "127.0.0.1", str(port), bare])
    refused = "DataSetDoesNotMatchSOPClass" in out and "status=0xA900" in srv.log_text()
    record("CT Image Storage without Rows/Columns", "refused 0xA900",
           "refused 0xA900" if refused else "not refused: " + out[-120:].replace("\n", " "),
           refused)

    # 8. a malformed association request: the presentation context's
    # transfer syntax sub-item claims more bytes than its item holds
    ts_sub = struct.pack(">BBH", 0x40, 0, 40) + b"1.2.840.10008.1.2"  # 17 of 40
    pc_body = struct.pack(">BBBB", 1, 0, 0, 0) + item(0x30, b"1.2.840.10008.1.1") + ts_sub
    bad_pc = struct.pack(">BBH", 0x20, 0, len(pc_body)) + pc_body
    rq = assoc_rq_bytes(pc=bad_pc)
    s, reply = associate(port, rq)
    s.close()
    record("malformed A-ASSOCIATE-RQ (item lengths)", "A-ABORT before DCMTK parses it",
           "reply PDU type %s, %s" % (reply, "logged" if "malformed A-ASSOCIATE-RQ"
                                      in srv.log_text() else "not logged"),
           reply == 0x07 and "malformed A-ASSOCIATE-RQ" in srv.log_text())

    # 8b. more malformed requests the fuzzer turned up (DCMTK leaked on
    # each): each answered with A-ABORT before DCMTK parses it
    def pc_of(*subs):
        body = struct.pack(">BBBB", 1, 0, 0, 0) + b"".join(subs)
        return struct.pack(">BBH", 0x20, 0, len(body)) + body
    verif = item(0x30, b"1.2.840.10008.1.1")
    variants = {
        "no transfer syntax": pc_of(verif),
        "sub-item type 00": pc_of(verif, item(0x00, b"1.2.840.10008.1.2")),
        "UID empty after a NUL": pc_of(verif, item(0x40, b"\0" + b"1.2.840.10008.1.2")),
        "unknown item type 2E": pc_of(verif, item(0x40, b"1.2.840.10008.1.2")) +
        item(0x2E, b"x" * 10),
    }
    aborted = []
    for name, pc in variants.items():
        s, reply = associate(port, assoc_rq_bytes(pc=pc))
        s.close()
        aborted.append("%s: %s" % (name, "A-ABORT" if reply == 0x07 else reply))
    record("A-ASSOCIATE-RQ variants (fuzz_scp findings)", "each answered with A-ABORT",
           "; ".join(aborted), all(a.endswith("A-ABORT") for a in aborted))

    # 8c. an association that goes silent: aborted after idle_timeout (5 s)
    s, reply = associate(port, assoc_rq_bytes())
    t = closed_within(s, 12)
    s.close()
    record("association idle after acceptance", "aborted after idle_timeout (5 s)",
           "accepted (%s), closed after %s" % (reply, "%.1f s" % t if t is not None else "never"),
           reply == 0x02 and t is not None and 4 <= t <= 8)

    # 9. P-DATA on a presentation context that was never negotiated
    s, reply = associate(port, assoc_rq_bytes())
    echo_cmd = (cmd_el(0x0002, b"1.2.840.10008.1.1\0") + cmd_el(0x0100, struct.pack("<H", 0x30)) +
                cmd_el(0x0110, struct.pack("<H", 1)) + cmd_el(0x0800, struct.pack("<H", 0x101)))
    send_quietly(s, pdata(99, 1, echo_cmd))
    t = closed_within(s, 10)
    s.close()
    record("P-DATA on presentation context 99", "association aborted",
           "accepted (%s), then closed after %s" % (reply, "%.1f s" % t if t is not None else "never"),
           reply == 0x02 and t is not None and alive(srv))

    # 10. a command set with a private sequence nested 100,000 deep: DCMTK
    # 3.6.7 parses command sets recursively (this killed the node)
    s, reply = associate(port, assoc_rq_bytes())
    send_quietly(s, pdata(1, 1, echo_cmd + nested_sq((0x0009, 0x1010), 100000)))
    t = closed_within(s, 10)
    s.close()
    time.sleep(0.3)
    record("command set nested 100,000 levels", "connection ended, node alive",
           "closed after %s, node %s, %s" % (
               "%.1f s" % t if t is not None else "never", "alive" if alive(srv) else "DEAD",
               "logged" if "command set holds" in srv.log_text() else "not logged"),
           t is not None and alive(srv) and "command set holds" in srv.log_text())

    # 11. a C-FIND identifier nested 100,000 deep
    s, reply = associate(port, assoc_rq_bytes(find=True))
    find_cmd = (cmd_el(0x0002, b"1.2.840.10008.5.1.4.1.2.2.1\0") +
                cmd_el(0x0100, struct.pack("<H", 0x20)) + cmd_el(0x0110, struct.pack("<H", 1)) +
                cmd_el(0x0700, struct.pack("<H", 0)) + cmd_el(0x0800, struct.pack("<H", 0x102)))
    find_cmd = cmd_el(0x0000, struct.pack("<I", len(find_cmd))) + find_cmd
    ident = struct.pack("<HHI", 0x0008, 0x0052, 6) + b"STUDY " + nested_sq((0x0040, 0xA730), 100000)
    send_quietly(s, pdata(3, 1, find_cmd) + pdata(3, 0, ident))
    r = recv_pdu(s, 15)
    s.close()
    # the C-FIND-RSP: status (0000,0900) in the command
    st = None
    k = r.find(struct.pack("<HHI", 0, 0x0900, 2))
    if k >= 0:
        st = struct.unpack("<H", r[k + 8:k + 10])[0]
    record("C-FIND identifier nested 100,000 levels", "C-FIND-RSP failure 0xA900",
           "status %s, node %s" % ("0x%04X" % st if st is not None else "none",
                                   "alive" if alive(srv) else "DEAD"),
           st == 0xA900 and alive(srv))

    # 12. a C-STORE data set nested 30,000 deep
    deep = os.path.join(work, "deep.dcm")
    ds = new_instance(base, deep, implicit=True)
    raw = open(deep, "rb").read()
    # the data set after the meta group: implicit VR LE as negotiated
    meta_end = 132 + 12 + struct.unpack("<I", raw[140:144])[0]
    before = nl.index_rows(storage, "SELECT count(*) FROM instances")[0][0]
    st = raw_store(port, ds.SOPClassUID, ds.SOPInstanceUID,
                   raw[meta_end:] + nested_sq((0x0040, 0xA730), 30000))
    after = nl.index_rows(storage, "SELECT count(*) FROM instances")[0][0]
    record("C-STORE data set nested 30,000 levels", "refused 0xC000, nothing stored",
           "status %s, %d stored, node %s" % ("0x%04X" % st if st is not None else "none",
                                              after - before,
                                              "alive" if alive(srv) else "DEAD"),
           st == 0xC000 and after == before and alive(srv))

    # 12b. a C-STORE data set whose element claims more bytes than the
    # stream holds (0xFFFFFFF0)
    liar = os.path.join(work, "liar.dcm")
    ds = new_instance(base, liar, implicit=True)
    raw = open(liar, "rb").read()
    meta_end = 132 + 12 + struct.unpack("<I", raw[140:144])[0]
    body = raw[meta_end:] + struct.pack("<HHI", 0x0009, 0x1010, 0xFFFFFFF0) + b"\0" * 64
    rss_b, _ = proc_figures(pid)
    before = nl.index_rows(storage, "SELECT count(*) FROM instances")[0][0]
    st = raw_store(port, ds.SOPClassUID, ds.SOPInstanceUID, body)
    after = nl.index_rows(storage, "SELECT count(*) FROM instances")[0][0]
    rss_a, _ = proc_figures(pid)
    record("C-STORE element length 0xFFFFFFF0 in a 2 KB stream",
           "refused 0xC000, bounded memory",
           "status %s, %d stored, RSS %+.1f MB" % (
               "0x%04X" % st if st is not None else "none", after - before,
               (rss_a - rss_b) / 1e6),
           st == 0xC000 and after == before and rss_a - rss_b < 20e6)

    # 13. an AE title bound to 127.0.0.2 ([bind]) calling from 127.0.0.1
    s1, r1 = associate(port, assoc_rq_bytes(calling=b"BOUND"))
    s1.close()
    s2, r2 = associate(port, assoc_rq_bytes(calling=b"BOUND"), source="127.0.0.2")
    send_quietly(s2, struct.pack(">BBI", 5, 0, 4) + b"\0" * 4)  # release
    s2.close()
    record("AE title bound to another address", "rejected from 127.0.0.1, accepted "
           "from 127.0.0.2", "from 127.0.0.1: %s, from 127.0.0.2: %s" % (
               {3: "rejected", 2: "accepted"}.get(r1, r1), {3: "rejected", 2: "accepted"}.get(r2, r2)),
           r1 == 0x03 and r2 == 0x02)

    # 13b. a calling AE title that is not printable ASCII (a newline would
    # forge a log line; DCMTK leaks when it has to answer such a request)
    s, r = associate(port, assoc_rq_bytes(calling=b"EVIL\nINFO \xab"))
    s.close()
    time.sleep(0.2)
    logged = "calling AE title is empty or not printable" in srv.log_text()
    record("calling AE title with a newline and byte 0xAB", "rejected, logged as '?'",
           "%s, %s" % ({3: "rejected", 2: "accepted"}.get(r, r),
                       "logged" if logged and "INFO \xab" not in srv.log_text()
                       else "not logged"),
           r == 0x03 and logged and "aet=EVIL?INFO ?" in srv.log_text())

    # 14. the index locked by another process for 3 s while a C-STORE comes
    import sqlite3
    locker = sqlite3.connect(os.path.join(storage, "index.sqlite"), timeout=10)
    locker.execute("BEGIN EXCLUSIVE")
    one = os.path.join(work, "one.dcm")
    ds = new_instance(base, one)
    t0 = time.time()
    p = subprocess.Popen(["storescu", "-aec", "CONSORT", "127.0.0.1", str(port), one],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(3)
    waiting = p.poll() is None
    locker.rollback()
    locker.close()
    p.wait(timeout=60)
    took = time.time() - t0
    got = nl.index_rows(storage, "SELECT count(*) FROM instances WHERE sop_uid = ?",
                        (ds.SOPInstanceUID,))[0][0]
    record("index locked by another process (3 s)", "C-STORE waits, then succeeds",
           "%s during the lock, %s after %.1f s, indexed: %d" % (
               "waited" if waiting else "did not wait", "success" if p.returncode == 0
               else "failed (%d)" % p.returncode, took, got),
           waiting and p.returncode == 0 and got == 1)

    # 14b. delete a study while the node runs: index rows and files go,
    # the audit trail names who
    study = str(ds.StudyInstanceUID)
    files_of = [r[0] for r in nl.index_rows(
        storage, "SELECT i.path FROM instances i JOIN series se ON i.series = se.id"
                 " JOIN studies st ON se.study = st.id WHERE st.study_uid = ?", (study,))]
    rc, out = nl.run([node, "delete", "--storage", storage, "--study", study, "--yes",
                      "--user", "hardening"])
    left_rows = nl.index_rows(storage, "SELECT count(*) FROM studies WHERE study_uid = ?",
                              (study,))[0][0]
    left_files = sum(os.path.exists(os.path.join(storage, f)) for f in files_of)
    record("delete a study beside the running node", "rows and files gone, echo answered",
           "%d file(s) before, %d row(s) and %d file(s) after; %s" % (
               len(files_of), left_rows, left_files, out.strip().splitlines()[-1][:60]),
           rc == 0 and files_of and left_rows == 0 and left_files == 0 and echo_ok(port))

    # 15. the audit trail of what happened above
    rc, out = nl.run([node, "audit", "--storage", storage, "--json"])
    import json
    events = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    kinds = {}
    for e in events:
        kinds[e["event"]] = kinds.get(e["event"], 0) + 1
    refused_ev = [e for e in events if e["event"] == "refused" and e.get("ae") == "BOUND"]
    store_ev = [e for e in events if e["event"] == "store" and e.get("instances", 0) >= 1]
    deleted_ev = [e for e in events if e["event"] == "delete" and
                  e.get("user") == "hardening" and e.get("study_uid") == study]
    record("audit trail", "start, store, refused (BOUND@127.0.0.1), delete recorded",
           ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
           rc == 0 and kinds.get("start") == 1 and refused_ev and
           refused_ev[0].get("host") == "127.0.0.1" and store_ev and deleted_ev)

    # the node served meanwhile and kept its resources
    time.sleep(1)
    rss1, fds1 = proc_figures(pid)
    log = srv.log_text()
    logged = log.count("refused")
    record("node after the hostile cases", "C-ECHO answered, no fd growth",
           "echo %s, fds %d -> %d, RSS %.1f -> %.1f MB, %d refusals logged" % (
               "ok" if echo_ok(port) else "FAILED", fds0, fds1, rss0 / 1e6, rss1 / 1e6,
               logged),
           echo_ok(port) and fds1 <= fds0 + 2,
           "RSS %.1f->%.1f MB, fds %d->%d" % (rss0 / 1e6, rss1 / 1e6, fds0, fds1))
    rc = srv.stop()
    record("clean stop", "exit 0 on SIGTERM", "exit %s" % rc, rc == 0)


    # Faults when forwarding: a second node whose routes send by calling AE
    # to three misbehaving peers (fakepeer.py)
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakepeer.py")
    peers = {"HANG": (port - 2, "hang"), "BUSY": (port - 3, "status:0xA700"),
             "REFUSE": (port - 4, "status:0xC000")}
    procs = []
    for ae, (pp, mode) in peers.items():
        procs.append(subprocess.Popen(["/usr/bin/python3", fake, str(pp), mode,
                                       os.path.join(work, "fake-%s.log" % ae)]))
    conf = "forward_timeout = 5\nretry_min = 1\nretry_max = 2\nmax_attempts = 2\n"
    for ae, (pp, mode) in peers.items():
        conf += "[peer %s]\nhost = 127.0.0.1\nport = %d\nassociations = 1\ncompress = none\n" % (ae, pp)
        conf += "[route to-%s]\nfrom_ae = TO%s\nto = %s\n" % (ae, ae, ae)
    storage2 = os.path.join(work, "var2")
    srv2 = nl.node_server(node, storage2, port - 1, os.path.join(work, "node2.log"), conf,
                          sync="normal").start()
    try:
        for ae in peers:
            f = os.path.join(work, "to-%s.dcm" % ae)
            new_instance(base, f)
            nl.run(["storescu", "-aet", "TO" + ae, "-aec", "CONSORT", "127.0.0.1",
                    str(port - 1), f], check_rc=0)
        # HANG needs forward_timeout (5 s) per attempt, REFUSE two attempts
        deadline = time.time() + 25
        state = {}
        while time.time() < deadline:
            state = {d: (st, att, err) for d, st, att, err in nl.index_rows(
                storage2, "SELECT dest, state, attempts, last_error FROM queue")}
            if (state.get("REFUSE", (0,))[0] == 3 and state.get("HANG", (0, 0, ""))[2] and
                    state.get("BUSY", (0, 0, ""))[2]):
                break
            time.sleep(0.5)
        echo2 = echo_ok(port - 1)
        h, b_, r = state.get("HANG"), state.get("BUSY"), state.get("REFUSE")
        names = {0: "pending", 1: "in flight", 3: "dead"}
        record("forward: peer hangs after associating", "timeout, item kept and retried",
               "%s, attempts %s, error '%s'; node echo %s" % (
                   names.get(h[0], h[0]), h[1], h[2][-34:], "ok" if echo2 else "FAILED")
               if h else "no queue item",
               bool(h) and h[0] != 3 and "time" in h[2].lower() and echo2)
        record("forward: peer answers 0xA700", "retried, never dead",
               "%s, attempts %s, error '%s'" % (names.get(b_[0], b_[0]), b_[1], b_[2][:40])
               if b_ else "no queue item",
               bool(b_) and b_[0] != 3 and "a7" in b_[2].lower())
        record("forward: peer answers 0xC000", "dead after max_attempts (2)",
               "%s, attempts %s, error '%s'" % (names.get(r[0], r[0]), r[1], r[2][:40])
               if r else "no queue item",
               bool(r) and r[0] == 3 and r[1] == 2)
    finally:
        rc2 = srv2.stop()
        for pr in procs:
            pr.terminate()
            pr.wait(timeout=10)
    kept = nl.index_rows(storage2, "SELECT count(*) FROM instances")[0][0]
    record("second node stop with items pending", "exit 0, all 3 instances kept",
           "exit %s, %d instance(s) in the index" % (rc2, kept), rc2 == 0 and kept == 3)


    # kill -9 in the middle of ingest: every instance acknowledged with
    # success must be there after the restart, intact
    many = os.path.join(work, "many")
    nl.gen_many(many, "--count", "300", "--kind", "tiny", "--seed", "62")
    files = sorted(nl.files_under(many))
    storage3 = os.path.join(work, "var3")
    srv3 = nl.node_server(node, storage3, port - 7, os.path.join(work, "node3.log")).start()
    log = open(os.path.join(work, "storescu-kill.log"), "wb")
    p = subprocess.Popen(["storescu", "-v", "-nh", "-aec", "CONSORT", "127.0.0.1",
                          str(port - 7)] + files, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.6)
    srv3.kill9()
    p.wait(timeout=60)
    log.close()
    acked, cur = [], None
    for line in open(os.path.join(work, "storescu-kill.log"), errors="replace"):
        if "Sending file:" in line:
            cur = line.split("Sending file:")[1].strip()
        elif "Received Store Response" in line and cur:
            if "(Success)" in line:
                acked.append(cur)
            cur = None
    srv3 = nl.node_server(node, storage3, port - 7, os.path.join(work, "node3b.log")).start()
    rows3 = {u for (u,) in nl.index_rows(storage3, "SELECT sop_uid FROM instances")}
    lost = damaged = 0
    for f in acked:
        u = str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
        if u not in rows3:
            lost += 1
        elif nl.dataset_bytes(os.path.join(storage3, nl.rel_path(u))) != nl.dataset_bytes(f):
            damaged += 1
    integ = nl.index_rows(storage3, "PRAGMA integrity_check")[0][0]
    record("kill -9 during ingest", "every acknowledged instance indexed and intact",
           "%d of %d acknowledged before the kill; after restart lost %d, damaged %d, "
           "index %s" % (len(acked), len(files), lost, damaged, integ),
           0 < len(acked) < len(files) and lost == 0 and damaged == 0 and integ == "ok")

    # kill -9 while forwarding: the restarted node sends the rest, each
    # instance reaches the province exactly once
    province = os.path.join(work, "var-province")
    srvp = nl.node_server(node, province, port - 5, os.path.join(work, "province.log"),
                          aet="PROVINCE", sync="normal").start()
    fconf = ("upstream = PROVINCE\n[peer PROVINCE]\nhost = 127.0.0.1\nport = %d\n"
             "associations = 1\n" % (port - 5))
    # node3 again, now forwarding what it holds from here on
    srv3.stop()
    storage4 = os.path.join(work, "var4")
    srv4 = nl.node_server(node, storage4, port - 6, os.path.join(work, "node4.log"), fconf,
                          sync="normal").start()
    nl.run(["storescu", "-aec", "CONSORT", "127.0.0.1", str(port - 6)] + files, check_rc=0)
    sent_before = 0
    deadline = time.time() + 20
    while time.time() < deadline:
        sent_before = nl.index_rows(province, "SELECT count(*) FROM instances")[0][0]
        if sent_before >= 20:
            break
        time.sleep(0.05)
    srv4.kill9()
    srv4 = nl.node_server(node, storage4, port - 6, os.path.join(work, "node4b.log"), fconf,
                          sync="normal").start()
    deadline = time.time() + 60
    n_prov = 0
    while time.time() < deadline:
        n_prov = nl.index_rows(province, "SELECT count(*) FROM instances")[0][0]
        left = nl.index_rows(storage4, "SELECT count(*) FROM queue")[0][0]
        if n_prov >= len(files) and left == 0:
            break
        time.sleep(0.5)
    dup_conflicts = len(os.listdir(os.path.join(province, "conflicts"))) \
        if os.path.isdir(os.path.join(province, "conflicts")) else 0
    record("kill -9 during forwarding", "after restart all reach the province once",
           "%d at the province when killed; after restart %d of %d, queue %d, "
           "conflicts %d" % (sent_before, n_prov, len(files), left, dup_conflicts),
           n_prov == len(files) and left == 0 and dup_conflicts == 0 and
           sent_before < len(files))
    srv4.stop()
    srvp.stop()
    srv3 = None

    # a full disk: node_fulldisk.py (a 3 MB tmpfs in a mount namespace)
    fd_script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "node_fulldisk.py")
    p = subprocess.run(["/usr/bin/python3", fd_script, node, os.path.join(work, "fulldisk"),
                        str(port - 8)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300)
    out = p.stdout.decode("utf-8", "replace")
    first = next((l[4:] for l in out.splitlines() if l.startswith("ok: disk full")), "")
    checks = sum(1 for l in out.splitlines() if l.startswith("ok: "))
    record("disk full (3 MB tmpfs, 600 instances)",
           "0xA7xx when it does not fit; acknowledged intact; stores once freed",
           ("%s; %d checks passed" % (first, checks)) if p.returncode == 0 else
           ("skipped: no mount namespace" if p.returncode == 77 else
            "FAILED: " + out.strip().splitlines()[-1] if out.strip() else "FAILED"),
           p.returncode in (0, 77))

    return print_table()


if __name__ == "__main__":
    sys.exit(main())
