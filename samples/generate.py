"""Write the sample media into samples/media deterministically (same bytes on every run with the
same Pillow and PyAV). A mix that is ok, fixable and rejected, so `mediaprep check samples/media`
shows every verdict: images and three small videos.

    python samples/generate.py            # (re)writes samples/media/
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent / "media"


def photo(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    arr = np.stack(
        [128 + 100 * np.sin(x / width * 6.28 + seed), 128 + 100 * np.cos(y / height * 6.28), 128 + 60 * np.sin((x + y) / (width + height) * 12)],
        axis=-1,
    )
    arr += rng.normal(0, 6, arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for old in HERE.iterdir():
        old.unlink()
    # ok
    photo(640, 480, 1).save(HERE / "photo.jpg", quality=85)
    logo = Image.new("RGBA", (200, 120), (0, 0, 0, 0))
    logo.paste((220, 40, 40, 255), (20, 20, 180, 100))
    logo.save(HERE / "logo.png")
    photo(320, 240, 2).save(HERE / "lossy.webp", quality=80)
    # ok with a warning: an EXIF orientation the service may ignore
    exif = Image.Exif()
    exif[0x0112] = 6
    photo(400, 300, 3).save(HERE / "sideways.jpg", quality=85, exif=exif.tobytes())
    # fixable
    photo(8, 8, 4).save(HERE / "icon-8px.png")
    photo(2400, 10, 5).save(HERE / "banner-240-to-1.png")
    frames = [Image.new("RGB", (64, 64), (i * 80, 100, 255 - i * 80)) for i in range(3)]
    frames[0].save(HERE / "animated.gif", save_all=True, append_images=frames[1:], duration=200, loop=0)
    photo(120, 90, 6).convert("CMYK").save(HERE / "print-cmyk.jpg", quality=85)
    photo(4000, 600, 7).save(HERE / "wide-4k.webp", quality=60)
    # rejected
    whole = HERE / "truncated.jpg"
    photo(640, 480, 8).save(whole, quality=85)
    whole.write_bytes(whole.read_bytes()[:9000])
    (HERE / "notes-named.jpg").write_text("this is a text file with a .jpg name\n")
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    (HERE / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 16)) + _chunk(b"IEND", b""))
    # videos: ok (3 s MP4), too short (1 s: an image list), an unlisted container (WebM)
    _video(HERE / "clip-3s.mp4", seconds=3.0, codec="libx264")
    _video(HERE / "clip-1s.mp4", seconds=1.0, codec="libx264")
    _video(HERE / "clip.webm", seconds=2.5, codec="libvpx-vp9")
    print(f"wrote {len(list(HERE.iterdir()))} files to {HERE}")


def _video(path: Path, *, seconds: float, codec: str, fps: int = 10, size: tuple[int, int] = (160, 120)) -> None:
    """A small moving-gradient video (PyAV). x264/VP9 output can differ between library builds."""
    import av

    width, height = size
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "30"}
        for i in range(int(seconds * fps)):
            y, x = np.mgrid[0:height, 0:width]
            arr = np.stack([(x * 2 + i * 8) % 256, (y * 2) % 256, np.full_like(x, (i * 20) % 256)], axis=-1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


if __name__ == "__main__":
    main()
