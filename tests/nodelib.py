"""Helpers for the node's integration tests: start consort-node serve (and
peers) on loopback, wait until it answers, stop every process by its PID,
read the archive's index and files.

Every server a test starts goes through Server, whose stop() (also run at
exit) sends SIGTERM, waits, and kills with SIGKILL if it must.
"""

import atexit
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

PEER_ENV = dict(os.environ, TCP_NODELAY="1")  # DESIGN.md rule 6: DCMTK peers
PYDICOM_DATA = "/usr/lib/python3/dist-packages/pydicom/data"

_servers = []


def fail(msg):
    print("FAILED: " + msg, flush=True)
    for s in list(_servers):
        s.stop()
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


failures = []


def expect(cond, msg):
    """check() that goes on after a failure (every check of a long test
    reported); finish() then exits 1 if any failed."""
    print(("ok: " if cond else "FAILED: ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def finish(name):
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("%s: all checks passed" % name)


def wait_port(port, timeout=15.0, proc=None):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A process listening on port, stopped by PID."""

    def __init__(self, argv, port, log_path, env=None, cwd=None):
        self.argv, self.port, self.log_path = argv, port, log_path
        self.env, self.cwd = env, cwd
        self.proc = None

    def start(self, timeout=30.0):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env,
                                     cwd=self.cwd)
        _servers.append(self)
        if not wait_port(self.port, timeout, self.proc):
            fail("%s did not start listening on %d (see %s)" % (
                self.argv[0], self.port, self.log_path))
        return self

    def start_noport(self, settle=0.5):
        """start() for a process the test cannot connect to (it listens in
        another network namespace): started, given settle seconds, alive."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env,
                                     cwd=self.cwd)
        _servers.append(self)
        time.sleep(settle)
        if self.proc.poll() is not None:
            fail("%s exited at once (see %s)" % (" ".join(self.argv[:6]),
                                                  self.log_path))
        return self

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            rc = self.proc.returncode
        self.proc = None
        self.log.close()
        if self in _servers:
            _servers.remove(self)
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.log.close()
        _servers.remove(self)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


@atexit.register
def _stop_all():
    for s in list(_servers):
        s.stop()


def node_server(node, storage, port, log_path, extra_conf="", aet="CONSORT",
                sync="full", env=None):
    conf = os.path.join(os.path.dirname(log_path),
                        os.path.basename(log_path) + ".conf")
    with open(conf, "w") as f:
        f.write("[node]\nae_title = %s\nport = %d\nstorage = %s\nsync = %s\n"
                "log_level = info\n%s" % (aet, port, storage, sync, extra_conf))
    return Server([node, "serve", "--config", conf], port, log_path, env=env)


def run(argv, env=None, timeout=300, check_rc=None, cwd=None):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       env=env or PEER_ENV, timeout=timeout, cwd=cwd)
    out = p.stdout.decode("utf-8", "replace")
    if check_rc is not None and p.returncode != check_rc:
        fail("%s exited %d (expected %d):\n%s" % (" ".join(argv), p.returncode,
                                                 check_rc, out[-3000:]))
    return p.returncode, out


GEN_MANY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen",
                        "gen_many.py")
GEN_SYNTHETIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen",
                             "gen_synthetic.py")


def gen_many(outdir, *args):
    """Synthetic instances (tests/gen/gen_many.py OUTDIR ARGS...)."""
    run(["/usr/bin/python3", GEN_MANY, outdir] + [str(a) for a in args],
        check_rc=0)


def gen_synthetic(outdir, *args):
    """Synthetic series (tests/gen/gen_synthetic.py OUTDIR ARGS...)."""
    run(["/usr/bin/python3", GEN_SYNTHETIC, outdir] + [str(a) for a in args],
        check_rc=0)


def rel_path(sop_uid):
    h = hashlib.sha256(sop_uid.encode()).hexdigest()[:32]
    return "data/%s/%s.dcm" % (h[:2], h)


def index_rows(storage, sql, args=()):
    db = sqlite3.connect("file:%s/index.sqlite?mode=ro" % storage, uri=True)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def index_exec(storage, sql, args=()):
    """A write to the index (tests simulating lost commits)."""
    db = sqlite3.connect("%s/index.sqlite" % storage, timeout=30)
    try:
        db.execute(sql, args)
        db.commit()
    finally:
        db.close()


def dataset_bytes(path):
    """The bytes after the Part-10 meta group (the data set)."""
    with open(path, "rb") as f:
        b = f.read()
    if len(b) > 144 and b[128:132] == b"DICM" and b[132:138] == b"\x02\x00\x00\x00UL":
        gl = int.from_bytes(b[140:144], "little")
        return b[144 + gl:]
    return b


def files_under(d):
    out = []
    for root, _, names in os.walk(d):
        for n in sorted(names):
            out.append(os.path.join(root, n))
    return sorted(out)


def slow_link(target_port, rate, to_target=False):
    """A TCP relay on 127.0.0.1 (an ephemeral port, returned with its
    socket) to target_port that passes the target's bytes on at `rate`
    bytes/s, like a county link (to_target: the bytes sent to the target
    instead); the other direction is not slowed."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def pump(src, dst, limit):
        try:
            while True:
                b = src.recv(max(1024, limit // 20) if limit else 65536)
                if not b:
                    break
                dst.sendall(b)
                if limit:
                    time.sleep(len(b) / limit)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def accept():
        while True:
            try:
                c, _ = srv.accept()
                u = socket.create_connection(("127.0.0.1", target_port))
            except OSError:
                return
            down, up = (0, rate) if to_target else (rate, 0)
            threading.Thread(target=pump, args=(u, c, down), daemon=True).start()
            threading.Thread(target=pump, args=(c, u, up), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    return srv, srv.getsockname()[1]
