"""Bytes → what travels: a base64 data URL, a `file://` path, or a URL (SPEC §3). Pure but for the
base64 pass. The byte caps and the data-URL arithmetic live in `caps` (re-exported here)."""

from __future__ import annotations

import base64
from pathlib import Path, PureWindowsPath

from .caps import data_url_length, data_url_prefix, image_byte_check, image_raw_cap, max_raw_bytes_for_data_url
from .errors import UsageError
from .models import PathStyle

__all__ = [
    "data_url_length",
    "data_url_prefix",
    "image_byte_check",
    "image_raw_cap",
    "max_raw_bytes_for_data_url",
    "to_data_url",
    "to_file_url",
    "to_url",
]


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
