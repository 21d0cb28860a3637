#!/usr/bin/env python3
"""A framecast native-protocol client written from docs/PROTOCOL.md alone (Python standard library only).

Receives frames, checks that each is a whole JPEG (SOI ... EOI), measures latency with the clock offset
from the hello exchange, and prints one JSON summary line. Optionally writes the frames to a directory.

    python3 examples/python_client.py 127.0.0.1 9999 --frames 100 [--token SECRET] [--save-dir DIR]

Exit codes: 0 stream received (or ended cleanly), 1 refused / connection error / protocol error.
"""
import argparse
import json
import os
import socket
import struct
import sys
import time

MAGIC = b"FCST"
VERSION = 1
WELCOME, FRAME, STATUS, END, ERROR = 1, 2, 3, 4, 5
MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_TEXT_BYTES = 4096


class ProtocolError(Exception):
    pass


def now_ms():
    return time.time() * 1000.0


def recv_exact(sock, n):
    """Reads exactly n bytes; raises EOFError if the server closes first (b'' if it closed before any)."""
    chunks = []
    got = 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            if got == 0:
                raise EOFError("closed at a message boundary")
            raise ProtocolError("connection closed inside a message (%d of %d bytes)" % (got, n))
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def hello(token):
    tok = token.encode("utf-8")
    if len(tok) > 1024:
        raise ValueError("token over 1024 bytes")
    t0 = now_ms()
    # magic, version, flags, token length, t0 (float64 ms), token
    return struct.pack(">4sBBHd", MAGIC, VERSION, 0, len(tok), t0) + tok, t0


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    i = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 100)) - 1))
    return round(sorted_values[i], 2)


def is_local(address):
    return address.startswith("127.") or address in ("::1", "localhost")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("host", nargs="?", default="127.0.0.1")
    ap.add_argument("port", nargs="?", type=int, default=9999)
    ap.add_argument("--token", default=os.environ.get("FRAMECAST_TOKEN", ""))
    ap.add_argument("--frames", type=int, default=0, help="stop after N frames (0 = until the end)")
    ap.add_argument("--timeout", type=float, default=10.0, help="socket timeout in seconds")
    ap.add_argument("--save-dir", default=None)
    args = ap.parse_args()

    summary = {"frames": 0, "badFrames": 0, "bytes": 0, "width": None, "height": None, "firstSeq": None,
               "lastSeq": None, "server": None, "end": None, "status": [], "latencyMs": None, "clock": None}
    latencies = []
    try:
        sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    except OSError as e:
        print(json.dumps({**summary, "error": "cannot connect: %s" % e}))
        return 1
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)
    code = 0
    try:
        msg, t0 = hello(args.token)
        sock.sendall(msg)
        magic, version = struct.unpack(">4sB3x", recv_exact(sock, 8))
        if magic != MAGIC:
            raise ProtocolError("not a framecast native server (first bytes %r)" % magic)
        offset = None
        same_host = is_local(sock.getpeername()[0])
        while True:
            try:
                envelope = recv_exact(sock, 8)
            except EOFError:
                raise ProtocolError("connection lost: closed without END")
            arrived = now_ms()
            mtype, _flags, hlen, blen = struct.unpack(">BBHI", envelope)
            limit = MAX_FRAME_BYTES if mtype == FRAME else MAX_TEXT_BYTES
            if blen > limit and mtype in (WELCOME, FRAME, STATUS, END, ERROR):
                raise ProtocolError("message type %d declares %d bytes (limit %d)" % (mtype, blen, limit))
            header = recv_exact(sock, hlen) if hlen else b""
            if mtype not in (WELCOME, FRAME, STATUS, END, ERROR):
                remaining = blen  # unknown type: skip it
                while remaining:
                    remaining -= len(recv_exact(sock, min(remaining, 1 << 20)))
                continue
            body = recv_exact(sock, blen) if blen else b""
            if version != VERSION and mtype != ERROR:
                raise ProtocolError("server speaks version %d" % version)
            if mtype == ERROR:
                (err,) = struct.unpack(">H2x", header[:4])
                summary["error"] = "refused (code %d): %s" % (err, body.decode("utf-8", "replace"))
                code = 1
                break
            if mtype == WELCOME:
                t1, t2 = struct.unpack(">dd", header[:16])
                t3 = arrived
                offset = ((t1 - t0) + (t2 - t3)) / 2.0
                rtt = (t3 - t0) - (t2 - t1)
                summary["server"] = body.decode("utf-8", "replace")
                summary["clock"] = {"sync": "same-host" if same_host else "offset-corrected",
                                    "offsetMs": round(offset, 3), "rttMs": round(rtt, 3)}
            elif mtype == STATUS:
                status_code, _reserved, value = struct.unpack(">HHI", header[:8])
                summary["status"].append({"code": status_code, "value": value,
                                          "message": body.decode("utf-8", "replace")})
            elif mtype == END:
                (reason,) = struct.unpack(">H2x", header[:4])
                summary["end"] = {"reason": reason, "message": body.decode("utf-8", "replace")}
                break
            elif mtype == FRAME:
                if offset is None:
                    raise ProtocolError("FRAME before WELCOME")
                seq, width, height, captured_at, _encoded_at, _sent_at = struct.unpack(">IHHddd", header[:32])
                received = now_ms()
                if len(body) < 4 or body[:2] != b"\xff\xd8" or body[-2:] != b"\xff\xd9":
                    summary["badFrames"] += 1
                    continue
                summary["frames"] += 1
                summary["bytes"] += 8 + hlen + blen
                summary["width"], summary["height"] = width, height
                if summary["firstSeq"] is None:
                    summary["firstSeq"] = seq
                summary["lastSeq"] = seq
                latencies.append(received + (0.0 if same_host else offset) - captured_at)
                if args.save_dir:
                    with open(os.path.join(args.save_dir, "frame-%06d.jpg" % summary["frames"]), "wb") as f:
                        f.write(body)
                if args.frames and summary["frames"] >= args.frames:
                    break
    except (ProtocolError, OSError) as e:
        summary["error"] = str(e)
        code = 1
    finally:
        sock.close()
    if latencies:
        s = sorted(latencies)
        summary["latencyMs"] = {"p50": percentile(s, 50), "p95": percentile(s, 95), "p99": percentile(s, 99)}
    print(json.dumps(summary))
    return code


if __name__ == "__main__":
    sys.exit(main())
