"""The desk's refusal pages: 403, 404 and 500 inside the layout, in words a clerk can act
on. No stack trace and no URL list ever reach the page (DEBUG is off in production); a
server error shows the request id that its log line carries (config.middleware)."""

import logging

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.utils.html import escape

from config.request_id import current_request_id

log = logging.getLogger("creditdesk.errors")

DEFAULT_403 = "You don't have permission to do that."
PLAIN_500 = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Something went wrong · Credit "
    "Desk</title><h1>Something went wrong on our side</h1><p>Nothing half-done was saved. "
    "Try again in a moment; if it happens again, tell your administrator this reference: "
    "<code>{request_id}</code></p></html>"
)


def _reason(exception) -> str:
    text = str(exception or "").strip()
    # PermissionDenied() with no message, or Django's own stock wording.
    return text if text and text != "403 Forbidden" else DEFAULT_403


def permission_denied(request, exception=None):
    return render(
        request,
        "403.html",
        {"reason": _reason(exception), "request_id": current_request_id()},
        status=403,
    )


def page_not_found(request, exception=None):
    return render(request, "404.html", {"path": request.path}, status=404)


def server_error(request):
    """Rendered without the request's context processors: they may need the database,
    which may be what failed."""
    request_id = current_request_id()
    log.error("server error page shown for request %s (%s)", request_id, request.path)
    try:
        html = loader.get_template("500.html").render({"request_id": request_id})
    except Exception:  # the layout itself failed (e.g. static files not collected)
        log.exception("the 500 page could not be rendered; plain page sent (%s)", request_id)
        html = PLAIN_500.format(request_id=escape(request_id))
    return HttpResponseServerError(html)
