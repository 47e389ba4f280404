"""``hitl bench``: hitl measured end to end against a hand-written peer pipeline, on the real
RabbitMQ and Redis of this machine. See docs/benchmarks.md for the method and the results."""
