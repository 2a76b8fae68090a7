"""The command line: `mediaprep probe|check|prepare INPUT...` (also `python -m mediaprep`).

Results go to stdout (one JSON object per input per line with --json); the summary and progress go
to stderr. Exit 0 when every input is ok / ready, 1 when any is not, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .errors import MediaprepError, ProbeError, UsageError
from .models import Policy, Target, VideoInfo
from .jobs import check_job, prepare_job
from .pipeline import probe
from .progress import Progress, summary
from .remote import RemoteOptions
from .resolve import expand_inputs
from .outputs import url_for, write_atomic
from .rules import APIS, DEFAULT_LIMITS, DEFAULT_MODEL, DEFAULT_REGION, MODELS, REGIONS, TRANSPORTS, TUNING, Limits

EXIT_OK, EXIT_NOT_ALL, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mediaprep", description="Pre-flight images for Kimi vision models on Model Studio.")
    parser.add_argument("--version", action="version", version=f"mediaprep {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{probe,check,prepare,frames}")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders (walked recursively), http(s), file:// or data: URLs; '-' reads inputs from stdin, one per line")
    common.add_argument("--json", action="store_true", help="one JSON object per input per line on stdout")
    common.add_argument("--model", default=DEFAULT_MODEL, help=f"target model (default {DEFAULT_MODEL}; known: {', '.join(MODELS)})")
    common.add_argument("--api", choices=APIS, default="openai", help="API dialect (default openai)")
    common.add_argument("--transport", choices=TRANSPORTS, default=None, help="how media travels (default base64 for files, url for http(s) URLs)")
    common.add_argument("--path-style", choices=("posix", "windows-python", "windows-java"), default="posix", help="file:// form for --transport path")
    common.add_argument("--fps", type=float, default=DEFAULT_LIMITS.fps_default, help=f"frames per second for videos (default {DEFAULT_LIMITS.fps_default:g})")
    common.add_argument("--max-frames", type=int, default=DEFAULT_LIMITS.max_frames_default, help=f"frame cap for videos (default {DEFAULT_LIMITS.max_frames_default})")
    common.add_argument("--max-pixels", type=int, default=None, help="decode guard in pixels (default 178956970)")
    common.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE", help="override any rule number, e.g. --limit image_max_file_bytes=5000000")
    common.add_argument("--allow-private", action="store_true", help="fetch URLs whose host is on a private, loopback or link-local address (refused by default: the service cannot reach them)")
    common.add_argument("--allow-private-host", action="append", default=[], metavar="HOST", help="vouch for one host name, address or network (CIDR) only; repeatable")
    common.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="total deadline per URL (default 30)")
    common.add_argument("--connect-timeout", type=float, default=5.0, metavar="SECONDS", help="connect timeout per request to a URL (default 5)")

    policy = argparse.ArgumentParser(add_help=False)
    policy.add_argument("--too-small", choices=("pad", "reject"), default="pad", help="images with a side ≤ 10 px (default pad)")
    policy.add_argument("--aspect-ratio", choices=("pad", "split", "reject"), default="pad", help="images over 200:1 (default pad)")
    policy.add_argument("--above-8k", choices=("downscale", "keep"), default="downscale", help="images above 7680×4320 (default downscale)")
    policy.add_argument("--animated", choices=("first-frame", "keep", "frames"), default="first-frame", help="animations: first-frame (default), keep, or frames (an image list with the real frame timing)")
    policy.add_argument("--keep-orientation", action="store_true", help="do not bake orientation tags into pixels")
    policy.add_argument("--max-side", type=int, default=None, metavar="PX", help="also downscale so the long side is at most PX")
    policy.add_argument("--format", choices=("auto", "jpeg", "png"), default="auto", help="output format for rewritten images (default auto: by content)")
    policy.add_argument("--quality", type=int, default=TUNING.jpeg_quality, help=f"JPEG quality to start from (default {TUNING.jpeg_quality})")
    policy.add_argument("--video-as", choices=("auto", "file", "frames"), default="auto", help="videos: auto (the file when it can be sent, else an image list), file, or frames")
    policy.add_argument("--frame-side", type=int, default=None, metavar="PX", help="image-list frames: long side in px (default: the size the model uses)")
    policy.add_argument("--token-budget", default="auto", metavar="N|auto|none", help="tokens one input's media may take (default auto: the model's max input minus --token-reserve)")
    policy.add_argument("--token-reserve", type=int, default=TUNING.token_reserve, metavar="N", help=f"tokens kept for the prompt and the answer under --token-budget auto (default {TUNING.token_reserve})")

    p = sub.add_parser("probe", parents=[common], help="what each file is (header only)")
    p.set_defaults(func=_cmd_probe)
    c = sub.add_parser("check", parents=[common, policy], help="will each input be accepted")
    c.add_argument("--fast", action="store_true", help="read headers only; do not prove the pixels decode")
    _batch_options(c)
    c.set_defaults(func=_cmd_check)
    r = sub.add_parser("prepare", parents=[common, policy], help="fix what can be fixed into --out and emit content parts")
    r.add_argument("--out", required=True, type=Path, help="folder for fixed files and manifest.jsonl (inputs are never touched)")
    r.add_argument("--url-prefix", default=None, help="with --transport url: the URL the --out folder will be uploaded to")
    r.add_argument("--prompt", default=None, help="the text that follows the media in --request-out / --batch-out")
    r.add_argument("--request-out", type=Path, default=None, metavar="FILE", help="write {url, body}: one request with every ready input as a part, in input order, then --prompt")
    r.add_argument("--batch-out", type=Path, default=None, metavar="FILE", help="write one request per ready input in the OpenAI batch-file format (custom_id, method, url, body)")
    r.add_argument("--region", default=DEFAULT_REGION, choices=sorted(REGIONS), help=f"Model Studio region for the request URL (default {DEFAULT_REGION})")
    r.add_argument("--workspace-id", default=None, help="your workspace id, filled into the regional URL where it needs one")
    r.add_argument("--enable-thinking", choices=("true", "false"), default=None, help="thinking mode in the request (default: the model's)")
    r.add_argument("--resume", action="store_true", help="skip inputs whose manifest line is complete and whose file is unchanged (path, size, mtime)")
    r.add_argument("--verify-inputs", action="store_true", help="with --resume: also compare SHA-256 hashes of the inputs")
    _batch_options(r)
    r.set_defaults(func=_cmd_prepare)
    f = sub.add_parser("frames", help="sample a video into JPEG frames and an image-list content part")
    f.add_argument("video", metavar="VIDEO", help="a video file (or file:// / data: URL)")
    f.add_argument("--out", required=True, type=Path, help="folder for the frames (frame_00000.jpg, ...)")
    f.add_argument("--fps", type=float, default=DEFAULT_LIMITS.fps_default, help=f"samples per second, {DEFAULT_LIMITS.fps_min:g}–{DEFAULT_LIMITS.fps_max:g} (default {DEFAULT_LIMITS.fps_default:g})")
    f.add_argument("--max-frames", type=int, default=DEFAULT_LIMITS.max_frames_default, help=f"cap on the frame count, 1–{DEFAULT_LIMITS.max_frames_limit} (default {DEFAULT_LIMITS.max_frames_default})")
    f.add_argument("--max-side", type=int, default=None, metavar="PX", help="long side of the frames (default: the size the model uses; never upscaled)")
    f.add_argument("--model", default=DEFAULT_MODEL, help=f"target model (default {DEFAULT_MODEL})")
    f.add_argument("--api", choices=APIS, default="openai", help="API dialect (default openai)")
    f.add_argument("--transport", choices=TRANSPORTS, default="base64", help="how the frames travel (default base64)")
    f.add_argument("--path-style", choices=("posix", "windows-python", "windows-java"), default="posix")
    f.add_argument("--url-prefix", default=None, help="with --transport url: the URL the --out folder will be uploaded to")
    f.add_argument("--contact-sheet", type=Path, default=None, metavar="FILE", help="also write one JPEG grid of the frames, labelled with their times")
    f.add_argument("--json", action="store_true", help="print one JSON object: fps, frames, part, violations")
    f.add_argument("--token-budget", default="auto", metavar="N|auto|none", help="tokens the frames may take (default auto: the model's max input minus --token-reserve)")
    f.add_argument("--token-reserve", type=int, default=TUNING.token_reserve, metavar="N", help=f"tokens kept for the prompt and the answer (default {TUNING.token_reserve})")
    f.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE", help=argparse.SUPPRESS)
    f.add_argument("--max-pixels", type=int, default=None, help=argparse.SUPPRESS)
    f.set_defaults(func=_cmd_frames)
    return parser


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
        except ValueError:
            raise UsageError(f"--limit {item!r}: {value!r} is not a number") from None
    if args.max_pixels is not None:
        changes["max_decode_pixels"] = args.max_pixels
    return dataclasses.replace(Limits(), **changes)


def _target(args: argparse.Namespace) -> Target:
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


def _for_input(target: Target, args: argparse.Namespace, item: str) -> Target:
    """The transport default depends on the input: base64 for files, url for http(s) URLs."""
    if args.transport is None and item[:8].lower().startswith(("http://", "https://")):
        return dataclasses.replace(target, transport="url")
    return target


def _policy(args: argparse.Namespace) -> Policy:
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality {args.quality} must lie in 1–100")
    if args.max_side is not None and args.max_side < 11:
        raise UsageError(f"--max-side {args.max_side} must be more than 10 px")
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


def _budget_arg(value: str) -> int | str | None:
    if value in ("auto", "none"):
        return None if value == "none" else "auto"
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"--token-budget {value!r}: expected a number of tokens, auto or none") from None
    if n <= 0:
        raise UsageError(f"--token-budget {n} must be more than 0")
    return n


def _inputs(raw: Sequence[str], stdin: TextIO) -> Iterator[str]:
    for item in raw:
        if item == "-":
            for line in stdin:
                line = line.strip()
                if line:
                    yield from expand_inputs([line])
        else:
            yield from expand_inputs([item])


def _emit(out: TextIO, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
    out.flush()


def _summary(err: TextIO, counts: Counter[str], codes: Counter[str], noun: str) -> None:
    total = sum(counts.values())
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    err.write(f"{total} {noun}{'s' if total != 1 else ''}: {parts or 'none'}\n")
    if codes:
        err.write("violations: " + ", ".join(f"{c} ×{n}" for c, n in codes.most_common()) + "\n")


def _cmd_probe(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    target = _target(args)
    failed = 0
    counts: Counter[str] = Counter()
    for item in _inputs(args.inputs, stdin):
        try:
            info = probe(item, target=_for_input(target, args, item), remote=_remote(args))
        except ProbeError as exc:
            failed += 1
            counts["unreadable"] += 1
            v = exc.violation
            if args.json:
                _emit(out, {"source": item, "kind": "unknown", "info": None, "violations": [v.to_json()]})
            else:
                out.write(f"{'error':<9} {item}\n          {v.code}: {v.message}\n")
            continue
        counts["probed"] += 1
        kind = "video" if isinstance(info, VideoInfo) else "image"
        if args.json:
            _emit(out, {"source": item, "kind": kind, "info": info.to_json(), "violations": []})
        elif isinstance(info, VideoInfo):
            rot = f", rotation {info.rotation_deg}°" if info.rotation_deg else ""
            out.write(f"{'video':<9} {item}  {info.format} {info.codec} {info.width_px}×{info.height_px}, {info.duration_s:.3f} s ({info.duration_source}), fps {info.fps or 0:.3f}, {info.size_bytes} bytes{rot}\n")
        else:
            extra = f", orientation {info.orientation} ({info.orientation_source})" if info.orientation != 1 else ""
            frames = f", {info.frames} frames" if info.frames > 1 else ""
            out.write(f"{'image':<9} {item}  {info.format} {info.width_px}×{info.height_px} {info.mode}, {info.size_bytes} bytes{frames}{extra}\n")
    _summary(err, counts, Counter(), "input")
    return EXIT_NOT_ALL if failed else EXIT_OK


def _batch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: the core count; 0 runs in this process)")
    p.add_argument("--item-timeout", type=float, default=900.0, metavar="SECONDS", help="an input with no result after this long is reported as source.timeout and its worker replaced (default 900)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto", help="progress line on stderr (default: when stderr is a terminal)")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="local process pool (default) or Ray Data (the ray extra)")
    p.add_argument("--ray-address", default=None, metavar="ADDR", help="with --engine ray: the cluster to use (RAY_ADDRESS is honoured too; 'auto' finds a `ray start` cluster; default: a local Ray this process starts)")
    p.add_argument("--report", type=Path, default=None, metavar="FILE", help="also write one self-contained HTML report: a row per input with a thumbnail, filterable by status")


def _run(args: argparse.Namespace, items: list[str], job: Any, err: TextIO) -> Iterator[tuple[int, str, dict[str, Any]]]:
    from .batch import run_local

    if getattr(args, "report", None) is not None and not args.report.absolute().parent.is_dir():
        raise UsageError(f"--report {args.report}: the folder {args.report.absolute().parent} does not exist")
    if args.item_timeout <= 0:
        raise UsageError(f"--item-timeout {args.item_timeout:g} must be more than 0 s")
    if args.engine == "ray":
        from .ray_engine import run_ray

        with contextlib.redirect_stdout(err):  # Ray prints worker-death notices to stdout
            yield from run_ray(items, job, address=args.ray_address, num_cpus=args.workers or None, item_timeout_s=args.item_timeout)
        return
    workers = 0 if len(items) <= 1 else max(0, min(args.workers, len(items)))
    yield from run_local(items, job, workers=workers, item_timeout_s=args.item_timeout)


def _progress(args: argparse.Namespace, err: TextIO, total: int) -> Progress:
    enabled = {"auto": None, "always": True, "never": False}[args.progress]
    return Progress(err, total, enabled=enabled)


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    target, policy = _target(args), _policy(args)
    items = list(_inputs(args.inputs, stdin))
    job = functools.partial(check_job, target=target, policy=policy, fast=args.fast, remote=_remote(args), auto_transport=args.transport is None)
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    started = time.monotonic()
    progress = _progress(args, err, len(items))
    kept = tempfile.TemporaryFile("w+", encoding="utf-8") if args.report else None
    for _, _, line in _run(args, items, job, err):
        counts[line["status"]] += 1
        codes.update(v["code"] for v in line["violations"])
        progress.update(line["status"])
        if kept is not None:
            _emit(kept, line)
        if args.json:
            _emit(out, line)
        else:
            _print_line(out, line)
    progress.close()
    if kept is not None:
        kept.seek(0)
        _write_report(args.report, (json.loads(raw) for raw in kept), None, err)
        kept.close()
    if args.fast and not args.json:
        err.write("--fast: headers only; pixels were not decoded, so truncated or corrupt files may pass\n")
    summary(err, counts, codes, elapsed_s=time.monotonic() - started)
    return EXIT_OK if set(counts) <= {"ok"} else EXIT_NOT_ALL


def _cmd_prepare(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from . import manifest as mf
    from .resolve import label_for

    target, policy = _target(args), _policy(args)
    if target.transport == "url" and not args.url_prefix:
        raise UsageError("--transport url needs --url-prefix: the URL your --out folder will be uploaded to")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "manifest.jsonl"
    items = list(_inputs(args.inputs, stdin))
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    todo = items
    if args.resume:
        done = mf.load_done(path)
        removed = mf.remove_partials(args.out)
        todo = []
        for item in items:
            line = done.get(label_for(item))
            if mf.is_done(line, item, verify=args.verify_inputs):
                assert line is not None
                counts[line["status"]] += 1
                codes.update(v["code"] for v in line.get("violations", []))
            else:
                todo.append(item)
        err.write(f"resume: {len(items) - len(todo)} of {len(items)} inputs already done" + (f"; {removed} partial files removed" if removed else "") + "\n")
    requests = _RequestWriter(args, target) if (args.request_out or args.batch_out) else None
    job = functools.partial(
        prepare_job, target=target, policy=policy, out_dir=args.out, url_prefix=args.url_prefix, remote=_remote(args),
        verify_inputs=args.verify_inputs, auto_transport=args.transport is None,
    )
    started = time.monotonic()
    progress = _progress(args, err, len(todo))
    fresh: dict[str, dict[str, Any]] = {}
    with mf.ManifestWriter(path, append=args.resume) as writer:
        for _, item, line in _run(args, todo, job, err):
            writer.write(line)
            counts[line["status"]] += 1
            codes.update(v["code"] for v in line["violations"])
            progress.update(line["status"])
            if requests is not None:
                fresh[item] = line
            if args.json:
                _emit(out, line)
            else:
                _print_prepared_line(out, line)
    progress.close()
    err.write(f"manifest: {path}\n")
    if args.report:
        with open(path, encoding="utf-8") as lines:
            _write_report(args.report, (json.loads(raw) for raw in lines if raw.strip()), args.out, err)
    summary(err, counts, codes, elapsed_s=time.monotonic() - started)
    status = EXIT_OK if set(counts) <= {"ready"} else EXIT_NOT_ALL
    if requests is not None:
        done = mf.load_done(path) if args.resume else {}
        lines = [fresh.get(item) or done.get(label_for(item)) for item in items]
        if not requests.write([line for line in lines if line is not None], err):
            status = EXIT_NOT_ALL
    return status


class _RequestWriter:
    """--request-out (one request, every ready input in input order, then --prompt) and --batch-out
    (one request per ready input, OpenAI batch-file lines)."""

    def __init__(self, args: argparse.Namespace, target: Target) -> None:
        if args.batch_out and target.api != "openai":
            raise UsageError("--batch-out writes OpenAI batch-file lines: use it with --api openai")
        self.args, self.target = args, target
        self.thinking = None if args.enable_thinking is None else args.enable_thinking == "true"
        from .request import endpoint

        endpoint(api=target.api, region=args.region, workspace_id=args.workspace_id)  # a usage error now, not after the batch

    def _build(self, content: list[Any]) -> Any:
        from .request import build_request

        return build_request(model=self.args.model, api=self.target.api, content=content, region=self.args.region, workspace_id=self.args.workspace_id, enable_thinking=self.thinking)

    def write(self, lines: list[dict[str, Any]], err: TextIO) -> bool:
        from .budget import resolve_budget
        from .codes import violation

        ready = [line for line in lines if line.get("status") == "ready"]
        prompt = [self.args.prompt] if self.args.prompt else []
        ok = True
        if self.args.request_out:
            content = [p for line in ready for p in _parts_of(line)] + prompt
            if not content:
                err.write("--request-out: no ready input and no --prompt: nothing to send\n")
                return False
            built = self._build(content)
            problems = list(built.violations)
            budget = resolve_budget(_budget_arg(self.args.token_budget), self.args.model, reserve_tokens=self.args.token_reserve)
            tokens = sum(_line_tokens(line) for line in ready) + len(self.args.prompt or "") // 2
            if budget is not None and tokens > budget:
                problems.append(violation("request.over_token_limit", source=str(self.args.request_out), observed=tokens, limit=budget))
            if problems:
                for v in problems:
                    err.write(f"{v.code}: {v.message}\n")
                ok = False
            else:
                write_atomic(self.args.request_out, (json.dumps(built.to_json(), ensure_ascii=False) + "\n").encode("utf-8"))
                err.write(f"request: {self.args.request_out} ({len(ready)} inputs, about {tokens} tokens, an estimate)\n")
        if self.args.batch_out:
            from .request import endpoint

            path_only = "/v1/chat/completions"
            rows = []
            for n, line in enumerate(ready):
                built = self._build(list(_parts_of(line)) + prompt)
                if built.violations:
                    for v in built.violations:
                        err.write(f"{v.code}: {v.message}\n")
                    return False
                rows.append(json.dumps({"custom_id": f"{n}-{Path(line['source']).name}", "method": "POST", "url": path_only, "body": built.body}, ensure_ascii=False))
            write_atomic(self.args.batch_out, ("\n".join(rows) + ("\n" if rows else "")).encode("utf-8"))
            err.write(f"batch: {self.args.batch_out} ({len(rows)} requests for {endpoint(api='openai', region=self.args.region, workspace_id=self.args.workspace_id) if self.args.workspace_id or self.args.region == 'us-east-1' else 'the batch interface'})\n")
        return ok


def _parts_of(line: dict[str, Any]) -> list[dict[str, Any]]:
    if line.get("parts"):
        return list(line["parts"])
    return [line["part"]] if line.get("part") else []


def _line_tokens(line: dict[str, Any]) -> int:
    """The estimate of what a prepared input sends: its outputs' sizes (images, image lists) or the
    check's estimate (video files)."""
    from .models import Size
    from .tokens import estimate_frames, estimate_image

    outputs = line.get("output_info") or []
    part = (_parts_of(line) or [{}])[0]
    is_list = isinstance(part.get("video"), list)
    if is_list and outputs:
        first = outputs[0]
        return estimate_frames(Size(first["width_px"], first["height_px"]), len(outputs)).tokens
    if line.get("kind") == "image" and outputs:
        return sum(estimate_image(Size(o["width_px"], o["height_px"])).tokens for o in outputs)
    return int((line.get("estimate") or {}).get("tokens", 0))


