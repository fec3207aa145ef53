"""Masked image modeling: the pure ops, the pipeline on tiny random models, the bundled models'
quality on held-out ShapesWorld pictures, per-request ratios under concurrency, bad input."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from PIL import Image

from visionlab.errors import VisionLabError
from visionlab.models import LoadedModel, ModelSpec
from visionlab.models.registry import IMAGENET_MEAN, IMAGENET_STD
from visionlab.ops import masking as M
from visionlab.pipelines.masked import MaskedPipeline, MaskRequest, mae_forward, reconstruct, reconstruct_pair

TEST_SEED = 3  # held-out ShapesWorld stream (training used 1, validation 2)


# --------------------------------------------------------------------------- ops
def test_unpatchify_inverts_patchify_and_matches_transformers_layout():
    x = torch.randn(2, 3, 32, 48)
    patches = M.patchify(x, 8)
    assert patches.shape == (2, 4 * 6, 8 * 8 * 3)
    assert torch.equal(M.unpatchify(patches, 8, (4, 6)), x)
    # patch k is the block at row k // gw, column k % gw, flattened (row, column, channel)
    assert torch.equal(patches[1, 6 + 2].view(8, 8, 3), x[1, :, 8:16, 16:24].permute(1, 2, 0))
    model = _tiny_mae(norm_pix=False)
    sq = torch.randn(2, 3, 32, 32)
    assert torch.equal(M.patchify(sq, 8), model.patchify(sq))
    with pytest.raises(ValueError):
        M.patchify(torch.zeros(1, 3, 30, 32), 8)


SLIDER_RATIOS = [round(0.05 * k, 2) for k in range(1, 20)]   # the tab's ratio slider: 0.05 ... 0.95


@pytest.mark.parametrize("ratio", [0.0, 0.05, 0.3, 0.5, 0.75, 0.9, 1.0])
def test_random_masking_hides_what_the_official_mae_formula_hides(ratio):
    hidden = 64 - int(64 * (1 - ratio))                              # models_mae.py: len_keep = int(L * (1 - r))
    idx = M.random_masking(64, ratio, seed=5, batch=3)
    assert idx.mask.shape == (3, 64) and idx.mask.dtype == torch.bool
    assert (idx.mask.sum(1) == hidden).all()
    assert idx.ids_keep.shape == (3, 64 - hidden)
    # ids_restore undoes the shuffle; the kept ids are exactly the visible patches
    assert torch.equal(torch.gather(idx.ids_shuffle, 1, idx.ids_restore), torch.arange(64).expand(3, 64))
    for b in range(3):
        assert set(idx.ids_keep[b].tolist()) == set((~idx.mask[b]).nonzero().flatten().tolist())


@pytest.mark.parametrize("L", [16, 49, 64, 196, 256])
def test_mae_hides_as_many_patches_as_transformers_at_every_slider_ratio(L):
    """transformers' ViTMAEEmbeddings.random_masking (the reference path) against ours, at each
    ratio the slider offers: round(r * L) hides one patch more at 8 of the 19 ratios for L = 196."""
    model = _tiny_mae(norm_pix=False)
    seq = torch.zeros(1, L, model.config.hidden_size)
    for ratio in SLIDER_RATIOS:
        model.config.mask_ratio = ratio                               # a test-local model: nobody else reads it
        _, mask, _ = model.vit.embeddings.random_masking(seq, noise=torch.rand(1, L))
        assert M.count_hidden(L, ratio) == int(mask.sum()), (L, ratio)
        assert int(M.random_masking(L, ratio, 0).mask.sum()) == int(mask.sum())


def test_simmim_hides_ceil_of_ratio_times_squares_like_its_mask_generator():
    """SimMIM's MaskGenerator: mask_count = int(np.ceil(token_count * mask_ratio)), default 0.6."""
    from visionlab.models.masked_facts import DEFAULT_RATIO

    assert DEFAULT_RATIO == {"MAE": 0.75, "SimMIM": 0.6}
    for squares in (4, 16, 36, 49):                                   # 192 px / 32 px squares -> 36
        for ratio in SLIDER_RATIOS:
            expected = int(np.ceil(squares * ratio))
            assert M.count_hidden_simmim(squares, ratio) == expected
            mask = M.block_mask((squares, 1), 1, ratio, seed=1, method="SimMIM")
            assert int(mask.sum()) == expected, (squares, ratio)
    # 36 squares at 0.6: 21.6 -> 22 squares (round would give 22 too; 0.5 of 9 gives 5, round 4)
    assert M.count_hidden_simmim(9, 0.5) == 5 and M.block_mask((6, 6), 2, 0.5, 0, "SimMIM").sum() == 5 * 4


