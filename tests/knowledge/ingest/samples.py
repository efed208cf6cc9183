"""Small sample documents of each kind, made by the tests (deterministically) rather than
checked in as binaries: a hand-written two-page PDF, a DOCX made with python-docx, HTML,
Markdown, CSV and plain text."""

from __future__ import annotations

import io


def pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (correct xref offsets)."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
                       f"<< /Font << /F1 {font_id} 0 R >> >> /Contents {4 + 2 * i} 0 R >>"
                       .encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content
                       + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def docx() -> bytes:
    from docx import Document

    document = Document()
    document.add_heading("Travel policy", level=1)
    document.add_paragraph("Employees book economy class for flights under six hours.")
    document.add_paragraph("Hotels must be booked through the travel desk.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Region", "Daily limit"
    table.cell(1, 0).text, table.cell(1, 1).text = "Europe", "150 EUR"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


HTML = b"""<!doctype html><html><head><title>Returns</title>
<style>body { color: red }</style><script>track("visit")</script></head>
<body><nav><a href="/">Home</a> | <a href="/shop">Shop</a></nav>
<h1>Returns policy</h1>
<p>You may return any item within <b>30 days</b> of delivery.</p>
<ul><li>Keep the receipt.</li><li>Use the original box.</li></ul>
<script>alert("x")</script><footer>Copyright 2024 Example Ltd</footer></body></html>"""

MARKDOWN = b"""---
title: Setup
---
# Installing

Run `pip install waystation` and then **start** the [server](https://example.com/docs).

## Configuration

> Set WAYSTATION_HOME first.

```bash
waystation serve
```
"""

CSV = b"""product,price,stock
Kettle,29.90,12
Toaster,,0
,,
Blender,54.00,3
"""

TEXT = (b"Waystation is a gateway. It routes requests to providers! Does it cache answers? "
        b"Yes, it does.\n\nA second paragraph follows here, with more words in it.\n")
