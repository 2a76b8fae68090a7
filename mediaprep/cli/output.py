"""Printing results: JSON lines (`_emit`, `_emit_streamed`), the human-readable lines of check and
prepare, and probe's one-line summary. Results go to stdout; summaries to stderr."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from ..manifest import dumps_line
from ..models import ResultLine


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NAMED = {"\r": "\\r", "\n": "\\n", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a name that is not UTF-8 (surrogateescape): the byte
        return f"\\x{code - 0xDC00:02x}"
    if code > 0xFF:  # any other lone surrogate
        return f"\\u{code:04x}"
    return f"\\x{code:02x}"


def printable(text: object) -> str:
    """`text` safe to print on one line of a terminal: control characters (C0, DEL, C1) become
    escapes (`\\r`, `\\n`, `\\t`, `\\x1b`, ...), so a name holding a CR or an escape sequence can
    neither overwrite its own status nor drive the terminal; a non-UTF-8 byte kept by surrogateescape
    is shown as `\\xNN`. Everything else (backslashes included) is left as it is. For text output
    only: JSON output is escaped by JSON."""
    text = str(text)
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


def _emit(out: TextIO, obj: Mapping[str, Any]) -> None:
    """One compact JSON line, flushed (a pipe reader sees each input as it is done). Valid UTF-8
    whatever the file names in it: a name that is not UTF-8 is shown with U+FFFD for its bad bytes
    and given exactly in `source_bytes_b64` (`manifest.dumps_line`)."""
    out.write(dumps_line(obj) + "\n")
    out.flush()


def _emit_streamed(out: TextIO, obj: Mapping[str, Any], marker: str, items: Iterator[str]) -> None:
    """`_emit(out, obj)` where the one list holding `marker` is replaced by `items`, written one at
    a time (a list of 2,000 data URLs is never held, nor its JSON text)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    quoted = json.dumps(marker)
    if quoted not in text:
        _emit(out, obj)
        return
    head, tail = text.split(quoted, 1)
    out.write(head)
    for n, item in enumerate(items):
        out.write(("," if n else "") + json.dumps(item, ensure_ascii=False))
    out.write(tail + "\n")
    out.flush()


def _print_line(out: TextIO, line: ResultLine) -> None:
    """A check line: status, source, what it is and its token estimate; then the URL's transfer and
    each violation on lines of their own."""
    info = line.get("info") or {}
    desc = ""
    if info:
        est = line.get("estimate")
        tokens = f"  ~{est['tokens']} tokens (estimate)" if est else ""
        if line.get("kind") == "video":
            desc = f"{info['format']} {info['codec']} {info['width_px']}×{info['height_px']}, {info['duration_s']:.3f} s, {info['size_bytes']} bytes{tokens}"
        else:
            frames = f", {info['frames']} frames" if info.get("frames", 1) > 1 else ""
            desc = f"{info['format']} {info['width_px']}×{info['height_px']}, {info['size_bytes']} bytes{frames}{tokens}"
    out.write(printable(f"{line['status']:<9} {line['source']}  {desc}".rstrip()) + "\n")
    remote = line.get("remote")
    if remote:
        n = remote.get("requests", 0)
        out.write(printable(f"          remote  {remote.get('bytes', 0):,} bytes in {n} request{'s' if n != 1 else ''}" + (f"; read: {remote['read']}" if remote.get("read") else "")) + "\n")
    for v in line["violations"]:
        out.write(printable(f"          {v['severity']:<7} {v['code']}: {v['message']}") + "\n")


def _print_prepared_line(out: TextIO, line: ResultLine) -> None:
    """A prepare line: status, source → outputs; then each action, and a rejection's errors."""
    outputs = line.get("outputs") or []
    files = ", ".join(outputs) or "-"
    if len(outputs) > 3:
        files = f"{outputs[0]} … ({len(outputs)} files)"
    out.write(printable(f"{line['status']:<9} {line['source']} → {files}") + "\n")
    for a in line.get("actions", []):
        out.write(printable(f"          {a['op']}: {a['reason']}") + "\n")
    if line["status"] == "rejected":
        for v in line["violations"]:
            if v["severity"] == "error":
                out.write(printable(f"          {v['code']}: {v['message']}") + "\n")


def _summary(err: TextIO, counts: Counter[str], codes: Counter[str], noun: str) -> None:
    """probe's summary: `N inputs: n probed, m unreadable` (check and prepare print
    `progress.summary`'s table instead)."""
    total = sum(counts.values())
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    err.write(f"{total} {noun}{'s' if total != 1 else ''}: {parts or 'none'}\n")
    if codes:
        err.write("violations: " + ", ".join(f"{c} ×{n}" for c, n in codes.most_common()) + "\n")
