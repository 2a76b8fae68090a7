"""`mediaprep preflight FILE... --out DIR`: requests users already have (a JSON body in either
dialect, or an OpenAI batch file of JSON lines) made into requests the service accepts.

Each FILE is written to `DIR/<its name>`: every line in input order, fixed where it changed, as it
was (byte for byte) where nothing changed or the request is rejected; `DIR/preflight.jsonl` gets
one report line per request (`PreflightResult.to_json()` plus `file`). With `--url-prefix URL`
(the URL the DIR folder will be uploaded to) fixed media are written under `DIR/media/` and
referenced as `URL/media/...` instead of being inlined as base64. Exit 0 when every request is
ready, 1 when any is rejected, 2 for a usage error. Batch files run one line per job in a process
pool (`--workers`, as `prepare`): a line whose worker crashes or hangs costs that line only.

`add_parser(sub)` registers the subcommand and its `func`; `mediaprep.cli.main` hands it to
`options._parser(extra=...)`. The option helpers (the fix policy, limits, URL options) are
`options`'s own, shared with `prepare`.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from . import commands, options
from ..errors import UsageError
from ..request import FORMS
from .output import _emit, printable

MEDIA_DIR = "media"  # under --out: fixed media published with --url-prefix


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `preflight` on the subparsers `sub` (options `_parser`): its flags, in the same
    --help sections as the other commands, and `func` for dispatch."""
    p: argparse.ArgumentParser = sub.add_parser("preflight", help="check whole requests (JSON bodies or batch JSONL files) and fix their media")
    g = options._groups(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="a JSON request body (OpenAI-compatible or DashScope) or a batch file (.jsonl: custom_id, method, url, body)")
    g["output"].add_argument("--out", required=True, type=Path, help="folder for the fixed files (same names as the inputs, which are never touched) and preflight.jsonl")
    g["output"].add_argument("--url-prefix", default=None, help=f"the URL the --out folder will be uploaded to: fixed media are written to --out/{MEDIA_DIR}/ and referenced there instead of inlined as base64")
    g["output"].add_argument("--json", action="store_true", help="print each request's report line (JSON) on stdout")
    g["request"].add_argument("--form", choices=FORMS, default="http", help="how the requests will be sent (default http: file:// paths are inlined; dashscope_sdk keeps them)")
    g["target"].add_argument("--path-style", choices=options.PATH_STYLES, default="posix", help="file:// form for fixed files with --form dashscope_sdk")
    options._limit_options(g["target"])
    options._policy_options(g)
    remote = options.RemoteOptions()
    u = g["URLs"]
    u.add_argument("--allow-private", action="store_true", help="fetch URLs whose host is on a private, loopback or link-local address (refused by default: the service cannot reach them)")
    u.add_argument("--allow-private-host", action="append", default=[], metavar="HOST", help="vouch for one host name, address or network (CIDR) only; repeatable")
    u.add_argument("--timeout", type=float, default=remote.deadline_s, metavar="SECONDS", help=f"total deadline per URL (default {remote.deadline_s:g})")
    u.add_argument("--connect-timeout", type=float, default=remote.connect_timeout_s, metavar="SECONDS", help=f"connect timeout per request to a URL (default {remote.connect_timeout_s:g})")
    b = g["batch"]
    b.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes for batch files (default: the core count; 0 runs in this process)")
    b.add_argument("--item-timeout", type=float, default=options.ITEM_TIMEOUT_S, metavar="SECONDS", help=f"a line with no result after this long is rejected as source.timeout (default {options.ITEM_TIMEOUT_S:g})")
    b.add_argument("--progress", choices=("auto", "always", "never"), default="auto", help="progress line on stderr (default: when stderr is a terminal)")
    # a video part's own fps / max_frames govern it (the service's defaults when absent): no flags
    p.set_defaults(func=_cmd_preflight, fps=options.DEFAULT_LIMITS.fps_default, max_frames=options.DEFAULT_LIMITS.max_frames_default)
    return p


