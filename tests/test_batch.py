"""Batches: a crashing or hanging input costs itself only; results stay in input order; a run killed
with SIGKILL at any moment resumes to exactly one complete manifest line per input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from mediaprep.batch import run_local

HOOKS = Path(__file__).parent / "hooks"  # sitecustomize.py: crash/hang injection for subprocesses
CRASH_HOOK_ENV, HANG_HOOK_ENV = "MEDIAPREP_TEST_CRASH_ON", "MEDIAPREP_TEST_HANG_ON"

ROOT = Path(__file__).resolve().parent.parent


def _double(item: str) -> dict:
    return {"source": item, "status": "ok", "n": int(item) * 2, "violations": []}


def _boom(item: str) -> dict:
    if item == "3":
        raise RuntimeError("a bug in the job")
    return _double(item)


@pytest.mark.parametrize("workers", [0, 2])
def test_results_come_back_in_input_order(workers: int) -> None:
    items = [str(i) for i in range(40)]
    got = list(run_local(items, _double, workers=workers, item_timeout_s=30))
    assert [index for index, _, _ in got] == list(range(40))
    assert [r["n"] for _, _, r in got] == [2 * i for i in range(40)]


def test_an_exception_in_the_job_costs_that_item_only() -> None:
    got = {item: r for _, item, r in run_local([str(i) for i in range(6)], _boom, workers=2, item_timeout_s=30)}
    assert got["3"]["violations"][0]["code"] == "source.crashed" and "a bug in the job" in got["3"]["violations"][0]["message"]
    assert all(got[str(i)]["status"] == "ok" for i in (0, 1, 2, 4, 5))


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mediaprep", *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)


def test_crash_and_hang_are_reported_and_the_batch_goes_on(tmp_path: Path) -> None:
    names = [f"img{i:02d}.png" for i in range(8)] + ["CRASHME.png", "HANGME.png"]
    for n, name in enumerate(names):
        Image.new("RGB", (20 + n, 20)).save(tmp_path / name)
    started = time.monotonic()
    proc = _cli("check", "--json", "--workers", "2", "--item-timeout", "4", str(tmp_path), env={CRASH_HOOK_ENV: "CRASHME", HANG_HOOK_ENV: "HANGME", "PYTHONPATH": os.pathsep.join([str(HOOKS), os.environ.get("PYTHONPATH", "")])})
    elapsed = time.monotonic() - started
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert proc.returncode == 1, proc.stderr
    assert [Path(d["source"]).name for d in lines] == sorted(names)  # every input, in input order
    by = {Path(d["source"]).name: d for d in lines}
    crashed = by["CRASHME.png"]["violations"][0]
    assert crashed["code"] == "source.crashed" and "SIGSEGV" in crashed["message"]
    hung = by["HANGME.png"]["violations"][0]
    assert hung["code"] == "source.timeout" and hung["limit"] == 4
    assert all(by[n]["status"] == "ok" for n in names[:8])
    assert elapsed < 60
    assert "source.crashed" in proc.stderr and "source.timeout" in proc.stderr  # the summary table


def _make_inputs(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(count):
        p = folder / f"in{i:04d}.png"
        # every third is too small (padded), the rest pass through: real work for each
        Image.new("RGB", (8 if i % 3 == 0 else 40, 30), (i % 256, 0, 0)).save(p)
        paths.append(p)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return paths


def _manifest(out: Path) -> list[dict]:
    raw = (out / "manifest.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_lines", [5, 60, 150])
def test_sigkill_then_resume_processes_every_input_exactly_once(tmp_path: Path, kill_after_lines: int) -> None:
    inputs = _make_inputs(tmp_path / "in", 240)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mediaprep", "prepare", "--out", str(out), "--workers", "2", "--progress", "never", str(tmp_path / "in")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, start_new_session=True)
    manifest = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if manifest.exists() and manifest.read_bytes().count(b"\n") >= kill_after_lines:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its workers, mid-run
    proc.wait()
    before = manifest.read_bytes().count(b"\n") if manifest.exists() else 0
    resumed = _cli("prepare", "--out", str(out), "--workers", "2", "--resume", "--progress", "never", str(tmp_path / "in"))
    assert resumed.returncode == 1, resumed.stderr  # broken.jpg is rejected
    assert f"resume: {before} of 241 inputs already done" in resumed.stderr
    lines = _manifest(out)
    sources = [d["source"] for d in lines]
    assert len(sources) == len(set(sources)) == 241  # exactly once each
    assert set(sources) == {str(p) for p in inputs} | {str(tmp_path / "in" / "broken.jpg")}
    for d in lines:
        if d["status"] == "ready":
            for rel in d["outputs"]:
                im = Image.open(out / rel)
                im.load()  # a complete, valid file under its final name
        else:
            assert Path(d["source"]).name == "broken.jpg"
    leftovers = [p.name for p in out.rglob(".*")]
    assert leftovers == []  # no partial file anywhere


def test_resume_redoes_a_changed_input(tmp_path: Path) -> None:
    inputs = _make_inputs(tmp_path / "in", 4)
    out = tmp_path / "out"
    first = _cli("prepare", "--out", str(out), "--workers", "0", str(tmp_path / "in"))
    assert first.returncode == 1
    Image.new("RGB", (50, 50)).save(inputs[1])  # changed since
    os.utime(inputs[1], ns=(time.time_ns(), time.time_ns() + 10**9))
    again = _cli("prepare", "--out", str(out), "--workers", "0", "--resume", str(tmp_path / "in"))
    assert "resume: 4 of 5 inputs already done" in again.stderr
    lines = _manifest(out)
    assert [d["source"] for d in lines].count(str(inputs[1])) == 2  # the old line stays; the new one is last
    assert lines[-1]["source"] == str(inputs[1]) and lines[-1]["output_info"][0]["width_px"] == 50


# ---- issue 12: completion order (item 7), one input under a deadline (item 9), workers die with
# the CLI (item 12) ------------------------------------------------------------------------------


def _slow_first(item: str) -> dict:
    if item == "0":
        time.sleep(3)
    return _double(item)


def test_unordered_results_come_as_they_finish() -> None:
    items = [str(i) for i in range(8)]
    got = list(run_local(items, _slow_first, workers=2, item_timeout_s=30, ordered=False))
    assert sorted(index for index, _, _ in got) == list(range(8))
    assert got[-1][:2] == (0, "0")  # the slow first input came last, the others did not wait for it
    assert all(r["n"] == 2 * int(item) for _, item, r in got)
    assert [i for i, _, _ in run_local(items, _double, workers=0, item_timeout_s=30, ordered=False)] == list(range(8))


def _hooked_env(**extra: str) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(HOOKS), os.environ.get("PYTHONPATH", "")]), **extra}


def test_item_timeout_applies_to_a_single_input(tmp_path: Path) -> None:
    Image.new("RGB", (20, 20)).save(tmp_path / "HANGME.png")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediaprep", "check", "--json", "--item-timeout", "3", str(tmp_path / "HANGME.png")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **_hooked_env(**{HANG_HOOK_ENV: "HANGME"})}, cwd=ROOT, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("one hanging input with --item-timeout 3 still running after 30 s")
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, err
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert line["violations"][0]["code"] == "source.timeout" and line["violations"][0]["limit"] == 3
    assert elapsed < 15


def _gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting for a parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fp:
            state = fp.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return state in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_the_cli(tmp_path: Path) -> None:
    inputs, pids = tmp_path / "in", tmp_path / "pids"
    inputs.mkdir()
    pids.mkdir()
    for name in ("HANG-a.png", "HANG-b.png", "ok.png"):
        Image.new("RGB", (20, 20)).save(inputs / name)
    env = {**os.environ, **_hooked_env(**{HANG_HOOK_ENV: "HANG", "MEDIAPREP_TEST_PID_DIR": str(pids)})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediaprep", "check", "--workers", "2", "--item-timeout", "300", str(inputs)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT, start_new_session=True,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(workers) < 2:
            workers = {int(p.name) for p in pids.iterdir() if "HANG" in p.read_text()}
            time.sleep(0.05)
        assert len(workers) == 2, "both workers never started their hanging inputs"
        parents = {int(p.read_text().split()[0]) for p in pids.iterdir()} - {proc.pid}  # the forkserver
        os.kill(proc.pid, signal.SIGKILL)  # the CLI only
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(_gone(pid) for pid in workers | parents):
            time.sleep(0.1)
        assert [pid for pid in workers | parents if not _gone(pid)] == []
    finally:
        for pid in workers:  # whatever is left of a failed run: only the pids this test's CLI started
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
