"""Request bodies and endpoints for Kimi on Model Studio (SPEC §4–§5). Pure: no I/O, no clock, no env.

    req = build_request(model="kimi-k2.6", api="openai", content=[part, "What is in the picture?"],
                        region="ap-southeast-1", workspace_id="ws-123")
    req.raise_for_violations()          # model rules are data until asked for
    post(req.url, json=req.body, headers={**req.headers, "Authorization": f"Bearer {key}"})

Every number (bases, paths, defaults, retirement dates) is read from `rules`; content parts are
those of `parts`, in the API's dialect. `fps` and `max_frames` live on the video parts and are never
moved into the request parameters. The API key is never put into `headers`: the caller adds
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
  the top level (the OpenAI SDK sends it through `extra_body`), DashScope bodies in `parameters`.
  `False` for a model that always thinks is written as asked and reported as
  `request.thinking_always_on`.
- **Sampling defaults.** With `apply_defaults=True` (the default) the model's SPEC §5 defaults for
  the thinking mode in force (temperature, top_p, presence_penalty) are written for each key the
  caller left unset, so the body is explicit; a caller's value always wins. `None` means unset.
- **Streaming on DashScope.** `stream=True` is not a body field there: it becomes the headers
  `X-DashScope-SSE: enable` and `Accept: text/event-stream` (what the DashScope SDK sends).
- **Model rules** are violations in `BuiltRequest.violations`, never raised by `build_request`, so a
  batch can report them; `raise_for_violations()` turns them into a `RequestError`. Misuse (an unknown
  region, API or model, a missing workspace, parts in the other dialect) raises `UsageError` at once.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .codes import violation
from .errors import UsageError
from .models import Violation
from .parts import text_part
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

MODEL_PREFIX = "kimi/"  # Model Studio also lists kimi-k2.7-code as "kimi/kimi-k2.7-code"
# A workspace id becomes a DNS label of the host; the DashScope SDK checks the same pattern.
_WORKSPACE_ID = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
_DASHSCOPE_MEDIA_KEYS = ("image", "video", "audio")
_PART_FIELDS = ("fps", "max_frames")  # belong on the video parts, never in the request parameters

ContentItem = str | Mapping[str, Any]


class RequestError(UsageError):
    """A request that breaks a model rule; `violations` holds what `BuiltRequest` reported."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        lines = "; ".join(v.message for v in self.violations)
        super().__init__(f"{len(self.violations)} problem(s) with the request: {lines}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BuiltRequest:
    """The URL, JSON body and headers to POST, plus the model rules it breaks (as data).

    `headers` hold no credentials. The repr shows the URL and counts, never the payload.
    """

    api: Api
    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    violations: tuple[Violation, ...] = ()

    method: ClassVar[str] = "POST"

    @property
    def ok(self) -> bool:
        """True when no rule is broken at error severity. Pure."""
        return not any(v.severity == "error" for v in self.violations)

    def raise_for_violations(self) -> BuiltRequest:
        """Raise `RequestError` listing every error-severity violation; return self otherwise. Pure."""
        errors = [v for v in self.violations if v.severity == "error"]
        if errors:
            raise RequestError(errors)
        return self

    def to_json(self) -> dict[str, Any]:
        """`{"url", "body"}`, ready for `json.dumps`. Pure; the body is shared, not copied."""
        return {"url": self.url, "body": self.body}

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
    OpenAI-compatible API has one path. A workspace id given for a region without one is ignored.
    """
    if api not in APIS:
        raise UsageError(f"api {api!r} is not one of {', '.join(APIS)}")
    info = _region(region)
    base = info.openai_base if api == "openai" else info.dashscope_base
    if info.needs_workspace:
        if not workspace_id:
            needing = ", ".join(r.name for r in REGIONS.values() if r.needs_workspace)
            free = ", ".join(r.name for r in REGIONS.values() if not r.needs_workspace)
            raise UsageError(
                f"region {region} ({info.label}) needs workspace_id: its host is "
                f"{base.split('/')[2]}; give your Model Studio workspace id "
                f"(regions that need one: {needing}; regions that do not: {free})"
            )
        if not _WORKSPACE_ID.match(workspace_id):
            raise UsageError(
                f"workspace_id {workspace_id!r} cannot be a host name label: use letters, digits, '-' "
                "and '_', starting with a letter or digit, at most 64 characters"
            )
        base = base.replace("{WorkspaceId}", workspace_id)
    if api == "openai":
        return base + OPENAI_CHAT_PATH
    return base + (DASHSCOPE_MULTIMODAL_PATH if multimodal else DASHSCOPE_TEXT_PATH)


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
    **params: Any,
) -> BuiltRequest:
    """Build the request that sends `content` as one user message to `model` through `api`.

    `content`: content parts in the API's dialect (as `mediaprep.parts` makes them) and plain strings,
    which become text parts; a lone string is one text part. `messages`: earlier turns, in the same
    dialect; the new user message is appended to a copy (the caller's list is never changed).
    `params` (temperature, top_p, presence_penalty, max_tokens, stream, preserve_thinking, …) go to
    the top level (OpenAI-compatible) or into `parameters` (DashScope); `None` values are dropped.

    Raises `UsageError` for an unknown region, API or model, a region needing a workspace id without
    one, an empty or foreign-dialect content, or `fps`/`max_frames` among `params`. Model rules are
    returned in `violations`, not raised.

    Cost: pure; the message structure is copied, the payload strings (data URLs) are shared.
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

    user_content = _user_content(content, api)
    history = [_checked_message(m, api, i) for i, m in enumerate(messages or ())]
    all_messages = [*history, {"role": "user", "content": user_content}]
    has_media = any(_has_media(m.get("content"), api) for m in all_messages)
    multimodal = info.takes_media or has_media
    url = endpoint(api=api, region=region, workspace_id=workspace_id, multimodal=multimodal)

    if api == "dashscope" and not multimodal:
        all_messages[-1]["content"] = _joined_text(user_content)

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
        body: dict[str, Any] = {"model": model, "messages": all_messages, **call_params}
    else:
        if call_params.pop("stream", False):
            headers.update({"Accept": "text/event-stream", "X-DashScope-SSE": "enable"})
        body = {"model": model, "input": {"messages": all_messages}, "parameters": call_params}

    return BuiltRequest(
        api=api,
        url=url,
        body=body,
        headers=headers,
        violations=tuple(_model_violations(model, info, has_media=has_media, enable_thinking=enable_thinking)),
    )


# ---- helpers (pure) -------------------------------------------------------------------------


def _region(region: str) -> Region:
    info = REGIONS.get(region)
    if info is None:
        listed = ", ".join(f"{r.name} ({r.label})" for r in REGIONS.values())
        raise UsageError(f"region {region!r} is not one of {listed}")
    return info


def _user_content(content: Sequence[ContentItem] | str, api: Api) -> list[dict[str, Any]]:
    items: Sequence[ContentItem] = [content] if isinstance(content, str) else content
    if not items:
        raise UsageError("content is empty: give at least one content part or string")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append(text_part(item, api))
        elif isinstance(item, Mapping):
            _check_dialect(item, api, f"content[{i}]")
            out.append(copy.deepcopy(dict(item)))
        else:
            raise UsageError(f"content[{i}] is a {type(item).__name__}; give a content part (dict) or a string")
    return out


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


def _joined_text(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """The text path takes a string: join plain `{"text": ...}` parts; leave anything richer as is."""
    if all(set(p) == {"text"} and isinstance(p["text"], str) for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _thinking_mode(info: ModelInfo, enable_thinking: bool | None) -> bool:
    """Whether the service will think, which picks the SPEC §5 default set."""
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
    return found


def _messages_of(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "messages" in body:
        return list(body["messages"])
    return list(body.get("input", {}).get("messages", []))
