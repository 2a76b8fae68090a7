"""Request bodies and endpoints for Kimi on Model Studio (SPEC §4–§5). Pure: no I/O, no clock, no env.

    ready = mediaprep.prepare("photo.jpg", target=mediaprep.Target(api="openai"))
    req = build_request(model="kimi-k2.6", api="openai", content=[ready, "What is in the picture?"],
                        region="ap-southeast-1", workspace_id="ws-123")
    req.raise_for_violations()          # model rules, file:// over HTTP, the token total: data until asked
    client = openai.OpenAI(base_url=req.base_url, api_key=key)
    client.chat.completions.create(**req.openai_kwargs())

One `BuiltRequest`, several forms, one per client: `http()` (URL, headers, JSON body, for
`requests`/`httpx`), `openai_kwargs()` (for `client.chat.completions.create`), `dashscope_kwargs()`
(for `dashscope.MultiModalConversation.call`), each with `base_url` for the client's constructor.
`body` is the HTTP body; the SDK forms put exactly that body on the wire (tests/test_wire.py).

Every number (bases, paths, defaults, retirement dates, input limits) is read from `rules`; content
parts are those of `parts`, in the API's dialect. `fps` and `max_frames` live on the video parts and
are never moved into the request parameters. The API key is never put into `headers`: the caller adds
`Authorization: Bearer $DASHSCOPE_API_KEY` (`rules.API_KEY_ENV`).

Decisions, with the reading they rest on:

- **DashScope endpoint.** The multimodal path when the model takes media *or* the messages carry
  media; the text path otherwise, that is only for the text-only models (the retired two). Text-only
  content for a multimodal model goes to the multimodal path: the seed page's DashScope quick start
  calls kimi-k2.6 with "Who are you?" on `multimodal-generation`, "which supports both text and
  multimodal input". Text there stays a list of `{"text": ...}` parts (SPEC §4, the page's Java
  example); on the text path, whose messages take a string, a user message made only of plain text
  parts is joined into one string (parts joined by a newline).
- **enable_thinking.** Written for every model that has a default in the table (kimi-k2.7-code:
  true; kimi-k2.6 / kimi-k2.5: false) even when the caller set nothing, so the request says what the
  service will do; for the others only when the caller set it. OpenAI-compatible bodies carry it at
  the top level (the OpenAI SDK sends it through `extra_body`: `openai_kwargs()` puts it there),
  DashScope bodies in `parameters`. `False` for a model that always thinks is written as asked and
  reported as `request.thinking_always_on`; `True` for a model without thinking
  (Moonshot-Kimi-K2-Instruct) as `request.thinking_unsupported`.
- **Sampling defaults.** With `apply_defaults=True` (the default) the model's SPEC §5 defaults for
  the thinking mode in force (temperature, top_p, presence_penalty) are written for each key the
  caller left unset, so the body is explicit; a caller's value always wins. `None` means unset.
- **Streaming.** `stream=True`: the OpenAI-compatible body gets `"stream": true` and
  `"stream_options": {"include_usage": true}` (so the last chunk carries the usage); on DashScope
  `stream` is not a body field but the headers `X-DashScope-SSE: enable` and
  `Accept: text/event-stream` (what the DashScope SDK sends), and `parameters` get
  `result_format: "message"` and `incremental_output: true`, as the seed page's streaming samples
  (Python SDK and curl) send them. Caller values win. Without streaming, DashScope bodies carry no
  `result_format`: the page's multimodal samples (Python and curl) send none — only its text quick
  start does — and the multimodal endpoint answers in the message format anyway.
- **file://.** Only the DashScope Python/Java SDKs read `file://` parts (they upload them). Such a
  part is `request.file_path_over_http` in `violations`: it counts for the HTTP and OpenAI SDK forms
  and not for the DashScope SDK form (`violations_for("dashscope_sdk")`).
- **Token total.** The estimate of all media plus all text (`estimate_text`, a high estimate) is
  checked against the model's input limit for the thinking mode in force (`request.over_token_limit`).
  A `Prepared` in `content` brings its own estimate (`prepared_tokens`); a plain dict part carries no
  size, so it counts 0 unless the caller gives `media_tokens=`, and `estimate_basis` says how many
  were not counted.
- **Workspace.** A region whose host holds `{WorkspaceId}` without a workspace id is not an error:
  the URL keeps the placeholder and `notes` says so (the command line reads `--workspace-id` or
  `DASHSCOPE_WORKSPACE_ID`; this module reads no environment).
- **Model rules** are violations in `BuiltRequest.violations`, never raised by `build_request`, so a
  batch can report them; `raise_for_violations()` turns them into a `RequestError`. Misuse (an unknown
  region, API or model, a malformed workspace id, parts in the other dialect, a part breaking
  `parts.validate_part`, a rejected `Prepared`) raises `UsageError` at once.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple

from .codes import violation
from .errors import UsageError
from .models import Prepared, Size, TokenEstimate, Violation
from .parts import text_part, validate_part
from .rules import (
    APIS,
    DASHSCOPE_MULTIMODAL_PATH,
    DASHSCOPE_TEXT_PATH,
    DEFAULT_REGION,
    MODELS,
    OPENAI_CHAT_PATH,
    REGIONS,
    Api,
    ModelInfo,
    Region,
)
from .tokens import estimate_frames, estimate_image, estimate_text

MODEL_PREFIX = "kimi/"  # Model Studio also lists kimi-k2.7-code as "kimi/kimi-k2.7-code"
WORKSPACE_ID_ENV = "DASHSCOPE_WORKSPACE_ID"  # read by the command line, never here
# A workspace id becomes a DNS label of the host; the DashScope SDK checks the same pattern.
_WORKSPACE_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
_WORKSPACE_PLACEHOLDER = "{WorkspaceId}"
_DASHSCOPE_MEDIA_KEYS = ("image", "video", "audio")
_PART_FIELDS = ("fps", "max_frames")  # belong on the video parts, never in the request parameters

# The keywords `openai.OpenAI().chat.completions.create` takes for the Chat Completions API (a stable
# subset of its signature; tests/test_wire.py checks each is in the installed SDK's). Every other body
# field (enable_thinking, preserve_thinking, …) goes through `extra_body`.
OPENAI_CREATE_PARAMS: tuple[str, ...] = (
    "model",
    "messages",
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "metadata",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "reasoning_effort",
    "response_format",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "web_search_options",
)

ContentItem = str | Mapping[str, Any] | Prepared
Form = Literal["http", "openai_sdk", "dashscope_sdk"]
FORMS: tuple[str, ...] = ("http", "openai_sdk", "dashscope_sdk")
_FORM_API: dict[str, str] = {"openai_sdk": "openai", "dashscope_sdk": "dashscope"}
# Violations a form does not count: the DashScope SDK uploads file:// parts itself.
_FORM_EXEMPT: dict[str, frozenset[str]] = {"dashscope_sdk": frozenset({"request.file_path_over_http"})}


class RequestError(UsageError):
    """A request that breaks a model rule; `violations` holds what `BuiltRequest` reported."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        lines = "; ".join(v.message for v in self.violations)
        super().__init__(f"{len(self.violations)} problem(s) with the request: {lines}")


