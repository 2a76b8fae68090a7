"""The command line as a user runs it: real subprocesses for exit codes and streams, plus in-process
runs (`main(argv, stdout=...)`) for the many output-shape cases."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mediaprep.cli import main
from media import photo, png_bomb_header, save, with_orientation, marker


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture()
def batch(tmp_path: Path) -> dict[str, Path]:
    """A mixed batch: good files, fixable ones and every kind of bad input."""
    d = tmp_path / "in"
    d.mkdir()
    files = {
        "ok": save(photo(64, 48), d / "ok.jpg", "JPEG"),
        "ok2": save(photo(30, 30, seed=2), d / "sub" / "ok2.png", "PNG"),
        "tiny": save(photo(8, 8), d / "tiny.png", "PNG"),
        "rotated": with_orientation(marker(40, 20), d / "rot.jpg", 6),
        "empty": d / "empty.jpg",
        "text": d / "text.jpg",
        "bomb": d / "bomb.png",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("this is not a jpeg\n")
    files["bomb"].write_bytes(png_bomb_header(60_000, 60_000))
    return files


def test_check_json_shape_and_exit_code(batch: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    code, out, err = run(["check", "--json", str(batch["ok"].parent), str(missing)])
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    by_name = {Path(d["source"]).name: d for d in lines}
    assert set(by_name) == {"ok.jpg", "ok2.png", "tiny.png", "rot.jpg", "empty.jpg", "text.jpg", "bomb.png", "missing.png"}
    assert by_name["ok.jpg"]["status"] == "ok" and by_name["ok.jpg"]["info"]["format"] == "JPEG"
    assert by_name["rot.jpg"]["status"] == "ok" and by_name["rot.jpg"]["violations"][0]["code"] == "image.orientation"
    assert by_name["tiny.png"]["status"] == "fixable"
    assert by_name["empty.jpg"]["violations"][0]["code"] == "image.unreadable" and "empty" in by_name["empty.jpg"]["violations"][0]["message"]
    assert by_name["text.jpg"]["violations"][0]["code"] == "image.unreadable"
    assert by_name["bomb.png"]["violations"][0]["code"] == "image.too_many_pixels"
    assert by_name["missing.png"]["violations"][0]["code"] == "source.not_found"
    for d in lines:
        assert set(d) >= {"source", "kind", "status", "violations", "info", "estimate"}
        for v in d["violations"]:
            assert set(v) >= {"code", "severity", "message"}
    assert "8 inputs" in err


def test_check_exit_zero_when_all_ok(batch: dict[str, Path]) -> None:
    code, out, _ = run(["check", str(batch["ok"]), str(batch["ok2"])])
    assert code == 0 and out.count("ok ") == 2


def test_usage_errors_exit_2(batch: dict[str, Path]) -> None:
    assert run(["check", "--api", "nope", str(batch["ok"])])[0] == 2
    code, _, err = run(["check", "--api", "openai", "--transport", "path", str(batch["ok"])])
    assert code == 2 and "DashScope" in err
    assert run(["check", "--model", "gpt-4", str(batch["ok"])])[0] == 2
    assert run(["check", "--limit", "nonsense=1", str(batch["ok"])])[0] == 2
    assert run(["prepare", str(batch["ok"])])[0] == 2  # --out is required
    code, _, err = run(["prepare", "--out", "/tmp/x", "--transport", "url", str(batch["ok"])])
    assert code == 2 and "--url-prefix" in err


def test_stdin_inputs(batch: dict[str, Path]) -> None:
    code, out, _ = run(["check", "--json", "-"], stdin=f"{batch['ok']}\n\n{batch['tiny']}\n")
    assert code == 1
    assert [json.loads(line)["status"] for line in out.splitlines()] == ["ok", "fixable"]


def test_probe_command(batch: dict[str, Path]) -> None:
    code, out, _ = run(["probe", "--json", str(batch["rotated"]), str(batch["text"])])
    assert code == 1
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["info"]["width_px"] == 20 and first["info"]["stored_width_px"] == 40 and first["info"]["orientation"] == 6
    assert second["violations"][0]["code"] == "image.unreadable"


def test_prepare_manifest(batch: dict[str, Path], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run(["prepare", "--json", "--out", str(out_dir), str(batch["ok"].parent)])
    assert code == 1  # the bad inputs are rejected
    manifest = [json.loads(line) for line in (out_dir / "manifest.jsonl").read_text().splitlines()]
    printed = [json.loads(line) for line in out.splitlines()]
    assert [d["index"] for d in printed] == list(range(7))  # stdout in input order
    assert sorted(manifest, key=lambda d: d["index"]) == printed  # the manifest as inputs finished
    by_name = {Path(d["source"]).name: d for d in manifest}
    assert len(by_name) == 7
    for name in ("ok.jpg", "ok2.png", "tiny.png", "rot.jpg"):
        line = by_name[name]
        assert line["status"] == "ready" and line["part"]["type"] == "image_url"
        assert all((out_dir / p).is_file() for p in line["outputs"])
        assert all("op" in a and "reason" in a for a in line["actions"])
    assert by_name["ok.jpg"]["verdict"] == "ok" and by_name["ok.jpg"]["actions"][0]["op"] == "passthrough"
    assert by_name["tiny.png"]["verdict"] == "fixable" and "pad" in [a["op"] for a in by_name["tiny.png"]["actions"]]
    assert by_name["rot.jpg"]["actions"][0]["op"] == "orient"
    for name in ("empty.jpg", "text.jpg", "bomb.png"):
        assert by_name[name]["status"] == "rejected" and by_name[name]["outputs"] == [] and by_name[name]["part"] is None
    # nothing half-written is left behind
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]


def test_prepare_exit_zero_when_all_ready(batch: dict[str, Path], tmp_path: Path) -> None:
    code, out, _ = run(["prepare", "--out", str(tmp_path / "o"), "--api", "dashscope", "--transport", "path", str(batch["ok"]), str(batch["tiny"])])
    assert code == 0
    lines = [json.loads(x) for x in (tmp_path / "o" / "manifest.jsonl").read_text().splitlines()]
    line = next(x for x in lines if x["index"] == 1)  # the manifest is written as inputs finish
    assert line["part"]["image"].startswith("file:///")


def test_real_subprocess_and_python_m(batch: dict[str, Path]) -> None:
    proc = subprocess.run([sys.executable, "-m", "mediaprep", "check", "--json", str(batch["ok"]), str(batch["empty"])], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    statuses = [json.loads(line)["status"] for line in proc.stdout.splitlines()]
    assert statuses == ["ok", "rejected"]
    assert "2 inputs" in proc.stderr  # the summary never pollutes stdout
    usage = subprocess.run([sys.executable, "-m", "mediaprep", "check"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2


def _unprivileged(argv: list[str]) -> list[str]:
    """Run argv so that a mode-000 file is really unreadable: as a normal user nothing is needed;
    as root, drop the capabilities that let root read anything (setpriv, util-linux)."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: no way to make a file unreadable")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", *argv]


