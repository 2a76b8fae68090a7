"""preflight: whole requests (OpenAI-compatible and DashScope bodies, batch files) checked and
fixed in place, on real media made here (Pillow, PyAV) and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import functools
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import mediaprep as mp
from mediaprep.batch import run_local
from mediaprep.cli import main
from mediaprep.preflight import PreflightResult, Settings, preflight_file, preflight_object
from mediaprep.remote import RemoteOptions
from media import animated_gif, encoded, photo, save
from remote_server import BytesBody, MediaServer, Route
from videos import make_video

LOCAL = RemoteOptions(allow_private=True, backoff_s=0.05)


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def decode_url(url: str) -> Image.Image:
    assert url.startswith("data:"), url[:40]
    return Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2])))


def openai_body(*parts: dict[str, Any], model: str = "kimi-k2.6", text: str = "What is this?") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": [*parts, {"type": "text", "text": text}]}]}


def dashscope_body(*parts: dict[str, Any], model: str = "kimi-k2.6") -> dict[str, Any]:
    return {"model": model, "input": {"messages": [{"role": "user", "content": [*parts, {"text": "What is this?"}]}]}, "parameters": {}}


def oa_image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def assert_clean(result: PreflightResult) -> None:
    """What a fix produced re-checks clean: ready, nothing to change, every reference passes through."""
    again = mp.preflight(result.body)  # type: ignore[arg-type]
    assert again.status == "ready" and not again.changed, again.to_json()
    assert all(not m.changed and [a.op for a in m.actions] in ([], ["passthrough"]) for m in again.media), again.to_json()


@pytest.fixture(scope="module")
def server() -> Iterator[MediaServer]:
    srv = MediaServer()
    yield srv
    srv.close()


# --- single requests ------------------------------------------------------------------------------


def test_openai_body_with_a_too_small_data_png_is_padded_and_rechecks_clean() -> None:
    body = openai_body({"type": "image_url", "image_url": {"url": data_url(encoded(photo(8, 8), "PNG"), "image/png"), "detail": "high"}})
    result = mp.preflight(body)
    assert result.status == "ready" and result.changed and result.api == "openai"
    (ref,) = result.media
    assert (ref.message, ref.part, ref.slot, ref.transport, ref.verdict, ref.sent_as) == (0, 0, "image", "base64", "fixable", "base64")
    assert [a.op for a in ref.actions] == ["pad", "encode"] and {v.code for v in ref.violations} == {"image.too_small"}
    part = result.body["messages"][0]["content"][0]  # type: ignore[index]
    assert part["type"] == "image_url" and part["image_url"]["detail"] == "high"  # the caller's other fields stay
    assert decode_url(part["image_url"]["url"]).size == (11, 11)
    assert result.body["messages"][0]["content"][1] == {"type": "text", "text": "What is this?"}  # type: ignore[index]
    assert body["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png")  # the input is not touched
    assert result.media_tokens == ref.tokens and ref.tokens
    json.dumps(result.to_json())  # the report is JSON
    assert_clean(result)


def test_dashscope_body_with_a_file_webp_above_4k_is_converted(tmp_path: Path) -> None:
    webp = save(photo(4000, 600, noise=4), tmp_path / "wide.webp", "WEBP")
    body = dashscope_body({"image": f"file://{webp}"})
    result = mp.preflight(body)
    assert result.status == "ready" and result.changed and result.api == "dashscope"
    (ref,) = result.media
    assert ref.transport == "path" and ref.sent_as == "base64" and "image.format_above_4k" in {v.code for v in ref.violations}
    assert [a.op for a in ref.actions][0] == "convert" and ref.actions[-1].op == "inline"
    part = result.body["input"]["messages"][0]["content"][0]  # type: ignore[index]
    picture = decode_url(part["image"])
    assert picture.format in ("JPEG", "PNG") and picture.size == (4000, 600)
    assert result.body["parameters"] == {}  # type: ignore[index]
    assert_clean(result)


def test_dashscope_sdk_form_keeps_file_paths_and_writes_fixes_to_out_dir(tmp_path: Path) -> None:
    ok = save(photo(64, 48), tmp_path / "ok.jpg", "JPEG")
    webp = save(photo(4000, 600, noise=4), tmp_path / "wide.webp", "WEBP")
    body = dashscope_body({"image": f"file://{ok}"}, {"image": f"file://{webp}"})
    result = mp.preflight(body, form="dashscope_sdk", out_dir=tmp_path / "out")
    assert result.status == "ready"
    first, second = result.body["input"]["messages"][0]["content"][:2]  # type: ignore[index]
    assert first == {"image": f"file://{ok}"} and not result.media[0].changed  # ok: kept as it was
    assert second["image"].startswith(f"file://{tmp_path / 'out'}") and Path(second["image"][7:]).is_file()
    assert result.media[1].outputs and (tmp_path / "out" / result.media[1].outputs[0]).is_file()


def test_an_ok_request_comes_out_byte_for_byte(tmp_path: Path, server: MediaServer) -> None:
    jpeg = encoded(photo(320, 240, seed=4), "JPEG")
    url = server.add("/ok.jpg", Route(body=BytesBody(jpeg), content_type="image/jpeg"))
    body = openai_body(oa_image(data_url(encoded(photo(64, 48), "JPEG"), "image/jpeg")), oa_image(url))
    body["temperature"] = 0.6
    src = tmp_path / "request.json"
    src.write_text(json.dumps(body, indent=4) + "\n")  # a style of its own: kept
    summary = preflight_file(src, tmp_path / "out" / "request.json", remote=LOCAL)
    assert summary.ready == 1 and summary.changed == 0
    assert (tmp_path / "out" / "request.json").read_bytes() == src.read_bytes()
    result = mp.preflight(body, remote=LOCAL)
    assert result.status == "ready" and not result.changed and result.body is body
    assert [m.transport for m in result.media] == ["base64", "url"] and result.media[1].kind == "image"
    assert server.stats.body_bytes <= 2 * len(jpeg)  # the URL was checked, never downloaded to be re-sent


def test_http_urls_ok_ones_stay_fixed_ones_become_base64_or_published(tmp_path: Path, server: MediaServer) -> None:
    ok_url = server.add("/fine.jpg", Route(body=BytesBody(encoded(photo(200, 100), "JPEG")), content_type="image/jpeg"))
    tiny_url = server.add("/tiny.png", Route(body=BytesBody(encoded(photo(8, 8), "PNG")), content_type="image/png"))
    body = openai_body(oa_image(ok_url), oa_image(tiny_url))
    result = mp.preflight(body, remote=LOCAL)
    parts = result.body["messages"][0]["content"]  # type: ignore[index]
    assert result.status == "ready" and parts[0]["image_url"]["url"] == ok_url
    assert decode_url(parts[1]["image_url"]["url"]).size == (11, 11)
    assert result.media[1].actions[0].op == "download" and (result.media[1].transport, result.media[1].sent_as) == ("url", "base64")
    published = mp.preflight(body, remote=LOCAL, out_dir=tmp_path / "pub", url_prefix="https://cdn.example.com/pub")
    new = published.body["messages"][0]["content"][1]["image_url"]["url"]  # type: ignore[index]
    assert new.startswith("https://cdn.example.com/pub/") and (tmp_path / "pub" / new.rsplit("/", 1)[1]).is_file()
    assert published.body["messages"][0]["content"][0]["image_url"]["url"] == ok_url  # type: ignore[index]


def test_a_text_only_model_with_media_is_rejected_and_left_as_it_was(tmp_path: Path) -> None:
    body = openai_body(oa_image(data_url(encoded(photo(64, 48), "JPEG"), "image/jpeg")), model="Moonshot-Kimi-K2-Instruct")
    result = mp.preflight(body)
    assert result.status == "rejected" and not result.changed and result.body is body
    assert "request.model_text_only" in {v.code for v in result.violations}
    src = tmp_path / "req.json"
    src.write_text(json.dumps(body))
    preflight_file(src, tmp_path / "out.json")
    assert (tmp_path / "out.json").read_bytes() == src.read_bytes()


def test_a_split_image_becomes_several_parts_in_place() -> None:
    banner = data_url(encoded(photo(3000, 10), "PNG"), "image/png")
    body = openai_body(oa_image(banner))
    result = mp.preflight(body, policy=mp.Policy(aspect_ratio="split"))
    content = result.body["messages"][0]["content"]  # type: ignore[index]
    assert result.status == "ready" and result.media[0].became == f"{len(content) - 1} images"
    assert len(content) >= 3 and all(p["type"] == "image_url" for p in content[:-1]) and content[-1]["type"] == "text"
    assert all(decode_url(p["image_url"]["url"]).size[0] / decode_url(p["image_url"]["url"]).size[1] <= 200 for p in content[:-1])
    assert_clean(result)


def test_a_short_video_file_becomes_an_image_list_part_and_fps_is_the_parts_own(tmp_path: Path) -> None:
    clip = tmp_path / "short.mp4"
    make_video(clip, frames=10, fps=10.0, size=(96, 64))  # 1 s: too short for a file, 10 frames for a list
    video = {"type": "video_url", "video_url": {"url": data_url(clip.read_bytes(), "video/mp4")}, "fps": 4}
    result = mp.preflight(openai_body(video))
    part = result.body["messages"][0]["content"][0]  # type: ignore[index]
    assert result.status == "ready" and result.media[0].became == "image_list"
    assert part["type"] == "video" and len(part["video"]) == 4 and part["fps"] == 4  # 1 s at the part's fps 4
    assert_clean(result)
    bad = mp.preflight(openai_body({**video, "fps": 30}))
    assert bad.status == "rejected" and bad.codes == ("frames.fps_out_of_range",)


def test_image_list_members_are_fixed_in_place_and_the_list_rules_apply() -> None:
    ok = data_url(encoded(photo(64, 48), "JPEG"), "image/jpeg")
    tiny = data_url(encoded(photo(8, 8), "PNG"), "image/png")
    body = dashscope_body({"video": [ok, tiny, ok, ok], "fps": 2})
    result = mp.preflight(body)
    part = result.body["input"]["messages"][0]["content"][0]  # type: ignore[index]
    assert result.status == "ready" and part["fps"] == 2 and len(part["video"]) == 4
    assert part["video"][0] == ok and part["video"][2:] == [ok, ok] and decode_url(part["video"][1]).size == (11, 11)
    assert [m.member for m in result.media] == [0, 1, 2, 3] and [m.changed for m in result.media] == [False, True, False, False]
    assert_clean(result)
    few = mp.preflight(dashscope_body({"video": [ok, ok, ok]}))
    assert few.status == "rejected" and "frames.too_few" in few.codes


def test_the_token_total_counts_the_text_too() -> None:
    body = openai_body(oa_image(data_url(encoded(photo(64, 48), "JPEG"), "image/jpeg")), text="x" * 600_000)
    result = mp.preflight(body)
    assert result.status == "rejected" and "request.over_token_limit" in result.codes


@pytest.mark.parametrize(
    "obj,why",
    [
        ([1, 2], "a request is a JSON object"),
        ({"custom_id": "a", "method": "POST"}, "no body"),
        ({"model": "kimi-k2.6"}, "neither 'messages'"),
        ({"messages": []}, "no 'model'"),
        ({"model": "gpt-4o", "messages": []}, "gpt-4o"),
    ],
)
def test_what_is_not_a_request_is_rejected_with_why(obj: Any, why: str) -> None:
    result = preflight_object(obj, settings=Settings(), source="<body>")
    assert result.status == "rejected" and why in result.errors[0]


def test_mediaprep_preflight_is_the_function_whatever_is_imported_first() -> None:
    code = (
        "import mediaprep.preflight\n"
        "import mediaprep as mp\n"
        "r = mp.preflight({'model': 'kimi-k2.6', 'messages': [{'role': 'user', 'content': 'hi'}]})\n"
        "assert r.status == 'ready' and not r.changed, r\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- batch files ----------------------------------------------------------------------------------


def batch_line(custom_id: str, body: dict[str, Any]) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})


@pytest.fixture(scope="module")
def mixed_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A handful of small media reused across lines: data URLs of a few KB and file:// paths."""
    d = tmp_path_factory.mktemp("mixed")
    files = {
        "jpeg_ok": encoded(photo(96, 64, seed=1), "JPEG"),
        "png_ok": encoded(photo(40, 30, seed=2), "PNG"),
        "png_tiny": encoded(photo(8, 6, seed=3), "PNG"),
        "gif": animated_gif(d / "anim.gif", frames=3, size=(24, 24)).read_bytes(),
        "webp_banner": encoded(photo(1200, 5, seed=4), "WEBP"),
    }
    clip = d / "clip.mp4"
    make_video(clip, frames=8, fps=8.0, size=(64, 48))  # 1 s: becomes an image list
    mime = {"jpeg_ok": "image/jpeg", "png_ok": "image/png", "png_tiny": "image/png", "gif": "image/gif", "webp_banner": "image/webp"}
    out = {name: data_url(data, mime[name]) for name, data in files.items()}
    out["video_short"] = data_url(clip.read_bytes(), "video/mp4")
    out["file_ok"] = "file://" + str(save(photo(80, 60, seed=5), d / "ok.jpg", "JPEG"))
    out["file_tiny"] = "file://" + str(save(photo(9, 9, seed=6), d / "tiny.png", "PNG"))
    out["file_wide"] = "file://" + str(save(photo(4000, 300, seed=7, noise=2), d / "wide.webp", "WEBP"))
    out["unreadable"] = "data:image/png;base64,!!not-base64!!"
    return out


