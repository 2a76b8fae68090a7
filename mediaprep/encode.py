"""Bytes → what travels: a base64 data URL, a `file://` path, or a URL. Data-URL arithmetic is pure.

The whole data URL counts against the cap (SPEC §1): `data:<mime>;base64,` plus 4 bytes per 3.
"""

from __future__ import annotations

import base64
from pathlib import Path, PureWindowsPath

from .errors import UsageError
from .models import PathStyle, Target


def data_url_prefix(mime: str) -> str:
    return f"data:{mime};base64,"


def data_url_length(raw_bytes: int, mime: str) -> int:
    """Length in bytes of the data URL that carries `raw_bytes` bytes of `mime`."""
    return len(data_url_prefix(mime)) + 4 * -(-raw_bytes // 3)


def max_raw_bytes_for_data_url(cap_bytes: int, mime: str) -> int:
    """The largest raw size whose data URL is at most `cap_bytes` long."""
    room = cap_bytes - len(data_url_prefix(mime))
    return max(0, room // 4 * 3)


def image_byte_check(size_bytes: int, mime: str, target: Target) -> tuple[str, int, int]:
    """(field, cap, measured) for an image of `size_bytes` sent through `target.transport`."""
    lim = target.limits
    if target.transport == "base64":
        return "data_url_bytes", lim.image_max_data_url_bytes, data_url_length(size_bytes, mime)
    return "size_bytes", lim.image_max_file_bytes, size_bytes


def image_raw_cap(mime: str, target: Target) -> int:
    """The most raw bytes an image of `mime` may have for `target.transport`."""
    lim = target.limits
    if target.transport == "base64":
        return max_raw_bytes_for_data_url(lim.image_max_data_url_bytes, mime)
    return lim.image_max_file_bytes


def to_data_url(data: bytes, mime: str) -> str:
    """Costs one base64 pass over the bytes."""
    return data_url_prefix(mime) + base64.b64encode(data).decode("ascii")


def to_file_url(path: Path | str, style: PathStyle = "posix") -> str:
    """`file://` forms of SPEC §3: posix `file:///home/a.png`; Windows for the Python SDK
    `file://D:/a.png`; Windows for the Java SDK `file:///D:/a.png`."""
    if style == "posix":
        absolute = Path(path).absolute()
        return "file://" + absolute.as_posix()
    win = PureWindowsPath(path)
    if not win.drive:
        raise UsageError(f"{path}: a Windows file:// path needs a drive letter (D:\\...)")
    text = win.as_posix()
    return ("file://" if style == "windows-python" else "file:///") + text


def to_url(url_prefix: str, relative_path: str) -> str:
    return url_prefix.rstrip("/") + "/" + relative_path.lstrip("/")
