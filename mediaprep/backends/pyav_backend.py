"""PyAV (FFmpeg's libraries): the only module that opens videos. PyAV ticks and time bases are turned
into seconds here and never leave.

- `probe_video`: container header + stream parameters + the first decoded frame (for its display
  matrix); the duration is cross-checked against the index or a packet pass where the header is
  missing, disagrees or is implausible.
- `verify_video`: decodes the first frames and the tail (a seek near the end), which also measures
  the true duration; clips under a few seconds are decoded whole, counting their decodable frames.
- `iter_frames`: the frames on screen at given times. A demux pass finds the packet SPEC's rule
  takes for each time; only the GOPs holding one are decoded, from their keyframe to their last
  chosen packet, non-reference frames skipped where that is exact, GOPs decoded in parallel (one
  single-threaded decoder per core). A scan (every frame, or keyframe-to-keyframe jumps) is the
  fallback. Converted and scaled by swscale straight to the output size; rotation and mirroring
  applied. Memory: a few frames per decoder, whatever the length.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import itertools
import math
import os
import queue
import threading
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from PIL import Image

from ..errors import NoVideoStream, UnreadableMedia, UnreadableVideo
from ..media import Media
from ..models import Size, VideoInfo
from ..rules import VIDEO_MIME
from ..sniff import Sniffed
from .translate import VIDEO_LIBRARY_ERRORS, describe, video_errors

_TRANSPOSE = Image.Transpose
# Implausibly low bitrates mean the header's duration is not the file's (truncated, fragmented).
_MIN_PLAUSIBLE_BITS_PER_S = 2_000
_SHORT_CLIP_S = 4.0  # clips up to this long are decoded whole by verify_video
_MIN_JUMP_S = 1.0  # a seek (a decoder flush) is taken only to skip at least this much video
_WEBM_VIDEO_CODECS = frozenset({"vp8", "vp9"})
_WEBM_AUDIO_CODECS = frozenset({"vorbis", "opus"})


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


@dataclass(frozen=True, slots=True)
class _Span:
    first_s: float
    end_s: float
    frames: int
    keyframes_s: tuple[float, ...]


def _s(ticks: int, tb: Fraction) -> float:
    """Seconds, the same float as float(ticks * tb) (int / int is correctly rounded) at a fraction
    of a Fraction's cost: this runs once per packet of an hour-long video."""
    return ticks * tb.numerator / tb.denominator


def _packet_span(container: Any, stream: Any) -> _Span | None:
    """One demux pass (no decoding): first pts, last pts + duration, packet and keyframe counts."""
    tb = stream.time_base
    first = math.inf
    end = -math.inf
    count = 0
    keys: list[float] = []
    container.seek(0)
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        t = _s(packet.pts, tb)
        dur = _s(packet.duration, tb) if packet.duration else 0.0
        first = min(first, t)
        end = max(end, t + dur)
        count += 1
        if packet.is_keyframe:
            keys.append(t)
    if count == 0:
        return None
    return _Span(first_s=first, end_s=end, frames=count, keyframes_s=tuple(sorted(keys)))


def _index_span(stream: Any) -> _Span | None:
    """MP4/MOV: the sample table is already parsed, so the span and keyframes cost nothing.
    (PyAV gives the 2-bit flags signed: keyframe 1, discard 2 reads -2, both -1.)"""
    try:
        entries = stream.index_entries
        n = len(entries)
    except (AttributeError, *VIDEO_LIBRARY_ERRORS):  # no index for this demuxer
        return None
    if n == 0:
        return None
    tb = stream.time_base
    # Samples an edit list cuts off (flagged discard: decoded for their references, never shown) do
    # not count towards the span; keyframes do, cut or not: decoding starts from them.
    times = [_s(entries[i].timestamp, tb) for i in range(n) if not entries[i].flags & 2]
    keys = tuple(sorted(_s(entries[i].timestamp, tb) for i in range(n) if entries[i].flags & 1))
    if not times:
        return None
    step = (max(times) - min(times)) / (len(times) - 1) if len(times) > 1 else 0.0
    return _Span(first_s=min(times), end_s=max(times) + step, frames=len(times), keyframes_s=keys)