def test_permission_denied_is_reported_not_raised(tmp_path: Path) -> None:
    secret = save(photo(20, 20), tmp_path / "secret.png", "PNG")
    fine = save(photo(20, 20), tmp_path / "fine.png", "PNG")
    os.chmod(secret, 0o000)
    try:
        proc = subprocess.run(
            _unprivileged([sys.executable, "-m", "mediaprep", "check", "--json", str(secret), str(fine)]),
            capture_output=True, text=True, timeout=120,
        )
    finally:
        os.chmod(secret, 0o644)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1, proc.stderr
    assert lines[0]["violations"][0]["code"] == "source.permission_denied"
    assert "Permission denied" in lines[0]["violations"][0]["message"]
    assert lines[1]["status"] == "ok"


def test_the_readme_main_job_on_samples(tmp_path: Path) -> None:
    """samples/media holds every verdict: the README's first command shows a real mix."""
    samples = Path(__file__).resolve().parent.parent / "samples" / "media"
    code, out, _ = run(["check", "--json", "--workers", "0", str(samples)])
    statuses = {Path(d["source"]).name: d["status"] for d in map(json.loads, out.splitlines())}
    assert code == 1 and set(statuses.values()) == {"ok", "fixable", "rejected"}
    assert statuses["clip-3s.mp4"] == "ok" and statuses["clip-1s.mp4"] == "fixable" and statuses["bomb.png"] == "rejected"
    code, out, _ = run(["prepare", "--json", "--workers", "0", "--out", str(tmp_path), str(samples)])
    lines = {Path(d["source"]).name: d for d in map(json.loads, out.splitlines())}
    assert all(lines[n]["status"] == "ready" for n, s in statuses.items() if s != "rejected")
    assert lines["clip-1s.mp4"]["part"]["type"] == "video" and len(lines["clip-1s.mp4"]["part"]["video"]) >= 4


