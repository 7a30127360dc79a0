"""sb3-contrib RecurrentPPO (the LSTM baseline) on a Backpropamine task through the native adapter: train,
save, load, and predict with the LSTM state carried across steps.

    .venv/bin/python examples/sb3_recurrent_ppo.py --timesteps 100000 --env-id BackpropamineMaze-v0

Needs sb3-contrib, the optional extra: pip install -e ".[contrib]" (or pip install "backpropamine[contrib]").
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.evaluation import evaluate_policy

from plastic_envs.sb3 import make_sb3_vec_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timesteps", type=int, default=100_000)
    parser.add_argument("--env-id", default="BackpropamineMaze-v0")
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=64, help="LSTM hidden size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/sb3_recurrent_ppo"))
    args = parser.parse_args()
    try:
        from sb3_contrib import RecurrentPPO
    except ImportError:
        sys.exit("RecurrentPPO needs sb3-contrib, the optional extra of this package: "
                 "pip install -e \".[contrib]\" (or pip install \"backpropamine[contrib]\")")
    torch.set_num_threads(1)  # small networks: one thread is fastest

    env = make_sb3_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed)
    model = RecurrentPPO("MlpLstmPolicy", env, n_steps=128, batch_size=256, seed=args.seed, device="cpu",
                         policy_kwargs={"lstm_hidden_size": args.hidden}, verbose=1)
    model.learn(args.timesteps)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model")

    loaded = RecurrentPPO.load(args.out / "model", device="cpu")
    eval_env = make_sb3_vec_env(args.env_id, n_envs=4, seed=args.seed + 10_000)
    mean, std = evaluate_policy(loaded, eval_env, n_eval_episodes=8)  # handles the LSTM state itself

    # By hand: pass the state back each step and flag the steps that start an episode.
    obs = eval_env.reset()
    state, starts = None, np.ones(eval_env.num_envs, dtype=bool)
    total = np.zeros(eval_env.num_envs)
    for _ in range(50):
        actions, state = loaded.predict(obs, state=state, episode_start=starts, deterministic=True)
        obs, rewards, starts, _ = eval_env.step(actions)
        total += rewards
    print(f"saved {args.out / 'model.zip'}; evaluate_policy: {mean:.2f} +- {std:.2f} per episode; "
          f"reward over the first 50 steps of 4 episodes by hand: {total.tolist()}")


if __name__ == "__main__":
    main()
