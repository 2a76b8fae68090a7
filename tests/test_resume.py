"""`prepare --out` as shared, long-lived state (issue 12, items 2, 4, 5, 6, 7): a resume deletes only
mediaprep's own leftovers; a non-UTF-8 file name neither aborts a batch nor breaks the manifest; one
run at a time holds an out folder; a changed `file://` input is redone; manifest lines are written as
inputs finish, so a kill -9 loses no finished input."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from mediaprep.cli import main

ROOT = Path(__file__).resolve().parent.parent
HOOKS = Path(__file__).parent / "hooks"  # sitecustomize.py: crash/hang injection for subprocesses
STRICT = {"PYTHONIOENCODING": "utf-8:strict"}  # a strict UTF-8 stdout, whatever the locale


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def _env(extra: dict[str, str] | None = None, *, hooks: bool = False) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    if hooks:
        env["PYTHONPATH"] = os.pathsep.join([str(HOOKS), os.environ.get("PYTHONPATH", "")])
    return env


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The CLI in its own session; on a timeout the whole session is killed (workers included)."""
    proc = subprocess.Popen([sys.executable, "-m", "mediaprep", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or _env(), cwd=ROOT, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"mediaprep {' '.join(args)} still running after {timeout} s; stderr: {err[-2000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _manifest(out: Path) -> list[dict]:
    raw = (out / "manifest.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]  # strict UTF-8


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"{what}: not after {timeout} s")


# ---- item 2: a resume deletes only what mediaprep wrote ------------------------------------------


def _new_temp_name(name: str) -> str:
    """`.mediaprep-tmp-<hex token>-<name>`, with a token length `outputs.TEMP_NAME_RE` accepts."""
    from mediaprep import outputs

    candidates = [f".mediaprep-tmp-{'0123456789abcdef' * n}-{name}" for n in (1, 2, 4)]
    pattern = getattr(outputs, "TEMP_NAME_RE", None)
    return next((c for c in candidates if pattern.match(c)), candidates[0]) if pattern is not None else candidates[0]


def test_resume_removes_only_mediaprep_temporaries(tmp_path: Path) -> None:
    src = tmp_path / "a.png"
    Image.new("RGB", (30, 30)).save(src)
    out = tmp_path / "out"
    assert run(["prepare", "--workers", "0", "--progress", "never", "--out", str(out), str(src)])[0] == 0
    mine = {
        out / ".env.tmpl": b"SECRET=1\n",
        out / ".config" / ".settings.tmp": b"keep me\n",
        out / ".tmpfiles-notes": b"notes\n",
        out / ".report.tmp": b"not ours\n",
        out / ".a.png.tmp-notdigits": b"not ours\n",
    }
    for path, data in mine.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    leftovers = [
        out / ".a-0123abcd.png.tmp-4242",  # today's temporary name (`.<name>.tmp-<pid>`)
        out / "a-0123abcd" / ".frame_00001.jpg.tmp-17",  # in an image list's folder
        out / _new_temp_name("a-0123abcd.png"),  # the new unpredictable name
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    code, _, err = run(["prepare", "--workers", "0", "--progress", "never", "--resume", "--out", str(out), str(src)])
    assert code == 0, err
    assert "resume: 1 of 1 inputs already done; 3 partial files removed" in err
    for path, data in mine.items():
        assert path.read_bytes() == data, f"{path.name} was deleted or changed"
    assert not [p for p in leftovers if p.exists()]


# ---- item 4: a file name that is not UTF-8 --------------------------------------------------------


@pytest.fixture()
def latin1_folder(tmp_path: Path) -> tuple[Path, bytes]:
    """A folder with `caf\\xe9.png` (Latin-1, not valid UTF-8) between two ordinary names."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (30, 30)).save(folder / "a.png")
    raw = os.path.join(os.fsencode(folder), b"caf\xe9.png")
    with open(raw, "wb") as fp:
        Image.new("RGB", (40, 30), (200, 10, 10)).save(fp, "PNG")
    Image.new("RGB", (8, 8)).save(folder / "z.png")  # fixable: padded
    return folder, raw


def test_check_json_survives_a_non_utf8_name_on_a_strict_stdout(latin1_folder: tuple[Path, bytes]) -> None:
    folder, raw = latin1_folder
    proc = _cli("check", "--json", "--progress", "never", str(folder), env=_env(STRICT))
    assert proc.returncode == 1, proc.stderr  # z.png is fixable
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(lines) == 3 and [d["status"] for d in lines] == ["ok", "ok", "fixable"]
    odd = lines[1]
    assert base64.b64decode(odd["source_bytes_b64"]) == raw  # the exact name, round-trip
    assert odd["source"].endswith("caf\ufffd.png")  # readable text
    assert "source_bytes_b64" not in lines[0] and "source_bytes_b64" not in lines[2]
    text = _cli("check", "--progress", "never", str(folder), env=_env(STRICT))
    assert text.returncode == 1, text.stderr
    assert "caf\\xe9.png" in text.stdout or "caf\ufffd.png" in text.stdout  # shown, escaped or replaced


def test_prepare_and_resume_with_a_non_utf8_name(latin1_folder: tuple[Path, bytes], tmp_path: Path) -> None:
    folder, raw = latin1_folder
    out = tmp_path / "out"
    batch = tmp_path / "batch.jsonl"
    first = _cli("prepare", "--progress", "never", "--out", str(out), "--region", "us-east-1", "--batch-out", str(batch), str(folder), env=_env(STRICT))
    assert first.returncode == 0, first.stderr
    assert len([json.loads(x) for x in batch.read_text(encoding="utf-8").splitlines()]) == 3
    assert "caf\\xe9.png" in first.stdout or "caf\ufffd.png" in first.stdout
    lines = _manifest(out)
    assert len(lines) == 3 and {d["status"] for d in lines} == {"ready"}
    (odd,) = [d for d in lines if "source_bytes_b64" in d]
    assert base64.b64decode(odd["source_bytes_b64"]) == raw and odd["source"].endswith("caf\ufffd.png")
    assert all((out / rel).is_file() for rel in odd["outputs"])
    again = _cli("prepare", "--json", "--progress", "never", "--resume", "--out", str(out), str(folder), env=_env(STRICT))
    assert again.returncode == 0, again.stderr
    assert "resume: 3 of 3 inputs already done" in again.stderr
    assert again.stdout == "" and len(_manifest(out)) == 3
    # changed since: redone, and its new line names the same bytes
    with open(raw, "wb") as fp:
        Image.new("RGB", (50, 30)).save(fp, "PNG")
    os.utime(raw, ns=(time.time_ns(), time.time_ns() + 10**9))
    third = _cli("prepare", "--json", "--progress", "never", "--resume", "--out", str(out), str(folder), env=_env(STRICT))
    assert third.returncode == 0, third.stderr
    assert "resume: 2 of 3 inputs already done" in third.stderr
    redone = json.loads(third.stdout)
    assert base64.b64decode(redone["source_bytes_b64"]) == raw and redone["output_info"][0]["width_px"] == 50


# ---- item 5: one run at a time per --out ----------------------------------------------------------


def test_a_second_prepare_on_the_same_out_is_refused_naming_the_first(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.png", "b.png", "HANGME.png"):
        Image.new("RGB", (30, 30)).save(inputs / name)
    out, pids = tmp_path / "out", tmp_path / "pids"
    pids.mkdir()
    env = _env({"MEDIAPREP_TEST_HANG_ON": "HANGME", "MEDIAPREP_TEST_PID_DIR": str(pids)}, hooks=True)
    first = subprocess.Popen(
        [sys.executable, "-m", "mediaprep", "prepare", "--workers", "2", "--item-timeout", "8", "--progress", "never", "--out", str(out), str(inputs)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, start_new_session=True,
    )
    try:
        _wait_for(lambda: any("HANGME" in p.read_text() for p in pids.iterdir()), 60, "the first run never reached its hanging input")
        second = _cli("prepare", "--workers", "0", "--progress", "never", "--out", str(out), str(inputs / "a.png"))
        assert second.returncode == 2, second.stderr
        assert f"pid {first.pid}" in second.stderr and "started" in second.stderr and str(out) in second.stderr
        assert first.poll() is None  # the first is untouched
        _, first_err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    assert first.returncode == 1, first_err  # HANGME timed out
    assert "source.timeout" in first_err
    assert len(_manifest(out)) == 3
    third = _cli("prepare", "--workers", "0", "--progress", "never", "--resume", "--out", str(out), str(inputs))
    assert third.returncode == 0, third.stderr  # free again; the timed-out input is redone (no hook now)
    assert "resume: 2 of 3 inputs already done" in third.stderr


def test_the_lock_names_its_holder_and_is_released(tmp_path: Path) -> None:
    from mediaprep import manifest
    from mediaprep.errors import UsageError

    with manifest.lock_out_dir(tmp_path, command=["mediaprep", "prepare", "x"]):
        holder = (tmp_path / manifest.LOCK_NAME).read_text()
        assert str(os.getpid()) in holder and "mediaprep prepare x" in holder
        with pytest.raises(UsageError, match=rf"pid {os.getpid()}, started "):
            with manifest.lock_out_dir(tmp_path, command=["again"]):
                pass  # pragma: no cover
    assert not (tmp_path / manifest.LOCK_NAME).exists()
    with manifest.lock_out_dir(tmp_path, command=["again"]):
        pass


# ---- item 6: file:// inputs are fingerprinted like paths ------------------------------------------


def test_a_changed_file_url_input_is_redone_on_resume(tmp_path: Path) -> None:
    src = tmp_path / "a b.png"
    Image.new("RGB", (30, 30)).save(src)
    url = src.as_uri()  # file:///…/a%20b.png
    out = tmp_path / "out"
    common = ["prepare", "--workers", "0", "--progress", "never", "--out", str(out)]
    assert run([*common, url])[0] == 0
    assert _manifest(out)[0]["input"]["size_bytes"] == src.stat().st_size
    code, _, err = run([*common, "--resume", url])
    assert code == 0 and "resume: 1 of 1 inputs already done" in err
    Image.new("RGB", (50, 30)).save(src)
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))
    code, _, err = run([*common, "--resume", url])
    assert code == 0 and "resume: 0 of 1 inputs already done" in err
    assert _manifest(out)[-1]["output_info"][0]["width_px"] == 50


# ---- item 7: manifest lines are written as inputs finish ------------------------------------------


def test_finished_inputs_behind_a_hung_one_survive_a_kill(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.new("RGB", (30, 30)).save(inputs / "a-HANGME.png")  # first in input order
    for i in range(30):
        Image.new("RGB", (30 + i, 30)).save(inputs / f"q{i:02d}.png")
    out = tmp_path / "out"
    env = _env({"MEDIAPREP_TEST_HANG_ON": "HANGME"}, hooks=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediaprep", "prepare", "--workers", "2", "--item-timeout", "120", "--progress", "never", "--out", str(out), str(inputs)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT, start_new_session=True,
    )
    manifest = out / "manifest.jsonl"
    try:
        _wait_for(lambda: manifest.exists() and manifest.read_bytes().count(b"\n") >= 30, 60, "30 finished inputs are not in the manifest")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its workers
        proc.wait()
    lines = _manifest(out)
    assert sorted(d["index"] for d in lines) == list(range(1, 31))  # input order can be restored
    assert sorted(Path(d["source"]).name for d in lines) == [f"q{i:02d}.png" for i in range(30)]
    resumed = _cli("prepare", "--workers", "2", "--progress", "never", "--resume", "--out", str(out), str(inputs))
    assert resumed.returncode == 0, resumed.stderr
    assert "resume: 30 of 31 inputs already done" in resumed.stderr
    lines = _manifest(out)
    assert len(lines) == 31 and len({d["source"] for d in lines}) == 31
    assert Path(lines[-1]["source"]).name == "a-HANGME.png" and lines[-1]["index"] == 0


def test_prepare_prints_in_input_order_while_the_manifest_takes_finishing_order(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(12):
        Image.new("RGB", (30 + i, 30)).save(inputs / f"p{i:02d}.png")
    out = tmp_path / "out"
    proc = _cli("prepare", "--json", "--workers", "2", "--progress", "never", "--out", str(out), str(inputs))
    assert proc.returncode == 0, proc.stderr
    printed = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [d["index"] for d in printed] == list(range(12))
    assert [Path(d["source"]).name for d in printed] == [f"p{i:02d}.png" for i in range(12)]
    assert sorted(_manifest(out), key=lambda d: d["index"]) == printed
