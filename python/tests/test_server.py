"""framecast against a real ``framecast serve`` (node bin/framecast, the built dist/)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, List

import pytest

import framecast
from conftest import Server


def whole_jpeg(data: bytes) -> bool:
    return data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"


def test_native_frames_have_sizes_sequence_and_latency(server: Server) -> None:
    before = time.time() * 1000
    with framecast.connect(server.address) as stream:
        assert stream.protocol == "native"
        assert stream.server is not None and stream.server.startswith("framecast/")
        assert stream.acknowledging
        assert stream.clock is not None and stream.clock.same_host
        frames = []
        for frame in stream:
            frames.append(frame)
            if len(frames) == 12:
                break
    assert stream.closed
    assert len(frames) == 12
    seqs = [f.seq for f in frames]
    assert all(b > a for a, b in zip(seqs, seqs[1:])), seqs
    for f in frames:
        assert (f.width, f.height) == (800, 450)
        assert whole_jpeg(f.jpeg) and len(f.jpeg) > 5000
        assert framecast.jpeg_size(f.jpeg) == (800, 450)
        assert f.captured_at is not None and before - 5000 < f.captured_at < time.time() * 1000
        assert f.latency_ms is not None and 0 <= f.latency_ms < 2000
        assert f.wire_bytes == len(f.jpeg) + 40
    assert stream.bad_frames == 0


def test_frame_image_is_a_bgr_array(server: Server) -> None:
    pytest.importorskip("cv2")
    with framecast.connect(server.address, protocol="native") as stream:
        img = next(stream).image()
    assert img.shape == (450, 800, 3)
    assert str(img.dtype) == "uint8"


def test_legacy_protocol_reads_the_seed_framing_from_framecast(server: Server) -> None:
    with framecast.connect(server.address, protocol="legacy") as stream:
        frames = [next(stream) for _ in range(4)]
        assert stream.protocol == "legacy"
    assert [f.seq for f in frames] == [0, 1, 2, 3]
    for f in frames:
        assert (f.width, f.height) == (800, 450)  # from the JPEG's SOF marker
        assert whole_jpeg(f.jpeg)
        assert f.latency_ms is None and f.captured_at is None


def test_an_unknown_stream_is_refused_by_name(server: Server) -> None:
    with pytest.raises(framecast.FramecastError) as e:
        framecast.connect(f"{server.address}/garage")
    assert e.value.code == "ERR_UNKNOWN_STREAM"
    assert "no stream named garage" in str(e.value)


def test_a_named_stream_is_served(start_server: Callable[..., Server]) -> None:
    srv = start_server("big=test", "small=test", "--width", "320")
    with framecast.connect(f"{srv.address}/small") as stream:
        frame = next(stream)
    assert (frame.width, frame.height) == (320, 180)


def test_token(start_server: Callable[..., Server]) -> None:
    srv = start_server("test", "--token", "py-s3cret")
    with pytest.raises(framecast.ServerError) as missing:
        framecast.connect(srv.address)
    assert (missing.value.code, missing.value.server_code) == ("ERR_AUTH", 3)
    with pytest.raises(framecast.ServerError) as wrong:
        framecast.connect(srv.address, token="nope")
    assert (wrong.value.code, wrong.value.server_code) == ("ERR_AUTH", 4)
    assert "wrong token" in str(wrong.value)
    with framecast.connect(srv.address, token="py-s3cret") as stream:
        frame = next(stream)
    assert (frame.width, frame.height) == (800, 450) and frame.latency_ms is not None
    deadline = time.monotonic() + 2
    while len(srv.events("refused")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(srv.events("refused")) == 2


def test_reconnect_across_a_server_restart(start_server: Callable[..., Server]) -> None:
    first = start_server("test")
    port = first.port
    reconnects: List[str] = []
    with framecast.connect(
        first.address, reconnect=True, on_reconnect=lambda a, d, reason: reconnects.append(reason)
    ) as stream:
        before = [next(stream).seq for _ in range(5)]
        assert first.stop() == 0  # SIGTERM: END (shutdown) to the client, then exit

        # The client retries (refused) until the new server is up on the same port.
        started: List[Server] = []

        def restart() -> None:
            time.sleep(0.6)
            started.append(start_server("test", port=port))

        starter = threading.Thread(target=restart)
        starter.start()
        t = time.monotonic()
        after = [next(stream) for _ in range(5)]
        starter.join(30)
        assert started and started[0].port == port
        assert stream.reconnects == 1
        assert stream.gap_seconds > 0.3
        assert time.monotonic() - t < 15
    assert before == [0, 1, 2, 3, 4]
    seqs = [f.seq for f in after]
    assert seqs[0] < 30 and all(b > a for a, b in zip(seqs, seqs[1:])), seqs  # a new transmission
    assert all((f.width, f.height) == (800, 450) and f.latency_ms is not None for f in after)
    assert any("shutdown" in r for r in reconnects) and any("refused" in r for r in reconnects), reconnects


def test_without_reconnect_a_shutdown_ends_the_iteration(start_server: Callable[..., Server]) -> None:
    srv = start_server("test")
    with framecast.connect(srv.address) as stream:
        next(stream)
        srv.stop()
        rest = list(stream)  # frames still in flight, then the END
    assert stream.end is not None and stream.end.name == "shutdown"
    assert len(rest) < 10


def test_playback_of_a_recording(start_server: Callable[..., Server], tmp_path: Path) -> None:
    """``connect(address, at=..., speed=...)`` plays the server's recording: the frames with their recorded capture
    times, in order, then END eof; a time after the recording is ERR_NO_RECORDING."""
    srv = start_server("cam=test", "--width", "160", "--record", "--record-path", str(tmp_path))
    live = framecast.connect(f"{srv.address}/cam")
    seen = [next(live) for _ in range(30)]
    live.close()
    time.sleep(0.5)
    start = seen[0].captured_at / 1000 + 1e-6
    played = framecast.connect(f"{srv.address}/cam", at=start, speed=16)
    got = [next(played) for _ in range(25)]
    played.close()
    by_seq = {f.seq: f for f in got}
    for f in seen[:25]:
        assert by_seq[f.seq].jpeg == f.jpeg
        assert by_seq[f.seq].captured_at == f.captured_at
    with pytest.raises(framecast.FramecastError) as err:
        next(framecast.connect(f"{srv.address}/cam", at="2030-01-01T00:00:00Z"))
    assert err.value.code == "ERR_NO_RECORDING"
    assert "no recording of cam" in str(err.value)
    with pytest.raises(framecast.FramecastError) as bad:
        framecast.connect(f"{srv.address}/cam", at="yesterday")
    assert bad.value.code == "ERR_USAGE"


def test_a_smaller_rendition_at_a_lower_rate(start_server: Callable[..., Server]) -> None:
    """``connect(address, width=320, fps=5)``: frames 320 pixels wide, about five a second."""
    srv = start_server("cam=test", "--width", "800")
    client = framecast.connect(f"{srv.address}/cam", width=320, fps=5)
    frames = [next(client) for _ in range(6)]
    client.close()
    assert {(f.width, f.height) for f in frames} == {(320, 180)}
    gaps = [b.captured_at - a.captured_at for a, b in zip(frames, frames[1:])]
    assert min(gaps) > 150
    with pytest.raises(framecast.FramecastError) as err:
        framecast.connect(f"{srv.address}/cam", width=8)
    assert err.value.code == "ERR_USAGE"
