"""The HTML report: one self-contained file with a row per input (`check --json` / manifest lines).

    from mediaprep.report import write_report
    write_report(lines, Path("report.html"), out_dir=Path("out"))

The file needs no network: styles and the status filter are inline (a Content-Security-Policy
allows only them and `data:` images), previews are small JPEG thumbnails inlined as data URLs, and
outputs are linked relative to the report. The filter also honours `report.html#status=rejected`
(or `?status=ok,fixable`), so a link can open the report filtered.

`render` turns lines into HTML text (pure), `previews` chooses and makes each row's preview (through
`backends.thumbnails`), and `write_report` here streams the rows into the file atomically.

Costs: per input at most one reduced decode of an image (JPEG draft, ≤ 50 Mpx decoded, else no
preview) or, for a video, six small frames (its prepared frame JPEGs, else a sparse decode of the
source). Rows are streamed: one thumbnail in memory at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from ..models import ResultLine
from ..outputs import atomic_file
from .constants import (
    CARDS_BELOW_PX,
    MAX_LISTED_OUTPUTS,
    MIN_SHOWN_PX,
    NO_INPUT_PREVIEW,
    SHEET_BUDGET_S,
    SHEET_FRAME_HEIGHT_PX,
    SHEET_FRAMES,
    STATUS_ORDER,
    THUMB_JPEG_QUALITY,
    THUMB_MAX_DECODE_PIXELS,
    THUMB_PX,
)
from .previews import local_path, thumbnail_for
from .render import render_head, render_row, render_tail, status_of


def _href(target: Path, report_dir: Path, *, folder: bool = False) -> str:
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(report_dir))
    return quote(Path(rel).as_posix()) + ("/" if folder else "")


def write_report(
    lines: Iterable[ResultLine | Mapping[str, Any] | str | bytes],
    path: Path,
    *,
    out_dir: Path | None = None,
    title: str = "mediaprep report",
    thumbnails: bool = True,
) -> None:
    """Write the HTML report of `lines` (the JSON lines of `check --json` or of prepare's
    manifest.jsonl, as dicts or as JSON text) to `path`, atomically (a temporary name in the same
    folder, then a rename; on any error the old file is untouched and the temporary removed). With
    `out_dir` (prepare's --out folder), outputs are linked relative to the report and previews are
    made from them. Lines are consumed one at a time; rows go to an anonymous temporary file until
    the counts for the header are known, so memory holds one row and one thumbnail. Costs one small
    decode per input (see `previews`), a `stat` per local source, and writing the page twice (the
    rows, then the file); `thumbnails=False` makes no decode."""
    path = Path(path)
    report_dir = path.parent if str(path.parent) else Path(".")
    out = Path(out_dir) if out_dir is not None else None
    counts: Counter[str] = Counter()
    empty_columns = {"actions", "outputs"}

    def output_href(rel: str) -> str | None:
        if out is None:
            return None
        return _href(out / rel, report_dir, folder=rel.endswith("/"))

    # an exclusive, unpredictable temporary beside the report, renamed over it at the end; on any error removed
    with atomic_file(path, encoding="utf-8", fsync=True) as fp:
        with tempfile.TemporaryFile("w+", encoding="utf-8", dir=report_dir) as body:
            for index, item in enumerate(lines):
                line = cast(ResultLine, json.loads(item) if isinstance(item, (str, bytes)) else item)
                counts[status_of(line)] += 1
                empty_columns -= {c for c in ("actions", "outputs") if line.get(c)}
                thumb = thumbnail_for(line, out_dir=out) if thumbnails else None
                local = local_path(str(line.get("source", "")))
                source_href = _href(local, report_dir) if local is not None else None
                body.write(render_row(line, index=index, thumb=thumb, output_href=output_href, source_href=source_href))
            body.flush()
            body.seek(0)
            fp.write(render_head(title, counts, generator=_generator(), empty_columns=sorted(empty_columns)))
            shutil.copyfileobj(body, fp, 1 << 20)
            fp.write(render_tail(sum(counts.values())))


def _generator() -> str:
    from .._version import __version__

    return f"mediaprep {__version__}"


__all__ = [
    "CARDS_BELOW_PX",
    "MAX_LISTED_OUTPUTS",
    "MIN_SHOWN_PX",
    "NO_INPUT_PREVIEW",
    "SHEET_BUDGET_S",
    "SHEET_FRAMES",
    "SHEET_FRAME_HEIGHT_PX",
    "STATUS_ORDER",
    "THUMB_JPEG_QUALITY",
    "THUMB_MAX_DECODE_PIXELS",
    "THUMB_PX",
    "thumbnail_for",
    "write_report",
]
