"""Trace context across hops, and OpenTelemetry spans when the ``otel`` extra is installed.

``Tracing`` (no spans) reads the W3C ``traceparent``/``tracestate`` a message came with
(``hitl.core.tracecontext``) and hands the same strings on: what a hop that makes no spans of
its own must do, at the cost of a dictionary look-up where nothing is traced. ``OtelTracing``
makes a span per hop, a child of the context that came in, and hands on the span's own context.

Which one a process uses: ``for_service(settings)`` for hitl's services (spans only when
OpenTelemetry has a tracer provider set up, by ``opentelemetry-instrument`` or by the process
itself, or when ``HITL_TRACE_FILE`` asks hitl to write its spans to a file); ``for_client()``
for the producer SDK, which runs in the user's process and follows whatever OpenTelemetry
setup that process has (none: nothing recorded, the user's own context still passed on).
"""

import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal

from hitl.core.tracecontext import TraceContext, child, from_headers
from hitl.errors import ConfigError

if TYPE_CHECKING:
    from hitl.settings import Settings

log = logging.getLogger(__name__)
Kind = Literal["producer", "consumer", "client", "server", "internal"]
EXTRA = "pip install 'hitl[otel]'"
# The context that what is sent from here on carries, where it cannot be passed as an argument
# through a port (a notifier channel's send, a gateway route's answer): set by ``carrying``.
_carried: ContextVar[TraceContext | None] = ContextVar("hitl_trace", default=None)
_NO_SPAN: AbstractContextManager[TraceContext | None] = nullcontext(None)  # reusable: no state


@contextlib.contextmanager
def carrying(trace: TraceContext | None) -> Iterator[None]:
    """Within the block, ``carried_headers()`` are ``trace``'s."""
    token = _carried.set(trace)
    try:
        yield
    finally:
        _carried.reset(token)


def carried_headers() -> dict[str, str]:
    """The trace headers of the context being carried (none outside ``carrying``)."""
    trace = _carried.get()
    return trace.headers() if trace is not None else {}


class Tracing:
    """No spans: contexts are read where messages come in and passed on unchanged."""

    @property
    def recording(self) -> bool:
        """Whether spans are made now."""
        return False

    def incoming(self, headers: Mapping[str, object] | None) -> TraceContext | None:
        """The context a message or HTTP request carries; None when it has none, or one that
        is not well formed (logged at debug level, never an error)."""
        context, problem = from_headers(headers)
        if problem:
            log.debug("trace context ignored: %s", problem)
        return context

    def span(
        self,
        name: str,
        parent: TraceContext | None,
        kind: Kind = "internal",
        attributes: Mapping[str, str | int | bool] | None = None,
    ) -> AbstractContextManager[TraceContext | None]:
        """A span for the ``with`` block, a child of ``parent`` (of the current span when
        None); yields the context to hand on from inside it (here: ``parent`` itself)."""
        return nullcontext(parent) if parent is not None else _NO_SPAN

    def shutdown(self) -> None:
        """Flush what this process recorded (the file exporter's last spans)."""


class OtelTracing(Tracing):
    """Spans through the OpenTelemetry API, on ``tracer`` (``hitl`` of the global provider)."""

    def __init__(
        self,
        tracer: Any = None,
        provider: Any = None,
        out: Any = None,
        *,
        follow_global: bool = False,
    ) -> None:
        """``follow_global``: spans only while the process has a tracer provider set (it may
        set one after this was made); before, none (a no-op span cost 6 µs)."""
        from opentelemetry import trace

        self._trace = trace
        self._unset = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        self._follow_global = follow_global
        self._provider = provider  # set up here (HITL_TRACE_FILE): shut down with the service
        self._out = out
        self._tracer = tracer or trace.get_tracer("hitl")
        self._kinds = {
            "producer": trace.SpanKind.PRODUCER,
            "consumer": trace.SpanKind.CONSUMER,
            "client": trace.SpanKind.CLIENT,
            "server": trace.SpanKind.SERVER,
            "internal": trace.SpanKind.INTERNAL,
        }

    @property
    def recording(self) -> bool:
        return not (
            self._follow_global and isinstance(self._trace.get_tracer_provider(), self._unset)
        )

    def span(
        self,
        name: str,
        parent: TraceContext | None,
        kind: Kind = "internal",
        attributes: Mapping[str, str | int | bool] | None = None,
    ) -> AbstractContextManager[TraceContext | None]:
        if not self.recording:
            return super().span(name, parent, kind, attributes)
        return self._span(name, parent, kind, attributes)

    @contextlib.contextmanager
    def _span(
        self,
        name: str,
        parent: TraceContext | None,
        kind: Kind,
        attributes: Mapping[str, str | int | bool] | None,
    ) -> Iterator[TraceContext | None]:
        trace = self._trace
        context = None if parent is None else trace.set_span_in_context(self._remote(parent))
        links = []
        current = trace.get_current_span().get_span_context()
        if parent is not None and current.is_valid and current.span_id != _span_id(parent):
            links.append(trace.Link(current))  # e.g. the answer that led to this outcome
        with self._tracer.start_as_current_span(
            name, context=context, kind=self._kinds[kind], attributes=attributes, links=links
        ) as span:
            made = span.get_span_context()
            if not made.is_valid:  # a no-op tracer: pass the context on as it came
                yield parent
                return
            yield child(
                parent, f"{made.trace_id:032x}", f"{made.span_id:016x}", made.trace_flags.sampled
            )

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
        if self._out is not None:
            self._out.close()

    def _remote(self, parent: TraceContext) -> Any:
        trace = self._trace
        from opentelemetry.trace.span import TraceState

        state = TraceState.from_header([parent.tracestate]) if parent.tracestate else None
        return trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id=int(parent.trace_id, 16),
                span_id=_span_id(parent),
                is_remote=True,
                trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED if parent.sampled else 0),
                trace_state=state,
            )
        )


def _span_id(context: TraceContext) -> int:
    return int(context.parent_id, 16)


def for_client() -> Tracing:
    """The producer SDK's: spans on whatever tracer provider the user's process set up (if
    OpenTelemetry is installed at all); the user's current span is the parent of an ask."""
    try:
        return OtelTracing(follow_global=True)
    except ImportError:
        return Tracing()


def for_service(settings: "Settings", role: str) -> Tracing:
    """A service's: spans into ``HITL_TRACE_FILE`` if set, else into the tracer provider the
    process was given (``opentelemetry-instrument hitl broker``); none without either."""
    if settings.trace_file:
        return _to_file(settings.trace_file, f"hitl-{role}")
    try:
        from opentelemetry import trace
    except ImportError:
        return Tracing()
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return Tracing()  # nobody set one up: spans would be dropped anyway
    return OtelTracing(provider.get_tracer("hitl"))


def _to_file(path: str, service: str) -> Tracing:
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
    except ImportError as exc:
        raise ConfigError(f"HITL_TRACE_FILE needs OpenTelemetry's SDK: {EXTRA}") from exc
    try:
        out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - OtelTracing.shutdown closes it
    except OSError as exc:
        raise ConfigError(f"HITL_TRACE_FILE={path!r} cannot be opened: {exc}") from exc
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OtelTracing(provider.get_tracer("hitl"), provider, out)
