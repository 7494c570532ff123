"""Settings read from the environment (django-environ), with safe development defaults.

Unset DATABASE_URL means a SQLite file; unset REDIS_URL means Celery runs tasks eagerly in
process. That is the embedded default `make run` uses. Production sets DEBUG=false and a real
SECRET_KEY: the development key is refused at start when DEBUG is off.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production"

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "loyalty.admin_config.StaffAdminConfig",  # django.contrib.admin, a second factor for staff
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "django_guid",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "accounts",
    "loyalty.core",
    "rewards",
    "referrals",
    "webhooks",
    "notifications",
    "feedback",
    "imports",
    "insights",
    "members",
    # The audit trail: django-auditlog keeps the records, loyalty.audit says what and shows them.
    "auditlog",
    "loyalty.audit",
]

MIDDLEWARE = [
    # First and last: requests, responses and their latency for /metrics (django-prometheus).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # A request id for the logs (X-Request-ID, taken from the proxy or made here).
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After auth: whether the staff user passed the second factor (request.user.is_verified).
    "django_otp.middleware.OTPMiddleware",
    # After LocaleMiddleware and auth: on the admin, a staff user's own language (User.language).
    "accounts.middleware.StaffLanguageMiddleware",
    # A Content-Security-Policy for the staff pages.
    "loyalty.base.security.AdminSecurityMiddleware",
    # After LocaleMiddleware and auth: a logged-in member's own language, security headers.
    "members.middleware.MemberMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "loyalty.base.api.problems.ApiProblemMiddleware",
    # Last but one, as django-axes asks: turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# The partner API (/api/v1/) has a shorter chain of its own (loyalty.base.api.handlers): partners
# send a key with every request, so sessions, CSRF, logins, messages and the member lookup are
# of no use there. Last, the purchase lane answers the commonest request without DRF's dispatch
# (LOYALTY_PURCHASE_LANE=false leaves it out: to measure it, or to rule it out).
API_MIDDLEWARE = [
    # First and last: requests, responses and their latency for /metrics (django-prometheus).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # A request id for the logs (X-Request-ID, taken from the proxy or made here).
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "loyalty.base.api.problems.ApiProblemMiddleware",
]
API_MIDDLEWARE.append("django_prometheus.middleware.PrometheusAfterMiddleware")
if env.bool("LOYALTY_PURCHASE_LANE", default=True):
    API_MIDDLEWARE.append("loyalty.core.api.lane.PurchaseLaneMiddleware")

ROOT_URLCONF = "loyalty.urls"
WSGI_APPLICATION = "loyalty.wsgi.application"

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
                "django.template.context_processors.i18n",
                "members.context_processors.member",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
# A kept connection is checked before a request reuses it (after a restart of PgBouncer or
# PostgreSQL the request gets a new one instead of an error).
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=False))
if DATABASES["default"].get("ENGINE") == "django.db.backends.postgresql":
    # Django's backend, with that check made without a round trip (loyalty/base/postgresql).
    DATABASES["default"]["ENGINE"] = "loyalty.base.postgresql"
# What pooler DATABASE_URL goes through (PgBouncer's pool_mode): "" (none), "session" or
# "transaction". In transaction mode each transaction may run on another server connection, so
# nothing may outlive a transaction: no server-side cursors (.iterator() then fetches the whole
# result at once), and the prepared statements are prepared where missing in the query that
# runs them (loyalty.base.prepared). PostgreSQL only.
DATABASE_POOL_MODE = env.str("DATABASE_POOL_MODE", default="")
if DATABASE_POOL_MODE not in {"", "session", "transaction"}:
    raise ImproperlyConfigured(
        f"DATABASE_POOL_MODE={DATABASE_POOL_MODE!r}: say session or transaction (statement "
        "mode would break every transaction)"
    )
if DATABASE_POOL_MODE == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# The hot path's prepared statements (loyalty.base.prepared); off: plain SQL, to measure them.
DATABASES["default"].setdefault(
    "PREPARED_STATEMENTS", env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo's web server and worker share the file: readers never wait for the writer (WAL),
    # a transaction takes the write lock when it begins (so two never deadlock upgrading a read
    # lock), and a writer waits for the other instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    # Django's four, with their messages in our catalogue (accounts/passwords.py).
    {"NAME": "accounts.passwords.UserAttributeSimilarityValidator"},
    {"NAME": "accounts.passwords.MinimumLengthValidator"},
    {"NAME": "accounts.passwords.CommonPasswordValidator"},
    {"NAME": "accounts.passwords.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [
    ("en", _("English")),
    ("lt", _("Lithuanian")),
    ("bg", _("Bulgarian")),
    ("da", _("Danish")),
    ("ru", _("Russian")),
    ("pl", _("Polish")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our date formats where Django's do not suit (English without the American order).
FORMAT_MODULE_PATH = ["loyalty.base.dateformats"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Vilnius")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Uploaded images (rewards) are served by Django unless a proxy in front serves /media/.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# In development (and tests) WhiteNoise serves straight from the app folders; production serves
# the collected, compressed and hashed files from STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Loyalty <loyalty@example.com>")

# Fixtures loaded raw are not staff writes.
AUDITLOG_DISABLE_ON_RAW_SAVE = True

LOGIN_URL = "members:login"
LOGIN_REDIRECT_URL = "members:dashboard"
LOGOUT_REDIRECT_URL = "members:home"

# django-axes throttles logins (member site and admin): after AXES_FAILURE_LIMIT failures for
# one e-mail address from one IP address, that pair is locked out for the cool-off time.
AUTHENTICATION_BACKENDS = [
    "members.auth.AddressThrottleBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "members.auth.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Attempts and lockouts are kept in the database (see the admin), not logged line by line.
AXES_VERBOSE = False
# The client's address: behind proxies that each append to X-Forwarded-For, say how many there
# are (0: clients connect directly and REMOTE_ADDR is theirs).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "members.auth.client_ip"
# Staff log in to the admin with a second factor (a TOTP app; `manage.py staff_otp_add EMAIL`
# gives them one): required unless DEBUG is on, where the demo's staff user logs in without.
LOYALTY_STAFF_OTP = env.bool("LOYALTY_STAFF_OTP", default=not DEBUG)
# Password spraying (many accounts tried from one address): after this many failed logins from
# one address within an hour, every login from it is refused until the hour is over.
LOYALTY_LOGIN_FAILURES_PER_ADDRESS = env.int("LOYALTY_LOGIN_FAILURES_PER_ADDRESS", default=30)

# Celery: a Redis broker when REDIS_URL is set; else, when LOYALTY_DEMO_BROKER names a folder
# (`make run` without Redis), kombu's filesystem transport in that folder, so the demo has a real
# worker and beat without a server; otherwise tasks run eagerly in process.
REDIS_URL = env.str("REDIS_URL", default="")
LOYALTY_DEMO_BROKER = env.str("LOYALTY_DEMO_BROKER", default="")
# The demo only: when the worker is ready it sends the scheduled jobs due today that have not
# run today, instead of waiting for their hour (loyalty/core/startup.py). Off in production.
LOYALTY_DEMO_RUN_JOBS_AT_START = env.bool("LOYALTY_DEMO_RUN_JOBS_AT_START", default=False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The beat records every send at once (not every 3 minutes): /readyz reads its last tick there.
CELERY_BEAT_SYNC_EVERY = 1
# How long Redis keeps a message a worker took but did not acknowledge (acks_late) before it
# hands it to another worker: a worker killed mid-task loses nothing, and a job batch it was
# paying is redone (once: the batch's claim) within five minutes, not an hour. Every task takes
# far less (a batch seconds, a webhook or an e-mail a timeout of seconds); nothing is scheduled
# with an ETA or countdown beyond it. The environment may add options as JSON, e.g. tests use
# '{"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}'.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 300,
    **env.json("CELERY_BROKER_TRANSPORT_OPTIONS", default={}),
}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# A `manage.py webhooks_relay` process sends webhook deliveries in batches (webhooks.relay):
# requests then enqueue no Celery task a delivery. Off, each delivery is a task sent after commit.
LOYALTY_WEBHOOK_RELAY = env.bool("LOYALTY_WEBHOOK_RELAY", default=False)
# Celery's Django fix-up closes a worker's database connections before and after every task
# unless given a reuse count: a new connection a task, a fifth of a webhook attempt's time in
# the production-shaped benchmark. With a count it leaves them open, and loyalty/celery.py
# closes them around each task as Django does around a request (CONN_MAX_AGE, the health
# checks, a connection left broken), so CONN_MAX_AGE=0 still means a connection a task.
CELERY_DB_REUSE_MAX = 1_000_000
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = None
    CELERY_TASK_ALWAYS_EAGER = False
elif LOYALTY_DEMO_BROKER:
    _demo_queue = (BASE_DIR / LOYALTY_DEMO_BROKER).resolve() / "queue"
    _demo_queue.mkdir(parents=True, exist_ok=True)
    (_demo_queue.parent / "control").mkdir(exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    # Senders and the worker share one folder (a message is a file; the worker takes it by
    # renaming it under a lock); `control` carries the worker's broadcasts.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_demo_queue),
        "data_folder_out": str(_demo_queue),
        "control_folder": str(_demo_queue.parent / "control"),
        "polling_interval": 0.2,  # seconds between looks at an empty folder
    }
    CELERY_RESULT_BACKEND = None
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.base.api.parsers.DecimalJSONParser"],
    "EXCEPTION_HANDLER": "loyalty.base.api.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty program partner API",
    "DESCRIPTION": (
        "Partner systems (tills, web shops, CRMs) record purchases, refunds and redemptions. "
        "Authenticate with `Authorization: Api-Key <key>`; every POST needs an Idempotency-Key "
        "header; errors are application/problem+json with a stable `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
# /metrics asks for `Authorization: Bearer <token>` when this is set (set it in production).
LOYALTY_METRICS_TOKEN = env.str("LOYALTY_METRICS_TOKEN", default="")
# Requests per API key (None turns throttling off).
LOYALTY_API_RATE = env.str("LOYALTY_API_RATE", default="6000/minute") or None
# Request bodies above this size are refused (413) before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# The program's rules; each may be overridden from the environment.
LOYALTY_CURRENCY = env.str("LOYALTY_CURRENCY", default="EUR")
# Points earned expire this many months after they are earned (0 means they never expire).
LOYALTY_POINTS_EXPIRY_MONTHS = env.int("LOYALTY_POINTS_EXPIRY_MONTHS", default=24)
# A gift of points on joining (0 turns it off).
LOYALTY_WELCOME_POINTS = env.int("LOYALTY_WELCOME_POINTS", default=50)
# Qualifying points for tiers are counted over this many days.
LOYALTY_TIER_WINDOW_DAYS = env.int("LOYALTY_TIER_WINDOW_DAYS", default=365)
# A purchase earns only if it is reported within this many days of happening (0: at any age),
# so a date long past cannot earn points, promotions of old or a friend's referral bonus.
LOYALTY_PURCHASE_MAX_AGE_DAYS = env.int("LOYALTY_PURCHASE_MAX_AGE_DAYS", default=90)

# Where staff's import files wait until they are imported (imports/: never served, unlike
# MEDIA_ROOT; a members file holds personal data). Empty: "private" beside MEDIA_ROOT.
LOYALTY_PRIVATE_FILES = env.str("LOYALTY_PRIVATE_FILES", default="")

# Scheduled jobs (loyalty/core/jobs.py; `manage.py run_job NAME [--date]`, schedule in the admin).
# Members per batch (one task and one transaction each).
LOYALTY_JOB_BATCH_SIZE = env.int("LOYALTY_JOB_BATCH_SIZE", default=1000)
# Database connections the nightly insights run uses at once (about the database's cores).
LOYALTY_INSIGHTS_CONNECTIONS = env.int("LOYALTY_INSIGHTS_CONNECTIONS", default=2)
# After downtime, anniversaries, birthdays and expiry notices of the last N days are caught up.
LOYALTY_JOB_CATCHUP_DAYS = min(max(env.int("LOYALTY_JOB_CATCHUP_DAYS", default=7), 0), 300)
# Test-only brake: seconds a batch waits per member before it commits (0: never). The worker
# tests set it to kill a worker in the middle of a batch.
LOYALTY_JOB_BATCH_DELAY = env.float("LOYALTY_JOB_BATCH_DELAY", default=0.0)
# Birthdays: the greeting's gift follows what delights the member (Member.delight): points
# (greeting), a voucher for the discount reward, a surprise reward, or a donation in their name.
# What each gift is lives in the admin (rewards.BirthdayGiftSettings). The five LOYALTY_BIRTHDAY_*
# variables below only gave that row its first values, when migration rewards/0004 created it;
# they are not read after that (deprecated). Only for a birthday set more than MIN_DAYS_SET days
# before (still read here).
LOYALTY_BIRTHDAY_POINTS = env.int("LOYALTY_BIRTHDAY_POINTS", default=100)
LOYALTY_BIRTHDAY_DISCOUNT_REWARD = env.str("LOYALTY_BIRTHDAY_DISCOUNT_REWARD", default="")
LOYALTY_BIRTHDAY_SURPRISE_REWARDS = env.list("LOYALTY_BIRTHDAY_SURPRISE_REWARDS", default=[])
LOYALTY_BIRTHDAY_DONATION_AMOUNT = env.str("LOYALTY_BIRTHDAY_DONATION_AMOUNT", default="5.00")
LOYALTY_BIRTHDAY_DONATION_CAUSE = env.str("LOYALTY_BIRTHDAY_DONATION_CAUSE", default="")
LOYALTY_BIRTHDAY_MIN_DAYS_SET = env.int("LOYALTY_BIRTHDAY_MIN_DAYS_SET", default=30)
# Staff gifts (rewards/gifts.py): the most points one gift may give.
LOYALTY_GIFT_MAX_POINTS = env.int("LOYALTY_GIFT_MAX_POINTS", default=10_000)
# Tier review: a member below their tier keeps it this many days (and is told what keeps it).
LOYALTY_TIER_GRACE_DAYS = env.int("LOYALTY_TIER_GRACE_DAYS", default=90)
# Members are told this many days before their points expire.
LOYALTY_EXPIRY_NOTICE_DAYS = env.int("LOYALTY_EXPIRY_NOTICE_DAYS", default=30)
# Housekeeping: partners' Idempotency-Keys are kept this long (at least 24 hours), finished
# webhook deliveries this many days.
LOYALTY_IDEMPOTENCY_RETENTION_HOURS = max(
    env.int("LOYALTY_IDEMPOTENCY_RETENTION_HOURS", default=48), 24
)
LOYALTY_WEBHOOK_RETENTION_DAYS = env.int("LOYALTY_WEBHOOK_RETENTION_DAYS", default=30)

# Referrals (see referrals/services.py): both bonuses are paid once, when the friend's first
# purchase of at least REFERRAL_MIN_PURCHASE (in LOYALTY_CURRENCY) happens within
# REFERRAL_QUALIFY_DAYS of joining; a refund of it within REFERRAL_RETURN_WINDOW_DAYS of the
# purchase takes both back. REFERRAL_MONTHLY_CAP rewarded referrals a month per member, beyond
# that staff review; REFERRAL_INVITES_PER_DAY e-mail invitations a day per member.
REFERRAL_BONUS_REFERRER = env.int("REFERRAL_BONUS_REFERRER", default=200)
REFERRAL_BONUS_FRIEND = env.int("REFERRAL_BONUS_FRIEND", default=100)
REFERRAL_MIN_PURCHASE = env.str("REFERRAL_MIN_PURCHASE", default="20.00")
REFERRAL_QUALIFY_DAYS = env.int("REFERRAL_QUALIFY_DAYS", default=30)
REFERRAL_MONTHLY_CAP = env.int("REFERRAL_MONTHLY_CAP", default=10)
REFERRAL_RETURN_WINDOW_DAYS = env.int("REFERRAL_RETURN_WINDOW_DAYS", default=30)
REFERRAL_INVITES_PER_DAY = env.int("REFERRAL_INVITES_PER_DAY", default=5)
# The member site's join page; a member's link is this followed by their code.
REFERRAL_JOIN_URL = env.str("REFERRAL_JOIN_URL", default="http://127.0.0.1:8000/join/")

# The feedback book (see feedback/services.py): thank-you points when a complaint or suggestion
# led to a change (0: thanks without points); the staff group told about severe and overdue
# items (active superusers when the group is empty); the member site's address for links in
# messages and e-mails.
FEEDBACK_THANKS_POINTS = env.int("FEEDBACK_THANKS_POINTS", default=100)
FEEDBACK_MANAGERS_GROUP = env.str("FEEDBACK_MANAGERS_GROUP", default="Managers")
# Partners' sanity limits are set per partner by staff (the partner's admin page); a purchase
# at this share of either limit (amount or points) is an anomaly staff hear of, and so are
# points spent at another partner within these minutes of such a purchase. Alerts go to the
# active staff of this group (or else the superusers), one per partner and kind an hour.
LOYALTY_LARGE_PURCHASE_SHARE = env.float("LOYALTY_LARGE_PURCHASE_SHARE", default=0.5)
LOYALTY_SPENT_ELSEWHERE_MINUTES = env.int("LOYALTY_SPENT_ELSEWHERE_MINUTES", default=30)
LOYALTY_ALERTS_GROUP = env.str("LOYALTY_ALERTS_GROUP", default="Managers")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Logs on standard error, each line with the request's id (X-Request-ID: the proxy's, or made
# here and sent back); LOG_FORMAT=json makes them one JSON object a line (docker-compose.yml).
DJANGO_GUID = {"GUID_HEADER_NAME": "X-Request-ID", "VALIDATE_GUID": False, "RETURN_HEADER": True}
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "django_guid.log_filters.CorrelationId"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "correlation_id": "request_id",
            },
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # (django-guid says at INFO, on every request, that it made an id: not worth a line)
    "loggers": {"django_guid": {"level": "WARNING"}},
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # (probes and Prometheus ask from inside, over plain http, without the proxy's header)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SESSION_COOKIE_HTTPONLY = True
    LANGUAGE_COOKIE_SECURE = True
    LANGUAGE_COOKIE_HTTPONLY = True
    LANGUAGE_COOKIE_SAMESITE = "Lax"
