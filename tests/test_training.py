import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dae.errors import DaeError
from dae.models import build_model
from dae.training import denoise, fit, pick_device, seed_everything

TRAIN = {
    "epochs": 8,
    "batch_size": 16,
    "lr": 3e-3,
    "weight_decay": 0.0,
    "optimizer": "adamw",
    "schedule": "constant",
    "loss": "mse",
    "seed": 0,
    "amp": True,
    "amp_cpu": False,
    "deterministic": True,
    "compile": False,
    "channels_last": False,
}
MODEL = {"arch": "conv", "channels": [8, 16], "hidden": [32], "latent": 16, "activation": "relu", "dropout": 0.0}


def tiny_pairs(n=96, seed=0):
    """Real 8x8 digits (bundled with scikit-learn) with clipped gaussian noise."""
    from sklearn.datasets import load_digits

    g = torch.Generator().manual_seed(seed)
    images = torch.from_numpy(load_digits().images).float()[:, None] / 16
    clean = images[torch.randperm(len(images), generator=g)[:n]]
    noisy = (clean + 0.3 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    return noisy, clean


def train_once(loss="mse", **train):
    seed_everything(0)
    model = build_model(MODEL, (1, 8, 8))
    return fit(model, tiny_pairs(), tiny_pairs(32, seed=1), {**TRAIN, "loss": loss, **train}, torch.device("cpu"))


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_loss_falls_on_a_tiny_set(loss):
    _, history = train_once(loss)
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]
    assert min(h["val_loss"] for h in history) < history[0]["val_loss"]


def test_best_val_epoch_is_kept():
    model, history = train_once()
    best = min(history, key=lambda h: h["val_loss"])
    from dae.training import evaluate_loss, loss_fn

    x, y = tiny_pairs(32, seed=1)
    got = evaluate_loss(model, x, y, loss_fn("mse"), 64, torch.device("cpu"))
    assert got == pytest.approx(best["val_loss"], rel=1e-6)


def test_two_runs_give_bit_identical_weights():
    a, _ = train_once()
    b, _ = train_once()
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_channels_last_on_the_cpu_is_deterministic_and_trains_the_same_model_to_float_rounding():
    a, history_a = train_once(channels_last=True)
    b, _ = train_once(channels_last=True)
    nchw, history = train_once()
    assert next(iter(a.parameters())).is_contiguous(memory_format=torch.channels_last)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    # Other kernels, other summation order: not the same bits, the same training.
    assert history_a[-1]["val_loss"] == pytest.approx(history[-1]["val_loss"], rel=0.02)


def test_denoise_matches_forward_and_keeps_order():
    model, _ = train_once()
    x, _ = tiny_pairs(10)
    # Batch size changes float summation order, so equal only to float32 rounding.
    torch.testing.assert_close(denoise(model, x, batch_size=3), model(x), rtol=1e-5, atol=1e-6)


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(DaeError, match="train.device = 'cuda' but this machine has no cuda"):
            pick_device("cuda")


def test_divergence_is_a_clear_error():
    seed_everything(0)
    model = build_model(MODEL, (1, 8, 8))
    with pytest.raises(DaeError, match="training diverged at epoch 1 .*lower train.lr"):
        fit(model, tiny_pairs(), tiny_pairs(32, seed=1), {**TRAIN, "lr": 1e30}, torch.device("cpu"))


@pytest.mark.slow
def test_compiled_training_matches_eager_closely():
    # torch.compile on the CPU (the GPU path's option): same data order, same maths, fused kernels.
    eager, eager_history = train_once()
    seed_everything(0)
    model = build_model(MODEL, (1, 8, 8))
    compiled, history = fit(
        model, tiny_pairs(), tiny_pairs(32, seed=1), {**TRAIN, "compile": True}, torch.device("cpu")
    )
    assert history[-1]["train_loss"] == pytest.approx(eager_history[-1]["train_loss"], rel=1e-3)


