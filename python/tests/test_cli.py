"""``python -m framecast``: view --no-window's JSON summary and the exit codes 0/1/2."""

from __future__ import annotations

import json
import socket
from typing import List

from conftest import Server, run_module


def test_view_no_window_prints_a_json_summary(server: Server) -> None:
    r = run_module("view", server.address, "--frames", "10", "--no-window")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    s = json.loads(lines[0])
    assert s["frames"] == 10 and s["badFrames"] == 0
    assert (s["width"], s["height"], s["protocol"]) == (800, 450, "native")
    assert s["server"].startswith("framecast/")
    assert s["lastSeq"] - s["firstSeq"] >= 9
    assert s["latencyMs"]["samples"] == 10 and 0 <= s["latencyMs"]["p50"] < 2000
    assert s["clock"]["sync"] == "same-host"
    assert s["bytes"] > 10 * 5000 and "error" not in s


def test_view_exit_code_1_when_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        r = run_module("view", f"127.0.0.1:{port}", "--no-window")
    assert r.returncode == 1
    s = json.loads(r.stdout)
    assert s["frames"] == 0 and s["error"]["code"] == "ERR_CONNECT"
    assert "refused" in r.stderr


def test_view_exit_code_1_on_a_token_refusal(start_server) -> None:  # type: ignore[no-untyped-def]
    srv = start_server("test", "--token", "abc")
    r = run_module("view", srv.address, "--no-window", "--token", "xyz")
    assert r.returncode == 1
    assert json.loads(r.stdout)["error"]["code"] == "ERR_AUTH"
    assert "wrong token" in r.stderr and "--token" in r.stderr


def test_usage_errors_exit_2() -> None:
    cases: List[List[str]] = [
        ["view", "host:99999"],
        ["view", "--frames", "x"],
        ["view", "h:1/cam", "--protocol", "legacy"],
        [],
    ]
    for args in cases:
        r = run_module(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
    r = run_module("publish", "127.0.0.1:9999")  # SOURCE and ADDRESS are both needed
    assert r.returncode == 2
    assert "publish" in r.stderr and "address" in r.stderr


def test_view_with_a_window_needs_a_display() -> None:
    r = run_module("view", "127.0.0.1:9")  # run_module removes DISPLAY
    assert r.returncode in (1, 2)  # 2: no display; 1: OpenCV missing
    assert "--no-window" in r.stderr


def test_version_and_help() -> None:
    r = run_module("--version")
    assert (r.returncode, r.stdout.strip()) == (0, "0.1.0")
    r = run_module("view", "--help")
    assert r.returncode == 0 and "--no-window" in r.stdout


class _FakeCv2:
    """What _FpsWindow calls of OpenCV, recorded; 'q' is pressed at frame `quit_at`."""

    FONT_HERSHEY_SIMPLEX = 0
    WND_PROP_VISIBLE = 4

    def __init__(self, quit_at: int) -> None:
        self.quit_at, self.shown, self.texts = quit_at, 0, []

    def putText(self, img, text, *args):  # noqa: N802 (OpenCV's name)
        self.texts.append(text)
        return img

    def imshow(self, title, img) -> None:
        self.shown += 1

    def waitKey(self, ms):  # noqa: N802
        return ord("q") if self.shown == self.quit_at else -1

    def getWindowProperty(self, title, prop):  # noqa: N802
        return 1.0


def test_the_window_draws_the_seeds_fps_every_40_frames_and_stops_on_q() -> None:
    from framecast.cli import FPS_EVERY, _FpsWindow

    cv2 = _FakeCv2(quit_at=FPS_EVERY + 5)
    window = _FpsWindow(cv2, "framecast")
    results = [window.show(object()) for _ in range(FPS_EVERY + 5)]
    assert results == [True] * (FPS_EVERY + 4) + [False]
    assert cv2.texts[:FPS_EVERY - 1] == ["FPS: 0"] * (FPS_EVERY - 1)
    assert cv2.texts[FPS_EVERY - 1] != "FPS: 0" and int(cv2.texts[FPS_EVERY - 1][5:]) > 0
