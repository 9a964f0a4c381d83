"""The engines that make a pattern: ``photo`` (model-free, CPU) and ``sds`` (diffusion, GPU)."""