def _frame_end(frame: Any, tb: Fraction, default_dur_s: float) -> float:
    """When a decoded frame leaves the screen, in seconds (its duration, else the nominal one)."""
    return float(frame.pts * tb) + (float(frame.duration * tb) if frame.duration else default_dur_s)


def _decode_tail(container: Any, stream: Any, target: int, packets_left: int | None, last_end: float, default_dur: float) -> tuple[int, float]:
    """Decode from the keyframe at or before `target` (stream ticks) to the end: (frames decoded,
    the latest frame end seen). With `packets_left` (the index's count from that keyframe to the last
    packet kept, the keyframe being `target` itself), packets before it are dropped — FFmpeg lands a GOP early when it opens an
    open GOP, and the last GOP decodes afresh without them — and non-reference frames are skipped
    (where that is exact) but for the last _MAX_REORDER packets: the frames shown last are among them."""
    tb = stream.time_base
    cc = stream.codec_context
    skipping = packets_left is not None and _nonref_is_exact(cc)
    left = packets_left or 0
    container.seek(target, stream=stream, backward=True, any_frame=False)
    tail = 0
    try:
        for packet in container.demux(stream):
            if packets_left is not None and packet.size and packet.dts is not None and packet.dts < target:
                continue
            if skipping and packet.size:
                cc.skip_frame = "NONREF" if left > _MAX_REORDER else "DEFAULT"
                left -= 1
            for frame in packet.decode():
                if frame.pts is None:
                    continue
                last_end = max(last_end, _frame_end(frame, tb, default_dur))
                tail += 1
    finally:
        cc.skip_frame = "DEFAULT"
    return tail, last_end


def _last_keyframe(stream: Any) -> tuple[int, int] | None:
    """MP4/MOV: the index timestamp (a DTS, in the stream's time base) of the last keyframe the edit
    list keeps (FFmpeg also indexes the one after a trimmed end, flagged discard) and the number of
    packets from it to the last one kept; free (the index is parsed already)."""
    try:
        entries = stream.index_entries
        n = len(entries)
        last = n - 1
        while last >= 0 and entries[last].flags & 2:  # packets after a trimmed end: decoded, never shown
            last -= 1
        for i in range(last, -1, -1):
            if entries[i].flags & 1 and not entries[i].flags & 2:  # a keyframe the edit list keeps
                return int(entries[i].timestamp), last - i + 1
    except (AttributeError, *VIDEO_LIBRARY_ERRORS):  # no index for this demuxer
        return None
    return None


_MAX_REORDER = 16  # H.264/HEVC: at most 16 frames wait for display (max_num_reorder_frames)


