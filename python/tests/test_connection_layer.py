"""The connection layer the reader and the publisher share (framecast._wire, framecast._reconnect), with bytes
alone: messages split at every byte, declared lengths refused before their bytes arrive, ERROR as codes."""

from __future__ import annotations

import socket
import struct
from typing import Dict, Iterator, List, Tuple

import pytest

from framecast import protocol as P
from framecast._reconnect import RECONNECT_INITIAL_DELAY, RECONNECT_MAX_DELAY, backoff_delay
from framecast._wire import Wire
from framecast.address import Address
from framecast.errors import FramecastError, ServerError


def message(kind: int, header: bytes, body: bytes = b"", flags: int = 0) -> bytes:
    return struct.pack(">BBHI", kind, flags, len(header), len(body)) + header + body


def status(code: int, value: int, text: str) -> bytes:
    return message(P.STATUS, struct.pack(">HHI", code, 0, value), text.encode())


@pytest.fixture
def pair() -> Iterator[Tuple[Wire, socket.socket]]:
    """A Wire on one end of a socket pair (as if dialed) and the server's end."""
    ours, theirs = socket.socketpair()
    ours.settimeout(2.0)
    wire = Wire(Address("127.0.0.1", 9999), None, 2.0, 1000)
    wire.sock = ours
    yield wire, theirs
    wire.close()
    theirs.close()


def test_take_message_reassembles_messages_split_at_every_byte_and_skips_unknown_types() -> None:
    wire = Wire(Address("127.0.0.1", 9999), None, None, 1000)
    unknown = message(42, b"\x01\x02", b"ignored" * 10)  # a type from a later version: skipped unread
    data = status(1, 3, "third in line") + unknown + status(2, 0, "no signal") + message(P.END, b"\x00\x01\x00\x00")
    got: List[Tuple[int, bytes, bytes]] = []
    for i in range(len(data)):
        wire.buf += data[i : i + 1]
        while True:
            m = wire.take_message()
            if m is None:
                break
            got.append((m[0].type, m[1], m[2]))
    assert [t for t, _, _ in got] == [P.STATUS, P.STATUS, P.END]
    assert got[0][2] == b"third in line" and got[1][2] == b"no signal"
    assert wire.pos == len(wire.buf)


def test_a_declared_body_over_the_cap_is_refused_before_any_of_it_is_buffered(
    pair: Tuple[Wire, socket.socket],
) -> None:
    wire, server = pair
    # Only the envelope: a reader that waited for the 2000-byte body would time out instead.
    server.sendall(struct.pack(">BBHI", P.FRAME, 0, 32, 2000))
    with pytest.raises(FramecastError) as e:
        wire.read_message()
    assert e.value.code == "ERR_FRAME_TOO_LARGE"
    assert "declares 2000 bytes (limit 1000)" in str(e.value)


def test_a_header_over_the_cap_is_refused_from_the_buffer_too() -> None:
    wire = Wire(Address("127.0.0.1", 9999), None, None, 1000)
    wire.buf += struct.pack(">BBHI", P.STATUS, 0, P.MAX_HEADER_BYTES + 1, 0)
    with pytest.raises(FramecastError) as e:
        wire.take_message()
    assert e.value.code == "ERR_PROTOCOL"


def test_receive_buffers_what_came_and_reports_the_close(pair: Tuple[Wire, socket.socket]) -> None:
    wire, server = pair
    assert wire.receive(0, "here") is None  # nothing yet, no wait
    server.sendall(status(3, 0, "back")[:5])
    assert wire.receive(1.0, "here") is True
    assert wire.take_message() is None  # 5 of 8 envelope bytes
    server.sendall(status(3, 0, "back")[5:])
    assert wire.receive(1.0, "here") is True
    m = wire.take_message()
    assert m is not None and m[0].type == P.STATUS and m[2] == b"back"
    server.close()
    assert wire.receive(1.0, "here") is False


def test_an_error_instead_of_the_welcome_raises_its_code(pair: Tuple[Wire, socket.socket]) -> None:
    wire, server = pair
    server.sendall(message(P.ERROR, struct.pack(">HH", 4, 0), b"wrong token"))
    with pytest.raises(ServerError) as e:
        wire.read_welcome()
    assert (e.value.code, e.value.server_code) == ("ERR_AUTH", 4)
    assert str(e.value) == "127.0.0.1:9999 refused the connection: wrong token"


def test_the_connection_closing_between_messages_is_a_lost_connection(pair: Tuple[Wire, socket.socket]) -> None:
    wire, server = pair
    server.sendall(status(2, 0, ""))
    server.close()
    env, _, _ = wire.read_message()
    assert env.type == P.STATUS
    with pytest.raises(FramecastError) as e:
        wire.read_message()
    assert e.value.code == "ERR_CONNECTION_LOST"
    assert "closed without ending the stream" in str(e.value)


@pytest.mark.parametrize("attempt", [0, 1, 3, 4, 10])
def test_backoff_doubles_from_a_quarter_second_to_five_seconds_with_a_quarter_jitter(attempt: int) -> None:
    base = min(RECONNECT_MAX_DELAY, RECONNECT_INITIAL_DELAY * 2**attempt)
    delays = [backoff_delay(attempt) for _ in range(200)]
    assert all(base * 0.75 <= d <= base * 1.25 for d in delays)
    assert max(delays) - min(delays) > base * 0.1  # jittered, not fixed


def test_a_hello_answered_after_seed_frames_turns_the_connection_native(jpegs: Dict[str, bytes]) -> None:
    """A framecast server that took our hello for late (its grace passed on a loaded machine) began the seed
    framing, then answers the hello between two seed frames: the client reads the native preamble where the
    next length prefix would be, and goes on natively."""
    import base64
    import threading

    import framecast

    jpeg = jpegs["small"]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    heard: List[bytes] = []

    def server() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5.0)
            heard.append(conn.recv(4))  # the client's hello (it said it: we stayed silent)
            seed = base64.b64encode(jpeg)
            conn.sendall(struct.pack(">L", len(seed)) + seed)
            welcome = message(P.WELCOME, struct.pack(">dd", 1.0, 2.0), b"framecast/test", P.FLAG_ACK)
            frame = message(P.FRAME, struct.pack(">IHHddd", 7, 64, 48, 10.0, 11.0, 12.0), jpeg)
            conn.sendall(b"FCST" + bytes([1, 0, 0, 0]) + welcome + frame + message(P.END, b"\x00\x01\x00\x00"))
            try:
                while conn.recv(1024):  # ACKs, until the client closes
                    pass
            except OSError:
                pass

    t = threading.Thread(target=server, daemon=True)
    t.start()
    try:
        client = framecast.connect(f"127.0.0.1:{port}", timeout=5)
        frames = list(client)
        client.close()
    finally:
        listener.close()
    t.join(5)
    assert heard == [b"FCST"]
    assert [f.seq for f in frames] == [0, 7]
    assert all(f.jpeg == jpeg for f in frames)
    assert client.protocol == "native"
