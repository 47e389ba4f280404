"""States this broker created or committed, kept so that an answer usually needs no Redis read.

Only an optimisation: a cached state may be stale (another replica changed the interaction), and
then the compare-and-set commit fails on its version and the caller reloads from Redis. Final
states never change, so a cached outcome is always right.
"""

from collections import OrderedDict
from uuid import UUID

from hitl.core.machine import InteractionState


class StateCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._states: OrderedDict[UUID, InteractionState] = OrderedDict()

    def get(self, interaction_id: UUID) -> InteractionState | None:
        state = self._states.get(interaction_id)
        if state is not None:
            self._states.move_to_end(interaction_id)
        return state

    def put(self, state: InteractionState) -> None:
        if self._size <= 0:
            return
        self._states[state.request.id] = state
        self._states.move_to_end(state.request.id)
        if len(self._states) > self._size:
            self._states.popitem(last=False)

    def drop(self, interaction_id: UUID) -> None:
        self._states.pop(interaction_id, None)
