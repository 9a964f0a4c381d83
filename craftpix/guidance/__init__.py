"""Objectives for the optimizer besides score distillation: image fidelity."""
