"""Supervised control: can a network learn the cue task's answer when told it at every Go step?

Default network: torch.nn.LSTM(hidden 128) and a linear head. Data: 20,000 episodes of the task acted at random
(the answer does not depend on the actions, the observations do). Training: cross-entropy on the right answer at
the Go steps, Adam lr 1e-3, 3,000 updates of 64 episodes drawn from the data, gradient-norm clip 2. `--outcome`
turns on the env's outcome_input (one more input: the previous reward signed by the previous action, +1 when the
target was in the last pair), which removes the action x reward product from what the network has to compute.
`--fixed-target` is the control where cue 0 is always the target, so the answer is a first-order function of the
trial's cues. Prints the training accuracy at the Go steps, averaged over the last 100 updates. `--cell KIND`
trains one of the package's cells (`ActorCritic`'s policy head, N = `--hidden`, the initialisation scaled by
`--init-scale`) instead of the LSTM.

    python docs/results/cue-diagnostics/supervised.py [--env ENV_ID] [--outcome] [--fixed-target]
        [--cell KIND --hidden N --init-scale S]
"""
import argparse
import time

import gymnasium as gym
import numpy as np
import torch

import plastic_envs  # noqa: F401  (registers the ids)

parser = argparse.ArgumentParser()
parser.add_argument("--env", default="BackpropamineCueReward-Easy-v0")
parser.add_argument("--outcome", action="store_true")
parser.add_argument("--fixed-target", action="store_true", help="control: cue 0 is the target in every episode")
parser.add_argument("--episodes", type=int, default=20_000)
parser.add_argument("--updates", type=int, default=3_000)
parser.add_argument("--cell", default="torch-lstm")
parser.add_argument("--hidden", type=int, default=128)
parser.add_argument("--init-scale", type=float, default=None)
args = parser.parse_args()
torch.manual_seed(0)
rng = np.random.default_rng(0)
chunk = 1000
obs_chunks, go_chunks, label_chunks = [], [], []
for c in range(args.episodes // chunk):
    env = gym.make_vec(args.env, num_envs=chunk, vectorization_mode="vector_entry_point",
                       outcome_input=args.outcome)
    core = env.unwrapped.core
    obs, _ = env.reset(seed=c * chunk, options={"target_cue": 0} if args.fixed_target else None)
    steps = []
    for t in range(120):
        steps.append((obs.copy(), core.k == core.length - 2,
                      (core.cue1 == core.target) | (core.cue2 == core.target)))
        obs, *_ = env.step(rng.integers(0, 2, chunk))
    for out, i in ((obs_chunks, 0), (go_chunks, 1), (label_chunks, 2)):
        out.append(np.stack([s[i] for s in steps]))
obs = torch.as_tensor(np.concatenate(obs_chunks, 1))  # (T, episodes, obs size)
go = torch.as_tensor(np.concatenate(go_chunks, 1))  # (T, episodes) bool, the Go steps
label = torch.as_tensor(np.concatenate(label_chunks, 1)).long()  # (T, episodes) 1 = target in the pair
if args.cell == "torch-lstm":
    lstm, head = torch.nn.LSTM(obs.shape[2], args.hidden), torch.nn.Linear(args.hidden, 2)
    params = list(lstm.parameters()) + list(head.parameters())

    def answer_logits(batch):
        return head(lstm(batch)[0])
else:
    from plastic_agents import ActorCritic
    options = {} if args.init_scale is None else {"init_scale": args.init_scale}
    policy = ActorCritic(obs.shape[2], 2, args.cell, args.hidden, **options)
    params = list(policy.parameters())

    def answer_logits(batch):
        return policy.forward_sequence(batch, policy.initial_state(batch.shape[1]))[0]
opt = torch.optim.Adam(params, lr=1e-3)
start, accuracy = time.time(), []
for update in range(args.updates):
    idx = torch.randint(0, obs.shape[1], (64,))
    logits = answer_logits(obs[:, idx])[go[:, idx]]
    target = label[:, idx][go[:, idx]]
    loss = torch.nn.functional.cross_entropy(logits, target)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 2.0)
    opt.step()
    accuracy.append((logits.argmax(-1) == target).float().mean().item())
    if (update + 1) % 500 == 0:
        print(f"update {update + 1}: accuracy {np.mean(accuracy[-100:]):.3f}, loss {loss.item():.3f}, "
              f"{time.time() - start:.0f} s", flush=True)
