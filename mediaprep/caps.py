"""Byte caps per transport (SPEC §1, §2) and the data-URL arithmetic they need. Pure.

The whole data URL counts against a base64 cap: `data:<mime>;base64,` plus 4 bytes per 3. The
video base64 cap is exclusive (strictly less than); every other cap is inclusive.
"""

from __future__ import annotations

from .models import Target


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


def video_byte_check(size_bytes: int, mime: str, target: Target) -> tuple[str, int, int, bool]:
    """(field, cap, measured, over) for a video file sent through `target.transport`."""
    lim = target.limits
    if target.transport == "base64":
        measured = data_url_length(size_bytes, mime)
        return "data_url_bytes", lim.video_max_data_url_bytes_exclusive, measured, measured >= lim.video_max_data_url_bytes_exclusive
    cap = lim.video_max_path_bytes if target.transport == "path" else lim.video_max_url_bytes
    return "size_bytes", cap, size_bytes, size_bytes > cap


def video_raw_cap(target: Target, mime: str = "video/mp4") -> int:
    """The most raw bytes a video file of `mime` may have for `target.transport` (what a transcode
    aims under)."""
    lim = target.limits
    if target.transport == "base64":
        return max_raw_bytes_for_data_url(lim.video_max_data_url_bytes_exclusive - 1, mime)
    return lim.video_max_path_bytes if target.transport == "path" else lim.video_max_url_bytes


def url_read_cap(target: Target) -> int:
    """The most a URL's body may be before it is not read at all (`remote.too_large`): the largest
    URL-transport cap. The cap of the media's own kind (image 10 MiB, video 2 GiB) is a check rule,
    `image.too_large` / `video.too_large`, judged from the size the headers declare."""
    lim = target.limits
    return max(lim.image_max_file_bytes, lim.video_max_url_bytes)
