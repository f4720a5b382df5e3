"""Shared fixtures: users per role, logged-in clients, and the PostgreSQL/browser gates."""

import os

import pytest
from django.db import connection

from tests.factories import CustomerFactory, make_user

PG_REASON = (
    "needs PostgreSQL (row locks and triggers); run with "
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/creditdesk"
)


def pytest_collection_modifyitems(config, items):
    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason=PG_REASON)
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def rep(db):
    return make_user("A/R rep", "rep")


@pytest.fixture
def poster(db):
    return make_user("Poster", "poster")


@pytest.fixture
def poster2(db):
    return make_user("Poster", "poster2")


@pytest.fixture
def accountant(db):
    return make_user("Accountant", "accountant")


@pytest.fixture
def customer(db):
    return CustomerFactory()


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


@pytest.fixture
def poster_client(client, poster):
    client.force_login(poster)
    return client


def browser_required() -> bool:
    return os.environ.get("CREDITDESK_REQUIRE_BROWSER", "") not in ("", "0")
