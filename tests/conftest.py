"""Suite-wide settings: one torch thread (the tests run small tensors, where a second thread only adds contention),
and SDL's dummy video driver, so that the envs' "human" render mode (which Gymnasium's checker exercises) opens
no window."""

import os

import torch

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
torch.set_num_threads(1)
