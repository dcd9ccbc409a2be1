"""Draw the image seeder's bundled fallback images (a dog in sunglasses, four ways) with the stdlib only.

    python tools/make_samples.py          # rewrites functions/image_seeder/samples/

The seeder uploads these when Bedrock cannot generate images, so the image API always has something to
serve. Two are PNG and two are baseline JPEG, because the API serves both and each path should be
exercised. Pillow is deliberately not a dependency: PNG is zlib + CRC'd chunks, and the JPEG writer
below is a minimal baseline encoder (4:4:4 YCbCr, float DCT, IJG quality scaling of the ITU T.81
Annex K quantisation tables, the Annex K Huffman tables). Output is deterministic: the pixels are
pure functions of the coordinates; only the zlib build could change the PNG bytes (not the pixels).

Checked once with libjpeg-turbo (`apt-get install libjpeg-turbo-progs`): `djpeg -ppm <file>.jpg`
decodes each JPEG without warnings, and its pixels match the drawing within normal JPEG error.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SIZE = 192  # pixels per side; a multiple of 8, so JPEG blocks tile the image exactly
SUPERSAMPLE = 2  # per axis, for anti-aliased edges
JPEG_QUALITY = 85
OUT_DIR = Path(__file__).resolve().parent.parent / "functions" / "image_seeder" / "samples"

RGB = tuple[int, int, int]


# ------------------------------------------------------------------------------------------- drawing
@dataclass(frozen=True)
class Palette:
    sky_top: RGB
    sky_bottom: RGB
    fur: RGB
    ears: RGB
    muzzle: RGB
    lens: RGB
    frame: RGB
    spots: bool = False


PALETTES: dict[str, Palette] = {
    "dog-sunglasses-1.png": Palette(
        (110, 180, 245), (250, 232, 180), (222, 170, 90), (170, 110, 50), (245, 215, 160), (25, 25, 40), (205, 40, 60)
    ),
    "dog-sunglasses-2.jpg": Palette(
        (245, 150, 110), (255, 228, 150), (150, 150, 162), (80, 80, 96), (225, 225, 230), (30, 60, 125), (25, 25, 25)
    ),
    "dog-sunglasses-3.png": Palette(
        (140, 225, 165),
        (240, 250, 220),
        (242, 240, 232),
        (60, 50, 45),
        (250, 250, 245),
        (70, 25, 80),
        (250, 200, 0),
        spots=True,
    ),
    "dog-sunglasses-4.jpg": Palette(
        (195, 160, 240), (252, 222, 250), (122, 76, 46), (80, 46, 26), (170, 120, 85), (12, 12, 12), (0, 170, 170)
    ),
}


def _in_ellipse(u: float, v: float, cu: float, cv: float, ru: float, rv: float) -> bool:
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def dog_colour(p: Palette, u: float, v: float) -> RGB:
    """The colour at (u, v) in [0, 1)², painted front to back: the first shape that covers the point wins."""
    for cu in (0.39, 0.61):  # sunglasses: lens highlight, lens, frame rim
        if _in_ellipse(u, v, cu - 0.04, 0.41, 0.025, 0.015):
            return (235, 235, 245)
        if _in_ellipse(u, v, cu, 0.43, 0.095, 0.065):
            return _mix(p.lens, (90, 90, 110), (v - 0.365) / 0.13 * 0.5)
        if _in_ellipse(u, v, cu, 0.43, 0.115, 0.085):
            return p.frame
    if 0.49 <= u <= 0.51 and 0.41 <= v <= 0.44 or (0.22 <= u <= 0.28 or 0.72 <= u <= 0.78) and 0.41 <= v <= 0.435:
        return p.frame  # bridge and arms
    if _in_ellipse(u, v, 0.5, 0.575, 0.05, 0.034):
        return (30, 22, 22)  # nose
    if _in_ellipse(u, v, 0.5, 0.685, 0.035, 0.03) and v > 0.67:
        return (230, 110, 130)  # tongue
    if _in_ellipse(u, v, 0.5, 0.625, 0.14, 0.095):
        return p.muzzle
    if _in_ellipse(u, v, 0.5, 0.48, 0.27, 0.28):  # head
        if p.spots and any(
            _in_ellipse(u, v, su, sv, 0.035, 0.03)
            for su, sv in ((0.34, 0.3), (0.62, 0.27), (0.7, 0.58), (0.3, 0.6), (0.5, 0.25))
        ):
            return p.ears
        return p.fur
    if _in_ellipse(u, v, 0.25, 0.5, 0.1, 0.2) or _in_ellipse(u, v, 0.75, 0.5, 0.1, 0.2):
        return p.ears
    if _in_ellipse(u, v, 0.5, 1.02, 0.36, 0.27):
        return _mix(p.fur, p.ears, 0.35)  # shoulders
    if _in_ellipse(u, v, 0.83, 0.14, 0.08, 0.08):
        return (255, 236, 120)  # sun
    return _mix(p.sky_top, p.sky_bottom, v)


def render(colour: Callable[[float, float], RGB], size: int = SIZE) -> list[list[RGB]]:
    """Rows of RGB pixels, each the average of SUPERSAMPLE² samples."""
    n = SUPERSAMPLE
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            samples = [
                colour((x + (i + 0.5) / n) / size, (y + (j + 0.5) / n) / size) for j in range(n) for i in range(n)
            ]
            row.append(tuple(round(sum(s[c] for s in samples) / len(samples)) for c in range(3)))
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------- PNG
def encode_png(rows: list[list[RGB]]) -> bytes:
    """8-bit truecolour PNG, filter type 0 on every row."""
    height, width = len(rows), len(rows[0])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# ------------------------------------------------------------------------------------------- JPEG
# Natural (row-major) index of the k-th coefficient in zigzag order: odd anti-diagonals run down-left.
ZIGZAG = sorted(range(64), key=lambda i: (i // 8 + i % 8, i // 8 if (i // 8 + i % 8) % 2 else i % 8))

LUMA_QUANT = [
    16,
    11,
    10,
    16,
    24,
    40,
    51,
    61,
    12,
    12,
    14,
    19,
    26,
    58,
    60,
    55,
    14,
    13,
    16,
    24,
    40,
    57,
    69,
    56,
    14,
    17,
    22,
    29,
    51,
    87,
    80,
    62,
    18,
    22,
    37,
    56,
    68,
    109,
    103,
    77,
    24,
    35,
    55,
    64,
    81,
    104,
    113,
    92,
    49,
    64,
    78,
    87,
    103,
    121,
    120,
    101,
    72,
    92,
    95,
    98,
    112,
    100,
    103,
    99,
]
CHROMA_QUANT = [
    17,
    18,
    24,
    47,
    99,
    99,
    99,
    99,
    18,
    21,
    26,
    66,
    99,
    99,
    99,
    99,
    24,
    26,
    56,
    99,
    99,
    99,
    99,
    99,
    47,
    66,
    99,
    99,
    99,
    99,
    99,
    99,
] + [99] * 32

# Annex K Huffman tables as (code counts per length 1..16, symbols). The AC symbol lists start with the
# listed symbols and continue with every remaining (run << 4 | size) symbol in ascending order.
_AC_SYMBOLS = {0x00, 0xF0} | {run << 4 | size for run in range(16) for size in range(1, 11)}


def _ac_symbols(head: list[int]) -> list[int]:
    return head + sorted(_AC_SYMBOLS - set(head))


DC_LUMA = ([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], list(range(12)))
DC_CHROMA = ([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], list(range(12)))
AC_LUMA = (
    [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125],
    _ac_symbols(
        [
            0x01,
            0x02,
            0x03,
            0x00,
            0x04,
            0x11,
            0x05,
            0x12,
            0x21,
            0x31,
            0x41,
            0x06,
            0x13,
            0x51,
            0x61,
            0x07,
            0x22,
            0x71,
            0x14,
            0x32,
            0x81,
            0x91,
            0xA1,
            0x08,
            0x23,
            0x42,
            0xB1,
            0xC1,
            0x15,
            0x52,
            0xD1,
            0xF0,
            0x24,
            0x33,
            0x62,
            0x72,
            0x82,
        ]
    ),
)
AC_CHROMA = (
    [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119],
    _ac_symbols(
        [
            0x00,
            0x01,
            0x02,
            0x03,
            0x11,
            0x04,
            0x05,
            0x21,
            0x31,
            0x06,
            0x12,
            0x41,
            0x51,
            0x07,
            0x61,
            0x71,
            0x13,
            0x22,
            0x32,
            0x81,
            0x08,
            0x14,
            0x42,
            0x91,
            0xA1,
            0xB1,
            0xC1,
            0x09,
            0x23,
            0x33,
            0x52,
            0xF0,
            0x15,
            0x62,
            0x72,
            0xD1,
            0x0A,
            0x16,
            0x24,
            0x34,
            0xE1,
            0x25,
            0xF1,
        ]
    ),
)

_COS = [[math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]
_ALPHA = [math.sqrt(0.5)] + [1.0] * 7


def _scaled_quant(table: list[int], quality: int) -> list[int]:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, (q * scale + 50) // 100)) for q in table]


def _codes(spec: tuple[list[int], list[int]]) -> dict[int, tuple[int, int]]:
    """Canonical Huffman codes {symbol: (code, length)} from a DHT specification."""
    counts, symbols = spec
    codes, code, k = {}, 0, 0
    for length, count in enumerate(counts, start=1):
        for _ in range(count):
            codes[symbols[k]] = (code, length)
            code, k = code + 1, k + 1
        code <<= 1
    return codes


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.bits = 0

    def write(self, value: int, length: int) -> None:
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.bits += length
        while self.bits >= 8:
            self.bits -= 8
            byte = (self.acc >> self.bits) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)  # byte stuffing: 0xFF in entropy-coded data is followed by 0x00
        self.acc &= (1 << self.bits) - 1

    def flush(self) -> bytes:
        if self.bits:
            self.write((1 << (8 - self.bits)) - 1, 8 - self.bits)  # pad with 1-bits
        return bytes(self.out)


def _magnitude(value: int) -> tuple[int, int]:
    """JPEG's (size category, additional bits) for a coefficient."""
    size = abs(value).bit_length()
    return size, value if value >= 0 else value + (1 << size) - 1


