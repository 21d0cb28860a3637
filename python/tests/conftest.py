"""Fixtures: real framecast servers (``node bin/framecast serve``, one with a publisher stream), the seed's
servidor.py, generated clips and JPEGs.

Every process is started on 127.0.0.1 (port 0, or a free port for the seed server) and stopped (SIGTERM, then
SIGKILL to it and its children) when its test or the session ends. They stay in pytest's process group, so
whoever kills that group (a test runner's timeout) kills them too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest

try:
    import framecast  # noqa: F401  (the installed package)
except ImportError:  # running from a checkout without installing: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = REPO_ROOT / "bin" / "framecast"
SEED_DIR = REPO_ROOT / "test" / "interop" / "seed"
NODE = os.environ.get("FRAMECAST_NODE") or shutil.which("node") or "node"
FFMPEG = os.environ.get("FFMPEG_PATH") or shutil.which("ffmpeg") or "ffmpeg"
SEED_PYTHON = os.environ.get("SEED_PYTHON") or "/usr/bin/python3"
IN_CI = bool(os.environ.get("CI"))
# Same cache as the TypeScript tests (test/helpers/fixtures.ts), same file names and ffmpeg arguments.
CLIP_CACHE = Path(tempfile.gettempdir()) / "framecast-test-fixtures-v1"


def _children(pid: int) -> List[int]:
    """Pids whose parent is ``pid`` (Linux /proc; [] elsewhere)."""
    out = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read().decode("latin-1")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid):
            out.append(int(name))
    return out


def _kill_tree(pid: int) -> None:
    for child in _children(pid):
        _kill_tree(child)
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Proc:
    """A child process whose output is collected line by line in the background."""

    def __init__(self, args: List[str], env: Optional[Dict[str, str]] = None) -> None:
        self.args = args
        self.lines: List[str] = []
        self.err_lines: List[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            args,
            cwd=str(REPO_ROOT),
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for stream, sink in ((self.proc.stdout, self.lines), (self.proc.stderr, self.err_lines)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    def _pump(self, stream, sink: List[str]) -> None:  # type: ignore[no-untyped-def]
        for raw in iter(stream.readline, b""):
            with self._cond:
                sink.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        stream.close()

    def wait_line(self, pred: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.args[:3]}: no expected line within {timeout} s (exit {self.proc.poll()}); "
                        f"stdout: {self.lines[-10:]} stderr: {self.err_lines[-10:]}"
                    )
                self._cond.wait(min(left, 0.1))

    def stop(self, timeout: float = 5.0) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(self.proc.pid)  # with its ffmpeg
            return self.proc.wait(5)

    def wait(self, timeout: float) -> Optional[int]:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return None


class Server(Proc):
    """``framecast serve ... --json`` on 127.0.0.1; ``port`` is read from its 'listening' event."""

    def __init__(self, args: List[str], port: int = 0) -> None:
        super().__init__(
            [NODE, str(BIN), "serve", *args, "--port", str(port), "--http-port", "off", "--json"],
            env={"FRAMECAST_TOKEN": "", "FRAMECAST_PUBLISH_TOKEN": ""},
        )
        try:
            line = self.wait_line(lambda l: '"event":"listening"' in l, 20)
        except BaseException:
            self.stop()
            raise
        self.port: int = json.loads(line)["port"]
        self.address = f"127.0.0.1:{self.port}"

    def events(self, name: str) -> List[dict]:
        out = []
        for line in list(self.lines):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict) and e.get("event") == name:
                out.append(e)
        return out


def _ensure_built() -> None:
    if (REPO_ROOT / "dist" / "cli" / "main.js").exists():
        return
    subprocess.run(["npm", "run", "build"], cwd=str(REPO_ROOT), check=True, timeout=180)


@pytest.fixture(scope="session")
def built() -> None:
    if shutil.which(NODE) is None and not Path(NODE).exists():
        pytest.fail(f"node not found ({NODE}); set FRAMECAST_NODE")
    _ensure_built()


@pytest.fixture
def start_server(built: None) -> Iterator[Callable[..., Server]]:
    """Starts ``framecast serve SOURCE ARGS...`` servers for one test and stops them after it."""
    servers: List[Server] = []

    def start(*args: str, port: int = 0) -> Server:
        s = Server(list(args) or ["test"], port)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture(scope="session")
def server(built: None) -> Iterator[Server]:
    """One ``framecast serve test`` shared by the tests that only read from it."""
    s = Server(["test"])
    yield s
    s.stop()


#: The publish token of ``publish_server``'s stream ``cam``.
PUBLISH_TOKEN = "pub-secret-1"
#: ``publish_server``'s arguments: ``cam`` takes publishers, ``other`` (a test pattern) takes none.
PUBLISH_SERVER_ARGS = ["cam=publisher", "other=test", "--publish-token", PUBLISH_TOKEN]


@pytest.fixture(scope="session")
def publish_server(built: None) -> Iterator[Server]:
    """One ``framecast serve cam=publisher other=test --publish-token pub-secret-1`` for the publisher tests
    (each test closes its publishers, so the next one finds ``cam`` free)."""
    s = Server(PUBLISH_SERVER_ARGS)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def jpegs() -> Dict[str, bytes]:
    """Single testsrc2 JPEGs made by ffmpeg: ``small`` 320x240, ``large`` 640x360."""
    out: Dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="framecast-jpegs-") as tmp:
        for name, size in (("small", "320x240"), ("large", "640x360")):
            path = os.path.join(tmp, f"{name}.jpg")
            cmd = [FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"]
            cmd += [f"testsrc2=size={size}:rate=1", "-frames:v", "1", "-q:v", "3", path]
            subprocess.run(cmd, check=True, timeout=30, capture_output=True)
            with open(path, "rb") as f:
                out[name] = f.read()
    return out


@pytest.fixture(scope="session")
def clip_2s() -> str:
    """A 2 s, 30 fps, 640x360 testsrc2 clip (60 frames) for ``python -m framecast publish``."""
    CLIP_CACHE.mkdir(parents=True, exist_ok=True)
    path = CLIP_CACHE / "clip-640x360-30fps-2s.mp4"
    if not path.exists():
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{time.time_ns()}.tmp.mp4")
        cmd = [FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"]
        cmd += ["testsrc2=size=640x360:rate=30", "-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264"]
        cmd += ["-preset", "ultrafast", "-g", "30", str(tmp)]
        subprocess.run(cmd, check=True, timeout=60, capture_output=True)
        os.replace(tmp, path)
    return str(path)


def _has_cv2(python: str) -> bool:
    r = subprocess.run([python, "-c", "import cv2, numpy"], capture_output=True, timeout=30)
    return r.returncode == 0


@pytest.fixture(scope="session")
def seed_python() -> str:
    """An interpreter that can run the seed's servidor.py (it needs OpenCV)."""
    if not _has_cv2(SEED_PYTHON):
        message = f"{SEED_PYTHON} cannot import cv2 and numpy (install python3-opencv)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return SEED_PYTHON


