"""The closed vocabulary of violation codes: severity, message template, and the fixes that cure each.

A violation is made only through `violation()`, so every message is filled from its template with
the observed value and the limit. `tests/test_codes.py` proves the set, the templates and the
README's table agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .models import Severity, Violation


@dataclass(frozen=True, slots=True)
class CodeSpec:
    severity: Severity
    template: str  # str.format fields: source, field, observed, limit, plus per-code extras
    fixes: tuple[str, ...]  # ops that can cure it; empty: rejected
    summary: str  # one line for the README table
    defaults: Mapping[str, str] = field(default_factory=dict)  # template fields a caller may leave out


CODES: dict[str, CodeSpec] = {
    # images
    "image.unreadable": CodeSpec(
        "error",
        "{source}: {observed}; the pixels cannot be read, so nothing can be sent; re-export the file",
        (),
        "the bytes are not an image any decoder here can read, or its pixels do not decode (truncated, corrupt)",
    ),
    "image.too_small": CodeSpec(
        "error",
        "{source}: {field} {observed} px is not more than {limit} px; {remedy}",
        ("pad",),
        "a side is 10 px or less; fixed by padding to 11 px",
    ),
    "image.aspect_ratio": CodeSpec(
        "error",
        "{source}: aspect ratio {observed}:1 is more than {limit}:1; {remedy}",
        ("pad", "split"),
        "long side / short side is over 200; fixed by padding the short side, or splitting into tiles",
    ),
    "image.format_unsupported": CodeSpec(
        "error",
        "{source}: {observed} is not an accepted encoding (accepted: {limit}); convert to {to} (prepare does this)",
        ("convert",),
        "the format (GIF, AVIF, JPEG 2000, …) or the encoding inside an accepted one (CMYK, Lab, float, BigTIFF, …) is not accepted; converted to PNG or JPEG",
    ),
    "image.format_above_4k": CodeSpec(
        "error",
        "{source}: {observed} at {size} is not below 4K ({box4k}), where only {limit} are accepted; convert to {to} (prepare does this)",
        ("convert",),
        "between 4K and 8K only JPEG and PNG are accepted; converted",
    ),
    "image.above_8k": CodeSpec(
        "warning",
        "{source}: {observed} does not fit the recommended 8K box {limit}; the service may time out; prepare downscales it to fit unless told to keep it",
        ("downscale",),
        "larger than 7680×4320 (recommended maximum); downscaled unless the policy keeps it",
    ),
    "image.too_large": CodeSpec(
        "error",
        "{source}: {field} is {observed} bytes, more than the {limit}-byte cap for the {transport} transport; {remedy}",
        ("compress",),
        "the file (URL/path) or the whole data URL (base64) is over 10 MiB; compressed to fit",
        {"remedy": "compress (prepare does this) or send it another way"},
    ),
    "image.animated": CodeSpec(
        "warning",
        "{source}: animated, {observed} frames; the service will most likely read one frame; prepare keeps the first frame",
        ("first-frame",),
        "an animation (APNG, animated WebP, GIF, AVIF sequence); reduced to its first frame",
    ),
    "image.orientation": CodeSpec(
        "warning",
        "{source}: orientation {observed} ({how}) is stored in {field}; the service may ignore it and see the picture {seen}; prepare bakes it into the pixels",
        ("orient",),
        "an EXIF/XMP/PNG-text orientation tag; baked into the pixels of every output",
    ),
    "image.too_many_pixels": CodeSpec(
        "error",
        "{source}: the header declares {observed} pixels ({size}), more than the {limit}-pixel decode guard; {remedy}",
        ("downscale",),
        "the header declares more pixels than may be decoded (bomb guard); fixable only where the format decodes reduced",
    ),
    # videos (checked by the video stages)
    "video.unreadable": CodeSpec("error", "{source}: {observed}; the video cannot be read", (), "the container or stream cannot be read or decoded"),
    "video.no_video_stream": CodeSpec("error", "{source}: no video stream ({observed})", (), "the file holds no video stream"),
    "video.too_short": CodeSpec("error", "{source}: {observed} s is shorter than {limit} s; {remedy}", ("frames",), "shorter than 2 s; sent as an image list when ≥ 4 frames exist"),
    "video.too_long": CodeSpec("error", "{source}: {observed} s is longer than {limit} s; send it as an image list", ("frames",), "longer than 1 h; sent as an image list"),
    "video.too_large": CodeSpec("error", "{source}: {field} is {observed} bytes, over the {limit}-byte cap for the {transport} transport", ("transcode", "frames"), "over the transport's byte cap; transcoded or sent as an image list"),
    "video.container_unlisted": CodeSpec("error", "{source}: container {observed} is not listed (listed: {limit}); remux or transcode to MP4", ("remux", "transcode"), "WebM, MPEG-TS, 3GP, …; remuxed or transcoded to MP4"),
    "video.resolution_above_2k": CodeSpec("warning", "{source}: {observed} is above the recommended {limit}; it only costs time", (), "above 2560×1440 (recommended)"),
    # image lists and sampling
    "frames.too_few": CodeSpec("error", "{source}: {observed} frames is fewer than {limit}; {remedy}", (), "an image list needs at least 4 frames"),
    "frames.too_many": CodeSpec("error", "{source}: {observed} frames is more than {limit}", (), "an image list takes at most 2000 frames"),
    "frames.fps_out_of_range": CodeSpec("error", "{source}: fps {observed} is outside {limit}", (), "fps must lie in [0.1, 10]"),
    "frames.max_frames_out_of_range": CodeSpec("error", "{source}: max_frames {observed} is outside {limit}", (), "max_frames must lie in [1, 2000]"),
    "frames.max_frames_ignored": CodeSpec(
        "warning",
        "{source}: max_frames {observed} is a DashScope field; the OpenAI-compatible API drops it and the service samples up to its default {limit} frames, so the estimate and the token budget count those (lower fps, or send an image list, to send fewer)",
        (),
        "max_frames given with the OpenAI-compatible API, which does not take it: the service's default (2000) is what counts",
    ),
    # remote
    "remote.private_address": CodeSpec(
        "error",
        "{source}: {observed}, an address the service can never fetch from; nothing was sent there; use a public URL, or vouch for the host (--allow-private) if it is yours",
        (),
        "the host (or a redirect's host) resolves to a private, loopback, link-local, multicast or reserved address; refused before connecting",
    ),
    "remote.unreachable": CodeSpec(
        "error",
        "{source}: {observed}; check the URL and that the server is up",
        (),
        "the host does not resolve or refuses the connection, the connection broke off, or the answer was inconsistent (Content-Length, Content-Range)",
    ),
    "remote.timeout": CodeSpec(
        "error",
        "{source}: {observed}; the service may give up on it too; retry later, or raise --timeout",
        (),
        "no complete answer within the connect/read timeout or the total deadline per URL",
    ),
    "remote.http_status": CodeSpec(
        "error",
        "{source}: the server answered HTTP {observed} ({reason}){detail}",
        (),
        "the server answered with an error status (4xx at once; 408, 429 and 5xx after retries)",
    ),
    "remote.too_large": CodeSpec(
        "error",
        "{source}: the body is {how} {observed} bytes, over the {limit}-byte cap on what a URL may carry; nothing more was read",
        (),
        "the body is over the largest URL-transport cap (from its headers, or while streaming)",
    ),
    "remote.not_media": CodeSpec(
        "error",
        "{source}: the server sent {observed}, not an image or a video; the URL probably points at a web page or an error page, use the direct link to the file",
        (),
        "the URL serves a page, JSON or text, not media (decided by the bytes)",
    ),
    "remote.too_many_redirects": CodeSpec(
        "error",
        "{source}: more than {limit} redirects ({observed})",
        (),
        "the redirect chain is longer than 5 hops or loops",
    ),
    # requests
    "request.model_retired": CodeSpec("error", "model {observed} was retired on {limit}; use {replacements}", (), "the model is retired; the message names replacements"),
    "request.model_text_only": CodeSpec("error", "model {observed} takes text only; media needs {limit}", (), "media sent to a text-only model"),
    "request.thinking_always_on": CodeSpec("error", "model {observed} always thinks; enable_thinking=false is refused", (), "enable_thinking=false for kimi-k2.7-code"),
    "request.thinking_unsupported": CodeSpec("error", "model {observed} has no thinking mode; enable_thinking=true is refused (leave it unset)", (), "enable_thinking=true for a model without thinking (Moonshot-Kimi-K2-Instruct)"),
    "request.malformed": CodeSpec(
        "error",
        "{source}: not a request the service can read: {observed}",
        (),
        "preflight: a body or batch line that is not a request (bad JSON, no body, no messages, no or an unknown model)",
    ),
    "request.file_path_over_http": CodeSpec(
        "error",
        "{source}: {observed} is a file:// path, which only the DashScope Python and Java SDKs read; over HTTP send it as base64 or a URL (--transport base64|url), or use the SDK form of the request",
        (),
        "a local file:// part in a request meant for HTTP (file paths work only through the DashScope Python/Java SDKs)",
    ),
    "request.over_token_limit": CodeSpec("error", "{source}: about {observed} tokens (an estimate) is over the {limit}-token budget", (), "the media cannot fit the model's input even at the smallest plan"),
    # sources
    "source.not_found": CodeSpec("error", "{source}: no such file", (), "the path does not exist"),
    "source.not_a_file": CodeSpec("error", "{source}: {observed}, not a regular file", (), "a folder, socket, device or other non-regular file"),
    "source.permission_denied": CodeSpec("error", "{source}: cannot be read ({observed})", (), "the file exists but cannot be read"),
    "source.crashed": CodeSpec("error", "{source}: {observed}; every other input goes on", (), "the worker processing it died (a decoder crash); the batch goes on"),
    "source.timeout": CodeSpec("error", "{source}: {observed} (--item-timeout {limit} s); the worker was replaced", (), "no result within --item-timeout; the worker was killed and replaced"),
}


def violation(
    code: str,
    *,
    source: str,
    field: str | None = None,
    observed: Any = None,
    limit: Any = None,
    fix: str | None = None,
    **extra: Any,
) -> Violation:
    """Build a violation of `code`, its message filled from the template. Unknown codes are a bug."""
    spec = CODES[code]
    if fix is not None and fix not in spec.fixes:
        raise AssertionError(f"{code}: fix {fix!r} is not one of {spec.fixes}")
    message = spec.template.format(**{**spec.defaults, **extra, "source": source, "field": field, "observed": observed, "limit": limit})
    return Violation(
        code=code,
        severity=spec.severity,
        message=message,
        field=field,
        observed=observed,
        limit=limit,
        fix=fix,
    )
