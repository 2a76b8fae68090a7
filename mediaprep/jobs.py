"""The per-input work of a batch, as picklable module-level functions returning result lines
(`models.ResultLine`): the same function runs in this process, in a pool worker, or on a Ray worker.
The CLI uses `target_for` too (probe), so an input's transport is picked in one place."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import manifest
from .models import Policy, ResultLine, Target
from .pipeline import check, prepare
from .remote import RemoteOptions


def target_for(target: Target, item: str, *, auto_transport: bool) -> Target:
    """The transport default depends on the input: base64 for files, url for http(s) URLs."""
    if auto_transport and item[:8].lower().startswith(("http://", "https://")):
        return dataclasses.replace(target, transport="url")
    return target


def check_job(item: str, *, target: Target, policy: Policy, fast: bool, remote: RemoteOptions | None, auto_transport: bool = True) -> ResultLine:
    """`check` of one input, as its --json line."""
    return check(item, target=target_for(target, item, auto_transport=auto_transport), policy=policy, fast=fast, remote=remote).to_json()


def prepare_job(
    item: str,
    *,
    target: Target,
    policy: Policy,
    out_dir: Path,
    url_prefix: str | None,
    remote: RemoteOptions | None,
    verify_inputs: bool = False,
    auto_transport: bool = True,
) -> ResultLine:
    """`prepare` of one input, as its manifest line, with the input's fingerprint (taken before the
    work, so an input changed meanwhile is redone by a resume)."""
    fingerprint = manifest.fingerprint(item, verify=verify_inputs)
    line = prepare(item, target=target_for(target, item, auto_transport=auto_transport), policy=policy, out_dir=out_dir, url_prefix=url_prefix, remote=remote).to_json()
    if fingerprint is not None:
        line["input"] = fingerprint
    return line
