"""Tell a format from its first bytes (magic numbers), never from a file name. Pure.

`sniff(head)` takes the first `HEAD_BYTES` of a file and returns the format name mediaprep uses,
its kind (image / video / unknown) and, for ISO-BMFF files, the brands that decided it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HEAD_BYTES = 512

_HEIC_BRANDS = frozenset({"heic", "heix", "heim", "heis", "hevc", "hevx"})
_AVIF_BRANDS = frozenset({"avif", "avis"})
_HEIF_BRANDS = frozenset({"mif1", "msf1", "mif2", "miaf"})
_MOV_BRANDS = frozenset({"qt  "})
_3GP_PREFIXES = ("3gp", "3g2", "3ge", "3gg")


@dataclass(frozen=True, slots=True)
class Sniffed:
    format: str  # "JPEG", "PNG", ..., "UNKNOWN", "EMPTY", "TEXT"
    kind: Literal["image", "video", "unknown"]
    brands: tuple[str, ...] = ()


def _iso_brands(head: bytes) -> tuple[str, ...] | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(head[0:4], "big")
    end = min(len(head), box_size if box_size >= 16 else len(head))
    brands = [head[8:12].decode("latin-1")]
    for off in range(16, end - 3, 4):
        brands.append(head[off : off + 4].decode("latin-1"))
    return tuple(brands)


def _sniff_iso(brands: tuple[str, ...]) -> Sniffed:
    major, rest = brands[0], set(brands[1:])
    every = {major} | rest
    if major in _AVIF_BRANDS or (major in _HEIF_BRANDS and every & _AVIF_BRANDS and not every & _HEIC_BRANDS):
        return Sniffed("AVIF", "image", brands)
    if major in _HEIC_BRANDS or (major in _HEIF_BRANDS and every & _HEIC_BRANDS):
        return Sniffed("HEIC", "image", brands)
    if major in _HEIF_BRANDS:
        return Sniffed("HEIF", "image", brands)
    if major in _MOV_BRANDS:
        return Sniffed("MOV", "video", brands)
    if major.startswith(_3GP_PREFIXES):
        return Sniffed("3GP", "video", brands)
    if major in {"jp2 ", "jpx ", "jpm "}:
        return Sniffed("JPEG2000", "image", brands)
    return Sniffed("MP4", "video", brands)


def sniff(head: bytes) -> Sniffed:
    """Name the format of a file from its first bytes. Costs nothing: no I/O."""
    if not head:
        return Sniffed("EMPTY", "unknown")
    if head[:3] == b"\xff\xd8\xff":
        return Sniffed("JPEG", "image")
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return Sniffed("PNG", "image")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("GIF", "image")
    if head[:2] == b"BM" and len(head) >= 14:
        return Sniffed("BMP", "image")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed("TIFF", "image")
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return Sniffed("BIGTIFF", "image")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("WEBP", "image")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("AVI", "video")
    brands = _iso_brands(head)
    if brands is not None:
        return _sniff_iso(brands)
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot") and int.from_bytes(head[:4], "big") >= 8:
        return Sniffed("MOV", "video")  # QuickTime files from before ftyp existed
    if head[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or head[:4] == b"\xff\x4f\xff\x51":
        return Sniffed("JPEG2000", "image")
    if head[:4] == b"\x00\x00\x01\x00" or head[:4] == b"\x00\x00\x02\x00":
        return Sniffed("ICO", "image")
    if head[:4] == b"8BPS":
        return Sniffed("PSD", "image")
    if head[:1] == b"P" and head[1:2] in b"1234567f" and len(head) > 2 and head[2:3] in b" \t\r\n":
        return Sniffed("PPM", "image")
    if head[:2] == b"\xff\x0a" or head[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return Sniffed("JXL", "image")
    if head[:4] == b"BPG\xfb":
        return Sniffed("BPG", "image")
    if head[:4] == b"qoif":
        return Sniffed("QOI", "image")
    if head[:4] == b"icns":
        return Sniffed("ICNS", "image")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        webm = b"webm" in head
        return Sniffed("WEBM" if webm else "MKV", "video")
    if head[:3] == b"FLV":
        return Sniffed("FLV", "video")
    if head[:16] == bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"):
        return Sniffed("WMV", "video")
    if head[:4] == b"\x00\x00\x01\xba":
        return Sniffed("MPEG-PS", "video")
    if head[:4] == b"\x00\x00\x01\xb3":
        return Sniffed("MPEG-VIDEO", "video")
    if len(head) >= 377 and head[0] == head[188] == head[376] == 0x47:
        return Sniffed("MPEG-TS", "video")
    if len(head) >= 397 and head[4] == head[196] == head[388] == 0x47:
        return Sniffed("MPEG-TS", "video")  # BDAV .mts/.m2ts: a 4-byte timestamp before each packet
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"[", b"<") or _looks_like_text(head):
        return Sniffed("TEXT", "unknown")
    return Sniffed("UNKNOWN", "unknown")


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)