def test_same_seed_same_mask_other_seed_other_mask():
    a, b, c = (M.random_masking(196, 0.75, s) for s in (7, 7, 8))
    assert torch.equal(a.mask, b.mask) and torch.equal(a.ids_shuffle, b.ids_shuffle)
    assert not torch.equal(a.mask, c.mask)
    assert np.array_equal(M.block_mask((8, 8), 2, 0.5, 3), M.block_mask((8, 8), 2, 0.5, 3))


def test_indices_from_mask_round_trip():
    mask = M.random_masking(49, 0.6, seed=1, batch=2).mask
    idx = M.indices_from_mask(mask)
    assert torch.equal(idx.mask, mask)
    with pytest.raises(ValueError):
        M.indices_from_mask(torch.tensor([[True, False], [True, True]]))


def test_block_mask_hides_whole_squares():
    mask = M.block_mask((8, 8), 2, 0.5, seed=0)                     # 16 squares of 2 x 2 patches
    assert mask.shape == (8, 8) and mask.sum() == 8 * 4
    squares = mask.reshape(4, 2, 4, 2).transpose(0, 2, 1, 3).reshape(16, 4)
    assert (squares.all(1) | ~squares.any(1)).all()                  # each square all or nothing
    assert M.block_mask((7, 7), 2, 1.0, seed=0).all()               # edge squares cut short
    assert np.array_equal(M.block_mask((8, 8), 1, 0.25, 9),
                          M.random_masking(64, 0.25, 9).mask[0].reshape(8, 8).numpy())


def test_brush_masks_the_patch_of_every_painted_pixel():
    painted = np.zeros((300, 200), bool)                             # any resolution, any aspect
    painted[0, 0] = painted[299, 199] = painted[150, 60] = True
    mask = M.mask_from_brush(painted, (4, 4))
    assert mask.sum() == 3 and mask[0, 0] and mask[3, 3] and mask[2, 1]
    assert not M.mask_from_brush(np.zeros((5, 5), bool), (4, 4)).any()
    assert M.mask_from_brush(np.ones((64, 64), bool), (8, 8)).all()


def test_resample_mask_carries_a_mask_by_position():
    mask = M.block_mask((7, 7), 1, 0.5, 2)
    assert np.array_equal(M.resample_mask(mask, (7, 7)), mask)
    assert np.array_equal(M.resample_mask(mask, (14, 14)), M.pixel_mask(mask, 2))


def test_patch_error_and_masked_loss():
    target = np.zeros((4, 4, 3))
    pred = target.copy()
    pred[:2, 2:] = 0.5                                                # top-right 2 x 2 patch off by 0.5
    assert np.allclose(M.patch_error(pred, target, 2, "mse"), [[0, 0.25], [0, 0]])
    assert np.allclose(M.patch_error(pred, target, 2, "l1"), [[0, 0.5], [0, 0]])
    hidden = np.zeros((4, 4), bool)
    hidden[:2, :] = True
    assert M.masked_loss(pred, target, hidden, "l1") == pytest.approx(0.25)
    assert np.isnan(M.masked_loss(pred, target, np.zeros((4, 4), bool)))


def test_mean_colour_fill():
    img = np.zeros((4, 4, 3), np.float32)
    img[:, :2] = (1.0, 0.0, 0.5)
    img[:, 2:] = (0.0, 1.0, 0.5)
    hidden = np.zeros((4, 4), bool)
    hidden[:2, 2:] = True
    out = M.mean_colour_fill(img, hidden)
    visible_mean = img[~hidden].mean(0)
    assert np.allclose(out[hidden], visible_mean) and np.array_equal(out[~hidden], img[~hidden])
    everything = M.mean_colour_fill(img, np.ones((4, 4), bool), default=(0.1, 0.2, 0.3))
    assert np.allclose(everything, (0.1, 0.2, 0.3))


