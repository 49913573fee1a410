#!/usr/bin/python3
"""A misbehaving DICOM peer for the fault cases: it speaks just enough of
the upper layer (PS3.8) and DIMSE (PS3.7) to accept an association and
C-ECHO, and then, per MODE, answers every C-STORE with one status or
never answers at all.

usage: fakepeer.py PORT MODE [LOG]
  MODE  status:0xA700   answer C-STORE with that status
        hang            accept the association, read everything, answer
                        nothing (a peer that hangs)

Every connection is served on its own thread; SIGTERM stops it. LOG
(default stderr) gets one line per C-STORE seen.
"""

import signal
import socket
import struct
import sys
import threading

IMPLICIT_LE = b"1.2.840.10008.1.2"


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b


def recv_pdu(s):
    h = recv_exact(s, 6)
    return h[0], recv_exact(s, struct.unpack(">I", h[2:])[0])


def item(t, payload):
    return struct.pack(">BBH", t, 0, len(payload)) + payload


def accept_ac(rq):
    """A-ASSOCIATE-AC accepting each proposed context with implicit VR
    little endian when offered, else its first transfer syntax."""
    called, calling = rq[4:20], rq[20:36]
    out = item(0x10, b"1.2.840.10008.3.1.1.1")
    o = 68
    while o + 4 <= len(rq):
        t, ln = rq[o], struct.unpack(">H", rq[o + 2:o + 4])[0]
        body = rq[o + 4:o + 4 + ln]
        if t == 0x20:
            pcid, tss, j = body[0], [], 4
            while j + 4 <= len(body):
                st, sl = body[j], struct.unpack(">H", body[j + 2:j + 4])[0]
                if st == 0x40:
                    tss.append(body[j + 4:j + 4 + sl])
                j += 4 + sl
            ts = IMPLICIT_LE if IMPLICIT_LE in tss else (tss[0] if tss else IMPLICIT_LE)
            out += item(0x21, bytes([pcid, 0, 0, 0]) + item(0x40, ts))
        o += 4 + ln
    out += item(0x50, item(0x51, struct.pack(">I", 16384)) +
                item(0x52, b"1.2.826.0.1.3680043.9.7433.99"))
    body = struct.pack(">HH", 1, 0) + called + calling + b"\0" * 32 + out
    return struct.pack(">BBI", 0x02, 0, len(body)) + body


def elements(cmd):
    """Implicit VR LE command set -> {element: bytes}."""
    out, o = {}, 0
    while o + 8 <= len(cmd):
        g, e, ln = struct.unpack("<HHI", cmd[o:o + 8])
        out[e] = cmd[o + 8:o + 8 + ln]
        o += 8 + ln
    return out


def el(e, v):
    return struct.pack("<HHI", 0, e, len(v)) + v


def uid(v):
    return v if len(v) % 2 == 0 else v + b"\0"


def response(rq, field, status):
    body = (el(0x0002, uid(rq.get(0x0002, b"").rstrip(b"\0"))) +
            el(0x0100, struct.pack("<H", field)) +
            el(0x0120, rq.get(0x0110, b"\0\0")) +
            el(0x0800, struct.pack("<H", 0x0101)) +
            el(0x0900, struct.pack("<H", status)))
    if 0x1000 in rq:
        body += el(0x1000, uid(rq[0x1000].rstrip(b"\0")))
    return el(0x0000, struct.pack("<I", len(body))) + body


def serve(conn, mode, log):
    try:
        t, rq = recv_pdu(conn)
        if t != 0x01:
            return
        conn.sendall(accept_ac(rq))
        cmd, data_left = b"", False
        while True:
            t, body = recv_pdu(conn)
            if t == 0x05:  # release
                conn.sendall(struct.pack(">BBI", 0x06, 0, 4) + b"\0" * 4)
                return
            if t != 0x04:
                return
            o = 0
            while o + 6 <= len(body):
                ln = struct.unpack(">I", body[o:o + 4])[0]
                pcid, ctl = body[o + 4], body[o + 5]
                frag = body[o + 6:o + 4 + ln]
                o += 4 + ln
                if ctl & 1:
                    cmd += frag
                    if not ctl & 2:
                        continue
                    rq = elements(cmd)
                    cmd = b""
                    field = struct.unpack("<H", rq.get(0x0100, b"\0\0"))[0]
                    has_data = rq.get(0x0800, b"\x01\x01") != b"\x01\x01"
                    if field == 0x0030:  # C-ECHO
                        answer = response(rq, 0x8030, 0)
                    elif field == 0x0001:  # C-STORE
                        log.write("c-store %s\n" % rq.get(0x1000, b"").rstrip(b"\0").decode())
                        log.flush()
                        if mode == "hang":
                            continue
                        answer = response(rq, 0x8001, int(mode.split(":")[1], 16))
                    else:
                        return
                    pending = (pcid, answer)
                    if has_data:
                        data_left = True
                        continue
                    send_rsp(conn, *pending)
                elif ctl & 2 and data_left:
                    data_left = False
                    if mode != "hang":
                        send_rsp(conn, *pending)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def send_rsp(conn, pcid, cmd):
    conn.sendall(struct.pack(">BBI", 0x04, 0, len(cmd) + 6) +
                 struct.pack(">IBB", len(cmd) + 2, pcid, 3) + cmd)


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    log = open(sys.argv[3], "a") if len(sys.argv) > 3 else sys.stderr
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, mode, log), daemon=True).start()


if __name__ == "__main__":
    main()
