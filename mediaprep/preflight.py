"""Preflight of whole requests: take request bodies users already have (OpenAI-compatible or
DashScope, a JSON file, or an OpenAI batch file of JSON lines) and make them requests the service
accepts.

    result = preflight({"model": "kimi-k2.6", "messages": [...]})      # or a JSON file's path
    result.status, result.changed, result.body                         # "ready", True, the fixed body
    [r.to_json() for r in result.media]                                # what was found, what was done
    preflight_file("batch.jsonl", "out/batch.jsonl", report_path="out/preflight.jsonl")

For each request: every media reference in every message (OpenAI: `image_url.url`,
`video_url.url`, `video` lists; DashScope: `image`, `video` as a string or a list) is checked
against the request's own model (`body["model"]`), API (the body's shape) and transport (a data URL
travels as base64, an http(s) URL as a URL, `file://` as a path), and fixed with `pipeline.prepare`
under the caller's `Policy`; the part's URL(s) are replaced in place (a split image becomes several
parts; an image list stays one part; a video fixed into an image list changes the part's kind), in
the request's dialect (`parts`). Then the request's model rules and token total are checked
(`request.request_violations`, with the media estimate after fixing).

Decisions:

- **Nothing changed → the same bytes.** A request whose media all pass through unchanged is written
  as its original text (line or file), never re-serialised; `preflight(dict)` returns the same dict.
- **A rejected request is written as it was** (in a batch file, in its place), and the report says
  why: a reference that cannot be fixed, a model rule, the token total, or a request that cannot be
  read (bad JSON, no body, no messages, an unknown model — `errors`, since those are not media
  violations and the closed code set has no code for them).
- **Transport of what is fixed.** Inline (data URL) and `file://` inputs become base64 data URLs
  (within the base64 caps) — `file://` always, since file paths work only through the DashScope
  SDKs (`form="dashscope_sdk"` keeps them, with fixed files written to `out_dir`); an http(s) URL
  that is ok is kept as it is (nothing downloaded); a fixed one becomes base64, as `prepare` does
  without a place to publish. With `url_prefix` (and `out_dir`, the folder that will be uploaded
  there) every fixed media is written to `out_dir` and referenced by its URL instead.
- **Per-part settings.** A video part's own `fps` (and DashScope `max_frames`) is what it is checked
  with (the service's defaults when absent); an image list's members are checked as images (a
  member is never split into tiles nor turned into a list: `aspect_ratio="split"` pads there,
  `animated="frames"` keeps the first frame), and the list as a whole must have 4 to 2000 members
  and a valid fps.
- **URLs that are not media transports** (`oss://`, a bare path) are left as they are, reported as
  not checked.

Costs: a reference costs what `prepare` costs for it (a check; for a fix, one decode and a bounded
number of encodes; an http(s) URL is read through Range requests and downloaded only when it needs
a fix). A data URL given with `url_prefix` that needs a fix is prepared twice (once to find out,
once to publish). The request itself costs one walk over its messages and, when something changed,
one JSON serialisation.

Batch files are processed one line per job (`line_job`, picklable); `preflight_file` runs the jobs
through the runner it is given (the CLI passes `batch.run_local`: a process pool in which one line's
crash or hang costs that line only) or in this process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from .codes import violation
from .errors import UsageError
from .models import Action, Policy, Prepared, ResultLine, Size, Source, Status, Target, Violation
from .outputs import atomic_file
from .request import _FORM_API, FORMS, Form, prepared_tokens, request_violations, resolve_model
from .resolve import label_for, resolve
from .rules import DEFAULT_LIMITS, Api, Limits
from .sampling import validate as validate_sampling
from .tokens import estimate_frames

if TYPE_CHECKING:
    from .models import PathStyle
    from .remote import RemoteOptions

Slot = Literal["image", "video", "image_list"]  # what a part declares: an image, a video file, an image list
Transport = Literal["base64", "url", "path"]
RequestStatus = Literal["ready", "rejected"]

REPORT_NAME = "preflight.jsonl"
_PASS = "passthrough"


# --------------------------------------------------------------------------------------------------
# values


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaRecord:
    """One media reference of a request: where it was, what it was, the verdict, what was done.

    `message`/`part` index the request's messages and that message's content list as given;
    `member` indexes an image list's URLs. `verdict` is the reference's check status (None when it
    was not checked); `status` says whether it can be sent (as it was or fixed); `changed` whether
    the request that is written carries it fixed (in a rejected request, which is written as it was,
    it says what the fix would be); `sent_as` is the transport of what is sent when it changed;
    `tokens` is the estimate of what is sent (image lists: the list's estimate, on its first
    member's record)."""

    message: int
    part: int
    member: int | None = None
    slot: Slot
    source: str  # the URL as given (a data URL shortened to its header and length)
    transport: Transport | Literal["other"]
    kind: str = "unknown"  # image / video / unknown, from the bytes
    verdict: Status | None = None
    status: RequestStatus
    changed: bool = False
    sent_as: Transport | None = None
    became: str | None = None  # image / images / video / image_list, when the part's kind or count changed
    actions: tuple[Action, ...] = ()
    violations: tuple[Violation, ...] = ()
    outputs: tuple[str, ...] = ()  # files written under out_dir (paths relative to it)
    tokens: int | None = None
    info: dict[str, Any] | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "part": self.part}
        if self.member is not None:
            out["member"] = self.member
        out.update(
            slot=self.slot,
            source=self.source,
            transport=self.transport,
            kind=self.kind,
            verdict=self.verdict,
            status=self.status,
            changed=self.changed,
        )
        if self.sent_as is not None:
            out["sent_as"] = self.sent_as
        if self.became is not None:
            out["became"] = self.became
        out["actions"] = [a.to_json() for a in self.actions]
        out["violations"] = [v.to_json() for v in self.violations]
        if self.outputs:
            out["outputs"] = list(self.outputs)
        out["tokens"] = self.tokens
        if self.info is not None:
            out["info"] = self.info
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PreflightResult:
    """The verdict on one request, and the request to send.

    `body` is the request body to send: fixed when `changed`, else the body as given (the same
    object for a dict input); None when the input was not a request at all. `line` is the whole
    batch-file object (`custom_id`, `method`, `url`, `body`) when the input was one. `text` is the
    JSON text to write: the original text, byte for byte, unless the request changed."""

    source: str  # "<body>", the file's path, or "path:line" for a batch line
    index: int | None = None  # the request's position in its batch file (0-based, blank lines skipped)
    line_no: int | None = None  # its line number (1-based) in a batch file
    custom_id: str | None = None
    api: Api | None = None
    model: str | None = None
    status: RequestStatus
    changed: bool = False
    body: dict[str, Any] | None = field(default=None, repr=False)
    line: dict[str, Any] | None = field(default=None, repr=False)
    text: str | None = field(default=None, repr=False)
    media: tuple[MediaRecord, ...] = ()
    violations: tuple[Violation, ...] = ()  # the request's own: model rules, token total, image-list rules
    errors: tuple[str, ...] = ()  # why it could not be read as a request (each also a `request.malformed` violation)
    media_tokens: int | None = None  # the media's estimate after fixing (text not included)

    @property
    def ok(self) -> bool:
        return self.status == "ready"

    @property
    def codes(self) -> tuple[str, ...]:
        """Every violation code, the request's and its media's, in order."""
        return tuple(v.code for v in self.violations) + tuple(v.code for r in self.media for v in r.violations)

    def to_json(self) -> dict[str, Any]:
        """The report line (never the body: it may hold megabytes of base64)."""
        out: dict[str, Any] = {"source": self.source}
        if self.line_no is not None:
            out["line"] = self.line_no
        if self.index is not None:
            out["index"] = self.index
        out.update(
            custom_id=self.custom_id,
            api=self.api,
            model=self.model,
            status=self.status,
            changed=self.changed,
            media=[r.to_json() for r in self.media],
            violations=[v.to_json() for v in self.violations],
            errors=list(self.errors),
            media_tokens=self.media_tokens,
        )
        return out

    def dumps(self, *, indent: int | None = None) -> str:
        """The text to write: `text` when known (the original when nothing changed), else the
        request (batch line or body) as compact JSON (or indented). Costs one serialisation."""
        if self.text is not None:
            return self.text
        obj = self.line if self.line is not None else self.body
        if indent is not None:
            return json.dumps(obj, ensure_ascii=False, indent=indent)
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSummary:
    """What `preflight_file` did: request counts, and the violation codes seen."""

    path: str
    out_path: str
    kind: Literal["json", "jsonl"]
    requests: int
    ready: int
    rejected: int
    changed: int
    codes: dict[str, int]

    @property
    def ok(self) -> bool:
        return self.rejected == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything a request's preflight depends on besides the request (picklable: a batch job
    carries it to its workers)."""

    policy: Policy = Policy()
    limits: Limits = DEFAULT_LIMITS
    out_dir: Path | None = None
    url_prefix: str | None = None
    remote: RemoteOptions | None = None
    form: Form = "http"
    path_style: PathStyle = "posix"

    @classmethod
    def of(cls, *, policy: Policy | None, limits: Limits | None, out_dir: str | os.PathLike[str] | None, url_prefix: str | None, remote: RemoteOptions | None, form: Form, path_style: PathStyle) -> Settings:
        """The settings of a `preflight` / `preflight_file` call (None: the defaults)."""
        return cls(policy=policy or Policy(), limits=limits or DEFAULT_LIMITS, out_dir=Path(out_dir) if out_dir is not None else None, url_prefix=url_prefix, remote=remote, form=form, path_style=path_style)

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise UsageError(f"form {self.form!r} is not one of {', '.join(FORMS)}")
        if self.url_prefix is not None and self.out_dir is None:
            raise UsageError("url_prefix needs out_dir: fixed media are written there, to be uploaded to url_prefix")


# --------------------------------------------------------------------------------------------------
# the library's entry points


def preflight(
    body_or_path: Mapping[str, Any] | str | os.PathLike[str],
    *,
    policy: Policy | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    url_prefix: str | None = None,
    remote: RemoteOptions | None = None,
    limits: Limits | None = None,
    form: Form = "http",
    path_style: PathStyle = "posix",
) -> PreflightResult:
    """Check one request and fix what can be fixed. `body_or_path`: a request body (either
    dialect) or a batch-file line (`{"custom_id", "method", "url", "body"}`) as a dict, or the path
    of a JSON file holding one. Never raises for a bad request (the result says why); raises
    `UsageError` for misuse (url_prefix without out_dir, an unknown form) and `OSError` when the
    file cannot be read. Costs what `prepare` costs per media reference (see the module docstring)."""
    settings = Settings.of(policy=policy, limits=limits, out_dir=out_dir, url_prefix=url_prefix, remote=remote, form=form, path_style=path_style)
    if isinstance(body_or_path, Mapping):
        return preflight_object(body_or_path, settings=settings, source="<body>")
    path = Path(body_or_path)
    return preflight_text(path.read_bytes(), settings=settings, source=str(path))


def _where(source: str, line_no: int | None) -> str:
    """How a request is named in a violation: a batch line's source already ends in `:line`."""
    return source if line_no is None or source.endswith(f":{line_no}") else f"{source}:{line_no}"


