"""Per-frame metadata and annotations from Python, against a real ``framecast serve cam=publisher``: the
Publisher's ``meta`` reaching a Python reader's ``frame.meta`` and a Node StreamClient on the same frame (same
seq), a Python analyzer's annotation of frame N reaching a Node viewer and a Python viewer tagged N, refusals,
and what the package refuses before a byte is sent."""

from __future__ import annotations

import json
import struct
from typing import Any, Dict, List, Optional

import pytest

import framecast
from framecast import protocol as P
from conftest import BIN, NODE, PUBLISH_TOKEN, Proc, Server

np = pytest.importorskip("numpy")
cv2 = pytest.importorskip("cv2")

#: A Node StreamClient (the built package) that prints one JSON line per frame and per annotation.
NODE_VIEWER = """
const [, index, port] = process.argv;
const { StreamClient } = await import(index);
const c = new StreamClient({ host: '127.0.0.1', port: Number(port), tls: false, stream: 'cam' },
  { protocol: 'native', meta: true, annotations: true });
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
c.on('handshake', () => out({ type: 'ready' }));
c.on('frame', (f) => out({ type: 'frame', seq: f.seq, width: f.width, meta: f.meta }));
c.on('annotation', (a) => out({ type: 'annotation', ...a }));
c.on('error', (e) => { out({ type: 'error', message: e.message }); process.exit(1); });
c.connect();
"""


def node_viewer(port: int) -> Proc:
    index = (BIN.parent.parent / "dist" / "index.js").as_uri()
    p = Proc([NODE, "--input-type=module", "-e", NODE_VIEWER, "--", index, str(port)])
    p.wait_line(lambda l: '"ready"' in l, 20)
    return p


def node_lines(p: Proc, kind: str) -> List[Dict[str, Any]]:
    return [e for e in (json.loads(l) for l in list(p.lines) if l.startswith("{")) if e["type"] == kind]


def jpeg_of_width(width: int) -> bytes:
    """A JPEG whose width tells which frame it is (viewers may also get the server's 800x450 NO SIGNAL)."""
    ok, buf = cv2.imencode(".jpg", np.full((48, width, 3), width % 256, np.uint8))
    assert ok
    return bytes(buf)


def read_until(client: framecast.Client, width: int, tries: int = 50) -> framecast.Frame:
    for _ in range(tries):
        frame = next(client)
        if frame.width == width:
            return frame
    raise AssertionError(f"no frame {width} wide in {tries} frames")


@pytest.fixture
def cam(start_server: Any) -> Server:
    return start_server("cam=publisher", "--publish-token", PUBLISH_TOKEN)


def test_meta_messages_follow_the_protocol_document() -> None:
    msg = P.encode_meta(7, P.META_ANNOTATION, "motion", 1.5, b'{"a":1}')
    assert msg[:8] == bytes([7, 0, 0, 16 + 6, 0, 0, 0, 7])
    assert msg[8:16] == bytes([0, 0, 0, 7, 2, 6, 0, 0])
    assert struct.unpack(">d", msg[16:24])[0] == 1.5 and msg[24:] == b'motion{"a":1}'
    assert P.decode_meta(msg[8:30]) == (7, 2, "motion", 1.5)
    assert P.encode_publish_hello(None, 0, None, P.FLAG_PUBLISH | P.FLAG_META)[4:6] == bytes([2, 0x06])
    assert P.error_code_name(15) == "ERR_BAD_META" and P.STATUS_CODES[4] == "annotation-refused"


def test_publisher_meta_reaches_python_and_node_viewers_on_its_frame(cam: Server) -> None:
    node = node_viewer(cam.port)
    widths = [64, 80, 96, 112, 128]
    metas: List[Optional[Dict[str, Any]]] = [
        None if i == 2 else {"i": i, "objects": [{"box": [i, 2, 3, 4], "label": "bottle"}]} for i in range(5)
    ]
    got: Dict[int, framecast.Frame] = {}
    with framecast.connect(f"{cam.address}/cam", timeout=10, meta=True) as reader, framecast.connect(
        f"{cam.address}/cam", timeout=10
    ) as plain:
        with framecast.Publisher(f"{cam.address}/cam", token=PUBLISH_TOKEN) as pub:
            for w, meta in zip(widths, metas):
                assert pub.send_jpeg(jpeg_of_width(w), meta=meta)
                got[w] = read_until(reader, w)
                assert read_until(plain, w).meta is None  # no `meta`: the same frames, without it
                node.wait_line(lambda l, w=w: f'"width":{w},' in l, 10)
    for w, meta in zip(widths, metas):
        assert got[w].meta == meta
    # The Node viewer saw each frame under the same seq, with the same metadata.
    node_frames = {f["width"]: f for f in node_lines(node, "frame")}
    assert [node_frames[w]["seq"] for w in widths] == [got[w].seq for w in widths]
    assert [node_frames[w]["meta"] for w in widths] == metas
    node.stop()