def test_fresh_noise_is_drawn_for_every_epoch_after_the_first():
    noisy, clean = tiny_pairs()
    asked = []

    def redraw(epoch: int) -> np.ndarray:  # dae.noise.sampler's contract: float32 arrays
        asked.append(epoch)
        g = torch.Generator().manual_seed(epoch)
        return (clean + 0.3 * torch.randn(clean.shape, generator=g)).clamp(0, 1).numpy()

    seed_everything(0)
    model = build_model(MODEL, (1, 8, 8))
    _, fresh = fit(model, (noisy, clean), tiny_pairs(32, seed=1), TRAIN, torch.device("cpu"), redraw=redraw)
    assert asked == list(range(1, TRAIN["epochs"]))
    _, fixed = train_once()
    assert fresh[0] == fixed[0]  # epoch 1 trains on the precomputed pairs either way
    assert fresh[1]["train_loss"] != fixed[1]["train_loss"]


def test_one_cycle_schedule_trains_and_changes_the_run():
    seed_everything(0)
    model = build_model(MODEL, (1, 8, 8))
    _, cycled = fit(model, tiny_pairs(), tiny_pairs(32, seed=1), {**TRAIN, "schedule": "onecycle"}, torch.device("cpu"))
    _, constant = train_once()
    assert cycled[-1]["train_loss"] < 0.7 * cycled[0]["train_loss"]
    # It starts at lr / 25, so the first epoch already differs from a constant lr.
    assert cycled[0]["train_loss"] != constant[0]["train_loss"]


def test_psnr_loss_is_the_negated_mean_psnr_of_the_evaluation():
    from dae.metrics import psnr
    from dae.training import loss_fn

    logits = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    _, clean = tiny_pairs(5)
    expected = -psnr(torch.sigmoid(logits), clean).mean()
    torch.testing.assert_close(loss_fn("psnr")(logits, clean), expected.float())


def test_training_on_the_psnr_loss_raises_val_psnr():
    _, history = train_once("psnr")
    # The loss is -PSNR in dB: a gain of several dB from the first epoch to the best.
    assert min(h["val_loss"] for h in history) < history[0]["val_loss"] - 1.0


def test_cpu_bf16_training_is_deterministic_and_as_good_as_fp32():
    a, bf16 = train_once(amp_cpu=True)
    b, _ = train_once(amp_cpu=True)
    fp32_model, fp32 = train_once()
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    # bf16 really ran: the weights are not fp32's...
    assert not torch.equal(a.state_dict()["encoder.net.0.weight"], fp32_model.state_dict()["encoder.net.0.weight"])
    # ...and it learns as well (best val MSE within 10 %).
    best = [min(h["val_loss"] for h in run) for run in (bf16, fp32)]
    assert best[0] == pytest.approx(best[1], rel=0.1)


def test_l2_adds_two_lambda_w_to_the_gradient_of_every_weight_and_nothing_to_biases():
    """`train.l2` is the notes' lambda * sum W^2 term: its gradient is 2 lambda W, on weights only."""
    import copy

    from dae.training import l2_penalty, prepare, progress_bar, train_epoch

    seed_everything(0)
    model = build_model(MODEL, (1, 8, 8))
    noisy, clean = tiny_pairs(16)
    grads = {}
    for lam in (0.0, 0.25):
        m = copy.deepcopy(model)
        # lr 0: the step leaves the weights as they were, so the gradients left behind are those of `model`.
        state = prepare(m, (noisy, clean), (noisy, clean), {**TRAIN, "l2": lam, "lr": 0.0}, torch.device("cpu"))
        train_epoch(m, state, progress_bar(1))
        grads[lam] = {name: p.grad.clone() for name, p in m.named_parameters()}
    for name, p in model.named_parameters():
        expected = 2 * 0.25 * p.detach() if p.dim() > 1 else torch.zeros_like(p)
        torch.testing.assert_close(grads[0.25][name] - grads[0.0][name], expected, rtol=1e-4, atol=1e-6)
    weights = sum(p.numel() for p in model.parameters() if p.dim() > 1)
    assert 0 < weights < sum(p.numel() for p in model.parameters())
    assert l2_penalty(model).item() == pytest.approx(
        sum(p.square().sum().item() for p in model.parameters() if p.dim() > 1)
    )