def _malformed(why: str, *, source: str, line_no: int | None = None, **fields: Any) -> PreflightResult:
    """A body or line that is not a request: rejected, with its `request.malformed` violation."""
    v = violation("request.malformed", source=_where(source, line_no), observed=why)
    return PreflightResult(source=source, line_no=line_no, **fields, status="rejected", errors=(why,), violations=(v,))


async def apreflight(body_or_path: Mapping[str, Any] | str | os.PathLike[str], **options: Any) -> PreflightResult:
    """`preflight` for asyncio servers: runs on a worker thread (`asyncio.to_thread`), so the event
    loop keeps serving while the request's media are read and fixed. Takes `preflight`'s options."""
    return await asyncio.to_thread(preflight, body_or_path, **options)


def preflight_text(raw: bytes | str, *, settings: Settings, source: str, index: int | None = None, line_no: int | None = None) -> PreflightResult:
    """One request given as JSON text (a file's contents or a batch line). Costs one parse, then
    what `preflight_object` costs."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8")
        except UnicodeDecodeError as exc:
            return _malformed(f"the text is not UTF-8 ({exc})", source=source, index=index, line_no=line_no)
        original = raw.decode("utf-8", errors="surrogateescape")
    else:
        text = original = raw
    try:
        obj = json.loads(text)
    except ValueError as exc:
        hint = "; one request per line is a batch file: use preflight_file" if line_no is None and sum(1 for t in text.splitlines() if t.strip()) > 1 else ""
        return _malformed(f"not JSON: {exc}{hint}", source=source, index=index, line_no=line_no, text=original)
    result = preflight_object(obj, settings=settings, source=source, index=index, line_no=line_no)
    fields: dict[str, Any] = {"text": original}
    if result.changed and line_no is None and "\n" in text.strip():
        fields["text"] = json.dumps(result.line if result.line is not None else result.body, ensure_ascii=False, indent=2) + ("\n" if text.endswith("\n") else "")
    elif result.changed:
        fields["text"] = None  # dumps() serialises it
    return dataclasses.replace(result, **fields)


def preflight_object(obj: Any, *, settings: Settings, source: str, index: int | None = None, line_no: int | None = None) -> PreflightResult:
    """One request as parsed JSON: a body, or a batch line holding one. Costs what `prepare` costs
    per media reference, one walk over the messages, and a copy of the containers that change."""
    base: dict[str, Any] = {"source": source, "index": index, "line_no": line_no}

    def unreadable(why: str, **more: Any) -> PreflightResult:
        return _malformed(why, **base, **more)

    if not isinstance(obj, Mapping):
        return unreadable(f"a request is a JSON object, not {_json_type(obj)}")
    envelope: Mapping[str, Any] | None = None
    body: Any = obj
    if "messages" not in obj and "input" not in obj and ("body" in obj or "custom_id" in obj):
        envelope = obj
        base["custom_id"] = _custom_id(obj.get("custom_id"))
        if "body" not in obj:
            return unreadable("the batch line has no body", line=dict(obj))
        body = obj["body"]
        if not isinstance(body, Mapping):
            return unreadable(f"the batch line's body is {_json_type(body)}, not a JSON object", line=dict(obj))
    api, messages, why = _shape(body)
    if why is not None:
        return unreadable(why, body=_as_dict(body), line=_as_dict(envelope))
    assert api is not None and messages is not None
    model = body.get("model")
    if not isinstance(model, str):
        return unreadable("the request has no 'model' string", api=api, body=_as_dict(body), line=_as_dict(envelope))
    try:
        info = resolve_model(model)
    except UsageError as exc:
        return unreadable(str(exc), api=api, model=model, body=_as_dict(body), line=_as_dict(envelope))
    base.update(api=api, model=model)

    # media for a model that cannot take it (retired, text-only) is not worth a look: the request's
    # own violations say why, once
    blocked = None if info.takes_media and info.retired_on is None else f"not checked: {model} cannot take media (the request's violations say why)"
    walk = _walk(messages, api=api, model=model.removeprefix("kimi/"), settings=settings, blocked=blocked)
    changed = walk.new_messages is not None
    fixed_body: Mapping[str, Any] = _with_messages(body, api, walk.new_messages) if walk.new_messages is not None else body
    problems = list(walk.violations) + [violation("request.malformed", source=_where(source, line_no), observed=e) for e in walk.errors]
    problems.extend(request_violations(fixed_body, api=api, media_tokens=walk.tokens, form=_form_for(settings.form, api)))
    rejected = bool(walk.errors) or any(r.status == "rejected" for r in walk.records) or any(v.severity == "error" for v in problems)
    if rejected:  # written as it was; the records say what a fix would have done
        return PreflightResult(
            **base, status="rejected", body=_as_dict(body), line=_as_dict(envelope), media=walk.records, violations=tuple(problems), errors=walk.errors, media_tokens=walk.tokens
        )
    line = _as_dict(envelope)
    if changed and envelope is not None:
        line = {**envelope, "body": fixed_body}
    return PreflightResult(
        **base, status="ready", changed=changed, body=_as_dict(fixed_body), line=line, media=walk.records, violations=tuple(problems), media_tokens=walk.tokens
    )


# --------------------------------------------------------------------------------------------------
# files: one JSON request, or a batch file of JSON lines

Runner = Callable[[Iterable[str], Callable[[str], ResultLine]], Iterator[tuple[int, str, ResultLine]]]


def preflight_file(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    report_path: str | os.PathLike[str] | None = None,
    policy: Policy | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    url_prefix: str | None = None,
    remote: RemoteOptions | None = None,
    limits: Limits | None = None,
    form: Form = "http",
    path_style: PathStyle = "posix",
    runner: Runner | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> FileSummary:
    """Preflight a JSON file (one request) or a batch file (JSON lines, `.jsonl`; also any file
    that is not one JSON document) into `out_path`: every line in input order, a fixed request
    where it changed, the original line byte for byte otherwise (rejected lines too; blank lines
    kept). `report_path` gets one JSON line per request (`PreflightResult.to_json()` plus `file`);
    `on_result` is called with each as it is done. `out_path` is written under a temporary name and
    renamed when complete.

    `runner(items, job)` runs the per-line jobs and yields `(index, item, result)` in input order —
    `functools.partial(batch.run_local, workers=N, item_timeout_s=T)` for a process pool; by default
    each line runs in this process, one after another, an exception costing that line only.
    Costs: one pass over the file to find the lines, one `line_job` per request (each reads its own
    line back), and one pass writing the output."""
    settings = Settings.of(policy=policy, limits=limits, out_dir=out_dir, url_prefix=url_prefix, remote=remote, form=form, path_style=path_style)
    src, dest = Path(path), Path(out_path)
    if _same_file(src, dest):
        raise UsageError(f"{dest}: the output would overwrite the input (inputs are never touched)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    kind = _file_kind(src)
    counts: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    report = open(report_path, "a", encoding="utf-8") if report_path is not None else None

    def record(line: dict[str, Any]) -> None:
        line = {"file": str(src), **line}
        counts[line["status"]] += 1
        if line.get("changed"):
            counts["changed"] += 1
        codes.update(v["code"] for v in line.get("violations", []))
        codes.update(v["code"] for m in line.get("media", []) for v in m.get("violations", []))
        if report is not None:
            report.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            report.flush()
        if on_result is not None:
            on_result(line)

    try:
        # written under an exclusive, unpredictable temporary name, then renamed (outputs.atomic_file)
        with atomic_file(dest) as out:
            if kind == "json":
                result = preflight_text(src.read_bytes(), settings=settings, source=str(src))
                out.write(result.dumps().encode("utf-8", errors="surrogateescape"))
                record(result.to_json())
            else:
                _preflight_lines(src, out, settings=settings, runner=runner or _in_process, record=record)
    finally:
        if report is not None:
            report.close()
    return FileSummary(
        path=str(src), out_path=str(dest), kind=kind, requests=counts["ready"] + counts["rejected"], ready=counts["ready"], rejected=counts["rejected"], changed=counts["changed"], codes=dict(codes)
    )


def line_job(item: str, *, path: str, settings: Settings) -> ResultLine:
    """One batch line (`item` = "line_no:offset:length" in `path`), as its report line plus `text`:
    the fixed line to write, or None when the original line stands. Picklable through
    `functools.partial`; the worker reads its own line, so only the fixed text crosses the pipe."""
    line_no, offset, length = (int(x) for x in item.split(":"))
    with open(path, "rb") as fp:
        fp.seek(offset)
        raw = fp.read(length)
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    result = preflight_text(raw, settings=settings, source=f"{path}:{line_no}", index=None, line_no=line_no)
    out = result.to_json()
    out["text"] = result.dumps() if result.changed else None
    return cast(ResultLine, out)


def _preflight_lines(src: Path, out: IO[bytes], *, settings: Settings, runner: Runner, record: Callable[[dict[str, Any]], None]) -> None:
    spans: list[tuple[int, int, int]] = []  # (offset, length with its line ending, length without)
    requests: list[int] = []  # the spans that hold a request (not blank)
    with open(src, "rb") as fp:
        offset = 0
        for raw in fp:
            content = raw[:-1] if raw.endswith(b"\n") else raw
            content = content[:-1] if content.endswith(b"\r") else content
            if content.strip():
                requests.append(len(spans))
            spans.append((offset, len(raw), len(content)))
            offset += len(raw)
    items = [f"{n + 1}:{spans[n][0]}:{spans[n][2]}" for n in requests]
    job = functools.partial(line_job, path=str(src), settings=settings)
    written = 0  # spans copied so far
    with open(src, "rb") as original:

        def span(n: int) -> bytes:
            offset, length, _ = spans[n]
            original.seek(offset)
            return original.read(length)

        for index, item, result in runner(items, job):
            n = requests[index]
            while written < n:  # blank lines before this request, as they were
                out.write(span(written))
                written += 1
            raw = span(n)
            line = dict(result)
            text = line.pop("text", None)
            if text is not None:
                out.write(text.encode("utf-8", errors="surrogateescape") + raw[spans[n][2] :])
            else:
                out.write(raw)
            written = n + 1
            if "line" not in line:  # the runner's own failure line (a crash, a timeout): name the line
                line = _failed_line(line, src, n, item)
            line["index"] = index
            record(line)
        while written < len(spans):
            out.write(span(written))
            written += 1


def _failed_line(line: dict[str, Any], src: Path, n: int, item: str) -> dict[str, Any]:
    """The report line of a line whose job failed (`source.crashed`, `source.timeout`), named by
    its place in the file rather than by the job's item."""
    label = f"{src}:{n + 1}"
    violations = [{**v, "message": str(v.get("message", "")).replace(item, label, 1)} for v in line.get("violations", [])]
    return {
        "source": label,
        "line": n + 1,
        "custom_id": None,
        "api": None,
        "model": None,
        "status": "rejected",
        "changed": False,
        "media": [],
        "violations": violations,
        "errors": [],
        "media_tokens": None,
    }


