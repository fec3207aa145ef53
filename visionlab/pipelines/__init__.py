"""One pipeline per task: preprocess -> _forward -> postprocess, returning typed results.

    from visionlab.pipelines import classify
    result = classify("examples/chelsea.png", "resnet50", top_k=5)
"""

from visionlab.pipelines.classification import ClassificationPipeline, ClassificationResult, classify

__all__ = ["ClassificationPipeline", "ClassificationResult", "classify"]
