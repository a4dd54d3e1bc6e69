"""Device choice, seeding and the training loop (batches sliced from in-memory tensors, one sync per epoch)."""

from __future__ import annotations

import copy
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from dae import distributed, progress
from dae.errors import DaeError
from dae.models import DenoisingAutoencoder

log = logging.getLogger(__name__)
BATCH_NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)
EpochHook = Callable[[int, float, float, DenoisingAutoencoder], None]


def pick_device(name: str = "auto", key: str = "train.device") -> torch.device:
    """`auto`: CUDA, then Apple MPS, then CPU. An explicit device that is not there is an error naming `key`, the
    param that asked for it."""
    has = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if name == "auto":
        name = next(d for d in ("cuda", "mps", "cpu") if has[d])
    elif not has[name]:
        raise DaeError(f"params: {key} = {name!r} but this machine has no {name}; use auto or cpu")
    device = torch.device(name)
    label = torch.cuda.get_device_name(device) if name == "cuda" else name
    log.info("training on %s", label)
    return device


def compiled_forward(model: DenoisingAutoencoder, deterministic: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """`model.logits` through torch.compile, with the determinism seed_everything set passed on to its compiler."""
    torch.use_deterministic_algorithms(deterministic)
    return torch.compile(model.logits)


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; with `deterministic`, refuse nondeterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic; it must be set before CUDA starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # torch.use_deterministic_algorithms would also import torch._inductor (1.4 s in every training stage) just to
    # hand the flag to torch.compile; compiled_forward() does that where train.compile asks for it.
    torch._C._set_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic


def loss_fn(name: str, output: str = "sigmoid") -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss of the decoder's logits and the clean target: `mse` after the sigmoid (the model's output), `bce`
    on the logits directly (numerically safe under autocast), `psnr`: the negated mean per-image PSNR in dB.

    `psnr` optimises the metric the evaluation reports. MSE lets the noisiest images dominate the gradient; the
    log weighs a 1 dB gain on a clean-ish image as much as one on a noisy image (the blind models mix both).
    """
    # model.output: the sigmoid, or none (`linear`: the loss sees the raw output, clamped only when the model is used).
    act = torch.sigmoid if output == "sigmoid" else (lambda t: t)
    if name == "bce":
        if output != "sigmoid":
            raise DaeError("params: train.loss = 'bce' needs model.output = 'sigmoid' (BCE takes probabilities)")
        return lambda logits, y: F.binary_cross_entropy_with_logits(logits.float(), y)
    if name == "psnr":
        # dae.metrics.psnr's formula in float32 (it computes in float64, too slow for every step); its 1e-10 floor
        # is the evaluation's 100 dB cap.
        return lambda logits, y: (
            10 * torch.log10((act(logits.float()) - y).square().flatten(1).mean(1).clamp_min(1e-10)).mean()
        )
    return lambda logits, y: F.mse_loss(act(logits.float()), y)


def l2_penalty(model: torch.nn.Module) -> torch.Tensor:
    """sum W^2 over the weight matrices and kernels (biases and normalisation scales are left out): the L2 term
    that `train.l2` (lambda) adds to the loss. Its gradient is 2 lambda W; AdamW's `weight_decay` instead shrinks
    the weights outside the gradient, so Adam's per-weight scaling never sees it."""
    return sum(p.square().sum() for p in model.parameters() if p.dim() > 1)


def make_optimizer(model: torch.nn.Module, train: dict[str, Any]) -> torch.optim.Optimizer:
    cls = torch.optim.AdamW if train["optimizer"] == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=train["lr"], weight_decay=train["weight_decay"])


def make_schedule(
    optimizer: torch.optim.Optimizer, train: dict[str, Any], steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """`train.schedule: onecycle`: OneCycleLR over every step of the run (`steps` per epoch); else a constant lr."""
    if train["schedule"] != "onecycle":
        return None
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=train["lr"], total_steps=train["epochs"] * steps)


def cpu_has_bf16() -> bool | None:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), from Linux's CPU flags; None where unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return None
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))


def _warn_slow_bf16(amp: bool, device: torch.device) -> None:
    # Without native bf16, oneDNN emulates it: a U-Net step took 6 s in bf16 against 0.3 s in fp32 on an AMD EPYC
    # (AVX2 only). The run is still done as asked, so results stay those of the params.
    if amp and device.type == "cpu" and cpu_has_bf16() is False:
        log.warning(
            "amp_cpu is true but this CPU has no native bf16 (no avx512_bf16 or amx_bf16 flag): training runs many "
            "times slower than in fp32; set it to false here (train.amp_cpu, or its override in natural.train or "
            "anomaly.train for those stages; results differ slightly)"
        )


