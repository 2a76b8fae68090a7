"""Writing videos with PyAV: remux into MP4 (stream copy) and transcode to an H.264 MP4 that fits a
byte cap. Both write to what the caller gives: an open, seekable binary file (how mediaprep writes,
so FFmpeg never opens a name in `--out` — a planted symlink there is never followed), or a path.
They raise `UnreadableVideo` when FFmpeg cannot read the input or carry its stream, and the
`OSError` of a write to the open file that failed (a full disk: not the video's fault).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import av

from ..errors import UnreadableVideo
from ..media import Media
from ..models import VideoInfo
from ..rules import TUNING, Tuning
from .pyav_container import open_container, video_stream
from .translate import video_errors

_REMUX_AUDIO = ("aac", "mp3")  # audio codecs an MP4 carries that every player reads

Dest = Path | IO[bytes]


class _Sink:
    """What PyAV writes an MP4 through: the caller's open file, remembering the `OSError` a write or
    seek raised (a full disk), which PyAV would otherwise report as its own callback error."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.file.write(data)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        try:
            return self.file.seek(offset, whence)
        except OSError as exc:
            self.error = self.error or exc
            raise

    def tell(self) -> int:
        return self.file.tell()

    def flush(self) -> None:
        self.file.flush()


@contextmanager
def _mp4_out(dest: Dest) -> Iterator[Any]:
    """An MP4 muxer writing to `dest` — an open file (PyAV writes through it; MP4 needs it seekable
    to write its index at the end) or a path FFmpeg opens itself — inside `video_errors`. A write
    that failed (a full disk) raises its `OSError`, never `UnreadableVideo`: it is not the video's
    fault."""
    sink = None if isinstance(dest, (str, os.PathLike)) else _Sink(dest)
    try:
        with video_errors(), av.open(os.fspath(dest) if sink is None else sink, mode="w", format="mp4") as out:
            yield out
    except UnreadableVideo:
        if sink is not None and sink.error is not None:
            raise sink.error from None
        raise


def _size(dest: Dest) -> int:
    if isinstance(dest, (str, os.PathLike)):
        return os.path.getsize(dest)
    dest.flush()
    return os.fstat(dest.fileno()).st_size


def remux_mp4(media: Media, dest: Dest) -> None:
    """Copy the video stream (and AAC/MP3 audio) into an MP4 without re-encoding. Costs one read of
    the file."""
    with _mp4_out(dest) as out, open_container(media) as src:
        vin = video_stream(src)
        vout = out.add_stream_from_template(vin)
        streams = {vin.index: vout}
        for a in src.streams.audio[:1]:
            if a.codec_context.name in _REMUX_AUDIO:
                streams[a.index] = out.add_stream_from_template(a)
        for packet in src.demux(*[s for s in src.streams if s.index in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)


def transcode_size(info: VideoInfo, *, max_bytes: int, max_side_px: int | None = None, tuning: Tuning = TUNING) -> tuple[int, int, int]:
    """(width, height, bit rate) of the transcode: the cap's bit rate, and the stored size scaled
    down until that rate leaves `transcode_min_bits_per_pixel`; even sides. Pure."""
    duration = max(info.duration_s, 0.1)
    bitrate = int(max_bytes * 8 * tuning.transcode_bitrate_headroom / duration)
    w, h = info.stored_width_px, info.stored_height_px
    fps = info.fps or tuning.transcode_default_fps
    scale = 1.0
    if max_side_px is not None:
        scale = min(scale, max_side_px / max(w, h))
    while scale > 0.1 and bitrate / (w * scale * h * scale * fps) < tuning.transcode_min_bits_per_pixel:
        scale *= tuning.transcode_shrink_step
    return max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2), bitrate


def transcode_mp4(media: Media, info: VideoInfo, dest: Dest, *, max_bytes: int, max_side_px: int | None = None, tuning: Tuning = TUNING) -> dict[str, Any]:
    """Re-encode to H.264 (yuv420p, libx264 at the tuning's preset and CRF) in MP4, its bit rate
    capped so the file fits `max_bytes` (`transcode_size`); audio dropped; the display matrix kept.
    Costs one decode and one encode of every frame."""
    ow, oh, bitrate = transcode_size(info, max_bytes=max_bytes, max_side_px=max_side_px, tuning=tuning)
    fps = info.fps or tuning.transcode_default_fps
    with _mp4_out(dest) as out, open_container(media) as src:
        vin = video_stream(src)
        vin.thread_type = "AUTO"
        rate = Fraction(fps).limit_denominator(1001)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = ow, oh, "yuv420p"
        # quality first (CRF), with the cap's bitrate as a ceiling (VBV): a small video stays small
        ceiling = max(bitrate, tuning.transcode_min_bitrate)
        vout.options = {"preset": tuning.transcode_preset, "crf": str(tuning.transcode_crf), "maxrate": str(ceiling), "bufsize": str(ceiling * 2)}
        vout.time_base = Fraction(1, 90000)
        if info.rotation_deg or info.mirrored:
            vout.set_display_rotation(info.rotation_deg, hflip=info.mirrored)
        tb = vin.time_base
        origin = info.start_s
        last = -1
        for frame in src.decode(vin):
            if frame.pts is None:
                continue
            pts = int(round((float(frame.pts * tb) - origin) * 90000))
            if pts <= last:
                continue
            last = pts
            new = frame.reformat(width=ow, height=oh, format="yuv420p")
            new.pts, new.time_base = pts, Fraction(1, 90000)
            for packet in vout.encode(new):
                out.mux(packet)
        for packet in vout.encode(None):
            out.mux(packet)
    return {"width_px": ow, "height_px": oh, "bit_rate": bitrate, "size_bytes": _size(dest)}
