"""The report's HTML, as text: the head (styles, counts, the status filter), one row per result
line, the tail. Pure: no I/O, no decoding; a row's preview and links arrive already made.

Every value from a line is HTML-escaped (attributes too); the page's Content-Security-Policy allows
only its own inline style and script (by hash) and `data:` images.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..models import ResultLine
from .constants import CARDS_BELOW_PX, MAX_LISTED_OUTPUTS, MIN_SHOWN_PX, STATUS_ORDER

_KNOWN_STATUS = frozenset(STATUS_ORDER)


def status_of(line: ResultLine) -> str:
    """The line's status, or "unknown"."""
    return str(line.get("status") or "unknown")


def ordered_statuses(counts: Mapping[str, int]) -> list[str]:
    """Known statuses in pipeline order, then any other in name order."""
    return [s for s in STATUS_ORDER if s in counts] + sorted(s for s in counts if s not in _KNOWN_STATUS)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _status_class(status: str) -> str:
    return f"s-{status}" if status in _KNOWN_STATUS else "s-other"


def _strip_label(message: str, source: str) -> str:
    """Messages start with the input's label; the row already names it."""
    prefix = f"{source}: "
    return message[len(prefix) :] if source and message.startswith(prefix) else message


def _size_text(size_bytes: Any) -> str | None:
    if not isinstance(size_bytes, (int, float)) or isinstance(size_bytes, bool):
        return None
    for unit, step in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size_bytes >= step:
            return f"{size_bytes / step:.1f} {unit}"
    return f"{int(size_bytes)} B"


def meta_text(line: ResultLine) -> str:
    """One short line under the source: kind · format · size · duration · bytes · tokens."""
    parts: list[str] = []
    kind = line.get("kind")
    if kind:
        parts.append(str(kind))
    info = line.get("info")
    arrow = ""
    if not isinstance(info, Mapping):  # a prepare line: what is sent
        output_info = line.get("output_info") or []
        first = output_info[0] if output_info else None
        info = first if isinstance(first, Mapping) else {}
        arrow = "→ "
    if info.get("format"):
        parts.append(arrow + str(info["format"]))
    if info.get("width_px") and info.get("height_px"):
        parts.append(f"{info['width_px']}×{info['height_px']}")
    if isinstance(info.get("duration_s"), (int, float)):
        parts.append(f"{info['duration_s']:g} s")
    size = _size_text(info.get("size_bytes"))
    if size:
        parts.append(size)
    outputs = line.get("outputs") or []
    if len(outputs) > 1:
        parts.append(f"{len(outputs)} outputs")
    estimate = line.get("estimate")
    if isinstance(estimate, Mapping) and estimate.get("tokens") is not None:
        parts.append(f"{'~' if estimate.get('is_estimate', True) else ''}{estimate['tokens']} tokens")
    return " · ".join(parts)


def _breakable(text: str) -> str:
    """Escaped, with a line-break opportunity after each / so long paths wrap at folder names."""
    return _e(text).replace("/", "/<wbr>")


def _link_or_text(text: str, href: str | None) -> str:
    return f'<a href="{_e(href)}">{_breakable(text)}</a>' if href else _breakable(text)


