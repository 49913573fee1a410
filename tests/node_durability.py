#!/usr/bin/python3
"""kill -9 of consort-node at random moments during a 1,000-instance
storescu run, repeated with restarts (DESIGN.md durability rules).

usage: node_durability.py CONSORT_NODE WORKDIR PORT [ROUNDS]  (default 10)

Each round starts the node (sync = full) on a new archive, starts
storescu on the 1,000 files, kills the node with SIGKILL once storescu has
seen a random number (seeded) of its instances acknowledged, and restarts
it. Odd rounds receive through STORAGE/tmp (as where O_TMPFILE is
missing), even rounds into unnamed files. After every
restart: every instance storescu saw acknowledged with success is in the
index and its file holds the data set that was
sent; no temp or partial file is left; PRAGMA integrity_check says ok.
At the end a clean stop must exit 0.
"""

import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402



def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.path.join(work, "data")
    nl.gen_many(data, "--count", "1000", "--studies", "20", "--seed", "5")
    files = nl.files_under(data)
    uid_of = {f: str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
              for f in files}
    log = os.path.join(work, "node.log")
    rng = random.Random(20261123)
    total = 0
    for r in range(rounds):
        # a fresh archive each round, so that every kill lands in a run of
        # new instances (re-sent duplicates are answered much faster)
        storage = os.path.join(work, "var%d" % r)
        acked = {}  # uid -> source file
        # odd rounds receive through STORAGE/tmp, as on file systems without
        # O_TMPFILE; even rounds into unnamed files in the data folders
        env = dict(os.environ, CONSORT_NO_TMPFILE="1") if r % 2 else None
        srv = nl.node_server(node, storage, port, log, env=env).start()
        # storescu -v prints each file it sends and the response it got
        # (into a file: a pipe nobody reads would stall it at 64 KB)
        out_path = os.path.join(work, "storescu-%d.log" % r)
        out_f = open(out_path, "wb")
        sc = subprocess.Popen(["storescu", "-v", "-aec", "CONSORT", "127.0.0.1",
                               str(port)] + files, stdout=out_f,
                              stderr=subprocess.STDOUT, env=nl.PEER_ENV)
        # kill after a random number of acknowledgements, read from
        # storescu's log as it grows: a random moment of the run whatever
        # the machine's speed (bounded wait)
        target = rng.randint(20, 980)
        t0 = time.time()
        while time.time() - t0 < 60 and sc.poll() is None:
            with open(out_path, "rb") as f:
                if f.read().count(b"Received Store Response (Success)") >= target:
                    break
            time.sleep(0.002)
        delay = time.time() - t0
        srv.kill9()
        sc.wait(timeout=120)
        out_f.close()
        with open(out_path, "rb") as f:
            out = f.read().decode("utf-8", "replace")
        current = None
        n_round = 0
        for line in out.splitlines():
            m = re.search(r"Sending file: (.*)$", line)
            if m:
                current = m.group(1).strip()
            elif "Received Store Response (Success)" in line and current:
                acked[uid_of[current]] = current
                n_round += 1
                current = None
        # restart: re-index, clean tmp/, and check everything acknowledged
        srv = nl.node_server(node, storage, port, log).start()
        tmp = os.listdir(os.path.join(storage, "tmp"))
        rows = {u for (u,) in nl.index_rows(storage, "SELECT sop_uid FROM instances")}
        missing = [u for u in acked if u not in rows]
        broken = [u for u, f in acked.items()
                  if u in rows and nl.dataset_bytes(
                      os.path.join(storage, nl.rel_path(u))) != nl.dataset_bytes(f)]
        ok = nl.index_rows(storage, "PRAGMA integrity_check")[0][0]
        srv.kill9()
        total += n_round
        nl.check(not tmp and not missing and not broken and ok == "ok",
                 "round %d (%s): killed after %.2f s (aimed at %d) with %d of 1000 "
                 "acknowledged; after "
                 "restart: %d indexed, missing %d, damaged %d, temp files %d, "
                 "integrity %s" % (r + 1, "via tmp/" if r % 2 else "O_TMPFILE",
                                   delay, target, n_round, len(rows), len(missing),
                                   len(broken), len(tmp), ok))
    nl.check(total > 0, "instances were acknowledged across rounds: %d" % total)
    srv = nl.node_server(node, storage, port, log).start()
    rc = srv.stop()
    nl.check(rc == 0, "final clean stop exits 0")
    print("node_durability: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
