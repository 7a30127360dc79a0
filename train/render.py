"""`backpropamine render RUN`: an animated GIF of one episode, with the modulator's value over time beside it.

Each frame is the env's own `rgb_array` image (maze: walls, agent, hidden reward square, last reward; cue task:
cue, Go, answer, reward) on the left and, on the right, a plot of the neuromodulator M(t) up to the current step
(for cells without a modulator, the value estimate V(t)), with the step, the reward and the running total.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from PIL import Image, ImageDraw

from train.config import ConfigError
from train.evaluate import evaluation_seed
from train.trainer import load_policy

PANEL_WIDTH = 260
CAPTION_HEIGHT = 36


def _plot_panel(series: list[float], total_steps: int, height: int, label: str,
                lo: float, hi: float) -> Image.Image:
    """A PANEL_WIDTH x height white image with `series` drawn as a line over [0, total_steps] x [lo, hi]."""
    panel = Image.new("RGB", (PANEL_WIDTH, height), "white")
    draw = ImageDraw.Draw(panel)
    left, right, top, bottom = 34, PANEL_WIDTH - 8, 18, height - 16
    draw.rectangle([left, top, right, bottom], outline=(120, 120, 120))
    draw.text((4, 2), label, fill=(0, 0, 0))
    draw.text((4, top - 4), f"{hi:+.1f}", fill=(80, 80, 80))
    draw.text((4, bottom - 10), f"{lo:+.1f}", fill=(80, 80, 80))
    if lo < 0 < hi:
        y0 = bottom - (0 - lo) / (hi - lo) * (bottom - top)
        draw.line([left, y0, right, y0], fill=(200, 200, 200))
    points = [
        (left + t / max(total_steps - 1, 1) * (right - left), bottom - (v - lo) / (hi - lo) * (bottom - top))
        for t, v in enumerate(series)
    ]
    if len(points) > 1:
        draw.line(points, fill=(200, 40, 40), width=2)
    if points:
        x, y = points[-1]
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(200, 40, 40))
    return panel


def render_run(run_dir: str | Path, out_path: str | Path | None = None, *, seed: int = 0,
               env_id: str | None = None, fps: int = 8, deterministic: bool = False,
               trusted_modules: tuple[str, ...] = ()) -> Path:
    """Write a GIF of one episode of the run's trained agent; returns its path (default <run>/episode.gif)."""
    policy, config, checkpoint = load_policy(run_dir, trusted_modules=trusted_modules)
    env_id = env_id or config.env_id
    env_kwargs = config.env_kwargs_at(int(checkpoint["iteration"])) if env_id == config.env_id else {}
    try:
        env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    except gym.error.Error as err:
        raise ConfigError(f"cannot make environment {env_id!r} with rgb_array rendering: {err}") from None
    out_path = Path(out_path) if out_path else Path(run_dir) / "episode.gif"
    if fps <= 0:
        raise ConfigError(f"fps must be positive, got {fps}")
    generator = torch.Generator().manual_seed(seed)
    obs, _ = env.reset(seed=evaluation_seed(seed, 0))     # a held-out episode, as evaluate's first
    rollout = policy.start_rollout(1, generator=generator, deterministic=deterministic, max_steps=config.max_steps)
    label = "neuromodulator M(t)" if policy.cell.is_modulated else "value estimate V(t)"
    frames, series, total, step = [], [], 0.0, 0
    images, captions = [], []
    with torch.no_grad():
        while True:
            image = env.render()
            action = int(rollout.act(torch.as_tensor(obs, dtype=torch.float32)[None])[0])
            x = rollout.hidden
            series.append(policy.cell.modulation(x).item() if policy.cell.is_modulated else policy.heads(x)[1].item())
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            step += 1
            images.append(image)
            captions.append(f"step {step}  reward {float(reward):+.1f}  total {total:+.1f}")
            if terminated or truncated or step >= config.max_steps:
                break
    images.append(env.render())
    captions.append(f"end: {step} steps, total reward {total:+.1f}")
    env.close()

    lo, hi = (-1.0, 1.0) if policy.cell.is_modulated else (min(series) - 1e-3, max(series) + 1e-3)
    for k, (image, caption) in enumerate(zip(images, captions)):
        env_image = Image.fromarray(np.asarray(image, dtype=np.uint8))
        height = max(env_image.height, 160)
        panel = _plot_panel(series[: k + 1], len(series), height, label, lo, hi)
        frame = Image.new("RGB", (env_image.width + PANEL_WIDTH, height + CAPTION_HEIGHT), "white")
        frame.paste(env_image, (0, 0))
        frame.paste(panel, (env_image.width, 0))
        ImageDraw.Draw(frame).text((6, height + 10), caption, fill=(0, 0, 0))
        frames.append(frame)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out_path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    return out_path