# ---- issue 11: --request-out, workspace ids, streaming, request forms, one token rule ----------


def _request_inputs(tmp_path: Path) -> list[Path]:
    d = tmp_path / "req-in"
    return [save(photo(64, 48), d / "a.jpg", "JPEG"), save(photo(30, 30, seed=2), d / "b.png", "PNG")]


def test_request_out_without_a_workspace_id_writes_the_body_and_prints_the_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASHSCOPE_WORKSPACE_ID", raising=False)
    req = tmp_path / "r.json"
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--out", str(tmp_path / "o"), "--prompt", "What is this?", "--request-out", str(req), *map(str, _request_inputs(tmp_path))])
    assert code == 0, err
    written = json.loads(req.read_text())
    assert written["url"] == "https://{WorkspaceId}.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1/chat/completions"
    assert [p["type"] for p in written["body"]["messages"][0]["content"]] == ["image_url", "image_url", "text"]
    note = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(note) == 1 and "{WorkspaceId}" in note[0] and "DASHSCOPE_WORKSPACE_ID" in note[0] and "workspace_id=" in note[0]


def test_the_workspace_id_comes_from_the_option_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = list(map(str, _request_inputs(tmp_path)))
    monkeypatch.setenv("DASHSCOPE_WORKSPACE_ID", "ws-env")
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--out", str(tmp_path / "o"), "--request-out", str(tmp_path / "a.json"), *inputs])
    assert code == 0 and "note:" not in err
    assert json.loads((tmp_path / "a.json").read_text())["url"].startswith("https://ws-env.ap-southeast-1.maas.aliyuncs.com/")
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--out", str(tmp_path / "o2"), "--workspace-id", "ws-opt", "--request-out", str(tmp_path / "b.json"), *inputs])
    assert code == 0 and json.loads((tmp_path / "b.json").read_text())["url"].startswith("https://ws-opt.ap-southeast-1.")
    monkeypatch.setenv("DASHSCOPE_WORKSPACE_ID", "not/a label")
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--out", str(tmp_path / "o3"), "--request-out", str(tmp_path / "c.json"), *inputs])
    assert code == 2 and "workspace_id" in err


def test_stream_flag_asks_for_a_streamed_answer(tmp_path: Path) -> None:
    inputs = list(map(str, _request_inputs(tmp_path)))
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--out", str(tmp_path / "o"), "--region", "us-east-1", "--stream", "--request-out", str(tmp_path / "s.json"), *inputs])
    assert code == 0, err
    body = json.loads((tmp_path / "s.json").read_text())["body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--out", str(tmp_path / "p"), "--api", "dashscope", "--region", "us-east-1", "--stream", "--request-out", str(tmp_path / "d.json"), *inputs])
    assert code == 0, err
    params = json.loads((tmp_path / "d.json").read_text())["body"]["parameters"]
    assert params["result_format"] == "message" and params["incremental_output"] is True


def test_file_paths_are_refused_for_http_and_written_for_the_dashscope_sdk_form(tmp_path: Path) -> None:
    inputs = list(map(str, _request_inputs(tmp_path)))
    common = ["prepare", "--workers", "0", "--progress", "never", "--api", "dashscope", "--transport", "path", "--region", "us-east-1", "--prompt", "hi"]
    http = tmp_path / "http.json"
    code, _, err = run([*common, "--out", str(tmp_path / "o"), "--request-out", str(http), *inputs])
    assert code == 1 and not http.exists()
    assert err.count("request.file_path_over_http: request: file:///") == 2
    sdk = tmp_path / "sdk.json"
    code, _, err = run([*common, "--out", str(tmp_path / "o2"), "--request-form", "dashscope-sdk", "--request-out", str(sdk), *inputs])
    assert code == 0, err
    written = json.loads(sdk.read_text())
    assert written["base_url"] == "https://dashscope-us.aliyuncs.com/api/v1"
    assert written["kwargs"]["model"] == "kimi-k2.6" and written["kwargs"]["enable_thinking"] is False
    assert [p.get("image", "")[:8] for p in written["kwargs"]["messages"][0]["content"]] == ["file:///", "file:///", ""]


