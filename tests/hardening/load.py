"""Opt-in cases of tests/hardening/run.py: 200 concurrent associations
storing at once, a steady soak with queries and retrieves in parallel, and
the fuzz targets' figures. Each returns rows for run.py's table through
its record function."""

import os
import re
import struct
import subprocess
import threading
import time

import nodelib as nl
import pydicom
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset


def concurrent_stores(h, node, work, port, record, n_assoc=200, per=3):
    """n_assoc associations opened and held at the same moment (a barrier
    inside each), then per C-STOREs on each, then released."""
    files = os.path.join(work, "load-files")
    nl.gen_many(files, "--count", str(n_assoc * per), "--kind", "tiny", "--seed", "71")
    paths = sorted(nl.files_under(files))
    sets = []
    for i in range(n_assoc):
        one = []
        for p in paths[i * per:(i + 1) * per]:
            ds = pydicom.dcmread(p)
            # the data set as implicit VR LE, the syntax the context proposes
            b = DicomBytesIO()
            b.is_implicit_VR = True
            b.is_little_endian = True
            write_dataset(b, ds)
            one.append((str(ds.SOPClassUID), str(ds.SOPInstanceUID), b.getvalue()))
        sets.append(one)
    storage = os.path.join(work, "var-load")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node-load.log"),
                         "max_associations = %d\n" % (n_assoc + 20), sync="normal").start()
    rss0, fds0 = h.proc_figures(srv.proc.pid)
    barrier = threading.Barrier(n_assoc + 1, timeout=120)
    results = [None] * n_assoc

    def one(i):
        sop_class = sets[i][0][0]
        pc = h.item(0x20, struct.pack(">BBBB", 1, 0, 0, 0) + h.item(0x30, sop_class.encode()) +
                    h.item(0x40, b"1.2.840.10008.1.2"))
        s, reply = h.associate(port, h.assoc_rq_bytes(calling=b"LOAD%03d" % i, pc=pc))
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        if reply != 0x02:
            results[i] = "association %s" % reply
            s.close()
            return
        sts = []
        for k, (cls, uid, data) in enumerate(sets[i]):
            sts.append(h.store_on(s, 1, k + 1, cls, uid, data))
        h.send_quietly(s, struct.pack(">BBI", 5, 0, 4) + b"\0" * 4)
        h.recv_pdu(s, 30)
        s.close()
        results[i] = sts

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n_assoc)]
    t0 = time.time()
    for t in threads:
        t.start()
    try:
        barrier.wait()
        held = n_assoc
    except threading.BrokenBarrierError:
        held = -1
    rss_peak, fds_peak = h.proc_figures(srv.proc.pid)
    for t in threads:
        t.join(300)
    took = time.time() - t0
    time.sleep(1)
    rss1, fds1 = h.proc_figures(srv.proc.pid)
    ok = sum(1 for r in results if isinstance(r, list) and all(x == 0 for x in r))
    stored = nl.index_rows(storage, "SELECT count(*) FROM instances")[0][0]
    record("%d associations storing at once" % n_assoc,
           "all held at once, every C-STORE 0x0000",
           "%d held together, %d/%d associations all success, %d of %d indexed in %.1f s"
           % (held, ok, n_assoc, stored, n_assoc * per, took),
           held == n_assoc and ok == n_assoc and stored == n_assoc * per,
           "fds %d -> %d at peak -> %d; RSS %.1f -> %.1f -> %.1f MB" % (
               fds0, fds_peak, fds1, rss0 / 1e6, rss_peak / 1e6, rss1 / 1e6))
    srv.stop()


