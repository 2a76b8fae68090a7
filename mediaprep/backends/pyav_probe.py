"""Probing and verifying a video with PyAV: what it is, how long it runs, whether it decodes.

- `probe_video`: container header + stream parameters + the first decoded frame (for its display
  matrix); the duration is cross-checked against the index or a packet pass where the header is
  missing, disagrees or is implausible. Costs the header parse, one decoded frame and, for MP4/MOV,
  nothing more (the sample table is parsed already); elsewhere, or where the header's duration is
  implausible, one demux pass over every packet (no decoding).
- `verify_video`: decodes the first frames and the tail (a seek near the end: one GOP of decoding
  where the MP4 index says where the last keyframe is), which also measures the true duration;
  clips under a few seconds are decoded whole, counting their decodable frames. Never raises: what
  does not decode is in `Verified.error`.
- `_index_span` / `_packet_span`: the span, packet count and keyframe times of the video stream,
  from the MP4/MOV index (free) or one demux pass; the scan (`pyav_frames`) uses them for its
  keyframe jumps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from ..errors import UnreadableVideo
from ..media import Media
from ..models import VideoInfo
from ..rules import VIDEO_MIME
from ..sniff import Sniffed
from .pyav_container import _frame_matrix, _htc_matrix, _nonref_is_exact, _s, _seconds, _swaps, display_transform, open_container, video_stream
from .translate import VIDEO_LIBRARY_ERRORS, video_errors

# Implausibly low bitrates mean the header's duration is not the file's (truncated, fragmented).
_MIN_PLAUSIBLE_BITS_PER_S = 2_000
_SHORT_CLIP_S = 4.0  # clips up to this long are decoded whole by verify_video
_WEBM_VIDEO_CODECS = frozenset({"vp8", "vp9"})
_WEBM_AUDIO_CODECS = frozenset({"vorbis", "opus"})
_MAX_REORDER = 16  # H.264/HEVC: at most 16 frames wait for display (max_num_reorder_frames)


@dataclass(frozen=True, slots=True)
class _Span:
    first_s: float
    end_s: float
    frames: int
    keyframes_s: tuple[float, ...]


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
        w, h = cc.width, cc.height
        try:
            container.seek(0)
            for frame in container.decode(stream):
                matrix = _frame_matrix(frame)
                pix_fmt = frame.format.name
                first_pts = frame.time
                if w <= 0 or h <= 0:  # the parameters named no size; the decoded frame does
                    w, h = frame.width, frame.height
                break
        except av.FFmpegError:  # type: ignore[attr-defined]
            pass  # verify_video reports what does not decode
        if w <= 0 or h <= 0:
            raise UnreadableVideo(f"the {cc.name} stream declares no picture size ({w}×{h}) and no frame decodes to tell it")
        rotation, mirrored, method = display_transform(matrix or _htc_matrix(stream))
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