class HttpForm(NamedTuple):
    """What `requests`/`httpx` POST: `url, headers, body = built.http()`. No credentials inside."""

    url: str
    headers: dict[str, str]
    json: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltRequest:
    """The URL, JSON body and headers to POST, the rules it breaks (as data), the token estimate, and
    the forms each client takes (`http()`, `openai_kwargs()`, `dashscope_kwargs()`, `base_url`).

    `headers` hold no credentials. `violations` are those of the HTTP form (every rule);
    `violations_for(form)` those that count for one form. `notes` are plain-text warnings that are
    no violation (a URL still holding `{WorkspaceId}`). The repr shows the URL and counts, never the
    payload.
    """

    api: Api
    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    violations: tuple[Violation, ...] = ()
    notes: tuple[str, ...] = ()
    estimate: TokenEstimate | None = None  # media + text, an estimate
    uncounted_parts: int = 0  # media parts the estimate could not count (plain dicts carry no size)
    stream: bool = False

    method: ClassVar[str] = "POST"

    @property
    def ok(self) -> bool:
        """True when no rule is broken at error severity for the HTTP form. Pure."""
        return not any(v.severity == "error" for v in self.violations)

    @property
    def estimate_basis(self) -> str:
        """How the token total was made, and how many parts it could not count. Pure."""
        return self.estimate.basis if self.estimate is not None else "no estimate"

    def violations_for(self, form: Form = "http") -> tuple[Violation, ...]:
        """The violations that count when the request goes through `form` ("http", "openai_sdk",
        "dashscope_sdk"); `file://` parts do not count for "dashscope_sdk". Pure.

            built.violations_for("dashscope_sdk")   # () for a request whose only problem is file://
        """
        _check_form(form, self.api)
        exempt = _FORM_EXEMPT.get(form, frozenset())
        return tuple(v for v in self.violations if v.code not in exempt)

    def raise_for_violations(self, form: Form = "http") -> BuiltRequest:
        """Raise `RequestError` listing every error-severity violation of `form`; return self
        otherwise. Pure.

            built.raise_for_violations("dashscope_sdk").dashscope_kwargs()
        """
        errors = [v for v in self.violations_for(form) if v.severity == "error"]
        if errors:
            raise RequestError(errors)
        return self

    def to_json(self) -> dict[str, Any]:
        """`{"url", "body"}`, ready for `json.dumps`. Pure; the body is shared, not copied."""
        return {"url": self.url, "body": self.body}

    @property
    def base_url(self) -> str:
        """The base the SDK clients are constructed with for this region (and workspace): the URL
        without the API's path. Pure.

            openai.OpenAI(base_url=built.base_url, api_key=key)   # or: dashscope.base_http_api_url = built.base_url
        """
        for path in (OPENAI_CHAT_PATH, DASHSCOPE_MULTIMODAL_PATH, DASHSCOPE_TEXT_PATH):
            if self.url.endswith(path):
                return self.url[: -len(path)]
        return self.url

    def http(self) -> HttpForm:
        """The HTTP form: `(url, headers, json_body)`; add `Authorization: Bearer <key>`. Pure; the
        headers are a copy, the body is shared.

            url, headers, body = built.http(); httpx.post(url, json=body, headers={**headers, "Authorization": f"Bearer {key}"})
        """
        return HttpForm(self.url, dict(self.headers), self.body)

    def openai_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `client.chat.completions.create(**kwargs)`: the standard keywords
        (`OPENAI_CREATE_PARAMS`) at the top level, every other body field (enable_thinking,
        preserve_thinking, …) in `extra_body`, so the SDK sends exactly `body`. Raises `UsageError`
        for a DashScope request. Pure; a new dict, values shared with `body`.

            client.chat.completions.create(**built.openai_kwargs())
        """
        if self.api != "openai":
            raise UsageError("openai_kwargs() is for api='openai' requests; this one is DashScope: use dashscope_kwargs()")
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in self.body.items():
            (kwargs if key in OPENAI_CREATE_PARAMS else extra)[key] = value
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def dashscope_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `dashscope.MultiModalConversation.call(**kwargs)` (for a text-only
        model's text path, `dashscope.Generation.call`): model, messages, the parameters as keywords,
        and `stream=True` when streaming. `file://` parts are allowed here (the SDK uploads them).
        Raises `UsageError` for an OpenAI-compatible request. Pure; values shared with `body`.

            dashscope.MultiModalConversation.call(api_key=key, **built.dashscope_kwargs())
        """
        if self.api != "dashscope":
            raise UsageError("dashscope_kwargs() is for api='dashscope' requests; this one is OpenAI-compatible: use openai_kwargs()")
        kwargs: dict[str, Any] = {"model": self.body["model"], "messages": self.body["input"]["messages"], **self.body.get("parameters", {})}
        if self.stream:
            kwargs["stream"] = True
        return kwargs

    def __repr__(self) -> str:
        messages = _messages_of(self.body)
        parts = sum(len(m["content"]) for m in messages if isinstance(m.get("content"), list))
        codes = ", ".join(v.code for v in self.violations) or "none"
        return (
            f"BuiltRequest({self.api} POST {self.url}, model {self.body.get('model')!r}, "
            f"{len(messages)} message(s), {parts} part(s), violations: {codes})"
        )


