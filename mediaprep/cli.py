"""The command line: `mediaprep probe|check|prepare INPUT...` (also `python -m mediaprep`).

Results go to stdout (one JSON object per input per line with --json); the summary and progress go
to stderr. Exit 0 when every input is ok / ready, 1 when any is not, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .errors import MediaprepError, UsageError
from .models import Policy, Report, Target
from .pipeline import Prepared, ProbeError, check, prepare, probe
from .resolve import expand_inputs
from .rules import APIS, DEFAULT_MODEL, MODELS, TRANSPORTS, Limits

EXIT_OK, EXIT_NOT_ALL, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mediaprep", description="Pre-flight images for Kimi vision models on Model Studio.")
    parser.add_argument("--version", action="version", version=f"mediaprep {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{probe,check,prepare}")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders (walked recursively), file:// or data: URLs; '-' reads inputs from stdin, one per line")
    common.add_argument("--json", action="store_true", help="one JSON object per input per line on stdout")
    common.add_argument("--model", default=DEFAULT_MODEL, help=f"target model (default {DEFAULT_MODEL}; known: {', '.join(MODELS)})")
    common.add_argument("--api", choices=APIS, default="openai", help="API dialect (default openai)")
    common.add_argument("--transport", choices=TRANSPORTS, default=None, help="how media travels (default base64 for files)")
    common.add_argument("--path-style", choices=("posix", "windows-python", "windows-java"), default="posix", help="file:// form for --transport path")
    common.add_argument("--fps", type=float, default=2.0, help="frames per second for videos (default 2)")
    common.add_argument("--max-frames", type=int, default=2000, help="frame cap for videos (default 2000)")
    common.add_argument("--max-pixels", type=int, default=None, help="decode guard in pixels (default 178956970)")
    common.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE", help="override any rule number, e.g. --limit image_max_file_bytes=5000000")

    policy = argparse.ArgumentParser(add_help=False)
    policy.add_argument("--too-small", choices=("pad", "reject"), default="pad", help="images with a side ≤ 10 px (default pad)")
    policy.add_argument("--aspect-ratio", choices=("pad", "split", "reject"), default="pad", help="images over 200:1 (default pad)")
    policy.add_argument("--above-8k", choices=("downscale", "keep"), default="downscale", help="images above 7680×4320 (default downscale)")
    policy.add_argument("--animated", choices=("first-frame", "keep"), default="first-frame", help="animations (default first-frame)")
    policy.add_argument("--keep-orientation", action="store_true", help="do not bake orientation tags into pixels")
    policy.add_argument("--max-side", type=int, default=None, metavar="PX", help="also downscale so the long side is at most PX")
    policy.add_argument("--format", choices=("auto", "jpeg", "png"), default="auto", help="output format for rewritten images (default auto: by content)")
    policy.add_argument("--quality", type=int, default=90, help="JPEG quality to start from (default 90)")

    p = sub.add_parser("probe", parents=[common], help="what each file is (header only)")
    p.set_defaults(func=_cmd_probe)
    c = sub.add_parser("check", parents=[common, policy], help="will each input be accepted")
    c.add_argument("--fast", action="store_true", help="read headers only; do not prove the pixels decode")
    c.set_defaults(func=_cmd_check)
    r = sub.add_parser("prepare", parents=[common, policy], help="fix what can be fixed into --out and emit content parts")
    r.add_argument("--out", required=True, type=Path, help="folder for fixed files and manifest.jsonl (inputs are never touched)")
    r.add_argument("--url-prefix", default=None, help="with --transport url: the URL the --out folder will be uploaded to")
    r.set_defaults(func=_cmd_prepare)
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
        jpeg_quality_floor=min(60, args.quality),
    )


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


def _describe_info(report: Report) -> str:
    info = report.info
    if info is None:
        return ""
    extra = f", {info.frames} frames" if info.frames > 1 else ""
    tokens = f"  ~{report.estimate.tokens} tokens (estimate)" if report.estimate else ""
    return f"{info.format} {info.width_px}×{info.height_px}, {info.size_bytes} bytes{extra}{tokens}"


def _print_report(out: TextIO, report: Report) -> None:
    out.write(f"{report.status:<9} {report.source}  {_describe_info(report)}\n")
    for v in report.violations:
        out.write(f"          {v.severity:<7} {v.code}: {v.message}\n")


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
            info = probe(item, target=target)
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
        if args.json:
            _emit(out, {"source": item, "kind": "image", "info": info.to_json(), "violations": []})
        else:
            extra = f", orientation {info.orientation} ({info.orientation_source})" if info.orientation != 1 else ""
            frames = f", {info.frames} frames" if info.frames > 1 else ""
            out.write(f"{'image':<9} {item}  {info.format} {info.width_px}×{info.height_px} {info.mode}, {info.size_bytes} bytes{frames}{extra}\n")
    _summary(err, counts, Counter(), "input")
    return EXIT_NOT_ALL if failed else EXIT_OK


def _cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    target, policy = _target(args), _policy(args)
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for item in _inputs(args.inputs, stdin):
        report = check(item, target=target, policy=policy, fast=args.fast)
        counts[report.status] += 1
        codes.update(report.codes)
        if args.json:
            _emit(out, report.to_json())
        else:
            _print_report(out, report)
    if args.fast and not args.json:
        err.write("--fast: headers only; pixels were not decoded, so truncated or corrupt files may pass\n")
    _summary(err, counts, codes, "input")
    return EXIT_OK if set(counts) <= {"ok"} else EXIT_NOT_ALL


def _cmd_prepare(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    target, policy = _target(args), _policy(args)
    if target.transport == "url" and not args.url_prefix:
        raise UsageError("--transport url needs --url-prefix: the URL your --out folder will be uploaded to")
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = args.out / "manifest.jsonl"
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    with open(manifest, "w", encoding="utf-8") as mf:
        for item in _inputs(args.inputs, stdin):
            result = prepare(item, target=target, policy=policy, out_dir=args.out, url_prefix=args.url_prefix)
            line = result.to_json()
            _emit(mf, line)
            counts[result.status] += 1
            codes.update(v.code for v in result.violations)
            if args.json:
                _emit(out, line)
            else:
                _print_prepared(out, result)
    err.write(f"manifest: {manifest}\n")
    _summary(err, counts, codes, "input")
    return EXIT_OK if set(counts) <= {"ready"} else EXIT_NOT_ALL


def _print_prepared(out: TextIO, result: Prepared) -> None:
    files = ", ".join(o.path for o in result.outputs if o.path) or "-"
    out.write(f"{result.status:<9} {result.source} → {files}\n")
    for a in result.actions:
        out.write(f"          {a.op}: {a.reason}\n")
    if result.status == "rejected":
        for v in result.violations:
            if v.severity == "error":
                out.write(f"          {v.code}: {v.message}\n")


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
