"""Small HTML helpers: everything the dashboard prints goes through `e` (escaped) or is built here.

No template engine and no assets from elsewhere: one inline style sheet that fits a phone.
"""

from __future__ import annotations

from html import escape
from typing import Iterable, Sequence

STYLE = """
*{box-sizing:border-box}body{margin:0;font-family:"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
color:#222;background:#f6f6f4;font-size:16px;line-height:1.5}
header{background:#b71c1c;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center}
header a{color:#fff;text-decoration:none}header strong{font-size:1.1rem;margin-right:auto}
main{padding:1rem;max-width:1100px;margin:0 auto}
section{background:#fff;border-radius:8px;padding:.8rem 1rem;margin:0 0 1rem;box-shadow:0 1px 2px #0001}
h1{font-size:1.3rem;margin:.2rem 0 .8rem}h2{font-size:1.1rem;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%;font-size:.95rem}th,td{padding:.3rem .4rem;border-bottom:1px solid #eee;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem}
.figure{background:#fafafa;border:1px solid #eee;border-radius:6px;padding:.5rem}
.figure b{display:block;font-size:1.4rem}.figure span{font-size:.85rem;color:#555}
form.filter{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}
label{display:flex;flex-direction:column;font-size:.85rem}input,select,button{font-size:1rem;padding:.35rem}
button{background:#b71c1c;color:#fff;border:0;border-radius:4px;padding:.45rem .9rem}
.photos{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:.6rem}
.photos figure{margin:0}.photos img{width:100%;border-radius:6px}.muted{color:#777}
.chart svg{max-width:100%;height:auto}details{margin-top:.4rem}.scroll{overflow-x:auto}
.grade{font-size:1.6rem;font-weight:bold}
"""


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, *, nav: Sequence[tuple[str, str]] = (), brand: str = "", lang: str = "zh") -> str:
    links = "".join(f'<a href="{e(href)}">{e(label)}</a>' for label, href in nav)
    return (f'<!doctype html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{e(title)}</title>'
            f"<style>{STYLE}</style></head><body><header><strong>{e(brand)}</strong>{links}</header>"
            f"<main>{body}</main></body></html>")


def table(headings: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = (),
          raw: Sequence[int] = ()) -> str:
    """A table; columns in `numeric` are right-aligned, those in `raw` are HTML already built here."""
    head = "".join(f'<th class="n">{e(h)}</th>' if i in numeric else f"<th>{e(h)}</th>" for i, h in enumerate(headings))
    body = "".join("<tr>" + "".join(
        f'<td{" class=n" if i in numeric else ""}>{cell if i in raw else e(cell)}</td>' for i, cell in enumerate(row))
        + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def link(href: str, label: object) -> str:
    return f'<a href="{e(href)}">{e(label)}</a>'


def section(title: str, inner: str, id_: str = "") -> str:
    anchor = f' id="{e(id_)}"' if id_ else ""
    return f"<section{anchor}><h2>{e(title)}</h2>{inner}</section>"
