"""The service runtime: what hosts any hitl process (broker, gateway, notifiers).

``host.ServiceHost`` gives a service its connections with bounded start-up retries, channels,
consumers that re-attach and ack after the handler, background tasks, the ops endpoint with
per-component readiness (``ops``), signal handling and a bounded drain; ``stores`` builds the
interaction store from settings. ``coalescer.Coalescer`` batches the I/O of concurrent handlers
(group commit); the adapters use it too, so this package imports nothing on import.
"""
