"""The package's shape, enforced: the import graph every module builds (module-level and lazy
imports inside functions alike; `if TYPE_CHECKING:` blocks are not imports at run time).

- Only `mediaprep/backends/` imports PIL, av, pillow_heif or numpy; only `mediaprep/remote/` imports
  httpx.
- No module imports a module above it in `LAYERS` (top first: the command line and the public API,
  down to the rule table). Modules inside one package (a layer) may import each other.
- No import cycles, lazy ones included.
- Stages sit in pipeline order: following one input through `prepare` goes down the layers
  (pipeline → probe → check → plan → apply → outputs) without climbing back.

Pure: reads the source files, imports nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mediaprep"

# Top first. A name covers the module and, for a package, every module inside it.
LAYERS: tuple[str, ...] = (
    "mediaprep.__main__",
    "mediaprep",  # the public API (__init__)
    "mediaprep.cli",
    "mediaprep.report",
    "mediaprep.ray_engine",
    "mediaprep.batch",
    "mediaprep.jobs",
    "mediaprep.manifest",
    "mediaprep.progress",
    "mediaprep.preflight",  # whole requests: each media reference through the pipeline, then the request's rules
    "mediaprep.pipeline",  # the one place the stages are wired
    "mediaprep.request",
    "mediaprep.outputs",  # emit: names, atomic writes, transport → URL
    "mediaprep.apply",  # apply: run a plan
    "mediaprep.probe",  # probe: source → info
    "mediaprep.plan",  # plan: report + policy → plan (pure)
    "mediaprep.check",  # check: info + target → report (pure)
    "mediaprep.budget",
    "mediaprep.backends",  # the only importers of PIL, av, pillow_heif, numpy
    "mediaprep.media",  # the I/O seam the backends read through
    "mediaprep.remote",  # the only importer of httpx
    "mediaprep.resolve",
    "mediaprep.parts",
    "mediaprep.encode",
    "mediaprep.formats",
    "mediaprep.caps",
    "mediaprep.compress",
    "mediaprep.sampling",
    "mediaprep.tokens",
    "mediaprep.sniff",
    "mediaprep.codes",
    "mediaprep.models",
    "mediaprep.rules",
    "mediaprep.errors",  # imports nothing of ours at run time: the rule table raises its UsageError
    "mediaprep._version",
)
MEDIA_LIBRARIES = frozenset({"PIL", "av", "pillow_heif", "numpy"})
HTTP_LIBRARIES = frozenset({"httpx", "httpcore"})


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers inside `if TYPE_CHECKING:` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.body:
                for sub in ast.walk(child):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def imports_of(name: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in module `name`, relative ones resolved; for
    `from pkg import x`, `pkg.x` when that is a module, else `pkg`."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in MODULES else base), node.lineno


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest entry that is `module` or a package holding it."""
    best = -1
    best_len = -1
    for i, layer in enumerate(LAYERS):
        if (module == layer or module.startswith(layer + ".")) and len(layer) > best_len:
            best, best_len = i, len(layer)
    return best


def graph() -> dict[str, set[str]]:
    """mediaprep module → mediaprep modules it imports (anywhere in the file)."""
    out: dict[str, set[str]] = {}
    for name in MODULES:
        out[name] = {m for m, _ in imports_of(name) if m.startswith("mediaprep") and m in MODULES and m != name}
    return out


def test_every_module_has_a_layer() -> None:
    missing = [m for m in MODULES if layer_of(m) < 0]
    assert not missing, f"add these modules to LAYERS: {missing}"


def test_only_backends_import_media_libraries_and_only_remote_imports_httpx() -> None:
    offenders = []
    for name in MODULES:
        for imported, line in imports_of(name):
            top = imported.split(".")[0]
            if top in MEDIA_LIBRARIES and not name.startswith("mediaprep.backends."):
                offenders.append(f"{name}:{line} imports {imported}")
            if top in HTTP_LIBRARIES and not name.startswith("mediaprep.remote"):
                offenders.append(f"{name}:{line} imports {imported}")
    assert not offenders, "\n".join(offenders)


def test_no_module_imports_one_above_it() -> None:
    offenders = []
    for name in MODULES:
        mine = layer_of(name)
        for imported, line in imports_of(name):
            if not imported.startswith("mediaprep") or imported not in MODULES:
                continue
            theirs = layer_of(imported)
            if theirs < mine:
                offenders.append(f"{name}:{line} imports {imported} ({LAYERS[theirs]} is above {LAYERS[mine]})")
    assert not offenders, "\n".join(offenders)


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_lazy_ones_included() -> None:
    # a package's __init__ re-exporting its own modules is not a cycle of the design: drop the edges
    # from a module to the package it lives in (it imports a sibling through the package)
    g = {m: {d for d in deps if not (_is_package(d) and m.startswith(d + "."))} for m, deps in graph().items()}
    assert _cycles(g) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    "stage,below",
    [
        ("mediaprep.pipeline", ("mediaprep.probe", "mediaprep.check", "mediaprep.plan", "mediaprep.apply.images", "mediaprep.apply.video", "mediaprep.outputs")),
        ("mediaprep.apply.video", ("mediaprep.plan",)),
        ("mediaprep.plan", ("mediaprep.budget", "mediaprep.sampling")),
    ],
)
def test_stages_go_down_in_pipeline_order(stage: str, below: tuple[str, ...]) -> None:
    deps = graph()[stage]
    for module in below:
        assert module in deps, f"{stage} should use {module}"
        assert layer_of(module) > layer_of(stage)
    # and nothing a stage uses reaches back up to the stage that called it
    assert not any(stage in graph()[m] for m in below)


def test_check_and_plan_are_pure() -> None:
    """check and plan read values only: no backend, no remote, no file I/O module."""
    for name in ("mediaprep.check", "mediaprep.plan", "mediaprep.sampling", "mediaprep.budget", "mediaprep.tokens", "mediaprep.caps", "mediaprep.formats"):
        touched = {m for m, _ in imports_of(name)}
        assert not {m for m in touched if m.startswith(("mediaprep.backends", "mediaprep.remote", "mediaprep.media", "mediaprep.probe", "mediaprep.outputs"))}, name
        assert not touched & {"os", "shutil", "tempfile", "io", "subprocess"}, (name, touched & {"os", "shutil", "tempfile", "io", "subprocess"})