def resolve_model(model: str) -> ModelInfo:
    """The table row of `model`; a `kimi/` prefix is accepted. Pure. Unknown: `UsageError`."""
    name = model.removeprefix(MODEL_PREFIX)
    info = MODELS.get(name)
    if info is None:
        raise UsageError(
            f"model {model!r} is not one of {', '.join(MODELS)} "
            f"(each also accepted with the {MODEL_PREFIX!r} prefix, and sent as given)"
        )
    return info


def endpoint(*, api: Api, region: str = DEFAULT_REGION, workspace_id: str | None = None, multimodal: bool = True) -> str:
    """The URL to POST to: the region's base with `{WorkspaceId}` filled, plus the API's path. Pure.

    `multimodal` picks the DashScope path (multimodal-generation or text-generation); the
    OpenAI-compatible API has one path. A workspace id given for a region without one is ignored; a
    region that needs one keeps `{WorkspaceId}` in the URL when none is given (`workspace_note`
    says so). A workspace id that cannot be a host name label is a `UsageError`.
    """
    if api not in APIS:
        raise UsageError(f"api {api!r} is not one of {', '.join(APIS)}")
    info = _region(region)
    base = info.openai_base if api == "openai" else info.dashscope_base
    if info.needs_workspace and workspace_id is not None:
        if not _WORKSPACE_ID.match(workspace_id):
            raise UsageError(
                f"workspace_id {workspace_id!r} cannot be a host name label: use letters, digits, '-' "
                "and '_', starting with a letter or digit, at most 64 characters"
            )
        base = base.replace(_WORKSPACE_PLACEHOLDER, workspace_id)
    if api == "openai":
        return base + OPENAI_CHAT_PATH
    return base + (DASHSCOPE_MULTIMODAL_PATH if multimodal else DASHSCOPE_TEXT_PATH)


