"""The benchmark's entry points run and reject bad arguments (no timing is asserted)."""
import pytest

from plastic_agents.bench import main, measure, run_benchmark


def test_measure_small():
    r = measure("modul", "fast", batch=2, hidden=4, steps=3, inputs=3, repeats=1)
    assert r["time_s"] > 0 and r["peak_mem_bytes"] >= 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown cell kind"):
        run_benchmark(kinds=("gru",))
    with pytest.raises(ValueError, match="unknown size"):
        run_benchmark(kinds=("rnn",), sizes=("huge",))
    with pytest.raises(SystemExit):
        main(["--kinds", "gru"])
