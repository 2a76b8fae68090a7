"""Test-only fault injection for batch isolation tests, kept out of production code.

A test that runs the real CLI in a subprocess puts this folder on PYTHONPATH; Python imports
`sitecustomize` at start-up in that process and in every worker process it starts. When
MEDIAPREP_TEST_CRASH_ON / MEDIAPREP_TEST_HANG_ON are set, `mediaprep.jobs.check_job` and
`prepare_job` are wrapped: an input whose label contains the value makes its worker die by SIGSEGV,
or hang, so isolation is tested with real signals and real hangs. The wrapper keeps the wrapped
function's module and name, so the job pickles by reference and resolves to the wrapper in workers.

MEDIAPREP_TEST_PID_DIR (a folder) makes every job first write a file there named after the pid of
the process running it, holding `<ppid> <input>`: a test finds the worker processes (and their
parent, the forkserver) that way, e.g. to check that they die with the CLI.
"""

from __future__ import annotations

import os

CRASH_ON = os.environ.get("MEDIAPREP_TEST_CRASH_ON")
HANG_ON = os.environ.get("MEDIAPREP_TEST_HANG_ON")
PID_DIR = os.environ.get("MEDIAPREP_TEST_PID_DIR")


def _install() -> None:
    import functools
    import signal
    import time

    import mediaprep.jobs as jobs

    def hooked(fn):  # type: ignore[no-untyped-def]
        @functools.wraps(fn)
        def job(item: str, **kwargs):  # type: ignore[no-untyped-def]
            if PID_DIR:
                with open(os.path.join(PID_DIR, str(os.getpid())), "a", encoding="utf-8", errors="backslashreplace") as fp:
                    fp.write(f"{os.getppid()} {item}\n")
            if CRASH_ON and CRASH_ON in item:
                os.kill(os.getpid(), signal.SIGSEGV)
            if HANG_ON and HANG_ON in item:
                time.sleep(10**6)
            return fn(item, **kwargs)

        return job

    jobs.check_job = hooked(jobs.check_job)
    jobs.prepare_job = hooked(jobs.prepare_job)


if CRASH_ON or HANG_ON or PID_DIR:
    _install()
