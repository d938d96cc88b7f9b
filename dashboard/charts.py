"""The dashboard's charts, drawn on the server as SVG with pygal, each followed by the numbers behind it.

pygal writes the SVG inline, with the page's CJK fonts; its tooltips would load a script from the
internet, so `js=[]` and its inline settings script is dropped: the browser needs nothing else. A case's position is a small
SVG of our own: the community's buildings as dots, the case in red — no map tiles from elsewhere.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import pygal
from pygal.style import Style

from core.cases import Category
from core.statistics import Charts
from dashboard.html import e, link, section, table
from texts import Translator

FONT = '"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif'
STYLE = Style(font_family=FONT, background="white", plot_background="white", foreground="#333",
              foreground_strong="#222", foreground_subtle="#999", label_font_size=13, major_label_font_size=13,
              legend_font_size=13, title_font_size=15, value_font_size=12,
              colors=("#c62828", "#1565c0", "#2e7d32", "#f9a825", "#6a1b9a", "#00838f", "#ef6c00", "#5d4037",
                      "#546e7a", "#ad1457"))


def _config(**options: Any) -> dict[str, Any]:
    return {"style": STYLE, "js": [], "disable_xml_declaration": True, "width": 760, "height": 360,
            "legend_at_bottom": True, "legend_at_bottom_columns": 4, "print_values": False, **options}


_SCRIPT = re.compile(r"<script.*?</script>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _svg(chart: Any) -> str:
    """The chart's SVG without pygal's inline script (its settings for tooltips we do not load) and comments."""
    svg = _COMMENT.sub("", _SCRIPT.sub("", chart.render(is_unicode=True)))
    return f'<div class="chart">{svg}</div>'


def strip_emoji(label: str) -> str:
    """Category names carry an emoji for the chat; the charts' fonts have none."""
    return label.split(" ", 1)[1] if " " in label and not label[0].isalnum() else label


def weeks_chart(tr: Translator, numbers: Charts) -> tuple[str, str]:
    weeks = sorted({r.week for r in numbers.weeks})
    categories = [c for c in Category if any(r.category == c for r in numbers.weeks)]
    count = {(r.week, r.category): r.count for r in numbers.weeks}
    # pygal measures labels as Latin text: CJK legends need the room given here (2 rows of 5)
    chart = pygal.StackedBar(**_config(title=tr("dash.chart.weeks"), x_title=tr("dash.chart.week_of"), height=420,
                                       legend_at_bottom_columns=5, truncate_legend=-1, margin_bottom=24))
    chart.x_labels = [f"{w:%m-%d}" for w in weeks]
    for category in categories:
        chart.add(strip_emoji(tr(f"category.{category.value}")), [count.get((w, category), 0) for w in weeks])
    rows = [[f"{w:%Y-%m-%d}"] + [count.get((w, c), 0) for c in categories] + [sum(count.get((w, c), 0) for c in categories)]
            for w in weeks]
    numbers_table = table([tr("dash.chart.week_of")] + [strip_emoji(tr(f"category.{c.value}")) for c in categories]
                          + [tr("dash.total")], rows, numeric=range(1, len(categories) + 2))
    return _svg(chart), numbers_table


def bucket_labels(bounds: tuple[int, ...]) -> list[str]:
    edges = (0,) + bounds
    return [f"{a}–{b} h" for a, b in zip(edges, bounds)] + [f"≥ {bounds[-1]} h"]


def closure_chart(tr: Translator, numbers: Charts) -> tuple[str, str]:
    labels = bucket_labels(numbers.bounds_hours)
    chart = pygal.Bar(**_config(title=tr("dash.chart.closure"), show_legend=False))
    chart.x_labels = labels
    chart.add(tr("stats.f.closed"), list(numbers.closure_buckets))
    return _svg(chart), table([tr("dash.chart.time_to_close"), tr("stats.f.closed")],
                              list(zip(labels, numbers.closure_buckets)), numeric=(1,))