def _autocast(device: torch.device, enabled: bool):
    # bf16 where the GPU has it (no loss scaling needed), fp16 otherwise; on the CPU only bf16 exists.
    if device.type not in ("cuda", "cpu") or not enabled:
        return torch.autocast(device.type, enabled=False)
    if device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


@torch.inference_mode()
def evaluate_loss(
    model: DenoisingAutoencoder,
    noisy: torch.Tensor,
    clean: torch.Tensor,
    loss: Callable,
    batch_size: int,
    device: torch.device,
    amp: bool = False,
) -> float:
    model.eval()
    total = torch.zeros((), device=device, dtype=torch.float64)
    for i in range(0, len(noisy), batch_size):
        x, y = noisy[i : i + batch_size].to(device), clean[i : i + batch_size].to(device)
        with _autocast(device, amp):
            total += loss(model.logits(x), y).double() * len(x)
    return total.item() / len(noisy)


@torch.inference_mode()
def denoise(
    model: DenoisingAutoencoder, noisy: torch.Tensor, batch_size: int = 128, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Run a model over a whole tensor of noisy images; returns float32 outputs on the CPU.

    Batches of 128 were the fastest on the CPU measured (`python -m bench`): 1024 was half as fast (cache misses).
    """
    model.eval()
    outs = [model(noisy[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(noisy), batch_size)]
    return torch.cat(outs) if outs else torch.empty_like(noisy)


def to_device(t: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """Copy a whole tensor to `device` once (pinned and asynchronous on CUDA); NHWC when `channels_last`."""
    t = t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t.to(device)
    return t.contiguous(memory_format=torch.channels_last) if channels_last and t.dim() == 4 else t


@dataclass
class TrainState:
    """What one fit() trains with, prepared once by `prepare`: the pairs on the device, the (compiled) forward, the
    loss, the optimizer and its schedule, and the generator of each epoch's batch order."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    forward: Callable[[torch.Tensor], torch.Tensor]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler | None
    order: torch.Generator
    batch_size: int
    steps: int  # batches per epoch
    device: torch.device
    amp: bool
    nhwc: bool
    l2: float = 0.0  # lambda of the explicit L2 term
    rank: int = 0  # this process's rank and the number of processes (torchrun; 0 and 1 without it)
    world: int = 1
    need: int = 1  # the fewest images a process may train a step on


def step_starts(n: int, batch_size: int, world: int, need: int) -> range:
    """Where each step's slice of `n` images starts. A last step with fewer than `need` images per process is
    dropped: under torchrun a process would get none, and a batch-norm model is given two images a step at least
    (over a 1x1 map batch norm cannot train on one, and the rule does not depend on the architecture)."""
    return range(0, n - need * world + 1, batch_size * world)


def _check_steps(n: int, batch_size: int, world: int, need: int) -> None:
    """One line, before anything is moved or wrapped, when not even one step can be trained."""
    if batch_size < need:
        raise DaeError(f"batch norm (model.norm: batch) needs train.batch_size of at least {need}, got {batch_size}")
    if n >= need * world:
        return
    if n == 0:
        raise DaeError("training has no images")
    noun = "image" if n == 1 else "images"
    if world == 1:
        raise DaeError(f"training has {n} {noun}; batch norm (model.norm: batch) needs at least {need} images a step")
    each = f" with batch norm, {need} each" if need > 1 else ", one each"
    raise DaeError(f"training has {n} {noun}, too few for {world} processes{each}; lower train.nproc")


def prepare(
    model: DenoisingAutoencoder,
    train_pairs: tuple[torch.Tensor, torch.Tensor],
    val_pairs: tuple[torch.Tensor, torch.Tensor],
    train: dict[str, Any],
    device: torch.device,
) -> TrainState:
    """Move the model and the pairs to `device` and build what the epochs share."""
    bs, need = train["batch_size"], 2 if any(isinstance(m, BATCH_NORMS) for m in model.modules()) else 1
    rank, world = distributed.rank_and_world()
    _check_steps(len(train_pairs[0]), bs, world, need)
    amp = {"cuda": train["amp"], "cpu": train["amp_cpu"]}.get(device.type, False)
    _warn_slow_bf16(amp, device)
    # cuDNN's and oneDNN's bf16 convolutions are fastest on NHWC ("channels last") tensors. The CPU's fp32 path
    # keeps NCHW unless train.channels_last asks (about 1.2x faster, other bits), so default runs keep their bits.
    nhwc = (device.type == "cuda" or amp or train["channels_last"]) and model.config["arch"] != "mlp"
    model.to(device, memory_format=torch.channels_last if nhwc else torch.preserve_format)
    # Tensors move to the device once; each batch is then a slice, not a per-sample Python loop.
    (x_train, y_train), (x_val, y_val) = [
        (to_device(x, device, nhwc), to_device(y, device, nhwc)) for x, y in (train_pairs, val_pairs)
    ]
    forward = compiled_forward(model, train["deterministic"]) if train["compile"] else model.logits
    if distributed.launched():  # the gradients are averaged over the ranks in backward
        forward = distributed.wrap(model, device)
    optimizer = make_optimizer(model, train)
    loss = loss_fn(train["loss"], model.config.get("output", "sigmoid"))
    order = torch.Generator().manual_seed(train["seed"])
    steps = len(step_starts(len(x_train), bs, world, need))
    return TrainState(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        forward=forward,
        loss=loss,
        optimizer=optimizer,
        schedule=make_schedule(optimizer, train, steps),
        order=order,
        batch_size=bs,
        steps=steps,
        device=device,
        amp=amp,
        nhwc=nhwc,
        l2=train.get("l2", 0.0),
        rank=rank,
        world=world,
        need=need,
    )


def progress_bar(total: int) -> tqdm:
    """A bar of `total` batches on terminals; silence in logs (disable=None: off when stderr is not a TTY)."""
    quiet = None if distributed.is_main() else True  # one bar, rank 0's, under torchrun
    return progress.bar(disable=quiet, total=total, desc="train", unit="batch", mininterval=1.0)


def train_epoch(model: DenoisingAutoencoder, state: TrainState, bar: tqdm) -> float:
    """One pass over `state`'s training pairs in a fresh random order; returns the mean training loss.

    Under torchrun every rank draws the same order and takes its own share of each step's `world * batch_size`
    images (with one process: the plain batches).
    """
    model.train()
    n, bs, device, world = len(state.x_train), state.batch_size, state.device, state.world
    perm = torch.randperm(n, generator=state.order).to(device)
    losses, sizes = [], []  # summed once per epoch: no host-device sync and no extra kernels per step
    for i in step_starts(n, bs, world, state.need):
        idx = perm[i : i + bs * world][state.rank :: world] if world > 1 else perm[i : i + bs]
        x, y = state.x_train[idx], state.y_train[idx]
        with _autocast(device, state.amp):
            batch_loss = state.loss(state.forward(x), y)
        state.optimizer.zero_grad(set_to_none=True)
        # The logged loss stays the data term, comparable across lambdas; the penalty only adds its gradient.
        (batch_loss + state.l2 * l2_penalty(model) if state.l2 else batch_loss).backward()
        state.optimizer.step()
        if state.schedule is not None:
            state.schedule.step()
        losses.append(batch_loss.detach())
        sizes.append(len(idx))
        bar.update()
    counts = torch.tensor(sizes, dtype=torch.float64, device=device)
    total = distributed.sum_over_ranks(torch.stack([(torch.stack(losses).double() * counts).sum(), counts.sum()]))
    return (total[0] / total[1]).item()


def fit(
    model: DenoisingAutoencoder,
    train_pairs: tuple[torch.Tensor, torch.Tensor],
    val_pairs: tuple[torch.Tensor, torch.Tensor],
    train: dict[str, Any],
    device: torch.device,
    on_epoch: EpochHook | None = None,
    redraw: Callable[[int], np.ndarray | tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> tuple[DenoisingAutoencoder, list[dict[str, float]]]:
    """Train on (noisy, clean) float tensors in [0, 1]; return the model with the best val loss, and the history.

    `redraw(epoch)`, when given, returns that epoch's training data: fresh noisy inputs for the same clean images
    (an array, same order), or fresh (noisy, clean) tensors (new patches of large images).
    """
    state = prepare(model, train_pairs, val_pairs, train, device)
    best, best_val, history = None, float("inf"), []
    bar = progress_bar(train["epochs"] * state.steps)
    for epoch in range(train["epochs"]):
        if redraw is not None and epoch > 0:  # epoch 0 trains on the precomputed pairs
            fresh = redraw(epoch)
            noisy, clean = fresh if isinstance(fresh, tuple) else (torch.from_numpy(fresh), None)
            state.x_train = to_device(noisy, device, state.nhwc)
            if clean is not None:
                state.y_train = to_device(clean, device, state.nhwc)
        train_loss = train_epoch(model, state, bar)
        if not np.isfinite(train_loss):
            raise DaeError(f"training diverged at epoch {epoch + 1} (loss {train_loss}); lower train.lr")
        val_loss = evaluate_loss(model, state.x_val, state.y_val, state.loss, 4 * state.batch_size, device, state.amp)
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss})
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        if val_loss < best_val:  # model selection: the weights of the best val loss so far
            best_val, best = val_loss, copy.deepcopy(model.state_dict())
        if on_epoch:
            on_epoch(epoch + 1, train_loss, val_loss, model)
    bar.close()
    if best is None:
        raise DaeError("the val loss was never finite; lower train.lr, or set train.amp to false")
    model.load_state_dict(best)
    return model.eval(), history
