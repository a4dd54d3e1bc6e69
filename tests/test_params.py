import copy
from pathlib import Path

import pytest
import yaml
from conftest import committed_text, with_value

from dae.params import ParamError, blind_ranges, load_params, main_setting, setting, validate

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = committed_text("params.yaml")  # not the workspace's: a user may have applied an experiment to it
DEFAULT = yaml.safe_load(COMMITTED)


def committed_params(tmp_path: Path) -> dict:
    (tmp_path / "params.yaml").write_text(COMMITTED)
    return load_params(tmp_path / "params.yaml")


def test_committed_params_are_valid(tmp_path):
    params = committed_params(tmp_path)
    assert params["data"]["name"] == "digits"
    assert main_setting(params) == {"name": "main", "type": "gaussian", "level": 0.3}
    assert setting(params, "masking-0.5") == {"name": "masking-0.5", "type": "masking", "level": 0.5}


def test_strings_from_dvc_exp_set_are_coerced():
    # `dvc exp run -S` rewrites params.yaml through OmegaConf; values can come back as text.
    raw = with_value("noise.std", "0.5")
    raw["train"]["epochs"] = "3"
    raw["train"]["lr"] = "1e-3"
    raw["train"]["deterministic"] = "false"
    raw["data"]["subset"] = "null"
    params = validate(raw)
    assert params["noise"]["std"] == 0.5
    assert params["train"]["epochs"] == 3
    assert params["train"]["lr"] == pytest.approx(1e-3)
    assert params["train"]["deterministic"] is False
    assert params["data"]["subset"] is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("noise.std", -0.1, "noise.std = -0.1 is not allowed; expected a number >= 0"),
        ("noise.amount", 1.5, "noise.amount = 1.5 is not allowed; expected a number >= 0 and <= 1"),
        ("noise.rate", "lots", "noise.rate = 'lots' is not allowed; expected a number >= 0 and <= 1"),
        ("noise.type", "poisson", "noise.type = 'poisson' is not allowed; expected one of gaussian, salt_pepper"),
        ("data.name", "imagenet", "data.name = 'imagenet' is not allowed; expected one of digits, mnist"),
        ("model.arch", "resnet", "model.arch = 'resnet' is not allowed; expected one of conv, mlp, unet, dncnn"),
        ("train.epochs", 2.5, "train.epochs = 2.5 is not allowed; expected a whole number >= 1"),
        ("train.deterministic", "maybe", "train.deterministic = 'maybe' is not allowed; expected true or false"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(key, value, message):
    with pytest.raises(ParamError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate(with_value(key, value))


def test_missing_key_is_named():
    raw = copy.deepcopy(DEFAULT)
    del raw["noise"]["std"]
    with pytest.raises(ParamError, match="missing key noise.std"):
        validate(raw)


def test_typo_suggests_the_closest_key():
    raw = copy.deepcopy(DEFAULT)
    raw["noise"]["sdt"] = raw["noise"].pop("std")
    with pytest.raises(ParamError, match="unknown key noise.sdt; did you mean noise.std"):
        validate(raw)


def test_bad_sweep_entries():
    with pytest.raises(ParamError, match="masking-2.level = 2 is not allowed"):
        validate(with_value("sweep", {"masking-2": {"type": "masking", "level": 2}}))
    with pytest.raises(ParamError, match="reserved"):
        validate(with_value("sweep", {"main": {"type": "masking", "level": 0.1}}))
    with pytest.raises(ParamError, match=r"expected \{type: ..., level: ...\}"):
        validate(with_value("sweep", {"g": {"type": "gaussian", "std": 0.1}}))


def test_unclipped_gaussian_entries_and_blind_models():
    raw = with_value("sweep.g25", {"type": "gaussian", "level": 0.098, "clip": False})
    params = validate(raw)
    assert params["sweep"]["g25"] == {"name": "g25", "type": "gaussian", "level": 0.098, "clip": False}
    ranges, covered = blind_ranges(params, "gaussian")
    assert ranges == [{"type": "gaussian", "low": 0.1, "high": 0.5}]  # the unclipped entry is another protocol
    assert "g25" not in covered and "gaussian-0.5" in covered
    ranges, covered = blind_ranges(params, "all")
    assert [r["type"] for r in ranges] == ["gaussian", "salt_pepper", "masking"]
    assert len(covered) == 7
    with pytest.raises(ParamError, match="only gaussian settings can be unclipped"):
        validate(with_value("sweep.m", {"type": "masking", "level": 0.1, "clip": False}))
    with pytest.raises(ParamError, match="blind.x names masking, but the sweep has no masking setting"):
        validate(with_value("sweep", {"g": {"type": "gaussian", "level": 0.1}}) | {"blind": {"x": ["masking"]}})
    for empty in ({}, None):  # cross_noise needs a blind model: one line, not DVC's missing-dependency error
        with pytest.raises(ParamError, match="blind must be a non-empty mapping of name -> \\[noise types\\]"):
            validate(with_value("blind", empty))
    with pytest.raises(ParamError, match="blind.x = 'speckle' is not allowed"):
        validate(with_value("blind", {"x": ["speckle"]}))
    assert validate(with_value("blind_train.epochs", 5))["blind_train"]["epochs"] == 5
    with pytest.raises(ParamError, match="blind_train.epochs = 0 is not allowed; expected a whole number >= 1"):
        validate(with_value("blind_train.epochs", 0))


def test_unknown_setting_lists_the_known_ones(tmp_path):
    with pytest.raises(ParamError, match="known: main, gaussian-0.1"):
        setting(committed_params(tmp_path), "gaussian-0.9")


def test_mnist_config_is_valid_and_keeps_the_default_sections(tmp_path):
    mnist = load_params(ROOT / "configs/mnist.yaml")
    default = committed_params(tmp_path)
    assert mnist["data"]["name"] == "mnist" and mnist["model"]["bottleneck"] == "spatial"
    assert [k for k, s in mnist["sweep"].items() if s.get("clip") is False] == ["gaussian-25u", "gaussian-50u"]
    assert set(mnist) == set(default) and mnist["blind"] == default["blind"]


def test_train_gpu_overrides_apply_on_cuda_only():
    from dae.params import on_device

    train = {"batch_size": 64, "lr": 0.002, "gpu": {"batch_size": 1024, "lr": 0.02}}
    assert on_device(train, "cuda")["batch_size"] == 1024 and on_device(train, "cuda")["lr"] == 0.02
    assert on_device(train, "cpu") is train and on_device(train, "mps")["batch_size"] == 64


def test_train_gpu_and_nproc_are_checked_like_the_rest(tmp_path):
    raw = yaml.safe_load(committed_text("params.yaml"))
    raw["train"]["gpu"] = {"batch_sise": 1024}
    with pytest.raises(ParamError, match=r"unknown key train.gpu.batch_sise; did you mean train.gpu.batch_size\?"):
        validate(raw)
    raw["train"]["gpu"], raw["train"]["nproc"] = {}, -1
    with pytest.raises(ParamError, match=r"train.nproc = -1 is not allowed"):
        validate(raw)


def refused_in_one_line(key: str, value, message: str) -> None:
    """validate() refuses the committed params with `key` set to `value` in one line starting `params: message`."""
    with pytest.raises(ParamError) as caught:
        validate(with_value(key, value))
    assert str(caught.value).startswith(f"params: {message}") and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        # train.gpu applies once the device is CUDA: too late to choose the device or launch torchrun.
        ("train.gpu", {"device": "cpu"}, "train.gpu.device cannot be set there; train.gpu applies once the device"),
        ("train.gpu", {"nproc": 2}, "train.gpu.nproc cannot be set there; torchrun starts before the device"),
        ("train.gpu", {"gpu": {"lr": 1}}, "train.gpu.gpu cannot be set there; train.gpu does not nest"),
        ("anomaly.train", {"gpu": {"device": "cpu"}}, "anomaly.train.gpu.device cannot be set there; anomaly.train."),
        # Only the main, sweep and blind stages launch torchrun.
        ("anomaly.train", {"nproc": 2}, "anomaly.train.nproc cannot be set there; torchrun runs the main, sweep"),
        ("natural.train", {"nproc": 2}, "natural.train.nproc cannot be set there; torchrun runs the main, sweep"),
        # The probe's models train at noise.clip.
        ("probe.settings", {"g": {"type": "gaussian", "level": 0.1, "clip": False}}, "probe.settings.g = {"),
    ],
)
def test_overrides_a_run_would_ignore_are_refused(key, value, message):
    refused_in_one_line(key, value, message)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        # DVC writes a sweep entry into the corrupt stage's command; text there would end it in a usage error.
        ("sweep.g", {"type": "gaussian", "level": 0.1, "clip": "false"}, "sweep.g.clip = 'false' is not allowed"),
        ("sweep.g", {"type": "gaussian", "level": 0.1, "clip": None}, "sweep.g.clip = None is not allowed"),
        ("sweep.g", {"type": "gaussian", "level": 2}, "sweep.g.level = 2 is not allowed"),
        ("sweep", {0.1: {"type": "gaussian", "level": 0.1}}, "sweep key 0.1 is not allowed; YAML reads it as a float"),
        ("probe.settings", {"main": {"type": "gaussian", "level": 0.1}}, "probe.settings key 'main' is reserved"),
        ("probe.settings", {"g": {"type": "gaussian", "level": 2}}, "probe.settings.g.level = 2 is not allowed"),
        ("natural.models.x", {"data": "d", "arch": "unet", "sigam": 25}, "unknown key natural.models.x.sigam; did you"),
        ("natural.models.x", {"data": "d", "arch": "unet"}, "missing key natural.models.x.sigma; expected {data,"),
    ],
)
def test_entries_name_the_key_that_is_wrong(key, value, message):
    refused_in_one_line(key, value, message)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("model.arch", "unet", "model: arch unet adds a correction to its input; set model.output: linear"),
        ("model.noise_map", "estimate", "model: noise_map = 'estimate' needs arch unet, dncnn; set model.noise_map"),
        ("model.channels", [8, 16, 32, 64], "model: 4 conv levels shrink a 8x8 image below 1 pixel; use at most 3"),
        ("anomaly.model.arch", "dncnn", "anomaly.model: arch dncnn subtracts its noise estimate from the input; set"),
        ("natural.archs.unet.output", "sigmoid", "natural.archs.unet: arch unet adds a correction to its input; set"),
        ("natural.archs.dncnn.channels", [48, 64], "natural.archs.dncnn: arch dncnn has one width; give natural.archs"),
        ("natural.patch", 320, "natural.patch = 320 is not allowed; expected a whole number >= 8 and <= 256"),
        ("studies.grids.depth", [1, 2, 3, 4], "studies.grids.depth has 4, which builds no model (model: 4 conv levels"),
        # A study's fix is to drop the value, not the advice for model: keys that the study does not set.
        (
            "studies.grids.depth",
            [1, 4],
            "studies.grids.depth has 4, which builds no model (model: 4 conv levels shrink a 8x8 image below 1 pixel); "
            "drop it: -S 'studies.grids.depth=[1]'",
        ),
    ],
)
def test_a_network_the_params_cannot_build_is_refused_before_any_stage(key, value, message):
    """Found only by its own training stage, it stopped a run after the stages before it (a study: after training
    its other models), and the message named `model.` for a model of another section."""
    refused_in_one_line(key, value, message)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # YAML 1.2, as DVC reads it: `no` is text, which DVC would write into a command as it stands.
        (lambda text: text.replace("clip: true", "clip: yes", 1), "noise.clip = 'yes' is not allowed; expected true"),
        (lambda text: text.replace("\ntrain:\n", "\ntrain:\n  lr: 1\n"), "found duplicate key 'lr' (line"),
        (lambda text: text.replace("\ntrain:\n", "\ntrain:\n\tlr: 1\n"), "found character '\\t' that cannot"),
        (lambda text: "[" * 3000 + "]" * 3000, "nests too deeply to read"),
    ],
)
def test_a_params_file_yaml_cannot_read_as_dvc_does_is_one_line(tmp_path, edit, message):
    path = tmp_path / "params.yaml"
    path.write_text(edit(committed_text("params.yaml")))
    with pytest.raises(ParamError) as caught:
        load_params(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_folder_named_params_yaml_is_one_line(tmp_path):
    (tmp_path / "params.yaml").mkdir()
    with pytest.raises(ParamError, match=r"^params: cannot read .*params.yaml \(Is a directory\)$"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize(
    "config, section",
    [("anomaly", "anomaly"), ("natural", "natural"), ("natural-fp32", "natural"), ("natural-blind", "natural")],
)
def test_a_study_config_is_the_committed_params_but_its_own_section(config: str, section: str):
    """Each of these configs is documented as params.yaml with one section changed; anything else would drift
    (an older studies grid, say), and the experiment would commit a dvc.lock that the params do not match."""
    default = yaml.safe_load(committed_text("params.yaml"))
    ours = yaml.safe_load((ROOT / "configs" / f"{config}.yaml").read_text())
    assert set(ours) == set(default)
    assert {k: v for k, v in ours.items() if k != section} == {k: v for k, v in default.items() if k != section}


def test_names_that_dvc_puts_in_param_paths_have_no_dot():
    """natural.data.<name> is a param path in dvc.yaml: DVC read 'set.12' as natural.data.set -> 12 and failed."""
    raw = yaml.safe_load((ROOT / "configs" / "natural.yaml").read_text())
    raw["natural"]["data"] = {"set.12": raw["natural"]["data"]["bsd"]}
    with pytest.raises(ParamError, match=r"natural.data key 'set.12' is not allowed; no '.' here"):
        validate(raw)
    assert "gaussian-0.1" in validate(with_value("noise.std", 0.3))["sweep"]  # sweep keys keep theirs: never in paths


def test_threads_are_capped_and_blind_models_do_not_shadow_sweep_settings():
    with pytest.raises(
        ParamError, match=r"train.threads = 100000 is not allowed; expected a whole number >= 0 and <= 1,024"
    ):
        validate(with_value("train.threads", 100000))
    raw = with_value("sweep.blind-gaussian", {"type": "gaussian", "level": 0.2})
    with pytest.raises(ParamError, match="blind.gaussian and sweep.blind-gaussian would share one row of cross_noise"):
        validate(raw)


def test_natural_patch_is_capped_at_the_side_a_model_file_records():
    """A model trained on larger patches was saved, then refused by load_model."""
    from dae.models.files import MAX_SIDE
    from dae.params import SCHEMA

    assert SCHEMA["natural"]["patch"]("natural.patch", MAX_SIDE) == MAX_SIDE
    with pytest.raises(ParamError, match=f"<= {MAX_SIDE}"):
        SCHEMA["natural"]["patch"]("natural.patch", MAX_SIDE + 1)
