"""Where prepared bytes go: output names, atomic writes into the out folder, and the URL that names
each output for the transport (a data URL, the public URL under `url_prefix`, or a `file://` path).
The one module that writes into `--out`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import secrets
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from . import encode
from .errors import UsageError
from .models import Target

_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif", "HEIC": ".heic", "MP4": ".mp4"}


def output_stem(label: str, *, default: str = "input") -> str:
    """The input's stem made file-safe, then a hash of its full label: stable across runs, never colliding."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(label.split("?")[0]).stem)[:80] or default
    return f"{stem}-{hashlib.sha1(label.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def output_name(label: str, fmt: str, *, tile: int | None = None) -> str:
    """A stable, collision-free file name: the input's stem, a hash of its full label, the format's extension."""
    suffix = f"-t{tile}" if tile is not None else ""
    return f"{output_stem(label)}{suffix}{_EXT.get(fmt, '.' + fmt.lower())}"


def frame_name(stem: str, index: int, fmt: str = "JPEG") -> str:
    """`<stem>/frame_00007.jpg`: one member of an image list, in its input's folder."""
    return f"{stem}/frame_{index:05d}{_EXT.get(fmt, '.' + fmt.lower())}"


# --- temporary files ---------------------------------------------------------------------------
#
# Every file mediaprep writes (outputs, frames, contact sheets, reports, request files) is first
# written under a temporary name beside its destination, then renamed over it. A shared `--out`
# may hold entries planted by someone else, so the temporary is:
#   - unpredictable: `.mediaprep-tmp-<16 hex>-<dest name>` (64 random bits from `secrets`);
#   - created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW): an existing entry there, a symlink
#     included, is never opened; the next random name is tried instead;
#   - written through the descriptor that created it (FFmpeg too: PyAV gets the open file), never
#     reopened by name;
#   - private while written (0600), given the mode an ordinary new file would have (0666 less the
#     umask) just before the rename;
#   - renamed with `os.replace`, which replaces an entry at the destination name (a symlink planted
#     there included) rather than writing through it, and only while the temporary name still names
#     the file this process created.
# The destination's folder may itself be a symlink (an `--out` that is a link) only when the link
# belongs to the user running mediaprep (or to root): a symlink planted by someone else in place of
# a folder mediaprep creates (`<stem>/` for an image list) would send the writes outside `--out`,
# so it is refused with `PermissionError` (the rule Linux applies in sticky folders,
# fs.protected_symlinks). The folder is opened once and every name operation is made relative to it.
# An entry that someone replaces after mediaprep wrote it cannot be prevented in a folder they may
# delete from: a shared `--out` should have the sticky bit (`chmod +t`), as /tmp does.

TEMP_PREFIX = ".mediaprep-tmp-"
_TOKEN_HEX = 16
TEMP_NAME_RE = re.compile(r"\A\.mediaprep-tmp-[0-9a-f]{16}-.*\Z", re.DOTALL)
"""Matches the names of mediaprep's own temporary files, and nothing else (`TEMP_NAME_RE.match(name)`
on a bare file name): what a resume may delete as the partial file of a killed run."""

_NAME_PART_MAX_BYTES = 100  # of the destination's name kept in the temporary's (recognisable, and under NAME_MAX)
_CREATE_FLAGS = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOINHERIT", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_READ_NOFOLLOW = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_USE_DIR_FD = os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd and os.unlink in os.supports_dir_fd and os.stat in os.supports_dir_fd and hasattr(os, "O_DIRECTORY")
_UMASK_LOCK = threading.Lock()
_fallback_umask: int | None = None


