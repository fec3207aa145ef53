"""Attention maps and Grad-CAM: the arithmetic, the extraction, and what the bundled models show."""

import numpy as np
import pytest
import torch

from visionlab.ops.attention import (discard_lowest, dino_masks, fuse_heads, patch_mass_on, rollout,
                                     token_to_patches, top_mass_mask)
from visionlab.ops.overlay import patch_at
from visionlab.pipelines import attention_views as views
from visionlab.pipelines.attention import WrongKindOfModel, attention_maps, grad_cam_map
from visionlab.toy.shapes import make_single

HELD_OUT = 4242  # a seed stream no trainer used


def test_rollout_of_identity_attention_is_identity():
    eye = torch.eye(5).expand(3, 2, 5, 5)                      # [L, H, T, T]
    assert torch.allclose(rollout(eye), torch.eye(5))
    assert torch.allclose(rollout(eye, "max", 0.5), torch.eye(5))


def test_rollout_rows_sum_to_one_and_chain_layers():
    a = torch.rand(2, 1, 4, 4).softmax(-1)
    joint = rollout(a)
    assert torch.allclose(joint.sum(-1), torch.ones(4))
    step = [0.5 * a[i, 0] + 0.5 * torch.eye(4) for i in range(2)]
    assert torch.allclose(joint, step[1] @ step[0], atol=1e-6)


def test_head_fusion_by_hand():
    heads = torch.tensor([[[0.2, 0.8], [0.6, 0.4]], [[0.4, 0.6], [0.0, 1.0]]])   # [H=2, T, T]
    assert torch.allclose(fuse_heads(heads, "mean"), torch.tensor([[0.3, 0.7], [0.3, 0.7]]))
    assert torch.allclose(fuse_heads(heads, "max"), torch.tensor([[0.4, 0.8], [0.6, 1.0]]))
    assert torch.allclose(fuse_heads(heads, "min"), torch.tensor([[0.2, 0.6], [0.0, 0.4]]))
    with pytest.raises(ValueError):
        fuse_heads(heads, "median")


def test_variant_discard_never_touches_the_cls_row_or_column():
    a = torch.tensor([[0.01, 0.5, 0.49], [0.02, 0.9, 0.08], [0.03, 0.07, 0.9]])
    out = discard_lowest(a, 0.5, protect="cls-row-and-column")   # 4 non-CLS entries, the 2 lowest go
    assert out[1, 2] == 0 and out[2, 1] == 0
    assert out[1, 1] == 0.9 and out[2, 2] == 0.9
    assert torch.equal(out[0], a[0]) and torch.equal(out[:, 0], a[:, 0])  # CLS row and column kept
    assert torch.equal(discard_lowest(a, 0.0), a)


def test_usual_discard_spares_only_cls_to_cls():
    a = torch.tensor([[0.01, 0.5, 0.49], [0.02, 0.9, 0.08], [0.03, 0.07, 0.9]])
    out = discard_lowest(a, 0.5)                 # int(9 * 0.5) = 4 lowest of all 9: 0.01 (spared), 0.02, 0.03, 0.07
    assert out[0, 0] == 0.01 and out[1, 0] == 0 and out[2, 0] == 0 and out[2, 1] == 0
    assert int((out == 0).sum()) == 3 and out[1, 2] == 0.08


def _usual_rollout(attn: torch.Tensor, fusion: str, discard_ratio: float) -> torch.Tensor:
    """The usual implementation (Abnar and Zuidema's rollout as jacobgil/vit-explain writes it), for
    one picture: fuse the heads, zero the lowest int(T*T * ratio) entries of the flattened map
    except index 0 ([CLS] to [CLS]), add the identity, halve, renormalise the rows, chain."""
    T = attn.shape[-1]
    result = torch.eye(T)
    for layer in attn:
        fused = {"mean": layer.mean(0), "max": layer.max(0)[0], "min": layer.min(0)[0]}[fusion]
        flat = fused.view(1, -1)
        _, indices = flat.topk(int(flat.size(-1) * discard_ratio), -1, False)
        indices = indices[indices != 0]
        flat[0, indices] = 0
        a = (fused + torch.eye(T)) / 2
        a = a / a.sum(dim=-1, keepdim=True)
        result = a @ result
    return result


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard", [0.0, 0.5, 0.9])
def test_rollout_matches_the_usual_implementation(fusion, discard):
    torch.manual_seed(1)
    attn = torch.rand(4, 3, 17, 17).softmax(-1)
    ours = rollout(attn, fusion, discard)
    assert torch.allclose(ours, _usual_rollout(attn.clone(), fusion, discard), atol=1e-6)
    assert torch.allclose(ours.sum(-1), torch.ones(17), atol=1e-5)           # rows renormalised after the discard
    variant = rollout(attn, fusion, discard, protect="cls-row-and-column")
    assert torch.allclose(variant.sum(-1), torch.ones(17), atol=1e-5)
    if discard:
        assert not torch.allclose(variant, ours)


