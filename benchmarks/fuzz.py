"""A mutation fuzzer for mediaprep: what broken or hostile bytes still do to probe, check and prepare.

    python benchmarks/fuzz.py --count 1000 --seed 1 --jobs 1                # about 4-5 min on one core
    python benchmarks/fuzz.py --count 10000 --seed 1 --jobs 2 --keep fuzz-findings --report fuzz.json
    python benchmarks/fuzz.py --seed 1 --only 1000-2199 --jobs 1           # a further slice of a campaign
    python benchmarks/fuzz.py --seed 1 --only 417 --keep /tmp/f            # rebuild and rerun one input
    python benchmarks/fuzz.py --replay /tmp/f/uncaught-000417-photo.jpg     # rerun kept files as they are

Seeds are every file in `samples/media/` and, when it is beside the project, `../shared/corpus/`
(`--no-corpus` leaves it out, `--seeds DIR` adds folders). Input `i` of a campaign is rebuilt from
`--seed` and `i` alone (one `random.Random` per input), so `--only i` with the same seed and the same
seed set reproduces it exactly; `--keep DIR` also writes every failing input with a `.json` sidecar.

Mutations (one to three stacked per input): bit flips, byte overwrites with 0x00/0xFF/0x7F/0x80,
16/32-bit overwrites with boundary values, truncation, repeating or deleting a random slice,
duplicating or deleting a PNG chunk / ISO-BMFF box (nested too) / RIFF chunk with the parents' sizes
fixed, header field edits (PNG IHDR with its CRC fixed, GIF screen and image descriptor, BMP, JPEG
SOF, TIFF IFD0, WebP VP8X/VP8/VP8L, ISO-BMFF tkhd/mvhd/mdhd/ispe/visual sample entry/sample table
counts, AVI avih/strf: set to 0, 1, 65535, 2^31-1 or what the field can hold), and appended garbage.

Every input runs in its own process, forked from a worker that has already imported mediaprep (so
the per-input cost is the work itself, not the imports), with a wall-clock limit (`--timeout` for
each stage, 8× that for all the stages of one input) and `RLIMIT_AS` = `--mem-mb` in the child.
Stages: `probe`, `check`, `check(fast=True)`, `prepare(out_dir=tmp)`, `check` of every file prepare
wrote (each must be `ok`), and for videos `extract_frames` iterated for `--frames` frames (at fps 10
when the default fps gives too few). Worker processes run with
`MALLOC_ARENA_MAX=2` and one BLAS thread: glibc reserves 64 MiB of address space per thread arena,
which is not memory used but counts against `RLIMIT_AS`.

What is counted (inputs with at least one finding of the kind):
- uncaught: an exception that is not a `mediaprep.MediaprepError` escaped a call (a `MemoryError` is
  a memory blowup instead);
- crash: the child died of a signal (re-run once without the address-space limit, under an RSS
  watchdog at 2× it: when it then passes or the watchdog fires, it is a memory blowup instead), or
  exited without finishing;
- hang: a stage still running after `--timeout` (its stack at 85 % of it, from faulthandler, says where);
- memory: a `MemoryError` (or a thread that could not start) under the limit, or an outcome the
  limit decided: every input with an exception, an unreadable verdict or a finding is run again
  without the address-space limit, under an RSS watchdog at 2× it, and when that changes the outcome
  (libwebp's "could not create decoder object" becomes a picture) or the watchdog fires, it is a
  memory blowup, titled with the peak RSS seen, which tells address space from resident memory;
  findings that stay the same without the limit are kept as they are;
- disagreement: check says ok/fixable and prepare rejects, or check rejects and prepare is ready
  (or prepare's own verdict differs from check's);
- bad output: a file prepare wrote that is missing or does not `check` ok.
Also shown, not counted by `--strict`: MediaprepErrors other than `ProbeError` from `probe` and
`UsageError` (e.g. an internal `UnreadableVideo` escaping frame iteration); violations whose message
shows an allocation failure that happens without any limit too (FFmpeg refusing a 2^31-entry sample
table: the file is rejected, nothing was used); and the peak RSS.

The exit status is 0 (a measuring tool) unless `--strict`, then 1 when any count is non-zero.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "media"
CORPUS = ROOT.parent / "shared" / "corpus"

CATEGORIES = ("uncaught", "crash", "hang", "memory", "disagreement", "bad_output")
INFO_CATEGORIES = ("mediaprep_error", "alloc_refused")
LABELS = {
    "uncaught": "uncaught exceptions",
    "crash": "crashes (signal / died)",
    "hang": "hangs past the limit",
    "memory": "memory blowups",
    "disagreement": "check/prepare disagreements",
    "bad_output": "bad outputs",
    "mediaprep_error": "other MediaprepError raised (info)",
    "alloc_refused": "allocation refused → violation (info)",
}
MEMORY_RE = re.compile(r"MemoryError|Cannot allocate memory|out of memory|can't start new thread|bad_alloc|\bENOMEM\b|cannot allocate", re.I)
INTERESTING_BYTES = (0x00, 0xFF, 0x7F, 0x80)
FIELD_VALUES = (0, 1, 65535, 2**31 - 1)
INT_VALUES = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
TOTAL_TIMEOUT_FACTOR = 8  # all the stages of one input together: at most this many --timeout
MAX_GROWTH = 256 * 1024  # a mutant is at most this much bigger than its seed (plus 2×)


# ==================================================================================================
# seeds


@dataclasses.dataclass(frozen=True)
class Seed:
    name: str  # as shown: samples/media/photo.jpg, corpus/images/hopper.jpg
    path: Path
    fmt: str  # png gif bmp jpeg tiff riff bmff ebml other


def sniff_format(b: bytes) -> str:
    if b.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if b[:4] in (b"GIF8",):
        return "gif"
    if b[:2] == b"BM":
        return "bmp"
    if b[:2] == b"\xff\xd8":
        return "jpeg"
    if b[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if b[:4] == b"RIFF":
        return "riff"
    if b[:4] == b"\x1a\x45\xdf\xa3":
        return "ebml"
    if len(b) >= 8 and b[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"styp", b"sidx", b"moof"):
        return "bmff"
    return "other"


def load_seeds(*, include_corpus: bool = True, extra: Iterable[str | os.PathLike[str]] = ()) -> list[Seed]:
    """Every regular file under samples/media, the corpus (when present and asked for) and `extra`,
    sorted by name, dot-files and the corpus's MANIFEST/README left out."""
    roots: list[tuple[str, Path]] = [("samples/media", SAMPLES)]
    if include_corpus and (CORPUS / "MANIFEST.tsv").exists():
        roots.append(("corpus", CORPUS))
    roots += [(str(p), Path(p)) for p in extra]
    seeds = []
    for prefix, root in roots:
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root)
            if not p.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            if root == CORPUS and rel.name in ("MANIFEST.tsv", "README.md"):
                continue
            with open(p, "rb") as fp:
                head = fp.read(16)
            seeds.append(Seed(f"{prefix}/{rel.as_posix()}", p, sniff_format(head)))
    return seeds


# ==================================================================================================
# mutations: each takes (data, rng) and returns (new data, description) or None when it does not apply


def _pos(rng: random.Random, n: int) -> int:
    """A position in a buffer of n bytes, biased to the first KiB (headers) half the time."""
    if n <= 0:
        return 0
    if rng.random() < 0.5:
        return rng.randrange(min(n, 1024))
    return rng.randrange(n)


