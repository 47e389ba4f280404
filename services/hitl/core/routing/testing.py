"""Route tests written inside the config (``tests:``), run by ``hitl routes check``."""

from dataclasses import dataclass

from hitl.core.routing.config import RouteTest, RoutingConfig
from hitl.core.routing.plan import plan
from hitl.core.routing.tree import RequestFields
from hitl.core.routing.windows import instant


@dataclass(frozen=True, slots=True)
class TestResult:
    __test__ = False  # not a pytest class

    name: str
    expected: tuple[str, ...]
    got: tuple[str, ...]  # reached at the test's instant (held ones are not)
    held: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return sorted(self.expected) == sorted(self.got)


def run_tests(config: RoutingConfig) -> list[TestResult]:
    return [run_test(config, test) for test in config.tests]


def run_test(config: RoutingConfig, test: RouteTest) -> TestResult:
    now = instant(test.at) if test.at else None
    planned = plan(config, RequestFields.of(test.request), now)
    reached = tuple(p.receiver for p in planned if now is None or not p.held(now))
    held = tuple(p.receiver for p in planned if now is not None and p.held(now))
    return TestResult(test.name, tuple(test.expect), reached, held)
