"""The community dashboard: a web channel for staff (aiohttp, server-side HTML and SVG, no assets from
elsewhere). `app(...)` is an aiohttp sub-application the composition root mounts (redgrid/bootstrap.py).

    pages.py     the pages: overview, cases, a case, a grid, party members; sign-in and sign-out
    session.py   sessions in signed cookies, CSRF tokens
    charts.py    the charts (pygal, SVG) and the numbers behind them; a case's position
    html.py      escaping, the page frame, tables
    config.py    what it reads of the settings

It imports core, texts, media, storage and scheduler, never bot/ or wechat/ (tests/test_import_cycles.py).
"""

from dashboard.pages import app

__all__ = ["app"]
