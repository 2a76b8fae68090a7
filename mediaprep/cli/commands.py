"""The commands: `_cmd_probe`, `_cmd_check`, `_cmd_prepare`, `_cmd_frames`, each
`(args, out, err, stdin) -> exit code`, and the batch running check and prepare share.

The per-input work is `jobs.check_job` / `jobs.prepare_job` (the functions the worker pools run);
`frames` is `pipeline.extract_frames`. The batch engines, the manifest, the HTML report and the
request builder are imported when a command needs them."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO, cast

from ..errors import ProbeError, UsageError
from ..jobs import check_job, prepare_job, target_for
from ..models import Policy, ResultLine, Target, VideoInfo
from ..outputs import url_for, write_atomic
from ..pipeline import probe
from ..progress import Progress, summary
from . import options
from .options import _budget_arg, _check_max_side, _check_url_prefix, _inputs, _policy, _remote, _target
from .output import _emit, _emit_streamed, _print_line, _print_prepared_line, _summary
from .requests import _RequestWriter

EXIT_OK, EXIT_NOT_ALL, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace, TextIO, TextIO, TextIO], int]


def _cmd_probe(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    target = _target(args)
    failed = 0
    counts: Counter[str] = Counter()
    for item in _inputs(args.inputs, stdin):
        try:
            info = probe(item, target=target_for(target, item, auto_transport=args.transport is None), remote=_remote(args))
        except ProbeError as exc:
            failed += 1
            counts["unreadable"] += 1
            v = exc.violation
            if args.json:
                _emit(out, ResultLine(source=item, kind="unknown", info=None, violations=[v.to_json()]))
            else:
                out.write(f"{'error':<9} {item}\n          {v.code}: {v.message}\n")
            continue
        counts["probed"] += 1
        kind = "video" if isinstance(info, VideoInfo) else "image"
        if args.json:
            _emit(out, ResultLine(source=item, kind=kind, info=info.to_json(), violations=[]))
        elif isinstance(info, VideoInfo):
            rot = f", rotation {info.rotation_deg}°" if info.rotation_deg else ""
            out.write(f"{'video':<9} {item}  {info.format} {info.codec} {info.width_px}×{info.height_px}, {info.duration_s:.3f} s ({info.duration_source}), fps {info.fps or 0:.3f}, {info.size_bytes} bytes{rot}\n")
        else:
            extra = f", orientation {info.orientation} ({info.orientation_source})" if info.orientation != 1 else ""
            frames = f", {info.frames} frames" if info.frames > 1 else ""
            out.write(f"{'image':<9} {item}  {info.format} {info.width_px}×{info.height_px} {info.mode}, {info.size_bytes} bytes{frames}{extra}\n")
    _summary(err, counts, Counter(), "input")
    return EXIT_NOT_ALL if failed else EXIT_OK


def _run(args: argparse.Namespace, items: list[str], job: Callable[[str], ResultLine], err: TextIO, *, ordered: bool = True) -> Iterator[tuple[int, str, ResultLine]]:
    """(index, item, line) for every input, from the engine --engine names: in input order, or with
    `ordered=False` as inputs finish (`index` is the position in `items`). Inputs run in worker
    processes, so --item-timeout holds for a single input too; only `--workers 0` runs them in this
    process."""
    from ..batch import run_local

    if getattr(args, "report", None) is not None and not args.report.absolute().parent.is_dir():
        raise UsageError(f"--report {args.report}: the folder {args.report.absolute().parent} does not exist")
    options.check_item_timeout(args.item_timeout)
    if args.engine == "ray":
        from ..ray_engine import run_ray

        with contextlib.redirect_stdout(err):  # Ray prints worker-death notices to stdout
            yield from run_ray(items, job, address=args.ray_address, num_cpus=args.workers or None, item_timeout_s=args.item_timeout, ordered=ordered)
        return
    workers = 0 if args.workers <= 0 else min(args.workers, len(items))
    yield from run_local(items, job, workers=workers, item_timeout_s=args.item_timeout, ordered=ordered)


def _command_line() -> list[str]:
    """This process's command line, as a user would type it (for the --out lock's holder record)."""
    argv = list(sys.argv) or ["mediaprep"]
    if Path(argv[0]).name in ("__main__.py", "mediaprep"):
        argv[0] = "mediaprep"
    return argv


def _progress(args: argparse.Namespace, err: TextIO, total: int) -> Progress:
    enabled = {"auto": None, "always": True, "never": False}[args.progress]
    return Progress(err, total, enabled=enabled)


def _write_report(path: Path, lines: Iterable[Mapping[str, Any]], out_dir: Path | None, err: TextIO) -> None:
    from ..report import write_report

    write_report(lines, path, out_dir=out_dir)
    err.write(f"report: {path}\n")


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
    from .. import manifest as mf

    target, policy = _target(args), _policy(args)
    _check_url_prefix(target.transport, args.url_prefix)
    args.out.mkdir(parents=True, exist_ok=True)
    with mf.lock_out_dir(args.out, command=_command_line()):  # one run at a time per --out
        return _prepare_locked(args, out, err, stdin, target, policy)


def _prepare_locked(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO, target: Target, policy: Policy) -> int:
    """prepare, holding the --out lock. Manifest lines are written as inputs finish (each with
    `index`, its position among the inputs); stdout keeps input order."""
    from .. import manifest as mf
    from ..resolve import label_for

    path = args.out / "manifest.jsonl"
    items = list(_inputs(args.inputs, stdin))
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    positions = list(range(len(items)))  # the input position of each entry of `todo`
    todo = items
    if args.resume:
        done = mf.load_done(path)
        removed = mf.remove_partials(args.out)
        todo, positions = [], []
        for position, item in enumerate(items):
            old = done.get(label_for(item))
            if mf.is_done(old, item, verify=args.verify_inputs):
                assert old is not None
                counts[old["status"]] += 1
                codes.update(v["code"] for v in old.get("violations", []))
            else:
                todo.append(item)
                positions.append(position)
        err.write(f"resume: {len(items) - len(todo)} of {len(items)} inputs already done" + (f"; {removed} partial files removed" if removed else "") + "\n")
    requests = _RequestWriter(args, target) if (args.request_out or args.batch_out) else None
    job = functools.partial(
        prepare_job, target=target, policy=policy, out_dir=args.out, url_prefix=args.url_prefix, remote=_remote(args),
        verify_inputs=args.verify_inputs, auto_transport=args.transport is None,
    )
    started = time.monotonic()
    progress = _progress(args, err, len(todo))
    fresh: dict[str, ResultLine] = {}
    unprinted: dict[int, ResultLine] = {}  # lines that finished before an earlier input: printed in input order
    next_print = 0
    with mf.ManifestWriter(path, append=args.resume) as writer:
        for n, item, line in _run(args, todo, job, err, ordered=False):
            line = cast(ResultLine, {"source": line.get("source", item), "index": positions[n], **line})
            writer.write(line)  # at once: a kill loses no finished input
            counts[line["status"]] += 1
            codes.update(v["code"] for v in line["violations"])
            progress.update(line["status"])
            if requests is not None:
                fresh[item] = mf.displayable(line)  # request files are UTF-8, whatever the names
            unprinted[n] = line
            while next_print in unprinted:
                ready = unprinted.pop(next_print)
                next_print += 1
                if args.json:
                    _emit(out, ready)
                else:
                    _print_prepared_line(out, ready)
    progress.close()
    err.write(f"manifest: {path}\n")
    if args.report:
        with open(path, encoding="utf-8") as manifest_lines:
            _write_report(args.report, (json.loads(raw) for raw in manifest_lines if raw.strip()), args.out, err)
    summary(err, counts, codes, elapsed_s=time.monotonic() - started)
    status = EXIT_OK if set(counts) <= {"ready"} else EXIT_NOT_ALL
    if requests is not None:
        earlier = mf.load_done(path) if args.resume else {}  # the manifest's lines, read back
        lines = [fresh.get(item) or earlier.get(label_for(item)) for item in items]
        if not requests.write([line for line in lines if line is not None], err):
            status = EXIT_NOT_ALL
    return status


def _cmd_frames(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from ..backends.contact_sheet import ContactSheet
    from ..budget import resolve_budget
    from ..parts import image_list_part
    from ..pipeline import extract_frames

    _check_url_prefix(args.transport, args.url_prefix)
    _check_max_side(args.max_side)
    target = _target(args)  # validates --model, --api/--transport and --limit as the other commands do
    budget = resolve_budget(_budget_arg(args.token_budget), target.model, reserve_tokens=args.token_reserve)
    extraction = extract_frames(args.video, fps=args.fps, max_frames=args.max_frames, max_side_px=args.max_side, target=target, token_budget=budget)
    frames: list[dict[str, Any]] = []
    violations = list(extraction.violations)
    if extraction.ok:
        args.out.mkdir(parents=True, exist_ok=True)
        sheet = ContactSheet(len(extraction.times_s)) if args.contact_sheet is not None else None
        try:
            for pic in extraction.pictures(target=target):
                name = f"frame_{pic.index:05d}.jpg"
                write_atomic(args.out / name, pic.data)
                frames.append({"file": name, "time_s": round(pic.time_s, 6), "pts_s": round(pic.pts_s, 6), "width_px": pic.size.width_px, "height_px": pic.size.height_px})
                if sheet is not None:
                    sheet.add(pic.time_s, pic.data)
        except ProbeError as exc:  # a frame past what check decodes does not decode: no list, no frames left
            violations.append(exc.violation)
            for f in frames:
                (args.out / f["file"]).unlink(missing_ok=True)
            frames = []
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
        "violations": [v.to_json() for v in violations],
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
    for v in violations:
        err.write(f"{v.code}: {v.message}\n")
    return EXIT_OK if extraction.ok and frames else EXIT_NOT_ALL


COMMANDS: dict[str, Command] = {"probe": _cmd_probe, "check": _cmd_check, "prepare": _cmd_prepare, "frames": _cmd_frames}
