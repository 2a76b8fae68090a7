"""prepare's --request-out and --batch-out: request bodies built from the ready inputs' parts.

The workspace id is `--workspace-id`, else the environment variable `DASHSCOPE_WORKSPACE_ID`
(`request.WORKSPACE_ID_ENV`); without either the URL keeps `{WorkspaceId}` and the request's note
is printed on stderr. `request` is imported when a request is built, not with the CLI."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, TextIO

from ..errors import UsageError
from ..models import ResultLine, Size, Target
from ..outputs import write_atomic
from .options import _budget_arg
from .output import printable

# --request-form → the request form whose violations count, and what is written
_FORMS = {"http": "http", "openai": "openai_sdk", "dashscope-sdk": "dashscope_sdk"}
_FORM_API = {"openai": "openai", "dashscope-sdk": "dashscope"}


class _RequestWriter:
    """--request-out (one request, every ready input in input order, then --prompt) and --batch-out
    (one request per ready input, OpenAI batch-file lines)."""

    def __init__(self, args: argparse.Namespace, target: Target) -> None:
        from ..request import WORKSPACE_ID_ENV, endpoint

        if args.batch_out and target.api != "openai":
            raise UsageError("--batch-out writes OpenAI batch-file lines: use it with --api openai")
        form = getattr(args, "request_form", "http")
        wanted = _FORM_API.get(form)
        if args.request_out and wanted is not None and wanted != target.api:
            raise UsageError(f"--request-form {form} writes a request for --api {wanted}: use it with --api {wanted}")
        self.args, self.target = args, target
        self.form = _FORMS[form]
        self.thinking = None if args.enable_thinking is None else args.enable_thinking == "true"
        self.workspace_id: str | None = args.workspace_id or os.environ.get(WORKSPACE_ID_ENV) or None
        endpoint(api=target.api, region=args.region, workspace_id=self.workspace_id)  # a malformed id is a usage error now, not after the batch

    def _build(self, content: list[Any], *, media_tokens: int = 0, stream: bool | None = None) -> Any:
        from ..request import build_request

        return build_request(
            model=self.args.model,
            api=self.target.api,
            content=content,
            region=self.args.region,
            workspace_id=self.workspace_id,
            enable_thinking=self.thinking,
            media_tokens=media_tokens,
            stream=stream,
        )

    def write(self, lines: list[ResultLine], err: TextIO) -> bool:
        """Write the files asked for from `lines` (every input's line, in input order); False when
        a request could not be written (its problems are on `err`)."""
        from ..budget import resolve_budget
        from ..codes import violation

        ready = [line for line in lines if line.get("status") == "ready"]
        prompt = [self.args.prompt] if self.args.prompt else []
        ok = True
        if self.args.request_out:
            content = [p for line in ready for p in _parts_of(line)] + prompt
            if not content:
                err.write("--request-out: no ready input and no --prompt: nothing to send\n")
                return False
            media = sum(_line_tokens(line) for line in ready)
            built = self._build(content, media_tokens=media, stream=True if getattr(self.args, "stream", False) else None)
            problems = list(built.violations_for(self.form))
            tokens = built.estimate.tokens
            budget = resolve_budget(_budget_arg(self.args.token_budget), self.args.model, reserve_tokens=self.args.token_reserve)
            over = any(v.code == "request.over_token_limit" for v in problems)
            if budget is not None and tokens > budget and not over:
                problems.append(violation("request.over_token_limit", source=str(self.args.request_out), observed=tokens, limit=budget))
            for note in built.notes:
                err.write(printable(f"note: {note}") + "\n")
            for v in problems:
                err.write(printable(f"{v.code}: {v.message}") + "\n")
            if any(v.severity == "error" for v in problems):
                ok = False
            else:
                write_atomic(self.args.request_out, (json.dumps(_form_json(built, self.form), ensure_ascii=False) + "\n").encode("utf-8"))
                err.write(printable(f"request: {self.args.request_out} ({len(ready)} inputs, about {tokens} tokens, an estimate)") + "\n")
        if self.args.batch_out:
            from ..request import endpoint

            path_only = "/v1/chat/completions"
            rows = []
            for n, line in enumerate(ready):
                built = self._build(list(_parts_of(line)) + prompt, media_tokens=_line_tokens(line))
                errors = [v for v in built.violations if v.severity == "error"]
                if errors:
                    for v in errors:
                        err.write(printable(f"{v.code}: {v.message}") + "\n")
                    return False
                rows.append(json.dumps({"custom_id": f"{n}-{Path(line['source']).name}", "method": "POST", "url": path_only, "body": built.body}, ensure_ascii=False))
            write_atomic(self.args.batch_out, ("\n".join(rows) + ("\n" if rows else "")).encode("utf-8"))
            where = endpoint(api="openai", region=self.args.region, workspace_id=self.workspace_id) if self.workspace_id or self.args.region == "us-east-1" else "the batch interface"
            err.write(printable(f"batch: {self.args.batch_out} ({len(rows)} requests for {where})") + "\n")
        return ok


def _form_json(built: Any, form: str) -> dict[str, Any]:
    """What --request-out writes for `form`: {url, body} for HTTP, {base_url, kwargs} for an SDK."""
    if form == "openai_sdk":
        return {"base_url": built.base_url, "kwargs": built.openai_kwargs()}
    if form == "dashscope_sdk":
        return {"base_url": built.base_url, "kwargs": built.dashscope_kwargs()}
    return built.to_json()


def _parts_of(line: ResultLine) -> list[dict[str, Any]]:
    """The content parts a prepared input sends: its tiles, else its one part, else none."""
    parts = line.get("parts")
    if parts:
        return list(parts)
    part = line.get("part")
    return [part] if part else []


def _line_tokens(line: ResultLine) -> int:
    """The estimate of what a prepared input sends, from its manifest line: the same rule as
    `request.prepared_tokens` (`request.estimate_media`: the outputs' sizes for images and image
    lists, the check's estimate for video files)."""
    from ..request import estimate_media

    return estimate_media(
        kind=str(line.get("kind") or ""),
        parts=_parts_of(line),
        sizes=[Size(o["width_px"], o["height_px"]) for o in line.get("output_info") or []],
        estimate_tokens=int((line.get("estimate") or {}).get("tokens", 0)),
    )