@pytest.fixture(scope="session")
def clip() -> Dict[str, object]:
    """A 1 s, 30 fps, 640x360 testsrc2 clip (30 frames), made with ffmpeg's lavfi source."""
    CLIP_CACHE.mkdir(parents=True, exist_ok=True)
    path = CLIP_CACHE / "clip-640x360-30fps-1s.mp4"
    if not path.exists():
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{time.time_ns()}.tmp.mp4")
        cmd = [FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i"]
        cmd += ["testsrc2=size=640x360:rate=30", "-t", "1", "-pix_fmt", "yuv420p", "-c:v", "libx264"]
        cmd += ["-preset", "ultrafast", "-g", "30", str(tmp)]
        subprocess.run(cmd, check=True, timeout=60, capture_output=True)
        os.replace(tmp, path)
    return {"path": str(path), "frames": 30, "width": 800, "height": 450}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def start_seed(seed_python: str, clip: Dict[str, object]) -> Iterator[Callable[[], Proc]]:
    """Starts the seed's servidor.py (headless) on a free port with the clip; it serves one client and exits."""
    procs: List[Proc] = []

    def start() -> Proc:
        port = free_port()
        p = Proc(
            [seed_python, str(SEED_DIR / "servidor.py"), "127.0.0.1", str(port), str(clip["path"])],
            env={"SEED_HEADLESS": "1", "PYTHONUNBUFFERED": "1"},
        )
        procs.append(p)
        p.wait_line(lambda l: l.startswith("Escuchando"), 20)
        p.port = port  # type: ignore[attr-defined]
        return p

    yield start
    for p in procs:
        p.stop()


def run_module(
    *args: str, timeout: float = 30, env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess:
    """Runs ``python -m framecast ARGS`` with this interpreter (the one framecast is installed in); ``env``
    adds to the environment (which has no FRAMECAST_TOKEN, FRAMECAST_PUBLISH_TOKEN or display)."""
    import framecast

    env = {**os.environ, "FRAMECAST_TOKEN": "", "FRAMECAST_PUBLISH_TOKEN": "", **(env or {})}
    # Whichever framecast these tests import (installed, or the source tree), the child imports the same.
    package_parent = str(Path(framecast.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "framecast", *args],
        cwd=tempfile.gettempdir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
