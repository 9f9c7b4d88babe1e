"""The chapters' MyST Markdown, rewritten as the CommonMark + math that JupyterLab and Colab render.

``solutions/`` is written in MyST, the book's Markdown: citations (``{cite:p}`key` ``), a
``{bibliography}`` of the chapter's papers and admonitions. JupyterLab and Colab render
CommonMark with ``$math$`` only (Colab cannot load extensions), so there a role shows as raw
text and a bibliography as an empty code block. ``make release`` therefore converts every
Markdown cell of a student edition (:func:`to_commonmark`):

- ``{cite:p}`a,b` `` becomes ``([Vaswani et al., 2017](url); [Devlin et al., 2019](url))``,
  ``{cite:t}`a` `` becomes ``[Vaswani et al. (2017)](url)``: author-year, as the book writes them
  (sphinxcontrib-bibtex's ``author_year`` style), linked to the paper (its ``url``, else its
  ``doi``; no link when the entry has neither);
- an admonition (``{admonition} Title`` with ``:class: tip``, ``{note}``, ``{tip}``, ...)
  becomes a block quote opening with its kind and title in bold;
- ``{bibliography}`` becomes the list of the works the chapter cites, formatted by pybtex's
  ``plain`` style (the book's), sorted by first author and year.

A cell whose text changed keeps its MyST original in its metadata (``llmcourse.myst``): the
book reads that (``course_book.read_student_notebook``), so the rendered book keeps its
citation links and bibliography while the notebook students open holds none of MyST's syntax.

Syntax this module does not know (another role or directive, a target, a comment) stops the
release with the cell it is in (:class:`UnsupportedMyST`): add it here rather than let it reach
students raw. :func:`myst_only_syntax` finds what would not render; tests run it on chapters/.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from pathlib import Path

MYST_METADATA = "myst"  # cell.metadata["llmcourse"]["myst"]: the cell's MyST original

# An inline role or an inline code span, whichever starts first: code spans stay as they are.
INLINE = re.compile(r"(?P<role>\{(?P<name>[\w:.+-]+)\})?(?P<ticks>`+)(?P<body>.+?)(?<!`)(?P=ticks)(?!`)", re.S)
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})\s*(?P<info>.*)$")
DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:.+-]+)\}\s*(?P<argument>.*)$")
ADMONITIONS = {
    "admonition": "",
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
}
CITE_ROLES = {"cite", "cite:p", "cite:t", "cite:ps", "cite:ts"}
# MyST block syntax that CommonMark shows as text (outside code): targets, comments, block
# breaks, option lines of a directive, substitutions.
BLOCK_SYNTAX = [
    (re.compile(r"^\s*\([\w:.-]+\)=\s*$", re.M), "target"),
    (re.compile(r"^%", re.M), "comment"),
    (re.compile(r"^\+\+\+", re.M), "block break"),
    (re.compile(r"^:[\w-]+:", re.M), "directive option"),
    (re.compile(r"\{\{[^}]*\}\}"), "substitution"),
]


class UnsupportedMyST(ValueError):
    """The Markdown holds MyST that :func:`to_commonmark` cannot rewrite."""


# --- the bibliography ------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """One entry of the book's bibliography, as a student notebook cites and lists it."""

    key: str
    short: str  # "Vaswani et al."
    year: str  # "2017"
    reference: str  # the full reference in Markdown (pybtex's plain style)
    link: str  # the paper's address, or "" when the entry has none

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.short.lower(), self.year, self.key)


@functools.cache
def _text_backend():
    """pybtex's plain-text backend, found once: ``render_as("text")`` looks it up among every
    installed package's entry points on each call (70 ms each here, 30 s for the bibliography)."""
    from pybtex.plugin import find_plugin

    return find_plugin("pybtex.backends", "text")()


def _plain(rich) -> str:
    return rich.render(_text_backend())


def _escape(text: str) -> str:
    """Markdown's special characters in a reference, escaped (nothing else is touched)."""
    return re.sub(r"([\\`*_\[\]<>$|])", r"\\\1", text)


def _short_authors(persons) -> str:
    """sphinxcontrib-bibtex's author_year label: 'A', 'A and B', or 'A et al.'."""
    last = [" ".join(_plain(part) for part in p.rich_last_names) or _plain(p.rich_first_names[0]) for p in persons]
    if len(last) == 1:
        return last[0]
    if len(last) == 2 and "others" not in (n.lower() for n in last):
        return f"{last[0]} and {last[1]}"
    return f"{last[0]} et al."


