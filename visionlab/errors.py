"""The one base class for errors whose message is written for the person using VisionLab."""


class VisionLabError(Exception):
    """str(error) is a plain sentence a student can act on; the UI shows it as it is."""
