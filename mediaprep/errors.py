"""The exception tree. Problems with media are data (violations); exceptions are for misuse, for
calls that cannot report a problem as data, and for backends telling the probe stage what they saw.

    MediaprepError
     ├── UsageError(ValueError)        bad arguments: an unknown option value, a missing --out
     │    └── TargetError              an impossible target (e.g. file:// with the OpenAI API)
     ├── ProbeError(ValueError)        `probe` could not read the input; `.violation` says why
     ├── SourceError(OSError)          the bytes of an input could not be had where a call must have
     │    └── remote.RemoteReadError   them (encode; a Range read after the URL was opened)
     └── UnreadableMedia(ValueError)   raised by a backend: the bytes do not decode as what they claim;
          ├── UnreadableImage          translated from Pillow / pillow-heif / PyAV errors at the
          └── UnreadableVideo          backend boundary (`backends/translate.py`), turned into
               └── NoVideoStream       `image.unreadable` / `video.*` violations by the probe stage

Nothing else is caught as a verdict on a file: any other exception is a bug and propagates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Violation


class MediaprepError(Exception):
    """Base of every exception mediaprep raises on purpose."""


class UsageError(MediaprepError, ValueError):
    """The call itself is wrong; the message lists what is allowed."""


class TargetError(UsageError):
    """A target that no request could use."""


class SourceError(MediaprepError, OSError):
    """The bytes of an input could not be had where a call cannot report it as a violation."""


class ProbeError(MediaprepError, ValueError):
    """`probe` could not read the input; `.violation` says why, as `check` would report it."""

    def __init__(self, v: Violation) -> None:
        super().__init__(v.message)
        self.violation = v


class UnreadableMedia(MediaprepError, ValueError):
    """A backend could not read the bytes as the media they claim to be; the message says why."""


class UnreadableImage(UnreadableMedia):
    """The bytes are not an image the image backend can open or decode."""


class UnreadableVideo(UnreadableMedia):
    """The bytes are not a video the video backend can open or decode."""


class NoVideoStream(UnreadableVideo):
    """The container holds no video stream; the message lists what it holds."""
