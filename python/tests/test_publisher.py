"""framecast.Publisher and ``python -m framecast publish`` against a real ``framecast serve cam=publisher``."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from typing import Callable, Dict, List, Tuple

import pytest

import framecast
from framecast import protocol as P
from conftest import PUBLISH_SERVER_ARGS, PUBLISH_TOKEN, Server, free_port, run_module


def receive_published(
    viewer: framecast.Client, send: Callable[[], object], size: Tuple[int, int], tries: int = 60
) -> framecast.Frame:
    """Sends a frame, reads one; again until a frame of ``size`` arrives (the first frames a viewer gets can be
    the server's 800x450 NO SIGNAL picture)."""
    for _ in range(tries):
        send()
        frame = next(viewer)
        if (frame.width, frame.height) == size:
            return frame
    raise AssertionError(f"no {size[0]}x{size[1]} frame in {tries} frames")


# -- wire format --------------------------------------------------------------------------------------------


def test_publish_messages_follow_the_protocol_document() -> None:
    hello = P.encode_publish_hello("abc", 1700000000000.5, "cam")
    assert hello[:8] == b"FCST" + bytes([2, 0x02, 0, 3])
    assert struct.unpack(">d", hello[8:16])[0] == 1700000000000.5
    assert hello[16:] == b"abc" + bytes([3]) + b"cam"
    assert P.encode_publish_hello(None, 0, None)[4:8] == bytes([2, 2, 0, 0])
    assert P.encode_publish_hello(None, 0, None)[16:] == bytes([0])  # empty name: the default stream
    prefix = P.encode_frame_prefix(7, 800, 450, 1.0, 2.0, 3.0, 0x5432)
    assert prefix[:16] == bytes.fromhex("02 00 00 20 00 00 54 32 00 00 00 07 03 20 01 c2")
    assert struct.unpack(">ddd", prefix[16:]) == (1.0, 2.0, 3.0)
    assert P.encode_end(1) == bytes.fromhex("04 00 00 04 00 00 00 00 00 01 00 00")
    assert P.decode_ack(bytes.fromhex("00 00 00 07 00 05 00 00")) == (7, 5)
    assert P.decode_ack(bytes.fromhex("00 00 00 07")) == (7, None)
    assert [P.error_code_name(c) for c in (11, 12, 13)] == [
        "ERR_BAD_FRAME",
        "ERR_PUBLISHER_ACTIVE",
        "ERR_NOT_PUBLISHABLE",
    ]


def test_a_server_that_does_not_echo_the_publish_flag_is_refused() -> None:
    """An older server reads the hello as a viewer's: its WELCOME's flags lack 0x02."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    got: List[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            got.append(conn.recv(1024))
            welcome = struct.pack(">BBHIdd", P.WELCOME, 0, 16, 15, 0.0, 0.0) + b"framecast/0.0.9"
            conn.sendall(b"FCST" + bytes([2, 0, 0, 0]) + welcome)
            conn.recv(1024)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with pytest.raises(framecast.FramecastError) as e:
            framecast.Publisher(f"127.0.0.1:{listener.getsockname()[1]}/cam", timeout=5)
    finally:
        t.join(5)
        listener.close()
    assert e.value.code == "ERR_PROTOCOL" and "server does not take publishers" in str(e.value)
    assert got and got[0][4:6] == bytes([2, 0x02 | 0x04]) and got[0].endswith(b"\x03cam")


# -- against framecast serve --------------------------------------------------------------------------------


def test_a_published_jpeg_arrives_byte_identical(publish_server: Server, jpegs: Dict[str, bytes]) -> None:
    jpeg = jpegs["small"]
    captured = time.time() * 1000 - 50
    with framecast.connect(f"{publish_server.address}/cam", timeout=10) as viewer:
        with framecast.Publisher(f"{publish_server.address}/cam", token=PUBLISH_TOKEN) as pub:
            assert pub.connected and pub.window == 2
            assert pub.server is not None and pub.server.startswith("framecast/")
            frame = receive_published(viewer, lambda: pub.send_jpeg(jpeg, captured_at=captured), (320, 240))
            assert frame.jpeg == jpeg
            assert frame.captured_at == pytest.approx(captured, abs=0.01)  # the publisher's capture time
            sent = pub.sent
        assert pub.closed and (pub.accepted, pub.dropped, pub.lost) == (sent, 0, 0)
    with pytest.raises(framecast.FramecastError) as e:
        pub.send_jpeg(jpeg)
    assert e.value.code == "ERR_CLOSED"


def test_send_image_encodes_a_numpy_array(publish_server: Server) -> None:
    np = pytest.importorskip("numpy")
    pytest.importorskip("cv2")
    image = np.zeros((120, 200, 3), dtype=np.uint8)
    image[:, :, 2] = np.arange(200, dtype=np.uint8)  # a red ramp
    with framecast.connect(f"{publish_server.address}/cam", timeout=10) as viewer:
        with framecast.Publisher(f"{publish_server.address}/cam", token=PUBLISH_TOKEN, quality=90) as pub:
            frame = receive_published(viewer, lambda: pub.send_image(image), (200, 120))
    back = frame.image()
    assert back.shape == (120, 200, 3)
    assert abs(int(back[60, 150, 2]) - 150) < 12 and int(back[60, 150, 0]) < 12


def test_send_jpeg_takes_whole_jpegs_only(publish_server: Server, jpegs: Dict[str, bytes]) -> None:
    with framecast.Publisher(f"{publish_server.address}/cam", token=PUBLISH_TOKEN) as pub:
        for bad in (b"", b"not a jpeg", jpegs["small"][:-2], b"\xff\xd8\xff\xd9"):
            with pytest.raises(ValueError):
                pub.send_jpeg(bad)
        with pytest.raises(TypeError):
            pub.send_jpeg("text")  # type: ignore[arg-type]
        assert pub.send_jpeg(bytearray(jpegs["small"]))
        assert pub.sent == 1


@pytest.mark.parametrize(
    ("stream", "token", "code", "server_code"),
    [
        ("cam", "wrong", "ERR_AUTH", 4),
        ("cam", None, "ERR_AUTH", 3),
        ("garage", PUBLISH_TOKEN, "ERR_UNKNOWN_STREAM", 10),
        ("other", PUBLISH_TOKEN, "ERR_NOT_PUBLISHABLE", 13),
    ],
)
def test_refusals(publish_server: Server, stream: str, token: object, code: str, server_code: int) -> None:
    t = time.monotonic()
    with pytest.raises(framecast.ServerError) as e:
        framecast.Publisher(f"{publish_server.address}/{stream}", token=token)  # type: ignore[arg-type]
    assert (e.value.code, e.value.server_code) == (code, server_code)
    assert "refused the publisher" in str(e.value)
    assert time.monotonic() - t < 2  # never retried, even with reconnect=True


def test_a_second_publisher_is_refused_while_one_is_connected(
    publish_server: Server, jpegs: Dict[str, bytes]
) -> None:
    address = f"{publish_server.address}/cam"
    with framecast.Publisher(address, token=PUBLISH_TOKEN) as first:
        assert first.send_jpeg(jpegs["small"])
        with pytest.raises(framecast.ServerError) as e:
            framecast.Publisher(address, token=PUBLISH_TOKEN)
        assert (e.value.code, e.value.server_code) == ("ERR_PUBLISHER_ACTIVE", 12)
    with framecast.Publisher(address, token=PUBLISH_TOKEN) as second:  # close() freed the stream
        assert second.send_jpeg(jpegs["small"])


def test_without_blocking_a_full_window_drops(publish_server: Server, jpegs: Dict[str, bytes]) -> None:
    with framecast.Publisher(f"{publish_server.address}/cam", token=PUBLISH_TOKEN, block=False) as pub:
        results = [pub.send_jpeg(jpegs["large"]) for _ in range(50)]
        assert pub.unacknowledged <= pub.window
    assert pub.dropped > 0 and results.count(False) == pub.dropped
    assert pub.sent == results.count(True) and pub.sent >= 2
    assert pub.accepted == pub.sent and pub.accepted + pub.dropped == 50 and pub.lost == 0


def test_blocking_sends_wait_for_the_window(publish_server: Server, jpegs: Dict[str, bytes]) -> None:
    with framecast.Publisher(f"{publish_server.address}/cam", token=PUBLISH_TOKEN) as pub:
        assert all(pub.send_jpeg(jpegs["large"]) for _ in range(30))
    assert (pub.sent, pub.accepted, pub.dropped) == (30, 30, 0)


def test_reconnect_across_a_server_restart(
    start_server: Callable[..., Server], jpegs: Dict[str, bytes]
) -> None:
    port = free_port()
    first = start_server(*PUBLISH_SERVER_ARGS, port=port)
    reasons: List[str] = []
    pub = framecast.Publisher(
        f"{first.address}/cam", token=PUBLISH_TOKEN, timeout=15, on_reconnect=lambda a, d, r: reasons.append(r)
    )
    try:
        assert pub.send_jpeg(jpegs["small"])
        first.stop()
        pub.block = False
        assert not pub.send_jpeg(jpegs["small"])  # notices the loss, drops, reconnects in the background
        assert not pub.connected and pub.dropped == 1
        time.sleep(0.3)  # refused at least once while nothing listens
        second = start_server(*PUBLISH_SERVER_ARGS, port=port)
        pub.block = True
        t = time.monotonic()
        with framecast.connect(f"{second.address}/cam", timeout=10) as viewer:
            frame = receive_published(viewer, lambda: pub.send_jpeg(jpegs["small"]), (320, 240))
        assert frame.jpeg == jpegs["small"]
        assert time.monotonic() - t < 10
        assert pub.reconnects == 1
    finally:
        pub.close()
    assert pub.accepted == pub.sent - pub.lost and pub.accepted >= 2
    assert any("refused" in r for r in reasons), reasons


def test_without_reconnect_a_lost_server_raises(
    start_server: Callable[..., Server], jpegs: Dict[str, bytes]
) -> None:
    srv = start_server(*PUBLISH_SERVER_ARGS)
    with framecast.Publisher(f"{srv.address}/cam", token=PUBLISH_TOKEN, reconnect=False) as pub:
        assert pub.send_jpeg(jpegs["small"])
        srv.stop()
        with pytest.raises(framecast.FramecastError) as e:
            for _ in range(3):
                pub.send_jpeg(jpegs["small"])
    assert e.value.code in ("ERR_CONNECTION_LOST", "ERR_SHUTTING_DOWN")
    assert pub.closed


# -- python -m framecast publish ----------------------------------------------------------------------------


def test_publish_command_sends_a_clip(publish_server: Server, clip_2s: str) -> None:
    pytest.importorskip("cv2")
    r = run_module(
        "publish",
        clip_2s,
        f"{publish_server.address}/cam",
        "--frames",
        "30",
        "--no-window",
        "--json",
        env={"FRAMECAST_PUBLISH_TOKEN": PUBLISH_TOKEN},
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    s = json.loads(lines[0])
    assert s["frames"] == 30 and s["accepted"] >= 20 and s["accepted"] + s["dropped"] <= 30
    assert 0.5 < s["seconds"] < 10 and s["fps"] > 0 and "error" not in s  # paced at the clip's 30 fps


def test_publish_command_exit_codes(publish_server: Server, clip_2s: str) -> None:
    pytest.importorskip("cv2")
    address = f"{publish_server.address}/cam"
    r = run_module("publish", clip_2s, address, "--no-window", "--json", "--token", "wrong")
    assert r.returncode == 1
    assert json.loads(r.stdout)["error"]["code"] == "ERR_AUTH" and "FRAMECAST_PUBLISH_TOKEN" in r.stderr
    r = run_module("publish", "/nonexistent/clip.mp4", address, "--no-window")
    assert r.returncode == 1 and "no such file" in r.stderr
    for args in (["publish"], ["publish", clip_2s, "host:99999/cam"], ["publish", clip_2s, address, "--quality", "0"]):
        r = run_module(*args)
        assert r.returncode == 2, (args, r.stderr)
    r = run_module("publish", clip_2s, address)  # a window, and run_module removed DISPLAY
    assert r.returncode == 2 and "--no-window" in r.stderr
