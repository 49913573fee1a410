#!/usr/bin/python3
"""A fault-injecting TCP relay for the WAN test: the kernel here has no
netem, so delay, loss-like stalls and connection resets are made here.

usage: wan_relay.py --listen HOST:PORT --to HOST:PORT [--delay S]
                    [--stall-every BYTES] [--stall S] [--reset-every BYTES]
                    [--seed N] [--stats FILE]

Every byte is held for --delay seconds in each direction (a round trip
gains twice that), in order, without limiting throughput (the veth's tbf
qdisc does that). Loss on a real link shows up as TCP stalls and, when it
is bad, as broken connections: after a random amount of traffic averaging
--stall-every bytes the relay stops forwarding for 0.5 to 2 x --stall
seconds, and after --reset-every bytes on average it resets both sides of
the connection. Deterministic for a given --seed. On SIGTERM it writes its
counts (connections, stalls, resets, bytes each way) as JSON to --stats.
"""

import argparse
import collections
import json
import random
import signal
import socket
import struct
import sys
import threading
import time

lock = threading.Lock()
stats = collections.Counter()


def addr(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


class Pipe:
    """One direction: read, hold for the delay, write."""

    def __init__(self, src, dst, conn, name):
        self.src, self.dst, self.conn, self.name = src, dst, conn, name
        self.q = collections.deque()
        self.cv = threading.Condition()
        self.eof = False

    def reader(self):
        try:
            while True:
                b = self.src.recv(65536)
                if not b:
                    break
                with self.cv:
                    self.q.append((time.monotonic() + self.conn.a.delay, b))
                    self.cv.notify()
        except OSError:
            pass
        with self.cv:
            self.eof = True
            self.cv.notify()

    def writer(self):
        try:
            while True:
                with self.cv:
                    while not self.q and not self.eof:
                        self.cv.wait()
                    if not self.q:
                        break
                    due, b = self.q.popleft()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if self.conn.fault(len(b)):
                    return
                self.dst.sendall(b)
                with lock:
                    stats["bytes_" + self.name] += len(b)
        except OSError:
            pass
        finally:
            try:
                self.dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass


class Conn:
    def __init__(self, a, client, upstream, rng):
        self.a, self.c, self.u, self.rng = a, client, upstream, rng
        self.flock = threading.Lock()
        self.next_stall = self.draw(a.stall_every)
        self.next_reset = self.draw(a.reset_every)
        self.dead = False

    def draw(self, mean):
        return self.rng.expovariate(1.0 / mean) if mean > 0 else float("inf")

    def fault(self, n):
        """Called before forwarding n bytes; True if the connection was
        reset. Stalls block this direction (the other one stalls soon
        after, as a real TCP connection waiting on retransmissions does)."""
        with self.flock:
            if self.dead:
                return True
            self.next_stall -= n
            self.next_reset -= n
            if self.next_reset <= 0:
                self.dead = True
                with lock:
                    stats["resets"] += 1
                for s in (self.c, self.u):
                    try:  # RST, not FIN
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
                        s.close()
                    except OSError:
                        pass
                return True
            stall = 0.0
            if self.next_stall <= 0:
                self.next_stall = self.draw(self.a.stall_every)
                stall = self.a.stall * self.rng.uniform(0.5, 2.0)
                with lock:
                    stats["stalls"] += 1
                    stats["stall_seconds"] += stall
        if stall:
            time.sleep(stall)
        return False

    def run(self):
        up = Pipe(self.c, self.u, self, "up")
        down = Pipe(self.u, self.c, self, "down")
        ts = [threading.Thread(target=f, daemon=True)
              for f in (up.reader, up.writer, down.reader, down.writer)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for s in (self.c, self.u):
            try:
                s.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--stall-every", type=float, default=0)
    ap.add_argument("--stall", type=float, default=1.0)
    ap.add_argument("--reset-every", type=float, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stats")
    a = ap.parse_args()
    rng = random.Random(a.seed)

    def on_term(*_):
        if a.stats:
            with open(a.stats, "w") as f:
                json.dump(dict(stats), f)
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr(a.listen))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            u = socket.create_connection(addr(a.to), timeout=10)
            u.settimeout(None)
            u.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            with lock:
                stats["upstream_refused"] += 1
            c.close()
            continue
        with lock:
            stats["connections"] += 1
        conn = Conn(a, c, u, random.Random(rng.random()))
        threading.Thread(target=conn.run, daemon=True).start()


if __name__ == "__main__":
    main()
