"""The generic trainer: linear learning-rate scaling, schedule, a real (short) run, its checkpoint."""

import json

import pytest
import torch

from visionlab.toy.train import OptimConfig, load_config, lr_at, train


def test_linear_scaling_rule():
    base = dict(base_lr=1e-3, base_batch_size=256, epochs=1)
    assert OptimConfig(batch_size=256, **base).lr == pytest.approx(1e-3)
    assert OptimConfig(batch_size=512, **base).lr == pytest.approx(2e-3)
    assert OptimConfig(batch_size=64, **base).lr == pytest.approx(2.5e-4)


def test_schedule_warms_up_then_decays():
    lrs = [lr_at(s, 100, 10, 1.0) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.01


def test_configs_parse():
    for name in ("shapes-vit-tiny", "shapes-resnet-tiny"):
        cfg = load_config(f"configs/{name}.toml")
        assert cfg["out_dir"] == f"weights/{name}" and cfg["data"]["train_seed"] != cfg["data"]["val_seed"]


def test_short_run_writes_a_loadable_checkpoint(tmp_path):
    cfg = load_config("configs/shapes-resnet-tiny.toml")
    cfg["data"].update(train_images=256, val_images=64)
    cfg["optim"].update(epochs=1, batch_size=64)
    summary = train(cfg, tmp_path / "run", quiet=True)
    assert (tmp_path / "run" / "model.safetensors").exists()
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["architecture"] == "resnet10t" and config["label_names"][0] == "circle"
    assert summary["steps"] == 4 and summary["lr"] == pytest.approx(4e-3 * 64 / 256)
    import timm
    model = timm.create_model(f"local-dir:{tmp_path / 'run'}", pretrained=True)
    assert model.num_classes == 6
    again = train(cfg, tmp_path / "again", quiet=True)  # seeded: same result twice
    a = timm.create_model(f"local-dir:{tmp_path / 'again'}", pretrained=True)
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), a.state_dict().values()))
    assert again["val_accuracy"] == summary["val_accuracy"]
