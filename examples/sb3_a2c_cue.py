"""A2C (SB3, MLP policy) on BackpropamineCueReward-v0 through the native adapter: train, save, load, predict.

    .venv/bin/python examples/sb3_a2c_cue.py --timesteps 50000

Which cue is the target changes every episode, so a memoryless MLP cannot do better than chance (0 per
episode); this is the feed-forward baseline of the cue task.
"""

import argparse
from pathlib import Path

import torch
from stable_baselines3 import A2C
from stable_baselines3.common.evaluation import evaluate_policy

from plastic_envs.sb3 import make_sb3_vec_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/sb3_a2c_cue"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # small MLPs: one thread is fastest

    env = make_sb3_vec_env("BackpropamineCueReward-v0", n_envs=args.n_envs, seed=args.seed)
    model = A2C("MlpPolicy", env, n_steps=10, seed=args.seed, device="cpu", verbose=1)
    model.learn(args.timesteps)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model")

    loaded = A2C.load(args.out / "model", device="cpu")
    eval_env = make_sb3_vec_env("BackpropamineCueReward-v0", n_envs=4, seed=args.seed + 10_000)
    mean, std = evaluate_policy(loaded, eval_env, n_eval_episodes=8)
    obs = eval_env.reset()
    actions, _ = loaded.predict(obs, deterministic=True)
    print(f"saved {args.out / 'model.zip'}; reward per episode {mean:.2f} +- {std:.2f} "
          f"(chance 0, ideal observer 16.2); answers on 4 fresh episodes: {actions.tolist()}")


if __name__ == "__main__":
    main()
