"""What happens to a request between validation and routing, in this order: stored-prompt
resolution, variable substitution, knowledge retrieval. The cache and the router then see the
final messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from waystation.core.call import ChatCall
from waystation.errors import UnsupportedFeature
from waystation.observe.trace import Trace
from waystation.prompts.stored import PromptResolver, apply_prompt
from waystation.prompts.variables import mask, substitute_messages

Retrieval = Callable[[ChatCall, Trace], Awaitable[None]]  # knowledge.retrieve.ChatRetrieval


class Preparer:
    def __init__(self, prompts: PromptResolver | None = None,
                 knowledge: Retrieval | None = None) -> None:
        self._prompts = prompts
        self._knowledge = knowledge

    async def prepare(self, call: ChatCall, trace: Trace) -> None:
        if call.prompt_id is not None:
            await apply_prompt(call, trace, self._prompts)
        variables = call.variables
        result = substitute_messages(call.body["messages"], variables)
        if variables or result.missing:
            trace.extra["variables"] = result.report(variables)
        if call.knowledge:
            if self._knowledge is None:
                raise UnsupportedFeature("This gateway has no knowledge engine.",
                                         param="orq.knowledge_bases")
            await self._knowledge(call, trace)
        trace.request = call.body


def seal(trace: Trace, call: ChatCall | None) -> None:
    """Mask the values of PII variables wherever they appear in what the trace keeps."""
    if call is None or not call.variables.pii:
        return
    secrets = [call.variables.values[name] for name in call.variables.pii]
    trace.request = mask(trace.request, secrets)
    trace.response = mask(trace.response, secrets)
    trace.response_json = None  # what was sent holds the values: the masked copy is stored
    trace.error = mask(trace.error, secrets)
