#!/usr/bin/python3
"""Hostile input at consort-node's SCP: the fast cases of the hardening
issue. Each case runs against one node (its own storage, ARTIM 2 s, DIMSE
idle timeout 5 s) while the node must keep serving others; the script
prints one table at the end: case, expected behaviour, observed, pass/fail,
and the node's resident memory and open file descriptors before and after.

usage: tests/hardening/run.py CONSORT_NODE WORKDIR PORT

Cases: a connection that sends nothing; a slowloris association request
(the PDU header, then the body a byte every 0.4 s) while another client
asks for C-ECHO; a PDU claiming 4 GB; a P-DATA PDU before any
association; 64 KB of random bytes; a C-STORE whose SOP Instance UID
holds "/" and ".."; a CT Image Storage data set without an image; and
C-ECHO answered throughout. Exit 1 if any case fails.

The slowloris case failed before the node read association requests off
its accept loop with a total deadline: DCMTK's ARTIM restarts on every
read, so a trickled request held the accept loop and others could not
associate.
"""

import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
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


def assoc_rq_bytes(called=b"CONSORT", calling=b"HOSTILE"):
    """A minimal A-ASSOCIATE-RQ (PS3.8 9.3.2) with the Verification class."""
    def item(t, payload):
        return struct.pack(">BBH", t, 0, len(payload)) + payload
    app = item(0x10, b"1.2.840.10008.3.1.1.1")
    pc = item(0x20, struct.pack(">BBBB", 1, 0, 0, 0) +
              item(0x30, b"1.2.840.10008.1.1") + item(0x40, b"1.2.840.10008.1.2"))
    ui = item(0x50, item(0x51, struct.pack(">I", 16384)))
    body = (struct.pack(">HH", 1, 0) + called.ljust(16) + calling.ljust(16) +
            b"\0" * 32 + app + pc + ui)
    return struct.pack(">BBI", 0x01, 0, len(body)) + body


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    storage = os.path.join(work, "var")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node.log"),
                         "acse_timeout = %d\nidle_timeout = 5\n" % ACSE,
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
    ds = base.copy()
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
    ds = base.copy()
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


if __name__ == "__main__":
    sys.exit(main())
