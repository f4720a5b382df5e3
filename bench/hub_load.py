"""The Invoices hub under load, against one invoice's page, through gunicorn (issue 14):
4 workers on 127.0.0.1 (a free port), production settings (DEBUG=0, collected static
files; two-factor off for the bench user, plain HTTP), seeded with `invoicing.seeding`
(default 20,000 documents over 2,000 customers). 8 client threads, each signed in with its
own session (http.client, the session cookie kept), fetch one URL as fast as answers come
for SECONDS (default 15) — the hub, then the invoice page, then both again — and the
requests per second of each are printed, with the ratio (goal: hub >= 0.5x the detail
page). Only answers 200 count; anything else is reported.

BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditdesk_bench .venv/bin/python bench/hub_load.py
Knobs: BENCH_DOCUMENTS (20000), BENCH_CUSTOMERS (2000), BENCH_SECONDS (15), BENCH_CLIENTS (8),
BENCH_WORKERS (4).
"""

import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, analyze, machine, setup  # noqa: E402

DOCUMENTS = int(os.environ.get("BENCH_DOCUMENTS", 20_000))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", 2_000))
SECONDS = float(os.environ.get("BENCH_SECONDS", 15))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 8))
WORKERS = int(os.environ.get("BENCH_WORKERS", 4))
USER, PASSWORD = "bench-poster", "bench-load-password-1"
DOCUMENTS_PER_INVOICE = 1.66  # what the seed writes around each invoice (memos, payments…)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(port: int) -> dict:
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "TWO_FACTOR_REQUIRED": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


class Session:
    """One client: a keep-alive connection (reopened when the server closes it) and the
    cookies the server set."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies = {}

    def request(self, method, path, body=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return response.status, data

    def login(self):
        status, page = self.request("GET", "/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = {"csrfmiddlewaretoken": token.decode(), "username": USER, "password": PASSWORD}
        status, _ = self.request("POST", "/login/", urlencode(form))
        assert status == 302 and "sessionid" in self.cookies, f"login failed ({status})"


def load(sessions, path) -> tuple[float, int, dict]:
    """Every session fetches `path` in a loop for SECONDS: (req/s, answers, other statuses)."""
    done, others = [0] * len(sessions), {}
    stop = time.perf_counter() + SECONDS

    def run(i, session):
        while time.perf_counter() < stop:
            status, _ = session.request("GET", path)
            if status == 200:
                done[i] += 1
            else:
                others[status] = others.get(status, 0) + 1

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(sessions)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return sum(done) / elapsed, sum(done), others


def main():
    setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from invoicing.models import Document, DocumentKind, DocumentStatus
    from invoicing.seeding import seed

    started = time.perf_counter()
    report = seed(invoices=round(DOCUMENTS / DOCUMENTS_PER_INVOICE), customers=CUSTOMERS)
    seeded = time.perf_counter() - started
    analyze()
    user = get_user_model().objects.create_user(USER, password=PASSWORD)
    user.groups.add(Group.objects.get(name="Poster"))
    invoice = (
        Document.objects.filter(kind=DocumentKind.INVOICE, status=DocumentStatus.POSTED)
        .exclude(applications_received=None)
        .order_by("pk")
        .first()
    )
    connection.close()

    port = free_port()
    env = server_env(port)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server_log = Path(os.environ["VAR_DIR"]) / "gunicorn.log"
    server = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
        [str(gunicorn), "config.wsgi", "-c", "config/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=server_log.open("w"),
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        sessions = [Session(port) for _ in range(CLIENTS)]
        for session in sessions:
            session.login()
        pages = {"hub": "/invoices/", "detail": invoice.get_absolute_url()}
        for path in pages.values():  # warm every worker
            for session in sessions:
                assert session.request("GET", path)[0] == 200, path
        rates = {name: [] for name in pages}
        problems = {}
        for _ in range(2):  # interleaved: hub, detail, hub, detail
            for name, path in pages.items():
                rate, _, others = load(sessions, path)
                rates[name].append(rate)
                problems.update({f"{name} {k}": v for k, v in others.items()})
        load_avg = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)

    hub, detail = (statistics.median(rates[n]) for n in ("hub", "detail"))
    print(f"bench/hub_load.py — {machine()}")
    print(
        f"seeded {report.documents:,} documents / {report.customers:,} customers in "
        f"{seeded:.0f} s; gunicorn {WORKERS} workers, {CLIENTS} clients, "
        f"2 x {SECONDS:g} s per page"
    )
    print(
        f"hub    /invoices/: {hub:7.1f} req/s  (runs: {', '.join(f'{r:.1f}' for r in rates['hub'])})"
    )
    print(
        f"detail {pages['detail']}: {detail:7.1f} req/s  "
        f"(runs: {', '.join(f'{r:.1f}' for r in rates['detail'])})"
    )
    print(f"hub / detail: {hub / detail:.2f}x (goal >= 0.5x)")
    print(f"load average at the end: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}")
    if problems:
        print(f"answers other than 200: {problems} (server log: {server_log})")


if __name__ == "__main__":
    main()
