"""The contract's version. Bump it only with a breaking change, and accept the old one meanwhile."""

from typing import Literal

SCHEMA_VERSION = 1
SchemaVersion = Literal[1]
