"""Draws the disguises' icons as PNG files (run once; the PNGs are committed).

Plain shapes in the style of the tools they imitate, written with zlib and
struct only. Nothing in them refers to the app behind them.

    python tools/disguise_icons.py
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "pwa" / "disguise" / "icons"
Colour = tuple[int, int, int]
Painter = Callable[[float, float], Colour | None]


def png(size: int, paint: Painter, background: Colour) -> bytes:
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            colour = paint((x + 0.5) / size, (y + 0.5) / size) or background
            row.extend(colour)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def inside(x: float, y: float, left: float, top: float, right: float, bottom: float) -> bool:
    return left <= x <= right and top <= y <= bottom


def calculator(x: float, y: float, *, safe: float = 0.0) -> Colour | None:
    # A dark body, a pale display, a 4 x 4 grid of keys; the last column orange.
    s = safe
    if inside(x, y, 0.22 + s * 0.3, 0.16 + s * 0.3, 0.78 - s * 0.3, 0.3 + s * 0.1):
        return (214, 232, 212)
    left, top, right, bottom = 0.22 + s * 0.3, 0.38 + s * 0.1, 0.78 - s * 0.3, 0.86 - s * 0.3
    cols, rows = 4, 4
    width, height = (right - left) / cols, (bottom - top) / rows
    if inside(x, y, left, top, right, bottom):
        col, row = int((x - left) / width), int((y - top) / height)
        cx, cy = (x - left) - col * width, (y - top) - row * height
        if 0.12 * width < cx < 0.88 * width and 0.12 * height < cy < 0.88 * height:
            return (242, 140, 40) if col == cols - 1 else (92, 96, 104)
    return None


def notes(x: float, y: float, *, safe: float = 0.0) -> Colour | None:
    # A yellow pad with a darker band on top and ruled lines.
    s = safe
    if inside(x, y, 0.2 + s * 0.3, 0.14 + s * 0.3, 0.8 - s * 0.3, 0.26 + s * 0.2):
        return (230, 170, 20)
    if inside(x, y, 0.2 + s * 0.3, 0.26 + s * 0.2, 0.8 - s * 0.3, 0.86 - s * 0.3):
        for line in (0.4, 0.52, 0.64, 0.76):
            if abs(y - (line + s * 0.05)) < 0.012 and x < 0.72 - s * 0.3:
                return (150, 140, 110)
        return (255, 236, 150)
    return None


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, painter, background in (
        ("calculator", calculator, (40, 42, 48)),
        ("notes", notes, (250, 248, 240)),
    ):
        for size in (192, 512):
            (OUT / f"{name}-{size}.png").write_bytes(png(size, painter, background))
        (OUT / f"{name}-maskable-512.png").write_bytes(
            png(512, lambda x, y, p=painter: p(x, y, safe=0.2), background)
        )


if __name__ == "__main__":
    main()
