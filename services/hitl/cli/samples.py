"""A sample request per kind, and the answer ``hitl demo --auto`` gives it (from the seeds)."""

from typing import Any

Sample = tuple[dict[str, Any], str, dict[str, Any]]  # request fields, action, answer data

SAMPLES: dict[str, Sample] = {
    "approval": (
        {
            "prompt": "Please review and approve this budget proposal.",
            "context": {
                "proposal_amount": 50000,
                "department": "Engineering",
                "quarter": "Q1 2024",
            },
        },
        "approve",
        {"reason": "Within the allocated budget"},
    ),
    "choice": (
        {
            "prompt": "Select the deployment environment for this application:",
            "options": [
                "Production (us-east-1)",
                "Staging (us-west-2)",
                "Development (local)",
                "Cancel deployment",
            ],
            "context": {"application": "payment_service", "version": "v2.1.0"},
        },
        "choose",
        {"choice": 2, "justification": "Staging first for additional testing"},
    ),
    "text_input": (
        {
            "prompt": "Please provide additional requirements for this feature:",
            "context": {"feature_name": "User Authentication"},
        },
        "respond",
        {"text": "Add social login and rate limiting for login attempts."},
    ),
    "edit": (
        {
            "prompt": "Please review and edit this generated content for clarity and accuracy.",
            "content": "The system has detected an anomaly in the data processing pipeline...",
            "content_type": "alert_message",
        },
        "edit",
        {
            "edited": "The data processing pipeline has detected an anomaly that requires "
            "immediate attention...",
            "changes": ["Added urgency indicator", "Clarified technical details"],
        },
    ),
    "conversation": (
        {
            "prompt": "What are your thoughts on the proposed microservices approach?",
            "context": {"project": "E-commerce Platform", "team_size": 8},
        },
        "respond",
        {
            "message": "Start with user management, catalog and orders.",
            "follow_up_questions": ["What database strategy should we use?"],
        },
    ),
    "form": (
        {
            "prompt": "Register the new service.",
            "fields": [
                {"name": "service", "type": "string", "required": True, "max_length": 64},
                {"name": "replicas", "type": "integer", "minimum": 1, "maximum": 20, "default": 2},
                {"name": "tier", "type": "enum", "options": ["gold", "silver"], "required": True},
                {"name": "launch", "type": "date"},
            ],
        },
        "submit",
        {"answers": {"service": "payments", "tier": "gold", "launch": "2026-12-01"}},
    ),
    "clarify": (
        {
            "prompt": "A few questions before I start.",
            "questions": "1. What level of detail should this skill cover?\n"
            "2. Should it include exercises?",
            "rationale": "Need to understand the target audience",
        },
        "answer",
        {"answers": {"1": "Intermediate, with practical examples", "2": "yes"}},
    ),
    "confirmation": (
        {
            "prompt": "Proceed with this plan?",
            "summary": "Skill: Python async programming\nTarget: intermediate developers",
            "path": "technical_skills/python/async",
            "key_assumptions": ["Users know basic Python syntax"],
            "confidence": 0.85,
        },
        "proceed",
        {},
    ),
    "preview": (
        {
            "prompt": "Looks good?",
            "content": "## Overview\nPython async/await provides...",
            "highlights": ["Clear explanations of async/await"],
            "potential_issues": ["Could add more error handling examples"],
        },
        "refine",
        {"feedback": "Add a troubleshooting section"},
    ),
    "validation": (
        {
            "prompt": "Accept?",
            "report": "Status: PASSED\nAll checks passed",
            "passed": True,
            "validation_score": 0.95,
        },
        "proceed",
        {},
    ),
    "batch": (
        {
            "prompt": "Please review this batch of refunds:",
            "items": [
                {"id": "r-1", "title": "Refund 20 EUR", "details": {"order": 1001}},
                {"id": "r-2", "title": "Refund 900 EUR", "details": {"order": 1002}},
                {"id": "r-3", "title": "Refund 15 EUR", "details": {"order": 1003}},
            ],
        },
        "decide",
        {"all": "approve", "decisions": {"r-2": "reject"}, "notes": {"r-2": "Needs a manager"}},
    ),
}