def test_request_form_openai_writes_the_create_kwargs(tmp_path: Path) -> None:
    out = tmp_path / "oa.json"
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--out", str(tmp_path / "o"), "--region", "us-east-1", "--request-form", "openai", "--enable-thinking", "true", "--request-out", str(out), *map(str, _request_inputs(tmp_path))])
    assert code == 0, err
    written = json.loads(out.read_text())
    assert written["base_url"] == "https://dashscope-us.aliyuncs.com/compatible-mode/v1"
    assert written["kwargs"]["extra_body"] == {"enable_thinking": True} and "enable_thinking" not in {k for k in written["kwargs"] if k != "extra_body"}
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--out", str(tmp_path / "p"), "--api", "dashscope", "--request-form", "openai", "--request-out", str(out), *map(str, _request_inputs(tmp_path))])
    assert code == 2 and "--request-form openai" in err


def test_the_cli_token_total_is_prepared_tokens_plus_the_prompt(tmp_path: Path) -> None:
    """The manifest-line rule (`_line_tokens`) and `request.prepared_tokens` give the same numbers:
    a plain image, a split one (tiles), an animation sent as an image list."""
    import mediaprep as mp
    from mediaprep.cli.requests import _line_tokens
    from mediaprep.request import prepared_tokens
    from mediaprep.tokens import estimate_text
    from media import animated_png

    d = tmp_path / "mix"
    inputs = [save(photo(640, 480), d / "plain.jpg", "JPEG"), save(photo(3000, 12), d / "pano.png", "PNG"), animated_png(d / "anim.png", frames=8)]
    prompt = "Describe every picture."
    req = tmp_path / "r.json"
    code, out, err = run(["prepare", "--json", "--workers", "0", "--progress", "never", "--aspect-ratio", "split", "--animated", "frames", "--out", str(tmp_path / "o"), "--region", "us-east-1", "--prompt", prompt, "--request-out", str(req), *map(str, inputs)])
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    policy = mp.Policy(aspect_ratio="split", animated="frames")
    prepared = [mp.prepare(p, policy=policy, out_dir=tmp_path / "lib") for p in inputs]
    assert [p.status for p in prepared] == ["ready"] * 3
    assert len(prepared[1].parts) >= 2 and isinstance(prepared[2].part["video"], list)
    assert [_line_tokens(line) for line in lines] == [prepared_tokens(p) for p in prepared]
    total = sum(prepared_tokens(p) for p in prepared) + estimate_text(prompt).tokens
    assert f"about {total} tokens" in err
    built = mp.build_request(model="kimi-k2.6", api="openai", content=[*prepared, prompt], region="us-east-1")
    assert built.estimate.tokens == total


# ---------------------------------------------------------------------------------------------
# issue 12, item 20: what a hostile or unlucky name or folder does to the command line: a one-line
# error (exit 2, before any input is read) or a violation for that input, never a traceback


