"""A LangGraph graph that drafts a post and asks people through hitl whether to publish it,
and where: an approval, then a choice. Its checkpointer is LangGraph's AsyncSqliteSaver, in the
file ``$DRAFTS_DB`` (default: drafts.sqlite in the temp directory).

    # The graph waits in place for each answer:
    python examples/langgraph_approval.py wait post-1 "hitl 1.0"
    # The graph stops at the question (published to hitl) and this process exits...
    python examples/langgraph_approval.py ask post-2 "hitl 1.0"
    # ...and the resumer resumes the thread whenever the answers come, in another process:
    hitl langgraph resume --graph examples.langgraph_approval:open_graph --service drafts
    hitl resume post-2 approve    # then: hitl resume post-2 choose --data '{"choice": 2}'

Each prints the graph's state as one JSON line. HITL_AMQP_URL and HITL_NAMESPACE as usual.
"""

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel

from hitl.integrations.langgraph import HitlGraph, ask_human
from hitl.sdk import HitlClient

CHANNELS = ["blog", "newsletter", "both"]
# The resumer consumes the outcomes of "drafts"; a waiting run has a reply queue of its own.
SERVICES = {"ask": "drafts", "wait": "drafts-waiting"}


class Post(TypedDict, total=False):
    topic: str
    draft: str
    approved: bool
    channel: str
    note: str


def draft(post: Post) -> Post:
    return {"draft": f"{post['topic']} is out: ask people from your agents, answer anywhere."}


async def review(post: Post) -> Post:
    outcome = await ask_human(
        "approval", f"Publish this post?\n\n{post['draft']}", context={"topic": post["topic"]}
    )
    return {"approved": outcome.action == "approve", "note": outcome.data.get("reason", "")}


async def pick_channel(post: Post) -> Post:
    outcome = await ask_human("choice", "Where should it go?", options=CHANNELS)
    return {"channel": outcome.data.get("value", CHANNELS[0])}


def publish(post: Post) -> Post:
    return {"note": f"published to {post['channel']}"}


def build(checkpointer: BaseCheckpointSaver[Any]) -> Pregel[Any, Any, Any, Any]:
    graph = StateGraph(Post)
    graph.add_node("draft", draft)
    graph.add_node("review", review)
    graph.add_node("pick_channel", pick_channel)
    graph.add_node("publish", publish)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_conditional_edges("review", lambda p: "pick_channel" if p["approved"] else END)
    graph.add_edge("pick_channel", "publish")
    graph.add_edge("publish", END)
    return graph.compile(checkpointer=checkpointer, name="drafts")


@asynccontextmanager
async def open_graph() -> AsyncIterator[Pregel[Any, Any, Any, Any]]:
    """The graph on its checkpointer; what the resumer's --graph names."""
    path = os.environ.get("DRAFTS_DB") or str(Path(tempfile.gettempdir()) / "drafts.sqlite")
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        yield build(saver)


async def main(mode: str, thread_id: str, topic: str) -> None:
    url = os.environ.get("HITL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    namespace = os.environ.get("HITL_NAMESPACE", "hitl")
    async with (
        open_graph() as graph,
        HitlClient.connect(url, service=SERVICES[mode], namespace=namespace) as hitl,
    ):
        drafts = HitlGraph(graph, hitl, name="drafts")
        result = await drafts.ainvoke({"topic": topic}, thread_id=thread_id, wait=mode == "wait")
    waiting = [i.value["hitl"]["prompt"] for i in result.pop("__interrupt__", ())]
    print(json.dumps({**result, "waiting_on": waiting}), flush=True)


if __name__ == "__main__":
    mode, thread, topic = sys.argv[1:4]
    asyncio.run(main(mode, thread, topic))
