"""Read a rendered form the way a browser submits it: every named input, select and textarea
with its current value (checkboxes only when checked; buttons left out), so a test posts
back exactly what the page carried, hidden fields included."""

from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id: str | None):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.in_form = False
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._textarea_fresh = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.in_form = self.form_id is None or attrs.get("id") == self.form_id
            return
        if not self.in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "reset", "image"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data[name] = attrs.get("value") or "on"
                return
            self.data[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select:
            value = attrs.get("value") or ""
            if self._select_first is None:
                self._select_first = value
            if "selected" in attrs and not self._select_chosen:
                self.data[self._select] = value
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea = name
            self._textarea_fresh = True
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "select" and self._select:
            if not self._select_chosen:
                self.data[self._select] = self._select_first or ""
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            # Django starts a textarea's content with a newline the browser drops.
            if self._textarea_fresh:
                data, self._textarea_fresh = data.removeprefix("\n"), False
            self.data[self._textarea] += data


def form_data(response, form_id: str | None = None) -> dict[str, str]:
    """The fields of the form `form_id` (or of every form) on `response`'s page."""
    reader = _FormReader(form_id)
    reader.feed(response.content.decode())
    return dict(reader.data)
