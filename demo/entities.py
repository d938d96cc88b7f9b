"""Telegram message formatting: parse modes to (text, entities), and auto-detected entities.

Telegram never stores markup: it strips HTML/Markdown into plain text plus a list of
MessageEntity dicts whose offsets count UTF-16 code units. The stand-in does the same so a
bot sees exactly what it would see in production, including the 400 "can't parse entities"
errors a badly escaped MarkdownV2 or an unsupported HTML tag causes there.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

Entity = dict[str, Any]


class EntityParseError(ValueError):
    """The text could not be parsed with its parse_mode (Telegram answers 400)."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, char_index: int) -> int:
    return len(text[:char_index].encode("utf-8"))


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Strip `text` according to `parse_mode` (None, "HTML", "MarkdownV2", "Markdown")."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise EntityParseError(f"Unsupported parse_mode: {parse_mode}")


# --------------------------------------------------------------------------- HTML

_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}


class _HtmlToEntities(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[Entity] = []
        # Open tags: (tag name, start offset, entity or None when the tag makes none).
        self.stack: list[tuple[str, int, Entity | None]] = []

    def _offset_here(self) -> int:
        line, col = self.getpos()
        return _byte_offset(self.source, self._line_starts[line - 1] + col)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        entity: Entity | None
        if tag in _HTML_SIMPLE:
            entity = {"type": _HTML_SIMPLE[tag]}
            # <pre><code class="language-x"> is one pre entity with a language, not two.
            if tag == "code" and self.stack and self.stack[-1][0] == "pre":
                language = (attr.get("class") or "").removeprefix("language-")
                pre = self.stack[-1][2]
                if pre is not None and language:
                    pre["language"] = language
                entity = None
        elif tag == "span":
            if attr.get("class") != "tg-spoiler":
                raise EntityParseError(
                    f'Unsupported start tag "span" at byte offset {self._offset_here()}'
                )
            entity = {"type": "spoiler"}
        elif tag == "a":
            href = attr.get("href") or ""
            match = re.fullmatch(r"tg://user\?id=(\d+)", href)
            if match:
                entity = {"type": "text_mention", "user": {"id": int(match.group(1)),
                                                           "is_bot": False, "first_name": ""}}
            elif href:
                entity = {"type": "text_link", "url": href}
            else:
                entity = None
        elif tag == "blockquote":
            entity = {"type": "expandable_blockquote" if "expandable" in attr else "blockquote"}
        elif tag == "tg-emoji":
            entity = {"type": "custom_emoji", "custom_emoji_id": attr.get("emoji-id", "")}
        else:
            raise EntityParseError(
                f'Unsupported start tag "{tag}" at byte offset {self._offset_here()}'
            )
        self.stack.append((tag, self.pos, entity))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Telegram has no self-closing tags (<br/> is the classic production failure).
        raise EntityParseError(
            f'Unsupported start tag "{tag}" at byte offset {self._offset_here()}'
        )

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise EntityParseError(
                f'Unexpected end tag at byte offset {self._offset_here()}'
            )
        open_tag, start, entity = self.stack[-1]
        if open_tag != tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {self._offset_here()}, '
                f'expected "</{open_tag}>", found "</{tag}>"'
            )
        self.stack.pop()
        if entity is not None and self.pos > start:
            entity.update(offset=start, length=self.pos - start)
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.pos += utf16_len(data)


def parse_html(source: str) -> tuple[str, list[Entity]]:
    parser = _HtmlToEntities(source)
    parser.feed(source)
    parser.close()
    if parser.stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{parser.stack[-1][0]}"'
        )
    return "".join(parser.parts), _sorted(parser.entities)


# --------------------------------------------------------------------------- MarkdownV2

_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}


