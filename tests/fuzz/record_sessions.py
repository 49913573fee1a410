#!/usr/bin/python3
"""Seeds for fuzz_scp: what real DICOM clients send on one connection.

usage: record_sessions.py CONSORT_NODE OUTDIR [PORT]

Starts consort-node (its own storage in a temporary folder) on
127.0.0.1:PORT+1 and a relay on PORT that saves the client-to-server bytes
of each connection as OUTDIR/<client>-<n>.bin, then runs DCMTK's echoscu,
storescu (small pydicom files: uncompressed, JPEG, RLE, deflate where
present), findscu (Study and Patient Root, wildcards, ranges, a GB18030
query), getscu and movescu through it. The node is stopped by its PID.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

PYDICOM = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
STORE = ["CT_small.dcm", "MR_small.dcm", "MR_small_RLE.dcm",
         "JPEG2000.dcm", "SC_rgb_small_odd.dcm", "emri_small_jpeg_2k_lossless.dcm",
         "image_dfl.dcm", "SC_rgb_jpeg_gdcm.dcm"]


def relay(listen, node_port, outdir, counter, stop):
    while not stop.is_set():
        try:
            c, _ = listen.accept()
        except socket.timeout:
            continue
        s = socket.create_connection(("127.0.0.1", node_port))
        counter[0] += 1
        path = os.path.join(outdir, "%s-%d.bin" % (counter[1], counter[0]))
        rec = open(path, "wb")

        def pump(a, b, keep):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    if keep:
                        keep.write(d)
                    b.sendall(d)
            except OSError:
                pass
            try:
                b.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        t1 = threading.Thread(target=pump, args=(c, s, rec))
        t2 = threading.Thread(target=pump, args=(s, c, None))
        t1.start()
        t2.start()
        t1.join(30)
        t2.join(30)
        rec.close()
        c.close()
        s.close()


def main():
    if len(sys.argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    node, outdir = sys.argv[1], sys.argv[2]
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 11390
    os.makedirs(outdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="consort-record-")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    proc = subprocess.Popen([node, "serve", "--port", str(port + 1),
                             "--storage", os.path.join(work, "var"),
                             "--sync", "normal"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    stop = threading.Event()
    counter = [0, ""]
    listen = socket.socket()
    listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listen.bind(("127.0.0.1", port))
    listen.listen(8)
    listen.settimeout(0.5)
    th = threading.Thread(target=relay, args=(listen, port + 1, outdir, counter, stop))
    th.start()
    try:
        for _ in range(100):
            if subprocess.run(["echoscu", "-aec", "CONSORT", "127.0.0.1", str(port + 1)],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.1)
        a = ["-aec", "CONSORT", "127.0.0.1", str(port)]
        runs = [("echo", ["echoscu"] + a)]
        for f in STORE:
            p = os.path.join(PYDICOM, f)
            if os.path.exists(p):
                runs.append(("store", ["storescu", "-xs" if "RLE" in f or "jpeg" in f.lower()
                                       or "JPEG" in f else "-xe"] + a + [p]))
        runs.append(("store-many", ["storescu"] + a +
                     [os.path.join(PYDICOM, f) for f in STORE[:2]]))
        q = ["-k", "QueryRetrieveLevel=STUDY"]
        runs += [
            ("find", ["findscu", "-S"] + q + ["-k", "PatientName=C*", "-k", "StudyDate=2000-",
                                             "-k", "StudyInstanceUID", "-k", "ModalitiesInStudy"] + a),
            ("find", ["findscu", "-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID",
                      "-k", "PatientName=*"] + a),
            ("find", ["findscu", "-S", "-k", "QueryRetrieveLevel=SERIES", "-k", "SpecificCharacterSet=GB18030",
                      "-k", "PatientName=王*", "-k", "SeriesInstanceUID", "-k", "Modality=CT\\MR",
                      "-k", "StudyInstanceUID=1.2.3\\1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"] + a),
            ("find", ["findscu", "-S", "-k", "QueryRetrieveLevel=IMAGE", "-k", "SOPInstanceUID",
                      "-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
                      "-k", "SeriesInstanceUID=1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"] + a),
            ("get", ["getscu", "-S", "-od", work] + q +
             ["-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"] + a),
            ("move", ["movescu", "-S", "-aem", "NOWHERE"] + q +
             ["-k", "StudyInstanceUID=1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"] + a),
        ]
        for name, cmd in runs:
            counter[1] = name
            n = counter[0]
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=60)
            for _ in range(50):  # the relay saves the connection
                if counter[0] > n:
                    break
                time.sleep(0.1)
            time.sleep(0.2)
    finally:
        stop.set()
        th.join()
        listen.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    n = len([f for f in os.listdir(outdir) if f.endswith(".bin")])
    print("%d session(s) recorded in %s" % (n, outdir))
    return 0 if n > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
