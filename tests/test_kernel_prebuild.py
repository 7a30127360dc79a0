"""The kernel is built before training starts, with one line on stderr exactly when it compiles."""
import os

import pytest
import torch.utils.cpp_extension as cpp

import plastic_agents.cells.native as native
from plastic_agents import make_cell


@pytest.fixture
def fake_build(monkeypatch, tmp_path):
    """load_kernels in a fresh state, with cpp_extension's load replaced by a stub that records its calls and
    writes the module file, and the build directory moved to tmp_path."""
    monkeypatch.setenv("BACKPROPAMINE_NATIVE", "1")
    monkeypatch.setattr(native, "_STATE", {"module": None, "tried": False})
    monkeypatch.setattr(native, "_build_directory", lambda name: str(tmp_path))
    calls = []
    module = object()

    def load(name, sources, **kwargs):
        calls.append(name)
        (tmp_path / f"{name}.so").write_bytes(b"")
        (tmp_path / "build.ninja").write_text(f"build plastic_kernels.o: compile {sources[0]}\n")
        return module

    monkeypatch.setattr(cpp, "load", load)
    return tmp_path, calls, module


def _so(build_dir, source=native._SOURCE):
    """The module file of a finished build of `source`."""
    name, _ = native._cpu_flags()
    (build_dir / "build.ninja").write_text(f"build plastic_kernels.o: compile {source}\n")
    return build_dir / f"{name}.so"


def test_message_when_the_module_is_missing(fake_build, capsys):
    build_dir, calls, module = fake_build
    assert native.load_kernels() is module
    err = capsys.readouterr().err
    assert len(calls) == 1
    assert err.count("\n") == 1 and "compiling" in err and "once per machine" in err and str(build_dir) in err


def test_no_message_when_an_up_to_date_module_is_there(fake_build, capsys):
    build_dir, calls, module = fake_build
    _so(build_dir).write_bytes(b"")
    assert native.load_kernels() is module
    assert len(calls) == 1  # cpp_extension still loads (and checks) it
    assert capsys.readouterr().err == ""


def test_message_when_the_module_was_built_from_another_checkout(fake_build, capsys):
    build_dir, _, _ = fake_build
    _so(build_dir, source="/elsewhere/plastic_kernels.cpp").write_bytes(b"")
    native.load_kernels()
    assert "compiling" in capsys.readouterr().err


def test_message_when_the_module_is_older_than_the_source(fake_build, capsys):
    build_dir, _, _ = fake_build
    so = _so(build_dir)
    so.write_bytes(b"")
    source_time = os.path.getmtime(native._SOURCE)
    os.utime(so, (source_time - 60, source_time - 60))
    native.load_kernels()
    assert "compiling" in capsys.readouterr().err


def test_only_once_per_process(fake_build, capsys):
    _, calls, _ = fake_build
    native.load_kernels()
    native.load_kernels()
    assert len(calls) == 1
    assert capsys.readouterr().err.count("compiling") == 1


def test_disabled_kernel_prints_nothing(fake_build, monkeypatch, capsys):
    _, calls, _ = fake_build
    monkeypatch.setenv("BACKPROPAMINE_NATIVE", "0")
    assert native.load_kernels() is None
    assert calls == [] and capsys.readouterr().err == ""


@pytest.mark.parametrize("kind, implementation, loads", [
    ("modplast", "fast", True), ("modul", "fast", True), ("plastic", "fast", True),
    ("modplast", "reference", False), ("rnn", "fast", False), ("lstm", "fast", False),
    ("modplast_lstm", "fast", False),
])
def test_prepare_kernels_loads_only_for_kernel_cells(fake_build, kind, implementation, loads):
    _, calls, _ = fake_build
    native.prepare_kernels(make_cell(kind, 4, 8, implementation=implementation))
    assert len(calls) == (1 if loads else 0)


def test_trainer_builds_the_kernel_before_the_progress_bar(monkeypatch, tmp_path):
    import tqdm.auto

    from train.config import TrainConfig
    from train.trainer import Trainer

    order = []
    monkeypatch.setattr(native, "load_kernels", lambda: order.append("kernel"))  # the loop keeps the real one

    class Bar:
        def __init__(self, *args, **kwargs):
            order.append("bar")

        def update(self, n):
            pass

        def set_postfix(self, **kwargs):
            pass

        def close(self):
            pass

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    config = TrainConfig(env_id="BackpropamineMaze-v0", cell="modplast", hidden_size=8, batch_size=2,
                         iterations=1, log_every=1, tensorboard=False)
    Trainer(config, tmp_path / "run", progress=True).run()
    assert order[:2] == ["kernel", "bar"]
