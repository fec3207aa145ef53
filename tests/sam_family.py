"""Small random-weight SAM-family models of transformers (SAM, SAM 2, EdgeTAM) with their processors,
the same classes as the hub checkpoints at a 128-256 px input: fast enough for tests on a CPU."""

from __future__ import annotations

SIDE = {"SamModel": 256, "Sam2Model": 128, "EdgeTamModel": 128}
HEADS = dict(hidden_size=32, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32)


def tiny_sam_family(arch: str, seed: int = 0):
    """(model in eval mode, processor) of `arch` ("SamModel", "Sam2Model", "EdgeTamModel")."""
    import torch
    import transformers as tf

    side = SIDE[arch]
    prompt = dict(hidden_size=32, image_size=side, patch_size=16)
    torch.manual_seed(seed)
    if arch == "SamModel":
        vision = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_dim=64, output_channels=32,
                      image_size=side, global_attn_indexes=[1], window_size=4, num_pos_feats=16)
        model = tf.SamModel(tf.SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=HEADS))
        processor = tf.SamProcessor(tf.SamImageProcessor(size={"longest_edge": side},
                                                         pad_size={"height": side, "width": side}))
        return lively(model), processor
    sizes = [[side // 4] * 2, [side // 8] * 2, [side // 16] * 2]
    if arch == "Sam2Model":
        backbone = tf.Sam2HieraDetConfig(hidden_size=12, embed_dim_per_stage=[12, 24, 48, 96], image_size=[side, side])
        vision = tf.Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[96, 48, 24, 12],
                                     backbone_feature_sizes=sizes, fpn_hidden_size=32)
        config, cls = tf.Sam2Config(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=HEADS), tf.Sam2Model
    else:
        backbone = tf.TimmWrapperConfig(architecture="repvit_m1", model_args={
            "in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]})
        vision = tf.EdgeTamVisionConfig(backbone_config=backbone, backbone_feature_sizes=sizes, fpn_hidden_size=32)
        config, cls = tf.EdgeTamConfig(vision_config=vision, prompt_encoder_config=prompt,
                                       mask_decoder_config=HEADS), tf.EdgeTamModel
    return lively(cls(config)), tf.Sam2Processor(tf.Sam2ImageProcessor(size={"height": side, "width": side}))


def lively(model):
    """Eval mode, prompt encoder and mask decoder weights scaled up: random weights then give masks
    that differ from point to point (plain ones give one blob everywhere)."""
    import torch

    with torch.no_grad():
        for p in (*model.mask_decoder.parameters(), *model.prompt_encoder.parameters()):
            p.mul_(3.0)
    return model.eval()
