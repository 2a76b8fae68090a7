"""Fitting video media to a token budget (pure), and the request files the CLI writes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

import mediaprep as mp
from mediaprep.budget import auto_budget, fit_image_list, fit_video_file, resolve_budget
from mediaprep.cli import main
from mediaprep.models import Size
from mediaprep.tokens import DEFAULT_TOKENS, estimate_frames, model_size
from videos import make_video

FRAME_1080 = model_size(Size(1920, 1080), patch_limit=DEFAULT_TOKENS.frame_patch_limit)


def test_auto_budget_is_max_input_minus_reserve() -> None:
    assert auto_budget("kimi-k2.6") == 260_096 - 16_384
    assert auto_budget("kimi-k2.6", thinking=True, reserve_tokens=0) == 258_048
    assert resolve_budget("auto", "kimi-k2.7-code") == 258_048 - 16_384  # thinking is always on
    assert resolve_budget("none", "kimi-k2.6") is None and resolve_budget(5000, "kimi-k2.6") == 5000


def test_an_hour_of_1080p_at_fps_2_fits_the_default_budget() -> None:
    budget = auto_budget("kimi-k2.6")
    asked = estimate_frames(FRAME_1080, 2000).tokens
    assert asked > budget  # 2000 frames of 1080p cannot fit
    choice = fit_image_list(3600.0, 2.0, 2000, FRAME_1080, budget, mp.Limits())
    assert choice.fits and choice.changed and choice.tokens <= budget
    assert choice.frames % 4 == 0 and choice.fps >= 0.5  # fps kept at 0.5, frames shrunk instead
    assert choice.size.width_px < FRAME_1080.width_px
    assert estimate_frames(choice.size, choice.frames).tokens == choice.tokens
    assert "over the" in choice.reason and "shrunk" in choice.reason


def test_a_ten_minute_video_lowers_fps_before_shrinking() -> None:
    budget = auto_budget("kimi-k2.6")
    choice = fit_image_list(600.0, 2.0, 2000, FRAME_1080, budget, mp.Limits())
    assert choice.fits and choice.size == FRAME_1080 and 0.5 <= choice.fps < 2.0 and choice.frames % 4 == 0


def test_a_budget_too_small_for_four_frames_is_over_the_limit() -> None:
    choice = fit_image_list(3600.0, 2.0, 2000, FRAME_1080, 100, mp.Limits())
    assert not choice.fits


def test_video_file_lowers_only_the_fps() -> None:
    choice = fit_video_file(3600.0, 2.0, 2000, FRAME_1080, auto_budget("kimi-k2.6"), mp.Limits())
    assert choice.fits and choice.changed and choice.size == FRAME_1080 and choice.fps < 2.0


def test_prepare_rejects_what_cannot_fit(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    make_video(path, frames=60, fps=10, size=(320, 240))
    tiny = mp.prepare(path, policy=mp.Policy(video_as="frames", token_budget=50), out_dir=tmp_path / "a")
    assert tiny.status == "rejected" and tiny.violations[-1].code == "request.over_token_limit"
    fitted = mp.prepare(path, policy=mp.Policy(video_as="frames", token_budget=200), out_dir=tmp_path / "b")
    assert fitted.status == "ready"
    budget_action = [a for a in fitted.actions if a.op == "budget"]
    assert budget_action and budget_action[0].params["tokens"] <= 200
    assert len(fitted.part["video"]) % 4 == 0


def test_request_out_and_batch_out(tmp_path: Path) -> None:
    a, b = tmp_path / "in" / "a.png", tmp_path / "in" / "b.jpg"
    a.parent.mkdir()
    Image.new("RGB", (40, 30), (255, 0, 0)).save(a)
    Image.new("RGB", (8, 8), (0, 255, 0)).save(b)  # fixable: padded
    out = tmp_path / "out"
    code = main(
        ["prepare", str(a), str(b), "--out", str(out), "--prompt", "What colours?", "--request-out", str(tmp_path / "req.json"), "--batch-out", str(tmp_path / "batch.jsonl"), "--region", "us-east-1", "--progress", "never"],
        stdout=io.StringIO(), stderr=(err := io.StringIO()),
    )
    assert code == 0, err.getvalue()
    req = json.loads((tmp_path / "req.json").read_text())
    assert req["url"] == "https://dashscope-us.aliyuncs.com/compatible-mode/v1/chat/completions"
    content = req["body"]["messages"][0]["content"]
    assert [c["type"] for c in content] == ["image_url", "image_url", "text"] and content[2]["text"] == "What colours?"
    # the manifest is written as inputs finish; its `index` restores input order
    manifest = sorted((json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()), key=lambda line: line["index"])
    assert content[0] == manifest[0]["part"] and content[1] == manifest[1]["part"]  # input order
    assert req["body"]["model"] == "kimi-k2.6" and req["body"]["enable_thinking"] is False
    rows = [json.loads(x) for x in (tmp_path / "batch.jsonl").read_text().splitlines()]
    assert [r["method"] for r in rows] == ["POST", "POST"] and rows[0]["url"] == "/v1/chat/completions"
    assert len({r["custom_id"] for r in rows}) == 2
    assert rows[1]["body"]["messages"][0]["content"][0] == manifest[1]["part"]


def test_request_out_dashscope_and_model_rules(tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    Image.new("RGB", (40, 30)).save(a)
    code = main(["prepare", str(a), "--out", str(tmp_path / "o"), "--api", "dashscope", "--prompt", "hi", "--request-out", str(tmp_path / "r.json"), "--workspace-id", "ws1", "--progress", "never"], stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0
    req = json.loads((tmp_path / "r.json").read_text())
    assert req["url"] == "https://ws1.ap-southeast-1.maas.aliyuncs.com/api/v1/services/aigc/multimodal-generation/generation"
    assert req["body"]["input"]["messages"][0]["content"][-1] == {"text": "hi"}
    # the retired, text-only model is refused at check time (issue 11: model rules belong in check
    # and prepare), so nothing is ready and no request is written
    err, out = io.StringIO(), io.StringIO()
    code = main(["prepare", str(a), "--out", str(tmp_path / "p"), "--model", "kimi-k2-thinking", "--request-out", str(tmp_path / "r2.json"), "--region", "us-east-1", "--progress", "never"], stdout=out, stderr=err)
    assert code == 1 and not (tmp_path / "r2.json").exists()
    assert "request.model_retired" in err.getvalue() and "request.model_text_only" in err.getvalue()
    assert "qwen3.7-plus" in out.getvalue()  # the rejected input's line names the replacements
    with pytest.raises(SystemExit):
        raise SystemExit(main(["prepare", str(a), "--out", str(tmp_path / "q"), "--batch-out", str(tmp_path / "b.jsonl"), "--api", "dashscope", "--progress", "never"], stdout=io.StringIO(), stderr=io.StringIO()))


def test_a_prepared_video_estimate_describes_what_is_sent_after_the_budget(tmp_path: Path) -> None:
    """Issue 11, item 5: the budget lowers a video's fps; the prepared report's estimate (which the
    request total adds) must be that of the lowered fps, not the checked one."""
    clip = tmp_path / "clip.mp4"
    make_video(clip, frames=60, fps=6.0, size=(320, 240))  # 10 s
    policy = mp.Policy(fps=6.0, token_budget=1_000)
    checked = mp.check(clip, policy=policy)
    prepared = mp.prepare(clip, policy=policy, target=mp.Target(transport="base64"))
    assert prepared.status == "ready"
    budget = next(a for a in prepared.actions if a.op == "budget")
    sent_fps = budget.params["fps"]
    assert sent_fps < 6.0 and prepared.part is not None and prepared.part["fps"] == sent_fps
    assert checked.estimate is not None and prepared.report.estimate is not None
    assert prepared.report.estimate.tokens <= 1_000 < checked.estimate.tokens
    assert prepared.to_json()["estimate"]["tokens"] == prepared.report.estimate.tokens
    n = int(10.0 * sent_fps + 1e-9)
    assert prepared.report.estimate.tokens == estimate_frames(model_size(Size(320, 240), patch_limit=DEFAULT_TOKENS.frame_patch_limit), n).tokens
