"""The decode plan: decoding only what the chosen frames need, GOPs in parallel.

- `_plan`: one demux pass (no decoding) over every packet finds the packet SPEC's rule takes for
  each time (`sampling.frame_on_screen` over the packets' presentation times) and, per GOP holding
  one, the packets from its keyframe to its last chosen packet: a `_DecodePlan` of `_Segment`s.
  None for packets that cannot support a plan. Memory: about 100 bytes per packet for the plan's
  tables (some 40 MB for two hours at 60 fps).
- `_planned`: decodes the segments, from their keyframe up to their last chosen packet, with
  FFmpeg's `skip_frame` dropping the non-reference frames in between (codecs where that is exact),
  one single-threaded decoder per core (at most _MAX_DECODERS), each with its own container; yields
  the chosen frames, converted, in order. Costs a decode of the frames the samples depend on;
  memory: a decoder per core and up to _QUEUED_BYTES (128 MB) of converted frames waiting for the
  caller. Stops early when a chosen frame does not come out of the decoder (a damaged stream); the
  caller (`pyav_frames.iter_frames`) then scans for the remaining times.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import itertools
import os
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..errors import UnreadableMedia
from ..media import Media
from ..sampling import frame_on_screen
from .pyav_container import _nonref_is_exact, _s, open_container, video_stream
from .pyav_convert import TakenFrame, _Converter
from .translate import VIDEO_LIBRARY_ERRORS, describe

# Containers whose packets carry presentation timestamps (AVI's are decode order: no plan there).
_PLAN_CONTAINERS = re.compile(r"^(mov|matroska|webm|mpegts|mpeg|flv)")
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
    rel = [_s(p, tb) - origin_s for p in ordered]  # seconds from the first frame, as the samples are
    chosen = tuple(ordered[frame_on_screen(rel, t)] for t in times)  # SPEC §2: the last pts ≤ t
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
