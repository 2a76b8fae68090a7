"""Writing videos with PyAV: remux into MP4 (stream copy) and transcode to an H.264 MP4 that fits a
byte cap. Both write to a path the caller chose (a temporary name it renames afterwards) and raise
`UnreadableVideo` when FFmpeg cannot read the input or carry its stream.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..media import Media
from ..models import VideoInfo
from ..rules import TUNING, Tuning
from .pyav_container import open_container, video_stream
from .translate import video_errors

_REMUX_AUDIO = ("aac", "mp3")  # audio codecs an MP4 carries that every player reads


def remux_mp4(media: Media, dest: Path) -> None:
    """Copy the video stream (and AAC/MP3 audio) into an MP4 without re-encoding. Costs one read of
    the file."""
    with open_container(media) as src, video_errors(), av.open(str(dest), mode="w", format="mp4") as out:
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


def transcode_mp4(media: Media, info: VideoInfo, dest: Path, *, max_bytes: int, max_side_px: int | None = None, tuning: Tuning = TUNING) -> dict[str, Any]:
    """Re-encode to H.264 (yuv420p, libx264 at the tuning's preset and CRF) in MP4, its bit rate
    capped so the file fits `max_bytes` (`transcode_size`); audio dropped; the display matrix kept.
    Costs one decode and one encode of every frame."""
    ow, oh, bitrate = transcode_size(info, max_bytes=max_bytes, max_side_px=max_side_px, tuning=tuning)
    fps = info.fps or tuning.transcode_default_fps
    with open_container(media) as src, video_errors(), av.open(str(dest), mode="w", format="mp4") as out:
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
    return {"width_px": ow, "height_px": oh, "bit_rate": bitrate, "size_bytes": os.path.getsize(dest)}
