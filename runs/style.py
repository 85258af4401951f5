"""The figure style for papers: column widths, fonts, and one colour and marker per
mechanism, the same in every study, figure and the live view.

* :data:`SIZES`: a single column (3.4 in) or a double column (7.0 in) of ACM and
  IEEE two-column templates, drawn at :data:`DPI`;
* :func:`figure_style`: the rc parameters of every figure (7-pt text, TrueType fonts
  in PDF and PostScript, text kept as text in SVG: journal checks reject Type 3
  fonts);
* :func:`mechanism_style`: a fixed colour and marker for each registered mechanism;
  a plug-in mechanism gets one from its name's checksum, so it too keeps its colour
  from study to study.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import seaborn as sns

#: Figure widths in inches, by the ``size`` option.
SIZES = {"single": 3.4, "double": 7.0}

#: Panels per row of a grid, by size.
COLUMNS = {"single": 2, "double": 3}

#: Resolution of the PNG files (and of rasterised parts of the PDFs).
DPI = 300

#: The formats :func:`runs.plots.plot_study` can write; PNG and PDF by default.
FORMATS = ("png", "pdf", "svg")

_RC: dict[str, Any] = {
    "font.size": 7,
    "axes.titlesize": 7,
    "axes.labelsize": 7,
    "xtick.labelsize": 6,
    "ytick.labelsize": 6,
    "legend.fontsize": 6.5,
    "legend.title_fontsize": 6.5,
    "figure.titlesize": 8,
    "axes.linewidth": 0.6,
    "grid.linewidth": 0.4,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "patch.linewidth": 0.4,
    "hatch.linewidth": 0.5,
    "xtick.major.width": 0.5,
    "ytick.major.width": 0.5,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "savefig.dpi": DPI,
    "figure.dpi": 100,
}


def check_size(size: str) -> float:
    """The width in inches of ``size``; a ValueError naming it otherwise."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}; got {size!r}")
    return SIZES[size]


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Draw (and save) inside this: seaborn's white grid with the paper rc
    parameters, restored on exit."""
    with sns.axes_style("whitegrid"), mpl.rc_context(_RC):  # type: ignore[arg-type]
        yield


@dataclass(frozen=True)
class MechanismStyle:
    """How a mechanism is drawn: a colour (hex) and a matplotlib marker."""

    colour: str
    marker: str


#: The registered mechanisms' styles: Okabe and Ito's colour-blind-safe colours first.
_FIXED = {
    "nse": MechanismStyle("#000000", "o"),
    "csw_max": MechanismStyle("#0072B2", "s"),
    "csw_max_nse": MechanismStyle("#56B4E9", "D"),
    "dictatorship": MechanismStyle("#D55E00", "^"),
    "random_dictatorship": MechanismStyle("#E69F00", "v"),
    "utilitarian": MechanismStyle("#009E73", "P"),
    "egalitarian": MechanismStyle("#CC79A7", "X"),
    "nash_bargaining": MechanismStyle("#F0E442", "*"),
    "pooled_sse": MechanismStyle("#7F7F7F", "h"),
    "pooled_schedule_sse": MechanismStyle("#8C564B", "p"),
}

#: Colours and markers for other (plug-in) mechanisms, picked by a name's CRC-32.
#: (Paul Tol's indigo, teal, olive, wine and purple: far from the fixed ones.)
_SPARE_COLOURS = ("#332288", "#44AA99", "#999933", "#882255", "#AA4499")
_SPARE_MARKERS = ("<", ">", "d", "8", "H", "1", "2")


def mechanism_style(name: str) -> MechanismStyle:
    """The colour and marker of mechanism ``name``, the same wherever it is drawn."""
    if name in _FIXED:
        return _FIXED[name]
    code = zlib.crc32(name.encode())
    return MechanismStyle(
        _SPARE_COLOURS[code % len(_SPARE_COLOURS)],
        _SPARE_MARKERS[(code // len(_SPARE_COLOURS)) % len(_SPARE_MARKERS)],
    )
