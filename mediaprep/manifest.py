"""manifest.jsonl: one complete line per input, appended as each input finishes, so a run killed at
any moment can resume without redoing or losing finished inputs.

A line is written only after the input's outputs are renamed into place; a line cut short by a kill
is dropped on resume (the file is truncated to its last complete line) and that input is redone.
An input counts as done when its line is complete and the input is unchanged: same path, size and
modification time (and, with `verify`, the same SHA-256); a `file://` input is compared like the
path it names.

Lines are written in the order inputs finish, not in input order: a slow input never holds back the
lines of those finished after it. Each line of `prepare` carries `index`, the input's position in
that run's list of inputs, so input order can be restored (sort by it); a resume takes any complete
line as done, wherever it is.

Names that are not UTF-8: a file name is bytes, which Python holds as text with the invalid bytes
as lone surrogates (`os.fsdecode`, surrogateescape). A line is always valid UTF-8 JSON: such a line
has its `source` (and every other string) with each invalid byte replaced by U+FFFD, for display,
and the exact name in `source_bytes_b64`: base64 of `os.fsencode(source)`. A resume maps a line
back to its input by that field (`line_source`). `dumps_line` makes such lines; `check --json` and
`prepare --json` print them the same way.

One run at a time: `lock_out_dir` holds an exclusive lock on `<out>/.mediaprep.lock` for the whole
run; a second run on the same folder is refused, naming the holder.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import errno
import hashlib
import json
import os
import re
import shlex
import socket
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from . import outputs
from .errors import UsageError
from .models import ResultLine
from .resolve import _file_url_to_path

_SURROGATE = re.compile("[\ud800-\udfff]")

# The partial files a killed run may leave: today's temporary names, and those of older versions.
TEMP_NAME_RE: re.Pattern[str] = getattr(outputs, "TEMP_NAME_RE", None) or re.compile(r"^\.mediaprep-tmp-[0-9a-f]{16,}-.+$")
LEGACY_TEMP_NAME_RE = re.compile(r"^\..+\.tmp-\d+$")  # `.<name>.tmp-<pid>`, before the unpredictable names


def _local_path(item: str) -> str | None:
    """The file a path or `file://` input names; None for other URLs and data URLs."""
    lowered = item[:8].lower()
    if lowered.startswith("file://"):
        try:
            return str(_file_url_to_path(item))
        except UsageError:  # file://host/...: no local file
            return None
    if "://" in item or lowered.startswith("data:"):
        return None
    return item


def fingerprint(item: str, *, verify: bool) -> dict[str, Any] | None:
    """Size and mtime of a local input, a path or a `file://` URL (and its SHA-256 with `verify`);
    None for other URLs and data URLs."""
    path = _local_path(item)
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    out: dict[str, Any] = {"size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    if verify:
        digest = hashlib.sha256()
        with open(path, "rb") as fp:
            for block in iter(lambda: fp.read(1 << 20), b""):
                digest.update(block)
        out["sha256"] = digest.hexdigest()
    return out


def load_done(path: Path) -> dict[str, ResultLine]:
    """The complete lines of an existing manifest, by source; a trailing partial line is cut off."""
    if not path.exists():
        return {}
    fd = _open_no_follow(path, os.O_RDWR)
    with os.fdopen(fd, "r+b") as fp:
        data = fp.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            fp.truncate(end)
    done: dict[str, ResultLine] = {}
    for raw in data[:end].splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict) and isinstance(line.get("source"), str):
            done[line_source(line)] = line  # a later line (a redone input) wins, whatever the order
    return done


def line_source(line: Mapping[str, Any]) -> str:
    """The input a line is for, as Python names it (`label_for`): `source`, or the exact name
    `source_bytes_b64` holds when that name is not UTF-8."""
    raw = line.get("source_bytes_b64")
    if isinstance(raw, str):
        try:
            return os.fsdecode(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError):
            pass
    return str(line["source"])


def _raw_name(text: str) -> bytes:
    try:
        return os.fsencode(text)
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        return text.encode("utf-8", "surrogatepass")


def display_text(text: str) -> str:
    """`text` with each lone surrogate (an undecodable byte of a file name) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _displayable(obj: Any) -> Any:
    if isinstance(obj, str):
        return display_text(obj)
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            out[_displayable(key)] = _displayable(value)
            if key == "source" and isinstance(value, str) and "source_bytes_b64" not in obj and _SURROGATE.search(value):
                out["source_bytes_b64"] = base64.b64encode(_raw_name(value)).decode("ascii")
        return out
    if isinstance(obj, (list, tuple)):
        return [_displayable(v) for v in obj]
    return obj


