"""craftpix: prompts and photos into buildable bead, brick and cross-stitch patterns."""

__version__ = "0.1.0"