def m_bitflip(b: bytearray, rng: random.Random) -> str | None:
    if not b:
        return None
    flips = []
    for _ in range(rng.choice((1, 1, 1, 2, 4, 8))):
        at, bit = _pos(rng, len(b)), rng.randrange(8)
        b[at] ^= 1 << bit
        flips.append(f"{at}.{bit}")
    return "bitflip@" + ",".join(flips)


def m_byte(b: bytearray, rng: random.Random) -> str | None:
    if not b:
        return None
    done = []
    for _ in range(rng.randint(1, 4)):
        at, v = _pos(rng, len(b)), rng.choice(INTERESTING_BYTES)
        b[at] = v
        done.append(f"{at}={v:#04x}")
    return "byte@" + ",".join(done)


def m_int(b: bytearray, rng: random.Random) -> str | None:
    width = rng.choice((2, 4))
    if len(b) < width:
        return None
    at = _pos(rng, len(b) - width + 1)
    v = rng.choice(INT_VALUES) & ((1 << (8 * width)) - 1)
    order = rng.choice(("big", "little"))
    b[at : at + width] = v.to_bytes(width, order)
    return f"int{8 * width}{order[0]}e@{at}={v:#x}"


def m_truncate(b: bytearray, rng: random.Random) -> str | None:
    if len(b) < 2:
        return None
    at = _pos(rng, len(b)) if rng.random() < 0.3 else rng.randrange(1, len(b))
    del b[at:]
    return f"truncate@{at}"


