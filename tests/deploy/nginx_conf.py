"""deploy/nginx/nginx.conf.template, rendered and read as nginx reads it: the helpers of
test_nginx_config.py (and of any later test that runs the proxy, e.g. with slow clients).

`render` replaces exactly the template's variables, as `envsubst '${LISTEN} ${UPSTREAM}'` and
the nginx image's 20-envsubst-on-templates.sh (with NGINX_ENVSUBST_FILTER) do, and leaves
nginx's own `$variables` alone. `parse` reads the directive tree: nginx's grammar is words
separated by blanks, `;` ending a directive, `{ }` a block, `#` a comment, quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "nginx.conf.template"
VARIABLES = ("LISTEN", "UPSTREAM")


def render(listen: str, upstream: str, template: Path = TEMPLATE) -> str:
    text = template.read_text()
    values = {"LISTEN": listen, "UPSTREAM": upstream}
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", text)
    if left:
        raise ValueError(f"variables the renderer does not know: {sorted(set(left))}")
    return text


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None
    parents: tuple[str, ...] = field(default=())

    def children(self, name: str) -> list[Directive]:
        return [d for d in self.block or [] if d.name == name]


_TOKEN = re.compile(
    r"""\s+|#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#]+)"""
)


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"cannot read nginx config at {text[pos : pos + 40]!r}")
        pos = match.end()
        double, single, punct, word = match.groups()
        if double is not None or single is not None:
            tokens.append(double if double is not None else single)
        elif punct or word:
            tokens.append(punct or word)
    return tokens


def parse(text: str) -> list[Directive]:
    tokens = _tokens(text)
    position = 0

    def block(parents: tuple[str, ...]) -> list[Directive]:
        nonlocal position
        directives: list[Directive] = []
        words: list[str] = []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token == ";":
                directives.append(Directive(words[0], words[1:], None, parents))
                words = []
            elif token == "{":
                name = words[0]
                directives.append(Directive(name, words[1:], block((*parents, name)), parents))
                words = []
            elif token == "}":
                if words:
                    raise ValueError(f"directive without ';' before '}}': {words}")
                return directives
            else:
                words.append(token)
        if words or parents:
            raise ValueError("unexpected end of the configuration")
        return directives

    return block(())


def walk(directives: list[Directive]):
    for directive in directives:
        yield directive
        if directive.block is not None:
            yield from walk(directive.block)
