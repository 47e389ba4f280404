"""The contract's version, and the versions a broker reads (docs/contract.md, "Versions").

``SCHEMA_VERSION`` is what hitl writes. It changes only with a breaking change; the broker then
keeps reading the previous one (``READ_SCHEMA_VERSIONS``) for at least one minor release line,
and tests/docs/test_versions.py holds it to a frozen corpus of each version it reads.
"""

from typing import Literal

SchemaVersion = Literal[1]
SCHEMA_VERSION: SchemaVersion = 1
READ_SCHEMA_VERSIONS: tuple[int, ...] = (1,)
