"""Shared fixtures: users per role, logged-in clients, and the PostgreSQL/browser gates."""

import importlib
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


def reseed_reference_data():
    """Re-run the data migrations' seeds (chart of accounts, settings row, role groups, tax
    profiles, items, number sequences); each is idempotent."""
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission
    from django.core.management.sql import emit_post_migrate_signal

    from config.roles import sync_role_permissions

    # Content types and permissions first (a flush empties them too); the post_migrate
    # handlers also give the role groups their permissions back.
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    for module in (
        "ledger.migrations.0002_chart_roles_settings",
        "invoicing.migrations.0003_seed_items_taxes_sequences",
    ):
        importlib.import_module(module).seed(apps, None)
    sync_role_permissions(Group, Permission)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: ids start again after a rollback, so a value
    cached under the books' version (the dashboard's trend) could outlive its test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _reference_data_after_flush(request):
    """Transactional tests (threads, live server) end with a flush that empties every table,
    data migrations' rows included; put the reference data back before each of them."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and (
        marker.kwargs.get("transaction") or (len(marker.args) > 0 and marker.args[0])
    )
    if transactional or {"transactional_db", "live_server"} & set(request.fixturenames):
        request.getfixturevalue("transactional_db")
        reseed_reference_data()


@pytest.fixture(scope="session")
def _test_media(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _stored_files_in_tmp(settings, _test_media):
    """No test writes stored files (frozen PDFs) under var/media: the default storage is a
    temporary directory (a test may point it elsewhere again)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": _test_media},
        },
    }


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
def alice(db):
    """An A/R rep, for the tests where two people edit the same record."""
    return make_user("A/R rep", "alice")


@pytest.fixture
def bob(db):
    """Another A/R rep (see alice)."""
    return make_user("A/R rep", "bob")


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