def parse_markdown_v2(src: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    pos = 0  # UTF-16 offset in the output
    entities: list[Entity] = []
    stack: list[tuple[str, int, int]] = []  # (entity type, output offset, source index)
    quote_start: int | None = None
    i, n = 0, len(src)

    def emit(chunk: str) -> None:
        nonlocal pos
        out.append(chunk)
        pos += utf16_len(chunk)

    def toggle(kind: str) -> None:
        if stack and stack[-1][0] == kind:
            _, start, _ = stack.pop()
            if pos > start:
                entities.append({"type": kind, "offset": start, "length": pos - start})
        else:
            stack.append((kind, pos, i))

    while i < n:
        ch = src[i]
        at_line_start = i == 0 or src[i - 1] == "\n"
        if ch == "\\" and i + 1 < n and 0 < ord(src[i + 1]) < 127:
            emit(src[i + 1])
            i += 2
            continue
        if at_line_start and ch == ">":
            if quote_start is None:
                quote_start = pos
            i += 1
            continue
        if at_line_start and src.startswith("**>", i):
            if quote_start is None:
                quote_start = pos
            i += 3
            continue
        if ch == "\n" and quote_start is not None and not src.startswith(">", i + 1):
            if pos > quote_start:
                entities.append({"type": "blockquote", "offset": quote_start,
                                 "length": pos - quote_start})
            quote_start = None
        if ch == "`":
            fence = src.startswith("```", i)
            opener = "```" if fence else "`"
            j = i + len(opener)
            body: list[str] = []
            while j < n and not src.startswith(opener, j):
                if src[j] == "\\" and j + 1 < n and src[j + 1] in "`\\":
                    body.append(src[j + 1])
                    j += 2
                else:
                    body.append(src[j])
                    j += 1
            if j >= n:
                raise EntityParseError(
                    f"Can't find end of {'Pre' if fence else 'Code'} entity at byte offset "
                    f"{_byte_offset(src, i)}"
                )
            text = "".join(body)
            entity: Entity = {"type": "pre" if fence else "code"}
            if fence:
                first, newline, rest = text.partition("\n")
                if newline and first and " " not in first:
                    entity["language"] = first
                    text = rest
            start = pos
            emit(text)
            if pos > start:
                entity.update(offset=start, length=pos - start)
                entities.append(entity)
            i = j + len(opener)
            continue
        if src.startswith("||", i):
            toggle("spoiler")
            i += 2
            continue
        if src.startswith("__", i):
            toggle("underline")
            i += 2
            continue
        if ch in "*_~":
            toggle({"*": "bold", "_": "italic", "~": "strikethrough"}[ch])
            i += 1
            continue
        if ch == "[" or src.startswith("![", i):
            stack.append(("text_link", pos, i))
            i += 2 if ch == "!" else 1
            continue
        if ch == "]" and stack and stack[-1][0] == "text_link":
            if not src.startswith("(", i + 1):
                raise EntityParseError(
                    "Character ']' is reserved and must be escaped with the preceding '\\'"
                )
            j = i + 2
            url: list[str] = []
            while j < n and src[j] != ")":
                if src[j] == "\\" and j + 1 < n:
                    url.append(src[j + 1])
                    j += 2
                else:
                    url.append(src[j])
                    j += 1
            if j >= n:
                raise EntityParseError(
                    f"Can't find end of a url at byte offset {_byte_offset(src, i + 1)}"
                )
            _, start, src_index = stack.pop()
            link = "".join(url)
            if pos > start and not src.startswith("!", src_index):
                entities.append({"type": "text_link", "offset": start,
                                 "length": pos - start, "url": link})
            i = j + 1
            continue
        if ch in _MD2_RESERVED:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(ch)
        i += 1

    if stack:
        kind, _, src_index = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MD2_NAMES.get(kind, kind)} entity at byte offset "
            f"{_byte_offset(src, src_index)}"
        )
    if quote_start is not None and pos > quote_start:
        entities.append({"type": "blockquote", "offset": quote_start,
                         "length": pos - quote_start})
    return "".join(out), _sorted(entities)


# --------------------------------------------------------------------------- legacy Markdown

def parse_markdown(src: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    pos = 0
    entities: list[Entity] = []
    i, n = 0, len(src)
    closers = {"*": "bold", "_": "italic"}

    def emit(chunk: str) -> None:
        nonlocal pos
        out.append(chunk)
        pos += utf16_len(chunk)

    def unclosed(at: int) -> EntityParseError:
        return EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(src, at)}"
        )

    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and src[i + 1] in "*_`[":
            emit(src[i + 1])
            i += 2
            continue
        if ch in closers or ch == "`":
            opener = "```" if src.startswith("```", i) else ch
            end = src.find(opener, i + len(opener))
            if end < 0:
                raise unclosed(i)
            body = src[i + len(opener):end]
            entity: Entity = {"type": closers.get(ch, "pre" if opener == "```" else "code")}
            if opener == "```":
                first, newline, rest = body.partition("\n")
                if newline and first and " " not in first:
                    entity["language"] = first
                    body = rest
            start = pos
            emit(body)
            if pos > start:
                entity.update(offset=start, length=pos - start)
                entities.append(entity)
            i = end + len(opener)
            continue
        if ch == "[":
            close = src.find("](", i)
            end = src.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise unclosed(i)
            start = pos
            emit(src[i + 1:close])
            if pos > start:
                entities.append({"type": "text_link", "offset": start, "length": pos - start,
                                 "url": src[close + 2:end]})
            i = end + 1
            continue
        emit(ch)
        i += 1
    return "".join(out), _sorted(entities)


# --------------------------------------------------------------------------- auto entities

_AUTO_PATTERNS = [
    ("bot_command", re.compile(r"(?<![^\s])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("url", re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")),
    ("hashtag", re.compile(r"(?<![\w#])#\w+")),
]


def auto_entities(text: str) -> list[Entity]:
    """Entities Telegram detects in what a user types (commands, links, mentions, tags)."""
    found: list[Entity] = []
    taken: list[range] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            span = range(match.start(), match.end())
            if any(span.start < t.stop and t.start < span.stop for t in taken):
                continue
            taken.append(span)
            found.append({
                "type": kind,
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            })
    return _sorted(found)