def soak(h, node, work, port, record, seconds, rate=10):
    """seconds of steady load: rate instances/s stored (storescu, one
    association a second), a C-FIND every 2 s, a C-GET of a study every
    5 s; RSS and fds after a minute of warm-up and at the end."""
    n = int(seconds * rate) + rate * 5
    files = os.path.join(work, "soak-files")
    print("  soak: generating %d instances ..." % n, flush=True)
    nl.gen_many(files, "--count", str(n), "--kind", "tiny", "--studies", str(max(1, n // 20)),
                "--seed", "72")
    paths = sorted(nl.files_under(files))
    storage = os.path.join(work, "var-soak")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node-soak.log"),
                         sync="full").start()
    pid = srv.proc.pid
    errors, counts = [], {"store": 0, "find": 0, "get": 0}
    stop = threading.Event()
    lock = threading.Lock()

    def note(kind, rc, out):
        with lock:
            if rc == 0:
                counts[kind] += 1
            else:
                errors.append("%s rc %d: %s" % (kind, rc, out.strip().splitlines()[-1][:100]
                                                if out.strip() else ""))

    def stores():
        i = 0
        while not stop.is_set() and i < len(paths):
            t = time.time()
            batch = paths[i:i + rate]
            i += rate
            rc, out = nl.run(["storescu", "-aec", "CONSORT", "127.0.0.1", str(port)] + batch,
                             timeout=120)
            note("store", rc, out)
            stop.wait(max(0, 1 - (time.time() - t)))

    def finds():
        while not stop.is_set():
            rc, out = nl.run(["findscu", "-S", "-aec", "CONSORT", "-k", "QueryRetrieveLevel=STUDY",
                              "-k", "PatientName", "-k", "StudyInstanceUID", "127.0.0.1",
                              str(port)], timeout=120)
            note("find", rc, out)
            stop.wait(2)

    def gets():
        out_dir = os.path.join(work, "soak-get")
        while not stop.is_set():
            rows = nl.index_rows(storage, "SELECT study_uid FROM studies ORDER BY random() "
                                          "LIMIT 1") if os.path.exists(
                os.path.join(storage, "index.sqlite")) else []
            if rows:
                os.makedirs(out_dir, exist_ok=True)
                rc, out = nl.run(["getscu", "-S", "-aec", "CONSORT", "-od", out_dir,
                                  "-k", "QueryRetrieveLevel=STUDY",
                                  "-k", "StudyInstanceUID=%s" % rows[0][0],
                                  "127.0.0.1", str(port)], timeout=120)
                note("get", rc, out)
                for f in os.listdir(out_dir):
                    os.unlink(os.path.join(out_dir, f))
            stop.wait(5)

    threads = [threading.Thread(target=f) for f in (stores, finds, gets)]
    t0 = time.time()
    for t in threads:
        t.start()
    warm = min(60, seconds / 5)
    time.sleep(warm)
    rss0, fds0 = h.proc_figures(pid)
    samples = [(time.time() - t0, rss0, fds0)]
    while time.time() - t0 < seconds:
        time.sleep(min(30, max(0.1, seconds - (time.time() - t0))))
        r, f = h.proc_figures(pid)
        samples.append((time.time() - t0, r, f))
        print("  soak %4.0f s: RSS %.1f MB, fds %d, stored %d, finds %d, gets %d, errors %d"
              % (samples[-1][0], r / 1e6, f, counts["store"] * rate, counts["find"],
                 counts["get"], len(errors)), flush=True)
    stop.set()
    for t in threads:
        t.join(300)
    rss1, fds1 = samples[-1][1], samples[-1][2]
    stored = nl.index_rows(storage, "SELECT count(*) FROM instances")[0][0]
    rc = srv.stop()
    grow = rss1 - rss0
    record("soak %d s (%d instances/s, C-FIND /2 s, C-GET /5 s)" % (seconds, rate),
           "no error, no fd growth, RSS growth < 16 MB",
           "%d stored, %d finds, %d gets, %d errors%s; clean stop %s" % (
               stored, counts["find"], counts["get"], len(errors),
               (" (first: %s)" % errors[0]) if errors else "", "yes" if rc == 0 else "no"),
           not errors and fds1 <= fds0 + 2 and grow < 16e6 and rc == 0,
           "after %.0f s warm-up -> end: RSS %.1f -> %.1f MB, fds %d -> %d" % (
               warm, rss0 / 1e6, rss1 / 1e6, fds0, fds1))


def fuzz(root, record, seconds):
    """tests/fuzz/run.sh for each target, seconds each; one row each."""
    for target in ("decode", "scp", "find"):
        p = subprocess.run(["bash", os.path.join(root, "tests", "fuzz", "run.sh"), target,
                            str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = p.stdout.decode("utf-8", "replace")
        ex = re.search(r"^executions: (\d+)", out, re.M)
        tm = re.search(r"^time: (\d+) s", out, re.M)
        new = re.search(r"^new findings: (\d+)", out, re.M)
        record("fuzz %s (libFuzzer, ASan+UBSan)" % target, "no finding outstanding",
               "%s new finding(s)" % (new.group(1) if new else "?"),
               p.returncode == 0 and new is not None and new.group(1) == "0",
               "%s executions in %s s" % (ex.group(1) if ex else "?", tm.group(1) if tm else "?"))
