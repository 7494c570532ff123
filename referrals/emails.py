"""The canonical form of an e-mail address: the mailbox the provider actually delivers to.

Used to tell whether two addresses are one person (no self-referral, a friend must be new).

- Everywhere: trimmed and lower-cased (domains are case-insensitive, and the program already
  treats local parts so), and a "+tag" is dropped: Outlook, iCloud, Fastmail, Proton, Yahoo's
  plus addresses and most company mail servers deliver a+anything@ to a@. A provider where "+"
  is a real part of a name would make two people look alike; that costs at most a refused
  referral bonus, never an account, and staff can see the flag.
- Gmail (gmail.com, googlemail.com) also ignores dots in the local part, and the two domains
  are one mailbox: O.Na+x@GoogleMail.com is ona@gmail.com.
"""

from __future__ import annotations

DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def canonical_email(email: str) -> str:
    email = str(email or "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
        domain = DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def mask_email(email: str) -> str:
    """Enough for a member to recognise a friend, not enough to write to them:
    ona.k@example.com → o***@e***.com."""
    email = str(email or "").strip().lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return "***"
    name, dot, tld = domain.rpartition(".")
    masked_domain = f"{name[:1]}***.{tld}" if dot else f"{domain[:1]}***"
    return f"{local[:1]}***@{masked_domain}"