def test_bf16_on_a_cpu_without_it_is_said_in_one_warning(caplog):
    from dae.training import cpu_has_bf16

    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else None
    assert cpu_has_bf16() == (None if flags is None else ("avx512_bf16" in flags or "amx_bf16" in flags))
    with caplog.at_level(logging.WARNING, logger="dae.training"):
        train_once(amp_cpu=True, epochs=1)
    warned = [r for r in caplog.records if "no native bf16" in r.getMessage()]
    assert len(warned) == (1 if cpu_has_bf16() is False else 0)
    assert all(all(k in r.getMessage() for k in ("train.amp_cpu", "natural.train", "anomaly.train")) for r in warned)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dae.training"):
        train_once(epochs=1)  # fp32: nothing to say
    assert not [r for r in caplog.records if "no native bf16" in r.getMessage()]


def test_the_study_probe_and_natural_trainer_uses_train_threads():
    """Equal thread counts give bit-equal weights; fit_within_memory ignored train.threads until 2026-12-06. In a
    child process, since the count is global to the process."""
    code = """
import torch, yaml
from conftest import committed_text
from dae.params import validate
from pipeline._build import fit_within_memory
params = validate(yaml.safe_load(committed_text("params.yaml")))
pairs = (torch.rand(16, 1, 8, 8), torch.rand(16, 1, 8, 8))
fit_within_memory(params["model"], {**params["train"], "epochs": 1, "threads": 3}, pairs, pairs, torch.device("cpu"))
print(torch.get_num_threads())
"""
    tests = Path(__file__).resolve().parent
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tests.parent,
        env={**os.environ, "PYTHONPATH": f"{tests}{os.pathsep}{tests.parent}"},
    )
    assert proc.returncode == 0 and proc.stdout.split()[-1] == "3", proc.stderr


@pytest.mark.skipif(not os.environ.get("PYTEST_XDIST_WORKER"), reason="about the suite's xdist workers")
def test_an_xdist_worker_runs_its_own_torch_on_the_threads_its_stages_get():
    """conftest's OMP_NUM_THREADS came too late for a worker's own OpenMP runtime (2 threads beside it at 1): its
    in-process tests then spun 2 threads against CI's reproduction and the other worker, tens of times slower."""
    from threadpoolctl import threadpool_info

    threads = os.environ["OMP_NUM_THREADS"].split(",")[0]
    assert str(torch.get_num_threads()) == threads
    assert {(pool["filepath"], str(pool["num_threads"])) for pool in threadpool_info()} == {
        (pool["filepath"], threads) for pool in threadpool_info()
    }  # numpy's OpenBLAS and any other BLAS or OpenMP pool


BN_MODEL = {**MODEL, "channels": [8, 16, 32], "bottleneck": "spatial", "norm": "batch"}  # 8x8 -> a 1x1 map


def test_batch_norm_skips_a_last_step_of_one_image_which_it_cannot_train_on():
    """33 images at batch 16: two steps of 16 and a third of one, whose 1x1 map has one value per channel."""
    from dae.training import prepare

    model = build_model(BN_MODEL, (1, 8, 8))
    train = {**TRAIN, "epochs": 2, "schedule": "onecycle"}
    _, history = fit(model, tiny_pairs(33), tiny_pairs(16, seed=1), train, torch.device("cpu"))
    assert len(history) == 2 and all(np.isfinite(h["train_loss"]) for h in history)
    # The schedule is planned for the steps taken (2), not 3; without batch norm the step of one image stays.
    state = prepare(build_model(BN_MODEL, (1, 8, 8)), tiny_pairs(33), tiny_pairs(4, seed=1), train, torch.device("cpu"))
    assert state.steps == 2 and state.schedule.total_steps == 2 * train["epochs"]
    state = prepare(build_model(MODEL, (1, 8, 8)), tiny_pairs(33), tiny_pairs(4, seed=1), train, torch.device("cpu"))
    assert state.steps == 3
    with pytest.raises(ValueError, match="more than 1 value per channel"):  # what the dropped step would do
        build_model(BN_MODEL, (1, 8, 8)).train()(tiny_pairs(1)[0])


