"""The list page's view: status, order and filters read from the query string (a bad value is
named on the page and left out, never an error page), the gateway's ``Filters`` built from it,
and the query strings of its links (next page, live updates)."""

from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from hitl.core.listing import STATUSES, waiting_for_identity
from hitl.gateway.cursors import Filters
from hitl_contract import KIND_NAMES, Identity

PAGE_SIZE = 50
_MAX = 256


@dataclass(frozen=True, slots=True)
class ListView:
    status: str = "pending"
    order: str = "newest"
    kind: str = ""
    thread: str = ""
    label: str = ""  # key=value
    requester: str = ""
    mine: bool = False
    cursor: str = ""
    problems: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, params: QueryParams) -> "ListView":
        problems: list[str] = []

        def text(name: str) -> str:
            value = params.get(name, "").strip()
            if len(value) > _MAX:
                problems.append(f"{name}: at most {_MAX} characters; ignored")
                return ""
            return value

        def among(name: str, allowed: tuple[str, ...], default: str) -> str:
            value = text(name)
            if value and value not in allowed:
                problems.append(f"{name}: {value!r} is not one of {', '.join(allowed)}; ignored")
                return default
            return value or default

        label = text("label")
        if label and "=" not in label.strip("="):
            problems.append(f"label: {label!r} is not key=value; ignored")
            label = ""
        cursor = params.get("cursor", "")
        return cls(
            status=among("status", STATUSES, "pending"),
            order=among("order", ("newest", "oldest"), "newest"),
            kind=among("kind", KIND_NAMES, ""),
            thread=text("thread"),
            label=label,
            requester=text("requester"),
            mine=params.get("mine") == "1",
            cursor=cursor if len(cursor) <= 512 else "",
            problems=tuple(problems),
        )

    @property
    def live(self) -> bool:
        """Whether the page follows events: new interactions appear, decided ones leave."""
        return self.status == "pending"

    @property
    def filtered(self) -> bool:
        return bool(self.kind or self.thread or self.label or self.requester or self.mine)

    def filters(self, who: Identity) -> Filters:
        key, _, value = self.label.partition("=")
        return Filters(
            status=self.status,
            kind=self.kind or None,
            thread_id=self.thread or None,
            requester=self.requester or None,
            waiting_for=waiting_for_identity(who) if self.mine else None,
            labels={key: value} if self.label else None,
            newest_first=self.order == "newest",
        )

    def query(self, cursor: str | None = None) -> str:
        """This view's query string (without its cursor unless one is given)."""
        view = replace(self, cursor=cursor or "")
        pairs = [
            ("status", view.status),
            ("order", view.order),
            ("kind", view.kind),
            ("thread", view.thread),
            ("label", view.label),
            ("requester", view.requester),
            ("mine", "1" if view.mine else ""),
            ("cursor", view.cursor),
        ]
        return urlencode([(k, v) for k, v in pairs if v])
