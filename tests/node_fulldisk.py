#!/usr/bin/python3
"""A full disk: consort-node's storage on a 3 MB tmpfs, storescu sends 600
instances (~5 MB).

usage: node_fulldisk.py CONSORT_NODE WORKDIR PORT

Runs itself inside a private mount namespace (unshare -rm; or plain mount
when root without user namespaces) so the small tmpfs disappears with it.
Checks: the stores that do not fit get failure statuses (0xA7xx, out of
resources) instead of success; every instance acknowledged with success is
indexed and intact; no temp file is left; the index passes integrity_check;
the node keeps answering; once space is freed the failed instances store.
Then `consort-node import` onto another full tmpfs: it stops at the first
file that does not fit (exit 1), the archive and its index agree
(`verify`), nothing is left in tmp/; with space the same import brings in
the rest.
Exit 77 (skipped) only if no way to mount a tmpfs exists here.
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402



def storescu(port, files, log):
    with open(log, "wb") as f:
        subprocess.run(["storescu", "-v", "-nh", "-aec", "CONSORT", "127.0.0.1",
                        str(port)] + files, stdout=f, stderr=subprocess.STDOUT,
                       env=nl.PEER_ENV, timeout=300)
    out = open(log, "rb").read().decode("utf-8", "replace")
    ok, bad, cur = [], [], None
    for line in out.splitlines():
        m = re.search(r"Sending file: (.*)$", line)
        if m:
            cur = m.group(1).strip()
        elif "Received Store Response" in line and cur:
            (ok if "(Success)" in line else bad).append((cur, line.strip()))
            cur = None
    return ok, bad


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if os.environ.get("CONSORT_IN_NS") != "1":
        env = dict(os.environ, CONSORT_IN_NS="1")
        # a private mount namespace: as any user where user namespaces are
        # allowed (unshare -rm), or as root (unshare -m)
        for opts in (["-rm"], ["-m"]):
            if shutil.which("unshare") and subprocess.run(
                    ["unshare"] + opts + ["true"], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL).returncode == 0:
                return subprocess.run(["unshare"] + opts + [sys.executable] +
                                      sys.argv, env=env).returncode
        print("SKIPPED: cannot create a mount namespace for a small tmpfs")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.path.join(work, "data")
    nl.gen_many(data, "--count", "600", "--studies", "6", "--seed", "9")
    files = nl.files_under(data)
    disk = os.path.join(work, "disk")
    os.makedirs(disk)
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", disk]).returncode
    if rc != 0:
        print("SKIPPED: mount -t tmpfs failed in the namespace")
        return 77
    storage = os.path.join(disk, "var")
    srv = nl.node_server(node, storage, port, os.path.join(work, "node.log")).start()
    ok, bad = storescu(port, files, os.path.join(work, "storescu1.log"))
    statuses = sorted({re.sub(r".*Response \((.*)\).*", r"\1", b) for _, b in bad})
    nl.check(len(ok) > 50 and len(bad) > 50 and all("OutOfResources" in s or "A7" in s
                                                    for s in statuses),
             "disk full: %d stored, %d refused with %s" % (len(ok), len(bad), statuses))
    rows = {u for (u,) in nl.index_rows(storage, "SELECT sop_uid FROM instances")}
    uid = {f: str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
           for f in files}
    missing = [f for f, _ in ok if uid[f] not in rows]
    damaged = [f for f, _ in ok if uid[f] in rows and nl.dataset_bytes(
        os.path.join(storage, nl.rel_path(uid[f]))) != nl.dataset_bytes(f)]
    refused_in = [f for f, _ in bad if uid[f] in rows]
    tmp = os.listdir(os.path.join(storage, "tmp"))
    integ = nl.index_rows(storage, "PRAGMA integrity_check")[0][0]
    nl.check(not missing and not damaged and not refused_in and not tmp and integ == "ok",
             "every acknowledged instance indexed and intact (missing %d, damaged %d), "
             "no refused one indexed (%d), temp files %d, integrity %s" % (
                 len(missing), len(damaged), len(refused_in), len(tmp), integ))
    files_on_disk = len(nl.files_under(os.path.join(storage, "data")))
    nl.check(files_on_disk == len(rows), "files on disk (%d) = index rows (%d)" % (
        files_on_disk, len(rows)))
    rc, out = nl.run(["echoscu", "-aec", "CONSORT", "127.0.0.1", str(port)])
    nl.check(rc == 0, "the node still answers C-ECHO on a full disk")
    # free space: raise the tmpfs size, resend what failed
    subprocess.run(["mount", "-o", "remount,size=64m", disk], check=True)
    ok2, bad2 = storescu(port, [f for f, _ in bad], os.path.join(work, "storescu2.log"))
    n = nl.index_rows(storage, "SELECT count(*) FROM instances")[0][0]
    nl.check(not bad2 and n == len(files),
             "after freeing space the %d refused instances store: %d indexed" % (
                 len(ok2), n))
    rc = srv.stop()
    nl.check(rc == 0, "clean stop")
    subprocess.run(["umount", disk])
    # consort-node import onto a full disk: it stops at the first file that
    # does not fit, the archive and its index still agree, nothing is left
    # in tmp/; with space the same import brings in the rest
    disk2 = os.path.join(work, "disk2")
    os.makedirs(disk2)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", disk2],
                   check=True)
    st2 = os.path.join(disk2, "var")
    rc, out = nl.run([node, "import", data, "--storage", st2, "--no-progress"])
    vrc, vout = nl.run([node, "verify", "--storage", st2, "--no-progress"])
    m = re.search(r"^(\d+) instance\(s\)", out, re.M)
    nl.check(rc == 1 and "disk is full: stopped" in out and "not tried (disk full)"
             in out and vrc == 0 and not os.listdir(os.path.join(st2, "tmp")),
             "import onto a full disk stops, says so, exit 1; verify: the archive "
             "and its index agree (%s)" % (m.group(0) if m else out[-200:]))
    subprocess.run(["mount", "-o", "remount,size=64m", disk2], check=True)
    rc, out = nl.run([node, "import", data, "--storage", st2, "--no-progress"])
    n2 = nl.index_rows(st2, "SELECT count(*) FROM instances")[0][0]
    nl.check(rc == 0 and n2 == len(files),
             "with space, the same import brings in the rest: %d indexed" % n2)
    subprocess.run(["umount", disk2])
    print("node_fulldisk: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
