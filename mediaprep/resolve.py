"""Turn what a user passed (path, `file://` URL, `data:` URL, raw bytes, http(s) URL) into a `Source`.

A missing file, a folder, a socket or device, or an unreadable file becomes a `source.*` violation
for that input only. Costs one `stat`; a file that cannot be opened is reported by the first read
(`source.permission_denied`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from .codes import violation
from .errors import UsageError
from .models import Source, Violation

InputLike = str | os.PathLike[str] | bytes | bytearray | memoryview | Source


def label_for(obj: InputLike) -> str:
    """How an input is named in every message: the path or URL as given; for bytes and data URLs,
    which have no name, their length and a short hash of their content (never the payload):
    `<1234 bytes sha256:1a2b3c4d5e6f7a8b>`, `<data:image/png;base64,… 1234 chars sha256:…>`. The
    hash makes the label — and so the output name and the resume key — differ whenever the content
    does and match when it is the same. Costs one SHA-256 pass (of the bytes, or the URL's text)."""
    if isinstance(obj, Source):
        return obj.label
    if isinstance(obj, (bytes, bytearray, memoryview)):
        view = memoryview(obj)
        view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
        return f"<{view.nbytes} bytes sha256:{hashlib.sha256(view).hexdigest()[:16]}>"
    if not isinstance(obj, (str, os.PathLike)):
        raise UsageError(f"an input must be a path, a file:// / data: / http(s) URL, or bytes, not {type(obj).__name__}")
    text = os.fspath(obj)
    if text[:5].lower() == "data:":
        head = text[: text.find(",")] if "," in text else text[:40]
        digest = hashlib.sha256()
        for at in range(0, len(text), 1 << 20):  # in slices: a huge URL is never copied whole
            digest.update(text[at : at + (1 << 20)].encode("utf-8", "surrogatepass"))
        return f"<{head},… {len(text)} chars sha256:{digest.hexdigest()[:16]}>"
    return text


def _file_url_to_path(url: str) -> Path:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc and len(parts.netloc) == 2 and parts.netloc[1] == ":":  # file://D:/images/x.png
        return Path(parts.netloc + path)
    if parts.netloc and parts.netloc not in ("", "localhost"):
        raise UsageError(f"{url}: file:// URLs must name a local path, not host {parts.netloc!r}")
    if len(path) > 2 and path[0] == "/" and path[2] == ":":  # file:///D:/images/x.png
        return Path(path[1:])
    return Path(path)


def _data_url(text: str, label: str) -> Source | Violation:
    header, sep, payload = text.partition(",")
    if not sep:
        return violation("image.unreadable", source=label, observed="a data: URL without a comma before its payload")
    params = header[5:].split(";")
    mime = params[0] or None
    try:
        if any(p.strip().lower() == "base64" for p in params[1:]):
            data = base64.b64decode(payload, validate=True)
        else:
            data = unquote_to_bytes(payload)  # RFC 2397: %XX escapes are octets, not UTF-8 text
    except (binascii.Error, ValueError) as exc:
        return violation("image.unreadable", source=label, observed=f"the data: URL's base64 payload is malformed ({exc})")
    return Source(label=label, kind="data_url", data=data, declared_mime=mime)


def resolve(obj: InputLike, *, label: str | None = None) -> Source | Violation:
    """One input → a `Source`, or the `source.*` violation that says why it cannot be read."""
    if isinstance(obj, Source):
        return obj
    name = label or label_for(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return Source(label=name, kind="bytes", data=bytes(obj))
    if not isinstance(obj, (str, os.PathLike)):
        raise UsageError(f"an input must be a path, a file:// / data: / http(s) URL, or bytes, not {type(obj).__name__}")
    text = os.fspath(obj)
    lowered = text[:8].lower()
    if lowered.startswith("data:"):
        return _data_url(text, name)
    if lowered.startswith(("http://", "https://")):
        return Source(label=name, kind="url", url=text)
    if lowered.startswith("file://"):
        try:
            path = _file_url_to_path(text)
        except UsageError as exc:  # file://host/...: names no local file, a problem of this input only
            return violation("source.not_found", source=name, observed=str(exc))
    else:
        path = Path(text)
    return _check_path(path, name)


def _check_path(path: Path, label: str) -> Source | Violation:
    try:
        st = path.stat()
    except FileNotFoundError:
        return violation("source.not_found", source=label, observed=str(path))
    except NotADirectoryError:
        return violation("source.not_found", source=label, observed=str(path))
    except PermissionError as exc:
        return violation("source.permission_denied", source=label, observed=exc.strerror or "permission denied")
    except OSError as exc:  # a symlink loop, a name too long for the file system, an I/O error
        return violation("source.not_found", source=label, observed=f"{path} ({exc.strerror or type(exc).__name__})")
    except ValueError:  # a NUL byte (from stdin or the library): no file can have that name
        return violation("source.not_found", source=label, observed=f"{str(path)!r} (a file name cannot hold a NUL byte)")
    if not stat.S_ISREG(st.st_mode):
        return violation("source.not_a_file", source=label, observed=_file_kind(st.st_mode))
    return Source(label=label, kind="path", path=path)  # unreadable files are found (and reported) at the first open


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def expand_inputs(inputs: Iterable[str]) -> Iterator[str]:
    """The command line's view: folders are walked recursively (sorted; dot-files and dot-folders
    skipped), everything else is passed through as given for `resolve` to judge."""
    for item in inputs:
        path = Path(item)
        if "://" not in item and not item[:5].lower() == "data:" and _is_dir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield os.path.join(root, name)
        else:
            yield item


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long to stat: not a folder; resolve reports it
        return False
