"""The Ray engine on a real local Ray (num_cpus=2, started once for the module): the same lines as
the local engine for the same inputs, in input order; a crash, a hang or an exception costs its own
input only; `map_reports` gives one report row per input. Without Ray, a clear install hint.

Ray is an optional extra (`pip install "mediaprep[ray]"`); these tests skip, saying so, when it is
not installed."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from mediaprep.batch import run_local
from mediaprep.errors import UsageError
from mediaprep.jobs import check_job
from mediaprep.models import Policy, Target

ROOT = Path(__file__).resolve().parent.parent
HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAVE_RAY, reason='Ray is not installed (optional extra: pip install "mediaprep[ray]")')

# Test-only hooks read by the worker wrapper; unique names so no other input trips them.
CRASH_MARK, HANG_MARK = "RAYCRASH", "RAYHANG"


def _job() -> functools.partial:
    return functools.partial(check_job, target=Target(), policy=Policy(), fast=False, remote=None)


def _faulty(item: str, *, job: functools.partial) -> dict:
    """Fault injection (test-only): an input named after CRASH_MARK kills its worker by SIGSEGV,
    one named after HANG_MARK hangs; every other input runs `job`."""
    if CRASH_MARK in item:
        os.kill(os.getpid(), signal.SIGSEGV)
    if HANG_MARK in item:
        time.sleep(10**6)
    return job(item)


def _faulty_job() -> functools.partial:
    return functools.partial(_faulty, job=_job())


def _raise_on_three(item: str) -> dict:
    if item.endswith("-03"):
        raise RuntimeError("a bug in the job")
    return {"source": item, "kind": "unknown", "status": "ok", "violations": []}


def _line(result: dict) -> str:
    """A result as the line the CLI prints: both engines must agree on it byte for byte."""
    return json.dumps(result, sort_keys=True, ensure_ascii=False)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[object]:
    from mediaprep.ray_engine import _import_ray, start_local_ray

    ray = _import_ray()  # sets the offline defaults (no usage stats) before Ray starts
    if ray.is_initialized():  # pragma: no cover - another module left one running
        ray.shutdown()
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    start_local_ray(num_cpus=2)
    try:
        yield ray
    finally:
        ray.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """20 images — ok (JPEG, PNG, WEBP, GIF), fixable (a side ≤ 10 px, over 200:1), broken (not an
    image, a truncated JPEG) — and one short H.264 video, in a sorted list."""
    from videos import make_video

    folder = tmp_path_factory.mktemp("ray-inputs")
    for i in range(12):
        fmt, ext = [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif")][i % 4]
        Image.new("RGB", (40 + 17 * i, 30 + 11 * i), (20 * i, 90, 200 - 10 * i)).save(folder / f"ok-{i:02d}.{ext}", fmt)
    for i in range(3):
        Image.new("RGB", (8, 40 + i)).save(folder / f"small-{i:02d}.png")
    Image.new("L", (2100, 10)).save(folder / "wide-00.png")
    Image.new("RGB", (9, 9)).save(folder / "tiny-00.jpg")
    (folder / "broken-00.jpg").write_bytes(b"not a jpeg at all")
    good = folder / "ok-00.jpg"
    (folder / "broken-01.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (folder / "broken-02.png").write_bytes(b"")
    make_video(folder / "clip-00.mp4", frames=12, fps=6.0)
    return sorted(str(p) for p in folder.iterdir())


@needs_ray
def test_same_lines_as_the_local_engine_in_input_order(local_ray: object, mixed_inputs: list[str]) -> None:
    from mediaprep.ray_engine import run_ray

    local = list(run_local(mixed_inputs, _job(), workers=2, item_timeout_s=60))
    on_ray = list(run_ray(mixed_inputs, _job(), item_timeout_s=60))
    assert [(i, item) for i, item, _ in on_ray] == list(enumerate(mixed_inputs))
    statuses = {r["status"] for _, _, r in local}
    assert statuses == {"ok", "fixable", "rejected"}  # the inputs exercise every verdict
    assert any(r["kind"] == "video" and r["status"] == "ok" for _, _, r in local)
    # nothing legitimately differs between the engines (no timing in a check line): compare whole lines
    for (_, item, a), (_, _, b) in zip(local, on_ray, strict=True):
        assert _line(a) == _line(b), item
    assert local_ray.is_initialized()  # a Ray the caller had is left running


@needs_ray
@pytest.mark.parametrize("items_per_task", [1, 4])
def test_a_crash_and_a_hang_cost_their_own_input_only(local_ray: object, tmp_path: Path, items_per_task: int) -> None:
    from mediaprep.ray_engine import run_ray

    names = [f"img-{i:02d}.png" for i in range(6)] + [f"{CRASH_MARK}.png", f"{HANG_MARK}.png"]
    for n, name in enumerate(names):
        Image.new("RGB", (20 + n, 20)).save(tmp_path / name)
    items = sorted(str(tmp_path / n) for n in names)
    got = list(run_ray(items, _faulty_job(), item_timeout_s=3, items_per_task=items_per_task))
    assert [item for _, item, _ in got] == items
    by = {Path(item).name: r for _, item, r in got}
    crashed = by[f"{CRASH_MARK}.png"]["violations"]
    assert [v["code"] for v in crashed] == ["source.crashed"] and "Ray worker" in crashed[0]["message"]
    hung = by[f"{HANG_MARK}.png"]["violations"]
    assert [v["code"] for v in hung] == ["source.timeout"] and hung[0]["limit"] == 3
    assert all(by[n]["status"] == "ok" for n in names[:6])  # block-mates of both were redone, not lost


@needs_ray
def test_an_exception_in_the_job_costs_that_item_only(local_ray: object) -> None:
    from mediaprep.ray_engine import run_ray

    items = [f"item-{i:02d}" for i in range(8)]
    got = list(run_ray(items, _raise_on_three, items_per_task=4))
    assert [item for _, item, _ in got] == items
    by = {item: r for _, item, r in got}
    v = by["item-03"]["violations"]
    assert [x["code"] for x in v] == ["source.crashed"] and "RuntimeError: a bug in the job" in v[0]["message"]
    assert all(by[i]["status"] == "ok" for i in items if i != "item-03")


@needs_ray
def test_unordered_results_carry_their_index_and_a_crash_costs_its_own_input_only(local_ray: object, tmp_path: Path) -> None:
    """ordered=False (what `prepare` uses to write its manifest as inputs finish): every input once,
    each with its input position, a crashed one included after its block's second pass."""
    from mediaprep.ray_engine import run_ray

    names = [f"img-{i:02d}.png" for i in range(6)] + [f"{CRASH_MARK}.png"]
    for n, name in enumerate(names):
        Image.new("RGB", (20 + n, 20)).save(tmp_path / name)
    items = sorted(str(tmp_path / n) for n in names)
    got = list(run_ray(items, _faulty_job(), item_timeout_s=60, items_per_task=4, ordered=False))
    assert sorted(i for i, _, _ in got) == list(range(len(items)))
    assert all(items[i] == item for i, item, _ in got)
    by = {Path(item).name: r for _, item, r in got}
    assert [v["code"] for v in by[f"{CRASH_MARK}.png"]["violations"]] == ["source.crashed"]
    assert all(by[n]["status"] == "ok" for n in names[:6])


