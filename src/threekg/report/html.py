"""Assemble the self-contained HTML page: inline CSS, figures as base64 PNG data URIs, no scripts."""

from __future__ import annotations

import base64
import json
from html import escape

from threekg.report.tables import Table

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1300px;margin:24px auto;
padding:0 24px;color:#222;line-height:1.45}
h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:16px;margin-top:20px}
.meta{color:#555;font-size:14px}
.warn{background:#fff4e5;border-left:4px solid #f0a030;padding:8px 12px;margin:12px 0;font-size:14px}
figure{margin:12px 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:14px;color:#444;margin-top:6px;max-width:1100px}
table{border-collapse:collapse;font-size:14px;margin:8px 0}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
table.headline{font-size:16px}table.headline td{padding:6px 12px}
table.perclass{font-size:12px}table.perclass td:nth-child(2){text-align:left}
td b{color:#000}.note{font-size:13px;color:#555}
table.diag td:last-child{white-space:normal;text-align:left;min-width:380px;font-size:13px}
table.config td{white-space:normal;text-align:left;font-family:monospace;font-size:12px}
pre{background:#f7f7f7;padding:8px;font-size:12px;overflow-x:auto}
details summary{cursor:pointer;font-weight:600;margin:8px 0}
"""


def img(png: bytes, alt: str, dpi: float = 150.0) -> str:
    """An ``<img>`` whose source is the PNG itself as a base64 data URI, shown at its physical size
    (``dpi`` pixels per inch -> 96 CSS px per inch, capped at the page width) so every figure's fonts
    appear at the same size."""
    b64 = base64.b64encode(png).decode("ascii")
    width = int.from_bytes(png[16:20], "big") * 96.0 / dpi
    return f'<img src="data:image/png;base64,{b64}" alt="{escape(alt)}" style="width:{width:.0f}px">'


def figure(png: bytes, alt: str, caption: str, dpi: float = 150.0) -> str:
    return f"<figure>{img(png, alt, dpi)}<figcaption>{caption}</figcaption></figure>"


def table(t: Table, css_class: str = "") -> str:
    """Render a :class:`Table`; bold cells in ``<b>``, cell titles as tooltips."""
    out = [f'<table class="{escape(css_class)}">', "<thead>"]
    if t.spans:
        out.append("<tr>" + "".join(f'<th colspan="{n}">{escape(s)}</th>' for s, n in t.spans) + "</tr>")
    out.append("<tr>" + "".join(f"<th>{escape(h)}</th>" for h in t.header) + "</tr></thead><tbody>")
    for row in t.rows:
        cells = []
        for c in row:
            text = f"<b>{escape(c.text)}</b>" if c.bold else escape(c.text)
            title = f' title="{escape(c.title)}"' if c.title else ""
            cells.append(f"<td{title}>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    out += [f'<p class="note">{escape(n)}</p>' for n in t.notes]
    return "\n".join(out)


def pre_json(obj: object) -> str:
    return f"<pre>{escape(json.dumps(obj, indent=2, sort_keys=True, default=str))}</pre>"


def page(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
