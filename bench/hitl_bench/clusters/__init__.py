"""Real server deployments of a run's own on this machine: a three-node RabbitMQ cluster
(``rabbit_cluster``), a Redis Cluster and a Sentinel set (``redis_deployments``), each on
loopback ports, node names and temporary directories apart from the shared servers (RabbitMQ on
5672, Redis on 6379), and stopped by whoever started them.

They live in the bench's package because two users need them: the tests (fault and integration
tests on clusters) and ``hitl bench``'s scale line. The bench cannot import ``tests/`` (not a
package that is installed), and hitl itself should not ship code that starts servers; the tests
already import ``hitl_bench`` (the dev group installs both). Nothing here imports pytest: what
is missing on the machine is ``Unavailable``, which the tests turn into a skip.
"""


class Unavailable(RuntimeError):
    """What a deployment needs is not installed here (the message says what)."""
