"""One request of each kind, how a person answers it in the inbox, and what the producer must
then receive."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Page

Fill = Callable[[Page], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    kind: str
    request: dict[str, Any]
    fill: Fill
    action: str
    data: dict[str, Any] = field(default_factory=dict)  # must be part of the outcome's data


def button(page: Page, name: str) -> Any:
    return page.get_by_role("button", name=name, exact=True)


async def approval(page: Page) -> None:
    await page.get_by_label("Reason", exact=True).fill("Within budget")
    await button(page, "Approve").click()


async def choice(page: Page) -> None:
    await page.get_by_label("eu-west-1").check()
    await page.get_by_label("Other (your own answer)").fill("eu-central-2")
    await page.get_by_label("Justification").fill("Closest to the users")
    await button(page, "Choose").click()


async def text_input(page: Page) -> None:
    await page.get_by_label("Your text").fill("Add rate limiting to the login endpoint")
    await button(page, "Send").click()


async def edit(page: Page) -> None:
    await page.get_by_label("Edited content").fill("Dear team,\nThe pipeline is DOWN.\nThanks")
    await page.get_by_label("What you changed").fill("Said it plainly\nCapitals")
    await button(page, "Send the edit").click()


async def conversation(page: Page) -> None:
    await page.get_by_label("Your reply").fill("Start with three services.")
    await page.get_by_label("Follow-up questions").fill("Which database?")
    await button(page, "Reply and continue").click()


async def form(page: Page) -> None:
    await page.get_by_label("Service name").fill("payments")
    await page.get_by_label("Tier").select_option("gold")
    await page.get_by_role("group", name=re.compile("^Public")).get_by_label("Yes").check()
    await page.get_by_label("Launch date").fill("2026-12-01")
    await button(page, "Submit").click()


async def clarify(page: Page) -> None:
    await page.get_by_label("intermediate").check()
    await page.get_by_label(re.compile("^Question 2 of 2")).fill("Skip the history")
    await button(page, "Send the answers").click()


async def confirmation(page: Page) -> None:
    await page.get_by_label("Feedback").fill("Target expert developers")
    await button(page, "Ask for a revision").click()


async def preview(page: Page) -> None:
    await button(page, "Proceed").click()


async def validation(page: Page) -> None:
    await page.get_by_label("Feedback").fill("Add a troubleshooting section")
    await button(page, "Ask for refinement").click()


async def batch(page: Page) -> None:
    everything = page.get_by_role("group", name=re.compile("^For every item"))
    await everything.get_by_label("Approve").check()
    await page.get_by_role("group", name=re.compile("^Item 2")).get_by_label("Reject").check()
    await page.get_by_label("Note on Refund 900 EUR").fill("Needs a manager")
    await button(page, "Send the decisions").click()


FORM_FIELDS = [
    {
        "name": "service",
        "label": "Service name",
        "type": "string",
        "required": True,
        "max_length": 64,
    },
    {
        "name": "replicas",
        "label": "Replicas",
        "type": "integer",
        "minimum": 1,
        "maximum": 20,
        "default": 2,
    },
    {
        "name": "tier",
        "label": "Tier",
        "type": "enum",
        "options": ["gold", "silver"],
        "required": True,
    },
    {"name": "public", "label": "Public", "type": "boolean"},
    {"name": "launch", "label": "Launch date", "type": "date"},
    {"name": "notes", "label": "Notes", "type": "text", "max_length": 500},
]

CASES = [
    Case(
        "approval",
        {"prompt": "Approve the Q1 budget?", "context": {"amount": 50000, "team": "Eng"}},
        approval,
        "approve",
        {"reason": "Within budget"},
    ),
    Case(
        "choice",
        {
            "prompt": "Which regions get the canary?",
            "options": ["eu-west-1", "us-east-1", "ap-south-1"],
            "multiple": True,
            "max_selections": 2,
            "allow_other": True,
        },
        choice,
        "choose",
        {
            "choices": [1],
            "values": ["eu-west-1"],
            "other": "eu-central-2",
            "justification": "Closest to the users",
        },
    ),
    Case(
        "text_input",
        {"prompt": "Any extra requirements?", "max_length": 500},
        text_input,
        "respond",
        {"text": "Add rate limiting to the login endpoint"},
    ),
    Case(
        "edit",
        {
            "prompt": "Edit the alert",
            "content": "Dear team,\nThe pipeline has an anomaly.\nThanks",
            "content_type": "alert_message",
        },
        edit,
        "edit",
        {
            "edited": "Dear team,\nThe pipeline is DOWN.\nThanks",
            "changes": ["Said it plainly", "Capitals"],
        },
    ),
    Case(
        "conversation",
        {
            "prompt": "How should we split the monolith?",
            "transcript": [
                {"role": "agent", "text": "Let's discuss the architecture."},
                {"role": "human", "text": "Sure."},
            ],
        },
        conversation,
        "respond",
        {
            "message": "Start with three services.",
            "follow_up_questions": ["Which database?"],
            "continue": True,
        },
    ),
    Case(
        "form",
        {"prompt": "Register the new service.", "fields": FORM_FIELDS},
        form,
        "submit",
        {
            "answers": {
                "service": "payments",
                "replicas": 2,
                "tier": "gold",
                "public": True,
                "launch": "2026-12-01",
            }
        },
    ),
    Case(
        "clarify",
        {
            "prompt": "A few questions before I start.",
            "rationale": "Resolve ambiguities",
            "questions": [
                {
                    "key": "level",
                    "question": "What level of detail?",
                    "options": ["beginner", "intermediate", "advanced"],
                    "rationale": "Target audience",
                },
                {"question": "Any topic to leave out?"},
            ],
        },
        clarify,
        "answer",
        {"answers": {"level": "intermediate", "2": "Skip the history"}},
    ),
    Case(
        "confirmation",
        {
            "prompt": "Proceed?",
            "summary": "Skill: Python async\nTarget: intermediate",
            "path": "skills/python/async",
            "key_assumptions": ["Knows Python"],
            "confidence": 0.85,
        },
        confirmation,
        "revise",
        {"feedback": "Target expert developers"},
    ),
    Case(
        "preview",
        {
            "prompt": "Looks good?",
            "content": "## Overview\nasync/await lets one thread wait.",
            "highlights": ["Clear"],
            "potential_issues": ["Few error examples"],
        },
        preview,
        "proceed",
    ),
    Case(
        "validation",
        {
            "prompt": "Accept?",
            "report": "Status: PASSED\nAll checks passed",
            "passed": True,
            "validation_score": 0.95,
        },
        validation,
        "refine",
        {"feedback": "Add a troubleshooting section"},
    ),
    Case(
        "batch",
        {
            "prompt": "Review these refunds",
            "items": [
                {"id": "r-1", "title": "Refund 20 EUR"},
                {"id": "r-2", "title": "Refund 900 EUR", "details": {"customer": "c-9"}},
                {"id": "r-3", "title": "Refund 15 EUR"},
            ],
        },
        batch,
        "decide",
        {
            "decisions": {"r-1": "approve", "r-2": "reject", "r-3": "approve"},
            "notes": {"r-2": "Needs a manager"},
        },
    ),
]
