"""The probe stage: a resolved `Source` → `ImageInfo` / `VideoInfo`, or the violation that says why
it cannot be read. Files, bytes and URLs, images and videos, all here.

- A URL is opened once (`remote.connect`: one Range request) and read through the same backends as
  a file, via a `media.OpenedMedia`; the transfer (bytes, requests) and what was read come back in
  `Probed.transfer`.
- Header only unless `verify`: then an image's pixels are proven to decode cheaply (JPEG at 1/8)
  where the pixel guard allows a decode at all (decided here, once), and a video's first frames and
  tail are decoded (the duration that counts; the decodable frame count of a short clip).
- Backends raise `UnreadableImage` / `UnreadableVideo` (translated from Pillow/PyAV at their
  boundary); this stage turns them into `image.unreadable` / `video.*` violations. An `OSError`
  opening a local file is `source.permission_denied`. Nothing else is caught.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from typing import TYPE_CHECKING

from .caps import url_read_cap
from .codes import violation
from .errors import NoVideoStream, UnreadableImage, UnreadableVideo
from .media import Media, OpenedMedia, media_for
from .models import ImageInfo, Kind, Source, Target, Transfer, VideoInfo, Violation
from .rules import Limits
from .sniff import HEAD_BYTES, Sniffed, sniff

if TYPE_CHECKING:
    from .remote import RemoteOptions

# The backends (Pillow, PyAV) and the remote module (httpx) load when first needed: probing an
# image never loads PyAV, probing a file never loads httpx (and `import mediaprep` loads none).


@dataclass(frozen=True, slots=True, kw_only=True)
class Probed:
    """What probing found: the info, or the violation that stops it; for a URL, what reading cost."""

    kind: Kind
    info: ImageInfo | VideoInfo | None = None
    problem: Violation | None = None
    transfer: Transfer | None = None


def sniff_media(media: Media) -> Sniffed:
    """The format the first bytes name. Costs one read of `HEAD_BYTES`. Raises OSError when the
    bytes cannot be read at all."""
    with media.open() as fp:
        return sniff(fp.read(HEAD_BYTES))


def probe_media(media: Media, *, verify: bool, limits: Limits) -> Probed:
    """Sniff, then the image or video header (one open for both); with `verify`, the cheap decode."""
    from .backends import pillow_backend

    try:
        with media.open() as fp:
            head = pillow_backend.read_head(fp)
            sniffed = sniff(head)
            if sniffed.kind != "video":
                try:
                    info = pillow_backend.read_info(media, fp, head)
                except UnreadableImage as exc:
                    return Probed(kind="image", problem=violation("image.unreadable", source=media.label, observed=str(exc) or "unreadable"))
    except OSError as exc:  # e.g. permission denied: the first open is here, not in resolve
        return Probed(kind="unknown", problem=violation("source.permission_denied", source=media.label, observed=f"{type(exc).__name__}: {exc}"))
    if sniffed.kind == "video":
        return probe_video(media, sniffed, verify=verify)
    if verify:
        info = verify_image(media, info, limits)
    return Probed(kind="image", info=info)


def verify_image(media: Media, info: ImageInfo, limits: Limits) -> ImageInfo:
    """The pixel guard, decided once: a picture over `max_decode_pixels` is decoded only where a
    reduced decode exists (JPEG draft, HEIF tiles); others stay `header-only`. A decode that
    succeeds is `decode="verified"`, a failed one `decode="failed"` with the reason."""
    from .backends import pillow_backend

    over = info.stored_size.pixels > limits.max_decode_pixels
    if over and info.reduced_decode is None:
        return info  # never decoded: the guard already rejects it
    try:
        pillow_backend.verify(media, info, reduced=over)
    except UnreadableImage as exc:
        return dataclasses.replace(info, decode="failed", decode_error=str(exc))
    return dataclasses.replace(info, decode="verified")


def probe_video(media: Media, sniffed: Sniffed, *, verify: bool) -> Probed:
    """Header, index and first frame; with `verify`, also the first frames and the tail, which give
    the duration that counts (and, for short clips, the decodable frame count)."""
    from .backends import pyav_backend

    try:
        info = pyav_backend.probe_video(media, sniffed)
    except NoVideoStream as exc:
        return Probed(kind="video", problem=violation("video.no_video_stream", source=media.label, observed=str(exc)))
    except UnreadableVideo as exc:
        return Probed(kind="video", problem=violation("video.unreadable", source=media.label, observed=str(exc)))
    if not verify:
        return Probed(kind="video", info=info)
    checked = pyav_backend.verify_video(media, info)
    if checked.error is not None:
        info = dataclasses.replace(info, decode="failed", decode_error=checked.error, decodable_frames=checked.decodable_frames)
    else:
        info = dataclasses.replace(info, duration_s=checked.duration_s, duration_source="decoded", decodable_frames=checked.decodable_frames, decode="verified")
    return Probed(kind="video", info=info)


def probe_source(source: Source, *, verify: bool, target: Target, remote: RemoteOptions | None = None) -> Probed:
    """Any resolved source. A URL is connected here and closed before returning; an image behind a
    URL is decoded (`verify`) only when its whole body is within `remote.verify_max_bytes`, and
    `Probed.transfer.note` says what was read."""
    if source.kind != "url" or source.remote is not None:
        return probe_media(media_for(source), verify=verify, limits=target.limits)
    from .remote import DEFAULT_REMOTE, connect

    options = remote or DEFAULT_REMOTE
    opened, transfer = connect(source, options=options, cap_bytes=url_read_cap(target))
    if isinstance(opened, Violation):
        return Probed(kind="unknown", problem=opened, transfer=transfer)
    media = OpenedMedia(source.label, opened)
    kind: Kind = "unknown"
    decode = False
    try:
        try:
            sniffed = sniff_media(media)
            kind = sniffed.kind
            decode = verify and not (kind == "image" and opened.size_bytes > options.verify_max_bytes)
            probed = probe_media(media, verify=decode, limits=target.limits)
        except OSError:  # a read failed after opening: opened.failure says why
            probed = Probed(kind=kind)
    finally:
        opened.close()
    note = _read_note(opened, kind=kind, verify=verify, decoded=decode, options=options)
    transfer = dataclasses.replace(opened.transfer, note=note)
    if opened.failure is not None:
        return Probed(kind=probed.kind, problem=opened.failure, transfer=transfer)
    return dataclasses.replace(probed, transfer=transfer)


def _read_note(opened: object, *, kind: str, verify: bool, decoded: bool, options: RemoteOptions) -> str:
    size = int(getattr(opened, "size_bytes", 0))
    whole = "" if getattr(opened, "ranged", True) else f"the server ignores Range, so the whole {size:,}-byte body was read; "
    if not verify:
        return f"{whole}headers only (fast): nothing was decoded"
    if kind == "image" and not decoded:
        return f"{whole}header only: the {size:,}-byte image is over the {options.verify_max_bytes:,}-byte budget for decoding from a URL, so its pixels were not decoded (prepare downloads and decodes it when a fix needs the bytes)"
    if kind == "image":
        return f"{whole}pixels decoded" if whole else f"the whole {size:,}-byte body, pixels decoded"
    return f"{whole}the container index and the frames the video check decodes, not the whole body"
