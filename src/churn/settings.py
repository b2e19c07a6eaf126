"""Typed settings: every configuration value checked once, before a stage starts."""

from __future__ import annotations

from omegaconf import DictConfig


def validate_settings(cfg: DictConfig) -> None:
    """Check every setting of a composed stage config against its typed schema.

    Raises :class:`~churn.errors.ConfigError` naming each wrong key, its value and what
    is allowed.
    """
