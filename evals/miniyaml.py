"""A small YAML reader for `kubectl kustomize` output (stdlib only).

kustomize writes block-style YAML in a canonical form: two-space indentation, sequences
("- ") at the same column as their parent key, plain or quoted scalars, literal/folded
block scalars, `{}`/`[]` for empty collections, `---` between documents and no comments or
anchors. This reader handles that subset (plus simple flow collections and comment lines,
defensively). Every scalar is returned as a string — `null`, `~` and a missing value as
None — so checks compare text, not YAML types.
"""

from __future__ import annotations


class YamlError(ValueError):
    pass


def load_all(text: str) -> list:
    docs, current = [], []
    for line in text.splitlines():
        if line.rstrip() == "---" or line.startswith("--- "):
            docs.append(current)
            current = []
            continue
        current.append(line)
    docs.append(current)
    out = []
    for lines in docs:
        if any(_content(l) for l in lines):
            out.append(_Parser(lines).document())
    return out


def _content(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _split_key(s: str):
    """`key: rest` → (key, rest); None when `s` is not a mapping entry."""
    if not s:
        return None
    if s[0] in "\"'":
        q = s[0]
        i = 1
        while i < len(s):
            if s[i] == q:
                if q == "'" and i + 1 < len(s) and s[i + 1] == "'":
                    i += 2
                    continue
                break
            if q == '"' and s[i] == "\\":
                i += 1
            i += 1
        key, after = _scalar(s[: i + 1]), s[i + 1 :]
        if after.startswith(":") and (len(after) == 1 or after[1] == " "):
            return key, after[1:].strip()
        return None
    if s[0] in "[{":
        return None
    i = 0
    while True:
        j = s.find(":", i)
        if j < 0:
            return None
        if j + 1 == len(s) or s[j + 1] == " ":
            key = s[:j].rstrip()
            if " #" in key:
                return None
            return key, s[j + 1 :].strip()
        i = j + 1


def _strip_comment(s: str) -> str:
    if s and s[0] in "\"'":
        return s
    k = s.find(" #")
    return s if k < 0 else s[:k].rstrip()


def _scalar(s: str):
    s = s.strip()
    if s == "" or s in ("~", "null", "Null", "NULL"):
        return None
    if s.startswith('"') and s.endswith('"') and len(s) >= 2:
        body = s[1:-1]
        esc = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/", "r": "\r", "0": "\0", " ": " "}
        out, i = [], 0
        while i < len(body):
            c = body[i]
            if c == "\\" and i + 1 < len(body):
                n = body[i + 1]
                if n == "u" and i + 6 <= len(body):
                    out.append(chr(int(body[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                out.append(esc.get(n, n))
                i += 2
                continue
            out.append(c)
            i += 1
        return "".join(out)
    if s.startswith("'") and s.endswith("'") and len(s) >= 2:
        return s[1:-1].replace("''", "'")
    if s.startswith("[") and s.endswith("]"):
        inner = s[1:-1].strip()
        return [_scalar(p) for p in _split_flow(inner)] if inner else []
    if s.startswith("{") and s.endswith("}"):
        inner = s[1:-1].strip()
        out = {}
        for p in _split_flow(inner) if inner else []:
            kv = _split_key(p.strip())
            if kv is None:
                raise YamlError(f"cannot read flow mapping entry {p!r}")
            out[kv[0]] = _scalar(kv[1])
        return out
    return s


def _split_flow(s: str) -> list:
    parts, depth, quote, cur = [], 0, None, []
    for c in s:
        if quote:
            cur.append(c)
            if c == quote:
                quote = None
            continue
        if c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(c)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


class _Parser:
    def __init__(self, lines):
        self.lines = list(lines)
        self.i = 0

    def _skip(self):
        while self.i < len(self.lines) and not _content(self.lines[self.i]):
            self.i += 1

    def document(self):
        self._skip()
        if self.i >= len(self.lines):
            return None
        node = self.node(_indent(self.lines[self.i]))
        self._skip()
        if self.i < len(self.lines):
            raise YamlError(f"unexpected line {self.i + 1}: {self.lines[self.i]!r}")
        return node

    def node(self, indent):
        self._skip()
        line = self.lines[self.i]
        s = line.strip()
        if s == "-" or s.startswith("- "):
            return self.sequence(indent)
        if _split_key(s) is not None:
            return self.mapping(indent)
        # A lone scalar (a document that is just a value).
        self.i += 1
        return _scalar(s)

    def mapping(self, indent):
        out = {}
        while True:
            self._skip()
            if self.i >= len(self.lines):
                return out
            line = self.lines[self.i]
            ind, s = _indent(line), line.strip()
            if ind < indent or (ind == indent and (s == "-" or s.startswith("- "))):
                return out
            if ind > indent:
                raise YamlError(f"bad indentation at line {self.i + 1}: {line!r}")
            kv = _split_key(s)
            if kv is None:
                raise YamlError(f"expected `key: value` at line {self.i + 1}: {line!r}")
            key, rest = kv
            self.i += 1
            out[key] = self.value(rest, indent, allow_same_indent_seq=True)

    def value(self, rest, indent, allow_same_indent_seq):
        rest = _strip_comment(rest)
        if rest and rest[0] in "|>":
            return self.block_scalar(rest, indent)
        if rest != "":
            # A plain or quoted scalar, possibly continued on deeper lines.
            parts = [rest]
            while self.i < len(self.lines):
                nxt = self.lines[self.i]
                if nxt.strip() == "":
                    break
                if _indent(nxt) <= indent:
                    break
                parts.append(nxt.strip())
                self.i += 1
            return _scalar(" ".join(parts))
        self._skip()
        if self.i >= len(self.lines):
            return None
        nxt = self.lines[self.i]
        ind, s = _indent(nxt), nxt.strip()
        if ind > indent:
            return self.node(ind)
        if allow_same_indent_seq and ind == indent and (s == "-" or s.startswith("- ")):
            return self.sequence(indent)
        return None

    def sequence(self, indent):
        out = []
        while True:
            self._skip()
            if self.i >= len(self.lines):
                return out
            line = self.lines[self.i]
            ind, s = _indent(line), line.strip()
            if ind != indent or not (s == "-" or s.startswith("- ")):
                if ind > indent:
                    raise YamlError(f"bad indentation at line {self.i + 1}: {line!r}")
                return out
            rest = s[1:].strip()
            if rest == "":
                self.i += 1
                self._skip()
                if self.i < len(self.lines) and _indent(self.lines[self.i]) > indent:
                    out.append(self.node(_indent(self.lines[self.i])))
                else:
                    out.append(None)
                continue
            inner = indent + (len(s) - len(s[1:].lstrip()))
            if rest.startswith("- ") or rest == "-" or (
                _split_key(rest) is not None and rest[:1] not in "[{"
            ):
                # `- key: v` / `- - x`: the item is a collection starting on this line.
                self.lines[self.i] = " " * inner + rest
                out.append(self.node(inner))
                continue
            self.i += 1
            out.append(self.value(rest, indent, allow_same_indent_seq=False))

    def block_scalar(self, header, indent):
        style, chomp = header[0], "clip"
        for c in header[1:]:
            if c == "-":
                chomp = "strip"
            elif c == "+":
                chomp = "keep"
        explicit = next((int(c) for c in header[1:] if c.isdigit()), None)
        raw = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() == "" or _indent(line) > indent:
                raw.append(line)
                self.i += 1
            else:
                break
        # Trailing blank lines belong to the scalar only for chomping.
        block = explicit + indent if explicit else None
        if block is None:
            block = min((_indent(l) for l in raw if l.strip()), default=indent + 2)
        body = [l[block:] if l.strip() else "" for l in raw]
        while body and body[-1] == "" and chomp != "keep":
            body.pop()
        if style == "|":
            text = "\n".join(body)
        else:
            text, prev_blank = "", True
            for l in body:
                if l == "":
                    text += "\n"
                    prev_blank = True
                elif l.startswith(" "):
                    text += ("\n" if text and not text.endswith("\n") else "") + l
                    prev_blank = False
                else:
                    text += ("" if prev_blank or not text else " ") + l
                    prev_blank = False
        if chomp == "strip" or not body:
            return text
        return text + "\n"
