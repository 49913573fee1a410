#!/usr/bin/python3
"""TLS between nodes, with certificates the test makes (openssl CLI).

usage: node_tls.py CONSORT_NODE WORKDIR PORT

Ports PORT..PORT+3. A CA signs the provincial node's and the county
node's certificates; a second, unrelated CA signs a rogue one.
  - the county forwards to the province's TLS port ([peer] tls = yes):
    everything arrives, and the province logs the associations as TLS;
  - DCMTK echoscu (an independent TLS client) with the county's
    certificate gets through; without a certificate (anonymous TLS), with
    the rogue certificate, or in plain TCP it does not (mutual
    authentication);
  - a county trusting only the rogue CA will not send to the province (it
    checks the server's certificate too): the items wait;
  - the plain port keeps working beside the TLS one.
"""

import os
import shutil
import subprocess
import sys
import socket
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402


ACSE = 3  # acse_timeout of the province


def openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if p.returncode != 0:
        nl.fail("openssl %s: %s" % (" ".join(args), p.stdout.decode()[-800:]))


def make_pki(d):
    os.makedirs(d)
    for ca in ("ca", "rogue-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                "-subj", "/CN=%s" % ca, "-keyout", ca + ".key", "-out", ca + ".pem",
                cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    for name, ca in (("prov", "ca"), ("county", "ca"), ("rogue", "rogue-ca")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
                "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
                ca + ".key", "-CAcreateserial", "-days", "30", "-extfile", "ext.cnf",
                "-out", name + ".pem", cwd=d)
    return {k: os.path.join(d, k) for k in os.listdir(d)}


def echoscu(port, *tls):
    rc, out = nl.run(["echoscu", "-aec", "PROV", "-aet", "TESTER"] + list(tls) +
                     ["127.0.0.1", str(port)], timeout=60)
    return rc, out


def main():
    node, work, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    pki = make_pki(os.path.join(work, "pki"))
    p_prov, p_prov_tls, p_county = port, port + 1, port + 2
    prov_conf = ("tls_port = %d\ntls_cert = %s\ntls_key = %s\ntls_ca = %s\n"
                 "acse_timeout = %d\n"
                 % (p_prov_tls, pki["prov.pem"], pki["prov.key"], pki["ca.pem"], ACSE))
    p_store = os.path.join(work, "prov")
    prov = nl.node_server(node, p_store, p_prov, os.path.join(work, "prov.log"),
                          prov_conf, aet="PROV", sync="normal").start()
    nl.wait_port(p_prov_tls)

    def county_conf(ca):
        return ("tls_cert = %s\ntls_key = %s\ntls_ca = %s\nupstream = PROV\n"
                "retry_min = 1\nretry_max = 2\n"
                "[peer PROV]\nhost = 127.0.0.1\nport = %d\ntls = yes\n"
                % (pki["county.pem"], pki["county.key"], ca, p_prov_tls))
    c_store = os.path.join(work, "county")
    county = nl.node_server(node, c_store, p_county, os.path.join(work, "county.log"),
                            county_conf(pki["ca.pem"]), aet="COUNTY",
                            sync="normal").start()

    data = os.path.join(work, "data")
    nl.gen_many(data, "--count", "20", "--studies", "2", "--seed", "31")
    uids = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
            for f in nl.files_under(data)}
    nl.run(["storescu", "+sd", "-aec", "COUNTY", "-aet", "CT1", "127.0.0.1",
            str(p_county), data], check_rc=0)
    t0 = time.time()
    while time.time() - t0 < 30:
        got = {r[0] for r in nl.index_rows(p_store, "SELECT sop_uid FROM instances")} \
            if os.path.exists(os.path.join(p_store, "index.sqlite")) else set()
        if uids <= got:
            break
        time.sleep(0.2)
    tls_assocs = prov.log_text().count("tls=1")
    nl.check(uids <= got and tls_assocs > 0,
             "county -> province over TLS (mutual): %d/%d arrived, %d TLS "
             "association(s) in the province's log" % (len(uids & got), len(uids),
                                                       tls_assocs))

    rc, out = echoscu(p_prov_tls, "+tls", pki["county.key"], pki["county.pem"],
                      "+cf", pki["ca.pem"])
    nl.check(rc == 0, "DCMTK echoscu with the county's certificate: C-ECHO over TLS "
                      "succeeds")
    rc, out = echoscu(p_prov_tls, "+tla", "+cf", pki["ca.pem"])
    nl.check(rc != 0, "echoscu without a certificate (anonymous TLS) is refused: %s"
             % out.strip().splitlines()[-1][:120])
    rc, out = echoscu(p_prov_tls, "+tls", pki["rogue.key"], pki["rogue.pem"],
                      "+cf", pki["ca.pem"])
    nl.check(rc != 0, "echoscu with a certificate of another CA is refused: %s"
             % out.strip().splitlines()[-1][:120])
    rc, out = echoscu(p_prov_tls)
    nl.check(rc != 0, "plain TCP to the TLS port is refused")
    rc, out = echoscu(p_prov)
    nl.check(rc == 0, "the plain port still answers beside the TLS one")

    # a client that connects to the TLS port and sends nothing, and one
    # that trickles a ClientHello, must not hold up a real TLS client
    silent = socket.create_connection(("127.0.0.1", p_prov_tls))
    slow = socket.create_connection(("127.0.0.1", p_prov_tls))
    slow.send(b"\x16\x03\x01\x02\x00")  # TLS record header of a ClientHello

    def trickle():
        try:
            for _ in range(40):
                slow.send(b"\x01")
                time.sleep(0.5)
        except OSError:
            pass
    th = threading.Thread(target=trickle)
    th.start()
    time.sleep(0.5)
    t0 = time.time()
    rc, out = echoscu(p_prov_tls, "+tls", pki["county.key"], pki["county.pem"],
                      "+cf", pki["ca.pem"])
    took = time.time() - t0
    nl.check(rc == 0 and took < 5,
             "TLS C-ECHO while a silent and a trickling connection sit on the TLS "
             "port: %s in %.1f s" % ("ok" if rc == 0 else "FAILED", took))
    t0 = time.time()
    closed = None
    slow.settimeout(0.5)
    while time.time() - t0 < ACSE + 6:
        try:
            if slow.recv(4096) == b"":
                closed = time.time() - t0
                break
        except socket.timeout:
            continue
        except OSError:
            closed = time.time() - t0
            break
    th.join()
    silent.close()
    slow.close()
    nl.check(closed is not None,
             "the trickling TLS connection is dropped by acse_timeout (%d s): after "
             "%s" % (ACSE, "%.1f s more" % closed if closed is not None else "never"))

    # the county checks the province's certificate as well
    county.stop()
    county = nl.node_server(node, c_store, p_county, os.path.join(work, "county.log"),
                            county_conf(pki["rogue-ca.pem"]), aet="COUNTY",
                            sync="normal").start()
    more = os.path.join(work, "more")
    nl.gen_many(more, "--count", "3", "--studies", "1", "--seed", "32")
    nl.run(["storescu", "+sd", "-aec", "COUNTY", "-aet", "CT1", "127.0.0.1",
            str(p_county), more], check_rc=0)
    time.sleep(4)
    rc, out = nl.run([node, "queue", "--storage", c_store], check_rc=0)
    line = [l for l in out.splitlines() if l.startswith("PROV")]
    nl.check(line and line[0].split()[1] == "3",
             "a county that does not trust the province's CA keeps the 3 items: %s"
             % (line[0][:200] if line else out))
    for s in (county, prov):
        if s.stop() != 0:
            nl.fail("a node did not stop cleanly")

    # TLS only: no plain port; a peer without tls = yes is a configuration
    # error
    prov = nl.node_server(node, p_store, p_prov, os.path.join(work, "prov2.log"),
                          prov_conf + "tls_only = yes\n", aet="PROV", sync="normal")
    prov.start_noport(settle=1.0)
    nl.wait_port(p_prov_tls)
    rc, out = echoscu(p_prov)
    nl.check(rc != 0 and ("refused" in out.lower() or "connection" in out.lower()),
             "tls_only: nothing listens on the plain port (%s)" %
             out.strip().splitlines()[-1][:80])
    rc, out = echoscu(p_prov_tls, "+tls", pki["county.key"], pki["county.pem"],
                      "+cf", pki["ca.pem"])
    nl.check(rc == 0, "tls_only: C-ECHO over TLS works")
    if prov.stop() != 0:
        nl.fail("the TLS-only node did not stop cleanly")
    bad = os.path.join(work, "bad.conf")
    with open(bad, "w") as f:
        f.write("[node]\nport = %d\nstorage = %s\n%stls_only = yes\n"
                "[peer PACS]\nhost = 127.0.0.1\nport = 104\n" % (p_prov, p_store, prov_conf))
    rc, out = nl.run([node, "serve", "--config", bad], timeout=30)
    nl.check(rc != 0 and "tls_only" in out and "PACS" in out,
             "tls_only with a peer without tls = yes does not start: %s" %
             out.strip().splitlines()[-1][:120])
    print("node_tls: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
