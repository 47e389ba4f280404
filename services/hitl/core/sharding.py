"""Which Redis shard (hash tag) an interaction lives in. Every replica must agree, so it is a
stable hash of the id, never Python's randomised ``hash``."""

import zlib
from uuid import UUID


def shard_of(interaction_id: UUID, shards: int) -> int:
    return zlib.crc32(interaction_id.bytes) % shards
