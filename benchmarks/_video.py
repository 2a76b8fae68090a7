"""Shared helpers for the video benchmarks: deterministic test videos made with the ffmpeg CLI, a
frame-number code burnt into every frame, and child-process measurement (wall, CPU, peak RSS).

Every generated frame carries its own frame number (the `n` of ffmpeg's filter graph, i.e. its
position in presentation order) as a row of 16 black/white blocks near its bottom-left corner: block
i is white when bit i of n is set. The blocks are big (1/11 of the frame height) so the code
survives downscaling to the model's frame size and JPEG at ffmpeg's -q:v 2 or quality 90;
`read_code` reads it back from a JPEG, which tells which source frame an output image is.

Videos are cached in benchmarks/_work/ (git-ignored) under names that encode their recipe, with a
JSON note of how long each took to make; delete the folder to regenerate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

WORK = Path(__file__).resolve().parent / "_work"
CODE_BITS = 16


def need_ffmpeg() -> str:
    """The ffmpeg executable, or exit 2 with instructions (the benchmark never installs anything)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        print(
            "bench: `ffmpeg` is not on PATH. It is needed to generate the test videos and as the\n"
            "       baseline. On Debian/Ubuntu: apt-get update && apt-get install -y ffmpeg",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return exe


def ffmpeg_version() -> str:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "ffmpeg (version unknown)"


# --------------------------------------------------------------------------------------------------
# the frame-number code


def _cell(height: int) -> int:
    return max(8, height // 11 // 2 * 2)


def code_filter(width: int, height: int) -> str:
    """drawbox filters that burn the frame number n into the frame as CODE_BITS blocks."""
    b = _cell(height)
    x0, y0 = b // 2, height - b - b // 2
    if x0 + CODE_BITS * b + b // 4 > width:
        raise ValueError(f"{width}x{height} is too narrow for the frame-number code")
    parts = [f"drawbox=x={x0 - b // 4}:y={y0 - b // 4}:w={CODE_BITS * b + b // 2}:h={b + b // 2}:color=black:t=fill"]
    for i in range(CODE_BITS):
        parts.append(f"drawbox=x={x0 + i * b}:y={y0}:w={b}:h={b}:color=white:t=fill:enable='bitand(n,{1 << i})'")
    return ",".join(parts)


def read_code(image: Image.Image, source_size: tuple[int, int]) -> int:
    """The frame number burnt in by `code_filter`, read from `image` (any size: the code scales with
    the picture). `source_size` is the generated video's width, height."""
    sw, sh = source_size
    b = _cell(sh)
    x0, y0 = b // 2, sh - b - b // 2
    grey = image.convert("L")
    fx, fy = grey.width / sw, grey.height / sh
    n = 0
    for i in range(CODE_BITS):
        cx, cy = (x0 + i * b + b / 2) * fx, (y0 + b / 2) * fy
        r = max(1.0, b * fx / 5)
        box = (int(cx - r), int(cy - r), int(cx + r) + 1, int(cy + r) + 1)
        region = grey.crop(box)
        mean = sum(region.getdata()) / (region.width * region.height)
        if mean > 128:
            n |= 1 << i
    return n


# --------------------------------------------------------------------------------------------------
# test videos


@dataclass(frozen=True)
class Video:
    path: Path
    width: int
    height: int
    duration_s: float
    description: str
    made_in_s: float  # generation time (from the cache note when cached)
    cached: bool


def _note_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _run_ffmpeg(args: list[str], dest: Path) -> float:
    tmp = dest.with_name(f".{dest.stem}.tmp{dest.suffix}")
    t0 = time.perf_counter()
    proc = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(tmp)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}) making {dest.name}: {proc.stderr.strip()[-2000:]}")
    os.replace(tmp, dest)
    return time.perf_counter() - t0


def _cached(dest: Path, make: callable, description: str, width: int, height: int, duration_s: float, log) -> Video:  # type: ignore[valid-type]
    note = _note_path(dest)
    if dest.exists() and note.exists():
        meta = json.loads(note.read_text())
        return Video(dest, width, height, duration_s, description, meta["made_in_s"], True)
    log(f"generating {dest.name}: {description} ...")
    made = make()
    note.write_text(json.dumps({"made_in_s": made, "description": description}))
    log(f"  made {dest.name} in {made:.1f} s ({dest.stat().st_size / 1e6:.0f} MB)")
    return Video(dest, width, height, duration_s, description, made, False)