def test_too_few_images_for_a_step_is_one_line_naming_what_to_change():
    from dae.training import _check_steps

    bn = build_model(BN_MODEL, (1, 8, 8))
    with pytest.raises(DaeError, match=r"^training has 1 image; batch norm \(model.norm: batch\) needs at least 2"):
        fit(bn, tiny_pairs(1), tiny_pairs(4, seed=1), TRAIN, torch.device("cpu"))
    with pytest.raises(DaeError, match=r"^batch norm \(model.norm: batch\) needs train.batch_size of at least 2"):
        fit(bn, tiny_pairs(8), tiny_pairs(4, seed=1), {**TRAIN, "batch_size": 1}, torch.device("cpu"))
    with pytest.raises(DaeError, match=r"^training has 3 images, too few for 2 processes with batch norm, 2 each"):
        _check_steps(3, batch_size=16, world=2, need=2)
    with pytest.raises(DaeError, match=r"^training has 1 image, too few for 2 processes, one each; lower train.nproc"):
        _check_steps(1, batch_size=16, world=2, need=1)
    _check_steps(4, batch_size=2, world=2, need=2)  # enough


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal (pty)")
@pytest.mark.parametrize("columns", [100, 0], ids=["a terminal", "one that reports no size"])
def test_the_training_bar_draws_on_a_terminal(columns: int) -> None:
    from conftest import in_terminal

    script = (
        "import torch, test_training as t; from dae.models import build_model; from dae.training import fit; "
        "fit(build_model(t.MODEL, (1, 8, 8)), t.tiny_pairs(32), t.tiny_pairs(8, seed=1), {**t.TRAIN, 'epochs': 2}, "
        "torch.device('cpu'))"
    )
    path = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    shown = in_terminal([sys.executable, "-c", path + script], columns)
    assert "train: 100%|" in shown and "4/4" in shown, shown


def test_the_stages_without_logging_stop_at_the_end_of_the_epoch_in_which_params_yaml_changed(tmp_path, monkeypatch):
    """A second `dvc exp run` rewrites params.yaml while a study, natural or one-class stage trains: the first stops
    at the end of that epoch, not after all of its epochs."""
    from conftest import committed_text

    from dae.params import ParamError, load_params
    from pipeline._build import fit_within_memory

    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text(committed_text("params.yaml"))
    params = load_params()
    pairs = tiny_pairs(32)
    redrawn = []

    def redraw(epoch: int) -> np.ndarray:
        redrawn.append(epoch)
        if epoch == 2:  # during the third epoch
            Path("params.yaml").write_text(committed_text("params.yaml") + "# changed\n")
        return pairs[0].numpy()

    with pytest.raises(ParamError, match="params.yaml changed while this stage ran"):
        fit_within_memory(params["model"], {**params["train"], "epochs": 50}, pairs, pairs, torch.device("cpu"), redraw)
    assert redrawn == [1, 2]


def torchrun_failure(rank: int, exitcode: int) -> str:
    """One failure of torchrun 2.14's summary, as it prints it."""
    return (
        f"  time      : 2026-12-07_10:47:57\n  host      : localhost\n  rank      : {rank} (local_rank: {rank})\n"
        f"  exitcode  : {exitcode} (pid: {14265 + rank})\n  error_file: <N/A>\n"
        "  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html\n"
    )


# The summary when torchrun saw rank 1 fail first (its connection to rank 0 closed) although rank 0 had stopped on its
# own error line: the one race that tests/test_distributed.py's real runs do not produce on demand.
RACE = (
    "error: params: params.yaml changed while this stage ran (another `dvc exp run` in this workspace?); nothing "
    "was written\nRuntimeError: [gloo/transport/tcp/pair.cc:534] Connection closed by peer [127.0.0.1]:29500\n"
    "pipeline.train FAILED\nFailures:\n[1]:\n"
    + torchrun_failure(0, 2)
    + "Root Cause (first observed failure):\n[0]:\n"
    + torchrun_failure(1, 1)
)


def test_the_rank_that_stopped_on_its_own_error_is_named_even_when_torchrun_saw_another_first():
    from dae.distributed import _failure

    assert _failure(RACE, 1).startswith("rank 0: params: params.yaml changed while this stage ran")
    without_line = RACE.split("\n", 1)[1]  # no rank said why: torchrun's root cause, as before
    assert _failure(without_line, 1) == "rank 1 exited with code 1; no output was written, rerun the stage"
    both = RACE.replace(torchrun_failure(1, 1), torchrun_failure(1, 2))  # both stopped on a line: the root cause
    assert _failure(both, 1).startswith("rank 1: params:")
    # A worker's own output above the summary is not read as one of its entries.
    assert _failure(torchrun_failure(3, 2) + RACE, 1).startswith("rank 0: params:")
