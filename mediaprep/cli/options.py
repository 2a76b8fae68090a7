"""The argument parser, and turning parsed arguments into the library's values (Target, Policy,
RemoteOptions, limits, the token budget, the list of inputs). Every default comes from `rules`
(`DEFAULT_LIMITS`, `TUNING`) or from the library's own dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TextIO

from .._version import __version__
from ..errors import UsageError
from ..models import Policy, Target
from ..remote import RemoteOptions
from ..resolve import expand_inputs
from ..rules import APIS, DEFAULT_LIMITS, DEFAULT_MODEL, DEFAULT_REGION, MODELS, REGIONS, TRANSPORTS, TUNING, Limits

PATH_STYLES = ("posix", "windows-python", "windows-java")
ITEM_TIMEOUT_S = 900.0  # the batch engines' per-input deadline (not a service rule: not in `rules`)

# --help sections, in this order; a command shows only those it has options in.
GROUPS = ("target", "fixing images", "videos", "frames", "token budget", "URLs", "request", "batch", "output")
Groups = dict[str, "argparse._ArgumentGroup"]


def _groups(p: argparse.ArgumentParser) -> Groups:
    return {title: p.add_argument_group(title) for title in GROUPS}


def _parser(*, extra: Sequence[Callable[[Any], object]] = ()) -> argparse.ArgumentParser:
    """The whole command line. `extra`: commands that register themselves on the subparsers
    (`preflight.add_parser`), so this module never imports the commands that use it."""
    parser = argparse.ArgumentParser(prog="mediaprep", description="Pre-flight images and videos for Kimi vision models on Model Studio: check them, fix what can be fixed, and emit content parts and requests.")
    parser.add_argument("--version", action="version", version=f"mediaprep {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{probe,check,prepare,frames,preflight}")

    # Options are added in the same order as ever (the usage line lists them in that order); each
    # goes into its --help section.
    p = sub.add_parser("probe", help="what each file is (header only)")
    _common_options(p, _groups(p))

    c = sub.add_parser("check", help="will each input be accepted")
    g = _groups(c)
    _common_options(c, g)
    _policy_options(g)
    c.add_argument("--fast", action="store_true", help="read headers only; do not prove the pixels decode")
    _batch_options(g)

    r = sub.add_parser("prepare", help="fix what can be fixed into --out and emit content parts")
    g = _groups(r)
    _common_options(r, g)
    _policy_options(g)
    g["output"].add_argument("--out", required=True, type=Path, help="folder for fixed files and manifest.jsonl (inputs are never touched)")
    g["output"].add_argument("--url-prefix", default=None, help="with --transport url: the URL the --out folder will be uploaded to")
    req = g["request"]
    req.add_argument("--prompt", default=None, help="the text that follows the media in --request-out / --batch-out")
    req.add_argument("--request-out", type=Path, default=None, metavar="FILE", help="write {url, body}: one request with every ready input as a part, in input order, then --prompt")
    req.add_argument("--batch-out", type=Path, default=None, metavar="FILE", help="write one request per ready input in the OpenAI batch-file format (custom_id, method, url, body)")
    req.add_argument("--region", default=DEFAULT_REGION, choices=sorted(REGIONS), help=f"Model Studio region for the request URL (default {DEFAULT_REGION})")
    req.add_argument("--workspace-id", default=None, help="your workspace id, filled into the regional URL where it needs one (default: the environment variable DASHSCOPE_WORKSPACE_ID; without either the URL keeps {WorkspaceId} and a note says so)")
    req.add_argument("--enable-thinking", choices=("true", "false"), default=None, help="thinking mode in the request (default: the model's)")
    req.add_argument("--stream", action="store_true", help="--request-out asks for a streamed answer (OpenAI: stream + stream_options.include_usage; DashScope: SSE headers, result_format message, incremental_output)")
    req.add_argument("--request-form", choices=("http", "openai", "dashscope-sdk"), default="http", help="what --request-out writes: http {url, body} (default); openai {base_url, kwargs} for client.chat.completions.create(**kwargs); dashscope-sdk {base_url, kwargs} for MultiModalConversation.call(**kwargs), where file:// parts are allowed")
    g["batch"].add_argument("--resume", action="store_true", help="skip inputs whose manifest line is complete and whose file is unchanged (path, size, mtime)")
    g["batch"].add_argument("--verify-inputs", action="store_true", help="with --resume: also compare SHA-256 hashes of the inputs")
    _batch_options(g)

    f = sub.add_parser("frames", help="sample a video into JPEG frames and an image-list content part")
    g = _groups(f)
    f.add_argument("video", metavar="VIDEO", help="a video file (or file:// / data: URL)")
    g["output"].add_argument("--out", required=True, type=Path, help="folder for the frames (frame_00000.jpg, ...)")
    lim = DEFAULT_LIMITS
    g["frames"].add_argument("--fps", type=float, default=lim.fps_default, help=f"samples per second, {lim.fps_min:g}–{lim.fps_max:g} (default {lim.fps_default:g})")
    g["frames"].add_argument("--max-frames", type=int, default=lim.max_frames_default, help=f"cap on the frame count, 1–{lim.max_frames_limit} (default {lim.max_frames_default})")
    g["frames"].add_argument("--max-side", type=int, default=None, metavar="PX", help="long side of the frames (default: the size the model uses; never upscaled)")
    _target_options(g["target"], transport_default="base64", transport_help="how the frames travel (default base64)")
    g["output"].add_argument("--url-prefix", default=None, help="with --transport url: the URL the --out folder will be uploaded to")
    g["output"].add_argument("--contact-sheet", type=Path, default=None, metavar="FILE", help="also write one JPEG grid of the frames, labelled with their times")
    g["output"].add_argument("--json", action="store_true", help="print one JSON object: fps, frames, part, violations")
    _budget_options(g["token budget"], what="the frames", reserve_when="")
    _limit_options(g["target"], hidden=True)
    for register in extra:
        register(sub)
    return parser


def _target_options(g: argparse._ArgumentGroup, *, transport_default: str | None, transport_help: str) -> None:
    g.add_argument("--model", default=DEFAULT_MODEL, help=f"target model (default {DEFAULT_MODEL}; known: {', '.join(MODELS)})")
    g.add_argument("--api", choices=APIS, default="openai", help="API dialect (default openai)")
    g.add_argument("--transport", choices=TRANSPORTS, default=transport_default, help=transport_help)
    g.add_argument("--path-style", choices=PATH_STYLES, default="posix", help="file:// form for --transport path")


def _limit_options(g: argparse._ArgumentGroup, *, hidden: bool = False) -> None:
    g.add_argument("--max-pixels", type=int, default=None, help=argparse.SUPPRESS if hidden else f"decode guard in pixels (default {DEFAULT_LIMITS.max_decode_pixels})")
    g.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE", help=argparse.SUPPRESS if hidden else "override any rule number, e.g. --limit image_max_file_bytes=5000000")


def _budget_options(g: argparse._ArgumentGroup, *, what: str, reserve_when: str) -> None:
    g.add_argument("--token-budget", default="auto", metavar="N|auto|none", help=f"tokens {what} may take (default auto: the model's max input minus --token-reserve)")
    g.add_argument("--token-reserve", type=int, default=TUNING.token_reserve, metavar="N", help=f"tokens kept for the prompt and the answer{reserve_when} (default {TUNING.token_reserve})")


def _common_options(p: argparse.ArgumentParser, g: Groups) -> None:
    """probe, check and prepare: the inputs, the target, video sampling, URLs."""
    remote = RemoteOptions()
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders (walked recursively), http(s), file:// or data: URLs; '-' reads inputs from stdin, one per line")
    g["output"].add_argument("--json", action="store_true", help="one JSON object per input per line on stdout")
    _target_options(g["target"], transport_default=None, transport_help="how media travels (default base64 for files, url for http(s) URLs)")
    g["videos"].add_argument("--fps", type=float, default=DEFAULT_LIMITS.fps_default, help=f"frames per second for videos (default {DEFAULT_LIMITS.fps_default:g})")
    g["videos"].add_argument("--max-frames", type=int, default=DEFAULT_LIMITS.max_frames_default, help=f"frame cap for videos (default {DEFAULT_LIMITS.max_frames_default})")
    _limit_options(g["target"])
    u = g["URLs"]
    u.add_argument("--allow-private", action="store_true", help="fetch URLs whose host is on a private, loopback or link-local address (refused by default: the service cannot reach them)")
    u.add_argument("--allow-private-host", action="append", default=[], metavar="HOST", help="vouch for one host name, address or network (CIDR) only; repeatable")
    u.add_argument("--timeout", type=float, default=remote.deadline_s, metavar="SECONDS", help=f"total deadline per URL (default {remote.deadline_s:g})")
    u.add_argument("--connect-timeout", type=float, default=remote.connect_timeout_s, metavar="SECONDS", help=f"connect timeout per request to a URL (default {remote.connect_timeout_s:g})")


def _policy_options(g: Groups) -> None:
    """check and prepare: how inputs are fixed (check judges by the same choices)."""
    lim = DEFAULT_LIMITS
    fix = g["fixing images"]
    fix.add_argument("--too-small", choices=("pad", "reject"), default="pad", help=f"images with a side ≤ {lim.image_min_side_exclusive_px} px (default pad)")
    fix.add_argument("--aspect-ratio", choices=("pad", "split", "reject"), default="pad", help=f"images over {lim.image_max_aspect_ratio:g}:1 (default pad)")
    fix.add_argument("--above-8k", choices=("downscale", "keep"), default="downscale", help=f"images above {lim.image_box_8k.long_px}×{lim.image_box_8k.short_px} (default downscale)")
    fix.add_argument("--animated", choices=("first-frame", "keep", "frames"), default="first-frame", help="animations: first-frame (default), keep, or frames (an image list with the real frame timing)")
    fix.add_argument("--keep-orientation", action="store_true", help="do not bake orientation tags into pixels")
    fix.add_argument("--max-side", type=int, default=None, metavar="PX", help="also downscale so the long side is at most PX")
    fix.add_argument("--format", choices=("auto", "jpeg", "png"), default="auto", help="output format for rewritten images (default auto: by content)")
    fix.add_argument("--quality", type=int, default=TUNING.jpeg_quality, help=f"JPEG quality to start from (default {TUNING.jpeg_quality})")
    g["videos"].add_argument("--video-as", choices=("auto", "file", "frames"), default="auto", help="videos: auto (the file when it can be sent, else an image list), file, or frames")
    g["videos"].add_argument("--frame-side", type=int, default=None, metavar="PX", help="image-list frames: long side in px (default: the size the model uses)")
    _budget_options(g["token budget"], what="one input's media", reserve_when=" under --token-budget auto")


def _batch_options(g: Groups) -> None:
    """check and prepare: how many inputs run at once, and where."""
    b = g["batch"]
    b.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: the core count; 0 runs in this process)")
    b.add_argument("--item-timeout", type=float, default=ITEM_TIMEOUT_S, metavar="SECONDS", help=f"an input with no result after this long is reported as source.timeout and its worker replaced (default {ITEM_TIMEOUT_S:g})")
    b.add_argument("--progress", choices=("auto", "always", "never"), default="auto", help="progress line on stderr (default: when stderr is a terminal)")
    b.add_argument("--engine", choices=("local", "ray"), default="local", help="local process pool (default) or Ray Data (the ray extra)")
    b.add_argument("--ray-address", default=None, metavar="ADDR", help="with --engine ray: the cluster to use (RAY_ADDRESS is honoured too; 'auto' finds a `ray start` cluster; default: a local Ray this process starts)")
    g["output"].add_argument("--report", type=Path, default=None, metavar="FILE", help="also write one self-contained HTML report: a row per input with a thumbnail, filterable by status")


def _limits(args: argparse.Namespace) -> Limits:
    changes: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(Limits)}
    for item in args.limit:
        name, sep, value = item.partition("=")
        if not sep or name not in fields or not isinstance(getattr(Limits(), name), (int, float)):
            numeric = sorted(n for n in fields if isinstance(getattr(Limits(), n), (int, float)))
            raise UsageError(f"--limit {item!r}: expected NAME=VALUE with NAME one of {', '.join(numeric)}")
        kind = type(getattr(Limits(), name))
        try:
            changes[name] = kind(float(value)) if kind is int else kind(value)
        except (ValueError, OverflowError):  # int(float("inf")) overflows
            raise UsageError(f"--limit {item!r}: {value!r} is not a number") from None
    if args.max_pixels is not None:
        changes["max_decode_pixels"] = args.max_pixels
    return dataclasses.replace(Limits(), **changes)


def _target(args: argparse.Namespace) -> Target:
    """The target of every command; a usage error for an unknown --model. The transport is base64
    until `jobs.target_for` picks url for an http(s) input (when --transport was not given)."""
    if args.model not in MODELS and not args.model.startswith("kimi/"):
        known = ", ".join(MODELS)
        raise UsageError(f"--model {args.model!r} is not a known model ({known})")
    return Target(model=args.model.removeprefix("kimi/"), api=args.api, transport=args.transport or "base64", limits=_limits(args), path_style=args.path_style)


def _remote(args: argparse.Namespace) -> RemoteOptions:
    return RemoteOptions(
        allow_private=args.allow_private,
        private_hosts=tuple(args.allow_private_host),
        deadline_s=args.timeout,
        connect_timeout_s=min(args.connect_timeout, args.timeout),
        read_timeout_s=min(RemoteOptions().read_timeout_s, args.timeout),
    )


def check_item_timeout(seconds: float) -> None:
    if seconds <= 0:
        raise UsageError(f"--item-timeout {seconds:g} must be more than 0 s")


def _check_max_side(max_side: int | None) -> None:
    floor = DEFAULT_LIMITS.image_min_side_exclusive_px
    if max_side is not None and max_side <= floor:
        raise UsageError(f"--max-side {max_side} must be more than {floor} px")


def _check_url_prefix(transport: str | None, url_prefix: str | None) -> None:
    if transport == "url" and not url_prefix:
        raise UsageError("--transport url needs --url-prefix: the URL your --out folder will be uploaded to")


def _policy(args: argparse.Namespace) -> Policy:
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality {args.quality} must lie in 1–100")
    _check_max_side(args.max_side)
    return Policy(
        too_small=args.too_small,
        aspect_ratio=args.aspect_ratio,
        above_8k=args.above_8k,
        animated=args.animated,
        keep_orientation=args.keep_orientation,
        max_side_px=args.max_side,
        output_format=args.format,
        jpeg_quality=args.quality,
        jpeg_quality_floor=min(TUNING.jpeg_quality_floor, args.quality),
        fps=args.fps,
        max_frames=args.max_frames,
        video_as=args.video_as,
        frame_max_side_px=args.frame_side,
        token_budget=_budget_arg(args.token_budget),
        token_reserve=args.token_reserve,
    )


def _budget_arg(value: str) -> int | Literal["auto"] | None:
    if value == "auto":
        return "auto"
    if value == "none":
        return None
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"--token-budget {value!r}: expected a number of tokens, auto or none") from None
    if n <= 0:
        raise UsageError(f"--token-budget {n} must be more than 0")
    return n


def _inputs(raw: Sequence[str], stdin: TextIO) -> Iterator[str]:
    """The inputs as given, folders walked; '-' reads more from stdin, one per line."""
    for item in raw:
        if item == "-":
            for line in stdin:
                line = line.strip()
                if line:
                    yield from expand_inputs([line])
        else:
            yield from expand_inputs([item])


# --------------------------------------------------------------------------------------------------
# where the commands write: checked before any input is read


_OUTPUT_FILES = (("--request-out", "request_out"), ("--batch-out", "batch_out"), ("--report", "report"), ("--contact-sheet", "contact_sheet"))


def check_output_paths(args: argparse.Namespace) -> None:
    """`--out` (a folder: existing, or one that can be made) and the files a command writes
    (--request-out, --batch-out, --report, --contact-sheet: not a folder, in a folder that exists or
    is --out), each writable: a usage error now, not a traceback after the whole batch ran. Costs a
    few `stat`s. (`cli.main` calls it for every command; a disk that fills up later is still found
    only when a write fails.)"""
    out: Path | None = getattr(args, "out", None)
    if out is not None:
        check_out_folder("--out", out)
    for option, name in _OUTPUT_FILES:
        path = getattr(args, name, None)
        if path is not None:
            check_out_file(option, Path(path), out_dir=out)


def check_out_folder(option: str, path: Path) -> None:
    """A folder to write into: a folder that exists and is writable, or that can be made (its
    nearest existing ancestor is a writable folder)."""
    st = _stat(option, path, path)
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            raise UsageError(f"{option} {path}: {_what(st.st_mode)}, not a folder; name a folder to write into")
        _writable(option, path, path)
        return
    ancestor = path.absolute().parent
    while (ancestor_st := _stat(option, ancestor, path)) is None and ancestor.parent != ancestor:
        ancestor = ancestor.parent
    if ancestor_st is None or not stat.S_ISDIR(ancestor_st.st_mode):
        raise UsageError(f"{option} {path}: {ancestor} is not a folder, so the folder cannot be made")
    _writable(option, ancestor, path)


def check_out_file(option: str, path: Path, *, out_dir: Path | None = None) -> None:
    """A file to write: not a folder, in a writable folder that exists (or is `out_dir`, which the
    command makes and `check_out_folder` vouched for)."""
    st = _stat(option, path, path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{option} {path}: a folder; name the file to write")
    parent = path.absolute().parent
    if out_dir is not None and parent == out_dir.absolute():
        return
    parent_st = _stat(option, parent, path)
    if parent_st is None:
        raise UsageError(f"{option} {path}: the folder {parent} does not exist")
    if not stat.S_ISDIR(parent_st.st_mode):
        raise UsageError(f"{option} {path}: {parent} is not a folder")
    _writable(option, parent, path)


def _stat(option: str, path: Path, given: Path) -> os.stat_result | None:
    """`path`'s stat, None when nothing is there; a usage error when it cannot be told (a symbolic
    link loop or to nothing, a name too long, a file where a folder should be)."""
    try:
        return path.stat()
    except FileNotFoundError:
        if os.path.lexists(path):
            raise UsageError(f"{option} {given}: {path} is a symbolic link to nothing") from None
        return None
    except OSError as exc:
        raise UsageError(f"{option} {given}: cannot be used ({exc.strerror or type(exc).__name__})") from None
    except ValueError:  # a NUL byte
        raise UsageError(f"{option} {given!s:.200}: not a possible file name") from None


def _writable(option: str, folder: Path, given: Path) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {given}: the folder {folder} is not writable")


def _what(mode: int) -> str:
    return "a file" if stat.S_ISREG(mode) else "not a folder"