def _slice(b: bytearray, rng: random.Random) -> tuple[int, int]:
    n = len(b)
    length = rng.randint(1, max(1, min(4096, n // 8 or 1)))
    start = _pos(rng, max(1, n - length))
    return start, min(n, start + length)


def m_slice_repeat(b: bytearray, rng: random.Random) -> str | None:
    if len(b) < 2:
        return None
    a, e = _slice(b, rng)
    times = rng.choice((1, 1, 2, 3))
    where = e if rng.random() < 0.6 else rng.randrange(len(b) + 1)
    b[where:where] = bytes(b[a:e]) * times
    return f"slice-repeat[{a}:{e}]x{times}@{where}"


def m_slice_delete(b: bytearray, rng: random.Random) -> str | None:
    if len(b) < 2:
        return None
    a, e = _slice(b, rng)
    del b[a:e]
    return f"slice-delete[{a}:{e}]"


def m_append(b: bytearray, rng: random.Random) -> str | None:
    kind = rng.choice(("random", "zeros", "ff", "head"))
    n = rng.choice((1, 16, 512, 4096, 65536))
    if kind == "random":
        extra = rng.randbytes(n)
    elif kind == "zeros":
        extra = bytes(n)
    elif kind == "ff":
        extra = b"\xff" * n
    else:
        extra = bytes(b[:n])
    b += extra
    return f"append-{kind}+{len(extra)}"


# --- structure: chunks and boxes ------------------------------------------------------------------


@dataclasses.dataclass
class Unit:
    """A chunk or box: where it is, its name, and the size fields of its parents (fixed on edits)."""

    start: int
    end: int
    name: str
    parents: list[tuple[int, int, str]]  # (offset of the size field, its width, byte order)
    hdr: int = 8  # header length (box: 8 or 16)


def png_chunks(b: bytes) -> list[Unit]:
    if not b.startswith(b"\x89PNG\r\n\x1a\n"):
        return []
    out, pos = [], 8
    while pos + 12 <= len(b):
        n = struct.unpack_from(">I", b, pos)[0]
        end = pos + 12 + n
        if end > len(b):
            break
        out.append(Unit(pos, end, b[pos + 4 : pos + 8].decode("latin-1"), []))
        pos = end
    return out


BMFF_CONTAINERS = {
    b"moov": 0, b"trak": 0, b"mdia": 0, b"minf": 0, b"stbl": 0, b"edts": 0, b"dinf": 0, b"mvex": 0,
    b"moof": 0, b"traf": 0, b"udta": 0, b"iprp": 0, b"ipco": 0, b"meta": 4, b"stsd": 8, b"dref": 8,
    b"avc1": 78, b"avc3": 78, b"hvc1": 78, b"hev1": 78, b"mp4v": 78, b"av01": 78, b"vp09": 78, b"vvc1": 78,
}  # fmt: skip
VISUAL_ENTRIES = (b"avc1", b"avc3", b"hvc1", b"hev1", b"mp4v", b"av01", b"vp09", b"vvc1", b"jpeg", b"mjpa")


def bmff_boxes(b: bytes, start: int = 0, end: int | None = None, parents: list[tuple[int, int, str]] | None = None, depth: int = 0) -> list[Unit]:
    end = len(b) if end is None else end
    parents = parents or []
    out, pos = [], start
    while pos + 8 <= end:
        size, typ, hdr = struct.unpack_from(">I", b, pos)[0], b[pos + 4 : pos + 8], 8
        size_field = (pos, 4, "big")
        if size == 1:
            if pos + 16 > end:
                break
            size, hdr, size_field = struct.unpack_from(">Q", b, pos + 8)[0], 16, (pos + 8, 8, "big")
        elif size == 0:
            size = end - pos
        if size < hdr or pos + size > end:
            break
        out.append(Unit(pos, pos + size, typ.decode("latin-1"), list(parents), hdr))
        skip = BMFF_CONTAINERS.get(typ)
        if skip is not None and depth < 10:
            out += bmff_boxes(b, pos + hdr + skip, pos + size, parents + [size_field], depth + 1)
        pos += size
    return out


def riff_chunks(b: bytes) -> list[Unit]:
    if b[:4] != b"RIFF" or len(b) < 12:
        return []

    def walk(start: int, end: int, parents: list[tuple[int, int, str]], depth: int) -> list[Unit]:
        out, pos = [], start
        while pos + 8 <= end:
            cid, n = b[pos : pos + 4], struct.unpack_from("<I", b, pos + 4)[0]
            stop = pos + 8 + n + (n & 1)
            if pos + 8 + n > end:
                break
            out.append(Unit(pos, min(stop, end), cid.decode("latin-1"), list(parents)))
            if cid == b"LIST" and depth < 6 and n >= 4:
                out += walk(pos + 12, pos + 8 + n, parents + [(pos + 4, 4, "little")], depth + 1)
            pos = stop
        return out

    return walk(12, len(b), [(4, 4, "little")], 0)


def units_of(b: bytes, fmt: str) -> list[Unit]:
    if fmt == "png":
        return png_chunks(b)
    if fmt == "bmff":
        return bmff_boxes(b)
    if fmt == "riff":
        return riff_chunks(b)
    return []


def _fix_parents(b: bytearray, unit: Unit, delta: int) -> None:
    for off, width, order in unit.parents:
        old = int.from_bytes(b[off : off + width], order)
        b[off : off + width] = max(0, min(old + delta, (1 << (8 * width)) - 1)).to_bytes(width, order)


def m_unit(b: bytearray, rng: random.Random, fmt: str) -> str | None:
    """Duplicate or delete a chunk/box (a generic slice op when the format has none we parse)."""
    units = units_of(bytes(b), fmt)
    if fmt == "png":
        units = [u for u in units if u.name != "IHDR" or rng.random() < 0.2]
    if not units:
        return m_slice_repeat(b, rng) if rng.random() < 0.5 else m_slice_delete(b, rng)
    u = rng.choice(units)
    data = bytes(b[u.start : u.end])
    if rng.random() < 0.5:
        times = rng.choice((1, 1, 2, 8))
        b[u.end : u.end] = data * times
        _fix_parents(b, u, len(data) * times)
        return f"{fmt}-dup {u.name}@{u.start}x{times}"
    del b[u.start : u.end]
    _fix_parents(b, u, -len(data))
    return f"{fmt}-del {u.name}@{u.start}"


# --- header fields --------------------------------------------------------------------------------


@dataclasses.dataclass
class Field:
    name: str
    off: int
    width: int  # bytes
    order: str  # "big" / "little"
    encode: Callable[[int], int] = lambda v: v  # desired value → raw field value (clipped afterwards)
    after: Callable[[bytearray], None] | None = None  # e.g. fix a CRC


def _fix_png_crc(start: int) -> Callable[[bytearray], None]:
    def fix(b: bytearray) -> None:
        n = struct.unpack_from(">I", b, start)[0]
        if start + 12 + n <= len(b):
            struct.pack_into(">I", b, start + 8 + n, zlib.crc32(b[start + 4 : start + 8 + n]) & 0xFFFFFFFF)

    return fix


def _fields_png(b: bytes) -> list[Field]:
    out = []
    for u in png_chunks(b):
        if u.name == "IHDR" and u.end - u.start >= 25:
            fix = _fix_png_crc(u.start)
            out += [Field("png IHDR width", u.start + 8, 4, "big", after=fix), Field("png IHDR height", u.start + 12, 4, "big", after=fix)]
        elif u.name == "acTL" and u.end - u.start >= 20:
            out.append(Field("png acTL num_frames", u.start + 8, 4, "big", after=_fix_png_crc(u.start)))
        elif u.name == "fcTL" and u.end - u.start >= 38:
            fix = _fix_png_crc(u.start)
            out += [Field("png fcTL width", u.start + 12, 4, "big", after=fix), Field("png fcTL height", u.start + 16, 4, "big", after=fix)]
    return out


def _fields_gif(b: bytes) -> list[Field]:
    if len(b) < 13:
        return []
    out = [Field("gif screen width", 6, 2, "little"), Field("gif screen height", 8, 2, "little")]
    pos = 13 + (3 * (1 << ((b[10] & 7) + 1)) if b[10] & 0x80 else 0)
    for _ in range(64):  # the first image descriptors
        if pos >= len(b):
            break
        if b[pos] == 0x21 and pos + 2 < len(b):
            pos += 2
            while pos < len(b) and b[pos]:
                pos += b[pos] + 1
            pos += 1
        elif b[pos] == 0x2C and pos + 10 <= len(b):
            out += [Field(f"gif image@{pos} width", pos + 5, 2, "little"), Field(f"gif image@{pos} height", pos + 7, 2, "little"),
                    Field(f"gif image@{pos} left", pos + 1, 2, "little")]  # fmt: skip
            flags = b[pos + 9]
            pos += 10 + (3 * (1 << ((flags & 7) + 1)) if flags & 0x80 else 0) + 1
            while pos < len(b) and b[pos]:
                pos += b[pos] + 1
            pos += 1
        else:
            break
    return out


def _fields_bmp(b: bytes) -> list[Field]:
    if len(b) < 26:
        return []
    dib = struct.unpack_from("<I", b, 14)[0]
    if dib == 12:
        return [Field("bmp width", 18, 2, "little"), Field("bmp height", 20, 2, "little")]
    out = [Field("bmp width", 18, 4, "little"), Field("bmp height", 22, 4, "little")]
    if len(b) >= 30:
        out.append(Field("bmp bit count", 28, 2, "little"))
    return out


SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _fields_jpeg(b: bytes) -> list[Field]:
    out, pos = [], 2
    while pos + 4 <= len(b) and len(out) < 8:
        if b[pos] != 0xFF:
            break
        marker = b[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            break
        seglen = struct.unpack_from(">H", b, pos + 2)[0]
        if marker in SOF_MARKERS and pos + 9 <= len(b):
            out += [Field(f"jpeg SOF{marker - 0xC0:X} height", pos + 5, 2, "big"), Field(f"jpeg SOF{marker - 0xC0:X} width", pos + 7, 2, "big"),
                    Field(f"jpeg SOF{marker - 0xC0:X} components", pos + 9, 1, "big")]  # fmt: skip
        pos += 2 + seglen
    return out


def _fields_tiff(b: bytes) -> list[Field]:
    if len(b) < 8 or b[:4] not in (b"II*\x00", b"MM\x00*"):
        return []
    order = "little" if b[:2] == b"II" else "big"
    fmt = "<" if order == "little" else ">"
    ifd = struct.unpack_from(fmt + "I", b, 4)[0]
    if ifd + 2 > len(b):
        return []
    n = struct.unpack_from(fmt + "H", b, ifd)[0]
    out = []
    names = {256: "width", 257: "height", 258: "bits per sample", 277: "samples per pixel", 278: "rows per strip", 322: "tile width", 323: "tile length"}
    for k in range(min(n, 512)):
        at = ifd + 2 + 12 * k
        if at + 12 > len(b):
            break
        tag, typ = struct.unpack_from(fmt + "HH", b, at)
        if tag in names:
            out.append(Field(f"tiff {names[tag]}", at + 8, 2 if typ == 3 else 4, order))
        elif tag == 0x0111:  # StripOffsets count: a huge count makes readers allocate
            out.append(Field("tiff strip count", at + 4, 4, order))
    return out


def _fields_riff(b: bytes) -> list[Field]:
    out = [Field("riff size", 4, 4, "little")] if len(b) >= 8 else []
    for u in riff_chunks(b):
        d = u.start + 8
        if u.name == "VP8X" and u.end - d >= 10:
            out += [Field("webp VP8X canvas width", d + 4, 3, "little", lambda v: v - 1), Field("webp VP8X canvas height", d + 7, 3, "little", lambda v: v - 1)]
        elif u.name == "VP8 " and u.end - d >= 10:
            out += [Field("webp VP8 width", d + 6, 2, "little"), Field("webp VP8 height", d + 8, 2, "little")]
        elif u.name == "ANMF" and u.end - d >= 16:
            out += [Field("webp ANMF width", d + 6, 3, "little", lambda v: v - 1), Field("webp ANMF height", d + 9, 3, "little", lambda v: v - 1)]
        elif u.name == "avih" and u.end - d >= 40:
            out += [Field("avi avih width", d + 32, 4, "little"), Field("avi avih height", d + 36, 4, "little"),
                    Field("avi avih total frames", d + 16, 4, "little"), Field("avi avih usec/frame", d, 4, "little")]  # fmt: skip
        elif u.name == "strf" and u.end - d >= 40:
            out += [Field("avi strf width", d + 4, 4, "little"), Field("avi strf height", d + 8, 4, "little")]
        elif u.name == "strh" and u.end - d >= 36:
            out += [Field("avi strh scale", d + 20, 4, "little"), Field("avi strh rate", d + 24, 4, "little"), Field("avi strh length", d + 32, 4, "little")]
        if u.name == "VP8L" and u.end - d >= 5:
            out.append(Field("webp VP8L size bits", d + 1, 4, "little"))
    return out


def _fixed16(v: int) -> int:
    return v << 16 if v < 0x8000 else 0x7FFFFFFF if v == 2**31 - 1 else v << 16


def _fields_bmff(b: bytes) -> list[Field]:
    out = []
    for u in bmff_boxes(b):
        body = u.start + u.hdr
        typ = u.name.encode("latin-1")
        if body + 4 > u.end:
            continue
        version = b[body]
        if typ == b"tkhd":
            at = body + 4 + (32 if version == 1 else 20) + 16 + 36
            if at + 8 <= u.end:
                out += [Field("bmff tkhd width", at, 4, "big", _fixed16), Field("bmff tkhd height", at + 4, 4, "big", _fixed16)]
        elif typ in (b"mvhd", b"mdhd"):
            ts = body + 4 + (16 if version == 1 else 8)
            if ts + 4 + (8 if version == 1 else 4) <= u.end:
                out += [Field(f"bmff {u.name} timescale", ts, 4, "big"), Field(f"bmff {u.name} duration", ts + 4, 8 if version == 1 else 4, "big")]
        elif typ == b"ispe" and body + 12 <= u.end:
            out += [Field("bmff ispe width", body + 4, 4, "big"), Field("bmff ispe height", body + 8, 4, "big")]
        elif typ in VISUAL_ENTRIES and body + 28 <= u.end:
            out += [Field(f"bmff {u.name} width", body + 24, 2, "big"), Field(f"bmff {u.name} height", body + 26, 2, "big")]
        elif typ in (b"stts", b"stsc", b"stco", b"co64", b"ctts", b"stss", b"elst") and body + 8 <= u.end:
            out.append(Field(f"bmff {u.name} entry count", body + 4, 4, "big"))
        elif typ == b"stsz" and body + 12 <= u.end:
            out += [Field("bmff stsz sample size", body + 4, 4, "big"), Field("bmff stsz sample count", body + 8, 4, "big")]
        elif typ == b"iloc" and body + 8 <= u.end:
            out.append(Field("bmff iloc item count", body + 6, 2, "big"))
    return out


FIELD_FINDERS: dict[str, Callable[[bytes], list[Field]]] = {
    "png": _fields_png, "gif": _fields_gif, "bmp": _fields_bmp, "jpeg": _fields_jpeg, "tiff": _fields_tiff,
    "riff": _fields_riff, "bmff": _fields_bmff,
}  # fmt: skip


def m_field(b: bytearray, rng: random.Random, fmt: str) -> str | None:
    """Set a width/height (or count, timescale, ...) field of the header to a boundary value."""
    finder = FIELD_FINDERS.get(sniff_format(bytes(b[:16])), FIELD_FINDERS.get(fmt))
    fields = finder(bytes(b)) if finder else []
    if not fields:
        return m_int(b, rng)
    f = rng.choice(fields)
    want = rng.choice(FIELD_VALUES)
    if f.name.endswith("height") and f.width == 4 and f.name.startswith("bmp") and rng.random() < 0.2:
        want = -1  # a top-down BMP one row tall... or a negative height
    limit = (1 << (8 * f.width)) - 1
    raw = f.encode(want) & 0xFFFFFFFFFFFFFFFF if want >= 0 else want & limit
    raw = max(0, min(raw, limit))
    b[f.off : f.off + f.width] = raw.to_bytes(f.width, f.order)
    if f.after is not None:
        f.after(b)
    return f"field {f.name}@{f.off}={want}"


MUTATORS: list[tuple[str, int, Callable[..., str | None]]] = [
    ("bitflip", 20, m_bitflip),
    ("byte", 14, m_byte),
    ("int", 8, m_int),
    ("truncate", 12, m_truncate),
    ("slice", 10, lambda b, rng: m_slice_repeat(b, rng) if rng.random() < 0.5 else m_slice_delete(b, rng)),
    ("unit", 14, m_unit),
    ("field", 16, m_field),
    ("append", 6, m_append),
]


def mutate(data: bytes, fmt: str, rng: random.Random) -> tuple[bytes, list[str]]:
    """One to three stacked mutations of `data`; the descriptions say exactly what was done."""
    b = bytearray(data)
    log: list[str] = []
    cap = 2 * len(data) + MAX_GROWTH
    for _ in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
        _, _, fn = rng.choices(MUTATORS, weights=[w for _, w, _ in MUTATORS])[0]
        desc = fn(b, rng, fmt) if fn in (m_unit, m_field) else fn(b, rng)
        if desc:
            log.append(desc)
        if len(b) > cap:
            del b[cap:]
            log.append(f"capped@{cap}")
    if not log or bytes(b) == data:  # never send a seed unchanged
        b.append(rng.randrange(256))
        log.append("append-random+1")
    return bytes(b), log


def build_input(seeds: list[Seed], seed: int, index: int) -> tuple[Seed, bytes, list[str]]:
    """Input `index` of campaign `seed`: which seed file, the mutated bytes, the mutations."""
    rng = random.Random(f"mediaprep-fuzz:{seed}:{index}")
    s = seeds[rng.randrange(len(seeds))]
    data, log = mutate(s.path.read_bytes(), s.fmt, rng)
    return s, data, log


# ==================================================================================================
# the child: every stage of one input, each result appended to a JSON-lines file as it finishes


def _where(tb: Any) -> tuple[str, str, list[str]]:
    """(innermost mediaprep frame, innermost frame, the mediaprep frames outermost first) of a
    traceback, each as 'path:line in func'."""
    import traceback

    frames = traceback.extract_tb(tb)
    inner = mp_frame = ""
    chain = []
    for fr in frames:
        short = _short_path(fr.filename)
        where = f"{short}:{fr.lineno} in {fr.name}"
        inner = where
        if "/mediaprep/" in fr.filename.replace("\\", "/"):
            mp_frame = where
            chain.append(where)
    return mp_frame, inner, chain


def _short_path(filename: str) -> str:
    f = filename.replace("\\", "/")
    for marker in ("/mediaprep/", "/site-packages/", "/lib/python3"):
        if marker in f:
            tail = f.split(marker, 1)[1]
            return ("mediaprep/" + tail) if marker == "/mediaprep/" else tail
    return f.rsplit("/", 1)[-1]


def _is_memory(exc: BaseException) -> bool:
    if any(c.__name__ == "MemoryError" for c in type(exc).__mro__):
        return True
    return isinstance(exc, RuntimeError) and "can't start new thread" in str(exc)


def run_stages(path: str, out_dir: str, *, frames_cap: int, emit: Callable[[dict[str, Any]], None]) -> None:
    import itertools

    import mediaprep as mp
    from mediaprep.errors import MediaprepError, ProbeError, UsageError
    from mediaprep.models import VideoInfo

    def call(stage: str, fn: Callable[[], Any], expected: tuple[type[BaseException], ...] = (UsageError,)) -> Any:
        emit({"stage": stage, "event": "start"})
        try:
            value = fn()
        except BaseException as exc:  # noqa: BLE001 - classifying every escape is the point
            mp_frame, inner, chain = _where(exc.__traceback__)
            msg = str(exc).strip().splitlines()
            emit({
                "stage": stage, "event": "raise", "type": f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
                "message": msg[0][:300] if msg else "", "mediaprep_error": isinstance(exc, MediaprepError),
                "expected": isinstance(exc, expected), "memory": _is_memory(exc), "where": mp_frame, "inner": inner, "chain": chain,
            })  # fmt: skip
            return None
        return value

    def memory_note(violations: Iterable[Any]) -> str | None:
        for v in violations:
            if MEMORY_RE.search(v.message or ""):
                return f"{v.code}: {v.message.splitlines()[0][:200]}"
        return None

    def first_error(violations: Iterable[Any]) -> str:
        return next((f"{v.code}: {v.message.splitlines()[0][:200]}" for v in violations if v.severity == "error"), "")

    def report_rec(stage: str, r: Any) -> dict[str, Any]:
        return {"stage": stage, "event": "done", "status": r.status, "kind": r.kind, "codes": [v.code for v in r.errors], "memory": memory_note(r.violations), "first_error": first_error(r.violations)}

    info = call("probe", lambda: mp.probe(path), (ProbeError, UsageError))
    if info is not None:
        emit({"stage": "probe", "event": "done", "kind": "video" if isinstance(info, VideoInfo) else "image"})
    is_video = isinstance(info, VideoInfo)
    for stage, fast in (("check", False), ("check_fast", True)):
        r = call(stage, lambda fast=fast: mp.check(path, fast=fast))
        if r is not None:
            emit(report_rec(stage, r))
            is_video = is_video or r.kind == "video"
    p = call("prepare", lambda: mp.prepare(path, out_dir=out_dir))
    if p is not None:
        emit({
            "stage": "prepare", "event": "done", "status": p.status, "verdict": p.report.status, "kind": p.report.kind,
            "codes": [v.code for v in p.violations if v.severity == "error"], "outputs": [o.path for o in p.outputs],
            "memory": memory_note(p.violations), "actions": [a.op for a in p.actions], "first_error": first_error(p.violations),
        })  # fmt: skip
        is_video = is_video or p.report.kind == "video"
        for o in p.outputs:
            if o.path is None:
                if o.data is not None:  # kept in memory: check the bytes that would be sent
                    r = call("recheck", lambda o=o: mp.check(o.data))
                    if r is not None:
                        emit({**report_rec("recheck", r), "output": f"<{o.format} in memory>", "format": o.format})
                continue
            target = Path(out_dir) / o.path
            if not target.is_file():
                emit({"stage": "recheck", "event": "done", "output": o.path, "status": "missing", "codes": [], "memory": None})
                continue
            r = call("recheck", lambda target=target: mp.check(str(target)))
            if r is not None:
                emit({**report_rec("recheck", r), "output": o.path, "format": o.format})
    if is_video:

        def frames() -> tuple[bool, int, list[str]]:
            fx = mp.extract_frames(path)
            if any(v.code == "frames.too_few" for v in fx.violations):  # a short clip: sample it faster
                fx.close()
                fx = mp.extract_frames(path, fps=10)
            try:
                n = sum(1 for _ in itertools.islice(iter(fx), frames_cap))
            finally:
                fx.close()
            return fx.ok, n, [v.code for v in fx.violations if v.severity == "error"]

        got = call("frames", frames)
        if got is not None:
            emit({"stage": "frames", "event": "done", "ok": got[0], "frames": got[1], "codes": got[2]})
    emit({"stage": "end", "event": "end"})


# ==================================================================================================
# the worker: imports once, forks one child per input, enforces the limits, reports one JSON line


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fp:
            for line in fp:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _fork_run(task: dict[str, Any], *, mem_mb: int, timeout: float, rss_cap_mb: int = 0) -> dict[str, Any]:
    """Run one input's stages in a forked child (RLIMIT_AS = mem_mb when non-zero; killed when its RSS
    passes rss_cap_mb when non-zero); the child's records, how it ended, its time and peak RSS."""
    work = Path(task["work"])
    rec_path, log_path = work / f"records{'-rerun' if rss_cap_mb else ''}.jsonl", work / f"child{'-rerun' if rss_cap_mb else ''}.log"
    out_dir = work / ("out-rerun" if rss_cap_mb else "out")
    out_dir.mkdir(exist_ok=True)
    t0 = time.monotonic()
    beat_r, beat_w = os.pipe()  # the child writes a byte as each stage starts: the limit is per stage
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(beat_r)
            os.setpgid(0, 0)
            log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            import faulthandler
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if mem_mb:
                resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
            log = open(log_fd, "w", buffering=1, closefd=False)  # noqa: SIM115
            faulthandler.enable(file=log, all_threads=True)
            faulthandler.dump_traceback_later(timeout * 0.85, file=log)
            with open(rec_path, "w", buffering=1) as rec:

                def emit(d: dict[str, Any]) -> None:
                    rec.write(json.dumps(d) + "\n")
                    rec.flush()
                    if d["event"] == "start":
                        faulthandler.dump_traceback_later(timeout * 0.85, file=log)
                        os.write(beat_w, b".")

                run_stages(task["path"], str(out_dir), frames_cap=task["frames"], emit=emit)
        except BaseException:  # noqa: BLE001 - the harness itself failed: say so in the log
            import traceback

            try:
                traceback.print_exc()
            finally:
                code = 70
        finally:
            os._exit(code)
    os.close(beat_w)
    os.set_blocking(beat_r, False)
    stage_t0 = t0
    status, ru, timed_out, rss_killed, peak_kb = 0, None, False, False, 0
    delay = 0.002
    while True:
        wpid, status, ru = os.wait4(pid, os.WNOHANG)
        if wpid:
            break
        if rss_cap_mb:
            rss = _rss_kb(pid)
            peak_kb = max(peak_kb, rss)
            if rss > rss_cap_mb << 10:
                rss_killed = True
                _kill_group(pid)
        try:
            if os.read(beat_r, 4096):
                stage_t0 = time.monotonic()
        except (BlockingIOError, InterruptedError):
            pass
        now = time.monotonic()
        if now - stage_t0 > timeout or now - t0 > timeout * TOTAL_TIMEOUT_FACTOR:
            timed_out = "stage" if now - stage_t0 > timeout else "total"
            _kill_group(pid)
            _, status, ru = os.wait4(pid, 0)
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 0.02)
    elapsed = time.monotonic() - t0
    os.close(beat_r)
    try:
        os.killpg(pid, signal.SIGKILL)  # anything the child left behind in its group
    except OSError:
        pass
    records = []
    if rec_path.exists():
        for line in rec_path.read_text(errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
    log_text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return {
        "records": records,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "timed_out": timed_out,
        "stage_elapsed": round(time.monotonic() - stage_t0, 3),
        "rss_killed": rss_killed,
        "elapsed": round(elapsed, 3),
        "cpu": round(ru.ru_utime + ru.ru_stime, 3) if ru else None,
        "maxrss_mb": round(max(ru.ru_maxrss if ru else 0, peak_kb) / 1024, 1),
        "mem_mb": mem_mb,
        "log_tail": log_text[-6000:],
    }


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


SUSPECT_CODES = {"image.unreadable", "video.unreadable", "video.no_video_stream", "frames.too_few"}


def _suspicious(res: dict[str, Any]) -> bool:
    """Could the address-space limit have decided this outcome? (A signal, an exception, an
    unreadable verdict, a finding of any kind.)"""
    if res["signal"] or res["exit"] != 0:
        return True
    for r in res["records"]:
        if r["event"] == "raise" or r.get("status") == "missing" or SUSPECT_CODES.intersection(r.get("codes", ())):
            return True
    return bool(classify(res))


def outcome(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What the stages decided, without messages, paths or frames: comparable across runs."""
    keys = ("stage", "event", "status", "verdict", "kind", "type", "output", "ok", "frames")
    return [tuple(str(r.get(k)) for k in keys) + tuple(r.get("codes", ())) for r in records]


def worker_main(mem_mb: int, timeout: float) -> int:
    """Read tasks (JSON lines) on stdin, answer one JSON line each on stdout."""
    import importlib
    import pkgutil

    import mediaprep
    import mediaprep.pipeline  # noqa: F401

    for mod in ("PIL.Image", "av", "numpy", "pillow_heif", "httpx"):
        try:
            importlib.import_module(mod)
        except Exception:  # noqa: BLE001 - an optional backend: its absence is mediaprep's business
            pass
    for m in pkgutil.walk_packages(mediaprep.__path__, "mediaprep."):
        if "ray" in m.name or m.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(m.name)
        except Exception:  # noqa: BLE001
            pass
    out = sys.stdout
    for line in sys.stdin:
        task = json.loads(line)
        res = _fork_run(task, mem_mb=mem_mb, timeout=timeout)
        if mem_mb and not res["timed_out"] and _suspicious(res):
            # an allocation that fails under RLIMIT_AS often comes back as "unreadable" (libwebp: "could
            # not create decoder object") or as some other error: run it again without the limit, under
            # an RSS watchdog at 2× it; a different outcome means the limit decided it
            res["rerun"] = _fork_run(task, mem_mb=0, timeout=timeout, rss_cap_mb=max(2 * mem_mb, 2048))
        out.write(json.dumps(res) + "\n")
        out.flush()
    return 0


class Worker:
    """One worker process (see worker_main), restarted when it dies."""

    def __init__(self, *, mem_mb: int, timeout: float, log: Path) -> None:
        self.mem_mb, self.timeout, self.log = mem_mb, timeout, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, MALLOC_ARENA_MAX="2", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONFAULTHANDLER="1")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--_worker", "--mem-mb", str(self.mem_mb), "--timeout", str(self.timeout)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, cwd=str(ROOT),
            )  # fmt: skip

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        limit = 2 * TOTAL_TIMEOUT_FACTOR * self.timeout + 60  # its own child, a rerun, and start-up
        try:
            self.proc.stdin.write((json.dumps(task) + "\n").encode())
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], limit)
            line = self.proc.stdout.readline() if ready else b""
        except OSError:
            ready, line = [True], b""
        if line:
            return json.loads(line)
        self.close(kill=True)  # it died (or stopped answering): the next task starts a new one
        return {"records": [], "signal": 0, "exit": None, "timed_out": "total" if not ready else False, "worker_lost": True, "elapsed": limit if not ready else 0, "cpu": None, "maxrss_mb": 0, "log_tail": ""}

    def close(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.proc.wait()
        self.proc = None


# ==================================================================================================
# classification


@dataclasses.dataclass
class Finding:
    category: str
    key: str  # what groups identical findings
    stage: str
    title: str  # type: first line of the message (or what happened)
    where: str = ""  # innermost mediaprep frame (and the innermost frame)
    detail: str = ""


def _mask(s: str, path: str = "") -> str:
    if path:
        s = s.replace(path, "<input>").replace(os.path.dirname(path), "<dir>")
    s = re.sub(r"/tmp/[^\s'\"]+", "<tmp>", s)
    s = re.sub(r"0x[0-9a-fA-F]+", "0x…", s)
    return re.sub(r"\d+", "N", s)


def _fmt_where(mp_frame: str, inner: str) -> str:
    if not mp_frame:
        return inner
    return mp_frame + (f" (innermost {inner})" if inner and inner != mp_frame else "")


def _stack_from_log(log: str) -> tuple[str, str]:
    """(innermost mediaprep frame, innermost frame) of the thread that was running the stages, from
    a faulthandler dump."""
    blocks = re.split(r"\n(?=(?:Current thread|Thread) 0x[0-9a-f]+)", log)
    best: list[str] = []
    for block in blocks:
        frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', block)
        if any(fn == "run_stages" for _, _, fn in frames):
            best = [f"{_short_path(f)}:{n} in {fn}" for f, n, fn in frames]
            break
        if not best and frames:
            best = [f"{_short_path(f)}:{n} in {fn}" for f, n, fn in frames]
    mp_frame = next((f for f in best if f.startswith("mediaprep/")), "")
    return mp_frame, best[0] if best else ""


def _describe(r: dict[str, Any] | None) -> str:
    if r is None:
        return "nothing (the run ended before)"
    if r["event"] == "raise":
        return f"raised {r['type']}: {r['message'][:160]}"
    if r["event"] == "start":
        return "did not finish"
    if r["stage"] == "frames":
        return f"{'ok' if r['ok'] else 'not ok'}, {r['frames']} frames {' '.join(r['codes'])}".strip()
    if r["stage"] == "probe" or r["event"] == "end":
        return r.get("kind") or r["event"]
    return f"{r['status']} {' '.join(r['codes'])}".strip() + (f" ({r['first_error'][:160]})" if r.get("first_error") else "")


def classify(res: dict[str, Any], path: str = "") -> list[Finding]:
    """The findings of one input. When the worker re-ran it with more memory and the outcome changed,
    the findings that went away are replaced by one memory finding that says what changed."""
    found = _classify(res, path)
    if path:  # show the input as <input>, never its temporary path
        for f in found:
            f.title, f.where, f.detail = (x.replace(path, "<input>").replace(os.path.dirname(path), "<dir>") for x in (f.title, f.where, f.detail))
    return found


def _classify(res: dict[str, Any], path: str) -> list[Finding]:
    found = _classify_run(res, path)
    rerun = res.get("rerun")
    if not rerun or res.get("signal") or res.get("exit") not in (0, None):
        return found  # a crash is judged by its re-run in _classify_run
    a, b = res["records"], rerun["records"]
    if not rerun["rss_killed"] and outcome(a) == outcome(b):
        return found
    oa, ob = outcome(a), outcome(b)
    n = next((i for i in range(min(len(oa), len(ob))) if oa[i] != ob[i]), min(len(oa), len(ob)))
    ra, rb = (a[n] if n < len(a) else None), (b[n] if n < len(b) else None)
    stage = (ra or rb or {"stage": "end"})["stage"]
    limit = res.get("mem_mb") or 0
    more = f"over the {rerun['maxrss_mb']:.0f} MB RSS watchdog" if rerun["rss_killed"] else f"{_describe(rb)}; all stages peak at {rerun['maxrss_mb']:.0f} MB RSS"
    if not rerun["rss_killed"] and limit and rerun["maxrss_mb"] < limit:
        more += " (under the limit: address space, not resident memory)"
    key = f"memory-limit|{stage}|{_mask(_describe(ra), path)}"
    persistent = set() if rerun["rss_killed"] else {f.key for f in _classify_run({k: v for k, v in rerun.items() if k != "rerun"}, path)}
    memory = Finding("memory", key, stage, f"{stage} under the address-space limit: {_describe(ra)}; without it: {more}")
    return [memory] + [f for f in found if f.key in persistent and f.category != "memory"]


def _classify_run(res: dict[str, Any], path: str = "") -> list[Finding]:
    recs = res.get("records", [])
    out: list[Finding] = []
    done = {r["stage"]: r for r in recs if r["event"] == "done" and r["stage"] not in ("recheck",)}
    started = [r["stage"] for r in recs if r["event"] == "start"]
    finished = {r["stage"] for r in recs if r["event"] in ("done", "raise")}
    running = next((s for s in reversed(started) if s not in finished), started[-1] if started else "startup")
    for r in recs:
        if r["event"] == "raise":
            where = _fmt_where(r["where"], r["inner"])
            title = f"{r['type']}: {r['message']}"
            called = " ← ".join(reversed(r.get("chain", [])[-4:-1]))
            detail = f"called from {called}" if called else ""
            if r["memory"]:
                out.append(Finding("memory", f"memory|{r['type']}|{r['where']}", r["stage"], title, where))
            elif not r["mediaprep_error"]:
                out.append(Finding("uncaught", f"uncaught|{r['type']}|{_mask(r['message'], path)}|{r['where']}", r["stage"], title, where, detail))
            elif not r["expected"]:
                out.append(Finding("mediaprep_error", f"mperr|{r['type']}|{r['stage']}|{r['where']}", r["stage"], title, where, detail))
        elif r["event"] == "done" and r.get("memory"):
            # the same without any limit (else the re-run makes it a memory finding): a library that
            # refused a huge allocation (FFmpeg caps one at INT_MAX bytes), reported as a violation
            out.append(Finding("alloc_refused", f"alloc|{r['memory'].split(':')[0]}|{_mask(r['memory'], path)}", r["stage"], f"violation says an allocation failed: {r['memory']}"))
        if r["event"] == "done" and r["stage"] == "recheck" and r["status"] != "ok":
            what = "missing" if r["status"] == "missing" else f"{r.get('format', '?')} output is {r['status']}: {', '.join(r['codes'])}"
            out.append(Finding("bad_output", f"bad|{what}", "recheck", f"prepare wrote {r['output']}: {what}", detail=", ".join(done.get("prepare", {}).get("actions", []))))
    c, p = done.get("check"), done.get("prepare")
    if c and p:
        cs, ps, verdict = c["status"], p["status"], p["verdict"]
        if cs in ("ok", "fixable") and ps == "rejected":
            codes = sorted(set(p["codes"]) - set(c["codes"])) or p["codes"]
            out.append(Finding("disagreement", f"dis|{cs}>rejected|{','.join(codes)}", "prepare", f"check says {cs}, prepare rejects: {', '.join(codes)}", detail=f"check errors: {', '.join(c['codes'])}"))
        elif cs == "rejected" and ps == "ready":
            out.append(Finding("disagreement", f"dis|rejected>ready|{','.join(c['codes'])}", "prepare", f"check rejects ({', '.join(c['codes'])}), prepare is ready"))
        elif verdict != cs:
            out.append(Finding("disagreement", f"dis|verdict|{cs}|{verdict}", "prepare", f"check says {cs}, prepare's own check says {verdict}", detail=f"check: {c['codes']}, prepare: {p['codes']}"))
    if res.get("timed_out"):
        mp_frame, inner = _stack_from_log(res.get("log_tail", ""))
        lost = " (the worker stopped answering)" if res.get("worker_lost") else ""
        why = f"all stages together over {res.get('elapsed', 0):.0f} s" if res["timed_out"] == "total" else f"{running} still running after {res.get('stage_elapsed', 0):.0f} s"
        out.append(Finding("hang", f"hang|{running}|{mp_frame}", running, f"{why}{lost} (child cpu {res.get('cpu')} s in {res.get('elapsed', 0):.0f} s)", _fmt_where(mp_frame, inner)))
    elif res.get("signal"):
        sig = signal.Signals(res["signal"]).name if res["signal"] in signal.Signals._value2member_map_ else str(res["signal"])
        mp_frame, inner = _stack_from_log(res.get("log_tail", ""))
        where = _fmt_where(mp_frame, inner)
        rerun = res.get("rerun")
        if rerun and (rerun["rss_killed"] or (not rerun["signal"] and not rerun["timed_out"])):
            how = f"over the RSS cap ({rerun['maxrss_mb']} MB seen)" if rerun["rss_killed"] else f"passes without the limit, peak RSS {rerun['maxrss_mb']} MB"
            out.append(Finding("memory", f"memory-crash|{running}|{sig}|{mp_frame}", running, f"{sig} under the address-space limit; {how}", where))
        else:
            out.append(Finding("crash", f"crash|{sig}|{running}|{mp_frame}", running, f"{sig} in {running}", where))
    elif res.get("worker_lost"):
        out.append(Finding("crash", f"worker|{running}", running, f"the worker process itself died in {running}"))
    elif not any(r["event"] == "end" for r in recs) and "MemoryError" in res.get("log_tail", ""):
        out.append(Finding("memory", f"memory-harness|{running}", running, f"MemoryError outside any call, in {running}"))
    elif not any(r["event"] == "end" for r in recs):
        tail = res.get("log_tail", "").strip().splitlines()
        out.append(Finding("crash", f"died|{res.get('exit')}|{running}", running, f"exited with status {res.get('exit')} in {running}", detail=tail[-1] if tail else ""))
    return out


# ==================================================================================================
# the campaign


@dataclasses.dataclass
class Summary:
    count: int
    seed: int
    seeds: int
    elapsed_s: float
    counts: dict[str, int]  # inputs with a finding of each category
    signatures: list[dict[str, Any]]  # most frequent first
    peak_rss: list[dict[str, Any]]  # the top inputs by child peak RSS
    timeout_s: float
    mem_mb: int
    jobs: int
    verdicts: dict[str, int] = dataclasses.field(default_factory=dict)  # what check said of the inputs
    corpus: bool = True  # whether the corpus was among the seeds (input i depends on the seed set)

    @property
    def failing(self) -> int:
        return sum(self.counts[c] for c in CATEGORIES)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _task_source(args_seeds: list[Seed], seed: int, index: int, replay: list[Path] | None) -> tuple[str, str, bytes, list[str]]:
    if replay is not None:
        p = replay[index]
        return str(p), p.suffix, p.read_bytes(), ["replay"]
    s, data, log = build_input(args_seeds, seed, index)
    return s.name, s.path.suffix, data, log


def run_campaign(
    *,
    count: int = 100,
    seed: int = 1,
    jobs: int = 1,
    timeout: float = 20.0,
    mem_mb: int = 1024,
    frames: int = 3,
    include_corpus: bool = True,
    extra_seeds: Iterable[str] = (),
    only: list[int] | None = None,
    replay: list[str] | None = None,
    keep: str | None = None,
    progress: bool = False,
) -> Summary:
    seeds = load_seeds(include_corpus=include_corpus, extra=extra_seeds)
    replay_paths = [Path(p) for p in replay] if replay else None
    indexes = list(range(len(replay_paths))) if replay_paths is not None else (only if only is not None else list(range(count)))
    keep_dir = Path(keep) if keep else None
    if keep_dir:
        keep_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="mediaprep-fuzz-"))
    workers = [Worker(mem_mb=mem_mb, timeout=timeout, log=run_dir / f"worker-{n}.log") for n in range(max(1, jobs))]
    results: dict[int, tuple[str, list[str], dict[str, Any], list[Finding]]] = {}
    lock = threading.Lock()
    todo = iter(indexes)
    t0 = time.monotonic()

    errors: list[BaseException] = []

    def loop(w: Worker) -> None:
        try:
            work_loop(w)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)

    def work_loop(w: Worker) -> None:
        while True:
            with lock:
                index = next(todo, None)
            if index is None:
                return
            name, suffix, data, log = _task_source(seeds, seed, index, replay_paths)
            work = run_dir / f"{index:06d}"
            work.mkdir()
            path = work / f"fuzz-{index:06d}{suffix}"
            path.write_bytes(data)
            res = w.run({"path": str(path), "work": str(work), "frames": frames})
            findings = classify(res, str(path))
            if keep_dir and findings:
                cats = sorted({f.category for f in findings})
                base = f"{cats[0]}-{index:06d}-{Path(name).stem}{suffix}"
                shutil.copyfile(path, keep_dir / base)
                side = {"index": index, "seed": seed, "seed_file": name, "mutations": log, "findings": [dataclasses.asdict(f) for f in findings],
                        **{k: v for k, v in res.items() if k != "records"}, "records": res.get("records")}  # fmt: skip
                (keep_dir / (base + ".json")).write_text(json.dumps(side, indent=1))
            shutil.rmtree(work, ignore_errors=True)
            with lock:
                results[index] = (name, log, res, findings)
                if progress:
                    n = len(results)
                    bad = sum(1 for *_, f in results.values() if any(x.category in CATEGORIES for x in f))
                    if n % 25 == 0 or n == len(indexes):
                        print(f"  {n}/{len(indexes)} inputs, {bad} failing, {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)

    threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for w in workers:
            w.close(kill=False)
        shutil.rmtree(run_dir, ignore_errors=True)
    if errors:
        raise errors[0]
    elapsed = time.monotonic() - t0

    counts = {c: 0 for c in CATEGORIES + INFO_CATEGORIES}
    groups: dict[str, dict[str, Any]] = {}
    rss = []
    for index in sorted(results):
        name, log, res, findings = results[index]
        peak = max(res.get("maxrss_mb", 0), (res.get("rerun") or {}).get("maxrss_mb", 0))
        rss.append({"index": index, "seed_file": name, "mutations": log, "maxrss_mb": peak, "elapsed_s": res.get("elapsed")})
        for cat in {f.category for f in findings}:
            counts[cat] += 1
        for f in findings:
            g = groups.setdefault(f.key, {"category": f.category, "title": f.title, "where": f.where, "detail": f.detail, "inputs": set(), "stages": set(), "examples": []})
            g["stages"].add(f.stage)
            if index not in g["inputs"]:
                g["inputs"].add(index)
                if len(g["examples"]) < 3:
                    g["examples"].append({"index": index, "seed_file": name, "mutations": log})
    order = {c: n for n, c in enumerate(CATEGORIES + INFO_CATEGORIES)}
    signatures = sorted(
        ({**{k: v for k, v in g.items() if k not in ("inputs", "stages")}, "count": len(g["inputs"]), "stages": sorted(g["stages"])} for g in groups.values()),
        key=lambda g: (g["category"] in INFO_CATEGORIES, -g["count"], order[g["category"]], g["title"]),
    )
    rss.sort(key=lambda r: -r["maxrss_mb"])
    verdicts: Counter[str] = Counter()
    for name, log, res, findings in results.values():
        c = next((r for r in res.get("records", []) if r["stage"] == "check" and r["event"] in ("done", "raise")), None)
        kind = next((r.get("kind") for r in res.get("records", []) if r["stage"] == "check" and r["event"] == "done"), None) or "?"
        verdicts[f"{kind} {c['status']}" if c and c["event"] == "done" else "check raised" if c else "check not run"] += 1
    return Summary(count=len(indexes), seed=seed, seeds=len(seeds), elapsed_s=round(elapsed, 1), counts=counts, signatures=signatures,
                   peak_rss=rss[:5], timeout_s=timeout, mem_mb=mem_mb, jobs=jobs, verdicts=dict(verdicts.most_common()),
                   corpus=include_corpus and (CORPUS / "MANIFEST.tsv").exists())  # fmt: skip


def format_summary(s: Summary, *, top: int = 10, replay: bool = False) -> str:
    per = s.elapsed_s / s.count if s.count else 0.0
    lines = [
        f"mediaprep fuzz: {s.count} inputs, seed {s.seed}, {s.seeds} seed files, jobs {s.jobs}, timeout {s.timeout_s:g} s, "
        f"memory {s.mem_mb} MiB: {s.elapsed_s:.1f} s ({per:.2f} s/input, {per * 1000 / 60:.1f} min per 1,000)",
        f"  {'category':<38} inputs",
    ]
    for c in CATEGORIES + INFO_CATEGORIES:
        lines.append(f"  {LABELS[c]:<38} {s.counts[c]:>6}")
    if s.verdicts:
        lines.append("check said: " + ", ".join(f"{k} {v}" for k, v in s.verdicts.items()))
    if s.peak_rss:
        r = s.peak_rss[0]
        lines.append(f"peak RSS of one input: {r['maxrss_mb']:.0f} MB (#{r['index']} {r['seed_file']}: {'; '.join(r['mutations'])})")
    if s.signatures:
        lines.append(f"top signatures ({len(s.signatures)} distinct):")
    for n, g in enumerate(s.signatures[:top], 1):
        lines.append(f"{n:>3}. [{g['category']}] {g['title']}  — {g['count']} input{'s' if g['count'] != 1 else ''}, in {', '.join(g['stages'])}")
        if g["where"]:
            lines.append(f"       at {g['where']}")
        if g["detail"]:
            lines.append(f"       {g['detail']}")
        for e in g["examples"][:2]:
            how = f"--replay {e['seed_file']}" if replay else f"--seed {s.seed} --only {e['index']}" + ("" if s.corpus else " --no-corpus")
            lines.append(f"       e.g. #{e['index']} {e['seed_file']}: {'; '.join(e['mutations'])}  (python benchmarks/fuzz.py {how})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 1)[1])
    parser.add_argument("--count", type=int, default=200, help="inputs to run (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed: input i is rebuilt from (seed, i)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds for one stage of one input (default 20; all stages: 8×)")
    parser.add_argument("--mem-mb", type=int, default=1024, help="RLIMIT_AS of each input's process, MiB (default 1024; 0: none)")
    parser.add_argument("--frames", type=int, default=3, help="frames to take from extract_frames for a video (default 3)")
    parser.add_argument("--keep", metavar="DIR", help="write every failing input (and a .json sidecar) into DIR")
    parser.add_argument("--report", metavar="FILE", help="write the summary as JSON")
    parser.add_argument("--top", type=int, default=10, help="signatures to print (default 10)")
    parser.add_argument("--only", metavar="I[,J-K...]", help="run only these input indexes of the campaign (a range J-K includes K)")
    parser.add_argument("--replay", nargs="+", metavar="FILE", help="run these files as they are (no mutation)")
    parser.add_argument("--no-corpus", action="store_true", help="seeds from samples/media only")
    parser.add_argument("--seeds", action="append", default=[], metavar="DIR", help="another folder of seeds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any count is non-zero")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._worker:
        return worker_main(args.mem_mb, args.timeout)
    only = None
    if args.only:
        only = []
        for part in args.only.split(","):
            lo, _, hi = part.partition("-")
            only += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    summary = run_campaign(
        count=args.count, seed=args.seed, jobs=args.jobs, timeout=args.timeout, mem_mb=args.mem_mb, frames=args.frames,
        include_corpus=not args.no_corpus, extra_seeds=args.seeds, only=only, replay=args.replay, keep=args.keep, progress=not args.quiet,
    )  # fmt: skip
    print(format_summary(summary, top=args.top, replay=bool(args.replay)))
    if args.report:
        Path(args.report).write_text(json.dumps(summary.to_json(), indent=1))
    return 1 if args.strict and summary.failing else 0


if __name__ == "__main__":
    sys.exit(main())
