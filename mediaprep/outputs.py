"""Where prepared bytes go: output names, atomic writes into the out folder, and the URL that names
each output for the transport (a data URL, the public URL under `url_prefix`, or a `file://` path).
The one module that writes into `--out`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

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


def temp_path(dest: Path) -> Path:
    """The temporary name a file is written under before `os.replace` moves it to `dest`."""
    return dest.with_name(f".{dest.name}.tmp-{os.getpid()}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same folder, then rename: a killed run leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    with open(tmp, "wb") as fp:
        fp.write(data)
    os.replace(tmp, path)


def copy_atomic(src: Path, dest: Path) -> None:
    """Copy a file into the out folder under a temporary name, then rename. Costs one read and write."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(dest)
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def url_for(target: Target, *, mime: str, rel: str | None = None, out_dir: Path | None = None, url_prefix: str | None = None, data: bytes | None = None, local_path: Path | None = None) -> str:
    """The URL that carries one output for `target.transport`:
    - base64: a data URL of `data` (or of the file at `out_dir / rel` or `local_path`);
    - url: `url_prefix` + `rel` (where the out folder is uploaded);
    - path: `file://` of the written output (`out_dir / rel`), or of `local_path` (an input sent as it is).
    Costs one base64 pass for base64; nothing else."""
    if target.transport == "base64":
        if data is None:
            where = out_dir / rel if out_dir is not None and rel is not None else local_path
            if where is None:
                raise UsageError("a base64 output needs its bytes or a file to read them from")
            data = where.read_bytes()
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