def _write_report(path: Path, lines: Iterator[dict[str, Any]], out_dir: Path | None, err: TextIO) -> None:
    from .report_html import write_report

    write_report(lines, path, out_dir=out_dir)
    err.write(f"report: {path}\n")


def _print_line(out: TextIO, line: dict[str, Any]) -> None:
    info = line.get("info") or {}
    desc = ""
    if info:
        est = line.get("estimate")
        tokens = f"  ~{est['tokens']} tokens (estimate)" if est else ""
        if line.get("kind") == "video":
            desc = f"{info['format']} {info['codec']} {info['width_px']}×{info['height_px']}, {info['duration_s']:.3f} s, {info['size_bytes']} bytes{tokens}"
        else:
            frames = f", {info['frames']} frames" if info.get("frames", 1) > 1 else ""
            desc = f"{info['format']} {info['width_px']}×{info['height_px']}, {info['size_bytes']} bytes{frames}{tokens}"
    out.write(f"{line['status']:<9} {line['source']}  {desc}".rstrip() + "\n")
    remote = line.get("remote")
    if remote:
        n = remote.get("requests", 0)
        out.write(f"          remote  {remote.get('bytes', 0):,} bytes in {n} request{'s' if n != 1 else ''}" + (f"; read: {remote['read']}" if remote.get("read") else "") + "\n")
    for v in line["violations"]:
        out.write(f"          {v['severity']:<7} {v['code']}: {v['message']}\n")


