"""ShapesWorld: procedural coloured shapes, the toy models trained on them, and their evaluation."""
