"""The bar chart of ``fastframe bench --plot``: median frames/s of every contender,
with the slowest and fastest window as an error bar, one panel per payload size.
Needs matplotlib (the ``fastframe[plot]`` extra)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .contenders import TLS
from .table import facts_lines, heading, rows, si

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# fastframe's contenders on the compiled core in blues, on the pure-Python twin in
# oranges (in each, aio lighter, anyio lighter still), the peers in grey
COLOURS = {
    "FramedSocket, compiled": "#1f4e99",
    "aio, compiled": "#5b8fd6",
    "anyio, compiled": "#9cbfeb",
    "FramedSocket, twin": "#a34a00",
    "aio, twin": "#e0801f",
    "anyio, twin": "#f5bd80",
    "peers": "#9a9a9a",
}
_FAMILIES = {"fastframe": "FramedSocket", "aio": "aio", "anyio": "anyio"}
_CORES = {"cython": "compiled", "python": "twin"}


def kind(name: str) -> str:
    """The key of ``name``'s colour: fastframe's front end and core, or "peers"."""
    family, _, rest = name.removeprefix(TLS).partition("-")  # over TLS: as in the clear
    core = rest.partition(".")[0]
    if family in _FAMILIES and core in _CORES:
        return f"{_FAMILIES[family]}, {_CORES[core]}"
    return "peers"


def figure(results: dict[str, Any]) -> Figure:
    """The chart of the results' groups (matplotlib's Agg backend: no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    groups = [g for g in results["groups"] if rows(g)]
    panels = max(1, len(groups))
    drawn = {kind(row.contender) for g in groups for row in rows(g)}
    handles = [Patch(color=c, label=k) for k, c in COLOURS.items() if k in drawn]
    columns = 2 if panels == 1 else 4  # of the legend, as many as the width takes
    legend = 0.3 + 0.2 * math.ceil(len(handles) / columns)  # inches
    height = (max(len(rows(g)) for g in groups) * 0.28 if groups else 0) + 1.6 + legend
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, height), squeeze=False)
    for ax, group in zip(axes[0], groups):
        measured = rows(group)
        names = [row.contender for row in measured]
        speeds = [row.frames_per_s / 1e6 for row in measured]
        below = [(row.frames_per_s - row.frames_range[0]) / 1e6 for row in measured]
        above = [(row.frames_range[1] - row.frames_per_s) / 1e6 for row in measured]
        ax.barh(
            names,
            speeds,
            color=[COLOURS[kind(name)] for name in names],
            xerr=[below, above],
            error_kw={"ecolor": "#333333", "elinewidth": 0.8, "capsize": 2},
        )
        ax.invert_yaxis()  # the table's order, top down
        ax.set_title(heading(group))
        ax.set_xlabel("M frames/s: median, slowest to fastest window", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        for y, row in enumerate(measured):
            ax.annotate(
                si(row.frames_per_s),
                (row.frames_range[1] / 1e6, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        ax.margins(x=0.18)
    fig.legend(handles=handles, loc="lower center", ncol=columns, fontsize=8)
    fig.suptitle("\n".join(facts_lines(results["facts"])), fontsize=7)
    fig.tight_layout(rect=(0, legend / height, 1, 1))
    return fig


def save(results: dict[str, Any], path: str) -> None:
    """Draws the results' receive groups into ``path`` (PNG, or what its suffix says)."""
    import matplotlib.pyplot as plt

    fig = figure(results)
    fig.savefig(path, dpi=120)
    plt.close(fig)
