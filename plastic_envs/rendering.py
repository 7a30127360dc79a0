"""Drawing helpers shared by the tasks' renderers: Pillow pictures for ``rgb_array`` (no display needed),
and a pygame window that shows them for ``human`` (pygame is the optional extra ``backpropamine[human]``)."""

from __future__ import annotations

import numpy as np
from gymnasium.error import DependencyNotInstalled
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


def import_pygame():
    """The pygame module, or DependencyNotInstalled naming the extra that provides it."""
    try:
        import pygame
    except ImportError as exc:
        raise DependencyNotInstalled(
            'render_mode="human" needs pygame, which is not installed: pip install "backpropamine[human]"'
        ) from exc
    return pygame


class HumanWindow:
    """A pygame window showing ``rgb_array`` frames at most ``fps`` a second, as Gymnasium's classic-control
    envs do in ``human`` mode. Checks for pygame when made; opens the window at the first frame."""

    def __init__(self, title: str):
        import_pygame()
        self.title = title
        self._screen = None
        self._clock = None

    def show(self, frame: np.ndarray, fps: int) -> None:
        """Draw ``frame`` (uint8 (H, W, 3)), then wait so that frames come at most ``fps`` a second."""
        pygame = import_pygame()
        size = (frame.shape[1], frame.shape[0])
        if self._screen is None or self._screen.get_size() != size:
            pygame.display.init()
            pygame.display.set_caption(self.title)
            self._screen = pygame.display.set_mode(size)
            self._clock = pygame.time.Clock()
        self._screen.blit(pygame.surfarray.make_surface(frame.swapaxes(0, 1)), (0, 0))
        pygame.event.pump()
        self._clock.tick(fps)
        pygame.display.flip()

    def close(self) -> None:
        """Close the window (safe to call twice, and before any frame)."""
        if self._screen is not None:
            pygame = import_pygame()
            pygame.display.quit()
            pygame.quit()
            self._screen = None
            self._clock = None