def probe_video(media: Media, sniffed: Sniffed) -> VideoInfo:
    """Header, index (or one packet pass where the header is implausible) and the first frame.
    Raises UnreadableVideo / NoVideoStream."""
    size_bytes = media.size_bytes
    with open_container(media) as container, video_errors():
        stream = video_stream(container)
        cc = stream.codec_context
        if cc is None:
            tag = getattr(stream, "codec_tag", None) or "unknown"
            raise UnreadableVideo(f"the video codec ({tag}) is not one FFmpeg here can decode")
        stream.thread_type = "AUTO"
        tb = stream.time_base
        header = container.duration / 1_000_000 if container.duration else None
        stream_dur = _seconds(stream.duration, tb)
        start = _seconds(stream.start_time, tb) or 0.0
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        has_audio = bool(container.streams.audio)
        span = _index_span(stream) if container.format.name.startswith("mov") else None
        duration, source_kind = None, "header"
        candidates = [d for d in (stream_dur, header) if d and d > 0]
        if span is not None and span.end_s > span.first_s:
            duration, source_kind = span.end_s - span.first_s, "index"
        elif candidates:
            duration = candidates[0]
        plausible = duration is not None and duration > 0 and size_bytes * 8 / duration >= _MIN_PLAUSIBLE_BITS_PER_S
        disagree = stream_dur and header and abs(stream_dur - header) > max(0.5, 0.1 * header)
        if not plausible or disagree or span is None:
            measured = _packet_span(container, stream)
            if measured is not None:
                span = measured
                if not plausible or disagree or duration is None:
                    duration, source_kind = measured.end_s - measured.first_s, "packets"
        # the first frame: its display matrix and pixel format
        matrix, pix_fmt, first_pts = None, cc.pix_fmt, None
        try:
            container.seek(0)
            for frame in container.decode(stream):
                matrix = _frame_matrix(frame)
                pix_fmt = frame.format.name
                first_pts = frame.time
                break
        except av.FFmpegError:  # type: ignore[attr-defined]
            pass  # verify_video reports what does not decode
        rotation, mirrored, method = display_transform(matrix or _htc_matrix(stream))
        w, h = cc.width, cc.height
        dw, dh = (h, w) if _swaps(method) else (w, h)
        keyframe_interval = None
        if span is not None and len(span.keyframes_s) >= 2:
            keyframe_interval = (span.keyframes_s[-1] - span.keyframes_s[0]) / (len(span.keyframes_s) - 1)
        elif span is not None and len(span.keyframes_s) == 1:
            keyframe_interval = max(duration or 0.0, 0.0)
        fmt = sniffed.format
        if fmt == "MKV" and cc.name in _WEBM_VIDEO_CODECS and all(a.codec_context is not None and a.codec_context.name in _WEBM_AUDIO_CODECS for a in container.streams.audio):
            fmt = "WEBM"  # Matroska carrying only WebM codecs: a WebM file whatever its DocType says
        return VideoInfo(
            format=fmt,
            mime=VIDEO_MIME.get(fmt, "video/" + fmt.lower()),
            container=container.format.name,
            codec=cc.name,
            width_px=dw,
            height_px=dh,
            stored_width_px=w,
            stored_height_px=h,
            size_bytes=size_bytes,
            duration_s=max(0.0, duration or 0.0),
            duration_source=source_kind,  # type: ignore[arg-type]
            header_duration_s=header,
            fps=fps,
            frame_count=(span.frames if span is not None else (stream.frames or None)),
            has_audio=has_audio,
            rotation_deg=rotation,
            mirrored=mirrored,
            pix_fmt=pix_fmt,
            start_s=first_pts if first_pts is not None else (span.first_s if span else start),
            keyframe_interval_s=keyframe_interval,
        )


@dataclass(frozen=True, slots=True)
class Verified:
    duration_s: float
    decodable_frames: int | None
    error: str | None


def verify_video(media: Media, info: VideoInfo) -> Verified:
    """Decode the first frames and the tail. A short clip (≤ 4 s by its header) is decoded whole and
    its frames counted. Returns the decoded duration (first frame to the end of the last); what does
    not decode is in `.error`, never raised."""
    try:
        with open_container(media) as container:
            stream = video_stream(container)
            try:
                with video_errors():
                    return _verify_open(container, stream, info)
            except UnreadableVideo as exc:  # opened, but frames do not decode: how many is unknown
                return Verified(duration_s=0.0, decodable_frames=None, error=str(exc))
    except UnreadableVideo as exc:  # does not open, or holds no video stream
        return Verified(duration_s=0.0, decodable_frames=0, error=str(exc))


def _verify_open(container: Any, stream: Any, info: VideoInfo) -> Verified:
    stream.thread_type = "AUTO"
    tb = stream.time_base
    default_dur = 1.0 / info.fps if info.fps else 0.0
    first: float | None = None
    last_end = -math.inf
    count = 0
    whole = info.duration_s <= _SHORT_CLIP_S
    container.seek(0)
    for frame in container.decode(stream):
        if frame.pts is None:
            continue
        t = float(frame.pts * tb)
        first = t if first is None else min(first, t)
        last_end = max(last_end, _frame_end(frame, tb, default_dur))
        count += 1
        if not whole and count >= 3:
            break
    if first is None:
        return Verified(duration_s=0.0, decodable_frames=0, error="no frame decodes")
    if not whole:
        # the tail: the MP4 index's last keyframe when it lies in the last 3 s the header/index
        # promise (one GOP of decoding), else the keyframe before those 3 s
        window = int((info.start_s + max(0.0, info.duration_s - 3.0)) / tb)
        last_key = _last_keyframe(stream) if container.format.name.startswith("mov") else None
        tail = 0
        if last_key is not None and last_key[0] > window:
            tail, last_end = _decode_tail(container, stream, last_key[0], last_key[1], last_end, default_dur)
        if tail == 0:  # no index, or its last keyframe gave nothing: the 3 s window
            tail, last_end = _decode_tail(container, stream, window, None, last_end, default_dur)
        if tail == 0:
            return Verified(duration_s=last_end - first, decodable_frames=None, error="frames near the end do not decode")
    return Verified(duration_s=max(0.0, last_end - first), decodable_frames=count if whole else None, error=None)


