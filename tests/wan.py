#!/usr/bin/python3
"""A county node forwarding to the provincial node over a bad WAN.

usage: wan.py CONSORT_NODE WORKDIR [--slices N]

Two network namespaces made by the test (consort-cty, consort-prv) joined by
a veth pair; tbf limits the county's side to 10 Mbit/s. The kernel has no
netem, so tests/wan_relay.py (in the county namespace, between the county
node and the link) adds 50 ms each way (100 ms round trip), stalls of
~1 s every ~4 MB on average and a connection reset every ~40 MB: what 1 %
loss does to TCP, made deterministic. storescu pushes a 300-slice CT
(tests/gen/gen_synthetic.py) and an RGB ultrasound cine into the county
node; with the CT a third across, the link goes down for 60 s; with two
thirds across, the county node is killed (SIGKILL) and restarted.

Checks: the provincial index holds every instance exactly once; each file
decodes (GDCM) to the original pixels bit for bit. Prints the bytes on the
wire (veth counters) / uncompressed bytes (target <= 0.45 for the CT), the
total time / the ideal time at 10 Mbit/s for the bytes that had to cross,
the retries, and the result. Needs root (namespaces); exits 77 (skipped)
without it.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodelib as nl  # noqa: E402

import pydicom  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CTY, PRV = "consort-cty", "consort-prv"
P_PROV, P_COUNTY, P_RELAY = 11270, 11271, 11272
RATE = 10e6  # bit/s


def sh(*argv, check=True):
    p = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and p.returncode != 0:
        nl.fail("%s: %s" % (" ".join(argv), p.stdout.decode()))
    return p.stdout.decode()


def netns_down():
    for ns in (CTY, PRV):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def netns_up():
    netns_down()
    sh("ip", "netns", "add", CTY)
    sh("ip", "netns", "add", PRV)
    sh("ip", "link", "add", "cty0", "netns", CTY, "type", "veth", "peer", "name",
       "prv0", "netns", PRV)
    for ns, dev, ip in ((CTY, "cty0", "10.77.0.1/24"), (PRV, "prv0", "10.77.0.2/24")):
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", ip, "dev", dev)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
           "rate", "10mbit", "burst", "32kbit", "latency", "400ms")


def tx_bytes():
    out = sh("ip", "netns", "exec", CTY, "ip", "-j", "-s", "link", "show", "dev", "cty0")
    return json.loads(out)[0]["stats64"]["tx"]["bytes"]


def link(state):
    sh("ip", "netns", "exec", CTY, "ip", "link", "set", "cty0", state)


def in_ns(ns, argv):
    return ["ip", "netns", "exec", ns] + argv


def prov_uids(store):
    if not os.path.exists(os.path.join(store, "index.sqlite")):
        return {}
    try:
        return dict(nl.index_rows(store, "SELECT sop_uid, path FROM instances"))
    except Exception:  # the node creating it right now
        return {}


def pixels_equal(orig, there):
    fd, tmp = tempfile.mkstemp(suffix=".dcm")
    os.close(fd)
    try:
        subprocess.run(["gdcmconv", "--raw", there, tmp], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return pydicom.dcmread(tmp).PixelData == pydicom.dcmread(orig).PixelData
    finally:
        os.unlink(tmp)


def main():
    node, work = sys.argv[1], sys.argv[2]
    slices = int(sys.argv[sys.argv.index("--slices") + 1]) if "--slices" in sys.argv else 300
    if os.geteuid() != 0 or subprocess.run(["ip", "netns", "add", "consort-probe"],
                                           stderr=subprocess.DEVNULL).returncode != 0:
        print("wan: needs root and network namespaces; skipped")
        return 77
    subprocess.run(["ip", "netns", "del", "consort-probe"])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    data = os.path.join(work, "data")
    nl.gen_synthetic(data, "--ct-slices", slices, "--only", "ct,us")
    ct = nl.files_under(os.path.join(data, "ct"))
    us = nl.files_under(os.path.join(data, "us"))
    uid_of = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID): f
              for f in ct + us}
    ct_uids = {u for u, f in uid_of.items() if f in ct}
    ct_raw = sum(os.path.getsize(f) for f in ct)
    us_raw = sum(os.path.getsize(f) for f in us)

    netns_up()
    try:
        return run(node, work, ct, us, uid_of, ct_uids, ct_raw, us_raw)
    finally:
        nl._stop_all()
        netns_down()


def run(node, work, ct, us, uid_of, ct_uids, ct_raw, us_raw):
    p_store, c_store = os.path.join(work, "prov"), os.path.join(work, "county")
    prov = nl.Server(in_ns(PRV, [node, "serve", "--config", conf(work, "prov", (
        "ae_title = PROV\nport = %d\nstorage = %s\nsync = full\n" % (P_PROV, p_store)))]),
        None, os.path.join(work, "prov.log"))
    prov.start_noport()
    county_argv = in_ns(CTY, [node, "serve", "--config", conf(work, "county", (
        "ae_title = COUNTY\nport = %d\nstorage = %s\nsync = full\nupstream = PROV\n"
        "retry_min = 1\nretry_max = 8\nforward_timeout = 20\n"
        "[peer PROV]\nhost = 127.0.0.1\nport = %d\n" % (P_COUNTY, c_store, P_RELAY)))])
    county = nl.Server(county_argv, None, os.path.join(work, "county.log"))
    county.start_noport()
    relay = nl.Server(in_ns(CTY, ["/usr/bin/python3", os.path.join(HERE, "wan_relay.py"),
                                  "--listen", "127.0.0.1:%d" % P_RELAY,
                                  "--to", "10.77.0.2:%d" % P_PROV, "--delay", "0.05",
                                  "--stall-every", "4e6", "--stall", "1",
                                  "--reset-every", "40e6", "--seed", "7",
                                  "--stats", os.path.join(work, "relay.json")]),
                      None, os.path.join(work, "relay.log"))
    relay.start_noport()
    time.sleep(1.0)

    t0 = time.time()
    tx0 = tx_bytes()
    rc, out = nl.run(in_ns(CTY, ["storescu", "-aec", "COUNTY", "-aet", "CT1", "+sd",
                                 "127.0.0.1", str(P_COUNTY), os.path.join(work, "data", "ct")]))
    if rc != 0:
        nl.fail("storescu into the county node: %s" % out[-1500:])
    print("CT (%d slices, %.1f MB) stored at the county in %.1f s; forwarding"
          % (len(ct), ct_raw / 1e6, time.time() - t0), flush=True)

    def progress():
        return len(ct_uids & set(prov_uids(p_store)))

    def wait_ct(n, what, timeout):
        t = time.time()
        while time.time() - t < timeout:
            k = progress()
            if k >= n:
                return k
            time.sleep(0.5)
        nl.fail("timed out (%d s) waiting for %s: %d/%d CT slices at the province"
                % (timeout, what, progress(), len(ct)))

    wait_ct(len(ct) // 3, "a third of the CT", 600)
    link("down")
    down_at = progress()
    print("link down for 60 s at %d/%d slices" % (down_at, len(ct)), flush=True)
    time.sleep(60)
    link("up")
    wait_ct(2 * len(ct) // 3, "two thirds of the CT", 900)
    county.kill9()
    killed_at = progress()
    print("county node killed (SIGKILL) at %d/%d slices; restarted" % (killed_at, len(ct)),
          flush=True)
    county = nl.Server(county_argv, None, os.path.join(work, "county.log"))
    county.start_noport()
    wait_ct(len(ct), "the whole CT", 900)
    ct_time = time.time() - t0
    ct_wire = tx_bytes() - tx0

    t1 = time.time()
    tx1 = tx_bytes()
    rc, out = nl.run(in_ns(CTY, ["storescu", "-aec", "COUNTY", "-aet", "US1", "+sd",
                                 "127.0.0.1", str(P_COUNTY), os.path.join(work, "data", "us")]))
    if rc != 0:
        nl.fail("storescu (ultrasound) into the county node: %s" % out[-1500:])
    us_uids = set(uid_of) - ct_uids
    while not us_uids <= set(prov_uids(p_store)):
        if time.time() - t1 > 300:
            nl.fail("the ultrasound did not arrive in 300 s")
        time.sleep(0.5)
    us_time = time.time() - t1
    us_wire = tx_bytes() - tx1

    for s in (county, relay, prov):
        s.stop()
    got = prov_uids(p_store)
    rows = nl.index_rows(p_store, "SELECT count(*), count(DISTINCT sop_uid) FROM instances")[0]
    nl.check(set(got) == set(uid_of) and rows[0] == rows[1] == len(uid_of),
             "the province holds all %d instances exactly once" % len(uid_of))
    same = sum(pixels_equal(uid_of[u], os.path.join(p_store, p)) for u, p in got.items())
    nl.check(same == len(uid_of), "%d/%d decode (GDCM) to the original pixels bit for "
                                  "bit" % (same, len(uid_of)))
    rs = json.load(open(os.path.join(work, "relay.json")))
    log = open(os.path.join(work, "county.log"), encoding="utf-8", errors="replace").read()
    retries = log.count("cannot associate") + log.count("link lost")
    fwd = nl.index_rows(c_store, "SELECT bytes, raw_bytes FROM forward_stats "
                                 "WHERE dest = 'PROV'")
    ideal_ct = ct_wire * 8 / RATE
    ratio = ct_wire / ct_raw
    print()
    print("%-34s %12s %12s %8s %10s %10s %8s" % ("", "uncompressed", "on the wire",
                                                "ratio", "time", "ideal", "x ideal"))
    print("%-34s %10.1f MB %10.1f MB %8.2f %8.1f s %8.1f s %8.2f" % (
        "CT %d slices (outage, kill -9)" % len(ct), ct_raw / 1e6, ct_wire / 1e6, ratio,
        ct_time, ideal_ct, ct_time / ideal_ct))
    ideal_us = us_wire * 8 / RATE
    print("%-34s %10.1f MB %10.1f MB %8.2f %8.1f s %8.1f s %8.2f" % (
        "US cine (RGB, %d file)" % len(us), us_raw / 1e6, us_wire / 1e6, us_wire / us_raw,
        us_time, ideal_us, us_time / ideal_us))
    print("link: 10 Mbit/s (tbf), 100 ms round trip, %d stalls (%.0f s), %d resets "
          "(relay); 60 s down; county killed once" % (
              rs.get("stalls", 0), rs.get("stall_seconds", 0), rs.get("resets", 0)))
    print("retries (failed associations or broken transfers, county log): %d" % retries)
    if fwd:
        print("county forward_stats: %.1f MB sent for %.1f MB stored" % (
            fwd[0][0] / 1e6, fwd[0][1] / 1e6))
    print("ideal = the bytes that crossed the veth at 10 Mbit/s; the time includes the "
          "60 s outage and the restart")
    nl.check(ratio <= 0.45, "CT bytes on the wire / uncompressed = %.2f (target <= 0.45)"
             % ratio)
    print("wan: all checks passed")
    return 0


def conf(work, name, node_keys):
    p = os.path.join(work, name + ".conf")
    with open(p, "w") as f:
        f.write("[node]\nlog_level = info\n" + node_keys)
    return p


if __name__ == "__main__":
    sys.exit(main())
