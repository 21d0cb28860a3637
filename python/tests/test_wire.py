"""The client against scripted servers in this process (127.0.0.1, port 0): limits, named-stream hellos,
errors, skipped messages, truncation, timeouts."""

from __future__ import annotations

import base64
import socket
import struct
import threading
import time
from typing import Callable, Iterator, List, Optional

import pytest

import framecast
from framecast import protocol as P

JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000") + bytes.fromhex(
    "ffc0000b080002000301011100ffda0008010100003f00ffd9"
)  # a 3x2 JPEG header with SOI ... EOI (enough for the client's checks)


class Scripted:
    """A one-connection TCP server whose behaviour is a function of the accepted socket."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(5)
        self.port = self.listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.received = b""
        self.error: Optional[BaseException] = None
        self._script = script
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError as e:
            self.error = e
            return
        with conn:
            conn.settimeout(5)
            try:
                self._script(conn)
            except OSError:
                pass
            except BaseException as e:  # reported by close()
                self.error = e

    def close(self) -> None:
        self._thread.join(5)
        self.listener.close()
        if self.error:
            raise self.error


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[socket.socket], None]], Scripted]]:
    made: List[Scripted] = []

    def make(script: Callable[[socket.socket], None]) -> Scripted:
        s = Scripted(script)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def read_hello(conn: socket.socket, extra: int = 0) -> bytes:
    data = b""
    while len(data) < 16:
        data += conn.recv(16 - len(data))
    (tlen,) = struct.unpack(">H", data[6:8])
    want = 16 + tlen + extra
    while len(data) < want:
        data += conn.recv(want - len(data))
    return data


def message(mtype: int, header: bytes, body: bytes = b"", flags: int = 0) -> bytes:
    return struct.pack(">BBHI", mtype, flags, len(header), len(body)) + header + body


def welcome(flags: int = P.FLAG_ACK) -> bytes:
    now = time.time() * 1000
    return message(P.WELCOME, struct.pack(">dd", now, now), b"fake/1", flags)


def frame(seq: int, jpeg: bytes = JPEG) -> bytes:
    now = time.time() * 1000
    return message(P.FRAME, struct.pack(">IHHddd", seq, 3, 2, now, now, now), jpeg)


def native_open(conn: socket.socket, version: int = 1, flags: int = P.FLAG_ACK) -> bytes:
    hello = read_hello(conn)
    conn.sendall(b"FCST" + bytes([version, 0, 0, 0]) + welcome(flags))
    return hello


def test_a_frame_over_the_limit_fails_before_its_body_is_read(scripted) -> None:  # type: ignore[no-untyped-def]
    done = threading.Event()

    def script(conn: socket.socket) -> None:
        native_open(conn)
        # Declares 16 MiB + 1 and sends nothing of the body: the client must not wait for it.
        conn.sendall(struct.pack(">BBHI", P.FRAME, 0, 32, P.MAX_FRAME_BYTES + 1) + b"\x00" * 32)
        done.wait(5)

    srv = scripted(script)
    t = time.monotonic()
    with framecast.connect(srv.address, timeout=3) as c:
        with pytest.raises(framecast.FramecastError) as e:
            next(c)
    done.set()
    assert e.value.code == "ERR_FRAME_TOO_LARGE"
    assert time.monotonic() - t < 2


def test_a_text_body_over_4096_bytes_is_a_protocol_error(scripted) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        native_open(conn)
        conn.sendall(struct.pack(">BBHI", P.STATUS, 0, 8, 4097) + b"\x00" * 8)
        time.sleep(0.5)

    srv = scripted(script)
    with framecast.connect(srv.address, timeout=3) as c:
        with pytest.raises(framecast.FramecastError) as e:
            next(c)
    assert e.value.code == "ERR_PROTOCOL"


def test_a_seed_length_over_the_limit_fails_at_once(scripted) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        conn.sendall(struct.pack(">L", 1000))
        time.sleep(0.5)

    srv = scripted(script)
    with framecast.connect(srv.address, protocol="legacy", max_frame_bytes=999) as c:
        with pytest.raises(framecast.FramecastError) as e:
            next(c)
    assert e.value.code == "ERR_FRAME_TOO_LARGE"


def test_named_stream_sends_a_v2_hello_and_refuses_a_v1_server(scripted) -> None:  # type: ignore[no-untyped-def]
    got: List[bytes] = []

    def script(conn: socket.socket) -> None:
        got.append(read_hello(conn, extra=1 + len("garage")))
        conn.sendall(b"FCST\x01\x00\x00\x00" + welcome())
        time.sleep(0.3)

    srv = scripted(script)
    with pytest.raises(framecast.FramecastError) as e:
        framecast.connect(f"{srv.address}/garage", token="abc")
    assert "server speaks protocol v1 and cannot serve named streams" in str(e.value)
    assert e.value.code == "ERR_PROTOCOL"
    hello = got[0]
    assert hello[:8] == b"FCST\x02\x01\x00\x03"
    assert abs(struct.unpack(">d", hello[8:16])[0] - time.time() * 1000) < 5000
    assert hello[16:] == b"abc\x06garage"


def test_default_stream_sends_the_v1_hello(scripted) -> None:  # type: ignore[no-untyped-def]
    got: List[bytes] = []

    def script(conn: socket.socket) -> None:
        got.append(native_open(conn))
        conn.sendall(frame(0) + message(P.END, b"\x00\x01\x00\x00", b"end of the source"))
        conn.settimeout(1)
        try:
            got.append(conn.recv(100))  # the ACK after the first frame (or nothing)
        except OSError:
            pass

    srv = scripted(script)
    with framecast.connect(f"{srv.address}/default", protocol="native") as c:
        frames = list(c)
    assert got[0][:6] == b"FCST\x01\x01" and len(got[0]) == 16
    assert [f.seq for f in frames] == [0]
    assert c.end == framecast.End(1, "eof", "end of the source")


def test_a_v2_server_reports_an_unknown_stream(scripted) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        read_hello(conn, extra=4)
        conn.sendall(b"FCST\x02\x00\x00\x00" + message(P.ERROR, b"\x00\x0a\x00\x00", b"no stream named cam"))
        time.sleep(0.3)

    srv = scripted(script)
    with pytest.raises(framecast.ServerError) as e:
        framecast.connect(f"{srv.address}/cam")
    assert (e.value.code, e.value.server_code) == ("ERR_UNKNOWN_STREAM", 10)
    assert "no stream named cam" in str(e.value)


def test_unknown_messages_and_status_are_skipped_and_frames_acknowledged(scripted) -> None:  # type: ignore[no-untyped-def]
    acks: List[bytes] = []

    def script(conn: socket.socket) -> None:
        native_open(conn)
        conn.sendall(
            message(77, b"\x01" * 10, b"\x02" * 5000)  # an unknown type: skipped, even over the text limit
            + message(P.STATUS, struct.pack(">HHI", 1, 0, 3), b"waiting for a place (#3)")
            + message(P.FRAME, struct.pack(">IHHddd", 5, 3, 2, 0, 0, 0) + b"future", JPEG)  # longer header
            + frame(6, b"not a jpeg")
            + frame(7)
        )
        data = b""
        deadline = time.monotonic() + 3
        while len(data) < 32 and time.monotonic() < deadline:
            data += conn.recv(64)
        acks.append(data)
        conn.sendall(message(P.END, b"\x00\x04\x00\x00", b"shutting down"))

    srv = scripted(script)
    statuses: List[framecast.Status] = []
    with framecast.connect(srv.address, on_status=statuses.append) as c:
        assert c.acknowledging
        first = next(c)
        second = next(c)  # acknowledges the first (and the bad frame 6 was acknowledged on arrival)
        rest = list(c)
    assert [first.seq, second.seq, rest] == [5, 7, []]
    assert (first.width, first.height) == (3, 2)
    assert c.bad_frames == 1
    assert statuses == [framecast.Status(1, "waiting", 3, "waiting for a place (#3)")]
    assert c.end is not None and c.end.name == "shutdown"
    # ACK of frame 5 when the second frame was asked for, then of the bad frame 6 on arrival; each with a
    # window (16 bytes)
    seqs = [struct.unpack(">I", acks[0][i + 8 : i + 12])[0] for i in range(0, len(acks[0]), 16)]
    assert acks[0][:4] == b"\x06\x00\x00\x08" and seqs[:2] == [5, 6]


def test_no_ack_when_the_server_does_not_echo_the_flag(scripted) -> None:  # type: ignore[no-untyped-def]
    sent: List[bytes] = []

    def script(conn: socket.socket) -> None:
        native_open(conn, flags=0)
        conn.sendall(frame(0) + frame(1))
        conn.settimeout(0.5)
        try:
            sent.append(conn.recv(100))
        except OSError:
            sent.append(b"")
        conn.sendall(message(P.END, b"\x00\x01\x00\x00"))

    srv = scripted(script)
    with framecast.connect(srv.address) as c:
        assert not c.acknowledging
        assert [f.seq for f in c] == [0, 1]
    assert sent == [b""]


def test_a_close_without_end_is_a_lost_connection(scripted) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        native_open(conn)
        conn.sendall(frame(0) + frame(1)[:20])

    srv = scripted(script)
    with framecast.connect(srv.address) as c:
        assert next(c).seq == 0
        with pytest.raises(framecast.FramecastError) as e:
            next(c)
    assert e.value.code == "ERR_CONNECTION_LOST"
    assert "inside a message" in str(e.value)


def test_a_truncated_seed_frame_is_a_lost_connection(scripted) -> None:  # type: ignore[no-untyped-def]
    payload = base64.b64encode(JPEG)

    def script(conn: socket.socket) -> None:
        conn.sendall(struct.pack(">L", len(payload)) + payload + struct.pack(">L", len(payload)) + payload[:9])

    srv = scripted(script)
    with framecast.connect(srv.address) as c:
        f = next(c)
        assert (c.protocol, f.seq, f.width, f.height, f.latency_ms, f.captured_at) == ("legacy", 0, 3, 2, None, None)
        with pytest.raises(framecast.FramecastError) as e:
            next(c)
    assert e.value.code == "ERR_CONNECTION_LOST"


def test_a_silent_server_times_out_in_native_mode(scripted) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        read_hello(conn)
        time.sleep(1.0)

    srv = scripted(script)
    t = time.monotonic()
    with pytest.raises(framecast.FramecastError) as e:
        framecast.connect(srv.address, protocol="native", timeout=0.3)
    assert e.value.code == "ERR_TIMEOUT"
    assert time.monotonic() - t < 1.0


def test_a_closed_port_is_a_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(framecast.FramecastError) as e:
            framecast.connect(f"127.0.0.1:{port}")
    assert e.value.code == "ERR_CONNECT"
    assert "refused" in str(e.value)


def test_reconnect_gives_up_after_its_timeout() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        attempts: List[float] = []
        t = time.monotonic()
        with pytest.raises(framecast.FramecastError) as e:
            framecast.connect(
                f"127.0.0.1:{port}",
                reconnect=True,
                reconnect_timeout=1.0,
                on_reconnect=lambda attempt, delay, reason: attempts.append(delay),
            )
    elapsed = time.monotonic() - t
    assert e.value.code == "ERR_CONNECT" and "did not come back within 1 s" in str(e.value)
    assert 0.9 < elapsed < 2.0
    # 0.25 s doubling (with +-25% jitter), the last one cut at the deadline
    assert 0.18 <= attempts[0] <= 0.32 and 0.37 <= attempts[1] <= 0.63


def test_usage_errors() -> None:
    with pytest.raises(framecast.FramecastError) as e:
        framecast.connect("127.0.0.1:1", protocol="udp")
    assert e.value.code == "ERR_USAGE"
    with pytest.raises(framecast.FramecastError) as e:
        framecast.connect("127.0.0.1:1/cam", protocol="legacy")
    assert e.value.code == "ERR_USAGE"
