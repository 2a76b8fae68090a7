from __future__ import annotations

import pytest

from mediaprep.sniff import sniff


@pytest.mark.parametrize(
    "head,fmt,kind",
    [
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, "JPEG", "image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "PNG", "image"),
        (b"GIF89a" + b"\0" * 20, "GIF", "image"),
        (b"BM" + b"\0" * 30, "BMP", "image"),
        (b"II*\x00" + b"\0" * 20, "TIFF", "image"),
        (b"MM\x00+" + b"\0" * 20, "BIGTIFF", "image"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "WEBP", "image"),
        (b"RIFF\0\0\0\0AVI LIST", "AVI", "video"),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "HEIC", "image"),
        (b"\0\0\0\x1cftypmif1\0\0\0\0mif1heichevc", "HEIC", "image"),
        (b"\0\0\0\x18ftypmif1\0\0\0\0mif1miaf", "HEIF", "image"),
        (b"\0\0\0\x20ftypavif\0\0\0\0avifmif1miafMA1B", "AVIF", "image"),
        (b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41", "MP4", "video"),
        (b"\0\0\0\x14ftypqt  \0\0\0\0qt  ", "MOV", "video"),
        (b"\0\0\0\x14ftyp3gp4\0\0\0\0isom", "3GP", "video"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm", "WEBM", "video"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "MKV", "video"),
        (b"FLV\x01\x05", "FLV", "video"),
        (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + b"\0" * 8, "WMV", "video"),
        (b"8BPS\0\x01", "PSD", "image"),
        (b"P6\n64 48\n255\n", "PPM", "image"),
        (b"\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x14ftypjp2 ", "JPEG2000", "image"),
        (b"\0\0\x01\0\x01\0", "ICO", "image"),
        (b"", "EMPTY", "unknown"),
        (b'{"a": 1}', "TEXT", "unknown"),
        (b"hello world\n", "TEXT", "unknown"),
        (bytes(range(200, 256)), "UNKNOWN", "unknown"),
    ],
)
def test_sniff(head: bytes, fmt: str, kind: str) -> None:
    got = sniff(head)
    assert (got.format, got.kind) == (fmt, kind)


def test_mpeg_ts_needs_sync_bytes() -> None:
    ts = (b"\x47" + b"\0" * 187) * 3
    assert sniff(ts).format == "MPEG-TS"
    assert sniff(b"Good morning").format == "TEXT"
