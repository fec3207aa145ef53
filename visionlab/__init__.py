"""VisionLab: small, readable pipelines that show how vision models see.

Importable without gradio. Heavy libraries (torch, timm, transformers) are imported
lazily by the modules that need them, so `import visionlab` is cheap.
"""

__version__ = "0.1.0"