def temp_name(dest_name: str) -> str:
    """A fresh temporary name for a file to be renamed to `dest_name`: matches `TEMP_NAME_RE`."""
    part = dest_name
    while len(os.fsencode(part)) > _NAME_PART_MAX_BYTES:
        part = part[:-1]
    return f"{TEMP_PREFIX}{secrets.token_hex(_TOKEN_HEX // 2)}-{part}"


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux /proc)."""
    global _fallback_umask
    try:
        with open("/proc/self/status", "rb") as fp:
            for line in fp:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        if _fallback_umask is None:
            _fallback_umask = os.umask(0o022)
            os.umask(_fallback_umask)
        return _fallback_umask


def _open_folder(folder: Path) -> int:
    """A descriptor of `folder`, refusing a symlink there unless it belongs to this user (or root)."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(folder, _DIR_FLAGS | nofollow)
    except OSError as exc:
        if not nofollow or exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise
        st = os.lstat(folder)
        if not stat.S_ISLNK(st.st_mode):
            raise
        if st.st_uid not in (os.geteuid(), 0):
            raise PermissionError(
                errno.EACCES,
                f"refusing to write into {folder}: it is a symlink owned by uid {st.st_uid}, not by you (it may have been planted there); "
                "remove it, or name the real folder",
                str(folder),
            ) from None
        return os.open(folder, _DIR_FLAGS)


