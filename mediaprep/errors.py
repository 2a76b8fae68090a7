"""The exception tree. Problems with media are data (violations); these are for misuse.

    MediaprepError
     ├── UsageError(ValueError)        bad arguments: an unknown option value, a missing --out
     │    └── TargetError              an impossible target (e.g. file:// with the OpenAI API)
     └── SourceError(OSError)          raised only by calls that must have the bytes (encode)
"""

from __future__ import annotations


class MediaprepError(Exception):
    """Base of every exception mediaprep raises on purpose."""


class UsageError(MediaprepError, ValueError):
    """The call itself is wrong; the message lists what is allowed."""


class TargetError(UsageError):
    """A target that no request could use."""


class SourceError(MediaprepError, OSError):
    """The bytes of an input could not be had where a call cannot report it as a violation."""
