"""The pictures of a session: which variants are worth shipping, and what each costs on disk.

Pareto plot per model: latency (p50, log scale) against the task's main metric (hard AP for
the detector, top-1 for CIFAR — ``TaskDeclaration.main_metric``), one marker shape per engine,
one colour per compression, the non-dominated front drawn (nothing else is both faster and more
accurate), and each variant's stored baseline accuracy as a hollow marker joined to this run's.
Size plot per model: raw and gzip size of each artifact. matplotlib, headless (Agg).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.fonttype"] = "none"   # text stays text: smaller, searchable, selectable
matplotlib.rcParams["svg.hashsalt"] = "compbench"   # the same figure gives the same file
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from compbench.runner.results import VariantResult  # noqa: E402
from compbench.tasks import declaration  # noqa: E402

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")


@dataclass(frozen=True)
class Point:
    label: str          # compression/engine
    compression: str
    engine: str
    latency_ms: float
    accuracy: float
    baseline: float | None   # the stored accuracy this run was gated against


def points(results: list[VariantResult]) -> tuple[str, list[Point]]:
    """(metric label, the results that have both a latency and the main metric)."""
    task = declaration(results[0].variant.model.task)
    metric = task.main_metric
    found = []
    for r in results:
        if r.latency is None or metric not in r.metrics:
            continue
        delta = r.baseline_deltas.get(metric)
        found.append(Point(f"{r.variant.compression}/{r.variant.engine}", r.variant.compression,
                           r.variant.engine, r.latency.p50_ms, r.metrics[metric],
                           None if delta is None else r.metrics[metric] - delta))
    return task.metric(metric).label, found


# Accuracy differences below the report's fourth decimal are float noise between engines
# running one model (the fp32 rows' AP differs by ~1e-5): not a reason to be on the front.
ACCURACY_RESOLUTION = 1e-4


def pareto_front(found: list[Point]) -> list[Point]:
    """Non-dominated points, fastest first: each more accurate than every faster one."""
    front, best = [], float("-inf")
    for p in sorted(found, key=lambda p: (p.latency_ms, -p.accuracy)):
        if p.accuracy > best + ACCURACY_RESOLUTION:
            front.append(p)
            best = p.accuracy
    return front


def pareto_figure(model: str, results: list[VariantResult]) -> Figure | None:
    label, found = points(results)
    if not found:
        return None
    engines = sorted({p.engine for p in found})
    compressions = sorted({p.compression for p in found})
    colours = plt.get_cmap("tab20" if len(compressions) > 10 else "tab10")
    fig, ax = plt.subplots(figsize=(8.5, 5.2), layout="constrained")
    front = pareto_front(found)
    ax.plot([p.latency_ms for p in front], [p.accuracy for p in front], "-", color="0.6",
            zorder=1, label="Pareto front")
    for p in found:
        colour = colours(compressions.index(p.compression))
        marker = MARKERS[engines.index(p.engine) % len(MARKERS)]
        if p.baseline is not None and abs(p.baseline - p.accuracy) > 1e-9:
            ax.plot([p.latency_ms] * 2, [p.baseline, p.accuracy], ":", color=colour, zorder=1)
        if p.baseline is not None:
            ax.scatter([p.latency_ms], [p.baseline], marker=marker, facecolors="none",
                       edgecolors=[colour], s=60, zorder=2)
        ax.scatter([p.latency_ms], [p.accuracy], marker=marker, color=[colour], s=60, zorder=3,
                   edgecolors="black" if p in front else "none", linewidths=0.8)
    # the variants worth shipping, named; neighbours on the front often share an accuracy, so
    # their labels are staggered in three heights
    for i, p in enumerate(sorted(front, key=lambda p: p.latency_ms)):
        ax.annotate(p.label, (p.latency_ms, p.accuracy), xytext=(4, 4 - 9 * (i % 3)),
                    textcoords="offset points", fontsize=7, color="0.25")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("latency p50, batch 1 (ms, log scale)")
    ax.set_ylabel(label)
    ax.set_title(f"{model}: {label} against latency (hollow: stored baseline; outlined: on the front)")
    ax.grid(True, which="both", alpha=0.3)
    handles = [plt.Line2D([], [], linestyle="", marker=MARKERS[i % len(MARKERS)], color="0.3",
                          label=e) for i, e in enumerate(engines)]
    handles += [plt.Line2D([], [], linestyle="", marker="o", color=colours(i), label=c)
                for i, c in enumerate(compressions)]
    handles.append(plt.Line2D([], [], color="0.6", label="Pareto front"))
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def size_figure(model: str, results: list[VariantResult]) -> Figure | None:
    sized = [r for r in results if r.size_bytes]
    if not sized:
        return None
    labels = [f"{r.variant.compression}/{r.variant.engine}" for r in sized]
    fig, ax = plt.subplots(figsize=(8.5, 0.9 + 0.22 * len(sized)), layout="constrained")
    rows = range(len(sized))
    ax.barh([i + 0.2 for i in rows], [r.size_bytes / 1e3 for r in sized], height=0.4, label="raw")
    ax.barh([i - 0.2 for i in rows], [(r.gzip_size_bytes or 0) / 1e3 for r in sized], height=0.4,
            label="gzip")
    ax.set_yticks(list(rows), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("artifact size (KB)")
    ax.set_title(f"{model}: size of each artifact")
    ax.legend(fontsize=7)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def trend_figure(values: list[float | None]) -> Figure | None:
    """A sparkline of the last runs (oldest left, this run the dot), or None with < 2 values."""
    seen = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(seen) < 2:
        return None
    fig = Figure(figsize=(1.4, 0.32))
    ax = fig.add_axes((0, 0.08, 1, 0.84))
    ax.plot([i for i, _ in seen], [v for _, v in seen], "-", color="0.35", linewidth=0.9)
    ax.plot([seen[-1][0]], [seen[-1][1]], "o", color="tab:red", markersize=2.5)
    ax.set_axis_off()
    return fig


def svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]   # drop the XML prolog: the SVG goes inline


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