def test_the_rollout_caption_names_the_variant():
    maps = attention_maps(make_single(HELD_OUT, 5).image)
    assert "variant" not in views.rollout_view(maps, "mean", 0.9)[1].en
    text = views.rollout_view(maps, "mean", 0.9, protect="cls-row-and-column")[1]
    assert "VisionLab's variant" in text.en and "变体" in text.zh


def test_top_mass_mask_by_hand():
    w = torch.tensor([[0.5, 0.1], [0.3, 0.1]])
    assert top_mass_mask(w, 0.6).tolist() == [[True, False], [True, False]]   # 0.5 + 0.3 >= 0.6
    assert top_mass_mask(w, 0.4).sum() == 1
    assert top_mass_mask(w, 1.0).all()


def test_click_geometry_round_trips():
    shape, grid = (448, 448, 3), (8, 8)
    from visionlab.ops.overlay import cls_panel_width
    left = cls_panel_width(shape, grid)
    assert patch_at(5, 5, shape, grid) is None                       # on the [CLS] panel
    assert patch_at(left + 1, 1, shape, grid) == 0
    assert patch_at(left + 447, 447, shape, grid) == 63
    assert patch_at(left + 3 * 56 + 10, 2 * 56 + 10, shape, grid) == 2 * 8 + 3


def test_extraction_rows_sum_to_one_and_fused_attention_is_restored():
    scene = make_single(HELD_OUT, 0)
    from visionlab.models import load_model
    model = load_model("shapes-vit-tiny").model
    before = [b.attn.fused_attn for b in model.blocks]
    maps = attention_maps(scene.image)
    assert maps.attn.shape == (4, 3, 65, 65) and maps.grid == (8, 8) and maps.prefix == 1
    assert np.allclose(maps.attn.sum(-1), 1, atol=1e-5)
    assert [b.attn.fused_attn for b in model.blocks] == before           # other tabs keep fused attention
    assert maps.pos_similarity.shape == (8, 8, 8, 8)
    assert np.allclose(np.einsum("ijij->ij", maps.pos_similarity), 1, atol=1e-5)  # self-similarity is 1


