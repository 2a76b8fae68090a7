"""manifest.jsonl: one complete line per input, appended as each input finishes, so a run killed at
any moment can resume without redoing or losing finished inputs.

A line is written only after the input's outputs are renamed into place; a line cut short by a kill
is dropped on resume (the file is truncated to its last complete line) and that input is redone.
An input counts as done when its line is complete and the input is unchanged: same path, size and
modification time (and, with `verify`, the same SHA-256).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any

from .models import ResultLine


def fingerprint(item: str, *, verify: bool) -> dict[str, Any] | None:
    """Size and mtime of a local input (and its SHA-256 with `verify`); None for URLs and data URLs."""
    if "://" in item or item.startswith("data:"):
        return None
    try:
        st = os.stat(item)
    except OSError:
        return None
    out: dict[str, Any] = {"size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    if verify:
        digest = hashlib.sha256()
        with open(item, "rb") as fp:
            for block in iter(lambda: fp.read(1 << 20), b""):
                digest.update(block)
        out["sha256"] = digest.hexdigest()
    return out


def load_done(path: Path) -> dict[str, ResultLine]:
    """The complete lines of an existing manifest, by source; a trailing partial line is cut off."""
    if not path.exists():
        return {}
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as fp:
            fp.truncate(end)
    done: dict[str, ResultLine] = {}
    for raw in data[:end].splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and "source" in line:
            done[line["source"]] = line
    return done


def is_done(line: ResultLine | None, item: str, *, verify: bool) -> bool:
    if line is None:
        return False
    then = line.get("input")
    if then is None:  # a URL, a data URL or a missing file: nothing to compare, the line stands
        return fingerprint(item, verify=False) is None
    now = fingerprint(item, verify=verify or "sha256" in then)
    if now is None:
        return False
    return all(now.get(k) == then.get(k) for k in ("size_bytes", "mtime_ns", "sha256") if k in then or k in now)


def remove_partials(out_dir: Path) -> int:
    """Temporary files a killed run left behind (`.<name>.tmp-<pid>`); never a final name."""
    removed = 0
    for root, _dirs, files in os.walk(out_dir):
        for name in files:
            if name.startswith(".") and ".tmp" in name:
                os.unlink(os.path.join(root, name))
                removed += 1
    return removed


class ManifestWriter:
    """Appends one JSON line at a time, flushed and fsynced, so a line is either whole or absent."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        self._fp: IO[str] = open(path, "a" if append else "w", encoding="utf-8")

    def write(self, line: ResultLine) -> None:
        self._fp.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._fp.flush()
        os.fsync(self._fp.fileno())

    def close(self) -> None:
        self._fp.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
