"""Every size, budget and policy of the HTML report, in one place (re-exported by `mediaprep.report`)."""

from __future__ import annotations

# Previews (`previews`)
THUMB_PX = 160  # the long side of an image thumbnail, and of each frame of a contact sheet
SHEET_FRAMES = 6
SHEET_FRAME_HEIGHT_PX = 90
SHEET_BUDGET_S = 5.0  # stop sampling a video's frames after this long; the sheet keeps what it has
THUMB_MAX_DECODE_PIXELS = 50_000_000  # never decode more than this for a preview (JPEG: after draft)
THUMB_JPEG_QUALITY = 70
# An input whose line says it crashed or hung a worker, or could not be decoded, is not decoded
# again for a preview: in this process a crash would take the whole report with it.
NO_INPUT_PREVIEW = frozenset({"source.crashed", "source.timeout", "image.unreadable", "video.unreadable", "video.no_video_stream", "image.too_many_pixels"})

# The page (`render`)
CARDS_BELOW_PX = 700  # narrower viewports (phones) show each row as a card
MIN_SHOWN_PX = 48  # thumbnails smaller than this are displayed enlarged (pixelated)
MAX_LISTED_OUTPUTS = 8  # an image list of 2,000 frames lists its first few and a count
STATUS_ORDER = ("ok", "fixable", "ready", "rejected")  # known statuses, in pipeline order
