"""Receipts: what the sender of an answer learns of it, on its ``reply_to``.

Every answer that names a ``reply_to`` gets exactly one: ``accepted`` (it decided, or it
matches the decision already taken), ``recorded`` (a vote, no decision yet), ``held`` (its
request has not arrived yet), ``already_resolved`` (too late; the recorded outcome is attached),
or, from ``Refusals``, ``rejected`` / ``unknown_interaction`` with the error. Receipts are not
mandatory: a sender that stopped waiting is no reason to fail.
"""

from hitl.broker.inbound import ReplyTarget
from hitl.ports import Envelope, MessageSink
from hitl_contract import HumanResponse, InteractionOutcome, ReceiptResult, ResponseReceipt
from hitl_contract.wire import RECEIPT_TYPE, encode_model, receipt_message_id


class Receipts:
    def __init__(self, sink: MessageSink) -> None:
        self._sink = sink

    async def answered(
        self,
        reply: ReplyTarget,
        response: HumanResponse,
        result: ReceiptResult,
        outcome: InteractionOutcome | None,
    ) -> None:
        """The receipt of an answer the broker took (or found too late)."""
        receipt = ResponseReceipt(
            interaction_id=response.interaction_id,
            response_id=response.response_id,
            result=result,
            outcome=outcome,
        )
        await self.send(reply, receipt)

    async def send(self, reply: ReplyTarget | None, receipt: ResponseReceipt) -> None:
        if reply is None or not reply.reply_to:
            return
        cid = reply.correlation_id or (str(receipt.response_id) if receipt.response_id else None)
        await self._sink.publish(
            Envelope(
                "",
                reply.reply_to,
                encode_model(receipt),
                RECEIPT_TYPE,
                receipt_message_id(receipt.response_id, receipt.result),
                cid,
                reply.trace.headers() if reply.trace is not None else {},
            ),
            mandatory=False,
        )
