"""Ray as a batch engine: the same per-input job as the local pool (`batch.run_local`), run by Ray
Data over a dataset of the inputs, on a local Ray or an existing cluster. Ray is an optional extra
(`pip install "mediaprep[ray]"`); this module imports it only when called.

How a batch runs (`run_ray`):
- The inputs become a Ray Data dataset of `{"index", "item"}` rows cut into blocks of
  `items_per_task` rows; one Ray task maps one block, calling the job once per row. A row's result
  travels back as a JSON string (Arrow cannot hold the reports' ragged nesting), so what comes out
  is exactly the job's JSON line.
- Order: the dataset runs with `preserve_order`, and the driver also buffers by index, so results
  stream out in input order whatever Ray does. With `ordered=False` neither: results come out as
  Ray Data hands them over, each with its input's index.
- Isolation: an exception in the job is a `source.crashed` result for its row, in the worker. A
  worker that dies (a decoder's segfault, the out-of-memory killer) fails its whole task: tasks run
  with `max_retries=0` (Ray Data's default retries forever, so a file that always segfaults would
  never end) and the dataset with `max_errored_blocks=-1`, so a failed block is dropped and the
  batch goes on. The rows it held are then run again one per task: a row that kills its worker
  again is reported as `source.crashed`, the others get their real results. A crash therefore costs
  its own input only (and one re-run of its block-mates).
- Timeouts: Ray Data has no per-row deadline, so each row runs under a watchdog thread in the
  worker. Past `item_timeout_s` the watchdog writes the row's index to a small named actor (made
  only when a timeout happens) and ends the worker process; the driver reads the actor to tell a
  `source.timeout` from a `source.crashed`. A decoder that hangs while holding the GIL stops the
  watchdog too: a C-level backstop (faulthandler) ends the worker 60 s later and that row is
  reported as `source.crashed`.
- Ray's own retries for lost nodes are off for the same reason (max_retries=0): on a cluster that
  loses a node, its rows take the one-per-task second pass like a crash.

Process-wide settings: before importing Ray the module sets, only where the caller has not,
RAY_USAGE_STATS_ENABLED=0 and RAY_ENABLE_UV_RUN_RUNTIME_ENV=0 (nothing is sent or downloaded); a Ray
it starts has no dashboard. It never shuts down a Ray the caller already had.
"""

from __future__ import annotations

import faulthandler
import functools
import json
import math
import os
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .batch import Job, _failure, run_one
from .errors import UsageError
from .models import ResultLine

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow
    import ray.data

INSTALL_HINT = 'pip install "mediaprep[ray]"'
MAX_ITEMS_PER_TASK = 32  # Ray Data costs ~16 ms per task here; 32 inputs share it (~0.5 ms each)
TASKS_PER_CPU = 4  # small batches are cut finer so every CPU gets work
_OFFLINE_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
_BACKSTOP_S = 60.0  # faulthandler ends a worker this long after a deadline its watchdog missed
_TIMEOUT_EXIT_CODE = 75


def _import_ray() -> Any:
    """Ray, or a UsageError that says how to install it. Sets the offline defaults first."""
    for name, value in _OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    try:
        import ray
        import ray.data  # noqa: F401  (the engine and map_reports need Ray Data, the [data] extra)
    except ImportError as exc:
        raise UsageError(f"the Ray engine needs Ray, which is not installed ({exc.name or exc}); install it with: {INSTALL_HINT}") from exc
    return ray


# --------------------------------------------------------------------------------------------------
# in the worker


class _TimeoutLedger:
    """A named Ray actor (made on the first timeout) holding the indices whose watchdog fired."""

    def __init__(self) -> None:
        self._indices: set[int] = set()

    def note(self, index: int) -> None:
        self._indices.add(index)

    def indices(self) -> list[int]:
        return sorted(self._indices)


def _note_timeout_and_exit(ledger: tuple[str, str], index: int) -> None:
    """Runs on the watchdog thread: record the timeout where the driver can read it, then end this
    worker (the only way to stop a job stuck in a decoder); Ray reports the task as failed."""
    try:
        import ray

        name, namespace = ledger
        actor = ray.remote(num_cpus=0)(_TimeoutLedger).options(name=name, namespace=namespace, get_if_exists=True, lifetime="detached").remote()
        ray.get(actor.note.remote(index), timeout=30)
    except Exception:  # noqa: BLE001  (the worker ends either way; the row is then reported crashed)
        pass
    finally:
        os._exit(_TIMEOUT_EXIT_CODE)


def _run_row(row: dict[str, Any], *, job: Job, item_timeout_s: float, ledger: tuple[str, str]) -> dict[str, Any]:
    """One row of the dataset: the job under a watchdog, its result as a JSON string."""
    index, item = int(row["index"]), str(row["item"])
    watchdog = threading.Timer(item_timeout_s, _note_timeout_and_exit, args=(ledger, index))
    watchdog.daemon = True
    watchdog.start()
    faulthandler.dump_traceback_later(item_timeout_s + _BACKSTOP_S, exit=True)
    try:
        result = run_one(job, item)
    finally:
        faulthandler.cancel_dump_traceback_later()
        watchdog.cancel()
    return {"index": index, "result_json": json.dumps(result, ensure_ascii=False, separators=(",", ":"))}


