"""PyAV (FFmpeg's libraries): the public entry points of the video backend, re-exported from the
modules that do the work:

- `pyav_container`: opening a container (`open_container`), picking its video stream
  (`video_stream`), the display matrix (`display_transform`) and time-base arithmetic;
- `pyav_probe`: `probe_video` (header, index or one packet pass, first frame) and `verify_video`
  (first frames and the tail decoded; `Verified`);
- `pyav_decode_plan`: the demux-pass decode plan and the GOP-parallel segment decoders;
- `pyav_frames`: `iter_frames`, the frames on screen at given times (the decode plan, else a scan;
  `TakenFrame`, converted by `pyav_convert`).

Private helpers live in those modules; reach them (and patch them, in tests) there.
"""

from __future__ import annotations

from .pyav_container import display_transform, open_container, video_stream
from .pyav_convert import TakenFrame
from .pyav_frames import iter_frames
from .pyav_probe import Verified, probe_video, verify_video

__all__ = ["TakenFrame", "Verified", "display_transform", "iter_frames", "open_container", "probe_video", "verify_video", "video_stream"]