def test_denormalise_patches_uses_true_stats_when_visible_and_neighbours_when_hidden():
    target = M.patchify(torch.rand(1, 3, 16, 16) * 0.2 + 0.4, 4)[0]  # [16, 48]
    mean = target.mean(-1, keepdim=True)
    std = (target.var(-1, keepdim=True) + 1e-6).sqrt()
    pred = (target - mean) / std                                      # a perfect norm-pix prediction
    mask = torch.zeros(16, dtype=torch.bool)
    mask[5] = True
    out = M.denormalise_patches(pred, target, mask, (4, 4))
    assert torch.allclose(out[~mask], target[~mask], atol=1e-5)
    flat = torch.full((16, 48), 0.3) + torch.linspace(0, 0.1, 48)     # every patch alike
    flat_pred = (flat - flat.mean(-1, keepdim=True)) / (flat.var(-1, keepdim=True) + 1e-6).sqrt()
    assert torch.allclose(M.denormalise_patches(flat_pred, flat, mask, (4, 4)), flat, atol=1e-5)
    assert torch.isfinite(M.denormalise_patches(pred, target, torch.ones(16, dtype=torch.bool), (4, 4))).all()


# --------------------------------------------------------------------------- tiny random models
def _tiny_mae(norm_pix: bool):
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    torch.manual_seed(0)
    cfg = ViTMAEConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=64, decoder_hidden_size=32, decoder_num_hidden_layers=1,
                       decoder_num_attention_heads=2, decoder_intermediate_size=64, mask_ratio=0.75,
                       norm_pix_loss=norm_pix)
    return ViTMAEForPreTraining(cfg).eval()


def _tiny_simmim():
    from transformers import ViTConfig, ViTForMaskedImageModeling

    torch.manual_seed(0)
    cfg = ViTConfig(image_size=32, patch_size=8, encoder_stride=8, hidden_size=32, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=64)
    return ViTForMaskedImageModeling(cfg).eval()


def _tiny_swin_simmim():
    """The hub SimMIM's class (Swin) with a tiny config: 4 px patches, two stages."""
    from transformers import SwinConfig, SwinForMaskedImageModeling

    torch.manual_seed(0)
    cfg = SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=4,
                     encoder_stride=8)
    return SwinForMaskedImageModeling(cfg).eval()


def _pipeline(model, arch: str, folder, size: int = 32, resample: int = 2) -> MaskedPipeline:
    """The pipeline through its real constructor: the checkpoint folder holds the model's config
    and its image processor (the one source of size, resampling, mean and std)."""
    from transformers import ViTImageProcessor

    model.config.save_pretrained(folder)
    ViTImageProcessor(size={"height": size, "width": size}, resample=resample, image_mean=list(IMAGENET_MEAN),
                      image_std=list(IMAGENET_STD)).save_pretrained(folder)
    spec = ModelSpec(key=f"test-{arch}", task="masked", library="transformers", title=f"test {arch}",
                     family="vit", input_size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD, labels="none",
                     licence="mit", arch=arch, path=str(folder))
    return MaskedPipeline(LoadedModel(spec, spec, model, None, 0.0))


def test_our_mae_forward_matches_transformers_at_its_own_ratio():
    model = _tiny_mae(norm_pix=False)
    x = torch.randn(2, 3, 32, 32)
    noise = torch.rand(2, 16)
    with torch.inference_mode():
        theirs = model(pixel_values=x, noise=noise)
        ours = mae_forward(model, x, M.masking_from_noise(noise, 12))
    assert torch.equal(M.masking_from_noise(noise, 12).mask.float(), theirs.mask)
    assert torch.allclose(ours, theirs.logits, atol=1e-5)


@pytest.fixture(scope="module")
def tiny_pipes(tmp_path_factory):
    def folder(name):
        return tmp_path_factory.mktemp(name)

    return {"MAE": _pipeline(_tiny_mae(False), "ViTMAEForPreTraining", folder("mae")),
            "MAE-normpix": _pipeline(_tiny_mae(True), "ViTMAEForPreTraining", folder("mae-normpix")),
            "SimMIM": _pipeline(_tiny_simmim(), "ViTForMaskedImageModeling", folder("simmim")),
            "Swin": _pipeline(_tiny_swin_simmim(), "SwinForMaskedImageModeling", folder("swin"))}


