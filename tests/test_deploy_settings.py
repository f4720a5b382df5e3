"""Production settings pass Django's deployment checklist."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(env_overrides, *args):
    drop = ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    """With DEBUG=0 and a real secret, `check --deploy --fail-level WARNING` exits 0."""
    result = _run(
        {
            "DEBUG": "0",
            "SECRET_KEY": "k3y-" + "x7Qp2Lm9Zr4Tv8Wn1Bc6Hd0Jf5Gs3Ky" * 2,
            "ALLOWED_HOSTS": "ar.example.com",
            "VAR_DIR": str(tmp_path),
        },
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    """DEBUG off and no SECRET_KEY: the settings refuse rather than run with a known key."""
    result = _run({"DEBUG": "0", "VAR_DIR": str(tmp_path)}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_demo_users_refuse_to_be_created_in_production(tmp_path):
    """Demo logins are development only."""
    result = _run(
        {
            "DEBUG": "0",
            "SECRET_KEY": "k3y-" + "x7Qp2Lm9Zr4Tv8Wn1Bc6Hd0Jf5Gs3Ky" * 2,
            "VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        },
        "create_demo_users",
    )
    assert result.returncode != 0
    assert "development only" in result.stderr


def test_empty_variables_take_their_defaults(tmp_path):
    """`DATABASE_URL=` (and any other empty variable) means "unset", not a crash."""
    empty = dict.fromkeys(
        [
            "DATABASE_URL",
            "MIGRATE_DATABASE_URL",
            "CONN_MAX_AGE",
            "EMAIL_PORT",
            "EMAIL_BACKEND",
            "TIME_ZONE",
            "TASKS_BACKEND",
            "SESSION_IDLE_MINUTES",
            "LOGIN_FAILURE_LIMIT",
            "LOGIN_LOCKOUT_MINUTES",
            "TWO_FACTOR_REQUIRED",
            "BEHIND_PROXY",
            "CURRENCY",
            "BUSINESS_DATE_HORIZON_DAYS",
            "BUSINESS_DATE_EARLIEST",
        ],
        "",
    )
    result = _run({**empty, "VAR_DIR": str(tmp_path)}, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    shown = _run(
        {**empty, "VAR_DIR": str(tmp_path)},
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.EMAIL_PORT, s.AXES_FAILURE_LIMIT, "
        "s.SESSION_COOKIE_AGE)",
    )
    assert shown.stdout.strip().splitlines()[-1].split() == [
        "django.db.backends.sqlite3",
        "25",
        "5",
        "28800",
    ]


def test_a_bad_number_names_the_variable(tmp_path):
    result = _run({"EMAIL_PORT": "twenty-five", "VAR_DIR": str(tmp_path)}, "check")
    assert result.returncode != 0
    assert "EMAIL_PORT must be a whole number" in result.stderr