def _cmd_preflight(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run `preflight_file` over every FILE; print each request's line; the summary on stderr."""
    from ..preflight import REPORT_NAME, preflight_file
    from ..progress import Progress

    policy, limits, remote = options._policy(args), options._limits(args), options._remote(args)
    if args.url_prefix is not None and not args.url_prefix.strip():
        raise UsageError("--url-prefix is empty")
    options.check_item_timeout(args.item_timeout)
    files = [Path(f) for f in args.files]
    names: dict[str, Path] = {}
    for f in files:
        if not f.is_file():
            raise UsageError(f"{f}: no such file")
        if f.name in (REPORT_NAME, MEDIA_DIR):
            raise UsageError(f"{f}: --out {args.out}/{f.name} is where the report or the media go; rename the file")
        if f.name in names:
            raise UsageError(f"{f} and {names[f.name]} would both be written to {args.out / f.name}: give files with different names")
        if (args.out / f.name).exists() and os.path.samefile(f, args.out / f.name):
            raise UsageError(f"{f}: --out {args.out} is the input's own folder; the inputs are never touched")
        names[f.name] = f
    args.out.mkdir(parents=True, exist_ok=True)
    report_path = args.out / REPORT_NAME
    report_path.write_text("", encoding="utf-8")
    media_dir = args.out / MEDIA_DIR if args.url_prefix is not None or args.form == "dashscope_sdk" else None
    url_prefix = args.url_prefix.rstrip("/") + "/" + MEDIA_DIR if args.url_prefix is not None else None

    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    started = time.monotonic()
    progress = Progress(err, 0, enabled={"auto": None, "always": True, "never": False}[args.progress])

    def show(line: dict[str, Any]) -> None:
        progress.update(line["status"])
        if args.json:
            _emit(out, line)
        else:
            _print_line(out, line)

    for f in files:
        lines = _count_lines(f)
        progress.total += lines
        workers = 0 if lines <= 1 else max(0, min(args.workers, lines))
        runner = None
        if workers:
            from ..batch import run_local

            runner = functools.partial(run_local, workers=workers, item_timeout_s=args.item_timeout)
        summary = preflight_file(
            f, args.out / f.name, report_path=report_path, policy=policy, limits=limits, out_dir=media_dir, url_prefix=url_prefix, remote=remote,
            form=args.form, path_style=args.path_style, runner=runner, on_result=show,
        )  # fmt: skip
        counts.update(ready=summary.ready, rejected=summary.rejected, changed=summary.changed)
        codes.update(summary.codes)
        err.write(f"written: {printable(args.out / f.name)}\n")
    progress.close()
    err.write(f"report: {printable(report_path)}\n")
    elapsed = time.monotonic() - started
    total = counts["ready"] + counts["rejected"]
    err.write(f"{total} request{'s' if total != 1 else ''}: {counts['ready']} ready ({counts['changed']} fixed, {counts['ready'] - counts['changed']} unchanged), {counts['rejected']} rejected; {elapsed:.1f} s, {total / max(elapsed, 1e-9):.0f} requests/s\n")
    if codes:
        width = max(len(c) for c in codes)
        err.write(f"  {'code':<{width}}  count\n")
        for code, n in codes.most_common():
            err.write(f"  {code:<{width}}  {n:>5}\n")
    return commands.EXIT_OK if counts["rejected"] == 0 else commands.EXIT_NOT_ALL


def _count_lines(path: Path) -> int:
    """Requests in a file, for the progress line: its non-blank lines (1 for a JSON file). One read."""
    if path.suffix.lower() == ".json":
        return 1
    with open(path, "rb") as fp:
        return sum(1 for raw in fp if raw.strip())


def _print_line(out: TextIO, line: dict[str, Any]) -> None:
    """A request: status, where it is (and its custom_id), what changed; then each media
    reference that changed or failed with its actions or errors, and the request's own problems."""
    name = line["source"] + (f" ({line['custom_id']})" if line.get("custom_id") else "")
    media = line["media"]
    fixed = sum(1 for m in media if m["changed"])
    if line["status"] == "ready":
        what = f"fixed {fixed} of {len(media)} media" if line["changed"] else f"unchanged ({len(media)} media)"
    else:
        what = ""
    tokens = f"  ~{line['media_tokens']} media tokens (estimate)" if line.get("media_tokens") else ""
    out.write(f"{line['status']:<9} {printable(name)}  {what}{tokens}".rstrip() + "\n")
    for m in media:
        if not m["changed"] and m["status"] == "ready":
            continue
        where = f"messages[{m['message']}].content[{m['part']}]" + (f".video[{m['member']}]" if "member" in m else "")
        became = f" → {m['became']}" if m.get("became") else ""
        out.write(f"          {where} {m['slot']} {printable(m['source'])}{became}\n")
        if m["status"] == "ready":
            for a in m["actions"]:
                out.write(f"            {a['op']}: {printable(a['reason'])}\n")
        else:
            errors = [v for v in m["violations"] if v["severity"] == "error"]
            for v in errors:
                out.write(f"            {v['code']}: {printable(v['message'])}\n")
            if not errors and m.get("note"):
                out.write(f"            {printable(m['note'])}\n")
    for v in line["violations"]:
        out.write(f"          {v['severity']} {v['code']}: {printable(v['message'])}\n")