def test_swin_simmim_masks_in_4_px_patches(tiny_pipes):
    r = tiny_pipes["Swin"](np.zeros((40, 40, 3), np.uint8), request=MaskRequest(ratio=0.5, mask_patch=16, seed=0))
    assert r.method == "SimMIM" and r.patch_size == 4 and r.mask.shape == (8, 8)
    assert r.hidden_patches == 2 * 16 and r.reconstruction.shape == (32, 32, 3)   # 2 of 4 squares of 4 x 4 patches


@pytest.mark.parametrize("which", ["MAE", "MAE-normpix", "SimMIM"])
def test_pipeline_panels_and_losses(tiny_pipes, which):
    pipe = tiny_pipes[which]
    r = pipe(Image.new("RGB", (50, 30), (200, 30, 30)), request=MaskRequest(ratio=0.5, seed=1))
    for pic in (r.original, r.masked, r.reconstruction, r.pasted, r.baseline):
        assert pic.shape == (32, 32, 3) and pic.dtype == np.uint8
    assert r.error_heatmap.shape[0] >= 256 and r.mask.shape == (4, 4)
    hidden = M.pixel_mask(r.mask, 8)
    assert np.array_equal(r.pasted[~hidden], r.original[~hidden])     # visible patches are copied
    assert np.array_equal(r.pasted[hidden], r.reconstruction[hidden])
    assert (r.error_map[~r.mask] == 0).all()
    assert r.loss_name == ("L1" if which == "SimMIM" else "MSE")
    assert r.baseline_loss == pytest.approx(0.0, abs=1e-4)           # a one-colour picture: the mean is exact
    assert r.norm_pix == (which == "MAE-normpix") and "normalised" in r.target_kind.en
    if which == "MAE":
        assert r.hidden_patches == 8 and r.mask_patch == 8
    if which == "SimMIM":
        assert r.mask_patch == 8 and r.hidden_patches == 8          # SimMIM default: 32 px per 192 px -> 8 px on 32 px


def test_ratio_zero_and_one_are_clamped_with_a_sentence(tiny_pipes):
    pipe = tiny_pipes["MAE"]
    low = pipe(np.zeros((20, 20, 3), np.uint8), request=MaskRequest(ratio=0.0))
    high = pipe(np.zeros((20, 20, 3), np.uint8), request=MaskRequest(ratio=1.0))
    assert low.hidden_patches == M.count_hidden(16, 0.05) == 1 and "used 0.05" in " ".join(map(str, low.notes))
    assert high.hidden_patches == M.count_hidden(16, 0.95) == 16 and "used 0.95" in " ".join(map(str, high.notes))
    with pytest.raises(VisionLabError, match="mask ratio"):
        pipe(np.zeros((20, 20, 3), np.uint8), request=MaskRequest(ratio=float("nan")))


def test_brush_empty_full_and_partial(tiny_pipes):
    pipe = tiny_pipes["SimMIM"]
    image = np.random.default_rng(0).integers(0, 255, (120, 90, 3), dtype=np.uint8)
    empty = pipe(image, request=MaskRequest(ratio=0.5, brush=np.zeros((120, 90, 4), np.uint8)))
    assert empty.mask_source == "random" and empty.mask.any() and "empty" in " ".join(map(str, empty.notes))
    full = pipe(image, request=MaskRequest(brush=np.full((120, 90, 4), 255, np.uint8)))
    assert full.mask.all() and full.mask_source == "brush" and np.isfinite(full.loss)
    assert "every patch" in " ".join(map(str, full.notes))
    stroke = np.zeros((120, 90), bool)
    stroke[:10, :10] = True                                           # top-left corner only
    part = tiny_pipes["MAE"](image, request=MaskRequest(brush=stroke))
    assert part.mask.sum() == 1 and part.mask[0, 0]


def test_any_image_mode_and_size(tiny_pipes):
    pics = [Image.new("RGBA", (31, 7), (0, 0, 255, 100)), Image.new("L", (5, 500), 90), Image.new("P", (1, 1)),
            Image.fromarray((np.arange(40 * 50).reshape(40, 50) * 30).astype(np.uint16)),
            Image.new("CMYK", (64, 64), (0, 120, 0, 30))]
    for pic in pics:
        r = tiny_pipes["MAE"](pic, request=MaskRequest(ratio=0.75, seed=2))
        assert r.original.shape == (32, 32, 3), pic.mode


