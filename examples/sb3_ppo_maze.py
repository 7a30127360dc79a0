"""PPO (SB3, MLP policy) on BackpropamineMaze-v0 through the native adapter: train, save, load, predict.

    .venv/bin/python examples/sb3_ppo_maze.py --timesteps 50000

An MLP has no memory, so it cannot remember where the reward square is; it learns only what the current
observation allows (avoid walls, keep moving). The recurrent baselines are examples/sb3_recurrent_ppo.py
and our plastic agents (`backpropamine train`).
"""

import argparse
from pathlib import Path

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy

from plastic_envs.sb3 import make_sb3_vec_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/sb3_ppo_maze"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # small MLPs: one thread is fastest

    env = make_sb3_vec_env("BackpropamineMaze-v0", n_envs=args.n_envs, seed=args.seed)
    model = PPO("MlpPolicy", env, n_steps=128, batch_size=256, seed=args.seed, device="cpu", verbose=1)
    model.learn(args.timesteps)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model")

    loaded = PPO.load(args.out / "model", device="cpu")
    eval_env = make_sb3_vec_env("BackpropamineMaze-v0", n_envs=4, seed=args.seed + 10_000)
    mean, std = evaluate_policy(loaded, eval_env, n_eval_episodes=8)
    obs = eval_env.reset()
    actions, _ = loaded.predict(obs, deterministic=True)
    print(f"saved {args.out / 'model.zip'}; reward per episode {mean:.1f} +- {std:.1f} "
          f"(uniform random about 7.8); actions for 4 fresh episodes: {actions.tolist()}")


if __name__ == "__main__":
    main()
