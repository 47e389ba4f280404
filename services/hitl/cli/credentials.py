"""Where ``hitl login`` keeps the gateway's URL and an API key: a file only its owner may read
(0600, in a 0700 directory) in the user's config directory (``$XDG_CONFIG_HOME/hitl`` or
``~/.config/hitl`` on Linux, the platform's own elsewhere)."""

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import click
import orjson

from hitl.cli.errors import Usage

FILE_NAME = "credentials.json"


@dataclass(frozen=True, slots=True)
class Credentials:
    url: str
    key: str


def path() -> Path:
    return Path(click.get_app_dir("hitl")) / FILE_NAME


def load() -> Credentials | None:
    """The stored credentials; None when nobody logged in."""
    where = path()
    try:
        raw = where.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise Usage(f"cannot read {where}: {exc.strerror}; run `hitl logout`") from exc
    try:
        data = orjson.loads(raw)
        return Credentials(url=str(data["url"]), key=str(data["key"]))
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise Usage(f"{where} is not what `hitl login` writes; run `hitl login` again") from exc


def save(credentials: Credentials) -> Path:
    """Write them readable by the owner only (replacing what was there); the file's path."""
    where = path()
    where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = where.with_suffix(".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(orjson.dumps({"url": credentials.url, "key": credentials.key}))
    os.replace(temporary, where)
    return where


def forget() -> bool:
    """Delete the stored credentials; whether there were any."""
    try:
        path().unlink()
    except FileNotFoundError:
        return False
    return True