@dataclass(frozen=True, slots=True)
class TakenFrame:
    index: int  # k, the sample's number
    time_s: float  # t_k, from the first frame
    pts_s: float  # the source frame's presentation time, from the first frame
    image: Image.Image


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


# Containers whose packets carry presentation timestamps (AVI's are decode order: no plan there).
_PLAN_CONTAINERS = re.compile(r"^(mov|matroska|webm|mpegts|mpeg|flv)")
# Codecs where FFmpeg's skip_frame=NONREF drops only frames no other frame refers to.
_NONREF_EXACT = frozenset({"h264", "hevc", "mpeg1video", "mpeg2video", "mpeg4"})
_MAX_DECODERS = 4  # GOP-parallel decoders at most (one per core up to this)
_QUEUED_BYTES = 128 << 20  # converted frames all decoders together may hold ahead of the consumer


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int  # decode index of the keyframe decoding starts from
    end: int  # decode index of the last packet it needs
    own: frozenset[int]  # the chosen pts this segment delivers


@dataclass(frozen=True, slots=True)
class _DecodePlan:
    keyframes: tuple[int, ...]  # decode indices of the keyframes, ascending
    keyframe_pts: dict[int, int]  # decode index of a keyframe → its pts (where to seek)
    chosen: tuple[int, ...]  # the pts taken for each (sorted) time
    need: frozenset[int]  # the chosen pts, as a set
    segments: tuple[_Segment, ...]  # one per GOP holding a chosen frame, in decode order
    index_of: dict[int, int]  # pts → decode index
    skip: str  # skip_frame for packets that are not chosen


def _plan(container: Any, stream: Any, times: Sequence[float], origin_s: float) -> _DecodePlan | None:
    """One demux pass (no decoding): SPEC's chosen packet for each time and, per GOP, the packets
    from its keyframe to its last chosen one. A leading picture of an open GOP (decoded after the
    keyframe, shown before it) refers back into the GOP before: the segment of that GOP delivers it.
    None when the packets cannot support a plan (missing or repeated pts, no keyframe)."""
    tb = stream.time_base
    pts: list[int] = []
    keys: list[int] = []
    container.seek(0)
    for packet in container.demux(stream):
        if packet.pts is None:
            if packet.size:
                return None
            continue
        if packet.is_keyframe:
            keys.append(len(pts))
        pts.append(packet.pts)
    index_of = {p: i for i, p in enumerate(pts)}
    if not keys or len(index_of) != len(pts):
        return None
    ordered = sorted(pts)
    rel = [_s(p, tb) - origin_s for p in ordered]
    chosen = tuple(ordered[max(0, bisect.bisect_right(rel, t + 1e-9) - 1)] for t in times)
    by_gop: dict[int, list[int]] = {}
    for p in set(chosen):
        i = index_of[p]
        g = max(0, bisect.bisect_right(keys, i) - 1)
        if g > 0 and pts[i] < pts[keys[g]]:
            g -= 1  # a leading picture: decoded with the GOP before
        by_gop.setdefault(g, []).append(p)
    segments = tuple(
        _Segment(start=keys[g] if keys[g] <= min(index_of[p] for p in own) else 0, end=max(index_of[p] for p in own), own=frozenset(own))
        for g, own in sorted(by_gop.items())
    )
    skip = "NONREF" if _nonref_is_exact(stream.codec_context) else "DEFAULT"
    return _DecodePlan(keyframes=tuple(keys), keyframe_pts={i: pts[i] for i in keys}, chosen=chosen, need=frozenset(chosen), segments=segments, index_of=index_of, skip=skip)


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


class _PlanBroken(Exception):
    """The stream did not behave as its packets promised; the caller falls back to a scan."""


