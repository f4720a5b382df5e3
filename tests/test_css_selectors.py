"""Every class and id the stylesheets select is one the app can put on a page.

The stylesheets are static/css/*.css. Markup comes from templates/**/*.html, from the
django-tables2 template the listings render with, and from class names written in Python
(`attrs`, `row_attrs`, `format_html`) under config/, customers/, invoicing/ and ledger/.
A template expression inside a class (`badge-{{ document.status }}`, `badge-{}` in
`format_html`) matches any name with that shape.

Classes that a library adds while the page runs, and that no template or module of ours
spells, are listed in RUNTIME_CLASSES with where they come from. The test also fails
when an entry there is no longer selected by the CSS, so the list cannot go stale.
"""

import re
from pathlib import Path

from django.conf import settings
from django.template.loader import get_template

ROOT = Path(__file__).resolve().parent.parent
CSS_DIR = ROOT / "static" / "css"
TEMPLATE_DIR = ROOT / "templates"
PYTHON_DIRS = ("config", "customers", "invoicing", "ledger")

RUNTIME_CLASSES = {
    # htmx puts it on the element that issued a request while the request runs.
    "htmx-request": "htmx",
    # django-tables2 adds these to <th> of sortable / sorted columns (Column.get_th_class).
    "orderable": "django-tables2",
    "asc": "django-tables2",
    "desc": "django-tables2",
    # django-tables2 BooleanColumn renders <span class="true">✔</span> / "false".
    "true": "django-tables2",
    "false": "django-tables2",
}

WILDCARD = "\x00"
CLASS_ATTR = re.compile(r"""\bclass\s*=\s*(?:"([^"]*)"|'([^']*)')""")
ID_ATTR = re.compile(r"""\bid\s*=\s*(?:"([^"]*)"|'([^']*)')""")
PY_CLASS_KEY = re.compile(r"""["']class["']\s*:\s*([^,}\n]*)""")
PY_STRING = re.compile(r""""([^"\\]*)"|'([^'\\]*)'""")


# ------------------------------------------------------------------ markup side
def _names(value: str) -> list[str]:
    """Names in one class/id attribute value; template expressions become wildcards."""
    value = re.sub(r"\{\{.*?\}\}", WILDCARD, value)  # {{ x }}: any text
    value = re.sub(r"\{%.*?%\}", " ", value)  # {% if %}a{% endif %}: keep the branches
    value = value.replace("{}", WILDCARD)  # format_html("...{}...")
    return value.split()


def _attr_values(text: str, pattern: re.Pattern) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in pattern.finditer(text)]


def _markup_sources() -> list[tuple[str, str]]:
    sources = [(str(p), p.read_text()) for p in sorted(TEMPLATE_DIR.rglob("*.html"))]
    # The template every django-tables2 listing renders with (wrapper, pagination).
    table_template = get_template(settings.DJANGO_TABLES2_TEMPLATE).origin.name
    sources.append((table_template, Path(table_template).read_text()))
    return sources


def _python_sources() -> list[tuple[str, str]]:
    files = []
    for top in PYTHON_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.parts:
                files.append((str(path), path.read_text()))
    return files


def used_names() -> tuple[set[str], list[re.Pattern], set[str], list[re.Pattern]]:
    """(classes, class patterns, ids, id patterns) the app can render."""
    class_values, id_values = [], []
    for _, text in _markup_sources() + _python_sources():
        class_values += _attr_values(text, CLASS_ATTR)
        id_values += _attr_values(text, ID_ATTR)
    for _, text in _python_sources():
        for match in PY_CLASS_KEY.finditer(text):  # "class": "num" / lambda r: "credit" if ...
            class_values += [a or b for a, b in PY_STRING.findall(match.group(1))]

    def split(values):
        names, patterns = set(), []
        for value in values:
            for name in _names(value):
                if WILDCARD in name:
                    parts = [re.escape(p) for p in name.split(WILDCARD)]
                    patterns.append(re.compile("[\\w-]+".join(parts)))
                else:
                    names.add(name)
        return names, patterns

    classes, class_patterns = split(class_values)
    ids, id_patterns = split(id_values)
    return classes, class_patterns, ids, id_patterns


# --------------------------------------------------------------------- CSS side
def _selectors(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r""""[^"]*"|'[^']*'""", '""', css)  # strings: content, attribute values
    selectors = []
    for prelude in re.findall(r"([^{};]*)\{", css):
        prelude = prelude.strip()
        if prelude and not prelude.startswith("@"):
            selectors += [s.strip() for s in prelude.split(",")]
    return selectors


def css_names() -> dict[str, dict[str, set[str]]]:
    """{"class": {name: {file: selector, ...}}, "id": {...}} over static/css/*.css."""
    found = {"class": {}, "id": {}}
    for path in sorted(CSS_DIR.glob("*.css")):
        for selector in _selectors(path.read_text()):
            bare = re.sub(r"\[[^\]]*\]", "", selector)  # [href="#"] is not an id
            for kind, sigil in (("class", r"\."), ("id", "#")):
                for name in re.findall(sigil + r"(-?[_a-zA-Z][\w-]*)", bare):
                    found[kind].setdefault(name, set()).add(f"{path.name}: {selector}")
    return found


def _unused(selected: dict[str, set[str]], names: set[str], patterns, allowed=()) -> list[str]:
    return sorted(
        f"{name}  ({'; '.join(sorted(where))})"
        for name, where in selected.items()
        if name not in names
        and name not in allowed
        and not any(p.fullmatch(name) for p in patterns)
    )


# -------------------------------------------------------------------------- tests
def test_stylesheets_found():
    assert len(list(CSS_DIR.glob("*.css"))) >= 1
    assert css_names()["class"], "no class selectors parsed: is the parser broken?"


def test_every_css_class_is_used():
    classes, patterns, _, _ = used_names()
    unused = _unused(css_names()["class"], classes, patterns, RUNTIME_CLASSES)
    assert not unused, "CSS selects classes nothing renders:\n  " + "\n  ".join(unused)


def test_every_css_id_is_used():
    _, _, ids, patterns = used_names()
    unused = _unused(css_names()["id"], ids, patterns)
    assert not unused, "CSS selects ids nothing renders:\n  " + "\n  ".join(unused)


def test_runtime_allow_list_is_current():
    classes, patterns, _, _ = used_names()
    selected = css_names()["class"]
    stale = sorted(name for name in RUNTIME_CLASSES if name not in selected)
    assert not stale, f"RUNTIME_CLASSES lists classes no CSS selects any more: {stale}"
    spelled = sorted(name for name in RUNTIME_CLASSES if name in classes)
    assert not spelled, f"RUNTIME_CLASSES lists classes the markup spells itself: {spelled}"


def test_parser_sees_template_expressions():
    """The markup side reads {% if %} branches and {{ }} wildcards the way templates render."""
    assert _names("field{% if e %} has-error{% endif %} required") == [
        "field",
        "has-error",
        "required",
    ]
    assert _names("badge badge-{{ document.status }}") == ["badge", "badge-" + WILDCARD]
    assert _names("badge badge-{}") == ["badge", "badge-" + WILDCARD]