def test_default_mask_patch_scales_simmims_32_px_per_192():
    from visionlab.models.masked_facts import default_mask_patch

    assert default_mask_patch("SimMIM", 192, 4) == 32 and default_mask_patch("MAE", 224, 16) == 16
    assert default_mask_patch("SimMIM", 224, 16) == 32 and default_mask_patch("SimMIM", 64, 8) == 8


# --------------------------------------------------------------------------- real configurations
@pytest.fixture(scope="module")
def mae_base(tmp_path_factory):
    """facebook/vit-mae-base's architecture (ViTMAEConfig() is that checkpoint) with random weights,
    and its image processor (224 x 224, bilinear, ImageNet mean/std). Returns (model, plain
    pipeline, norm-pix pipeline): the second reads the same weights as a norm-pix checkpoint."""
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    torch.manual_seed(0)
    model = ViTMAEForPreTraining(ViTMAEConfig()).eval()
    plain = _pipeline(model, "ViTMAEForPreTraining", tmp_path_factory.mktemp("mae-base"), size=224)
    model.config.norm_pix_loss = True
    normpix = _pipeline(model, "ViTMAEForPreTraining", tmp_path_factory.mktemp("mae-base-np"), size=224)
    model.config.norm_pix_loss = False
    return model, plain, normpix


def _transformers_mae(model, x: torch.Tensor, mask: np.ndarray, ratio: float):
    """transformers' own forward with its own random masking, steered by noise to hide `mask`."""
    flat = torch.from_numpy(mask.reshape(1, -1))
    L = flat.shape[1]
    saved, model.config.mask_ratio = model.config.mask_ratio, ratio
    try:
        with torch.inference_mode():
            out = model(pixel_values=x, noise=flat.float() * L + torch.arange(L) / L)
    finally:
        model.config.mask_ratio = saved
    return out


@pytest.mark.parametrize("ratio", [0.7, 0.75])
def test_mae_pipeline_matches_transformers_on_the_base_configuration(mae_base, ratio):
    """Preprocessing by the checkpoint's processor, the official hidden count, transformers' forward
    and the official paste (x * (1 - mask) + y * mask), compared number for number."""
    from transformers import AutoImageProcessor

    model, pipe, _ = mae_base
    picture = np.random.default_rng(1).integers(0, 255, (150, 260, 3), dtype=np.uint8)
    r = pipe(picture, request=MaskRequest(ratio=ratio, seed=3))
    processor = AutoImageProcessor.from_pretrained(pipe.loaded.spec.local_dir)
    x = processor(images=Image.fromarray(picture), return_tensors="pt")["pixel_values"]      # [1, 3, 224, 224]
    mean, std = np.array(processor.image_mean), np.array(processor.image_std)
    original = x[0].numpy().transpose(1, 2, 0) * std + mean
    assert np.abs(r.original.astype(int) - np.round(np.clip(original, 0, 1) * 255)).max() <= 1
    out = _transformers_mae(model, x, r.mask, ratio)
    assert torch.equal(out.mask.bool()[0], torch.from_numpy(r.mask.reshape(-1)))
    assert r.hidden_patches == 196 - int(196 * (1 - ratio))
    y = model.unpatchify(out.logits)                                                           # [1, 3, 224, 224]
    m = out.mask[:, :, None].repeat(1, 1, 16 * 16 * 3)
    m = model.unpatchify(m)                                                                    # 1 = hidden, per pixel
    pasted = (x * (1 - m) + y * m)[0].numpy().transpose(1, 2, 0) * std + mean
    assert np.abs(r.pasted.astype(int) - np.round(np.clip(pasted, 0, 1) * 255)).max() <= 1
    hidden = m[0, 0].bool().numpy()
    reference_loss = float(((np.clip(pasted, 0, 1) - np.clip(original, 0, 1))[hidden] ** 2).mean())
    assert r.loss == pytest.approx(reference_loss, rel=1e-4)


