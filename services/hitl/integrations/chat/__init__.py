"""Chat apps over hitl (seed 004): block a thread's new messages while it waits on a person
(``ThreadGate``), send the person's form, "use your best judgement" or cancel from the chat and
read back each field's error (``ChatAnswers``), in the person's language (``Catalogue``)."""

from hitl.integrations.chat.answers import Answered, ChatAnswers, FieldError, field_errors
from hitl.integrations.chat.catalogue import Catalogue
from hitl.integrations.chat.gate import ThreadGate

__all__ = ["Answered", "Catalogue", "ChatAnswers", "FieldError", "ThreadGate", "field_errors"]
