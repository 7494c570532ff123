"""Writes for partners and their API keys, and the API's key lookup (cached per process).

Re-exported by accounts.services, the accounts app's write API, for callers that import them
from there.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.base.caching import ProcessCache
from loyalty.base.errors import InvalidInput
from loyalty.base.money import clean_currency

from .models import ApiScope, Partner, PartnerApiKey

API_KEY_PREFIX_LEN = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def partner_create(*, name: str, currency: str | None = None) -> Partner:
    name = str(name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("A partner needs a name of at most 200 characters.", field="name")
    currency = clean_currency(currency or settings.LOYALTY_CURRENCY)
    taken = InvalidInput("A partner with this name exists.", field="name")
    if Partner.objects.filter(name__iexact=name).exists():
        raise taken
    try:
        with transaction.atomic():
            return Partner.objects.create(name=name, currency=currency)
    except IntegrityError:
        raise taken from None


PARTNER_LIMITS = ("max_purchase_amount", "max_points_per_purchase", "max_points_redeemed_per_day")
PARTNER_EDITABLE = ("name", "is_active", *PARTNER_LIMITS, "return_window_days")


@transaction.atomic
def partner_update(*, partner: Partner, changes: dict) -> Partner:
    """Staff's changes to a partner: its name, whether it is active, its sanity limits, its
    return window (for purchases recorded from then on: points already pending keep their day).
    The API sees them within API_KEY_CACHE_SECONDS (each process caches a key with its
    partner)."""
    unknown = set(changes) - set(PARTNER_EDITABLE)
    if unknown:
        raise InvalidInput(f"A partner's {', '.join(sorted(unknown))} cannot be changed.")
    for name, value in changes.items():
        setattr(partner, name, value)
    partner.full_clean(validate_unique=False, validate_constraints=False)
    partner.save(update_fields=list(changes))
    api_key_cache_clear()
    return partner


def clean_api_scopes(scopes) -> list[str]:
    """A key's scopes as stored: known ApiScope values, each once, in ApiScope's order."""
    if isinstance(scopes, str) or not hasattr(scopes, "__iter__"):
        raise InvalidInput("A key's scopes are a list.", field="scopes")
    scopes = {str(scope) for scope in scopes}
    unknown = scopes - set(ApiScope.values)
    if unknown:
        raise InvalidInput(f"Unknown API key scopes: {', '.join(sorted(unknown))}.", field="scopes")
    if not scopes:
        raise InvalidInput("An API key needs at least one scope.", field="scopes")
    return [scope for scope in ApiScope.values if scope in scopes]


@transaction.atomic
def api_key_create(
    *,
    partner: Partner,
    name: str = "",
    created_by=None,
    raw_key: str | None = None,
    scopes=None,
) -> tuple[PartnerApiKey, str]:
    """Make a key for a partner; the raw key is returned once and never stored. `scopes` (a list
    of ApiScope values) limits what it may do; None gives it every scope.

    `raw_key` lets the demo data use a published key; real keys are always random.
    """
    scopes = list(ApiScope.values) if scopes is None else clean_api_scopes(scopes)
    if raw_key is not None and not 20 <= len(raw_key) <= 200:
        raise InvalidInput("An API key has 20 to 200 characters.", field="raw_key")
    if raw_key is None:
        prefix = secrets.token_hex(API_KEY_PREFIX_LEN // 2)
        raw_key = f"{prefix}.{secrets.token_urlsafe(32)}"  # 256 random bits after the prefix
    prefix = raw_key.split(".", 1)[0][:16]
    key = PartnerApiKey.objects.create(
        partner=partner,
        name=str(name or "")[:100],
        prefix=prefix,
        digest=hash_api_key(raw_key),
        created_by=created_by,
        scopes=scopes,
    )
    return key, raw_key


@transaction.atomic
def api_key_set_scopes(*, key: PartnerApiKey, scopes) -> PartnerApiKey:
    """Change what a key may do. This process forgets its cached keys at once; the others see
    the change within API_KEY_CACHE_SECONDS, as they see a revocation."""
    scopes = clean_api_scopes(scopes)
    PartnerApiKey.objects.filter(pk=key.pk).update(scopes=scopes)
    key.scopes = scopes
    api_key_cache_clear()
    transaction.on_commit(api_key_cache_clear)
    return key


@transaction.atomic
def api_key_revoke(*, key: PartnerApiKey) -> PartnerApiKey:
    PartnerApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    key.refresh_from_db(fields=["revoked_at"])
    api_key_cache_clear()
    transaction.on_commit(api_key_cache_clear)
    return key


def _active_key(digest: str) -> PartnerApiKey | None:
    return (
        PartnerApiKey.objects.select_related("partner")
        .filter(digest=digest, revoked_at__isnull=True, partner__is_active=True)
        .first()
    )


def _record_use(key: PartnerApiKey, last_used_at, now) -> bool:
    """Record the key's use if the last one is more than a minute old; whether it wrote.

    The UPDATE is conditional, so of several processes (each knowing only its own last write)
    one writes per minute at most.
    """
    if last_used_at is not None and now - last_used_at <= LAST_USED_RESOLUTION:
        return False
    PartnerApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION), pk=key.pk
    ).update(last_used_at=now)
    return True


def api_key_authenticate(raw_key: str) -> PartnerApiKey | None:
    """The active key for a raw key, recording its last use (at most once a minute)."""
    if not raw_key or len(raw_key) > 200:
        return None
    key = _active_key(hash_api_key(raw_key))
    if key is None:
        return None
    now = timezone.now()
    if _record_use(key, key.last_used_at, now):
        key.last_used_at = now
    return key


# The partner API authenticates every request; the key and its partner change rarely. Each
# process keeps what a digest named for API_KEY_CACHE_SECONDS (loyalty.base.caching.ProcessCache).
# Revoking a key (api_key_revoke) or saving or deleting a key or a partner empties this
# process's cache at once (and again when the transaction commits); other processes (the other
# gunicorn workers) notice within API_KEY_CACHE_SECONDS. That is how long a revoked key or a
# deactivated partner can still authenticate there. Unknown keys are never cached: every
# attempt is looked up.
API_KEY_CACHE_SECONDS = 30


def _row(instance) -> tuple:
    fields = instance._meta.concrete_fields
    return tuple(f.attname for f in fields), tuple(getattr(instance, f.attname) for f in fields)


def _cached_key(digest: str) -> list | None:
    """[database alias, key row, partner row, the last use this process knows of]."""
    key = _active_key(digest)
    if key is None:
        return None
    return [key._state.db, _row(key), _row(key.partner), key.last_used_at]


_api_keys = ProcessCache(
    "accounts.api_keys",
    _cached_key,
    seconds=API_KEY_CACHE_SECONDS,
    models=[PartnerApiKey, Partner],
)


def api_key_cache_clear(**kwargs) -> None:
    """Forget every cached key in this process."""
    _api_keys.clear()


def api_key_authenticate_cached(raw_key: str) -> PartnerApiKey | None:
    """api_key_authenticate for the API: the same answer, from this process's cache when it is
    fresh (see API_KEY_CACHE_SECONDS); no query at all while the key's last use was recorded
    less than a minute ago. Each call gets its own key and partner instances."""
    if not raw_key or len(raw_key) > 200:
        return None
    cached = _api_keys.get(hash_api_key(raw_key))
    if cached is None:
        return None
    db, key_row, partner_row, last_used_at = cached
    key = PartnerApiKey.from_db(db, *key_row)
    key.partner = Partner.from_db(db, *partner_row)
    now = timezone.now()
    if _record_use(key, last_used_at, now):
        cached[3] = now
    key.last_used_at = cached[3]
    return key
