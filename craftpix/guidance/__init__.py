"""Objectives for the optimizer: score distillation (SDS)."""
