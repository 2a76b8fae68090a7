"""Many inputs on one machine: a pool of worker processes in which one input can crash its decoder
(a segfault) or hang without costing more than itself.

Each worker takes one input at a time over a pipe. The parent waits on the pipes and the workers'
process sentinels with a deadline: a worker that dies is reported as `source.crashed` for the input
it held, a worker past `item_timeout_s` is killed and its input reported as `source.timeout`; either
way a fresh worker takes its place and the batch goes on. Results come back in input order, or with
`ordered=False` as they finish (a slow input then holds back no other's result). Workers are
recycled after `recycle_after` inputs, which bounds what a leaky decoder can hold.

Workers die with the process that runs the pool, even when it is killed with SIGKILL: on Linux each
worker asks the kernel for SIGKILL when its parent ends (`prctl(PR_SET_PDEATHSIG)`; with the
forkserver start method that parent is the fork server, which itself exits when the pool's process
does), and on every system a watchdog thread in the worker checks once a second that the pool's
process (whose pid the worker is given) still runs, and ends the worker when it does not.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from .codes import violation
from .models import ResultLine

Job = Callable[[str], ResultLine]


_PARENT_POLL_S = 1.0
_ORPHAN_EXIT_CODE = 70


def _alive(pid: int) -> bool:
    """`pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fp:
            return fp.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True  # no /proc: os.kill said it exists


def _die_with_parent(pool_pid: int | None) -> None:
    """End this worker when the pool's process ends, however it ends (see the module docstring)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG: SIGKILL when our parent ends
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    parent = os.getppid()  # the fork server (forkserver) or the pool's process (spawn)

    def watch() -> None:
        while True:
            if os.getppid() != parent or (pool_pid is not None and not _alive(pool_pid)):
                os._exit(_ORPHAN_EXIT_CODE)
            time.sleep(_PARENT_POLL_S)

    threading.Thread(target=watch, name="mediaprep-parent-watch", daemon=True).start()


def _worker(conn: Connection, job: Job, pool_pid: int | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _die_with_parent(pool_pid)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, item = message
        conn.send((index, run_one(job, item)))


def run_one(job: Job, item: str) -> ResultLine:
    """One input through `job` inside a worker: an exception in the job is this input's
    `source.crashed`, never the worker's end."""
    try:
        return job(item)
    except Exception as exc:  # isolation is the point: a bug costs this input, not the batch
        return _failure(item, "source.crashed", f"{type(exc).__name__}: {exc}")


def _failure(item: str, code: str, observed: str, limit: float | None = None) -> ResultLine:
    v = violation(code, source=item, observed=observed, limit=limit)
    return {"source": item, "kind": "unknown", "status": "rejected", "verdict": "rejected", "violations": [v.to_json()], "outputs": [], "part": None, "actions": []}


@dataclass
class _Slot:
    process: Any
    conn: Connection
    index: int | None = None
    item: str | None = None
    started: float = 0.0
    done: int = 0


def run_local(
    items: Iterable[str],
    job: Job,
    *,
    workers: int,
    item_timeout_s: float,
    recycle_after: int = 500,
    ordered: bool = True,
) -> Iterator[tuple[int, str, ResultLine]]:
    """(index, item, result) for every item: in input order, or with `ordered=False` in the order
    they finish (a result is yielded as soon as it is in; `index` is the item's input position). `job`
    must be picklable (a module-level function or a functools.partial of one). With workers == 0
    everything runs in this process (no item timeout then: nothing can stop a hung job)."""
    if workers <= 0:
        for index, item in enumerate(items):
            yield index, item, run_one(job, item)
        return
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["mediaprep.jobs"])  # workers fork from a server that imported us once
    pending = iter(enumerate(items))
    slots: list[_Slot] = []
    finished: dict[int, tuple[str, ResultLine]] = {}
    labels: dict[int, str] = {}
    next_out = 0
    exhausted = False

    def spawn() -> _Slot:
        parent, child = ctx.Pipe(duplex=True)
        process = ctx.Process(target=_worker, args=(child, job, os.getpid()), daemon=True)
        process.start()
        child.close()
        return _Slot(process=process, conn=parent)

    def retire(slot: _Slot, *, kill: bool) -> None:
        if kill and slot.process.is_alive():
            slot.process.kill()
        else:
            try:
                slot.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        slot.process.join(timeout=5)
        if slot.process.is_alive():
            slot.process.kill()
            slot.process.join(timeout=5)
        slot.conn.close()

    def feed(slot: _Slot) -> bool:
        nonlocal exhausted
        if exhausted:
            return False
        try:
            index, item = next(pending)
        except StopIteration:
            exhausted = True
            return False
        labels[index] = item
        slot.index, slot.item, slot.started = index, item, time.monotonic()
        slot.conn.send((index, item))
        return True

    try:
        for _ in range(workers):
            slot = spawn()
            slots.append(slot)
            feed(slot)
        while True:
            busy = [s for s in slots if s.index is not None]
            if not busy:
                break
            now = time.monotonic()
            deadline = min(s.started + item_timeout_s for s in busy)
            ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout=max(0.0, deadline - now))
            for slot in list(busy):
                replace = False
                if slot.conn in ready:
                    try:
                        index, result = slot.conn.recv()
                        finished[index] = (labels.pop(index), result)
                        slot.index = slot.item = None
                        slot.done += 1
                    except (EOFError, OSError):
                        pass  # died while sending: the sentinel says so below
                if slot.index is not None and (slot.process.sentinel in ready or not slot.process.is_alive()):
                    slot.process.join(timeout=1)
                    code = slot.process.exitcode
                    how = f"killed by signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
                    finished[slot.index] = (labels.pop(slot.index), _failure(slot.item or "", "source.crashed", f"the worker decoding it died ({how})"))
                    slot.index = slot.item = None
                    replace = True
                elif slot.index is not None and time.monotonic() - slot.started > item_timeout_s:
                    finished[slot.index] = (labels.pop(slot.index), _failure(slot.item or "", "source.timeout", f"no result after {item_timeout_s:g} s", item_timeout_s))
                    slot.index = slot.item = None
                    retire(slot, kill=True)
                    slots[slots.index(slot)] = slot = spawn()
                if replace:
                    retire(slot, kill=True)
                    slots[slots.index(slot)] = slot = spawn()
                elif slot.index is None and slot.done >= recycle_after:
                    retire(slot, kill=False)
                    slots[slots.index(slot)] = slot = spawn()
                if slot.index is None:
                    feed(slot)
            if not ordered:
                for index in sorted(finished):
                    item, result = finished.pop(index)
                    yield index, item, result
            else:
                while next_out in finished:
                    item, result = finished.pop(next_out)
                    yield next_out, item, result
                    next_out += 1
    finally:
        for slot in slots:
            retire(slot, kill=slot.index is not None)
