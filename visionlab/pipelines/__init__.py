"""One pipeline per task: preprocess -> _forward -> postprocess, returning typed results.

    from visionlab.pipelines import classify
    result = classify("examples/chelsea.png", "resnet50", top_k=5)

(Importing this package imports no model library; `classify` brings torch in when first used.)
"""

__all__ = ["ClassificationPipeline", "ClassificationResult", "classify"]


def __getattr__(name: str):
    if name in __all__:
        from visionlab.pipelines import classification

        return getattr(classification, name)
    raise AttributeError(name)
