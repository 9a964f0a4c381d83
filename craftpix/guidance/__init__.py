"""Objectives for the optimizer: score distillation (sds) and image fidelity."""
