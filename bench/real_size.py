"""Every hub model at its real size, through the app's own path, with no network.

    python -m bench.real_size                       # every hub model of the registry
    python -m bench.real_size --models resnet50,clip-vit-b32 --keep /tmp/vl-hub

It writes random-weight checkpoints of the real architectures under their real repo ids into
a temporary Hugging Face cache (timm: `save_for_hf`; transformers: `save_pretrained` with a
processor whose tokenizer is a synthetic one of the same kind; Segment Anything: the official
file name in a copy of weights/, and EdgeTAM, SAM 2.1 and SlimSAM as `SAM_FAMILY` saves them),
starts `app.py` with `HF_HUB_OFFLINE=1` and that cache (not `--offline`: a hub model that is in
the cache takes the same path as for a user online), and
calls each model's tab through gradio_client. One JSON line per model: key, tab, load seconds
(the app's own log line), first answer on a new picture, warm answer, the app's resident
memory after it and its peak while this model loaded and answered, and the model that answered
(which must be the one asked for).

The weights are random, so the answers mean nothing; sizes, dtypes, shapes and costs are real.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
COMMIT = "0" * 40  # the snapshot's made-up commit id
PHOTO = ROOT / "examples" / "photos" / "chelsea.png"


# ---------------------------------------------------------------------------- checkpoints

def snapshot(hf_home: Path, repo: str) -> Path:
    """A cache entry HF_HOME/hub/models--ORG--NAME (refs/main -> COMMIT); its snapshot folder."""
    entry = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    (entry / "refs").mkdir(parents=True, exist_ok=True)
    (entry / "refs" / "main").write_text(COMMIT)
    folder = entry / "snapshots" / COMMIT
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def bert_tokenizer(folder: Path, chinese: bool = False):
    """A BERT word-piece tokenizer with a small made-up vocabulary (Grounding DINO, Chinese CLIP)."""
    from transformers import BertTokenizer

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "a", "photo", "of", "cat", "dog", "person",
             "cup", "rocket", "car", "tree", "astronaut", "coffee", *"abcdefghijklmnopqrstuvwxyz"]
    if chinese:
        words += list("一张的照片猫狗宇航员火箭杯咖啡汽车树模糊幅画特写")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n", encoding="utf-8")
    return BertTokenizer(str(vocab))


def clip_tokenizer(context: int = 77):
    from visionlab.toy.clip_captions import build_tokenizer

    return build_tokenizer(context)


def transformers_model(spec):
    """(model, processor) of the spec's real architecture and size, random weights."""
    import transformers as tf

    arch, hub = spec.arch, spec.hub_id
    if arch == "CLIPModel":
        sizes = {"openai/clip-vit-base-patch32": dict(patch_size=32),
                 "openai/clip-vit-base-patch16": dict(patch_size=16),
                 "openai/clip-vit-large-patch14": dict(patch_size=14, hidden_size=1024, intermediate_size=4096,
                                                       num_attention_heads=16, num_hidden_layers=24)}[hub]
        text = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12) if "large" in hub else {}
        config = tf.CLIPConfig(vision_config=sizes, text_config=text, projection_dim=768 if "large" in hub else 512)
        return tf.CLIPModel(config), tf.CLIPProcessor(tf.CLIPImageProcessor(), clip_tokenizer())
    if arch == "ChineseCLIPModel":
        config = tf.ChineseCLIPConfig(vision_config=dict(patch_size=16))
        return tf.ChineseCLIPModel(config), (tf.ChineseCLIPImageProcessor, "bert-chinese")
    if arch == "ViTMAEForPreTraining":
        big = dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24)
        config = tf.ViTMAEConfig(**(big if "large" in hub else {}))
        return tf.ViTMAEForPreTraining(config), tf.ViTImageProcessor(size={"height": 224, "width": 224}, resample=2)
    if arch == "SwinForMaskedImageModeling":
        config = tf.SwinConfig(image_size=192, embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
                               window_size=6, encoder_stride=32)
        return tf.SwinForMaskedImageModeling(config), tf.ViTImageProcessor(size={"height": 192, "width": 192})
    if arch == "Owlv2ForObjectDetection":
        config = tf.Owlv2Config(vision_config=dict(image_size=960, patch_size=16))
        image = tf.Owlv2ImageProcessor(size={"height": 960, "width": 960})
        return tf.Owlv2ForObjectDetection(config), tf.Owlv2Processor(image, clip_tokenizer(16))
    if arch == "OwlViTForObjectDetection":
        config = tf.OwlViTConfig()
        image = tf.OwlViTImageProcessor(size={"height": 768, "width": 768}, crop_size={"height": 768, "width": 768})
        return tf.OwlViTForObjectDetection(config), tf.OwlViTProcessor(image, clip_tokenizer(16))
    if arch in SAM_FAMILY:
        return SAM_FAMILY[arch]()
    if arch == "GroundingDinoForObjectDetection":
        return tf.GroundingDinoForObjectDetection(tf.GroundingDinoConfig()), (tf.GroundingDinoImageProcessor, "bert")
    if arch.startswith("Blip"):
        # BlipConfig() is the base checkpoints' layout (ViT-B/16 at 384 px, a BERT-base text side);
        # captioning-large has a ViT-L/16 image encoder (the text side cross-attends to its width).
        large = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16)
        config = tf.BlipConfig(vision_config=large if "large" in hub else {})
        image = (tf.BlipImageProcessor, "bert-blip")
        return getattr(tf, arch)(config), image
    raise KeyError(arch)


