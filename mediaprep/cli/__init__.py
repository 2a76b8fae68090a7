"""The command line: `mediaprep probe|check|prepare|frames|preflight ...` (also `python -m mediaprep`).

Results go to stdout (one JSON object per input per line with --json); the summary and progress go
to stderr. Exit 0 when every input is ok / ready, 1 when any is not (or a write failed mid-run: a
one-line error, never a traceback), 2 for a usage error (checked before any input is read).

`options` is the parser and turns arguments into the library's values, `commands` runs them,
`output` prints result lines, `requests` writes prepare's --request-out / --batch-out, `preflight`
registers and runs the preflight command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from ..errors import MediaprepError
from .commands import COMMANDS, EXIT_NOT_ALL, EXIT_OK, EXIT_USAGE
from .options import _parser, check_output_paths
from .output import printable
from .preflight import add_parser as _add_preflight

__all__ = ["main", "EXIT_OK", "EXIT_NOT_ALL", "EXIT_USAGE"]


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None, stdin: TextIO | None = None) -> int:
    out, err, inp = stdout or sys.stdout, stderr or sys.stderr, stdin or sys.stdin
    parser = _parser(extra=(_add_preflight,))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        check_output_paths(args)  # --out and the files asked for: a usage error before any input is read
        return int((getattr(args, "func", None) or COMMANDS[args.command])(args, out, err, inp))
    except MediaprepError as exc:
        err.write(f"mediaprep: error: {printable(exc)}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # a write that failed mid-run (a full disk, a folder made read-only): one line, no traceback
        err.write(f"mediaprep: error: {printable(exc)}\n")
        return EXIT_NOT_ALL
