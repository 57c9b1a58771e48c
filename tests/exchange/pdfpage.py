"""Look at a PDF as a reader does: poppler's pdfinfo / pdffonts / pdftotext, and pages
rasterised with pdftoppm and measured in millimetres (Pillow). Test helpers; pure reads."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from PIL import Image, ImageChops

MM_PER_PT = 25.4 / 72


def pdfinfo(pdf: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines()) if v}


def page_sizes_pt(pdf: Path) -> list[tuple[float, float]]:
    """Every page's size in points (pdfinfo -f 1 -l N)."""
    pages = int(pdfinfo(pdf)["Pages"])
    out = subprocess.run(["pdfinfo", "-f", "1", "-l", str(pages), str(pdf)], capture_output=True, text=True,
                         check=True).stdout
    return [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out)]


@dataclass(frozen=True)
class Font:
    name: str  # without the subset tag (ABCDEF+)
    embedded: bool


def pdffonts(pdf: Path) -> list[Font]:
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    fonts = []
    for line in out.splitlines()[2:]:
        cols = line.split()
        # name type... emb sub uni object ID: emb is the 5th column from the right
        fonts.append(Font(cols[0].split("+", 1)[-1], cols[-5] == "yes"))
    return fonts


@dataclass(frozen=True)
class Line:
    """A line of text as pdftotext sees it, in mm from the page's top left."""
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


def text_lines(pdf: Path, page: int) -> list[Line]:
    out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-bbox-layout", str(pdf), "-"],
                         capture_output=True, text=True, check=True).stdout
    root = ElementTree.fromstring(out)
    lines = []
    for el in root.iter():
        if el.tag.endswith("line"):
            words = [w.text or "" for w in el if w.tag.endswith("word")]
            box = [float(el.get(k)) * MM_PER_PT for k in ("xMin", "yMin", "xMax", "yMax")]
            lines.append(Line("".join(words), *box))
    return lines


class Page:
    """One rasterised page, measured in mm."""

    def __init__(self, png: Path, dpi: int) -> None:
        self.image = Image.open(png).convert("RGB")
        self.dpi = dpi
        self.px_per_mm = dpi / 25.4
        r, g, b = self.image.split()
        dark = self.image.convert("L").point(lambda v: 255 if v < 160 else 0)
        self.red = ImageChops.multiply(
            ImageChops.multiply(r.point(lambda v: 255 if v > 170 else 0), g.point(lambda v: 255 if v < 110 else 0)),
            b.point(lambda v: 255 if v < 110 else 0))
        # ink that is not red: black text and rules
        self.black = ImageChops.subtract(dark, self.red)

    @property
    def size_mm(self) -> tuple[float, float]:
        return self.image.width / self.px_per_mm, self.image.height / self.px_per_mm

    def _box(self, mask: Image.Image, region_mm: tuple[float, float, float, float] | None):
        ox = oy = 0
        if region_mm:
            x0, y0, x1, y1 = (round(v * self.px_per_mm) for v in region_mm)
            mask, ox, oy = mask.crop((x0, y0, x1, y1)), x0, y0
        box = mask.getbbox()
        if box is None:
            return None
        return tuple(round(v / self.px_per_mm, 2) for v in (box[0] + ox, box[1] + oy, box[2] + ox, box[3] + oy))

    def ink(self, region_mm=None):
        """The bounding box (x0, y0, x1, y1 mm) of everything printed (black or red)."""
        return self._box(ImageChops.lighter(self.black, self.red), region_mm)

    def black_box(self, region_mm=None):
        return self._box(self.black, region_mm)

    def red_box(self, region_mm=None):
        return self._box(self.red, region_mm)

    def rules(self, color: str = "black", min_mm: float = 100.0) -> list[tuple[float, float, float, float]]:
        """Horizontal rules at least `min_mm` long: (y_top, y_bottom, x0, x1) mm, one per rule."""
        mask = self.red if color == "red" else self.black
        w, h = mask.size
        rows = []
        for y in range(h):
            box = mask.crop((0, y, w, y + 1)).getbbox()
            if box and (box[2] - box[0]) / self.px_per_mm >= min_mm:
                # a rule is solid: nearly every pixel between its ends is inked
                row = mask.crop((box[0], y, box[2], y + 1))
                if row.histogram()[255] >= 0.95 * (box[2] - box[0]):
                    rows.append((y, box[0], box[2]))
        rules: list[list[int]] = []
        for y, x0, x1 in rows:
            if rules and y - rules[-1][1] <= 1:
                rules[-1][1] = y
            else:
                rules.append([y, y, x0, x1])
        return [(r[0] / self.px_per_mm, (r[1] + 1) / self.px_per_mm, r[2] / self.px_per_mm, r[3] / self.px_per_mm)
                for r in rules]


def rasterise(pdf: Path, out_dir: Path, dpi: int = 100) -> list[Page]:
    prefix = out_dir / pdf.stem
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(prefix)], check=True)
    pngs = sorted(out_dir.glob(f"{pdf.stem}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [Page(p, dpi) for p in pngs]