def test_norm_pix_predictions_are_de_normalised_with_each_patch_statistics(mae_base):
    """A norm-pix MAE predicts (x - mean) / std of each patch; a visible patch's prediction in
    pixels is pred * std + mean with that patch's own statistics (hidden ones borrow them from
    their neighbours, which the target_kind sentence says)."""
    model, plain, normpix = mae_base
    picture = np.random.default_rng(2).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    r = normpix(picture, request=MaskRequest(ratio=0.75, seed=5))
    assert r.norm_pix and "normalised" in r.target_kind.en
    x = normpix.pixel_values(picture)
    out = _transformers_mae(model, x, r.mask, 0.75)
    target = model.patchify(x)                                                                 # [1, L, p*p*3]
    mean = target.mean(-1, keepdim=True)
    var = target.var(-1, keepdim=True)
    y = model.unpatchify(out.logits * (var + 1e-6) ** 0.5 + mean)[0]                           # [3, S, S]
    expected = np.clip(y.numpy().transpose(1, 2, 0) * normpix.std + normpix.mean, 0, 1)
    visible = ~M.pixel_mask(r.mask, 16)
    assert np.abs(r.reconstruction[visible].astype(int) - np.round(expected[visible] * 255)).max() <= 1
    plain_r = plain(picture, request=MaskRequest(ratio=0.75, seed=5))                          # same weights, read raw
    assert np.abs(plain_r.reconstruction[visible].astype(int) - r.reconstruction[visible].astype(int)).max() > 10


def test_preprocessing_is_the_checkpoints_own(tmp_path):
    """Size, resampling, mean and std come from the checkpoint's image processor, whatever the
    registry says: the same weights with a bicubic and a bilinear processor see different pixels,
    each exactly what its processor makes."""
    from transformers import AutoImageProcessor

    picture = np.random.default_rng(3).integers(0, 255, (97, 131, 3), dtype=np.uint8)
    seen = {}
    for resample in (2, 3):
        pipe = _pipeline(_tiny_mae(False), "ViTMAEForPreTraining", tmp_path / f"r{resample}", resample=resample)
        r = pipe(picture, request=MaskRequest(ratio=0.5, seed=0))
        processor = AutoImageProcessor.from_pretrained(tmp_path / f"r{resample}")
        x = processor(images=Image.fromarray(picture), return_tensors="pt")["pixel_values"][0]
        expected = np.clip(x.numpy().transpose(1, 2, 0) * processor.image_std + processor.image_mean, 0, 1)
        assert np.abs(r.original.astype(int) - np.round(expected * 255)).max() <= 1
        seen[resample] = r.original
    assert not np.array_equal(seen[2], seen[3])


def test_swin_simmim_on_its_real_configuration_masks_and_reconstructs_as_transformers():
    """microsoft/swin-base-simmim-window6-192's architecture, random weights: 36 squares of 32 px,
    ceil(0.6 * 36) = 22 hidden, reconstruction equal to transformers' own with that mask."""
    from transformers import SwinConfig, SwinForMaskedImageModeling, ViTImageProcessor

    torch.manual_seed(0)
    cfg = SwinConfig(image_size=192, patch_size=4, embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
                     window_size=6, encoder_stride=32)
    model = SwinForMaskedImageModeling(cfg).eval()
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        pipe = _pipeline(model, "SwinForMaskedImageModeling", folder, size=192)
        picture = np.random.default_rng(4).integers(0, 255, (200, 180, 3), dtype=np.uint8)
        r = pipe(picture, request=MaskRequest(seed=7))                        # the defaults: 0.6, 32 px squares
        x = ViTImageProcessor.from_pretrained(folder)(images=Image.fromarray(picture), return_tensors="pt")["pixel_values"]
    assert r.mask.shape == (48, 48) and r.mask_patch == 32 and r.hidden_patches == 22 * 8 * 8
    with torch.inference_mode():
        y = model(pixel_values=x, bool_masked_pos=torch.from_numpy(r.mask.reshape(1, -1))).reconstruction[0]
    expected = np.clip(y.numpy().transpose(1, 2, 0) * pipe.std + pipe.mean, 0, 1)
    assert np.abs(r.reconstruction.astype(int) - np.round(expected * 255)).max() <= 1


# --------------------------------------------------------------------------- bundled models
def _held_out(n: int = 200) -> list[np.ndarray]:
    from visionlab.toy.masked_tasks import shapes_pictures

    return list(shapes_pictures(TEST_SEED, n, 64, 0.25))


@pytest.fixture(scope="module")
def held_out():
    return _held_out()


def _mean_losses(model: str, ratio: float | None, pictures) -> tuple[float, float]:
    results = [reconstruct(pic, model, ratio=ratio, seed=100 + i) for i, pic in enumerate(pictures)]
    return float(np.mean([r.loss for r in results])), float(np.mean([r.baseline_loss for r in results]))