def load_bibliography(files: list[Path]) -> dict[str, Work]:
    """Every entry of the given .bib files, keyed by its citation key."""
    from pybtex.database import BibliographyData, parse_file
    from pybtex.plugin import find_plugin

    style = find_plugin("pybtex.style.formatting", "plain")()
    links = ("url", "doi", "eprint", "archiveprefix", "primaryclass")
    works: dict[str, Work] = {}
    for file in files:
        data: BibliographyData = parse_file(str(file))
        # Formatted without its addresses (pybtex writes "URL: ...", "doi:...", "arXiv:..."
        # as text): the notebook links the paper instead.
        bare = BibliographyData()
        for key, entry in data.entries.items():
            fields = {k: v for k, v in entry.fields.items() if k.lower() not in links}
            bare.add_entry(key, type(entry)(entry.type, fields=fields, persons=entry.persons))
        for formatted in style.format_entries(bare.entries.values()):
            entry = data.entries[formatted.key]
            url, doi = entry.fields.get("url", ""), entry.fields.get("doi", "")
            link = url or (f"https://doi.org/{doi}" if doi else "")
            reference = _escape(_plain(formatted.text))
            if link:
                reference += f" [{link}]({link})"
            persons = entry.persons.get("author") or entry.persons.get("editor") or []
            works[formatted.key] = Work(
                formatted.key,
                _short_authors(persons) if persons else formatted.key,
                entry.fields.get("year", "n.d."),
                reference,
                link,
            )
    return works


def _linked(text: str, work: Work) -> str:
    return f"[{text}]({work.link})" if work.link else text


def cite(role: str, keys: list[str], works: dict[str, Work]) -> str:
    """One citation role as Markdown: ``cite:p`` parenthetical, ``cite:t`` textual."""
    missing = [k for k in keys if k not in works]
    if missing:
        raise UnsupportedMyST(f"{{{role}}} cites {', '.join(missing)}, which no .bib file of the book defines")
    chosen = [works[k] for k in keys]
    if role in ("cite:t", "cite:ts"):
        return "; ".join(_linked(f"{w.short} ({w.year})", w) for w in chosen)
    return "(" + "; ".join(_linked(f"{w.short}, {w.year}", w) for w in chosen) + ")"


def reference_list(keys: set[str], works: dict[str, Work]) -> str:
    """The works with these keys as a Markdown list, sorted by first author and year."""
    chosen = sorted((works[k] for k in keys), key=lambda w: w.sort_key)
    return "\n".join(f"- **{w.short}, {w.year}.** {w.reference}" for w in chosen)


# --- scanning Markdown -----------------------------------------------------------------------


def _blocks(markdown: str):
    """Split Markdown into ('text', str), ('code', str) and ('directive', name, argument, body)
    pieces: fenced code is kept whole, a MyST directive's body is given without its fence."""
    lines = markdown.split("\n")
    i, text = 0, []
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            text.append(lines[i])
            i += 1
            continue
        fence = opening.group("fence")
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j])), len(lines))
        if text:
            yield ("text", "\n".join(text))
            text = []
        directive = DIRECTIVE_INFO.match(opening.group("info").strip())
        if directive:
            yield (
                "directive",
                directive.group("name"),
                directive.group("argument").strip(),
                "\n".join(lines[i + 1 : end]),
            )
        elif fence.startswith(":"):
            yield ("directive", "", opening.group("info").strip(), "\n".join(lines[i + 1 : end]))
        else:
            yield ("code", "\n".join(lines[i : end + 1]))
        i = end + 1
    if text:
        yield ("text", "\n".join(text))


def cited_keys(markdown: str) -> list[str]:
    """The citation keys of every cite role in ``markdown``, in order (code excluded)."""
    keys: list[str] = []
    for piece in _blocks(markdown):
        if piece[0] == "directive":
            keys += cited_keys(piece[3])
        elif piece[0] == "text":
            for match in INLINE.finditer(piece[1]):
                if match.group("name") in CITE_ROLES:
                    keys += [k.strip() for k in match.group("body").split(",") if k.strip()]
    return keys


