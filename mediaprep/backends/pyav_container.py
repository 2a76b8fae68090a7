"""PyAV (FFmpeg's libraries): opening a video for reading, and what its container, stream and
frames say about time and display. Every `pyav_*` module opens videos through `open_container`;
PyAV ticks and time bases are turned into seconds in these modules and never leave them.

- `open_container`: one `av.open` (a path by name, so FFmpeg does its own buffered I/O; otherwise
  a fresh file object from the `Media`) and FFmpeg's header parse; PyAV's errors come out as
  `UnreadableVideo` (`translate.video_errors`).
- `video_stream`: the first video stream that is not an attached picture (cover art).
- `display_transform`, `_htc_matrix`, `_frame_matrix`, `_swaps`: the display matrix (from a frame's
  side data, or HTC's track name) as a rotation, a mirroring and the PIL transpose that shows the
  picture upright, following ffmpeg's autorotate rules.
- `_seconds`, `_s`: time-base arithmetic. `_s` works on ints, at a fraction of a Fraction's cost:
  it runs once per packet.
- `_nonref_is_exact`: whether FFmpeg's skip_frame=NONREF is exact for a codec (used by the probe's
  tail decode and the decode plan).

Apart from `open_container`, everything here is arithmetic on values PyAV has already read: free.
"""

from __future__ import annotations

import contextlib
import math
import re
import struct
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import av
from PIL import Image

from ..errors import NoVideoStream
from ..media import Media
from .translate import video_errors

_TRANSPOSE = Image.Transpose
# Codecs where FFmpeg's skip_frame=NONREF drops only frames no other frame refers to.
_NONREF_EXACT = frozenset({"h264", "hevc", "mpeg1video", "mpeg2video", "mpeg4"})


@contextlib.contextmanager
def open_container(media: Media) -> Iterator[Any]:
    """An input container over the media (paths by name, so FFmpeg does its own buffered I/O).
    Raises `UnreadableVideo` when FFmpeg cannot open it."""
    with video_errors():
        if media.path is not None:
            container = av.open(str(media.path), mode="r", metadata_errors="ignore")
            with container:
                yield container
        else:
            with media.open() as fp:
                container = av.open(fp, mode="r", metadata_errors="ignore")
                with container:
                    yield container


def video_stream(container: Any) -> Any:
    videos = [s for s in container.streams.video if not (s.disposition and "attached_pic" in str(s.disposition).lower())]
    if not videos:
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        raise NoVideoStream(f"the container holds {', '.join(kinds)} streams only")
    return videos[0]


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def display_transform(matrix: Sequence[int] | None) -> tuple[int, bool, Image.Transpose | None]:
    """(rotation_deg counter-clockwise as FFmpeg reports it, mirrored, the PIL transpose that shows
    the picture upright), following ffmpeg's own autorotate rules."""
    if not matrix:
        return 0, False, None
    m = list(matrix)
    s0, s1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
    if s0 == 0 or s1 == 0:
        return 0, False, None
    reported = -math.degrees(math.atan2(m[1] / s1, m[0] / s0))  # av_display_rotation_get
    theta = -round(reported)
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    mirrored = (m[0] * m[4] - m[1] * m[3]) < 0
    method: Image.Transpose | None = None
    if abs(theta - 90) < 1:
        method = _TRANSPOSE.TRANSPOSE if m[3] > 0 else _TRANSPOSE.ROTATE_270  # cclock_flip / clock
    elif abs(theta - 180) < 1:
        if m[0] < 0 and m[4] < 0:
            method = _TRANSPOSE.ROTATE_180
        elif m[0] < 0:
            method = _TRANSPOSE.FLIP_LEFT_RIGHT
        elif m[4] < 0:
            method = _TRANSPOSE.FLIP_TOP_BOTTOM
    elif abs(theta - 270) < 1:
        method = _TRANSPOSE.TRANSVERSE if m[3] < 0 else _TRANSPOSE.ROTATE_90  # clock_flip / cclock
    elif abs(theta) < 1 and m[4] < 0:
        method = _TRANSPOSE.FLIP_TOP_BOTTOM
    return int(round(reported)), mirrored, method


_HTC_ROTATION = re.compile(r"^htc_video_rotA-(\d{3})$")


def _htc_matrix(stream: Any) -> tuple[int, ...] | None:
    """HTC phones wrote the rotation only into the track name (`htc_video_rotA-090`: turn 90°
    clockwise to show it upright); as the display matrix FFmpeg would have made of it."""
    match = _HTC_ROTATION.match(str((stream.metadata or {}).get("title", "")))
    if not match or int(match.group(1)) % 90 or int(match.group(1)) % 360 == 0:
        return None
    theta = math.radians(-int(match.group(1)))  # FFmpeg's angles are counter-clockwise
    c, s_ = round(math.cos(theta)), round(math.sin(theta))
    one = 1 << 16
    return (c * one, -s_ * one, 0, s_ * one, c * one, 0, 0, 0, 1 << 30)


def _frame_matrix(frame: Any) -> tuple[int, ...] | None:
    for sd in frame.side_data:
        if "DISPLAYMATRIX" in str(sd.type):
            return struct.unpack("<9i", bytes(sd))
    return None


def _swaps(method: Image.Transpose | None) -> bool:
    return method in (_TRANSPOSE.ROTATE_90, _TRANSPOSE.ROTATE_270, _TRANSPOSE.TRANSPOSE, _TRANSPOSE.TRANSVERSE)


def _s(ticks: int, tb: Fraction) -> float:
    """Seconds, the same float as float(ticks * tb) (int / int is correctly rounded) at a fraction
    of a Fraction's cost: this runs once per packet of an hour-long video."""
    return ticks * tb.numerator / tb.denominator


def _nonref_is_exact(cc: Any) -> bool:
    """Whether skip_frame=NONREF drops only frames nothing refers to. HEVC's "non-reference"
    pictures are so only within their temporal sub-layer, so HEVC qualifies only when its hvcC
    record says it has one sub-layer (numTemporalLayers == 1); Annex B extradata (MPEG-TS) does not
    say, so it does not qualify."""
    if cc.name not in _NONREF_EXACT:
        return False
    if cc.name != "hevc":
        return True
    extra = bytes(cc.extradata or b"")
    return len(extra) >= 23 and extra[0] == 1 and (extra[21] >> 3) & 7 == 1