def workspace_note(region: str = DEFAULT_REGION, workspace_id: str | None = None) -> str | None:
    """The note for a region that needs a workspace id when none is given; None otherwise. Pure."""
    info = _region(region)
    if not info.needs_workspace or workspace_id is not None:
        return None
    return (
        f"the URL keeps {_WORKSPACE_PLACEHOLDER}: region {region} ({info.label}) needs your Model Studio "
        f"workspace id; pass workspace_id=, or set {WORKSPACE_ID_ENV} (read by the command line)"
    )


def estimate_media(*, kind: str, parts: Sequence[Mapping[str, Any]], sizes: Sequence[Size], estimate_tokens: int) -> int:
    """Tokens of one prepared input from what it sends: an image list counts its frames
    (`estimate_frames` of the first frame's size × the frame count), an image its outputs
    (`estimate_image` per output: every tile of a split image), anything else (a video file, a URL
    sent as it is) the check's estimate. The one rule behind `prepared_tokens` and the command
    line's manifest lines. Pure; arithmetic on the sizes."""
    first = parts[0] if parts else {}
    if isinstance(first.get("video"), list) and sizes:
        return estimate_frames(sizes[0], len(sizes)).tokens
    if kind == "image" and sizes:
        return sum(estimate_image(size).tokens for size in sizes)
    return estimate_tokens


