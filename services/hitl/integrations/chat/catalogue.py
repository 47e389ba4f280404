"""The chat's own texts in several languages: one JSON object per locale (``en.json``,
``de.json``...) of message key -> text with ``{name}`` placeholders. A key a locale lacks falls
back to the default locale's text."""

from collections.abc import Mapping
from pathlib import Path

import orjson


class Catalogue:
    def __init__(self, messages: Mapping[str, Mapping[str, str]], *, default: str = "en") -> None:
        if default not in messages:
            raise ValueError(f"the default locale {default!r} has no messages")
        self.messages = messages
        self.default = default

    @classmethod
    def from_dir(cls, folder: Path, *, default: str = "en") -> "Catalogue":
        return cls(
            {path.stem: orjson.loads(path.read_bytes()) for path in sorted(folder.glob("*.json"))},
            default=default,
        )

    def locale(self, accept_language: str | None) -> str:
        """The first locale of an Accept-Language header this catalogue has (``de-AT`` picks
        ``de``), else the default; quality values are read in the order given."""
        for part in (accept_language or "").split(","):
            tag = part.split(";", 1)[0].strip().lower()
            for candidate in (tag, tag.split("-", 1)[0]):
                if candidate in self.messages:
                    return candidate
        return self.default

    def text(self, locale: str, key: str, **values: object) -> str:
        texts = self.messages.get(locale, {})
        template = texts.get(key) or self.messages[self.default][key]
        return template.format(**values)
