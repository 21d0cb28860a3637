"""Wire formats, JPEG size, addresses and error names: pure functions, no sockets."""

from __future__ import annotations

import struct
import sys

import pytest

import framecast
from framecast import protocol as P
from framecast.address import Address, parse_address
from framecast.jpeg import jpeg_size, looks_like_jpeg

T0 = 1700000000000.5


def test_v1_hello_is_the_documented_example() -> None:
    # docs/PROTOCOL.md, "Example": a hello with token abc at t0 = 1700000000000.5 (no flags)
    expected = bytes.fromhex("46435354 01 00 0003 4278bcfe56800800 616263".replace(" ", ""))
    assert P.encode_hello("abc", T0, flags=0) == expected


def test_hello_asks_for_ack_flow_control_by_default_and_carries_no_token_when_none() -> None:
    hello = P.encode_hello(None, T0)
    assert hello == b"FCST" + bytes([1, 0x01, 0, 0]) + struct.pack(">d", T0)
    assert len(hello) == 16


def test_default_stream_name_sends_the_v1_hello_byte_for_byte() -> None:
    assert P.encode_hello("abc", T0, stream="default") == P.encode_hello("abc", T0)
    assert P.encode_hello("abc", T0, stream=None) == P.encode_hello("abc", T0)


def test_named_stream_hello_is_v1_with_version_2_then_length_and_name() -> None:
    v1 = P.encode_hello("abc", T0)
    v2 = P.encode_hello("abc", T0, stream="cam1")
    assert v2 == v1[:4] + b"\x02" + v1[5:] + b"\x04cam1"
    assert v2.hex() == "4643535402010003" + "4278bcfe56800800" + "616263" + "04" + "63616d31"
    # the length is of the UTF-8 bytes, not of the characters
    assert P.encode_hello(None, T0, stream="café")[16:] == b"\x05caf\xc3\xa9"
    assert P.encode_hello(None, T0, stream="x" * 64)[16] == 64


@pytest.mark.parametrize("name", ["", "x" * 65, "é" * 33])
def test_stream_names_outside_1_to_64_bytes_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        P.encode_hello(None, T0, stream=name)


def test_token_over_1024_bytes_is_refused() -> None:
    with pytest.raises(ValueError):
        P.encode_hello("t" * 1025, T0)
    assert len(P.encode_hello("t" * 1024, T0)) == 16 + 1024


def test_ack_messages_are_the_documented_examples() -> None:
    assert P.encode_ack(7).hex(" ") == "06 00 00 04 00 00 00 00 00 00 00 07"
    assert P.encode_ack(7, 5).hex(" ") == "06 00 00 08 00 00 00 00 00 00 00 07 00 05 00 00"
    assert P.encode_ack(2**32 + 3, 99)[8:14] == bytes([0, 0, 0, 3, 0, 32])


def test_ack_window_covers_one_round_trip() -> None:
    assert P.ack_window(None, None) == 2
    assert P.ack_window(0.2, 33.3) == 2  # one host
    assert P.ack_window(100, 33.3) == 5  # a 100 ms path at 30 fps
    assert P.ack_window(10_000, 1) == 32


def test_server_error_codes_map_to_names() -> None:
    names = {code: P.error_code_name(code) for code in range(1, 11)}
    assert names == {
        1: "ERR_PROTOCOL",
        2: "ERR_PROTOCOL",
        3: "ERR_AUTH",
        4: "ERR_AUTH",
        5: "ERR_SERVER_FULL",
        6: "ERR_TIMEOUT",
        7: "ERR_SHUTTING_DOWN",
        8: "ERR_SERVER_INTERNAL",
        9: "ERR_PROTOCOL",
        10: "ERR_UNKNOWN_STREAM",
    }
    assert P.error_code_name(999) == "ERR_REFUSED"


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _tiny_jpeg(width: int, height: int, sof: int = 0xC0) -> bytes:
    app0 = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    dht = _segment(0xC4, b"\x00" + b"\x00" * 16)
    sof_seg = _segment(sof, b"\x08" + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00")
    sos = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + app0 + dht + b"\xff\xff" + sof_seg + sos + b"\x12\x34" + b"\xff\xd9"


def test_jpeg_size_reads_the_sof_marker() -> None:
    assert jpeg_size(_tiny_jpeg(800, 450)) == (800, 450)
    assert jpeg_size(_tiny_jpeg(333, 187, sof=0xC2)) == (333, 187)  # progressive
    assert looks_like_jpeg(_tiny_jpeg(1, 1))
    assert looks_like_jpeg(_tiny_jpeg(1, 1) + b"\x00\x00")


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xd8", b"not a jpeg at all", b"\xff\xd8\xff\xda\x00\x08abcdef\xff\xd9", b"\xff\xd8\xff\xc0\x00"],
)
def test_jpeg_size_is_none_for_malformed_data(data: bytes) -> None:
    assert jpeg_size(data) is None


def test_jpeg_size_matches_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    ok, buf = cv2.imencode(".jpg", np.zeros((187, 333, 3), np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    assert jpeg_size(buf.tobytes()) == (333, 187)


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, Address("127.0.0.1", 9999)),
        ("cam.lan", Address("cam.lan", 9999)),
        ("10.0.0.5:1234", Address("10.0.0.5", 1234)),
        ("10.0.0.5:1234/garage", Address("10.0.0.5", 1234, "garage")),
        ("tcp://host:9/default", Address("host", 9, "default")),
        ("[::1]:9000/cam", Address("::1", 9000, "cam")),
        ("::1", Address("::1", 9999)),
        (":7000", Address("127.0.0.1", 7000)),
        ("host:7000/", Address("host", 7000)),
    ],
)
def test_addresses(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["host:0", "host:70000", "host:abc", "tls://host:1", "http://host", "h:1/" + "x" * 65])
def test_bad_addresses_are_usage_errors(text: str) -> None:
    with pytest.raises(framecast.FramecastError) as e:
        parse_address(text)
    assert e.value.code == "ERR_USAGE"


def test_address_named() -> None:
    assert parse_address("h:1/cam").named
    assert not parse_address("h:1/default").named
    assert not parse_address("h:1").named


def test_frame_image_without_opencv_raises_an_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # type: ignore[misc]  # makes `import cv2` fail
    frame = framecast.Frame(0, 1, 1, _tiny_jpeg(1, 1))
    with pytest.raises(ImportError) as e:
        frame.image()
    assert isinstance(e.value, framecast.OpenCVUnavailableError)
    assert "OpenCV" in str(e.value)


def test_frame_image_decodes_to_bgr() -> None:
    cv2 = pytest.importorskip("cv2")
    np = pytest.importorskip("numpy")
    img = np.zeros((45, 80, 3), np.uint8)
    img[:, :, 2] = 255  # red in BGR
    ok, buf = cv2.imencode(".jpg", img)
    out = framecast.Frame(0, 80, 45, buf.tobytes()).image()
    assert out.shape == (45, 80, 3)
    assert out[20, 40, 2] > 240 and out[20, 40, 0] < 15


def test_package_metadata() -> None:
    assert framecast.__version__ == "0.1.0"
    assert callable(framecast.connect)
    assert issubclass(framecast.ServerError, framecast.FramecastError)