def prepared_tokens(prepared: Prepared) -> int:
    """The token estimate of what a `Prepared` sends (see `estimate_media`). Pure."""
    estimate = prepared.report.estimate
    return estimate_media(
        kind=prepared.report.kind,
        parts=prepared.parts,
        sizes=[Size(o.width_px, o.height_px) for o in prepared.outputs],
        estimate_tokens=estimate.tokens if estimate is not None else 0,
    )


def build_request(
    *,
    model: str,
    api: Api,
    content: Sequence[ContentItem] | str,
    region: str = DEFAULT_REGION,
    workspace_id: str | None = None,
    enable_thinking: bool | None = None,
    messages: Sequence[Mapping[str, Any]] | None = None,
    apply_defaults: bool = True,
    stream: bool | None = None,
    media_tokens: int = 0,
    **params: Any,
) -> BuiltRequest:
    """Build the request that sends `content` as one user message to `model` through `api`.

    `content`: `Prepared` results (a ready one contributes all its parts: every tile of a split
    image; a rejected one is a `UsageError` naming its source and its errors), content parts in the
    API's dialect (as `mediaprep.parts` makes them) and plain strings, which become text parts; a
    lone string is one text part. `messages`: earlier turns, in the same dialect; the new user
    message is appended to a copy (the caller's list is never changed). `stream`: see the module's
    notes. `media_tokens`: the caller's estimate for media given as plain dict parts (which carry
    no size). `params` (temperature, top_p, presence_penalty, max_tokens, preserve_thinking, …) go
    to the top level (OpenAI-compatible) or into `parameters` (DashScope); `None` values are dropped.

    Raises `UsageError` for an unknown region, API or model, a malformed workspace id, an empty or
    foreign-dialect content, a part that breaks `parts.validate_part`, a rejected `Prepared`, or
    `fps`/`max_frames` among `params`. Model rules, `file://` parts and the token total are
    returned in `violations` (see `request_violations`), not raised; a missing workspace id is a
    note.

    Cost: pure; one walk over the messages; the message structure is copied, the payload strings
    (data URLs) are shared.
    """
    if api not in APIS:
        raise UsageError(f"api {api!r} is not one of {', '.join(APIS)}")
    info = resolve_model(model)
    misplaced = [k for k in _PART_FIELDS if k in params]
    if misplaced:
        raise UsageError(
            f"{' and '.join(misplaced)} belong on the video parts (mediaprep.parts.video_part / "
            "image_list_part), not in the request parameters"
        )
    if media_tokens < 0:
        raise UsageError(f"media_tokens {media_tokens} is negative")

    gathered = _user_content(content, api)
    history = [_checked_message(m, api, i) for i, m in enumerate(messages or ())]
    all_messages = [*history, {"role": "user", "content": gathered.parts}]
    has_media = any(_has_media(m.get("content"), api) for m in all_messages)
    multimodal = info.takes_media or has_media
    url = endpoint(api=api, region=region, workspace_id=workspace_id, multimodal=multimodal)
    note = workspace_note(region, workspace_id)

    if api == "dashscope" and not multimodal:
        all_messages[-1]["content"] = _joined_text(gathered.parts)

    thinking_value = enable_thinking if enable_thinking is not None else info.enable_thinking_default
    call_params: dict[str, Any] = {}
    if thinking_value is not None:
        call_params["enable_thinking"] = thinking_value
    call_params.update({k: v for k, v in params.items() if v is not None})
    if apply_defaults:
        thinking_mode = _thinking_mode(info, thinking_value)
        defaults = info.defaults_thinking if thinking_mode else info.defaults_non_thinking
        for key, value in defaults.items():
            call_params.setdefault(key, value)

    headers = {"Content-Type": "application/json"}
    if api == "openai":
        if stream is not None:
            call_params["stream"] = stream
        if stream:
            call_params.setdefault("stream_options", {"include_usage": True})
        body: dict[str, Any] = {"model": model, "messages": all_messages, **call_params}
    else:
        if stream:
            headers.update({"Accept": "text/event-stream", "X-DashScope-SSE": "enable"})
            call_params.setdefault("result_format", "message")
            call_params.setdefault("incremental_output", True)
        body = {"model": model, "input": {"messages": all_messages}, "parameters": call_params}

    uncounted = gathered.uncounted + sum(_media_count(m.get("content"), api) for m in history)
    media_total = gathered.tokens + media_tokens
    found, text_total, _limit = _request_rules(body, api=api, media_tokens=media_total, form="http")
    return BuiltRequest(
        api=api,
        url=url,
        body=body,
        headers=headers,
        violations=tuple(found),
        notes=(note,) if note else (),
        estimate=TokenEstimate(
            tokens=media_total + text_total,
            basis=_basis(gathered, media_tokens, text_total, uncounted),
        ),
        uncounted_parts=uncounted,
        stream=bool(stream),
    )