def _print_prepared_line(out: TextIO, line: dict[str, Any]) -> None:
    files = ", ".join(line.get("outputs") or []) or "-"
    if len(line.get("outputs") or []) > 3:
        files = f"{line['outputs'][0]} … ({len(line['outputs'])} files)"
    out.write(f"{line['status']:<9} {line['source']} → {files}\n")
    for a in line.get("actions", []):
        out.write(f"          {a['op']}: {a['reason']}\n")
    if line["status"] == "rejected":
        for v in line["violations"]:
            if v["severity"] == "error":
                out.write(f"          {v['code']}: {v['message']}\n")


def _cmd_frames(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from .backends.contact_sheet import ContactSheet
    from .budget import resolve_budget
    from .parts import image_list_part
    from .pipeline import extract_frames

    if args.transport == "url" and not args.url_prefix:
        raise UsageError("--transport url needs --url-prefix: the URL your --out folder will be uploaded to")
    if args.max_side is not None and args.max_side < 11:
        raise UsageError(f"--max-side {args.max_side} must be more than 10 px")
    args.transport = args.transport or "base64"
    target = _target(args)
    budget = resolve_budget(_budget_arg(args.token_budget), target.model, reserve_tokens=args.token_reserve)
    extraction = extract_frames(args.video, fps=args.fps, max_frames=args.max_frames, max_side_px=args.max_side, target=target, token_budget=budget)
    frames: list[dict[str, Any]] = []
    if extraction.ok:
        args.out.mkdir(parents=True, exist_ok=True)
        sheet = ContactSheet(len(extraction.times_s)) if args.contact_sheet is not None else None
        for pic in extraction.pictures(target=target):
            name = f"frame_{pic.index:05d}.jpg"
            write_atomic(args.out / name, pic.data)
            frames.append({"file": name, "time_s": round(pic.time_s, 6), "pts_s": round(pic.pts_s, 6), "width_px": pic.size.width_px, "height_px": pic.size.height_px})
            if sheet is not None:
                sheet.add(pic.time_s, pic.data)
        if sheet is not None and frames:
            write_atomic(args.contact_sheet, sheet.to_jpeg())

    def urls() -> Iterator[str]:
        """The frames' URLs, made one at a time: a base64 data URL is read back from its file as it
        is written out, so memory stays at one frame whatever the count."""
        for f in frames:
            yield url_for(target, mime="image/jpeg", rel=f["file"], out_dir=args.out, url_prefix=args.url_prefix)

    marker = "\u0000frames\u0000"
    part = image_list_part([marker], target.api, fps=round(extraction.fps, 6)) if frames and extraction.fps else None
    result = {
        "source": extraction.source,
        "fps": None if extraction.fps is None else round(extraction.fps, 6),
        "frames": frames,
        "part": part,
        "violations": [v.to_json() for v in extraction.violations],
        "reason": extraction.reason,
    }
    if args.json:
        _emit_streamed(out, result, marker, urls())
    else:
        info = extraction.info
        if info is not None:
            out.write(f"{extraction.source}: {info.format} {info.codec} {info.width_px}×{info.height_px}, {info.duration_s:.3f} s\n")
        if frames:
            out.write(f"{len(frames)} frames at fps {result['fps']} ({extraction.reason}) → {args.out}\n")
            out.write(f"first at {frames[0]['time_s']} s, last at {frames[-1]['time_s']} s; frames {frames[0]['width_px']}×{frames[0]['height_px']}\n")
        if args.contact_sheet is not None and frames:
            out.write(f"contact sheet: {args.contact_sheet}\n")
    for v in extraction.violations:
        err.write(f"{v.code}: {v.message}\n")
    return EXIT_OK if extraction.ok and frames else EXIT_NOT_ALL


def _emit_streamed(out: TextIO, obj: dict[str, Any], marker: str, items: Iterator[str]) -> None:
    """`_emit(out, obj)` where the one list holding `marker` is replaced by `items`, written one at
    a time (a list of 2,000 data URLs is never held, nor its JSON text)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    quoted = json.dumps(marker)
    if quoted not in text:
        _emit(out, obj)
        return
    head, tail = text.split(quoted, 1)
    out.write(head)
    for n, item in enumerate(items):
        out.write(("," if n else "") + json.dumps(item, ensure_ascii=False))
    out.write(tail + "\n")
    out.flush()


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None, stdin: TextIO | None = None) -> int:
    out, err, inp = stdout or sys.stdout, stderr or sys.stderr, stdin or sys.stdin
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return int(args.func(args, out, err, inp))
    except MediaprepError as exc:
        err.write(f"mediaprep: error: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