class TempFile:
    """A temporary file beside `dest`, created exclusively under an unpredictable name and open for
    writing (`file`, binary). `commit()` renames it over `dest`; `discard()` (or leaving a `with`
    block without `commit`) removes it. See the notes above `TEMP_PREFIX` for what this guards
    against. Made by `exclusive_temp`."""

    def __init__(self, dest: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.dest = Path(dest)
        self.fsync = fsync
        self._dir_fd: int | None = _open_folder(self.dest.parent) if _USE_DIR_FD else None
        if self._dir_fd is None and hasattr(os, "O_NOFOLLOW"):  # no *at() calls here: the folder is still judged
            os.close(_open_folder(self.dest.parent))
        try:
            for _ in range(100):
                name = temp_name(self.dest.name)
                try:
                    fd = os.open(name if self._dir_fd is not None else self.dest.parent / name, _CREATE_FLAGS, 0o600, dir_fd=self._dir_fd)
                    break
                except FileExistsError:  # someone's entry (or a planted link) under that name: never opened, another name tried
                    continue
            else:
                raise FileExistsError(errno.EEXIST, "no free temporary name after 100 tries", str(self.dest.parent))
        except BaseException:
            self._close_dir()
            raise
        self._name = name
        self.path = self.dest.parent / name
        self._id = _file_id(os.fstat(fd))
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self._done = False

    def _entry(self) -> os.stat_result | None:
        try:
            if self._dir_fd is not None:
                return os.stat(self._name, dir_fd=self._dir_fd, follow_symlinks=False)
            return os.lstat(self.path)
        except FileNotFoundError:
            return None

    def flush(self) -> None:
        """Flush what was written (to disk too with `fsync`): do this before anything reads the
        temporary back by name. The descriptor stays open until `commit` or `discard`, so the file
        cannot be freed (and its inode number reused) while its name is checked."""
        self.file.flush()
        if self.fsync:
            os.fsync(self.file.fileno())

    def commit(self) -> None:
        """Give the file an ordinary new file's mode, rename it over `dest` (an entry already there,
        a symlink included, is replaced, never written through), then close it. Refused (and the
        temporary discarded) when its name no longer names the file this process created."""
        if self._done:
            raise ValueError("this temporary file was already committed or discarded")
        try:
            self.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(self.file.fileno(), 0o666 & ~_umask())
            entry = self._entry()  # while the file is open: its inode cannot be another file's
            if entry is None or not stat.S_ISREG(entry.st_mode) or _file_id(entry) != self._id:
                raise PermissionError(errno.EACCES, f"refusing to rename {self.path} to {self.dest.name}: the temporary file was replaced while it was written", str(self.path))
            if self._dir_fd is not None:
                os.replace(self._name, self.dest.name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
            else:
                os.replace(self.path, self.dest)
            self._done = True
            self.file.close()
        finally:
            if not self._done:
                self.discard()
            self._close_dir()

    def discard(self) -> None:
        """Remove the temporary name (only while it still names this file) and close the file."""
        if self._done:
            return
        self._done = True
        try:
            entry = self._entry()  # checked while the file is open: its inode cannot be another file's
            if entry is not None and _file_id(entry) == self._id:
                if self._dir_fd is not None:
                    os.unlink(self._name, dir_fd=self._dir_fd)
                else:
                    os.unlink(self.path)
        except OSError:
            pass
        finally:
            try:
                self.file.close()
            except OSError:
                pass
            self._close_dir()

    def _close_dir(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None

    def __enter__(self) -> TempFile:
        return self

    def __del__(self) -> None:  # dropped without commit (an exception on the way): removed like discard
        try:
            if not getattr(self, "_done", True):
                self.discard()
        except Exception:
            pass

    def __exit__(self, *exc: object) -> None:
        self.discard()


def _file_id(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def exclusive_temp(dest: str | os.PathLike[str], *, fsync: bool = False) -> TempFile:
    """The one way mediaprep makes a temporary file: exclusively, unpredictably named, beside `dest`
    (whose folder must exist). The caller writes `.file` (or hands it to FFmpeg), may read `.path`
    back after `.flush()`, then `.commit()`s or `.discard()`s; as a context manager it is discarded
    unless committed."""
    return TempFile(dest, fsync=fsync)


@contextmanager
def atomic_file(dest: str | os.PathLike[str], *, encoding: str | None = None, fsync: bool = False) -> Iterator[Any]:
    """Yield a file to write `dest`'s new content into (binary; text with `encoding`); on leaving
    the block it is renamed over `dest`, on an exception removed (the old `dest` untouched)."""
    with exclusive_temp(dest, fsync=fsync) as tmp:
        if encoding is None:
            yield tmp.file
        else:
            text = io.TextIOWrapper(tmp.file, encoding=encoding)
            try:
                yield text
                text.flush()
            finally:
                text.detach()
        tmp.commit()


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: a killed run leaves no partial file
    (see `exclusive_temp`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as fp:
        fp.write(data)


def copy_atomic(src: Path, dest: Path) -> None:
    """Copy a file into the out folder under a temporary name, then rename. Costs one read and write."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fsrc, atomic_file(dest) as fdst:
        shutil.copyfileobj(fsrc, fdst, 1 << 20)


def _read_output(path: Path) -> bytes:
    """An output mediaprep wrote, read back without following a symlink put in its place."""
    fd = os.open(path, _READ_NOFOLLOW)
    with os.fdopen(fd, "rb") as fp:
        return fp.read()


def url_for(target: Target, *, mime: str, rel: str | None = None, out_dir: Path | None = None, url_prefix: str | None = None, data: bytes | None = None, local_path: Path | None = None) -> str:
    """The URL that carries one output for `target.transport`:
    - base64: a data URL of `data` (or of the file at `out_dir / rel` or `local_path`);
    - url: `url_prefix` + `rel` (where the out folder is uploaded);
    - path: `file://` of the written output (`out_dir / rel`), or of `local_path` (an input sent as it is).
    Costs one base64 pass for base64; nothing else."""
    if target.transport == "base64":
        if data is None:
            if out_dir is not None and rel is not None:
                data = _read_output(out_dir / rel)
            elif local_path is not None:
                data = local_path.read_bytes()  # an input sent as it is: the user's own path, links allowed
            else:
                raise UsageError("a base64 output needs its bytes or a file to read them from")
        return encode.to_data_url(data, mime)
    if target.transport == "url":
        if url_prefix is None or rel is None:
            raise UsageError("transport 'url' needs out_dir and url_prefix (where you will upload the out folder)")
        return encode.to_url(url_prefix, rel)
    if out_dir is not None and rel is not None:
        return encode.to_file_url(out_dir / rel, target.path_style)
    if local_path is not None:
        return encode.to_file_url(local_path, target.path_style)
    raise UsageError("transport 'path' needs out_dir when the media must be rewritten (its fixed bytes need a file)")