def request_violations(
    body: Mapping[str, Any],
    *,
    api: Api,
    media_tokens: int = 0,
    form: Form = "http",
) -> list[Violation]:
    """The rules an existing request `body` (either dialect) breaks, as violations. Pure.

    Checks, in this order: a retired model, media for a text-only model, the thinking flags
    (`enable_thinking` read from the top level, then `parameters`, then `extra_body`:
    `request.thinking_always_on`, `request.thinking_unsupported`), `file://` parts
    (`request.file_path_over_http`, in every form but "dashscope_sdk", whose SDK uploads them), and
    the token total — `media_tokens` (the caller's estimate of the media: parts carry no size) plus
    the text of every message — against the model's input limit for the thinking mode in force
    (`request.over_token_limit`). `build_request` uses it for its own `violations`. Raises
    `UsageError` for a body without a known model, an unknown `api` or `form`, or a form of the
    other API.

    Cost: one walk over the messages; payload strings are only prefix-tested, never copied.
    """
    return _request_rules(body, api=api, media_tokens=media_tokens, form=form)[0]


# ---- helpers (pure) -------------------------------------------------------------------------


@dataclass(slots=True)
class _Gathered:
    parts: list[dict[str, Any]]
    tokens: int = 0  # media tokens of the Prepared items
    prepared: int = 0  # how many Prepared items
    uncounted: int = 0  # media parts given as plain dicts


def _request_rules(body: Mapping[str, Any], *, api: Api, media_tokens: int, form: str) -> tuple[list[Violation], int, int]:
    """(violations, text tokens, the input limit): the one implementation of the request rules."""
    if api not in APIS:
        raise UsageError(f"api {api!r} is not one of {', '.join(APIS)}")
    _check_form(form, api)
    model = body.get("model") if isinstance(body, Mapping) else None
    if not isinstance(model, str):
        raise UsageError("the request body has no 'model' string")
    info = resolve_model(model)
    messages = _messages_of(body)
    has_media = any(_has_media(m.get("content"), api) for m in messages if isinstance(m, Mapping))
    thinking = _body_thinking(body)
    found = _model_violations(model, info, has_media=has_media, enable_thinking=thinking)
    if form != "dashscope_sdk":
        found.extend(_file_violations(messages, api))
    text = _text_tokens(messages)
    total = media_tokens + text
    in_force = thinking if thinking is not None else info.enable_thinking_default
    limit = info.max_input_tokens(thinking=_thinking_mode(info, in_force))
    if total > limit:
        found.append(violation("request.over_token_limit", source="request", field="messages", observed=total, limit=limit))
    return found, text, limit


def _check_form(form: str, api: str) -> None:
    if form not in FORMS:
        raise UsageError(f"form {form!r} is not one of {', '.join(FORMS)}")
    wanted = _FORM_API.get(form)
    if wanted is not None and wanted != api:
        raise UsageError(f"form {form!r} sends api={wanted!r} requests; this is an api={api!r} request")


