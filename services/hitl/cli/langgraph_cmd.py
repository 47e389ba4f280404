"""``hitl langgraph resume``: the LangGraph resumer (``hitl.integrations.langgraph``), which
resumes stopped graph threads as the outcomes of their questions arrive."""

import os

import click

from hitl.cli.common import examples, run
from hitl.cli.config import load_settings
from hitl.cli.errors import CliError
from hitl.observability.logs import configure_logging


def register(app: click.Group) -> None:
    app.add_command(langgraph)


@click.group(
    help="LangGraph graphs that ask people through hitl (docs/integrations.md).",
    epilog=examples("hitl langgraph resume --graph payments:open_graph --service payments"),
)
def langgraph() -> None:
    pass


@langgraph.command(
    "resume",
    help="Resume LangGraph threads that stopped at a question asked with ask_human: each "
    "outcome of SERVICE becomes Command(resume=...) on the thread and interrupt it answers, "
    "once; what cannot be placed is parked in <namespace>.langgraph.parked.<service>. Needs "
    "the langgraph extra. Stops on SIGTERM or Ctrl-C. See docs/integrations.md.",
    epilog=examples(
        "hitl langgraph resume --graph payments:open_graph --service payments",
        "hitl langgraph resume --graph examples.langgraph_approval:open_graph --service drafts",
    ),
)
@click.option(
    "--graph",
    "graph",
    required=True,
    metavar="MODULE:CALLABLE",
    help="What opens the compiled graph on its checkpointer: an async context manager.",
)
@click.option(
    "--service",
    default=lambda: os.environ.get("HITL_SERVICE", "default"),
    show_default="$HITL_SERVICE or default",
    help="The producer service whose outcomes it consumes (the graph's HitlClient's).",
)
@click.option("--name", help="The graph's name in resume_state.  [default: the service]")
def resume(graph: str, service: str, name: str | None) -> None:
    try:
        from hitl.integrations.langgraph.resumer import serve
    except ImportError as exc:
        raise CliError(str(exc)) from exc  # it says: pip install 'hitl[langgraph]'
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    run(serve(settings, graph, service, name))