def _decode_segment(container: Any, stream: Any, plan: _DecodePlan, segment: _Segment, converter: _Converter, stop: threading.Event) -> Iterator[tuple[int, Image.Image]]:
    """Decode one segment: seek to its keyframe (further back should the demuxer land past it),
    send its packets, the chosen ones decoded in full and the others with the plan's skip_frame,
    drain; yields (pts, image) for each chosen frame it owns, in presentation order.
    Raises _PlanBroken when the demuxer shows packets the plan did not see or an owned frame is
    missing; returns early once `stop` is set."""
    cc = stream.codec_context
    tb = stream.time_base
    keyframes = plan.keyframes
    j = bisect.bisect_right(keyframes, segment.start) - 1
    while True:  # position the demuxer at or before the segment's keyframe
        if j < 0:
            container.seek(0)
        else:
            container.seek(plan.keyframe_pts[keyframes[j]], stream=stream, backward=True, any_frame=False)
        packets = (p for p in container.demux(stream) if p.pts is not None)
        first = next(packets, None)
        if first is None:
            raise _PlanBroken("no packets after a seek")
        i = plan.index_of.get(first.pts)
        if i is None:
            raise _PlanBroken(f"a packet (pts {first.pts}) the plan did not see")
        if i <= segment.start or j < 0:
            packets = itertools.chain((first,), packets)
            break
        j -= 1
    need = plan.need
    delivered: set[int] = set()

    def take(frames: Sequence[Any]) -> Iterator[tuple[int, Image.Image]]:
        for frame in frames:
            if frame.pts is None:
                continue
            converter.learn(frame)
            if frame.pts in segment.own and frame.pts not in delivered:
                delivered.add(frame.pts)
                yield frame.pts, converter.image(frame, float(frame.pts * tb))

    try:
        for packet in packets:
            if stop.is_set():
                return
            i = plan.index_of.get(packet.pts)
            if i is None:
                raise _PlanBroken(f"a packet (pts {packet.pts}) the plan did not see")
            if i < segment.start:
                continue
            cc.skip_frame = "DEFAULT" if packet.pts in need else plan.skip
            yield from take(cc.decode(packet))
            if i >= segment.end:
                break
        cc.skip_frame = "DEFAULT"
        yield from take(cc.decode(None))  # drain: the segment's last frames
    finally:
        cc.skip_frame = "DEFAULT"
        cc.flush_buffers()
    if len(delivered) != len(segment.own):
        raise _PlanBroken(f"{len(segment.own) - len(delivered)} chosen frame(s) did not come out of the decoder")


