"""The frames on screen at given times (SPEC §2: the last frame whose pts ≤ t, times from the first
frame; `sampling.frame_on_screen` states the rule and both strategies below call it).

- `iter_frames`, the entry point: by default the decode plan (`pyav_decode_plan`): one demux pass
  finds the packet the rule takes for each time, then only the GOPs holding one are decoded, from
  their keyframe to their last chosen packet, non-reference frames skipped where that is exact,
  GOPs decoded in parallel (one single-threaded decoder per core). Where the container gives no
  plan, or a chosen frame does not come out of the decoder, the remaining times are scanned.
- `_scan`, the fallback: decodes every frame in one threaded pass, or jumps from keyframe to
  keyframe where the samples are sparse (the keyframes from `pyav_probe`'s index or packet span).
  Memory: two frames, whatever the length.

Frames are converted and scaled by swscale straight to the output size, rotation and mirroring
applied (`pyav_convert`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

from ..media import Media
from ..models import Size, VideoInfo
from ..sampling import frame_on_screen
from .pyav_container import _htc_matrix, open_container, video_stream
from .pyav_convert import TakenFrame, _Converter
from .pyav_decode_plan import _PLAN_CONTAINERS, _plan, _planned
from .pyav_probe import _index_span, _packet_span

_MIN_JUMP_S = 1.0  # a seek (a decoder flush) is taken only to skip at least this much video


def iter_frames(
    media: Media,
    info: VideoInfo,
    times_s: Sequence[float],
    *,
    out_size: Size,
    plan: bool = True,
    seek: bool | None = None,
) -> Iterator[TakenFrame]:
    """The frame on screen at each time (last frame with pts ≤ t; times measured from the first
    frame), converted by swscale to `out_size` (the displayed size; rotation applied after scaling).

    By default (`plan=True`, containers whose packets carry presentation times) one demux pass (no
    decoding) finds the packet SPEC's rule takes for each time; then only what those frames need is
    decoded: the GOPs holding a chosen frame, from their keyframe up to their last chosen packet,
    with FFmpeg's `skip_frame` dropping the non-reference frames in between (codecs where that is
    exact). Should a chosen frame not come out of the decoder (a damaged stream), the remaining times
    fall back to a scan.
    The scan (`plan=False`) decodes every frame in one threaded pass, or, when `seek` allows (None:
    samples at least half a keyframe interval apart), jumps to the keyframe before a sample that lies
    more than a second ahead.
    Costs one demux pass and a decode of the frames the samples depend on (plan); one decode of
    every frame, or of the GOPs holding samples (scan). Memory: a decoder per core and up to 128 MB
    of frames waiting for the caller (plan), two frames (scan); about 100 bytes per packet for the
    plan's tables (some 40 MB for two hours at 60 fps)."""
    times = sorted(times_s)
    if not times:
        return
    with open_container(media) as container:
        stream = video_stream(container)
        stream.thread_type = "AUTO"
        converter = _Converter(out_size, _htc_matrix(stream))
        done = 0
        if plan and _PLAN_CONTAINERS.search(container.format.name or ""):
            decode_plan = _plan(container, stream, times, info.start_s)
            if decode_plan is not None:
                for taken in _planned(media, container, stream, decode_plan, times, converter, info.start_s):
                    yield taken
                    done += 1
                if done == len(times):
                    return
        yield from _scan(container, stream, info, times[done:], converter, offset=done, seek=seek)



def _scan(container: Any, stream: Any, info: VideoInfo, times: Sequence[float], converter: _Converter, *, offset: int, seek: bool | None) -> Iterator[TakenFrame]:
    """The frames on screen at `times` by decoding forward from the keyframe before the first
    (every frame, or jumping ahead per sample where the samples are sparse; see iter_frames)."""
    if not times:
        return
    tb = stream.time_base
    origin = info.start_s
    spacing = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else math.inf
    keyframes: tuple[float, ...] = ()
    interval = info.keyframe_interval_s
    # Seeking pays when a jump skips decoding: samples at least half a keyframe interval (and a
    # second) apart. Whether a jump is taken is then decided sample by sample (below).
    wants_seek = seek if seek is not None else (interval is not None and spacing >= max(_MIN_JUMP_S, 0.5 * interval))
    if wants_seek:
        span = _index_span(stream) if container.format.name.startswith("mov") else None
        span = span or _packet_span(container, stream)
        if span is not None and span.keyframes_s:
            keyframes = tuple(t - origin for t in span.keyframes_s)
    use_seek = bool(wants_seek and keyframes)

    def frames_from_here() -> Iterator[tuple[Any, float]]:
        for frame in container.decode(stream):
            if frame.pts is not None:
                converter.learn(frame)
                yield frame, float(frame.pts * tb) - origin

    def decoded(from_s: float | None) -> Iterator[tuple[Any, float]]:
        """Frames from the keyframe before `from_s` (None: from the start). Where the demuxer lands
        past it, or on a packet after the last keyframe so nothing decodes (MPEG-TS seeks by a
        timestamp search), it seeks again further back."""
        at, back = from_s, max(_MIN_JUMP_S, interval or 0.0)
        while True:
            if at is None or at <= 0:
                container.seek(0)
                return frames_from_here()
            container.seek(int(round((at + origin) / tb)), stream=stream, backward=True, any_frame=False)
            frames = frames_from_here()
            first = next(frames, None)
            if first is not None and first[1] <= from_s + 1e-9:  # type: ignore[operator]
                return itertools.chain((first,), frames)
            at, back = at - back, back * 2  # past the target, or after the last keyframe: nothing decodes

    k = 0
    held: tuple[Any, float] | None = None
    frames = decoded(times[0] if offset else None)  # FFmpeg lands on the keyframe before it (index times are DTS)
    while k < len(times):
        if use_seek and held is not None:
            kf = keyframes[frame_on_screen(keyframes, times[k])]  # the last keyframe at or before t_k
            if kf > held[1] + (_MIN_JUMP_S if seek is None else 1e-9):  # the next sample's GOP starts well ahead: jump there
                frames = decoded(times[k])
                held = None
        moved = False
        for frame, t in frames:
            moved = True
            # SPEC's rule over the frame held and the one just decoded (frames come in presentation
            # order): once the new one is not on screen at t_k (index 0), the held one is t_k's frame
            # for good; with none held, the first frame is shown for times before it.
            window = (held[1] if held is not None else t, t)
            if frame_on_screen(window, times[k]) == 0:
                shown = held if held is not None else (frame, t)
                while k < len(times) and frame_on_screen(window, times[k]) == 0:
                    yield TakenFrame(index=offset + k, time_s=times[k], pts_s=shown[1], image=converter.image(*shown))
                    k += 1
                held = (frame, t)
                break
            held = (frame, t)
        else:
            break  # end of stream
        if not moved:
            break
    while k < len(times) and held is not None:  # the last frame stays on screen
        yield TakenFrame(index=offset + k, time_s=times[k], pts_s=held[1], image=converter.image(*held))
        k += 1