def _patch_mask(mask: np.ndarray, grid=(8, 8)) -> torch.Tensor:
    gh, gw = grid
    h, w = mask.shape
    blocks = mask.reshape(gh, h // gh, gw, w // gw).transpose(0, 2, 1, 3)   # [gh, gw, ph, pw]
    return torch.from_numpy(blocks.any(axis=(2, 3)))                       # patch overlaps the shape


@pytest.mark.slow
def test_tiny_vit_rollout_lands_on_the_shape():
    shares, plain = [], []
    for i in range(200):
        scene = make_single(HELD_OUT, i)
        maps = attention_maps(scene.image)
        inside = _patch_mask(scene.masks[0])
        for fusion_discard, out in (((("mean", 0.9)), shares), (("mean", 0.0), plain)):
            joint = rollout(torch.from_numpy(maps.attn), *fusion_discard)
            out.append(patch_mass_on(token_to_patches(joint[0], 1, (8, 8)), inside))
    print(f"rollout mass on the shape: {np.mean(shares):.3f} (tab defaults), {np.mean(plain):.3f} (no discard)")
    assert np.mean(shares) >= 0.60


@pytest.mark.slow
def test_tiny_resnet_grad_cam_peak_is_inside_the_box():
    hits = 0
    for i in range(200):
        scene = make_single(HELD_OUT, i)
        x, y = views.cam_peak(grad_cam_map(scene.image).cam, 64)
        x0, y0, x1, y1 = scene.boxes[0]
        hits += x0 <= x < x1 and y0 <= y < y1
    print(f"Grad-CAM peak inside the box: {hits / 200:.3f}")
    assert hits / 200 >= 0.85


def test_grad_cam_target_is_selectable():
    scene = make_single(HELD_OUT, 3)
    top = grad_cam_map(scene.image)
    other = grad_cam_map(scene.image, target=(top.class_index + 1) % 6)
    assert other.class_index != top.class_index and not np.allclose(other.cam, top.cam)


def test_wrong_kind_of_model_gets_a_sentence():
    picture = make_single(HELD_OUT, 1).image
    with pytest.raises(WrongKindOfModel, match="CNN"):
        attention_maps(picture, "shapes-resnet-tiny")
    with pytest.raises(WrongKindOfModel, match="Vision Transformer"):
        grad_cam_map(picture, "shapes-vit-tiny")


def test_views_clamp_layer_and_head_with_a_note():
    maps = attention_maps(make_single(HELD_OUT, 2).image)
    picture, caption = views.head_view(maps, layer=40, head=0)
    assert picture.ndim == 3 and "layer 4 of 4" in caption.en and "head 1 of 3" in caption.en and "共 4 个" in caption.zh
    _, caption = views.patch_view(maps, patch=500, layer=2)
    assert "patch 64 of 64" in caption.en and "共 64 个" in caption.zh
    for render in (views.rollout_view, views.patches_view, views.position_view, views.dino_view):
        picture, caption = render(maps)
        assert picture.dtype == np.uint8 and caption.en and caption.zh


def test_dino_s8_architecture_through_the_real_path():
    """The hub DINO ViT-S/8 cannot be downloaded here; its architecture (random weights, no
    classifier head, 28 x 28 patches) goes through the same pipeline the app uses."""
    import timm

    from visionlab.models import get_spec
    from visionlab.models.loader import LoadedModel
    from visionlab.pipelines.attention import AttentionPipeline

    spec = get_spec("dino-vit-s8")
    net = timm.create_model(spec.hub_id.split(".")[0], pretrained=False, num_classes=0).eval()
    maps = AttentionPipeline(LoadedModel(spec, spec, net, None, 0.0))(make_single(4242, 0, 64).image)
    assert maps.attn.shape == (12, 6, 785, 785) and maps.grid == (28, 28) and maps.prefix == 1
    np.testing.assert_allclose(maps.attn.sum(-1), 1.0, atol=1e-4)
    assert maps.label is None and maps.pos_similarity.shape == (28, 28, 28, 28)
    picture, caption = views.dino_view(maps, 0.6, "mean")
    assert picture.ndim == 3 and "attention" in caption.en


def _visualize_attention_masks(attentions: torch.Tensor, threshold: float) -> torch.Tensor:
    """DINO's visualize_attention.py thresholding, for (nh, N) [CLS] attentions: sort, normalise,
    cumulative sum, keep above 1 - threshold, put back in patch order."""
    val, idx = torch.sort(attentions)
    val /= torch.sum(val, dim=1, keepdim=True)
    cumval = torch.cumsum(val, dim=1)
    th_attn = cumval > (1 - threshold)
    idx2 = torch.argsort(idx)
    for head in range(attentions.shape[0]):
        th_attn[head] = th_attn[head][idx2[head]]
    return th_attn


def test_dino_masks_match_visualize_attention():
    torch.manual_seed(0)
    attn = torch.rand(6, 900).softmax(-1) ** 3
    for keep in (0.3, 0.6, 0.9):
        assert torch.equal(dino_masks(attn, keep), _visualize_attention_masks(attn.clone(), keep))


def test_dino_view_on_the_whole_picture_matches_dinos_visualisation():
    """dino_attention against DINO's visualize_attention.py path, on ViT-S/16's real configuration
    (random weights): torchvision's Resize((480, 480)) + ToTensor + Normalize of the whole picture,
    the position embeddings interpolated as DINO does (bicubic, scale (g + 0.1) / sqrt(N)), a
    standard timm forward at 480 px, the last layer's [CLS] row per head."""
    import math

    import timm
    from PIL import Image
    from torchvision import transforms

    from visionlab.models import get_spec
    from visionlab.models.loader import LoadedModel
    from visionlab.pipelines.attention import DinoPipeline, recording_attention

    spec = get_spec("dino-vit-s16")
    torch.manual_seed(0)
    net = timm.create_model(spec.hub_id, pretrained=False, num_classes=0).eval()   # DINO's pretrained_cfg
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 420, 3), dtype=np.uint8))
    ours = DinoPipeline(LoadedModel(spec, spec, net, None, 0.0))(picture)
    assert ours.cls.shape == (6, 30, 30) and ours.picture.shape == (480, 480, 3)

    transform = transforms.Compose([transforms.Resize((480, 480)), transforms.ToTensor(),
                                    transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    img = transform(picture)[None]                                                 # [1, 3, 480, 480]
    big = timm.create_model(spec.hub_id, pretrained=False, num_classes=0, img_size=480).eval()
    state = net.state_dict()
    cls_pos, patch_pos = state["pos_embed"][:, :1], state["pos_embed"][:, 1:]
    N, dim = patch_pos.shape[1], patch_pos.shape[2]
    w0, h0 = 480 // 16 + 0.1, 480 // 16 + 0.1
    patch_pos = torch.nn.functional.interpolate(
        patch_pos.reshape(1, int(math.sqrt(N)), int(math.sqrt(N)), dim).permute(0, 3, 1, 2),
        scale_factor=(w0 / math.sqrt(N), h0 / math.sqrt(N)), mode="bicubic")
    state["pos_embed"] = torch.cat([cls_pos, patch_pos.permute(0, 2, 3, 1).view(1, -1, dim)], 1)
    big.load_state_dict(state)
    with torch.inference_mode(), recording_attention(big) as maps:
        big(img)
    attentions = maps[-1][0, :, 0, 1:]                                             # [nh, N]
    np.testing.assert_allclose(ours.cls.reshape(6, -1), attentions.numpy(), rtol=1e-4, atol=1e-7)
    expected = (img[0].permute(1, 2, 0) * torch.tensor((0.229, 0.224, 0.225)) + torch.tensor((0.485, 0.456, 0.406)))
    assert np.abs(ours.picture.astype(int) - np.round(expected.numpy() * 255)).max() <= 1
    picture_out, caption = views.dino_heads_view(ours, 0.6)
    assert picture_out.ndim == 3 and "visualize_attention" in caption.en and "480 x 480" in caption.en
    fused = views.dino_view(attention_maps(make_single(HELD_OUT, 0).image), 0.6, "mean")[1]
    assert "VisionLab's variant" in fused.en and "变体" in fused.zh


def test_a_patch_click_and_a_patch_number_give_the_same_view():
    from visionlab.ops.overlay import cls_panel_width
    from visionlab.pipelines import attention as A

    A.MAPS.clear()
    picture = make_single(HELD_OUT, 7).image
    maps = A.cached_attention_maps(picture)
    big = views._big(maps.picture)
    cell = big.shape[0] // 8
    x, y = cls_panel_width(big.shape, (8, 8)) + 3 * cell + 2, 5 * cell + 2          # patch (row 5, column 3)
    by_click = A.patch_attention(picture, x=x, y=y, layer=2)
    by_number = A.patch_attention(picture, patch=5 * 8 + 3, layer=2)
    assert by_click.patch == by_number.patch == 43 and by_click.layer == 2
    np.testing.assert_allclose(by_click.row, maps.attn[1, :, 1 + 43].mean(0))
    assert by_click.heat.shape == (8, 8) and by_click.cls_share == pytest.approx(float(by_click.row[0]))
    assert np.array_equal(views.patch_attention_view(by_click)[0], views.patch_view(maps, 43, 2)[0])
    with pytest.raises(A.NotAPatch, match="CLS"):
        A.patch_attention(picture, x=3, y=3)
    far = A.patch_attention(picture, patch=500, layer=40)
    assert far.patch == 63 and far.layer == 4 and len(far.notes) == 2
