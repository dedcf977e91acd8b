"""Regenerate the sample benchmark: ``manifest.jsonl`` and ``images/*.png`` in this folder.

Every scene is drawn procedurally with Pillow from a fixed seed, so running this again gives
the same pixels (PNG bytes may differ only if zlib changes). Usage::

    python -m editbench.sample_data.generate [--out FOLDER]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

log = logging.getLogger(__name__)

SEED = 20240601
SIZE = 512
_SCALE = 2  # scenes are drawn at twice the size, then averaged down: cheap anti-aliasing
W = H = SIZE * _SCALE

Color = tuple[int, int, int]
Scene = Callable[[random.Random], Image.Image]


# -- drawing helpers (coordinates on the W x H canvas) --------------------------------------------


def _canvas(top: Color, bottom: Color, horizon: int, ground: Color) -> Image.Image:
    """A vertical gradient from ``top`` to ``bottom`` above ``horizon``, flat ``ground`` below."""
    image = Image.new("RGB", (W, H), ground)
    draw = ImageDraw.Draw(image)
    for y in range(horizon):
        t = y / max(horizon - 1, 1)
        color = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (W, y)], fill=color)
    return image


def _overlay(image: Image.Image, paint: Callable[[ImageDraw.ImageDraw], None]) -> Image.Image:
    """Composite translucent shapes (shadows, light, glass) that ``paint`` draws in RGBA."""
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    paint(ImageDraw.Draw(layer))
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def _person(
    draw: ImageDraw.ImageDraw,
    x: int,
    feet: int,
    height: int,
    shirt: Color,
    trousers: Color = (50, 55, 70),
    skin: Color = (224, 180, 140),
    hair: Color = (60, 40, 30),
) -> None:
    """A simple standing figure, ``height`` pixels tall, feet centred at (x, feet)."""
    head = height // 7
    top = feet - height
    half = height // 8
    draw.ellipse([x - head // 2, top, x + head // 2, top + head], fill=skin)
    draw.chord([x - head // 2, top - 2, x + head // 2, top + head // 2], 180, 360, fill=hair)
    body_top, hips = top + head + 4, top + int(height * 0.55)
    draw.rounded_rectangle([x - half, body_top, x + half, hips], radius=half // 2, fill=shirt)
    arm = max(height // 28, 4)
    draw.rectangle([x - half - arm, body_top + 6, x - half, hips - 10], fill=shirt)
    draw.rectangle([x + half, body_top + 6, x + half + arm, hips - 10], fill=shirt)
    leg = half * 2 // 3
    draw.rectangle([x - half + 2, hips, x - half + 2 + leg, feet], fill=trousers)
    draw.rectangle([x + half - 2 - leg, hips, x + half - 2, feet], fill=trousers)


def _table(draw: ImageDraw.ImageDraw, left: int, right: int, top: int, floor: int) -> None:
    """A wooden table seen from the front: top board at ``top``, legs down to ``floor``."""
    draw.rectangle([left, top, right, top + 24], fill=(130, 84, 50))
    draw.rectangle([left, top + 24, right, top + 32], fill=(100, 62, 36))
    for leg_x in (left + 20, right - 50):
        draw.rectangle([leg_x, top + 32, leg_x + 30, floor], fill=(110, 70, 40))


def _cup(draw: ImageDraw.ImageDraw, x: int, base: int, color: Color) -> None:
    """A mug with its handle on the right, standing centred on (x, base)."""
    draw.ellipse([x + 36, base - 100, x + 86, base - 40], outline=color, width=12)
    draw.rounded_rectangle([x - 50, base - 120, x + 50, base], radius=14, fill=color)
    draw.ellipse([x - 50, base - 132, x + 50, base - 108], fill=(90, 60, 40))


def _tree(draw: ImageDraw.ImageDraw, x: int, ground: int, size: int, leaves: Color | None) -> None:
    """A tree: a trunk with a round crown, or bare branches when ``leaves`` is None."""
    trunk = (95, 65, 40)
    draw.rectangle([x - size // 10, ground - size, x + size // 10, ground], fill=trunk)
    if leaves is None:
        for dx, dy in ((-1, -1), (1, -1), (-1, -0.6), (1, -0.5)):
            start = (x, ground - size * 0.7)
            end = (x + dx * size * 0.45, ground - size * 0.7 + dy * size * 0.5)
            draw.line([start, end], fill=trunk, width=max(size // 25, 4))
    else:
        draw.ellipse(
            [x - size // 2, ground - size * 1.6, x + size // 2, ground - size * 0.6], fill=leaves
        )


# -- scenes ---------------------------------------------------------------------------------------


def sunlit_table(rng: random.Random) -> Image.Image:
    """A room lit by a window on the left; a table with a vase casting its shadow to the right."""
    image = Image.new("RGB", (W, H), (226, 212, 186))
    draw = ImageDraw.Draw(image)
    floor = 640
    draw.rectangle([0, floor, W, H], fill=(160, 120, 82))
    for y in range(floor + 40, H, 70):
        draw.line([(0, y), (W, y)], fill=(140, 102, 68), width=3)
    draw.rectangle([60, 150, 300, 520], fill=(250, 250, 250))
    draw.rectangle([76, 166, 284, 504], fill=(170, 210, 240))
    draw.line([(180, 166), (180, 504)], fill=(250, 250, 250), width=12)
    _table(draw, 420, 940, 560, 860)

    def light_and_shadow(layer: ImageDraw.ImageDraw) -> None:
        layer.polygon([(76, 504), (284, 504), (560, 900), (180, 900)], fill=(255, 240, 190, 70))
        layer.ellipse([630, 556, 820, 574], fill=(0, 0, 0, 80))  # the vase's, away from the window

    image = _overlay(image, light_and_shadow)
    draw = ImageDraw.Draw(image)
    draw.ellipse([600, 400, 680, 570], fill=(40, 110, 150))
    draw.rectangle([620, 360, 660, 420], fill=(40, 110, 150))
    return image


def garden_pond(rng: random.Random) -> Image.Image:
    """A calm pond in a garden under a clear sky, reeds at its edge."""
    horizon = 420
    image = _canvas((120, 170, 235), (200, 225, 245), horizon, (96, 160, 70))
    draw = ImageDraw.Draw(image)
    for x in range(40, W, 160):
        _tree(draw, x + rng.randint(-30, 30), horizon + 20, rng.randint(140, 200), (50, 110, 50))
    draw.ellipse([170, 560, 870, 900], fill=(70, 120, 90))
    draw.ellipse([190, 575, 850, 885], fill=(80, 140, 185))
    draw.ellipse([320, 640, 560, 690], fill=(150, 195, 225))
    for _ in range(14):
        x = rng.randint(180, 300)
        draw.line(
            [(x, 760), (x + rng.randint(-20, 20), 760 - rng.randint(60, 130))],
            fill=(60, 100, 40),
            width=6,
        )
    return image


def snowy_house(rng: random.Random) -> Image.Image:
    """A house in deep snow under an overcast winter sky, snow falling."""
    horizon = 560
    image = _canvas((170, 175, 185), (215, 218, 224), horizon, (240, 243, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle([300, 360, 720, 640], fill=(170, 80, 60))
    draw.polygon([(260, 370), (510, 200), (760, 370)], fill=(250, 250, 252))
    draw.rectangle([470, 500, 550, 640], fill=(90, 55, 35))
    for wx in (350, 610):
        draw.rectangle([wx, 420, wx + 70, 490], fill=(250, 220, 140))
    draw.polygon([(470, 640), (550, 640), (640, H), (380, H)], fill=(215, 220, 230))
    _tree(draw, 860, 620, 260, None)
    for _ in range(160):
        x, y, r = rng.randint(0, W), rng.randint(0, H), rng.randint(3, 6)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255))
    return image


def night_street(rng: random.Random) -> Image.Image:
    """A street at night: lit windows, two street lamps throwing warm light on the pavement."""
    horizon = 600
    image = _canvas((10, 14, 40), (30, 40, 80), horizon, (45, 45, 52))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randint(0, W), rng.randint(0, 250)
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(230, 230, 200))
    draw.ellipse([820, 60, 900, 140], fill=(240, 240, 215))
    x = 0
    while x < W:
        width, height = rng.randint(160, 240), rng.randint(220, 420)
        draw.rectangle([x, horizon - height, x + width - 8, horizon], fill=(28, 30, 42))
        for wy in range(horizon - height + 30, horizon - 40, 70):
            for wx in range(x + 20, x + width - 50, 60):
                if rng.random() < 0.45:
                    draw.rectangle([wx, wy, wx + 30, wy + 40], fill=(240, 200, 110))
        x += width
    draw.rectangle([0, horizon, W, 700], fill=(80, 80, 86))
    for lamp_x in (260, 760):
        draw.rectangle([lamp_x - 7, 300, lamp_x + 7, 690], fill=(20, 20, 24))
        draw.rectangle([lamp_x - 30, 290, lamp_x + 30, 310], fill=(20, 20, 24))

    def lamp_light(layer: ImageDraw.ImageDraw) -> None:
        for lamp_x in (260, 760):
            layer.polygon(
                [(lamp_x - 24, 310), (lamp_x + 24, 310), (lamp_x + 150, 700), (lamp_x - 150, 700)],
                fill=(255, 210, 120, 45),
            )
            layer.ellipse([lamp_x - 170, 650, lamp_x + 170, 740], fill=(255, 210, 120, 60))

    return _overlay(image, lamp_light)


def bus_stop(rng: random.Random) -> Image.Image:
    """Three people queueing at a bus stop sign, beside a road, on a bright day."""
    horizon = 520
    image = _canvas((135, 185, 235), (205, 225, 245), horizon, (190, 190, 185))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 840, W, H], fill=(70, 70, 75))
    for x in range(0, W, 160):
        draw.rectangle([x, 925, x + 90, 937], fill=(240, 240, 240))
    draw.rectangle([0, 830, W, 842], fill=(150, 150, 150))
    draw.rectangle([140, 300, 152, 820], fill=(90, 90, 95))
    draw.rectangle([96, 240, 196, 320], fill=(20, 110, 60))
    draw.rounded_rectangle([112, 256, 180, 296], radius=6, fill=(250, 250, 250))
    draw.rectangle([120, 264, 172, 278], fill=(20, 110, 60))
    for wheel_x in (128, 164):
        draw.ellipse([wheel_x - 6, 290, wheel_x + 6, 302], fill=(30, 30, 30))
    shirts = [(200, 60, 60), (60, 90, 170), (230, 180, 50)]
    for i, shirt in enumerate(shirts):
        _person(draw, 260 + i * 130, 820, 300 + rng.randint(-20, 20), shirt)
    return image


def parking_street(rng: random.Random) -> Image.Image:
    """A street with a no-parking zone on the left and marked parking bays on the right."""
    horizon = 460
    image = _canvas((140, 185, 230), (210, 228, 245), horizon, (185, 180, 170))
    draw = ImageDraw.Draw(image)
    for x in range(0, W, 256):
        draw.rectangle(
            [x, 180, x + 248, horizon],
            fill=rng.choice([(200, 170, 140), (170, 150, 130), (215, 200, 180)]),
        )
        for wx in range(x + 30, x + 220, 70):
            draw.rectangle([wx, 230, wx + 40, 300], fill=(120, 150, 180))
    draw.rectangle([0, 600, W, H], fill=(75, 75, 80))
    draw.rectangle([0, 590, W, 604], fill=(160, 160, 160))
    for x in range(20, 440, 60):
        draw.line([(x, 620), (x + 30, 650), (x + 60, 620)], fill=(240, 200, 40), width=6)
    for x in (480, 660, 840, 1020):
        draw.line([(x, 612), (x, 780)], fill=(240, 240, 240), width=6)
    draw.rounded_rectangle([860, 640, 1000, 760], radius=20, fill=(200, 40, 40))
    draw.rectangle([880, 610, 980, 660], fill=(170, 30, 30))
    for wheel_x in (890, 970):
        draw.ellipse([wheel_x - 20, 740, wheel_x + 20, 780], fill=(25, 25, 25))
    draw.rectangle([222, 380, 234, 590], fill=(90, 90, 95))
    draw.ellipse([168, 290, 288, 410], fill=(210, 30, 30))
    draw.ellipse([184, 306, 272, 394], fill=(30, 80, 170))
    draw.line([(192, 314), (264, 386)], fill=(210, 30, 30), width=14)
    return image


def glass_on_table(rng: random.Random) -> Image.Image:
    """A kitchen: a full glass of water stands at the very edge of a table over a tiled floor."""
    image = Image.new("RGB", (W, H), (200, 215, 205))
    draw = ImageDraw.Draw(image)
    floor = 620
    draw.rectangle([0, floor, W, H], fill=(225, 225, 220))
    for y in range(floor, H, 80):
        draw.line([(0, y), (W, y)], fill=(180, 180, 175), width=3)
    for x in range(0, W, 120):
        draw.line([(x, floor), (x + (x - W // 2) // 3, H)], fill=(180, 180, 175), width=3)
    _table(draw, 80, 560, 520, 860)
    draw.rectangle([140, 440, 260, 520], fill=(230, 120, 60))

    def glass(layer: ImageDraw.ImageDraw) -> None:
        layer.polygon([(494, 360), (556, 360), (550, 520), (500, 520)], fill=(220, 235, 245, 120))
        layer.polygon([(496, 400), (554, 400), (550, 518), (500, 518)], fill=(90, 150, 210, 140))
        layer.line(
            [(494, 360), (500, 520), (550, 520), (556, 360)], fill=(250, 250, 255, 220), width=4
        )

    return _overlay(image, glass)


def snowman(rng: random.Random) -> Image.Image:
    """A snowman with a hat and a carrot nose on a sunny, snowy day."""
    horizon = 560
    image = _canvas((70, 140, 230), (170, 210, 245), horizon, (245, 247, 250))
    draw = ImageDraw.Draw(image)
    draw.ellipse([80, 70, 220, 210], fill=(255, 235, 120))
    for x in range(0, W, 200):
        _tree(
            draw, x + 60 + rng.randint(-20, 20), horizon + 10, rng.randint(110, 160), (40, 90, 60)
        )
    draw.ellipse([360, 820, 720, 880], fill=(215, 222, 235))
    draw.ellipse([380, 600, 660, 860], fill=(255, 255, 255), outline=(210, 215, 225), width=4)
    draw.ellipse([420, 440, 620, 630], fill=(255, 255, 255), outline=(210, 215, 225), width=4)
    draw.ellipse([450, 310, 590, 450], fill=(255, 255, 255), outline=(210, 215, 225), width=4)
    draw.rectangle([470, 220, 570, 320], fill=(30, 30, 35))
    draw.rectangle([440, 310, 600, 326], fill=(30, 30, 35))
    for eye_x in (495, 545):
        draw.ellipse([eye_x - 8, 360, eye_x + 8, 376], fill=(20, 20, 20))
    draw.polygon([(518, 385), (526, 400), (590, 398)], fill=(240, 130, 30))
    for y in (480, 530, 580):
        draw.ellipse([512, y - 9, 530, y + 9], fill=(20, 20, 20))
    draw.line([(430, 520), (320, 450)], fill=(100, 65, 35), width=8)
    draw.line([(610, 520), (720, 460)], fill=(100, 65, 35), width=8)
    return image


def three_cups(rng: random.Random) -> Image.Image:
    """Three identical white mugs in a row on a table, a plate beside them."""
    image = Image.new("RGB", (W, H), (215, 225, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 700, W, H], fill=(150, 150, 160))
    _table(draw, 60, 964, 600, 900)
    for x in (260, 450, 640):
        _cup(draw, x, 600, (245, 245, 240))
    draw.ellipse([760, 570, 930, 610], fill=(235, 235, 230), outline=(200, 200, 195), width=4)

    def shadows(layer: ImageDraw.ImageDraw) -> None:
        for x in (260, 450, 640):
            layer.ellipse([x - 40, 592, x + 80, 608], fill=(0, 0, 0, 60))

    return _overlay(image, shadows)


def umbrella_park(rng: random.Random) -> Image.Image:
    """Three people on a park path under a grey sky; only one of them holds an umbrella."""
    horizon = 480
    image = _canvas((150, 155, 165), (200, 203, 210), horizon, (110, 150, 90))
    draw = ImageDraw.Draw(image)
    for x in range(0, W, 180):
        _tree(draw, x + rng.randint(0, 60), horizon + 10, rng.randint(130, 190), (70, 120, 70))
    draw.polygon([(380, horizon), (640, horizon), (1000, H), (20, H)], fill=(190, 180, 160))
    people = [(300, (200, 60, 60)), (520, (60, 90, 170)), (740, (230, 180, 50))]
    for x, shirt in people:
        _person(draw, x, 900, 340, shirt)
    holder = people[0][0]
    draw.line([(holder + 50, 730), (holder + 50, 520)], fill=(40, 40, 40), width=6)
    draw.pieslice([holder - 90, 440, holder + 190, 600], 180, 360, fill=(40, 60, 120))
    return image


# -- the benchmark --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSpec:
    """One sample of the benchmark: the manifest fields and the scene drawn for its image."""

    id: str
    category: str
    instruction: str
    scene: Scene
    extra: dict[str, Any] = field(default_factory=dict)


SAMPLES = (
    SampleSpec(
        "physical-chrome-ball",
        "physical",
        "Place a shiny chrome ball on the table next to the vase.",
        sunlit_table,
        {"tags": ["indoor", "lighting", "reflection"]},
    ),
    SampleSpec(
        "physical-pond-log", "physical", "Put a large wooden log into the pond.", garden_pond
    ),
    SampleSpec(
        "environment-snowy-house",
        "environment",
        "Add a person walking along the path to the front door.",
        snowy_house,
        {"tags": ["outdoor", "winter"]},
    ),
    SampleSpec(
        "environment-night-street",
        "environment",
        "Add a dog sitting under the left street lamp.",
        night_street,
    ),
    SampleSpec(
        "social-bus-stop",
        "social",
        "Add one more person waiting for the bus.",
        bus_stop,
        {"tags": ["people", "queue"]},
    ),
    SampleSpec("social-parking", "social", "Park a blue car on this street.", parking_street),
    SampleSpec(
        "causal-glass-falls",
        "causal",
        "The glass falls off the table.",
        glass_on_table,
        {"tags": ["indoor", "liquid"]},
    ),
    SampleSpec(
        "causal-snowman-sun",
        "causal",
        "The weather turns warm and the sun shines on the snowman all afternoon.",
        snowman,
    ),
    SampleSpec(
        "referential-second-cup",
        "referential",
        "Make the second cup from the left red.",
        three_cups,
        {"tags": ["indoor", "counting"]},
    ),
    SampleSpec(
        "referential-umbrella",
        "referential",
        "Change the shirt of the person holding the umbrella to green.",
        umbrella_park,
    ),
)


def generate(out: Path) -> None:
    """Draw every scene and write ``out/images/<id>.png`` and ``out/manifest.jsonl``."""
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    lines = []
    for spec in SAMPLES:
        # One generator per sample, seeded from its id, so editing one scene leaves the others.
        rng = random.Random(f"{SEED}:{spec.id}")
        image = spec.scene(rng).reduce(_SCALE)
        relative = f"images/{spec.id}.png"
        image.save(out / relative, format="PNG", optimize=True)
        record = {"id": spec.id, "category": spec.category, "instruction": spec.instruction}
        lines.append(json.dumps({**record, "image": relative, **spec.extra}, ensure_ascii=False))
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log.info("Wrote %d samples to %s", len(SAMPLES), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="output folder")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