def _decoders(count: int) -> int:
    """How many GOP-parallel decoders to run: one per core this process may use, at most
    _MAX_DECODERS, at most one per segment."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_DECODERS, count))


def _planned(media: Media, container: Any, stream: Any, plan: _DecodePlan, times: Sequence[float], converter: _Converter, origin_s: float) -> Iterator[TakenFrame]:
    """The plan's chosen frames, in order. Segments (GOPs) are independent, so with more than one
    core each is decoded by its own single-threaded decoder, in parallel (faster than FFmpeg's frame
    threading here, which stalls at every segment's drain); one more segment than there are decoders
    is under way, and together they hold at most _QUEUED_BYTES of converted frames (at least 4 each)
    ahead of the consumer. Stops early (the caller scans the rest) when a segment fails."""
    tb = stream.time_base
    segments = plan.segments
    workers = _decoders(len(segments))
    k = 0

    def frames_of(pts: int, image: Image.Image) -> Iterator[TakenFrame]:
        nonlocal k
        if k >= len(times) or plan.chosen[k] != pts:
            raise _PlanBroken("a chosen frame came out of order")
        t = float(pts * tb) - origin_s
        while k < len(times) and plan.chosen[k] == pts:
            yield TakenFrame(index=k, time_s=times[k], pts_s=t, image=image)
            k += 1

    stop = threading.Event()
    if workers == 1 or not media.parallel_reads:  # one decoder (a URL is not opened once per core)
        try:
            for segment in segments:
                for pts, image in _decode_segment(container, stream, plan, segment, converter, stop):
                    yield from frames_of(pts, image)
        except (_PlanBroken, *VIDEO_LIBRARY_ERRORS):
            pass  # the caller scans from sample k on
        return

    done = object()
    tasks: queue.SimpleQueue[tuple[_Segment, queue.Queue[Any]] | None] = queue.SimpleQueue()

    def hand(out: queue.Queue[Any], item: Any) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                out.put(item, timeout=0.2)
                return True
        return False

    def work() -> None:
        """A decoder thread: its own container (opened and closed here, so nothing else can close
        it under the decoder), segments from `tasks` until a None or `stop`."""
        with contextlib.ExitStack() as stack:
            failure: BaseException | None = None
            try:
                c = stack.enter_context(open_container(media))
                st = video_stream(c)
                st.thread_count = 1  # parallel across GOPs instead
                conv = _Converter(converter.out_size, converter.fallback)
            except BaseException as exc:  # every segment it takes reports it; the consumer scans
                failure = exc
            while (task := tasks.get()) is not None and not stop.is_set():
                segment, out = task
                if failure is not None:
                    hand(out, failure)
                    continue
                try:
                    for item in _decode_segment(c, st, plan, segment, conv, stop):
                        if not hand(out, item):
                            break
                    else:
                        hand(out, done)
                except BaseException as exc:  # handed to the consumer, which falls back to a scan
                    hand(out, exc)

    # daemon threads: a generator left unfinished at interpreter exit does not keep the process alive
    threads = [threading.Thread(target=work, name=f"mediaprep-decode-{n}", daemon=True) for n in range(workers)]
    w, h = converter.out_size.width_px, converter.out_size.height_px
    room = max(4, min(64, _QUEUED_BYTES // (workers + 1) // max(1, w * h * 4)))  # Pillow keeps RGB at 4 bytes a pixel
    pending: collections.deque[queue.Queue[Any]] = collections.deque()
    upcoming = iter(segments)

    def submit() -> None:
        segment = next(upcoming, None)
        if segment is not None:
            q: queue.Queue[Any] = queue.Queue(maxsize=room)
            pending.append(q)
            tasks.put((segment, q))

    try:
        for t in threads:
            t.start()
        for _ in range(workers + 1):  # one waiting, so a decoder that finishes moves straight on
            submit()
        while pending:
            q = pending.popleft()
            while (item := q.get()) is not done:
                if isinstance(item, (_PlanBroken, UnreadableMedia, *VIDEO_LIBRARY_ERRORS)):
                    raise _PlanBroken(describe(item))  # bad bytes in a segment: the caller scans from k
                if isinstance(item, BaseException):
                    raise item  # a bug in a decoder thread is a bug here too
                yield from frames_of(*item)
            submit()
    except _PlanBroken:
        pass  # the caller scans from sample k on
    finally:
        stop.set()
        for _ in threads:
            tasks.put(None)
        if threading.current_thread() not in threads:  # (a finaliser may run on a decoder thread)
            for t in threads:
                if t.is_alive():
                    t.join()


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
            kf = keyframes[max(0, bisect.bisect_right(keyframes, times[k] + 1e-9) - 1)]
            if kf > held[1] + (_MIN_JUMP_S if seek is None else 1e-9):  # the next sample's GOP starts well ahead: jump there
                frames = decoded(times[k])
                held = None
        moved = False
        for frame, t in frames:
            moved = True
            if t > times[k] + 1e-9:
                shown = held if held is not None else (frame, t)
                while k < len(times) and t > times[k] + 1e-9:
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


class _Converter:
    """swscale to the output size, then the display matrix's transpose; one conversion per source frame."""

    def __init__(self, out_size: Size, fallback: tuple[int, ...] | None = None) -> None:
        self.out_size = out_size
        self.fallback = fallback  # a stream-level rotation (HTC's track name) when frames carry none
        self.method: Image.Transpose | None = None
        self.known = False
        self.last: tuple[float, Image.Image] | None = None

    def learn(self, frame: Any) -> None:
        if not self.known:
            _, _, self.method = display_transform(_frame_matrix(frame) or self.fallback)
            self.known = True

    def image(self, frame: Any, t: float) -> Image.Image:
        if self.last is not None and self.last[0] == t:
            return self.last[1]
        w, h = self.out_size.width_px, self.out_size.height_px
        if _swaps(self.method):
            w, h = h, w
        # bgr24 is swscale's fast path to packed RGB here (half rgb24's time, same pixels within
        # rounding); the 4-byte formats are faster still but smear the left edge at some widths.
        bgr = frame.reformat(width=w, height=h, format="bgr24")
        plane = bgr.planes[0]
        im = Image.frombuffer("RGB", (w, h), plane, "raw", "BGR", plane.line_size, 1)
        if self.method is not None:
            im = im.transpose(self.method)
        self.last = (t, im)
        return im