def league_chart(tr: Translator, numbers: Charts, url: Callable[..., str]) -> tuple[str, str]:
    league = list(numbers.league)
    widest = max((len(r.grid) for r in league), default=4)
    chart = pygal.HorizontalBar(**_config(title=tr("dash.chart.league"), show_legend=False, range=(0, 100),
                                          height=max(200, 90 + 34 * len(league)), truncate_label=-1,
                                          margin_left=max(0, 14 * widest - 60)))
    ranked = list(reversed(league))  # pygal draws the first value at the bottom
    chart.x_labels = [r.grid for r in ranked]
    chart.add(tr("stats.f.on_time_rate"), [round(r.on_time_rate * 100, 1) if r.on_time_rate is not None else None
                                           for r in ranked])
    rows = [(i + 1, link(url(f"grids/{r.grid_id}"), f"{r.compound} {r.grid}"), r.received, r.closed,
             "—" if r.on_time_rate is None else f"{r.on_time_rate * 100:.1f}%",
             "—" if r.mean_rating is None else f"{r.mean_rating:.2f}", r.open_now) for i, r in enumerate(league)]
    return _svg(chart), table(["#", tr("dash.case.grid"), tr("stats.f.received"), tr("stats.f.closed"),
                               tr("stats.f.on_time_rate"), tr("stats.f.mean_rating"), tr("stats.f.open_now")],
                              rows, numeric=(0, 2, 3, 4, 5, 6), raw=(1,))


def hours_chart(tr: Translator, numbers: Charts) -> tuple[str, str]:
    hours = list(numbers.hours or [])
    chart = pygal.Bar(**_config(title=tr("dash.chart.hours"), show_legend=False))
    chart.x_labels = [f"{h.month:%Y-%m}" for h in hours]
    chart.add(tr("stats.f.hours"), [round(h.hours, 1) for h in hours])
    return _svg(chart), table([tr("dash.month"), tr("stats.f.hours")],
                              [(f"{h.month:%Y-%m}", f"{h.hours:.1f}") for h in hours], numeric=(1,))


def charts_html(tr: Translator, numbers: Charts, url: Callable[..., str], query: dict[str, Any]) -> str:
    """Every chart with its numbers in a table below (open by default on the league)."""
    parts = []
    for key, (svg, numbers_table) in (("weeks", weeks_chart(tr, numbers)), ("closure", closure_chart(tr, numbers)),
                                      ("league", league_chart(tr, numbers, url))):
        parts.append(section(tr(f"dash.chart.{key}"), svg + f"<details{' open' if key == 'league' else ''}>"
                             f"<summary>{e(tr('dash.chart.numbers'))}</summary>{numbers_table}</details>",
                             id_=f"chart-{key}"))
    if numbers.hours is not None:
        svg, numbers_table = hours_chart(tr, numbers)
        parts.append(section(tr("dash.chart.hours"), svg + f"<details><summary>{e(tr('dash.chart.numbers'))}</summary>"
                             f"{numbers_table}</details>", id_="chart-hours"))
    return "".join(parts)


def position_svg(shown: Any, tr: Translator) -> str:
    """Where the case is among the community's buildings: an SVG drawn here, with its coordinates."""
    c = shown.case
    lat = c.lat if c.lat is not None else shown.address.building.lat
    lon = c.lon if c.lon is not None else shown.address.building.lon
    if lat is None or lon is None:
        return f'<p class="muted">{e(tr("dash.case.no_position"))}</p>'
    points = [(b.lat, b.lon, b.name) for b in shown.neighbours] + [(lat, lon, "")]
    south, north = min(p[0] for p in points), max(p[0] for p in points)
    west, east = min(p[1] for p in points), max(p[1] for p in points)
    span_lat, span_lon = max(north - south, 1e-4), max(east - west, 1e-4)
    width, height, pad = 360, 240, 24

    def xy(la: float, lo: float) -> tuple[float, float]:
        return (pad + (lo - west) / span_lon * (width - 2 * pad), pad + (north - la) / span_lat * (height - 2 * pad))

    dots = []
    for b_lat, b_lon, _ in points[:-1]:
        x, y = xy(b_lat, b_lon)
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#90a4ae"/>')
    x, y = xy(lat, lon)
    anchor = "end" if x > width / 2 else "start"
    dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="#c62828" fill-opacity=".85"/>'
                f'<text x="{x + (-12 if anchor == "end" else 12):.1f}" y="{y + 4:.1f}" font-size="13" '
                f'text-anchor="{anchor}" fill="#b71c1c">{e(shown.address.building.name)}</text>')
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'style="background:#f1f3f1;border-radius:6px;max-width:100%;height:auto;font-family:{e(FONT)}">'
            f'{"".join(dots)}</svg><p class="muted">{e(shown.address.full())} · {lat:.5f}, {lon:.5f}</p>')
