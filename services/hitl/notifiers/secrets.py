"""Turning a receiver's ``SecretRef`` into the secret, when a channel needs it.

Channels resolve at send time, not at start, so a rotated secret file or a restarted pod's new
environment is picked up without a reload. Errors name where the secret was looked for, never
what was found there.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from hitl.core.routing.config import SecretRef
from hitl.errors import ConfigError


class SecretResolver(Protocol):
    """Returns the secret ``ref`` points at, stripped; ``ConfigError`` when it has none."""

    def __call__(self, ref: SecretRef) -> str: ...


class EnvOrFileSecrets:
    """``SecretResolver`` over the process environment (or a given one) and the file system.
    A file is read on every call: secrets are small, and rotation needs no restart."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        self._environ = environ

    def __call__(self, ref: SecretRef) -> str:
        if ref.env is not None:
            value = self._environ.get(ref.env, "").strip()
            where = f"environment variable {ref.env}"
        else:
            assert ref.file is not None  # SecretRef holds exactly one of them
            where = f"file {ref.file}"
            try:
                value = Path(ref.file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"secret {where} cannot be read: {exc.strerror}") from exc
            except UnicodeDecodeError:  # its message quotes the secret's bytes: not chained
                raise ConfigError(f"secret {where} is not UTF-8 text") from None
        if not value:
            raise ConfigError(f"secret {where} is unset or empty")
        return value
