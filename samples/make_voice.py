"""Writes samples/voice_sample.ogg: a 3-second Ogg Opus voice note (silence) for the demo's web chat
("sample voice" button) and the tests. No encoder is needed: Opus has a 3-byte silent 20 ms frame, and
an Ogg page is a header, a segment table and a CRC (RFC 3533, RFC 7845).

    python samples/make_voice.py
"""

from __future__ import annotations

import struct
from pathlib import Path

SILENT_FRAME = b"\xf8\xff\xfe"  # TOC: CELT fullband 20 ms, mono, one frame; then a silent frame
FRAME_SAMPLES = 960  # 20 ms at 48 kHz (Opus granules are always counted at 48 kHz)
PRE_SKIP = 312


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def _crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) ^ _TABLE[((crc >> 24) & 0xFF) ^ byte]) & 0xFFFFFFFF
    return crc


def _page(packets: list[bytes], granule: int, serial: int, sequence: int, flags: int) -> bytes:
    lacing = b""
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = b"OggS" + struct.pack("<BBqIIIB", 0, flags, granule, serial, sequence, 0, len(lacing)) + lacing
    body = b"".join(packets)
    crc = _crc(header + body)
    return header[:22] + struct.pack("<I", crc) + header[26:] + body


def silent_voice(seconds: float = 3.0, serial: int = 0x5EDC0DE) -> bytes:
    """An Ogg Opus file of `seconds` of silence, as Telegram would store a voice note."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, PRE_SKIP, 48000, 0, 0)
    vendor = b"redgrid"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    pages = [_page([head], 0, serial, 0, 0x02), _page([tags], 0, serial, 1, 0)]
    frames = int(seconds * 50)
    per_page = 50
    sequence, done = 2, 0
    while done < frames:
        count = min(per_page, frames - done)
        done += count
        last = done == frames
        pages.append(_page([SILENT_FRAME] * count, PRE_SKIP + done * FRAME_SAMPLES, serial, sequence,
                           0x04 if last else 0))
        sequence += 1
    return b"".join(pages)


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "voice_sample.ogg"
    target.write_bytes(silent_voice())
    print(f"wrote {target} ({target.stat().st_size} bytes)")