def _one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert err.startswith("mediaprep: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, (word, err)


def test_a_name_over_255_bytes_is_a_violation_of_that_input(tmp_path: Path) -> None:
    good = save(photo(40, 30), tmp_path / "good.png", "PNG")
    long = str(tmp_path / ("x" * 300 + ".png"))
    for command in (["probe"], ["check", "--workers", "0"], ["prepare", "--workers", "0", "--out", str(tmp_path / "o")]):
        code, out, err = run([*command, "--json", long, str(good)])
        lines = [json.loads(line) for line in out.splitlines()]
        assert code == 1 and len(lines) == 2, (command, err)
        assert lines[0]["violations"][0]["code"] == "source.not_found" and "File name too long" in lines[0]["violations"][0]["observed"]
        assert lines[1]["source"] == str(good) and lines[1].get("status", "ok") in ("ok", "ready")
    code, _, err = run(["frames", long, "--out", str(tmp_path / "f")])
    assert code == 1 and err.startswith("source.not_found: ")


def test_a_symlink_loop_is_a_violation_of_that_input(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    code, out, err = run(["probe", "--json", str(tmp_path / "a.mp4")])
    assert code == 1 and json.loads(out)["violations"][0]["code"] == "source.not_found", err
    assert "symbolic links" in json.loads(out)["violations"][0]["observed"]
    code, out, err = run(["frames", str(tmp_path / "a.mp4"), "--out", str(tmp_path / "f"), "--json"])
    assert code == 1 and json.loads(out)["violations"][0]["code"] == "source.not_found", err
    assert not (tmp_path / "f").exists()


def test_a_file_url_naming_a_host_is_a_violation_of_that_input_not_a_crash(tmp_path: Path) -> None:
    good = save(photo(40, 30), tmp_path / "good.png", "PNG")
    code, out, err = run(["probe", "--json", "file://host/x.png", str(good)])
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(lines) == 2, err  # the rest of the run goes on
    assert lines[0]["violations"][0]["code"] == "source.not_found" and "host 'host'" in lines[0]["violations"][0]["observed"]
    assert lines[1]["kind"] == "image"
    code, out, _ = run(["check", "--json", "--workers", "0", "file://host/x.png"])
    assert code == 1 and json.loads(out)["violations"][0]["code"] == "source.not_found"  # never source.crashed


def test_a_nul_byte_in_a_name_from_stdin_is_a_violation_of_that_input(tmp_path: Path) -> None:
    good = save(photo(40, 30), tmp_path / "good.png", "PNG")
    code, out, err = run(["probe", "--json", "-"], stdin=f"{tmp_path}/a\0b.png\n{good}\n")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [line["kind"] for line in lines] == ["unknown", "image"], err
    assert lines[0]["violations"][0]["code"] == "source.not_found"
    code, out, _ = run(["check", "--json", "--workers", "0", "-"], stdin=f"{tmp_path}/a\0b.png\n")
    assert code == 1 and json.loads(out)["violations"][0]["code"] == "source.not_found"


def test_an_out_folder_that_cannot_be_one_is_a_usage_error(tmp_path: Path) -> None:
    good = str(save(photo(40, 30), tmp_path / "good.png", "PNG"))
    afile = tmp_path / "afile"
    afile.write_text("x")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for out_dir, words in ((afile, ("--out", "not a folder")), (afile / "sub", ("--out", "Not a directory")), (tmp_path / "loop", ("--out", "symbolic links"))):
        for command in (["prepare", "--workers", "0", "--out", str(out_dir), good], ["frames", good, "--out", str(out_dir)]):
            code, out, err = run(command)
            _one_line_error(code, err, *words)
            assert out == ""
    assert afile.read_text() == "x"


@pytest.mark.parametrize("option", ["--request-out", "--batch-out", "--report"])
def test_an_output_file_naming_a_folder_or_a_missing_folder_is_refused_before_the_batch_runs(tmp_path: Path, option: str) -> None:
    good = str(save(photo(40, 30), tmp_path / "good.png", "PNG"))
    folder = tmp_path / "folder"
    folder.mkdir()
    out_dir = tmp_path / "o"
    for target, words in ((folder, ("a folder",)), (tmp_path / "missing" / "r.json", ("does not exist",)), (tmp_path / "good.png" / "r.json", ("Not a directory",))):
        code, out, err = run(["prepare", "--workers", "0", "--region", "us-east-1", "--out", str(out_dir), option, str(target), good])
        _one_line_error(code, err, option, *words)
        assert out == "" and not out_dir.exists()  # nothing ran
    if option == "--report":
        code, out, err = run(["check", "--workers", "0", option, str(folder), good])
        _one_line_error(code, err, option, "a folder")
        assert out == ""


def test_an_output_file_inside_an_out_folder_still_to_be_made_is_fine(tmp_path: Path) -> None:
    """README: `mediaprep prepare samples/media --out out --report out/report.html`."""
    good = str(save(photo(40, 30), tmp_path / "good.png", "PNG"))
    out_dir = tmp_path / "new"
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--region", "us-east-1", "--out", str(out_dir), "--report", str(out_dir / "report.html"), "--request-out", str(out_dir / "req.json"), good])
    assert code == 0, err
    assert (out_dir / "report.html").is_file() and (out_dir / "req.json").is_file()


def test_a_read_only_out_folder_is_a_usage_error_in_a_real_process(tmp_path: Path) -> None:
    """In a subprocess, with root's override capabilities dropped: exit 2, one line, no traceback."""
    good = str(save(photo(40, 30), tmp_path / "good.png", "PNG"))
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    try:
        for out_dir in (locked, locked / "sub"):
            proc = subprocess.run(
                _unprivileged([sys.executable, "-m", "mediaprep", "prepare", "--workers", "0", "--out", str(out_dir), good]),
                capture_output=True, text=True, timeout=120,
            )
            _one_line_error(proc.returncode, proc.stderr, "--out", "is not writable")
            assert proc.stdout == ""
        assert list(locked.iterdir()) == []
    finally:
        os.chmod(locked, 0o755)


def test_a_write_that_fails_mid_run_is_one_line_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk cannot be made here without mounting one: the write of --request-out fails the
    way it would (ENOSPC) instead. The manifest is written; the error is one line; exit 1."""
    import errno

    import mediaprep.cli.requests as requests_module

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(requests_module, "write_atomic", full)
    good = str(save(photo(40, 30), tmp_path / "good.png", "PNG"))
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--region", "us-east-1", "--out", str(tmp_path / "o"), "--request-out", str(tmp_path / "r.json"), good])
    assert code == 1
    last = err.splitlines()[-1]
    assert last.startswith("mediaprep: error: ") and "No space left on device" in last and "Traceback" not in err
    assert (tmp_path / "o" / "manifest.jsonl").read_text().count("\n") == 1


# ---------------------------------------------------------------------------------------------
# issue 12, item 25: names are printed escaped in text output (never raw CR, ESC, newline)

HOSTILE = "a\rb\x1b[2Jc.png"


def test_control_characters_in_names_are_escaped_in_every_text_line(tmp_path: Path) -> None:
    shown = "a\\rb\\x1b[2Jc.png"
    good = save(photo(40, 30), tmp_path / HOSTILE, "PNG")
    bad = tmp_path / "bad\nname\x07.jpg"
    bad.write_bytes(b"")
    for command in (["check", "--workers", "0"], ["prepare", "--workers", "0", "--out", str(tmp_path / "o")]):
        code, out, err = run([*command, str(good), str(bad)])
        assert code == 1, err
        for text in (out, err):
            assert "\r" not in text and "\x1b" not in text and "\x07" not in text, text
        lines = out.splitlines()
        assert any(line.split()[0] in ("ok", "ready") and line.split()[1].endswith(shown) for line in lines), lines
        rejected = [line for line in lines if line.startswith("rejected")]
        assert rejected and rejected[0].endswith("bad\\nname\\x07.jpg" + ("" if command[0] == "check" else " → -")), lines
        message = [line for line in lines if "image.unreadable" in line]
        assert message and "bad\\nname\\x07.jpg:" in message[0]
    # --json keeps the name exactly (JSON escapes it)
    code, out, _ = run(["check", "--json", "--workers", "0", str(good)])
    assert code == 0 and json.loads(out)["source"] == str(good)


def test_a_usage_error_naming_a_hostile_path_is_escaped(tmp_path: Path) -> None:
    afile = tmp_path / HOSTILE
    afile.write_text("x")
    code, _, err = run(["prepare", "--out", str(afile), str(afile)])
    _one_line_error(code, err, "a\\rb\\x1b[2Jc.png")
    assert "\r" not in err and "\x1b" not in err


def test_printable() -> None:
    from mediaprep.cli.output import printable

    assert printable("plain/name é 漢字.png") == "plain/name é 漢字.png"
    assert printable("C:\\photos\\a.png") == "C:\\photos\\a.png"  # backslashes stay as they are
    assert printable("a\rb\nc\td\x1b[0m\x00\x7f\x85\x9f") == "a\\rb\\nc\\td\\x1b[0m\\x00\\x7f\\x85\\x9f"
    assert printable("caf\udce9.png") == "caf\\xe9.png"  # a non-UTF-8 byte kept by surrogateescape
