"""The community dashboard: a web channel for staff (aiohttp, server-side HTML and SVG, no assets from
elsewhere). `app(...)` is an aiohttp sub-application the composition root mounts (redgrid/bootstrap.py).

    pages.py     the pages: overview, cases, a case, a grid, party members; sign-in and sign-out
    session.py   sessions in signed cookies, CSRF tokens
    charts.py    the charts (pygal, SVG) and the numbers behind them; a case's position
    html.py      escaping, the page frame, tables
    open311.py   Open311 GeoReport v2 (a sub-application of its own, mounted at /open311/v2/)
    config.py    what it reads of the settings

It imports core, texts, media, storage and scheduler, never bot/ or wechat/ (tests/test_import_cycles.py).
"""

from dashboard.open311 import app as open311_app
from dashboard.pages import app

__all__ = ["app", "open311_app"]