def _basis(gathered: _Gathered, media_tokens: int, text_tokens: int, uncounted: int) -> str:
    pieces = []
    if gathered.prepared:
        pieces.append(f"media {gathered.tokens} from {gathered.prepared} prepared input(s)")
    if media_tokens:
        pieces.append(f"media {media_tokens} given as media_tokens")
    pieces.append(f"text {text_tokens} (2 characters a token, a high estimate)")
    basis = " + ".join(pieces)
    if uncounted:
        cover = "media_tokens stands for them" if media_tokens else "so the total is low by their tokens"
        basis += f"; {uncounted} media part(s) given as plain dicts carry no size and were not counted ({cover})"
    return basis


def _region(region: str) -> Region:
    info = REGIONS.get(region)
    if info is None:
        listed = ", ".join(f"{r.name} ({r.label})" for r in REGIONS.values())
        raise UsageError(f"region {region!r} is not one of {listed}")
    return info


def _user_content(content: Sequence[ContentItem] | str, api: Api) -> _Gathered:
    items: Sequence[ContentItem] = [content] if isinstance(content, str) else content
    if not items:
        raise UsageError("content is empty: give at least one content part, Prepared result or string")
    out = _Gathered(parts=[])
    for i, item in enumerate(items):
        where = f"content[{i}]"
        if isinstance(item, str):
            out.parts.append(text_part(item, api))
        elif isinstance(item, Prepared):
            parts = _prepared_parts(item, api, where)
            for k, part in enumerate(parts):
                validate_part(part, api, where=f"{where} ({item.source}) part {k}")
            out.parts.extend(copy.deepcopy(list(parts)))
            out.tokens += prepared_tokens(item)
            out.prepared += 1
        elif isinstance(item, Mapping):
            _check_dialect(item, api, where)
            validate_part(item, api, where=where)
            out.parts.append(copy.deepcopy(dict(item)))
            out.uncounted += int(_is_media(item, api))
        else:
            raise UsageError(f"{where} is a {type(item).__name__}; give a Prepared result, a content part (dict) or a string")
    return out


def _prepared_parts(item: Prepared, api: Api, where: str) -> tuple[dict[str, Any], ...]:
    """A ready `Prepared`'s parts, all of them; a `UsageError` for a rejected one, or one prepared
    for the other API."""
    if item.status != "ready":
        errors = [v for v in item.violations if v.severity == "error"] or list(item.report.errors)
        listed = "; ".join(f"{v.code}: {v.message}" for v in errors) or "no error recorded"
        raise UsageError(f"{where} ({item.source}) was rejected, so it has no part to send: {listed}")
    if not item.parts:
        raise UsageError(f"{where} ({item.source}) is ready but has no content part")
    dialect = "openai" if "type" in item.parts[0] else "dashscope"
    if dialect != api:
        raise UsageError(
            f"{where} ({item.source}) was prepared for api={dialect!r}: prepare it with "
            f"Target(api={api!r}), or build the request with api={dialect!r}"
        )
    return item.parts


def _checked_message(message: Mapping[str, Any], api: Api, index: int) -> dict[str, Any]:
    if not isinstance(message, Mapping) or "role" not in message:
        raise UsageError(f"messages[{index}] is not a message: give a dict with 'role' and 'content'")
    parts = message.get("content")
    if isinstance(parts, list):
        for j, part in enumerate(parts):
            if isinstance(part, Mapping):
                _check_dialect(part, api, f"messages[{index}].content[{j}]")
    return copy.deepcopy(dict(message))


def _check_dialect(part: Mapping[str, Any], api: Api, where: str) -> None:
    keys = ", ".join(sorted(map(str, part)))  # keys only: a part may hold a 10 MB data URL
    if api == "openai" and "type" not in part:
        raise UsageError(
            f"{where} (keys: {keys}) is not an OpenAI-compatible part, which has a 'type'; "
            "build it with api='openai' (mediaprep.parts), or use api='dashscope'"
        )
    if api == "dashscope" and "type" in part:
        raise UsageError(
            f"{where} (keys: {keys}) is an OpenAI-compatible part; build it with api='dashscope' "
            "(mediaprep.parts), or use api='openai'"
        )


