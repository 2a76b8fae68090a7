"""prepare's --request-out and --batch-out: request bodies built from the ready inputs' parts.

`request` is imported when a request is built, not with the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from ..errors import UsageError
from ..models import ResultLine, Target
from ..outputs import write_atomic
from .options import _budget_arg


class _RequestWriter:
    """--request-out (one request, every ready input in input order, then --prompt) and --batch-out
    (one request per ready input, OpenAI batch-file lines)."""

    def __init__(self, args: argparse.Namespace, target: Target) -> None:
        if args.batch_out and target.api != "openai":
            raise UsageError("--batch-out writes OpenAI batch-file lines: use it with --api openai")
        self.args, self.target = args, target
        self.thinking = None if args.enable_thinking is None else args.enable_thinking == "true"
        from ..request import endpoint

        endpoint(api=target.api, region=args.region, workspace_id=args.workspace_id)  # a usage error now, not after the batch

    def _build(self, content: list[Any]) -> Any:
        from ..request import build_request

        return build_request(model=self.args.model, api=self.target.api, content=content, region=self.args.region, workspace_id=self.args.workspace_id, enable_thinking=self.thinking)

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
            from ..request import endpoint

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


def _parts_of(line: ResultLine) -> list[dict[str, Any]]:
    """The content parts a prepared input sends: its tiles, else its one part, else none."""
    parts = line.get("parts")
    if parts:
        return list(parts)
    part = line.get("part")
    return [part] if part else []


def _line_tokens(line: ResultLine) -> int:
    """The estimate of what a prepared input sends: its outputs' sizes (images, image lists) or the
    check's estimate (video files)."""
    from ..models import Size
    from ..tokens import estimate_frames, estimate_image

    outputs = line.get("output_info") or []
    part = (_parts_of(line) or [{}])[0]
    is_list = isinstance(part.get("video"), list)
    if is_list and outputs:
        first = outputs[0]
        return estimate_frames(Size(first["width_px"], first["height_px"]), len(outputs)).tokens
    if line.get("kind") == "image" and outputs:
        return sum(estimate_image(Size(o["width_px"], o["height_px"])).tokens for o in outputs)
    return int((line.get("estimate") or {}).get("tokens", 0))