def test_tiny_mae_beats_the_mean_colour_baseline(held_out):
    ours, base = _mean_losses("shapes-mae-tiny", 0.75, held_out)
    assert ours <= 0.5 * base, f"masked MSE {ours:.4f} vs baseline {base:.4f}"


def test_tiny_simmim_beats_the_mean_colour_baseline(held_out):
    ours, base = _mean_losses("shapes-simmim-tiny", None, held_out)   # its defaults: ratio 0.6, 8 px squares
    assert ours <= 0.6 * base, f"masked L1 {ours:.4f} vs baseline {base:.4f}"


def test_both_methods_get_the_same_mask(held_out):
    a, b = reconstruct_pair(held_out[0], "shapes-mae-tiny", "shapes-simmim-tiny", ratio=0.6, mask_patch=16, seed=4)
    assert np.array_equal(a.mask, b.mask) and a.mask.sum() == M.count_hidden(16, 0.6) * 4
    assert (a.method, b.method) == ("MAE", "SimMIM") and b.mask_source == "shared"


def _reference_reconstruction(model_key: str, picture, mask: np.ndarray, ratio: float) -> np.ndarray:
    """What the reference code paints for `picture` with `mask` hidden: the checkpoint's processor,
    then transformers' own forward (MAE: its random masking, driven by noise that hides exactly
    `mask`, at config.mask_ratio = `ratio`; SimMIM: bool_masked_pos). (S, S, 3) float in 0-1."""
    import copy

    from transformers import AutoImageProcessor

    from visionlab.models import load_model
    from visionlab.ops.images import load_image

    loaded = load_model(model_key)
    processor = AutoImageProcessor.from_pretrained(loaded.spec.local_dir)
    x = processor(images=load_image(picture), return_tensors="pt")["pixel_values"]              # [1, 3, S, S]
    flat = torch.from_numpy(mask.reshape(1, -1))
    with torch.inference_mode():
        if loaded.spec.task == "masked-mae":
            model = copy.deepcopy(loaded.model)                          # its own config: the shared one stays
            model.config.mask_ratio = ratio
            L = flat.shape[1]
            noise = flat.float() * L + torch.arange(L) / L               # hidden patches sort last
            out = model(pixel_values=x, noise=noise)
            assert torch.equal(out.mask.bool(), flat), "transformers hid other patches than the pipeline"
            y = model.unpatchify(out.logits)[0]                          # [3, S, S]
        else:
            y = loaded.model(pixel_values=x, bool_masked_pos=flat).reconstruction[0]
    mean, std = np.array(processor.image_mean), np.array(processor.image_std)
    return np.clip(y.numpy().transpose(1, 2, 0) * std + mean, 0, 1)


def test_two_threads_asking_different_ratios_get_their_own(held_out):
    """Twelve requests at once, six ratios, both methods: each model must have run with the mask
    of the ratio its request asked for (its picture equals the reference path's at that ratio),
    not merely report that ratio."""
    asked = [0.1, 0.9, 0.3, 0.75, 0.5, 0.95] * 2
    got: dict[int, object] = {}
    start = threading.Barrier(len(asked))

    def ask(k: int) -> None:
        start.wait()
        model = "shapes-mae-tiny" if k % 2 else "shapes-simmim-tiny"
        got[k] = reconstruct(held_out[k], model, ratio=asked[k], mask_patch=8, seed=k)

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(len(asked))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, ratio in enumerate(asked):
        r = got[k]
        count = M.count_hidden if r.method == "MAE" else M.count_hidden_simmim
        assert r.hidden_patches == count(64, ratio), (k, ratio)
        reference = _reference_reconstruction(r.model, held_out[k], r.mask, ratio)
        assert np.abs(r.reconstruction.astype(int) - np.round(reference * 255)).max() <= 1, (k, ratio)


def test_hub_model_offline_falls_back_to_the_bundled_one_of_its_method(held_out):
    r = reconstruct(held_out[1], "simmim-swin-base")
    assert r.model == "shapes-simmim-tiny" and r.method == "SimMIM" and "not available" in str(r.notice)


def test_not_a_masked_model():
    from visionlab.pipelines.masked import NotAMaskedModel

    with pytest.raises(NotAMaskedModel, match="MAE or SimMIM"):
        reconstruct(np.zeros((8, 8, 3), np.uint8), "shapes-vit-tiny")