def _fdct_quantise(block: list[float], quant: list[int]) -> list[int]:
    """Quantised DCT coefficients of an 8×8 block, in zigzag order."""
    rows = [[sum(block[y * 8 + x] * _COS[u][x] for x in range(8)) for u in range(8)] for y in range(8)]
    coeffs = [
        0.25 * _ALPHA[u] * _ALPHA[v] * sum(rows[y][u] * _COS[v][y] for y in range(8))
        for v in range(8)
        for u in range(8)
    ]
    return [round(coeffs[i] / quant[i]) for i in ZIGZAG]


def encode_jpeg(rows: list[list[RGB]], quality: int = JPEG_QUALITY) -> bytes:
    """Baseline sequential JPEG (JFIF, 3 components, no subsampling)."""
    height, width = len(rows), len(rows[0])
    quants = [_scaled_quant(LUMA_QUANT, quality), _scaled_quant(CHROMA_QUANT, quality)]
    dc_codes = [_codes(DC_LUMA), _codes(DC_CHROMA)]
    ac_codes = [_codes(AC_LUMA), _codes(AC_CHROMA)]

    def ycbcr(px: RGB) -> tuple[float, float, float]:
        r, g, b = px
        return (
            0.299 * r + 0.587 * g + 0.114 * b - 128,
            -0.168736 * r - 0.331264 * g + 0.5 * b,
            0.5 * r - 0.418688 * g - 0.081312 * b,
        )

    planes = [
        [[ycbcr(rows[min(y, height - 1)][min(x, width - 1)])[c] for x in range(width)] for y in range(height)]
        for c in range(3)
    ]
    writer, previous_dc = _BitWriter(), [0, 0, 0]
    for by in range(0, height, 8):
        for bx in range(0, width, 8):
            for c in range(3):  # one interleaved MCU: a Y, a Cb and a Cr block
                table = 0 if c == 0 else 1
                block = [planes[c][min(by + y, height - 1)][min(bx + x, width - 1)] for y in range(8) for x in range(8)]
                zz = _fdct_quantise(block, [quants[table][i] for i in range(64)])
                size, bits = _magnitude(zz[0] - previous_dc[c])
                previous_dc[c] = zz[0]
                writer.write(*dc_codes[table][size])
                writer.write(bits, size)
                run = 0
                for value in zz[1:]:
                    if value == 0:
                        run += 1
                        continue
                    while run > 15:
                        writer.write(*ac_codes[table][0xF0])
                        run -= 16
                    size, bits = _magnitude(value)
                    writer.write(*ac_codes[table][run << 4 | size])
                    writer.write(bits, size)
                    run = 0
                if run:
                    writer.write(*ac_codes[table][0x00])  # end of block
    scan = writer.flush()

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    # The quantisation tables are stored in zigzag order, as the coefficients are.
    dqt = b"".join(bytes([t]) + bytes(quants[t][i] for i in ZIGZAG) for t in (0, 1))
    dht = b"".join(
        bytes([cls << 4 | t]) + bytes(spec[0]) + bytes(spec[1])
        for cls, t, spec in ((0, 0, DC_LUMA), (1, 0, AC_LUMA), (0, 1, DC_CHROMA), (1, 1, AC_CHROMA))
    )
    sof = struct.pack(">BHHB", 8, height, width, 3) + bytes([1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1])
    sos = bytes([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0])
    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, dqt)
        + segment(0xC0, sof)
        + segment(0xC4, dht)
        + segment(0xDA, sos)
        + scan
        + b"\xff\xd9"
    )


# ------------------------------------------------------------------------------------------- main
def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, palette in PALETTES.items():
        rows = render(lambda u, v, p=palette: dog_colour(p, u, v))
        data = encode_png(rows) if name.endswith(".png") else encode_jpeg(rows)
        (OUT_DIR / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