def _in_process(items: Iterable[str], job: Callable[[str], ResultLine]) -> Iterator[tuple[int, str, ResultLine]]:
    """The default runner: each line in this process, in order."""
    for index, item in enumerate(items):
        try:
            result = job(item)
        except Exception as exc:  # isolation is the point: a bug on one line costs that line, not the file
            v = violation("source.crashed", source=item, observed=f"{type(exc).__name__}: {exc}")
            result = cast(ResultLine, {"source": item, "status": "rejected", "violations": [v.to_json()]})
        yield index, item, result


def _file_kind(path: Path) -> Literal["json", "jsonl"]:
    """`.jsonl` is a batch file; `.json` one request; anything else a request when the whole file
    is one JSON object, else a batch file. Costs at most one parse of the file."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".json":
        return "json"
    try:
        with open(path, "rb") as fp:
            obj = json.loads(fp.read())
    except ValueError:
        return "jsonl"
    return "json" if isinstance(obj, dict) else "jsonl"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


# --------------------------------------------------------------------------------------------------
# the walk over a request's messages


@dataclass(frozen=True, slots=True, kw_only=True)
class _Walk:
    new_messages: list[Any] | None  # None: nothing changed
    records: tuple[MediaRecord, ...]
    violations: tuple[Violation, ...]
    errors: tuple[str, ...]
    tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class _Done:
    """One reference processed: its record, the parts that replace it (None: it stays), and the
    size of what is sent (image-list members: the list's estimate needs it)."""

    record: MediaRecord
    parts: tuple[dict[str, Any], ...] | None = None
    size: Size | None = None


def _walk(messages: list[Any], *, api: Api, model: str, settings: Settings, blocked: str | None = None) -> _Walk:
    """Every media part of every message: checked and fixed (`blocked`: only listed, rejected with
    that note). Returns the new messages (None when nothing changed), the records, the image lists'
    violations, what could not be read, and the media's token estimate."""
    records: list[MediaRecord] = []
    problems: list[Violation] = []
    errors: list[str] = []
    tokens = 0
    new_messages: list[Any] | None = None
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            errors.append(f"messages[{i}] is {_json_type(message)}, not a message object")
            continue
        content = message.get("content")
        if not isinstance(content, list):
            continue
        new_content: list[Any] | None = None
        for j, part in enumerate(content):
            found = _media_of(part, api)
            replacement: list[dict[str, Any]] | None = None
            if found is not None:
                slot, urls, why = found
                where = f"messages[{i}].content[{j}]"
                if why is not None:
                    errors.append(f"{where}: {why}")
                elif blocked is not None:
                    records.extend(_record(u, slot, i, j, k if slot == "image_list" else None, status="rejected", note=blocked) for k, u in enumerate(urls))
                elif slot == "image_list":
                    done, list_problems, list_tokens, new_part = _image_list(part, urls, i, j, api=api, model=model, settings=settings)
                    records.extend(done)
                    problems.extend(list_problems)
                    tokens += list_tokens
                    replacement = [new_part] if new_part is not None else None
                else:
                    one = _single(part, urls[0], slot, i, j, api=api, model=model, settings=settings)
                    records.append(one.record)
                    tokens += one.record.tokens or 0
                    replacement = list(one.parts) if one.parts is not None else None
            if replacement is not None and new_content is None:
                new_content = list(content[:j])
            if new_content is not None:
                new_content.extend(replacement if replacement is not None else [part])
        if new_content is not None:
            if new_messages is None:
                new_messages = list(messages)
            new_messages[i] = {**message, "content": new_content}
    return _Walk(new_messages=new_messages, records=tuple(records), violations=tuple(problems), errors=tuple(errors), tokens=tokens)


def _media_of(part: Any, api: Api) -> tuple[Slot, list[str], str | None] | None:
    """(slot, URLs, why it is malformed) of a media part; None for text and anything else."""
    if not isinstance(part, Mapping):
        return None
    value: Any
    if api == "openai":
        kind = part.get("type")
        if kind in ("image_url", "video_url"):
            holder = part.get(kind)
            value = holder.get("url") if isinstance(holder, Mapping) else holder
            slot: Slot = "image" if kind == "image_url" else "video"
        elif kind == "video":
            value = part.get("video")
            slot = "image_list" if isinstance(value, list) else "video"
        else:
            return None
    elif "image" in part:
        value, slot = part["image"], "image"
    elif "video" in part:
        value = part["video"]
        slot = "image_list" if isinstance(value, list) else "video"
    else:
        return None
    if slot == "image_list":
        bad = [k for k, v in enumerate(value) if not isinstance(v, str)]
        if bad or not value:
            return slot, [], f"an image list's members must be URL strings ({'empty list' if not value else f'member {bad[0]} is {_json_type(value[bad[0]])}'})"
        return slot, list(value), None
    if not isinstance(value, str):
        return slot, [], f"the {slot} URL is {_json_type(value)}, not a string"
    return slot, [value], None


def _part_fps(part: Mapping[str, Any], settings: Settings, *, api: Api, source: str) -> tuple[Policy, list[Violation]]:
    """The policy for a video part: its own fps (and DashScope max_frames), the service's defaults
    when absent; out-of-range values are the part's violations."""
    lim = settings.limits
    fps = part.get("fps", lim.fps_default)
    max_frames = part.get("max_frames", lim.max_frames_default) if api == "dashscope" else settings.policy.max_frames
    problems: list[Violation] = []
    if isinstance(fps, bool) or not isinstance(fps, (int, float)):
        problems.append(violation("frames.fps_out_of_range", source=source, field="fps", observed=fps, limit=f"[{lim.fps_min:g}, {lim.fps_max:g}]"))
        fps = lim.fps_default
    if isinstance(max_frames, bool) or not isinstance(max_frames, int):
        problems.append(violation("frames.max_frames_out_of_range", source=source, field="max_frames", observed=max_frames, limit=f"[1, {lim.max_frames_limit}]"))
        max_frames = lim.max_frames_default
    problems.extend(validate_sampling(float(fps), max_frames, lim, source=source))
    if problems:  # reported as the part's violations; the policy keeps values it can be built with
        return settings.policy, problems
    return dataclasses.replace(settings.policy, fps=float(fps), max_frames=max_frames), problems


def _single(part: Mapping[str, Any], url: str, slot: Slot, i: int, j: int, *, api: Api, model: str, settings: Settings) -> _Done:
    """An image or a video-file part: its one URL checked and fixed; the replacement parts when it changed."""
    policy = settings.policy
    if slot == "video":
        policy, problems = _part_fps(part, settings, api=api, source=label_for(url))
        if problems:
            return _Done(record=_record(url, slot, i, j, None, status="rejected", violations=tuple(problems)))
    done = _reference(url, slot, i, j, None, api=api, model=model, policy=policy, settings=settings)
    if done.parts is None:
        return done
    new = [_merged(part, p, api) for p in done.parts]
    return dataclasses.replace(done, parts=tuple(new))


def _image_list(part: Mapping[str, Any], urls: list[str], i: int, j: int, *, api: Api, model: str, settings: Settings) -> tuple[list[MediaRecord], list[Violation], int, dict[str, Any] | None]:
    """An image list: each member checked and fixed as an image, in place; the list's own rules
    (4–2000 members, fps) and its estimate. Returns (records, list violations, tokens, new part or None)."""
    where = f"messages[{i}].content[{j}]"
    lim = settings.limits
    policy, problems = _part_fps(part, settings, api=api, source=where)
    problems = [v for v in problems if v.code != "frames.max_frames_out_of_range"]  # a list has no max_frames
    if len(urls) < lim.image_list_min_frames:
        problems.append(violation("frames.too_few", source=where, field="frames", observed=len(urls), limit=lim.image_list_min_frames, remedy="add images, or send a video file"))
    if len(urls) > lim.image_list_max_frames:
        problems.append(violation("frames.too_many", source=where, field="frames", observed=len(urls), limit=lim.image_list_max_frames))
    member_policy = dataclasses.replace(
        policy,
        aspect_ratio="pad" if policy.aspect_ratio == "split" else policy.aspect_ratio,
        animated="first-frame" if policy.animated == "frames" else policy.animated,
    )
    done = [_reference(u, "image", i, j, k, api=api, model=model, policy=member_policy, settings=settings, member=True) for k, u in enumerate(urls)]
    sizes = [d.size for d in done if d.size is not None]
    records = [d.record for d in done]
    tokens = 0
    if sizes and not problems:  # the list's estimate, on its first member's record
        biggest = max(sizes, key=lambda s: s.pixels)
        tokens = estimate_frames(biggest, len(urls)).tokens
        records[0] = dataclasses.replace(records[0], tokens=tokens, note=f"the image list's estimate: {len(urls)} frames of at most {biggest}")
    if all(d.parts is None for d in done):
        return records, problems, tokens, None
    new_urls = [u if d.parts is None else _url_of(d.parts[0], api) for u, d in zip(urls, done)]
    new_part = dict(part)
    new_part["video"] = new_urls
    return records, problems, tokens, new_part


def _reference(url: str, slot: Slot, i: int, j: int, k: int | None, *, api: Api, model: str, policy: Policy, settings: Settings, member: bool = False) -> _Done:
    """One URL: prepared for the transport it travels by; unchanged when `prepare` passes it
    through as it was; else fixed (for the output transport) and its new parts."""
    transport = _transport_of(url)
    if transport is None:
        return _Done(record=_record(url, slot, i, j, k, status="ready", note="not an http(s), data: or file:// URL: left as it is, not checked"))
    keep_path = transport == "path" and _form_for(settings.form, api) == "dashscope_sdk"
    out_t: Transport = "url" if settings.url_prefix is not None else "path" if keep_path and settings.out_dir is not None else "base64"
    first_t: Transport = out_t if transport == "path" and not keep_path else transport
    publish = settings.url_prefix is not None or out_t == "path"
    label = label_for(url)
    if transport == "base64" and publish:  # output names come from labels: a data URL's must be unique
        label = f"{label[:-1]}, sha1 {hashlib.sha1(url.encode('utf-8', 'surrogateescape')).hexdigest()[:12]}>"
    try:
        source = resolve(url, label=label)
    except UsageError as exc:  # file://host/...: names no local file
        source = violation("source.not_found", source=label_for(url), observed=str(exc))
    if isinstance(source, Violation):
        return _Done(record=_record(url, slot, i, j, k, status="rejected", verdict="rejected", violations=(source,)))
    target = Target(model=model, api=api, transport=first_t, limits=settings.limits, path_style=settings.path_style)
    prepared = _attempt(source, target, settings, policy, slot=slot)
    extra: list[Action] = []
    if prepared is not None and prepared.status == "ready" and _passes(prepared):
        if transport == first_t and (transport == "path" or _url_of(prepared.parts[0], api) == url) and _kind_of(prepared.parts[0], api) == slot:
            return _Done(record=_from_prepared(prepared, url, slot, i, j, k, changed=False, api=api, policy=policy, settings=settings), size=_size_of(prepared))
        if transport == "base64" and first_t == "base64":
            extra.append(Action(op="encode", reason=_rewrite_reason(source, prepared)))
    if (prepared is None or (prepared.status == "ready" and not _passes(prepared))) and first_t != out_t and transport != "url":
        target = dataclasses.replace(target, transport=out_t)  # the fix goes where fixed media go
        prepared = _attempt(source, target, settings, policy, slot=slot)
        assert prepared is not None, "a base64 or url target never needs a second attempt"
    assert prepared is not None
    if transport == "path" and target.transport != "path":
        how = f"published under {settings.url_prefix}" if target.transport == "url" else "inlined as a base64 data URL"
        why = "file:// paths work only through the DashScope Python and Java SDKs" if not keep_path else "the fix needs a file and no out_dir was given"
        extra.append(Action(op="inline" if target.transport == "base64" else "publish", reason=f"{why}: {how}"))
    if prepared.status != "ready":
        return _Done(record=_from_prepared(prepared, url, slot, i, j, k, changed=False, api=api, policy=policy, settings=settings, extra=extra))
    if member and (len(prepared.parts) != 1 or _kind_of(prepared.parts[0], api) != "image"):
        v = violation("image.unreadable", source=prepared.source, observed=f"an image list takes images; this is {prepared.report.kind} media that would be sent as {_kind_of(prepared.parts[0], api) if prepared.parts else 'nothing'}")
        rec = _from_prepared(prepared, url, slot, i, j, k, changed=False, api=api, policy=policy, settings=settings, extra=extra)
        return _Done(record=dataclasses.replace(rec, status="rejected", violations=rec.violations + (v,)))
    sent_as = _transport_of(_url_of(prepared.parts[0], api)) or target.transport  # a fixed URL without url_prefix travels as base64
    record = _from_prepared(prepared, url, slot, i, j, k, changed=True, api=api, policy=policy, settings=settings, extra=extra, sent_as=sent_as)
    return _Done(record=record, parts=prepared.parts, size=_size_of(prepared))


def _attempt(source: Source, target: Target, settings: Settings, policy: Policy, *, slot: Slot) -> Prepared | None:
    """`prepare` for `target`: into `out_dir` when the output is published there (url, path);
    otherwise into a scratch folder deleted afterwards (a base64 output is in the part already).
    None when a path target cannot hold the fix (no out_dir): the caller inlines it instead."""
    from .pipeline import prepare  # the pipeline (Pillow, PyAV) loads when media is first met

    publish = target.transport == "path" or (target.transport == "url" and settings.url_prefix is not None)
    if publish and settings.out_dir is not None:
        return prepare(source, target=target, policy=policy, out_dir=settings.out_dir, url_prefix=settings.url_prefix, remote=settings.remote)
    if target.transport == "path":
        try:
            return prepare(source, target=target, policy=policy, out_dir=None, remote=settings.remote)
        except UsageError:  # the fix needs a file to point at, and there is no out_dir
            return None
    if slot == "image" and source.kind != "url":  # images need no scratch folder (prepare keeps them in memory)
        try:
            return prepare(source, target=target, policy=policy, out_dir=None, remote=settings.remote)
        except UsageError:  # it is a video that needs re-encoding into a file
            pass
    with tempfile.TemporaryDirectory(prefix="mediaprep-preflight-") as scratch:
        return prepare(source, target=target, policy=policy, out_dir=scratch, url_prefix=None, remote=settings.remote)


def _passes(prepared: Prepared) -> bool:
    return bool(prepared.parts) and all(a.op == _PASS for a in prepared.actions)


def _rewrite_reason(source: Source, prepared: Prepared) -> str:
    info = prepared.report.info
    mime = info.mime if info is not None else "?"
    declared = (source.declared_mime or "").lower()
    if declared != mime:
        return f"the data URL declares {source.declared_mime or 'no MIME type'} but holds {mime}: rewritten as data:{mime};base64"
    return f"the data URL is not in the canonical form data:{mime};base64,<payload>: rewritten (the bytes are unchanged)"


def _from_prepared(
    prepared: Prepared,
    url: str,
    slot: Slot,
    i: int,
    j: int,
    k: int | None,
    *,
    changed: bool,
    api: Api,
    policy: Policy,
    settings: Settings,
    extra: list[Action] | None = None,
    sent_as: Transport | None = None,
) -> MediaRecord:
    report = prepared.report
    became: str | None = None
    if changed and prepared.parts:
        kinds = [_kind_of(p, api) for p in prepared.parts]
        if len(kinds) > 1:
            became = f"{len(kinds)} images"
        elif kinds[0] != slot:
            became = kinds[0]
    tokens = prepared_tokens(prepared) if prepared.status == "ready" and k is None else None
    return _record(
        url,
        slot,
        i,
        j,
        k,
        status=prepared.status,
        verdict=report.status,
        kind=report.kind,
        changed=changed,
        sent_as=sent_as,
        became=became,
        actions=tuple(prepared.actions) + tuple(extra or ()),
        violations=prepared.violations,
        outputs=tuple(o.path for o in prepared.outputs if o.path is not None) if sent_as in ("url", "path") else (),
        tokens=tokens,
        info=report.info.to_json() if report.info is not None else None,
    )


def _record(url: str, slot: Slot, i: int, j: int, k: int | None, *, status: RequestStatus, **more: Any) -> MediaRecord:
    return MediaRecord(message=i, part=j, member=k, slot=slot, source=label_for(url), transport=_transport_of(url) or "other", status=status, **more)


def _size_of(prepared: Prepared) -> Size | None:
    if prepared.outputs:
        o = prepared.outputs[0]
        return Size(o.width_px, o.height_px)
    info = prepared.report.info
    return info.size if info is not None else None


# --------------------------------------------------------------------------------------------------
# parts and bodies (pure)


def _form_for(form: Form, api: Api) -> Form:
    """The form a request of `api` is sent in: an SDK form of the other API does not apply to it
    (a batch file may mix dialects), so it is sent over HTTP."""
    sdk_api = _FORM_API.get(form)
    return form if sdk_api in (None, api) else "http"


def _transport_of(url: str) -> Transport | None:
    head = url[:8].lower()
    if head.startswith("data:"):
        return "base64"
    if head.startswith(("http://", "https://")):
        return "url"
    if head.startswith("file://"):
        return "path"
    return None


def _kind_of(part: Mapping[str, Any], api: Api) -> str:
    """image / video / image_list, of a part `parts` made."""
    found = _media_of(part, api)
    return found[0] if found is not None else "other"


def _url_of(part: Mapping[str, Any], api: Api) -> str:
    found = _media_of(part, api)
    assert found is not None and found[1], "a part from mediaprep.parts carries a URL"
    return found[1][0]


def _merged(original: Mapping[str, Any], new: dict[str, Any], api: Api) -> dict[str, Any]:
    """The new part, keeping what the caller's part carried besides the media: for the same kind,
    the original with its URL (and fps, max_frames) replaced (so `detail` and other fields stay);
    for another kind, the new part plus the original's non-media top-level fields."""
    old_kind, new_kind = _kind_of(original, api), _kind_of(new, api)
    media_keys = {"type", "image_url", "video_url", "video", "image", "fps", "max_frames"}
    if old_kind != new_kind:
        return {**new, **{k: v for k, v in original.items() if k not in media_keys}}
    out = dict(original)
    url = _url_of(new, api)
    if api == "openai" and new_kind in ("image", "video"):
        key = "image_url" if new_kind == "image" else "video_url"
        holder = out.get(key)
        out[key] = {**holder, "url": url} if isinstance(holder, Mapping) else url
    elif api == "dashscope":
        out["image" if new_kind == "image" else "video"] = url
    else:
        out["video"] = new["video"]
    for k in ("fps", "max_frames"):
        if k in new:
            out[k] = new[k]
        elif k == "max_frames" and new_kind == "video":
            out.pop(k, None)
    return out


def _shape(body: Mapping[str, Any]) -> tuple[Api | None, list[Any] | None, str | None]:
    """The API by the body's shape: `messages` (OpenAI-compatible) or `input.messages` (DashScope)."""
    if isinstance(body.get("messages"), list):
        return "openai", body["messages"], None
    inp = body.get("input")
    if isinstance(inp, Mapping) and isinstance(inp.get("messages"), list):
        return "dashscope", inp["messages"], None
    return None, None, "the body has neither 'messages' (OpenAI-compatible) nor 'input.messages' (DashScope) as a list"


def _with_messages(body: Mapping[str, Any], api: Api, messages: list[Any]) -> dict[str, Any]:
    if api == "openai":
        return {**body, "messages": messages}
    return {**body, "input": {**body["input"], "messages": messages}}


def _as_dict(obj: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    return obj if isinstance(obj, dict) else dict(obj)


def _custom_id(value: Any) -> str | None:
    return value if isinstance(value, str) else None if value is None else json.dumps(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(type(value), type(value).__name__)


__all__ = ["apreflight", "FileSummary", "MediaRecord", "PreflightResult", "REPORT_NAME", "Settings", "line_job", "preflight", "preflight_file", "preflight_object", "preflight_text"]
