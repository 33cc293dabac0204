"""An input, as the scenario it stands for: its first decision picks the kind
(decoder, encoder or socket), the rest are that scenario's.  ``one_input`` runs
it, ``describe`` tells it in words."""

from __future__ import annotations

from .choices import Choices
from .cores import CORES
from .decoder import decoder_scenario, decoder_setup, run
from .encoder import encoder_scenario
from .findings import show
from .framing import make_framer
from .sockets import describe_sockets, socket_scenario, socket_setup


def scenario_kind(c: Choices) -> str:
    """The first decision: "encoder" (4 in 32), "socket" (7 in 32) or "decoder".

    Its low three bits alone chose between encoder and decoder before the socket
    scenarios came, so that most older inputs still mean what they meant."""
    first = c.int(0, 31)
    if first % 8 == 0:
        return "encoder"
    return "socket" if first > 24 else "decoder"


SCENARIOS = {"encoder": encoder_scenario, "decoder": decoder_scenario, "socket": socket_scenario}


def one_input(data: bytes) -> None:
    """Run the scenario ``data`` stands for; raise Finding if anything is off."""
    c = Choices(data)
    SCENARIOS[scenario_kind(c)](c)


def describe(data: bytes) -> str:
    """The scenario ``data`` stands for, in words (the --show option)."""
    c = Choices(data)
    kind = scenario_kind(c)
    if kind == "encoder":
        return f"encoder scenario: {make_framer(c)!r}"
    if kind == "socket":
        return describe_sockets(socket_setup(c))
    framer, stream, calls = decoder_setup(c)
    lines = [f"framer: {framer!r}", f"stream: {stream!r}", *(f"  {call!r}" for call in calls)]
    for core in CORES:
        lines.append(f"{core.name}:")
        for step in run(core, framer, calls):
            lines.append(f"  {step.call!r} -> {show(step.outcome)}; buffered={step.buffered}")
    return "\n".join(lines)
