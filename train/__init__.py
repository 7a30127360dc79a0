"""The `backpropamine` command line: train, evaluate, render, compare, bench (see train.cli)."""
