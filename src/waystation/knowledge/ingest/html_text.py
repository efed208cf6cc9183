"""The readable text of an HTML page: scripts, styles and page furniture dropped, block
elements on lines of their own, inline elements flowing within their line.

A page with a `<main>` (or a single `<article>`) is reduced to it; otherwise navigation,
headers, footers and asides go, since in a knowledge base they are the same noise repeated on
every page of a site.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

_DROP = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "object",
         "head", "form", "button", "select")
_FURNITURE = ("nav", "header", "footer", "aside")
_BLOCK = frozenset({
    "p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "table",
    "tr", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "figure",
    "figcaption", "address", "details", "summary", "body", "html", "td", "th", "caption",
})
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
                         "blockquote", "pre", "section", "article"})
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BREAKS = re.compile(r"[ \t]*[\x00\x01][\x00\x01 \t]*")
_LINE, _PARA = "\x00", "\x01"  # break markers, resolved after the walk


def html_to_text(markup: str) -> tuple[str, str | None]:
    """(text, title) of a page."""
    tree = LexborHTMLParser(markup)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else None
    root: LexborNode | None = tree.css_first("main")
    if root is None:
        articles = tree.css("article")
        root = articles[0] if len(articles) == 1 else tree.body
    if root is None:
        return "", title
    for node in root.css(", ".join(_DROP)):
        node.decompose()
    if root.tag != "main":
        for node in root.css(", ".join(_FURNITURE)):
            node.decompose()
    parts: list[str] = []
    _walk(root, parts)
    text = _BREAKS.sub(lambda m: "\n\n" if _PARA in m.group() else "\n", "".join(parts))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip(), title


def _walk(root: LexborNode, parts: list[str]) -> None:
    """Depth-first with an explicit stack (deeply nested pages must not hit the recursion
    limit); a block element opens and closes with a line break, a paragraph-like one with a
    blank line (adjacent breaks merge into the larger), so the chunker can cut there."""
    stack: list[LexborNode | str] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        if item.tag == "-text":
            parts.append((item.text(deep=False) or "").replace("\n", " "))
            continue
        if item.tag in ("-comment", "!doctype"):
            continue
        brk = _PARA if item.tag in _PARAGRAPHS else _LINE if item.tag in _BLOCK else ""
        if item.tag in ("td", "th"):
            brk = " "
        parts.append(brk)
        if item.tag not in ("br", "td", "th"):
            stack.append(brk)
        stack.extend(reversed(list(item.iter(include_text=True))))
