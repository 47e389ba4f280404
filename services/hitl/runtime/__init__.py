"""The service runtime: what hosts any hitl process (broker, gateway, notifiers).

``ServiceHost`` gives a service its connections with bounded start-up retries, channels,
consumers that re-attach and ack after the handler, background tasks, the ops endpoint with
per-component readiness, signal handling and a bounded drain. ``Coalescer`` batches the I/O of
concurrent handlers (group commit).
"""

from hitl.runtime.host import ServiceHost

__all__ = ["ServiceHost"]