def render_row(
    line: ResultLine,
    *,
    index: int,
    thumb: tuple[str, int, int] | None,
    output_href: Callable[[str], str | None] | None = None,
    source_href: str | None = None,
) -> str:
    """One `<tr class="row">` for one line. `thumb` is (data URL, width px, height px) or None;
    `output_href(rel)` gives the link of an output (None: not linked)."""
    source = str(line.get("source", ""))
    status = status_of(line)
    kind = str(line.get("kind") or "unknown")
    cells: list[str] = []

    if thumb is not None:
        url, w, h = thumb
        classes = "preview sheet" if kind == "video" else "preview"
        if max(w, h) < MIN_SHOWN_PX:  # a tiny picture is shown enlarged, its pixels kept sharp
            k = -(-MIN_SHOWN_PX // max(w, h, 1))
            w, h, classes = w * k, h * k, classes + " tiny"
        cells.append(f'<td class="thumb"><img class="{classes}" src="{_e(url)}" width="{w}" height="{h}" alt="{_e("preview of " + source)}"></td>')
    else:
        cells.append(f'<td class="thumb"><div class="nothumb">no preview<br>{_e(kind)}</div></td>')

    meta = meta_text(line)
    cells.append(f'<td data-label="Source"><div class="src">{_link_or_text(source, source_href)}</div>' + (f'<div class="meta">{_e(meta)}</div>' if meta else "") + "</td>")

    badge = f'<span class="badge {_status_class(status)}">{_e(status)}</span>'
    verdict = line.get("verdict")
    if verdict and verdict != status:
        badge += f'<div class="verdict">check: {_e(verdict)}</div>'
    cells.append(f'<td data-label="Status">{badge}</td>')

    items = []
    for v in line.get("violations") or []:
        if not isinstance(v, Mapping):
            continue
        severity = str(v.get("severity") or "error")
        sev = severity if severity in ("error", "warning") else "other"
        items.append(f'<li class="sev-{sev}"><code>{_e(v.get("code", "?"))}</code> {_e(_strip_label(str(v.get("message", "")), source))}</li>')
    cells.append('<td data-label="Violations">' + (f'<ul class="viol">{"".join(items)}</ul>' if items else '<span class="none">none</span>') + "</td>")

    items = []
    for a in line.get("actions") or []:
        if isinstance(a, Mapping):
            items.append(f'<li><b>{_e(a.get("op", "?"))}</b>: {_e(a.get("reason", ""))}</li>')
    cells.append('<td class="c-actions" data-label="Actions">' + (f'<ul class="acts">{"".join(items)}</ul>' if items else '<span class="none">—</span>') + "</td>")

    outputs = [str(o) for o in line.get("outputs") or []]
    items = [f"<li>{_link_or_text(o, output_href(o) if output_href else None)}</li>" for o in outputs[:MAX_LISTED_OUTPUTS]]
    if len(outputs) > MAX_LISTED_OUTPUTS:
        folder = os.path.dirname(outputs[0])
        more = f"… and {len(outputs) - MAX_LISTED_OUTPUTS} more"
        href = output_href(folder + "/") if output_href and folder else None
        items.append(f'<li class="more">{_link_or_text(more + (f" in {folder}/" if folder else ""), href)}</li>')
    cells.append('<td class="c-outputs" data-label="Outputs">' + (f'<ul class="outs">{"".join(items)}</ul>' if items else '<span class="none">—</span>') + "</td>")

    return f'<tr class="row" id="r{index}" data-status="{_e(status)}" data-kind="{_e(kind)}">{"".join(cells)}</tr>\n'


_CSS = """\
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--head:#f6f8fa}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:14px 18px;border-bottom:1px solid var(--line);background:var(--head);position:sticky;top:0;z-index:1}
h1{font-size:20px;margin:0 0 4px}
.summary{margin:0 0 10px;color:var(--muted)}
.filter{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.filter button{font:inherit;min-height:36px;padding:4px 14px;border:1px solid var(--line);border-radius:18px;background:#fff;color:var(--fg);cursor:pointer}
.filter button[aria-pressed=true]{background:var(--fg);border-color:var(--fg);color:#fff}
.filter .n{opacity:.75;margin-left:4px}
#shown{margin-left:6px;color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:10px;border-bottom:1px solid var(--line)}
th{font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);background:#fff}
td.thumb{width:1%}
img.preview{display:block;max-width:320px;height:auto;border-radius:4px;background:#eaeef2}
.nothumb{width:96px;height:64px;display:flex;align-items:center;justify-content:center;text-align:center;background:#eaeef2;color:var(--muted);font-size:12px;border-radius:4px}
.src{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;min-width:14em;overflow-wrap:break-word}
.outs li{overflow-wrap:break-word}
img.tiny{image-rendering:pixelated}
.meta,.verdict,.none{color:var(--muted);font-size:12px}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;font-weight:600;font-size:12px;white-space:nowrap}
.s-ok,.s-ready{background:#dafbe1;color:#116329}
.s-fixable{background:#fff8c5;color:#7d4e00}
.s-rejected{background:#ffebe9;color:#a40e26}
.s-other{background:#eaeef2;color:#24292f}
ul{margin:0;padding-left:18px}
li{margin:0 0 4px}
code{font-size:12px;background:#eaeef2;padding:0 4px;border-radius:3px}
.sev-error code{background:#ffebe9;color:#a40e26}
.sev-warning code{background:#fff8c5;color:#7d4e00}
a{color:#0969da}
table.no-actions .c-actions,table.no-outputs .c-outputs{display:none}
@media (max-width:%(cards)dpx){
header{position:static;padding:12px}
thead{display:none}
table,tbody,tr,td{display:block;width:100%}
tr.row{width:auto;margin:10px;padding:8px;border:1px solid var(--line);border-radius:8px}
td{border:0;padding:4px 2px}
td[data-label]::before{content:attr(data-label);display:block;font-size:11px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
td.thumb{width:auto}
img.preview{max-width:100%}
.src{min-width:0}
}
""".replace("%(cards)d", str(CARDS_BELOW_PX))

# The filter: buttons and the URL's `#status=a,b` (or `?status=`) go through the same `apply`.
_JS = """\
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row"));
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button[data-filter]"));
  var shown = document.getElementById("shown");
  function wanted() {
    var m = /(?:^|[#?&])status=([^&]*)/.exec(location.hash) || /(?:^|[?&])status=([^&]*)/.exec(location.search);
    if (!m) return [];
    try { return decodeURIComponent(m[1]).split(",").filter(function (s) { return s && s !== "all"; }); }
    catch (e) { return []; }
  }
  function apply(statuses) {
    var all = statuses.length === 0, n = 0;
    rows.forEach(function (r) {
      var on = all || statuses.indexOf(r.getAttribute("data-status")) >= 0;
      if (on) { r.removeAttribute("hidden"); n++; } else { r.setAttribute("hidden", ""); }
    });
    buttons.forEach(function (b) {
      var s = b.getAttribute("data-filter");
      b.setAttribute("aria-pressed", String(all ? s === "all" : statuses.indexOf(s) >= 0));
    });
    document.body.setAttribute("data-filter", all ? "all" : statuses.join(","));
    if (shown) shown.textContent = "showing " + n + " of " + rows.length;
  }
  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      var s = b.getAttribute("data-filter");
      var hash = s === "all" ? "" : "#status=" + encodeURIComponent(s);
      try { history.replaceState(null, "", location.pathname + location.search + hash); } catch (e) { location.hash = hash; }
      apply(s === "all" ? [] : [s]);
    });
  });
  window.addEventListener("hashchange", function () { apply(wanted()); });
  apply(wanted());
  var narrow = window.matchMedia("(max-width: %(cards)dpx)");
  function layout() { document.documentElement.setAttribute("data-layout", narrow.matches ? "cards" : "table"); }
  if (narrow.addEventListener) narrow.addEventListener("change", layout);
  layout();
})();
""" % {"cards": CARDS_BELOW_PX}


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


_CSP = f"default-src 'none'; img-src data:; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_JS)}; base-uri 'none'; form-action 'none'"

_COLUMNS = ("Preview", "Source", "Status", "Violations", "Actions", "Outputs")


def render_head(title: str, counts: Mapping[str, int], *, generator: str = "mediaprep", empty_columns: Iterable[str] = ()) -> str:
    """Everything before the first row: the header with counts per status and the filter.
    `empty_columns` ("actions", "outputs") are hidden: no row has any (check lines, for one)."""
    total = sum(counts.values())
    summary = f"{total} input{'s' if total != 1 else ''}"
    if counts:
        summary += ": " + " · ".join(f"{counts[s]} {s}" for s in ordered_statuses(counts))
    buttons = [f'<button type="button" data-filter="all" aria-pressed="true">all<span class="n">{total}</span></button>']
    for s in ordered_statuses(counts):
        buttons.append(f'<button type="button" data-filter="{_e(s)}" aria-pressed="false">{_e(s)}<span class="n">{counts[s]}</span></button>')
    header_cells = "".join(f'<th scope="col" class="c-{c.lower()}">{c}</th>' for c in _COLUMNS)
    hide = " ".join(f"no-{c}" for c in empty_columns if c in ("actions", "outputs"))
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f'<meta name="generator" content="{_e(generator)}">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header>\n<h1>{_e(title)}</h1>\n<p class="summary" id="summary">{_e(summary)}</p>\n'
        f'<nav class="filter" aria-label="filter by status">{"".join(buttons)}<span id="shown">showing {total} of {total}</span></nav>\n'
        "<noscript><p>The status filter needs JavaScript; every row is shown.</p></noscript>\n</header>\n"
        f'<main>\n<table id="rows" class="{hide}">\n<thead><tr>{header_cells}</tr></thead>\n<tbody>\n'
    )


def render_tail(total: int) -> str:
    empty = f'<tr class="empty"><td colspan="{len(_COLUMNS)}">No inputs.</td></tr>\n' if total == 0 else ""
    return f"{empty}</tbody>\n</table>\n</main>\n<script>{_JS}</script>\n</body>\n</html>\n"

