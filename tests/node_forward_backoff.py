#!/usr/bin/python3
"""Forwarding to a destination that cannot be reached: the destination
backs off as a whole, its items do not.

usage: node_forward_backoff.py CONSORT_NODE WORKDIR PORT

Ports PORT..PORT+1. A county node (upstream = PROV, two associations,
retry_min = 2, retry_max = 8, max_attempts = 2) gets 300 instances in 60
studies while PROV is down, in three ways one after the other:
  - a listener that accepts each connection and closes it (counted), then
  - nothing listening at all (connection refused), then
  - a provincial node that rejects the association (COUNTY may not store);
in each, over 12 s the county makes at most a handful of attempts (one per
backoff period, one log line each), no item counts an attempt or goes
dead. Then the province accepts: the county logs that PROV is reachable
again, and all 300 arrive within retry_max plus the transfer, each once.

The code before this test made an attempt per study and per backoff of
each: some 30 connections a second, items dead after two rejections, and
single items waiting out a backoff of their own after the outage.
"""

import os
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

RETRY_MIN, RETRY_MAX = 2, 8
WINDOW = 12.0     # s watched in each kind of outage
MAX_ATTEMPTS_SEEN = 6  # in WINDOW: backoff 2, 4, 8 s (+-25 %) gives 3-4


class Closer:
    """Accepts connections on port and closes them at once, counting them:
    a host that is up with no DICOM behind the port."""

    def __init__(self, port):
        self.times = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.times.append(time.time())
            c.close()

    def close(self):
        self.sock.close()


def attempt_lines(log_path, start):
    """The county's WARN lines about PROV after byte offset start."""
    with open(log_path, "rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    return [ln for ln in text.splitlines()
            if " WARN " in ln and "dest=PROV" in ln and
            ("cannot associate" in ln or "link lost" in ln)]


def queue_state(storage):
    """(items, dead, largest attempts) of the county's queue."""
    return nl.index_rows(storage, "SELECT count(*), coalesce(sum(state = 3), 0),"
                                  " coalesce(max(attempts), 0) FROM queue")[0]


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    p_county, p_prov = port, port + 1
    c_store, p_store = os.path.join(work, "county"), os.path.join(work, "prov")
    c_log, p_log = os.path.join(work, "county.log"), os.path.join(work, "prov.log")
    data = os.path.join(work, "data")
    nl.gen_many(data, "--count", "300", "--studies", "60", "--seed", "31")
    n = len(nl.files_under(data))

    closer = Closer(p_prov)
    county = nl.node_server(
        node, c_store, p_county, c_log,
        "upstream = PROV\nretry_min = %d\nretry_max = %d\nmax_attempts = 2\n"
        "forward_timeout = 5\n[peer PROV]\nhost = 127.0.0.1\nport = %d\n"
        "associations = 2\n" % (RETRY_MIN, RETRY_MAX, p_prov),
        aet="COUNTY", sync="normal").start()
    nl.run(["storescu", "-aec", "COUNTY", "-aet", "CT1", "+sd", "+r",
            "127.0.0.1", str(p_county), data], check_rc=0)
    items = queue_state(c_store)[0]
    nl.check(items == n, "%d instances in 60 studies queued for PROV while it "
                         "is down" % items)

    # ---- a port that accepts and closes: connections counted ----
    t0, off = time.time(), os.path.getsize(c_log)
    time.sleep(WINDOW)
    conns = len([t for t in closer.times if t >= t0])
    lines = attempt_lines(c_log, off)
    closer.close()
    items, dead, att = queue_state(c_store)
    nl.expect(conns <= MAX_ATTEMPTS_SEEN and len(lines) <= conns + 1,
              "port accepting and closing: %d connection(s) and %d WARN "
              "line(s) in %.0f s (at most %d), e.g. %r" % (
                  conns, len(lines), WINDOW, MAX_ATTEMPTS_SEEN,
                  lines[-1][24:200] if lines else ""))
    nl.expect(dead == 0 and att == 0,
              "no item counted an attempt for it (largest %d) or went dead "
              "(%d)" % (att, dead))
    nl.expect(any("next attempt in" in ln for ln in lines),
              "the log says when the next attempt is")

    # ---- nothing listening: connection refused ----
    off = os.path.getsize(c_log)
    time.sleep(WINDOW)
    lines = attempt_lines(c_log, off)
    items, dead, att = queue_state(c_store)
    nl.expect(len(lines) <= MAX_ATTEMPTS_SEEN and dead == 0 and att == 0,
              "connection refused: %d attempt(s) in %.0f s, largest item "
              "attempts %d, %d dead" % (len(lines), WINDOW, att, dead))

    # ---- a province that rejects the association ----
    prov_base = ("[peer COUNTY]\nhost = 127.0.0.1\nport = %d\n" % p_county)
    prov = nl.node_server(node, p_store, p_prov, p_log,
                          "[access]\nstore = NOBODY\n" + prov_base,
                          aet="PROV", sync="normal").start()
    off = os.path.getsize(c_log)
    time.sleep(WINDOW)
    lines = attempt_lines(c_log, off)
    items, dead, att = queue_state(c_store)
    nl.expect(0 < len(lines) <= MAX_ATTEMPTS_SEEN and dead == 0 and att == 0 and
              any("rejected" in ln for ln in lines),
              "association rejected: %d attempt(s) in %.0f s, no item dead "
              "(%d) or counting it (largest %d): %r" % (
                  len(lines), WINDOW, dead, att,
                  lines[-1][24:200] if lines else ""))
    prov.stop()

    # ---- the province is back: everything flows at once ----
    off = os.path.getsize(c_log)
    prov = nl.node_server(node, p_store, p_prov, p_log, prov_base, aet="PROV",
                          sync="normal").start()
    t_up = time.time()
    bound = RETRY_MAX + 20
    got = 0
    while time.time() - t_up < bound:
        got = nl.index_rows(p_store, "SELECT count(*) FROM instances")[0][0]
        if got >= n:
            break
        time.sleep(0.2)
    took = time.time() - t_up
    total = nl.index_rows(p_store, "SELECT count(*), count(DISTINCT sop_uid) "
                                   "FROM instances")[0]
    nl.expect(total[0] == total[1] == n,
              "province back: %d/%d instances arrived in %.1f s (bound: "
              "retry_max + 20 s), each once" % (total[1], n, took))
    time.sleep(1)
    with open(c_log, "rb") as f:
        f.seek(off)
        after = f.read().decode("utf-8", "replace")
    items, dead, att = queue_state(c_store)
    nl.expect(items == 0 and "dest=PROV reachable again after" in after,
              "county queue empty (%d left, %d dead); the log says PROV is "
              "reachable again" % (items, dead))

    for s in (county, prov):
        if s.stop() != 0:
            nl.expect(False, "%s stopped cleanly" % s.log_path)
    nl.finish("node_forward_backoff")
    return 0


if __name__ == "__main__":
    sys.exit(main())
