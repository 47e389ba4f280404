"""Notifiers: processes that show requests to people on a channel (webhook, email, Slack,
terminal) and turn their answers into responses. One process per channel (``hitl notifier
CHANNEL``), each with its own queue, so a channel scales and fails on its own.

A channel is one module implementing ``Channel`` (``port.py``): it renders and sends, updates
what it sent once the interaction is decided, and says whether a failure is worth retrying.
Everything else (retries with backoff, delivery records, fallback receivers, dead-lettering,
updates on decision) is written once, in the framework, for every channel (Alertmanager's
``notify`` pipeline).
"""
