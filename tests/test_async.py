"""acheck / aprepare: the event loop keeps running while a large image is prepared."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
from PIL import Image

import mediaprep as mp


def _big_webp(path: Path) -> Path:
    """A 5000×3000 WEBP: above 4K, so prepare decodes, converts and encodes it (a second or more)."""
    rng = np.random.default_rng(7)
    small = Image.fromarray(rng.integers(0, 256, size=(300, 500, 3), dtype=np.uint8))
    small.resize((5000, 3000), Image.Resampling.BILINEAR).save(path, "WEBP", quality=80)
    return path


def test_a_ticking_coroutine_keeps_ticking_beside_a_4k_prepare(tmp_path: Path) -> None:
    src = _big_webp(tmp_path / "big.webp")

    async def main() -> tuple[mp.Prepared, list[float], float]:
        ticks: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        prepared = await mp.aprepare(src, out_dir=tmp_path / "out")
        elapsed = time.monotonic() - started
        done.set()
        await task
        return prepared, ticks, elapsed

    prepared, ticks, elapsed = asyncio.run(main())
    assert prepared.status == "ready" and "convert" in [a.op for a in prepared.actions]
    # the loop was never held: ticks kept coming through the whole prepare
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) >= max(5, elapsed / 0.05), (len(ticks), elapsed)
    assert max(gaps) < max(0.5, elapsed / 2), max(gaps)


def test_acheck_gives_the_same_report_as_check(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (8, 8)).save(path)
    report = asyncio.run(mp.acheck(path))
    assert report == mp.check(path) and report.status == "fixable"


def test_apreflight_fixes_a_request_off_the_event_loop(tmp_path: Path) -> None:
    import base64
    import io

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 120, 0)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    body = {"model": "kimi-k2.6", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "hi"}]}]}
    result = asyncio.run(mp.apreflight(body))
    assert result.status == "ready" and result.changed
    assert result.body is not None and result.body["messages"][0]["content"][0]["image_url"]["url"] != url  # padded