def _is_media(part: Any, api: Api) -> bool:
    if not isinstance(part, Mapping):
        return False
    if api == "openai":
        return bool(part.get("type", "text") != "text")
    return any(key in part for key in _DASHSCOPE_MEDIA_KEYS)


def _has_media(content: Any, api: Api) -> bool:
    return isinstance(content, list) and any(_is_media(p, api) for p in content)


def _media_count(content: Any, api: Api) -> int:
    return sum(1 for p in content if _is_media(p, api)) if isinstance(content, list) else 0


def _joined_text(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """The text path takes a string: join plain `{"text": ...}` parts; leave anything richer as is."""
    if all(set(p) == {"text"} and isinstance(p["text"], str) for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _thinking_mode(info: ModelInfo, enable_thinking: bool | None) -> bool:
    """Whether the service will think, which picks the SPEC §5 default set and the input limit."""
    if info.thinking in ("always", "only"):
        return True
    if info.thinking == "none":
        return False
    return bool(enable_thinking)


def _or_list(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _model_violations(model: str, info: ModelInfo, *, has_media: bool, enable_thinking: bool | None) -> list[Violation]:
    found: list[Violation] = []
    if info.retired_on is not None:
        found.append(
            violation(
                "request.model_retired",
                source="request",
                field="model",
                observed=model,
                limit=info.retired_on,
                replacements=_or_list(info.replacements),
            )
        )
    if has_media and not info.takes_media:
        vision = [m.name for m in MODELS.values() if m.takes_media and m.retired_on is None]
        found.append(
            violation("request.model_text_only", source="request", field="content", observed=model, limit=_or_list(vision))
        )
    if enable_thinking is False and info.thinking in ("always", "only"):
        found.append(
            violation("request.thinking_always_on", source="request", field="enable_thinking", observed=model, limit=True)
        )
    if enable_thinking is True and info.thinking == "none":
        found.append(
            violation("request.thinking_unsupported", source="request", field="enable_thinking", observed=model, limit=False)
        )
    return found


def _body_thinking(body: Mapping[str, Any]) -> bool | None:
    """`enable_thinking` as the body sets it: top level (OpenAI), `parameters` (DashScope), or
    `extra_body` (openai SDK kwargs)."""
    for holder in (body, body.get("parameters"), body.get("extra_body")):
        if isinstance(holder, Mapping) and holder.get("enable_thinking") is not None:
            return bool(holder["enable_thinking"])
    return None


def _part_urls(part: Mapping[str, Any], api: Api) -> list[str]:
    """Every media URL a part carries (an image list carries one per frame)."""
    if api == "openai":
        kind = part.get("type")
        value = part.get(kind) if isinstance(kind, str) and kind != "text" else None
        if isinstance(value, Mapping):
            value = value.get("url")
    else:
        value = next((part[k] for k in _DASHSCOPE_MEDIA_KEYS if k in part), None)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _shorten(text: str, keep: int = 80) -> str:
    return text if len(text) <= keep else f"{text[: keep - 20]}…{text[-19:]}"


def _file_violations(messages: Sequence[Any], api: Api) -> list[Violation]:
    """One `request.file_path_over_http` per part carrying `file://` URLs (an image list: its first
    such member, with how many more)."""
    found: list[Violation] = []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if not isinstance(part, Mapping):
                continue
            paths = [u for u in _part_urls(part, api) if u[:7].lower() == "file://"]
            if paths:
                observed = _shorten(paths[0]) + (f" (and {len(paths) - 1} more)" if len(paths) > 1 else "")
                found.append(
                    violation("request.file_path_over_http", source="request", field=f"messages[{i}].content[{j}]", observed=observed)
                )
    return found


def _text_tokens(messages: Sequence[Any]) -> int:
    """`estimate_text` of every text the messages carry (string contents and text parts)."""
    total = 0
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            total += estimate_text(content).tokens
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                    total += estimate_text(part["text"]).tokens
    return total


def _messages_of(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "messages" in body:
        return list(body["messages"])
    return list(body.get("input", {}).get("messages", []))