def myst_only_syntax(markdown: str) -> list[str]:
    """What in ``markdown`` only MyST renders (roles, directives, targets, comments, ...),
    one description each; code blocks and code spans are not looked into. Empty when the text
    is CommonMark + math."""
    found = []
    for piece in _blocks(markdown):
        if piece[0] == "directive":
            found.append(f"directive {{{piece[1]}}}" if piece[1] else "colon fence :::")
        elif piece[0] == "text":
            for match in INLINE.finditer(piece[1]):
                if match.group("role"):
                    found.append(f"role {match.group('role')}`{match.group('body')}`")
            found += list(_block_syntax(piece[1]))
    return found


def _block_syntax(text: str):
    """Each piece of MyST block syntax in ``text`` outside code spans, described."""
    prose = INLINE.sub(" ", text)
    for pattern, what in BLOCK_SYNTAX:
        for match in pattern.finditer(prose):
            yield f"{what} {match.group(0).strip()!r}"


# --- rewriting ---------------------------------------------------------------------------------


def _inline(text: str, works: dict[str, Work]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group("name")
        if not match.group("role"):
            return match.group(0)
        if name in CITE_ROLES:
            return cite(name, [k.strip() for k in match.group("body").split(",") if k.strip()], works)
        raise UnsupportedMyST(f"role {{{name}}} (in {match.group(0)!r}) has no CommonMark form yet")

    return INLINE.sub(replace, text)


def _admonition(name: str, argument: str, body: str, works, chapter_keys) -> str:
    options, lines = {}, body.split("\n")
    while lines and (option := re.match(r"^:([\w-]+):\s*(.*)$", lines[0])):
        options[option.group(1)] = option.group(2).strip()
        lines.pop(0)
    unknown = set(options) - {"class", "name"}
    if unknown:
        raise UnsupportedMyST(f"admonition option(s) {sorted(unknown)} have no CommonMark form yet")
    kind = ADMONITIONS[name] or next(
        (ADMONITIONS[c] for c in options.get("class", "").split() if ADMONITIONS.get(c)), ""
    )
    title = _inline(argument, works) if name == "admonition" else ""
    heading = ": ".join(part for part in (kind, title) if part) or "Note"
    inner = convert_markdown("\n".join(lines).strip("\n"), works, chapter_keys)
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in inner.split("\n"))
    return f"> **{heading}**\n>\n{quoted}"


def convert_markdown(markdown: str, works: dict[str, Work], chapter_keys: set[str]) -> str:
    """One Markdown text, MyST -> CommonMark + math (see the module's docstring).
    ``chapter_keys`` are the works a ``{bibliography}`` here lists."""
    out = []
    for piece in _blocks(markdown):
        if piece[0] == "code":
            out.append(piece[1])
        elif piece[0] == "text":
            _reject_block_syntax(piece[1])
            out.append(_inline(piece[1], works))
        else:
            _, name, argument, body = piece
            if name == "bibliography":
                out.append(reference_list(chapter_keys, works))
            elif name in ADMONITIONS:
                out.append(_admonition(name, argument, body, works, chapter_keys))
            else:
                raise UnsupportedMyST(f"directive {{{name or ':::'}}} has no CommonMark form yet")
    return "\n".join(out)


def _reject_block_syntax(text: str) -> None:
    for found in _block_syntax(text):
        raise UnsupportedMyST(f"{found} has no CommonMark form yet")


def to_commonmark(nb, works: dict[str, Work]):
    """A copy of notebook ``nb`` whose Markdown cells are CommonMark + math; each changed cell
    keeps its MyST original in ``metadata.llmcourse.myst``. Raises :class:`UnsupportedMyST`
    (naming the cell) on syntax it cannot rewrite."""
    nb = copy.deepcopy(nb)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    chapter_keys = {k for cell in markdown for k in cited_keys(cell.source)}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        try:
            converted = convert_markdown(cell.source, works, chapter_keys)
        except UnsupportedMyST as error:
            raise UnsupportedMyST(f"cell {index} ({cell.source[:60]!r}...): {error}") from None
        if converted != cell.source:
            cell.metadata.setdefault("llmcourse", {})[MYST_METADATA] = cell.source
            cell.source = converted
    return nb


def with_myst(nb):
    """The notebook with each Markdown cell's MyST original (if it kept one) as its text: what the
    book renders."""
    for cell in nb.cells:
        original = cell.metadata.get("llmcourse", {}).get(MYST_METADATA) if cell.cell_type == "markdown" else None
        if original is not None:
            cell.source = original
    return nb