def test_an_analyzer_annotates_frame_n_and_viewers_get_it_tagged_n(cam: Server) -> None:
    node = node_viewer(cam.port)
    seen: List[framecast.Annotation] = []
    refused: List[framecast.Status] = []
    with framecast.Publisher(f"{cam.address}/cam", token=PUBLISH_TOKEN) as pub, framecast.connect(
        f"{cam.address}/cam", timeout=10, annotate=True, on_annotation_refused=refused.append
    ) as analyzer, framecast.connect(
        f"{cam.address}/cam", timeout=10, annotations=True, on_annotation=seen.append
    ) as viewer:
        pub.send_jpeg(jpeg_of_width(64))
        frame = read_until(analyzer, 64)
        read_until(viewer, 64)
        data = {"objects": [{"box": [1, 2, 30, 40], "label": "motion", "score": 0.75}]}
        analyzer.annotate(frame, "motion", data)
        width = 64
        while not seen and width < 64 + 16 * 40:  # annotations come between frames: read on
            width += 16
            pub.send_jpeg(jpeg_of_width(width))
            read_until(viewer, width)
        assert seen == [framecast.Annotation("motion", frame.seq, frame.captured_at, data)]
        assert viewer.latest_annotations["motion"] == seen[0]
        node.wait_line(lambda l: '"annotation"' in l, 10)
        assert node_lines(node, "annotation") == [
            {
                "type": "annotation",
                "analyzer": "motion",
                "seq": frame.seq,
                "capturedAt": frame.captured_at,
                "data": data,
            }
        ]
        # A frame the server never had: refused to the analyzer alone (409), which reads on.
        analyzer.annotate(frame.seq + 100_000, "motion", {"objects": []})
        while not refused and width < 64 + 16 * 80:
            width += 16
            pub.send_jpeg(jpeg_of_width(width))
            read_until(analyzer, width)
        assert refused and (refused[0].code, refused[0].name, refused[0].value) == (4, "annotation-refused", 409)
        assert len(seen) == 1
    node.stop()


def test_bad_metadata_and_annotations_are_refused_before_sending(cam: Server) -> None:
    deep: Dict[str, Any] = {}
    for _ in range(40):
        deep = {"d": deep}
    with framecast.Publisher(f"{cam.address}/cam", token=PUBLISH_TOKEN, max_meta_bytes=1000) as pub:
        jpeg = jpeg_of_width(64)
        for bad, why in (
            ({"note": "x" * 2000}, "over 1000"),
            ([1, 2], "must be a dict"),
            (deep, "nested deeper than 32"),
            ({"nan": float("nan")}, "not JSON"),
        ):
            with pytest.raises(framecast.FramecastError) as e:
                pub.send_jpeg(jpeg, meta=bad)  # type: ignore[arg-type]
            assert e.value.code == "ERR_BAD_META" and why in str(e.value)
        with pytest.raises(framecast.FramecastError):
            pub.send_image(np.zeros((8, 8, 3), np.uint8), meta={"x": "y" * 2000})
        assert pub.sent == 0
        assert pub.send_jpeg(jpeg, meta={"ok": True}) and pub.sent == 1
    with framecast.Publisher(f"{cam.address}/cam", token=PUBLISH_TOKEN) as pub:
        with pytest.raises(framecast.FramecastError, match="over 65536"):
            pub.send_jpeg(jpeg, meta={"note": "x" * 70_000})
        pub.send_jpeg(jpeg)
        with framecast.connect(f"{cam.address}/cam", timeout=10) as plain, framecast.connect(
            f"{cam.address}/cam", timeout=10, annotate=True
        ) as analyzer:
            frame = next(analyzer)
            with pytest.raises(framecast.FramecastError) as e:
                plain.annotate(frame, "motion", {})
            assert e.value.code == "ERR_USAGE"
            for name, data, why in (
                ("bad name!", {}, "analyzer name"),
                ("motion", {"x": "y" * 70_000}, "over 65536"),
                ("motion", ["list"], "must be a dict"),
            ):
                with pytest.raises(framecast.FramecastError) as e:
                    analyzer.annotate(frame, name, data)  # type: ignore[arg-type]
                assert e.value.code == "ERR_BAD_META" and why in str(e.value)