def _edgetam():
    """yonigozlan/EdgeTAM-hf as transformers' convert_edgetam_to_hf.py builds it: a RepViT-M1 backbone
    (timm/repvit_m1.dist_in1k's architecture; EdgeTamConfig() alone does not give it), the rest defaults."""
    import transformers as tf

    backbone = tf.TimmWrapperConfig(architecture="repvit_m1.dist_in1k", model_args={
        "in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]})
    config = tf.EdgeTamConfig(vision_config=tf.EdgeTamVisionConfig(backbone_config=backbone))
    return tf.EdgeTamModel(config), tf.Sam2Processor(tf.Sam2ImageProcessor())


def _sam2_tiny():
    """facebook/sam2.1-hiera-tiny: saved as a SAM 2 video model (model_type sam2_video, Sam2VideoProcessor)
    whose defaults are Hiera-T (stages 1-2-7-2, width 96, global attention at 5, 7, 9)."""
    import transformers as tf

    processor = tf.Sam2VideoProcessor(tf.Sam2ImageProcessor(), tf.Sam2VideoVideoProcessor())
    return tf.Sam2VideoModel(tf.Sam2VideoConfig()), processor


def _slimsam_50():
    """nielsr/slimsam-50-uniform: SAM ViT-B's layout pruned to width 384 (MLP 1536), SamProcessor defaults."""
    import transformers as tf

    config = tf.SamConfig(vision_config=dict(hidden_size=384, mlp_dim=1536))
    return tf.SamModel(config), tf.SamProcessor(tf.SamImageProcessor())


# Segment Anything in transformers: model class -> (model, processor) of the registry's checkpoint.
SAM_FAMILY = {"EdgeTamModel": _edgetam, "Sam2Model": _sam2_tiny, "SamModel": _slimsam_50}


def write_checkpoint(spec, hf_home: Path, weights: Path) -> None:
    """The spec's random-weight checkpoint where the app will look for it."""
    import torch

    torch.manual_seed(0)
    if spec.library == "segment-anything":
        from visionlab.models.sam import SIZES, build_sam

        torch.save(build_sam(SIZES[spec.arch]).state_dict(), weights / spec.file)
        return
    folder = snapshot(hf_home, spec.hub_repo)
    if spec.library == "timm":
        import timm
        from timm.models import save_for_hf

        save_for_hf(timm.create_model(spec.hub_id, pretrained=False), str(folder), safe_serialization=True)
        return
    model, processor = transformers_model(spec)
    if isinstance(processor, tuple):  # (image processor class, BERT tokenizer kind): built beside its vocab
        import transformers as tf

        image_cls, kind = processor
        tokenizer = bert_tokenizer(folder, chinese=kind == "bert-chinese")
        proc_cls = {"bert-chinese": tf.ChineseCLIPProcessor, "bert-blip": tf.BlipProcessor}.get(
            kind, tf.GroundingDinoProcessor)
        processor = proc_cls(image_cls(), tokenizer)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)


# ---------------------------------------------------------------------------- calls

def call_for(spec):
    """(api name, arguments after the picture, function reading the answering model's title or key)."""
    answered = lambda text: (re.search(r"Answered by \*\*(.+?)\*\*", text) or [None, None])[1]  # noqa: E731
    task = spec.task
    if task == "classification":
        return "/classify", (spec.key, 3), lambda out: answered(out[3])
    if task == "attention":
        return "/attention", (spec.key, "Rollout (all layers)"), lambda out: answered(out[1])
    if task == "zero-shot":
        return ("/zero_shot", ("cat, dog, car", spec.key, "a photo of a {}."), lambda out: answered(out[4]))
    if task in ("masked-mae", "masked-simmim"):
        method = "MAE" if task == "masked-mae" else "SimMIM"
        mae, simmim = (spec.key, "shapes-simmim-tiny") if method == "MAE" else ("shapes-mae-tiny", spec.key)
        return "/reconstruct", (method, mae, simmim), lambda out: out[-1][method]["model_key"]
    if task == "detection":
        return "/detect", (spec.key, "cat, cup"), lambda out: answered(out[2])
    if task == "segmentation":
        return "/segment", ("[[200, 150]]", "", spec.key), lambda out: answered(out[3])
    if task == "caption":
        return "/caption", (spec.key, 3, 30), lambda out: answered(out[4])
    if task == "vqa":
        return "/ask", ("what is in the picture?", spec.key), lambda out: answered(out[4])
    if task == "itm":  # the match panel names no model; a stand-in would say so under ⚠️
        return "/match", ("a cat\na dog", spec.key), lambda out: None if "⚠️" in out[1] else spec.key
    raise KeyError(task)


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    """Start the process's peak-memory count (VmHWM) again from what it holds now."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def new_picture(folder: Path, n: int) -> str:
    """The photo with one pixel changed: new to every cache."""
    import numpy as np
    from PIL import Image

    pixels = np.array(Image.open(PHOTO).convert("RGB"))
    pixels[0, 0] = (n * 37) % 256, (n * 91) % 256, 7
    path = folder / f"new-{n}.png"
    Image.fromarray(pixels).save(path)
    return str(path)


def measure(keys: list[str], hf_home: Path, weights: Path, log: Path) -> list[dict]:
    from gradio_client import Client, handle_file

    from tests.conftest import free_port
    from visionlab.models import get_spec

    port = free_port()
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "VISIONLAB_WEIGHTS": str(weights),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=open(log, "w"), stderr=subprocess.STDOUT)
    rows = []
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        client = Client(url, verbose=False)
        pictures = Path(tempfile.mkdtemp(prefix="vl-pictures-"))
        for n, key in enumerate(keys):
            spec = get_spec(key)
            api, args, who = call_for(spec)
            reset_peak(app.pid)                        # this model's peak: its load and its three answers
            t0 = time.perf_counter()
            first = client.predict(handle_file(new_picture(pictures, 2 * n)), *args, api_name=api)
            t1 = time.perf_counter()
            client.predict(handle_file(new_picture(pictures, 2 * n + 1)), *args, api_name=api)
            t2 = time.perf_counter()
            client.predict(handle_file(new_picture(pictures, 2 * n + 1)), *args, api_name=api)
            t3 = time.perf_counter()
            loads = re.findall(rf"VisionLab loaded model {re.escape(key)} in ([0-9.]+) s", log.read_text())
            answered = who(first)
            rows.append({"key": key, "tab": spec.task, "load_s": float(loads[0]) if loads else None,
                         "first_answer_s": round(t1 - t0, 3), "new_picture_s": round(t2 - t1, 3),
                         "warm_answer_s": round(t3 - t2, 3), "peak_mb": round(memory_mb(app.pid, "VmHWM")),
                         "resident_mb": round(memory_mb(app.pid)),
                         "answered_by": answered, "asked_for_answered": answered in (key, spec.title)})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        app.terminate()
        app.wait(20)
    return rows


def main() -> None:
    from visionlab.models import REGISTRY

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated registry keys (default: every hub model)")
    parser.add_argument("--keep", help="write the cache here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    keys = args.models.split(",") if args.models else [k for k, s in REGISTRY.items() if not s.bundled]
    root = Path(args.keep or tempfile.mkdtemp(prefix="vl-real-size-"))
    hf_home, weights = root / "hf", root / "weights"
    if not weights.exists():
        shutil.copytree(ROOT / "weights", weights, ignore=shutil.ignore_patterns("*.pth"))
    for key in keys:
        spec = REGISTRY[key]
        t0 = time.perf_counter()
        write_checkpoint(spec, hf_home, weights)
        print(f"# wrote {key} in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    rows = measure(keys, hf_home, weights, root / "app.log")
    bad = [r["key"] for r in rows if not r["asked_for_answered"]]
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    if bad:
        sys.exit(f"answered by another model than asked: {bad}")


if __name__ == "__main__":
    main()