def _has_surrogates(obj: Any) -> bool:
    if isinstance(obj, str):
        return _SURROGATE.search(obj) is not None
    if isinstance(obj, Mapping):
        return any(_has_surrogates(k) or _has_surrogates(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return any(_has_surrogates(v) for v in obj)
    return False


def displayable(line: ResultLine) -> ResultLine:
    """`line` itself when all its text is valid Unicode; else the copy `dumps_line` writes (lone
    surrogates as U+FFFD, the exact name in `source_bytes_b64`), for writers that need UTF-8."""
    return _displayable(line) if _has_surrogates(line) else line  # type: ignore[no-any-return]


def dumps_line(obj: Mapping[str, Any]) -> str:
    """One compact JSON line, valid UTF-8 whatever the file names in it: when a string holds lone
    surrogates, the line is made from a copy where they are U+FFFD and a `source` that had some
    gets `source_bytes_b64` (the exact name, for `line_source`)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if _SURROGATE.search(text) is None:
        return text
    return json.dumps(_displayable(obj), ensure_ascii=False, separators=(",", ":"))


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


def is_partial(name: str) -> bool:
    """A temporary name mediaprep writes under (`TEMP_NAME_RE`, or the `.<name>.tmp-<pid>` of older
    versions), and nothing else: never a user's `.env.tmpl` or `.settings.tmp`."""
    return bool(TEMP_NAME_RE.fullmatch(name) or LEGACY_TEMP_NAME_RE.fullmatch(name))


def remove_partials(out_dir: Path) -> int:
    """Delete the temporary files a killed run left behind, anywhere under `out_dir` (image lists
    have folders of their own); only names `is_partial` accepts. Call it holding `lock_out_dir`, so
    no running run's temporaries are taken. Symlinked folders are not entered."""
    removed = 0
    for root, _dirs, files in os.walk(out_dir):
        for name in files:
            if is_partial(name):
                try:
                    os.unlink(os.path.join(root, name))
                except FileNotFoundError:
                    continue
                removed += 1
    return removed


LOCK_NAME = ".mediaprep.lock"


class OutDirBusy(UsageError):
    """Another run holds the out folder's lock."""


def _holder(fd: int) -> str:
    """Who holds a lock, from what it wrote into the lock file."""
    try:
        info = json.loads(os.pread(fd, 1 << 16, 0) or b"{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "pid not yet recorded"
    where = f" on host {info['host']}" if info.get("host") and info.get("host") != socket.gethostname() else ""
    text = f"pid {info['pid']}{where}, started at {info.get('started_at', '?')}"
    return text + (f": {info['command']}" if info.get("command") else "")


@contextlib.contextmanager
def lock_out_dir(out_dir: Path, *, command: Sequence[str] = ()) -> Iterator[None]:
    """Hold an exclusive lock on `out_dir` (an `flock` on `out_dir/.mediaprep.lock`, which records
    this process's pid, start time and `command`) until the block ends; the file is removed then.
    A second holder is refused at once with `OutDirBusy` (a UsageError: the CLI exits 2) naming the
    first. A run killed with SIGKILL releases the lock with its process (the file stays, unlocked,
    and is taken over). Where `flock` does not exist or the file system cannot lock, nothing is
    locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path = Path(out_dir) / LOCK_NAME
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd: int | None = None
    while fd is None:
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise UsageError(f"--out {out_dir}: cannot open its lock file {LOCK_NAME} ({exc.strerror or exc})") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise OutDirBusy(f"--out {out_dir} is in use by another mediaprep run ({holder}); two runs on one --out would corrupt each other's manifest: wait for it to end, or use another --out") from None
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.ENOLCK, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            fd = None
            break  # a file system without locks: run unlocked
        try:  # the holder before us may have removed the file between our open and our lock
            same = os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            fd = None
    if fd is None:
        yield
        return
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "command": shlex.join(command)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode("ascii"), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still locked: a waiting opener sees the file gone and starts over
        os.close(fd)


def _open_no_follow(path: Path, flags: int) -> int:
    """Open the manifest without following a symlink planted at its name in a shared --out."""
    try:
        return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(f"{path} is a symbolic link: the manifest is never written through one (someone may have planted it in --out)") from exc
        raise


class ManifestWriter:
    """Appends one JSON line at a time, flushed and fsynced, so a line is either whole or absent."""

    def __init__(self, path: Path, *, append: bool) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        self._fp: IO[str] = os.fdopen(_open_no_follow(path, flags), "a" if append else "w", encoding="utf-8")

    def write(self, line: ResultLine) -> None:
        self._fp.write(dumps_line(line) + "\n")
        self._fp.flush()
        os.fsync(self._fp.fileno())

    def close(self) -> None:
        self._fp.close()

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
