"""Run a video plan: the pictures of an image list (from a video or an animation), or a remuxed /
transcoded MP4. Memory stays bounded: frames stream through one at a time, nothing holds the
whole video.

A file fix reports how it went as a value (`FileFix`): the caller falls back to the plan's image
list on `failure`, so only a video the backend could not read or write takes that path — a bug
still raises.

PyAV loads when a video is first touched (`pyav_backend`, `pyav_encode` are imported inside the
calls), so preparing images and animations never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .. import sampling
from ..backends import pillow_backend, pillow_ops
from ..errors import UnreadableVideo
from ..media import Media
from ..models import EncodedPicture, ImageInfo, Size, ExtractedFrame, VideoInfo
from ..plan import FramesPlan, VideoPlan, padded_size
from ..rules import IMAGE_MIME, TUNING, Limits


def _padded(im: Any, limits: Limits) -> Any:
    """Pad a frame that would break SPEC §1's size rules (a side ≤ 10 px, a ratio over 200:1)."""
    want = padded_size(pillow_ops.size_of(im), min_side_exclusive_px=limits.image_min_side_exclusive_px, max_ratio=limits.image_max_aspect_ratio)
    return pillow_ops.pad(im, want)


def taken_frames(media: Media, info: VideoInfo, times_s: tuple[float, ...], *, out_size: Size, plan: bool = True, seek: bool | None = None) -> Iterator[ExtractedFrame]:
    """The frames on screen at `times_s`, scaled to `out_size` (see `pyav_backend.iter_frames` for
    what that costs)."""
    from ..backends import pyav_backend

    for f in pyav_backend.iter_frames(media, info, times_s, out_size=out_size, plan=plan, seek=seek):
        yield ExtractedFrame(index=f.index, time_s=f.time_s, pts_s=f.pts_s, image=f.image)


def video_pictures(media: Media, info: VideoInfo, frames: FramesPlan, *, limits: Limits, quality: int = TUNING.jpeg_quality) -> Iterator[EncodedPicture]:
    """JPEG frames of a video on screen at the plan's times, padded where a frame would break SPEC
    §1's size rules. Lazy: one frame in memory at a time (plus the decoders')."""
    from ..backends import pyav_backend

    for taken in pyav_backend.iter_frames(media, info, frames.times_s, out_size=frames.frame_size):
        im = _padded(taken.image, limits)
        data = pillow_ops.encode(im, "JPEG", quality=quality)
        yield EncodedPicture(data=data, format="JPEG", mime=IMAGE_MIME["JPEG"], size=pillow_ops.size_of(im), index=taken.index, time_s=taken.time_s, pts_s=taken.pts_s)


def animation_pictures(media: Media, info: ImageInfo, frames: FramesPlan, starts_s: list[float], *, limits: Limits, quality: int = TUNING.jpeg_quality) -> Iterator[EncodedPicture]:
    """An animation's frames on screen at the plan's times (on its own clock, `starts_s` being each
    frame's start), as JPEG (PNG when the animation has alpha), padded like video frames. Decodes
    frames in order up to the last one sampled."""
    fmt = "PNG" if info.has_alpha else "JPEG"
    indexes = [sampling.frame_on_screen(starts_s, t) for t in frames.times_s]
    size = (frames.frame_size.width_px, frames.frame_size.height_px)
    for k, im in enumerate(pillow_backend.iter_animation_frames(media, indexes, size)):
        icc = im.info.get("icc_profile")  # the animation's profile, as an image's is kept
        pic, converted = pillow_ops.normalise_mode(im, fmt)
        pic = _padded(pic, limits)
        data = pillow_ops.encode(pic, fmt, quality=quality, icc=None if converted else icc)
        t = frames.times_s[k]
        yield EncodedPicture(data=data, format=fmt, mime=IMAGE_MIME[fmt], size=pillow_ops.size_of(pic), index=k, time_s=t, pts_s=starts_s[indexes[k]])


@dataclass(frozen=True, slots=True, kw_only=True)
class FileFix:
    """How a remux or transcode went: the written file and its parameters, or why it failed."""

    path: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None


def fix_file(media: Media, info: VideoInfo, plan: VideoPlan, dest: Path | IO[bytes]) -> FileFix:
    """Remux or transcode (per `plan.mode`) into `dest`: an open, seekable binary file (the caller's
    exclusively created temporary; FFmpeg writes through it and never opens a name) or a path. A
    video FFmpeg cannot read or carry comes back as `failure`; a path `dest` is then removed (an open
    file is the caller's to discard). Costs one read of the file (remux) or one decode and encode of
    every frame (transcode)."""
    from ..backends import pyav_encode

    path = Path(dest) if isinstance(dest, (str, os.PathLike)) else None
    try:
        if plan.mode == "remux":
            pyav_encode.remux_mp4(media, dest)
            return FileFix(path=path)
        assert plan.mode == "transcode" and plan.cap_bytes is not None, "fix_file runs remux and transcode plans"
        params = pyav_encode.transcode_mp4(media, info, dest, max_bytes=plan.cap_bytes)
        return FileFix(path=path, params=params)
    except UnreadableVideo as exc:
        if path is not None:
            path.unlink(missing_ok=True)
        return FileFix(failure=str(exc))
