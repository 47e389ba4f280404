"""The contract's version. Bump it only with a breaking change, and accept the old one meanwhile."""

from typing import Literal

SchemaVersion = Literal[1]
SCHEMA_VERSION: SchemaVersion = 1