def make_batch(path: Path, media: dict[str, str], lines: int) -> dict[int, str]:
    """`lines` requests of mixed media, both dialects; returns the broken lines (line number → kind)."""
    rows: list[str] = []
    broken: dict[int, str] = {}
    images = ["jpeg_ok", "png_ok", "png_tiny", "gif", "webp_banner"]
    for n in range(lines):
        cid = f"req-{n:04d}"
        if n % 97 == 13:
            rows.append('{"custom_id": "' + cid + '", "body": {')  # invalid JSON
            broken[n + 1] = "json"
        elif n % 97 == 42:
            rows.append(json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions"}))
            broken[n + 1] = "nobody"
        elif n % 97 == 71:
            rows.append(batch_line(cid, openai_body(oa_image(media["unreadable"]))))
            broken[n + 1] = "unreadable"
        elif n % 10 == 3:  # DashScope with file:// paths
            name = ("file_ok", "file_tiny", "file_wide")[n // 10 % 3]
            rows.append(batch_line(cid, dashscope_body({"image": media[name]}, {"image": media[images[n % 2]]})))
        elif n % 50 == 7:
            rows.append(batch_line(cid, openai_body({"type": "video_url", "video_url": {"url": media["video_short"]}, "fps": 4})))
        elif n % 10 == 5:
            rows.append(batch_line(cid, openai_body(oa_image(media[images[n % 5]]), oa_image(media[images[(n + 1) % 5]]))))
        else:
            rows.append(batch_line(cid, openai_body(oa_image(media[images[n % 5]]))))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return broken


def test_a_batch_of_1000_lines_is_fixed_in_order_and_rechecks_clean(tmp_path: Path, mixed_media: dict[str, str]) -> None:
    src = tmp_path / "batch.jsonl"
    broken = make_batch(src, mixed_media, 1000)
    runner = functools.partial(run_local, workers=2, item_timeout_s=120)
    started = time.monotonic()
    lines: list[dict[str, Any]] = []
    summary = preflight_file(src, tmp_path / "out" / "batch.jsonl", report_path=tmp_path / "out" / "report.jsonl", runner=runner, on_result=lines.append)
    elapsed = time.monotonic() - started
    assert elapsed < 60, elapsed
    assert summary.requests == 1000 and summary.rejected == len(broken) and summary.changed > 100
    assert [line["line"] for line in lines] == list(range(1, 1001)) and [line["index"] for line in lines] == list(range(1000))
    assert {line["line"] for line in lines if line["status"] == "rejected"} == set(broken)
    report = [json.loads(raw) for raw in (tmp_path / "out" / "report.jsonl").read_text().splitlines()]
    assert [r["line"] for r in report] == list(range(1, 1001))

    before = src.read_text().splitlines()
    after = (tmp_path / "out" / "batch.jsonl").read_text().splitlines()
    assert len(after) == 1000
    for n, (old, new) in enumerate(zip(before, after), start=1):
        if n in broken:
            assert new == old  # a rejected line is written as it was
        else:
            assert json.loads(new)["custom_id"] == json.loads(old)["custom_id"] == f"req-{n - 1:04d}"
            if not lines[n - 1]["changed"]:
                assert new == old
    assert all("file://" not in line for line in after)  # over HTTP, file paths were inlined

    # every fixed line re-checks clean: ready, nothing to change
    again: list[dict[str, Any]] = []
    preflight_file(tmp_path / "out" / "batch.jsonl", tmp_path / "again" / "batch.jsonl", runner=runner, on_result=again.append)
    for line in again:
        if line["line"] in broken:
            assert line["status"] == "rejected"
        else:
            assert line["status"] == "ready" and not line["changed"], line
            assert all(not m["changed"] and [a["op"] for a in m["actions"]] in ([], ["passthrough"]) for m in line["media"]), line
    assert (tmp_path / "again" / "batch.jsonl").read_bytes() == (tmp_path / "out" / "batch.jsonl").read_bytes()


def test_a_line_whose_job_fails_costs_that_line_only(tmp_path: Path, mixed_media: dict[str, str]) -> None:
    import importlib

    pf = importlib.import_module("mediaprep.preflight")  # the module (the package attribute is the function)

    src = tmp_path / "b.jsonl"
    src.write_text("\n".join(batch_line(f"r{n}", openai_body(oa_image(mixed_media["png_tiny"]))) for n in range(3)) + "\n")

    def runner(items: Any, job: Any) -> Any:
        def flaky(item: str) -> Any:
            if item.startswith("2:"):
                raise RuntimeError("a decoder bug")
            return job(item)

        return pf._in_process(items, flaky)

    lines: list[dict[str, Any]] = []
    summary = preflight_file(src, tmp_path / "out.jsonl", runner=runner, on_result=lines.append)
    assert (summary.ready, summary.rejected) == (2, 1)
    assert lines[1]["status"] == "rejected" and lines[1]["violations"][0]["code"] == "source.crashed" and lines[1]["line"] == 2
    assert lines[1]["violations"][0]["message"].startswith(f"{src}:2: RuntimeError: a decoder bug")
    out = (tmp_path / "out.jsonl").read_text().splitlines()
    assert out[1] == src.read_text().splitlines()[1] and out[0] != src.read_text().splitlines()[0]


def test_the_command_line(tmp_path: Path, mixed_media: dict[str, str]) -> None:
    src = tmp_path / "in" / "batch.jsonl"
    src.parent.mkdir()
    broken = make_batch(src, mixed_media, 40)
    code, out, err = run(["preflight", str(src), "--out", str(tmp_path / "out"), "--workers", "2"])
    assert code == 1 and (tmp_path / "out" / "batch.jsonl").is_file() and (tmp_path / "out" / "preflight.jsonl").is_file()
    assert out.count("\nrejected ") + out.startswith("rejected ") == len(broken) and "40 requests:" in err
    good = tmp_path / "in" / "good.json"
    good.write_text(json.dumps(openai_body(oa_image(mixed_media["png_tiny"]))))
    code, out, err = run(["preflight", str(good), "--out", str(tmp_path / "out2"), "--json"])
    line = json.loads(out)
    assert code == 0 and line["status"] == "ready" and line["changed"] and line["file"] == str(good)
    assert json.loads((tmp_path / "out2" / "good.json").read_text())["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png")
    assert run(["preflight", str(good), "--out", str(tmp_path / "in")])[0] == 2  # would overwrite the input
    assert run(["preflight", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")])[0] == 2
    code, _, err = run(["preflight", str(good), "--out", str(tmp_path / "o"), "--too-small", "reject"])
    assert code == 1


def test_published_fixes_of_different_data_urls_never_share_a_name(tmp_path: Path) -> None:
    a, b = encoded(Image.new("RGB", (8, 8), (255, 0, 0)), "BMP"), encoded(Image.new("RGB", (8, 8), (0, 0, 255)), "BMP")
    assert len(a) == len(b) and a != b  # the same label (header and length) for both
    result = mp.preflight(openai_body(oa_image(data_url(a, "image/bmp")), oa_image(data_url(b, "image/bmp"))), out_dir=tmp_path, url_prefix="https://cdn.example.com/m")
    urls = [p["image_url"]["url"] for p in result.body["messages"][0]["content"][:2]]  # type: ignore[index]
    assert len(set(urls)) == 2 and all(u.startswith("https://cdn.example.com/m/") for u in urls)
    colours = [Image.open(tmp_path / u.rsplit("/", 1)[1]).convert("RGB").getpixel((5, 5)) for u in urls]
    assert colours == [(255, 0, 0), (0, 0, 255)]


def test_other_urls_are_left_alone_and_crlf_batch_files_keep_their_bytes(tmp_path: Path) -> None:
    oss = mp.preflight(dashscope_body({"image": "oss://bucket/cat.png"}))
    assert oss.status == "ready" and not oss.changed and oss.media[0].note and oss.media[0].verdict is None
    ok = data_url(encoded(photo(64, 48), "JPEG"), "image/jpeg")
    src = tmp_path / "crlf.jsonl"
    src.write_bytes(("\r\n".join([batch_line("a", openai_body(oa_image(ok))), "", batch_line("b", openai_body(oa_image(ok)))]) + "\r\n").encode())
    summary = preflight_file(src, tmp_path / "out.jsonl")
    assert (summary.requests, summary.ready, summary.changed) == (2, 2, 0)
    assert (tmp_path / "out.jsonl").read_bytes() == src.read_bytes()
    tiny = data_url(encoded(photo(8, 8), "PNG"), "image/png")
    src.write_bytes((batch_line("a", openai_body(oa_image(tiny))) + "\r\n" + batch_line("b", openai_body(oa_image(ok)))).encode())
    preflight_file(src, tmp_path / "out.jsonl")
    first, second = (tmp_path / "out.jsonl").read_bytes().split(b"\r\n")
    assert json.loads(first)["custom_id"] == "a" and second == batch_line("b", openai_body(oa_image(ok))).encode()  # no newline added at the end
