"""Drawing helpers shared by the tasks' ``rgb_array`` renderers (Pillow, no display needed)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Color = tuple[int, int, int]

BACKGROUND: Color = (255, 255, 255)
WALL: Color = (60, 60, 70)
FLOOR: Color = (235, 235, 228)
AGENT: Color = (40, 90, 220)
GOAL: Color = (60, 180, 75)
BAD: Color = (220, 60, 50)
NEUTRAL: Color = (150, 150, 150)
TEXT: Color = (20, 20, 20)

_FONT = ImageFont.load_default()


class Canvas:
    """An RGB drawing surface of ``height`` x ``width`` pixels with rectangle, disc and text helpers."""

    def __init__(self, width: int, height: int, background: Color = BACKGROUND):
        self.image = Image.new("RGB", (width, height), background)
        self.draw = ImageDraw.Draw(self.image)

    def rect(self, x0: int, y0: int, x1: int, y1: int, fill: Color, outline: Color | None = None) -> None:
        """Filled rectangle covering pixels x0..x1-1, y0..y1-1."""
        self.draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill, outline=outline)

    def disc(self, x0: int, y0: int, x1: int, y1: int, fill: Color) -> None:
        """Filled ellipse inscribed in the box x0..x1-1, y0..y1-1."""
        self.draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=fill)

    def text(self, x: int, y: int, text: str, fill: Color = TEXT) -> None:
        """Text with its top-left corner at (x, y), in Pillow's built-in bitmap font."""
        self.draw.text((x, y), text, fill=fill, font=_FONT)

    def to_array(self) -> np.ndarray:
        """The picture as a fresh uint8 array of shape (height, width, 3)."""
        return np.asarray(self.image, dtype=np.uint8).copy()


def reward_color(reward: float) -> Color:
    """Green for a positive reward, red for a negative one, grey for zero."""
    if reward > 0:
        return GOAL
    if reward < 0:
        return BAD
    return NEUTRAL
