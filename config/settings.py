"""Credit Desk settings, read from the environment.

Development defaults are safe to run on a bare machine (SQLite under var/, DEBUG on,
console email). Production sets DEBUG=0, a real SECRET_KEY, ALLOWED_HOSTS and
DATABASE_URL; `manage.py check --deploy --fail-level WARNING` then passes.
"""

import datetime
import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_str(name: str, default: str = "") -> str:
    """The variable's value; an unset or empty variable takes the default."""
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value


def env_int(name: str, default: int) -> int:
    value = env_str(name, "")
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_tables2",
    "django_filters",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ledger",
    "customers",
    "invoicing",
    "config.apps.DeskConfig",
]

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "config.middleware.IdleTimeoutMiddleware",
    "config.two_factor.TwoFactorMiddleware",
    "config.middleware.RoleRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during login into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.roles",
            ],
            "builtins": ["ledger.templatetags.money", "template_partials.templatetags.partials"],
        },
    }
]

# The app connects as DATABASE_URL. In production that is a role that does not own the
# tables (`manage.py create_app_role`); the commands that change the schema or the
# grants (OWNER_COMMANDS) connect as MIGRATE_DATABASE_URL, the owner, when it is set.
# An empty variable counts as unset.
OWNER_COMMANDS = {"migrate", "create_app_role", "createcachetable"}
_database_url = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'creditdesk.sqlite3'}")
if len(sys.argv) > 1 and sys.argv[1] in OWNER_COMMANDS and env_str("MIGRATE_DATABASE_URL"):
    _database_url = env_str("MIGRATE_DATABASE_URL")
DATABASES = {
    "default": dj_database_url.parse(
        _database_url,
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes SQLite's write lock at BEGIN, so two users posting at once queue
    # instead of failing with "database is locked" halfway through a transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
# Stored files (the frozen PDFs of issued documents). Served only through the desk's own
# views, never as public media: no MEDIA_URL. AWS_STORAGE_BUCKET_NAME switches to an
# S3-compatible bucket (needs `pip install "django-storages[s3]"`, not a dependency).
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
if env_str("AWS_STORAGE_BUCKET_NAME"):
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "location": env_str("AWS_LOCATION", "creditdesk"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Email -----------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Credit Desk <ar@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Background tasks (emailing documents) ----------------------------------------------
# Sends run as Django tasks. By default they are queued in the database and run by
# `manage.py db_worker` (`make run` starts one); TASKS_BACKEND picks another backend, e.g.
# "django_tasks.backends.immediate.ImmediateBackend" (run in the request, no worker).
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# --- Security ---------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Sent by config.middleware.SecurityHeadersMiddleware on every response: the desk uses no
# camera, microphone, location, payment request, USB or the like.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)
SESSION_COOKIE_HTTPONLY = True
# Idle sign-out: a session unused for this long ends (config.middleware.IdleTimeoutMiddleware;
# the cookie and the stored session expire with it).
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_MINUTES", 8 * 60) * 60
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
# A reverse proxy in front (nginx, a load balancer) that sets X-Forwarded-Proto and appends
# the client's address to X-Forwarded-For. Off by default: then no forwarded header is
# believed, and the client's address is the connection's (REMOTE_ADDR).
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
# How many proxies append to X-Forwarded-For: the client is that many entries from the end.
PROXY_COUNT = max(env_int("PROXY_COUNT", 1), 1)
# The proxy's own addresses: X-Forwarded-For is believed only on connections from these
# (a client reaching the app port directly can't choose its address for the lockout).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "127.0.0.1,::1")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Sign-in throttling (django-axes): a username + client address pair is locked out after
# LOGIN_FAILURE_LIMIT wrong passwords in a row, for LOGIN_LOCKOUT_MINUTES. Accountants see
# and clear lockouts in the admin (Axes → Access attempts); failures and lockouts are audit
# events (ledger.auth_audit).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = max(env_int("LOGIN_FAILURE_LIMIT", 5), 1)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=max(env_int("LOGIN_LOCKOUT_MINUTES", 15), 1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"
AXES_LOCKOUT_CALLABLE = "config.security.lockout_response"
AXES_USERNAME_CALLABLE = "config.security.attempted_username"
AXES_VERBOSE = False

# Two-factor sign-in (django-otp, TOTP + one-time recovery codes): required for Posters
# and Accountants (and superusers) when on — by default whenever DEBUG is off. Reps may
# enrol; whoever has a confirmed device is asked for a code. The listed usernames are
# exempt: by default the demo users in development (`make run`), nobody in production.
TWO_FACTOR_REQUIRED = env_bool("TWO_FACTOR_REQUIRED", not DEBUG)
TWO_FACTOR_EXEMPT_USERS = env_list(
    "TWO_FACTOR_EXEMPT_USERS", "rep,poster,poster2,accountant" if DEBUG else ""
)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Credit Desk")

# Content-Security-Policy (django-csp): the desk loads scripts, styles and images from its
# own origin only; no inline script, no eval (htmx is configured for that in base.html);
# no framing; forms post only to the desk. Images may be data: URIs (the print view
# inlines the letterhead logo).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- Product settings ------------------------------------------------------------------
CURRENCY = env_str("CURRENCY", "USD")
# Four eyes: the person who prepared a refund may not release it.
REFUND_FOUR_EYES = env_bool("REFUND_FOUR_EYES", True)
COMPANY_NAME = env_str("COMPANY_NAME", "Credit Desk Demo Co.")
# Business dates (ledger/ACCOUNTING.md): a document, application, refund or void is dated after
# the books-closed date and no later than today + this many days.
BUSINESS_DATE_HORIZON_DAYS = env_int("BUSINESS_DATE_HORIZON_DAYS", 365)
# While the books are open (no books-closed date yet), nothing is dated before this day.
BUSINESS_DATE_EARLIEST = datetime.date.fromisoformat(
    env_str("BUSINESS_DATE_EARLIEST", "2000-01-01")
)

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"
DJANGO_TABLES2_TABLE_ATTRS = {"class": "table"}

# Every log line carries the request's id (config.middleware.RequestIdMiddleware); a
# server error's page shows the same id, so a report can be matched to its traceback.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.request_id.RequestIdLogFilter"}},
    "formatters": {
        "desk": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "desk",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
