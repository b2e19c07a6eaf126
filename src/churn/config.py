"""Custom OmegaConf resolvers used by the configs in ``conf/``."""

from __future__ import annotations

from importlib import resources

from omegaconf import OmegaConf


def package_path(package: str, subfolder: str = "") -> str:
    """Folder of an installed package (optionally a subfolder), for data shipped in wheels."""
    base = resources.files(package)
    return str(base / subfolder if subfolder else base)


def register_resolvers() -> None:
    """Make ``${package_path:pkg,subfolder}`` available to configs (idempotent)."""
    OmegaConf.register_new_resolver("package_path", package_path, replace=True)
