"""hitl: a human-in-the-loop interaction broker over RabbitMQ and Redis."""

__version__ = "0.1.0"