def synthetic(
    name: str,
    *,
    width: int,
    height: int,
    duration_s: float,
    rate: str = "30",
    codec: str = "libx264",
    preset: str = "veryfast",
    vfr: bool = False,
    log=print,  # noqa: ANN001
) -> Video:
    """ffmpeg's `testsrc2` (moving shapes, a moving gradient, a running clock: not noise) with the
    frame-number code, encoded with the codec's defaults (x264/x265: keyframe interval up to 250,
    scene-cut detection, B-frames) at `preset`, yuv420p, no audio. `vfr`: presentation times
    t(n) = n/30 + 0.2·sin(0.1·n) s (frame durations 13–53 ms, in waves), on a 1/90000 time base."""
    WORK.mkdir(parents=True, exist_ok=True)
    dest = WORK / name
    src = f"testsrc2=size={width}x{height}:rate={rate}:duration={duration_s:g}"
    chain = code_filter(width, height)
    extra: list[str] = []
    if vfr:
        chain = f"settb=1/90000,setpts='(N/30+0.2*sin(N*0.1))/TB',{chain}"
        extra = ["-fps_mode", "vfr", "-enc_time_base", "1/90000", "-video_track_timescale", "90000"]
    params: list[str] = []
    if codec == "libx265":
        params = ["-x265-params", "log-level=error", "-tag:v", "hvc1"]
    desc = f"testsrc2 {width}x{height} @{rate}{' VFR' if vfr else ''} fps, {duration_s:g} s, {codec} -preset {preset} (codec defaults otherwise)"

    def make() -> float:
        return _run_ffmpeg(["-f", "lavfi", "-i", src, "-vf", chain, *extra, "-c:v", codec, "-preset", preset, *params, "-pix_fmt", "yuv420p", "-an"], dest)

    return _cached(dest, make, desc, width, height, duration_s, log)


def concatenated(name: str, part: Video, times: int, *, log=print) -> Video:  # noqa: ANN001
    """`part` repeated `times` times with the concat demuxer and -c copy (no re-encoding: seconds)."""
    dest = WORK / name
    desc = f"{part.path.name} × {times} (concat demuxer, -c copy)"

    def make() -> float:
        listing = WORK / f"{name}.txt"
        listing.write_text("".join(f"file '{part.path.name}'\n" for _ in range(times)))
        try:
            return _run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy"], dest)
        finally:
            listing.unlink(missing_ok=True)

    return _cached(dest, make, desc, part.width, part.height, part.duration_s * times, log)


# --------------------------------------------------------------------------------------------------
# measuring a child process


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(cmd: list[str], *, cwd: Path | None = None) -> Run:
    """Run `cmd` under GNU time (/usr/bin/time), returning its wall time (measured here), its own
    CPU time (user + sys) and its peak RSS in MB (10^6 bytes).

    Not wait4()/getrusage(RUSAGE_CHILDREN) from this process: Linux starts a child's ru_maxrss at the
    RSS of the process it was forked (or vforked) from, so a child of a large Python process would
    report at least that process's size; GNU time is a small process, so its child's figure is the
    child's own."""
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    WORK.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    out_path, err_path, rusage_path = WORK / f".out-{tag}", WORK / f".err-{tag}", WORK / f".rusage-{tag}"
    full = [gnu_time, "-f", "%M %U %S", "-o", str(rusage_path), *cmd] if gnu_time else cmd
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(full, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
        if gnu_time:
            # GNU time writes "Command exited with non-zero status N" first when the child failed
            fields = rusage_path.read_text().split("\n")[-2].split()
            rss_mb, cpu = int(fields[0]) * 1024 / 1e6, float(fields[1]) + float(fields[2])
        else:  # pragma: no cover - without GNU time the RSS may include this process's own
            rss_mb, cpu = usage.ru_maxrss * 1024 / 1e6, usage.ru_utime + usage.ru_stime
    finally:
        for p in (out_path, err_path, rusage_path):
            p.unlink(missing_ok=True)
    return Run(wall, cpu, rss_mb, proc.returncode, stdout, stderr)