@needs_ray
def test_map_reports_gives_one_report_row_per_input(local_ray: object, mixed_inputs: list[str]) -> None:
    import ray.data

    from mediaprep.ray_engine import REPORT_COLUMNS, map_reports

    ds = ray.data.from_items([{"path": p, "label": f"#{n}"} for n, p in enumerate(mixed_inputs)], override_num_blocks=3)
    rows = map_reports(ds).take_all()
    assert sorted(r["path"] for r in rows) == mixed_inputs  # one row per input, none lost or doubled
    local = {item: r for _, item, r in run_local(mixed_inputs, _job(), workers=0, item_timeout_s=60)}
    for row in rows:
        assert set(REPORT_COLUMNS) | {"path", "label"} <= set(row)
        want = local[row["path"]]
        assert row["source"] == want["source"] and row["kind"] == want["kind"] and row["status"] == want["status"]
        assert list(row["codes"]) == [v["code"] for v in want["violations"]]
        assert json.loads(row["report_json"]) == json.loads(json.dumps(want))
    assert {r["status"] for r in rows} == {"ok", "fixable", "rejected"}


@needs_ray
def test_map_reports_names_a_missing_column(local_ray: object) -> None:
    import ray.data

    from mediaprep.ray_engine import map_reports

    ds = ray.data.from_items([{"url": "a.png"}])
    with pytest.raises(UsageError, match="no column 'path'; its columns: url"):
        map_reports(ds)


@needs_ray
def test_run_ray_starts_its_own_ray_and_shuts_it_down(tmp_path: Path) -> None:
    """In a fresh interpreter (the module's Ray stays up): no Ray before, a local one during, none after."""
    Image.new("RGB", (30, 20)).save(tmp_path / "a.png")
    code = (
        "import functools, ray\n"
        "from mediaprep.ray_engine import run_ray\n"
        "from mediaprep.jobs import check_job\n"
        "from mediaprep.models import Policy, Target\n"
        "job = functools.partial(check_job, target=Target(), policy=Policy(), fast=False, remote=None)\n"
        f"got = list(run_ray([{str(tmp_path / 'a.png')!r}], job, num_cpus=1))\n"
        "assert got[0][2]['status'] == 'ok', got\n"
        "assert not ray.is_initialized()\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from mediaprep import ray_engine

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(UsageError, match=r'pip install "mediaprep\[ray\]"'):
        list(ray_engine.run_ray(["a.png"], _raise_on_three))


def test_bad_arguments_are_usage_errors() -> None:
    from mediaprep.ray_engine import run_ray

    with pytest.raises(UsageError, match="item_timeout_s 0 must be more than 0 s"):
        list(run_ray(["a.png"], _raise_on_three, item_timeout_s=0))
    with pytest.raises(UsageError, match="items_per_task 0 must be at least 1"):
        list(run_ray(["a.png"], _raise_on_three, items_per_task=0))
