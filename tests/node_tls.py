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
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402


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
                 % (p_prov_tls, pki["prov.pem"], pki["prov.key"], pki["ca.pem"]))
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
    print("node_tls: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
