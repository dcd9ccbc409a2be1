"""Draw the image seeder's bundled fallback images (a dog in sunglasses, four ways); Pillow encodes them.

    python tools/make_samples.py [OUT_DIR]    # default: rewrites functions/image_seeder/samples/

The seeder uploads these when Bedrock cannot generate images, so the image API always has something to
serve. Two are PNG and two are baseline JPEG (4:4:4, quality 85): the API serves both. The pixels are pure
functions of the coordinates. Pillow is a development dependency only (requirements-dev.txt); the seeder
uploads the committed files as they are. Regenerate them only when the drawing changes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

SIZE = 192  # pixels per side
SUPERSAMPLE = 2  # per axis, for anti-aliased edges
JPEG_QUALITY = 85
OUT_DIR = Path(__file__).resolve().parent.parent / "functions" / "image_seeder" / "samples"

RGB = tuple[int, int, int]


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
        True,
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


def render(colour: Callable[[float, float], RGB], size: int = SIZE) -> Image.Image:
    """Samples `colour` at SUPERSAMPLE² points per pixel (the pixel centres of a larger image) and averages them."""
    big = size * SUPERSAMPLE
    image = Image.new("RGB", (big, big))
    image.putdata([colour((x + 0.5) / big, (y + 0.5) / big) for y in range(big) for x in range(big)])
    return image.reduce(SUPERSAMPLE)


def main(out_dir: Path = OUT_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, palette in PALETTES.items():
        image = render(lambda u, v, p=palette: dog_colour(p, u, v))
        path = out_dir / name
        if name.endswith(".png"):
            image.save(path, format="PNG", optimize=True)
        else:  # baseline JPEG, no chroma subsampling, the standard Huffman tables
            image.save(path, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
        print(f"{name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR)
