"""The host frame codec (host/protocol.py) against the wire format of
docs/protocol.md. The device side of the same format is checked on QEMU in
test_qemu_firmware.py."""

import struct
import zlib

import pytest

from host import protocol as p


def test_encode_layout_matches_the_spec():
    frame = p.encode(p.Command.INFER, 7, b"\x01\x02\x03")
    assert frame[:2] == b"KL"
    assert frame[2] == 0x02 and frame[3] == 7
    assert struct.unpack_from("<H", frame, 4)[0] == 3
    assert frame[6:9] == b"\x01\x02\x03"
    # CRC over type .. payload, little-endian, the zlib CRC-32
    assert struct.unpack_from("<I", frame, 9)[0] == zlib.crc32(frame[2:9])
    assert len(frame) == 6 + 3 + 4


def test_roundtrip_and_error_frames():
    f = p.decode(p.encode(0x84, 200, b"hello"))
    assert (f.type, f.seq, f.payload) == (0x84, 200, b"hello")
    err = p.decode(p.encode_error(p.ErrorCode.BAD_LENGTH, 0x02, 9, "wrong size"))
    assert err.is_error
    e = err.error()
    assert e.code == p.ErrorCode.BAD_LENGTH and e.offending_type == 2 and e.message == "wrong size"
    assert "BAD_LENGTH" in str(e)


@pytest.mark.parametrize("mutate, words", [
    (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "CRC mismatch"),
    (lambda b: b"XY" + b[2:], "sync"),
    (lambda b: b[:-2], "length field"),
    (lambda b: b[:5], "shorter"),
])
def test_decode_names_what_is_wrong(mutate, words):
    with pytest.raises(p.ProtocolError, match=words):
        p.decode(mutate(p.encode(p.Command.PING, 1, b"abc")))


def test_decoder_resyncs_over_garbage_split_input_and_bad_frames():
    good1 = p.encode(p.Command.PING, 1, b"KLKL")  # sync bytes inside a payload
    bad = bytearray(p.encode(p.Command.PING, 2, b"x"))
    bad[-1] ^= 0xFF
    good2 = p.encode(0x81, 3, b"{}")
    stream = b"\x00K\xffgarbage" + good1 + bytes(bad) + b"KK" + good2
    d = p.Decoder()
    frames = []
    for i in range(0, len(stream), 3):  # arrives in small pieces
        frames += d.feed(stream[i:i + 3])
    assert [(f.seq, f.payload) for f in frames] == [(1, b"KLKL"), (3, b"{}")]
    assert any("CRC" in msg for msg in d.dropped)


def test_payload_helpers():
    cost, out = p.unpack_infer_response(p.pack_infer_response(123456, b"\x01\xff"))
    assert (cost, out) == (123456, b"\x01\xff")
    assert p.unpack_profile_response(struct.pack("<3I", 2, 10, 20)) == [10, 20]
    with pytest.raises(p.ProtocolError, match="2 layers"):
        p.unpack_profile_response(struct.pack("<2I", 2, 10))
    with pytest.raises(ValueError):
        p.encode(1, 256)