# --------------------------------------------------------------------------------------------------
# in the driver


def _connect(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Use the Ray this process already has; else connect to `address` (or to RAY_ADDRESS, as a
    driver submitted with `ray job submit` has it); else start a local Ray with `num_cpus`. True
    when this call did it, so the caller must shut it down."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, log_to_driver=False)
    else:  # "local": a new Ray of our own, never one a `ray start` left running
        start_local_ray(num_cpus=num_cpus or os.cpu_count() or 1)
    return True


def start_local_ray(*, num_cpus: int) -> None:
    """Start a local Ray that makes no network call beyond this machine. Ray's usage module (loaded
    in the head even with the dashboard off and usage stats disabled) probes cloud metadata
    addresses (169.254.169.254, metadata.google.internal) unless `~/ray_bootstrap_config.yaml`
    names a provider, so the Ray processes get a HOME of their own holding one that says `local`.
    This process's HOME is restored as soon as Ray has started."""
    ray = _import_ray()
    home = tempfile.mkdtemp(prefix="mediaprep-ray-home-")
    with open(os.path.join(home, "ray_bootstrap_config.yaml"), "w", encoding="utf-8") as fp:
        fp.write("provider:\n  type: local\n")
    # (Ray's raylet also connect()s a UDP socket towards 8.8.8.8:53 to learn its own address: no
    # packet is sent; every Ray connection made here was to this machine's own addresses.)
    changes = {"HOME": home}
    before = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _one_pass(ray: Any, rows: list[tuple[int, str]], fn: Callable[[dict[str, Any]], dict[str, Any]], items_per_task: int, *, ordered: bool = True) -> Iterator[tuple[int, ResultLine]]:
    """(index, result) for each row whose task finished, in input order (with `ordered`, else as
    they come); rows of failed tasks are missing. The dataset's own context carries the settings;
    the caller's DataContext is untouched."""
    with warnings.catch_warnings():
        # Ray's own: copying a DataContext warns about its deprecated fields; and `max_retries` has
        # no named parameter yet, while the remote-args form is deprecated for Ray 2.64
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.data\.")
        warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
        ds = ray.data.from_items([{"index": i, "item": s} for i, s in rows], override_num_blocks=max(1, math.ceil(len(rows) / items_per_task)))
        ctx = ds.context
        ctx.max_errored_blocks = -1  # a block whose worker died is dropped, not fatal: its rows are redone
        ctx.execution_options.preserve_order = ordered
        ctx.enable_progress_bars = False
        ds = ds.map(fn, max_retries=0)
    for row in ds.iter_rows():
        yield int(row["index"]), json.loads(row["result_json"])


def _timed_out(ray: Any, ledger: tuple[str, str], *, kill: bool = False) -> set[int]:
    """The indices whose watchdog fired (the ledger actor exists only after a first timeout)."""
    name, namespace = ledger
    if not namespace:
        return set()
    try:
        actor = ray.get_actor(name, namespace=namespace)
    except ValueError:
        return set()
    try:
        return set(ray.get(actor.indices.remote(), timeout=30))
    finally:
        if kill:
            ray.kill(actor)


def run_ray(
    items: Sequence[str],
    job: Job,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    item_timeout_s: float = 900,
    items_per_task: int | None = None,
    ordered: bool = True,
) -> Iterator[tuple[int, str, ResultLine]]:
    """(index, item, result) for every item, in input order (with `ordered=False`, as they come:
    `index` is the input's position), like `batch.run_local`, with `job` (a
    picklable function of one input returning a JSON-ready dict) run by Ray Data tasks of
    `items_per_task` inputs (default: up to 32, fewer when that would leave a CPU of the cluster
    without 4 tasks).

    Uses the Ray this process already has, else connects to `address` (or RAY_ADDRESS; "auto" finds
    a local `ray start`), else starts a local Ray with `num_cpus` (default: the core count); a Ray
    it started or connected to is shut down (disconnected) at the end. Costs: a local Ray start is
    about 5 s, and the first tasks a few more while workers start; then Ray Data adds about 16 ms
    per task (0.5 ms per input at 32 per task) to the job. A worker crash or timeout costs a re-run
    of its task's other inputs, one per task; results after the first missing one wait for that
    re-run, so they are held in memory (a few KB each) until then.
    """
    if item_timeout_s <= 0:
        raise UsageError(f"item_timeout_s {item_timeout_s:g} must be more than 0 s")
    if items_per_task is not None and items_per_task < 1:
        raise UsageError(f"items_per_task {items_per_task} must be at least 1")
    items = list(items)
    if not items:
        return
    ray = _import_ray()
    owned = _connect(ray, address, num_cpus)
    ledger = (f"mediaprep-timeouts-{uuid.uuid4().hex}", "")
    finished: dict[int, ResultLine] = {}
    got: set[int] = set()  # the indices with a result, yielded or waiting in `finished`
    next_out = 0

    def take(index: int, result: ResultLine) -> None:
        got.add(index)
        finished[index] = result

    def ready() -> Iterator[tuple[int, str, ResultLine]]:
        nonlocal next_out
        if not ordered:
            for index in sorted(finished):
                yield index, items[index], finished.pop(index)
            return
        while next_out in finished:
            yield next_out, items[next_out], finished.pop(next_out)
            next_out += 1

    def lost(index: int, timed_out: set[int]) -> ResultLine:
        if index in timed_out:
            return _failure(items[index], "source.timeout", f"no result after {item_timeout_s:g} s", item_timeout_s)
        return _failure(items[index], "source.crashed", "the Ray worker running it died (a signal or the out-of-memory killer; Ray's worker logs say which)")

    try:
        if items_per_task is None:
            cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
            items_per_task = max(1, min(MAX_ITEMS_PER_TASK, math.ceil(len(items) / (cpus * TASKS_PER_CPU))))
        ledger = (ledger[0], ray.get_runtime_context().namespace)
        fn = functools.partial(_run_row, job=job, item_timeout_s=float(item_timeout_s), ledger=ledger)
        for index, result in _one_pass(ray, list(enumerate(items)), fn, items_per_task, ordered=ordered):
            take(index, result)
            yield from ready()
        missing = [i for i in range(len(items)) if i not in got]
        if missing:
            timed_out = _timed_out(ray, ledger)
            retry = [(i, items[i]) for i in missing if i not in timed_out] if items_per_task > 1 else []
            if retry:  # the block-mates of a crash or a timeout, and the crashed input itself, alone
                for index, result in _one_pass(ray, retry, fn, 1, ordered=ordered):
                    take(index, result)
                    yield from ready()
                timed_out = _timed_out(ray, ledger)
            for i in missing:
                if i not in got:
                    take(i, lost(i, timed_out))
            yield from ready()
    finally:
        try:
            if ray.is_initialized():
                _timed_out(ray, ledger, kill=True)
        except Exception:  # noqa: BLE001  (cleanup of a helper actor must not hide the real outcome)
            pass
        finally:
            if owned:
                ray.shutdown()


# --------------------------------------------------------------------------------------------------
# for users' own Ray Data pipelines

REPORT_COLUMNS = ("source", "kind", "status", "codes", "report_json")


def _default_job() -> Job:
    from .jobs import check_job
    from .models import Policy, Target

    return functools.partial(check_job, target=Target(), policy=Policy(), fast=False, remote=None)


def _report_batch(batch: pyarrow.Table, *, column: str, job: Job) -> pyarrow.Table:
    import pyarrow as pa

    lines = []
    for value in batch.column(column).to_pylist():
        item = "" if value is None else str(value)
        try:
            lines.append(job(item))
        except Exception as exc:  # a bug, not a verdict on the file: this row only
            lines.append(_failure(item, "source.crashed", f"{type(exc).__name__}: {exc}"))
    columns = {
        "source": pa.array([line.get("source") for line in lines], pa.string()),
        "kind": pa.array([line.get("kind") for line in lines], pa.string()),
        "status": pa.array([line.get("status") for line in lines], pa.string()),
        "codes": pa.array([[v["code"] for v in line.get("violations", [])] for line in lines], pa.list_(pa.string())),
        "report_json": pa.array([json.dumps(line, ensure_ascii=False, separators=(",", ":")) for line in lines], pa.string()),
    }
    batch = batch.drop_columns([name for name in columns if name in batch.column_names])
    for name, values in columns.items():
        batch = batch.append_column(name, values)
    return batch


def map_reports(dataset: ray.data.Dataset, *, column: str = "path", job: Job | None = None, **map_batches_kwargs: Any) -> ray.data.Dataset:
    """A dataset with one row per row of `dataset`: its columns, plus the report of its input (a
    local path or a URL in `column`) flattened to `source`, `kind`, `status` (strings), `codes`
    (list of violation codes) and `report_json` (the whole JSON line, as `check --json` prints it).

    `job` defaults to a full `check` with the default Target and Policy (decodes every pixel of an
    image, every frame of a video); pass a `functools.partial` of `mediaprep.jobs.check_job` or
    `prepare_job` for other settings. Lazy, like every Ray Data transform: the cost is one `job`
    call per row when the dataset executes. `map_batches_kwargs` go to `Dataset.map_batches`
    (`batch_size`, `concurrency`, `num_cpus` …). An exception in the job becomes a `source.crashed`
    row; a worker that dies fails its whole task, which Ray Data retries (by default without end):
    for a batch where decoders may crash, use `run_ray`, which reports such an input alone.
    """
    _import_ray()
    known = dataset.columns(fetch_if_missing=False)  # no execution just to check a name
    if known is not None and column not in known:
        raise UsageError(f"the dataset has no column {column!r}; its columns: {', '.join(known) or 'none'}")
    fn = functools.partial(_report_batch, column=column, job=job or _default_job())
    return dataset.map_batches(fn, batch_format="pyarrow", **map_batches_kwargs)
