"""The seed's own servidor.py (test/interop/seed/, OpenCV): auto-detection and protocol='legacy'."""

from __future__ import annotations

import json
from typing import Callable, Dict

import pytest

import framecast
from conftest import Proc, run_module


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
def test_every_frame_of_the_seed_server(
    start_seed: Callable[[], Proc], clip: Dict[str, object], protocol: str
) -> None:
    """``legacy`` gets every frame. ``auto`` guarantees the detection, whole frames in order and a clear end: a
    seed server never reads, so when it is slower to speak than the client's hello delay (a loaded machine),
    the unread hello turns its final close into a reset that may destroy the last frames (ERR_CONNECTION_LOST);
    docs/PROTOCOL.md says so."""
    seed = start_seed()
    frames = []
    lost = None
    with framecast.connect(f"127.0.0.1:{seed.port}", protocol=protocol) as stream:  # type: ignore[attr-defined]
        try:
            for f in stream:
                frames.append(f)
        except framecast.FramecastError as e:
            if protocol != "auto" or e.code != "ERR_CONNECTION_LOST":
                raise
            lost = e
        assert stream.protocol == "legacy"
        assert stream.server is None and stream.clock is None
    if lost is None:
        assert stream.end == framecast.End(0, "closed", "")
        assert len(frames) == clip["frames"]
    else:
        assert 1 <= len(frames) <= clip["frames"]
    assert [f.seq for f in frames] == list(range(len(frames)))
    for f in frames:
        assert (f.width, f.height) == (800, 450)
        assert f.jpeg[:2] == b"\xff\xd8" and f.jpeg[-2:] == b"\xff\xd9"
        assert f.latency_ms is None and f.captured_at is None
    assert stream.bad_frames == 0
    assert seed.wait(10) == 0


def test_native_only_refuses_a_seed_server(start_seed: Callable[[], Proc]) -> None:
    seed = start_seed()
    with pytest.raises(framecast.FramecastError) as e:
        framecast.connect(f"127.0.0.1:{seed.port}", protocol="native")  # type: ignore[attr-defined]
    assert e.value.code == "ERR_PROTOCOL" and "does not speak the native protocol" in str(e.value)


def test_view_no_window_on_the_seed_server(start_seed: Callable[[], Proc], clip: Dict[str, object]) -> None:
    seed = start_seed()
    r = run_module("view", f"127.0.0.1:{seed.port}", "--no-window")  # type: ignore[attr-defined]
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["frames"] == clip["frames"]
    assert (summary["width"], summary["height"], summary["protocol"]) == (800, 450, "legacy")
    assert summary["latencyMs"] is None and summary["badFrames"] == 0
    assert summary["end"] == {"reason": "closed", "message": ""}
