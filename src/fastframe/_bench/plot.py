"""The bar chart of ``fastframe bench --plot``: median frames/s of every contender,
one panel per payload size.  Needs matplotlib (the ``fastframe[plot]`` extra)."""

from __future__ import annotations

from typing import Any

from .contenders import TLS
from .table import facts_lines, heading, rows, si

# fastframe's contenders in blues (aio lighter, anyio lighter still), the peers in grey
COLOURS = {
    "fastframe.FramedSocket": "#1f4e99",
    "fastframe.aio": "#5b8fd6",
    "fastframe.anyio": "#9cbfeb",
    "peers": "#9a9a9a",
}


def _kind(name: str) -> str:
    name = name.removeprefix(TLS)  # over TLS: coloured as in the clear
    if name.startswith("fastframe-"):
        return "fastframe.FramedSocket"
    if name.startswith("aio-"):
        return "fastframe.aio"
    if name.startswith("anyio-") and not name.startswith("anyio-handwritten"):
        return "fastframe.anyio"
    return "peers"


def save(results: dict[str, Any], path: str) -> None:
    """Draws the results' receive groups into ``path`` (PNG, or what its suffix says)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    groups = [g for g in results["groups"] if rows(g)]
    height = max(len(rows(g)) for g in groups) * 0.28 + 1.6 if groups else 2
    fig, axes = plt.subplots(
        1, max(1, len(groups)), figsize=(5.2 * max(1, len(groups)), height), squeeze=False
    )
    for ax, group in zip(axes[0], groups):
        measured = rows(group)
        names = [row.contender for row in measured]
        speeds = [row.frames_per_s / 1e6 for row in measured]
        ax.barh(names, speeds, color=[COLOURS[_kind(name)] for name in names])
        ax.invert_yaxis()  # the table's order, top down
        ax.set_title(heading(group))
        ax.set_xlabel("M frames/s (median)")
        ax.tick_params(axis="y", labelsize=8)
        for y, row in enumerate(measured):
            ax.annotate(
                si(row.frames_per_s),
                (row.frames_per_s / 1e6, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        ax.margins(x=0.18)
    handles = [Patch(color=c, label=k) for k, c in COLOURS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle("\n".join(facts_lines(results["facts"])), fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
