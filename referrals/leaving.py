"""What referrals does when a member leaves (loyalty.core.hooks.MemberHook, registered in
apps.py).

Closing: invitations no friend took up are withdrawn (with their e-mails, if not sent yet).
Erasure: the sign-up fingerprint (canonical address, device and address hashes) and the
member's own code go; every invitation the member sent (friends' addresses) and every
invitation sent to the person's address by others go with their e-mails; a staff review note
that quotes the person is blanked, and so is their name in the messages of the friends they
brought or who brought them ("Because Ona invited you..."). The referrals themselves stay:
they are the causes of ledger entries, and name members only by id.
"""

from __future__ import annotations

from django.db.models import Q

from accounts.models import Member
from loyalty.base.personal import Personal
from notifications.outbox import emails_forget
from notifications.services import messages_scrub

from .emails import canonical_email
from .models import Invitation, Referral, ReferralCode, SignupFingerprint


def _invitations_delete(invitations) -> int:
    ids = list(invitations.values_list("pk", flat=True))
    emails_forget(kind="invitation", object_ids=ids)
    return Invitation.objects.filter(pk__in=ids).delete()[0]


def referrals_close(*, member: Member) -> int:
    """Withdraw the member's invitations no friend joined through; how many."""
    return _invitations_delete(Invitation.objects.filter(referrer=member, referrals__isnull=True))


def referrals_erase(*, member: Member, personal: Personal) -> None:
    SignupFingerprint.objects.filter(member=member).delete()
    ReferralCode.objects.filter(member=member).delete()
    address = Q(email__iexact=personal.email) | Q(email_canonical=canonical_email(personal.email))
    _invitations_delete(Invitation.objects.filter(Q(referrer=member) | address))
    linked = Referral.objects.filter(Q(referrer=member) | Q(referee=member))
    friends = {pk for pair in linked.values_list("referrer_id", "referee_id") for pk in pair}
    messages_scrub(member_ids=friends - {member.pk}, personal=personal)
    about = linked.exclude(review_note="")
    for referral in about.union(Referral.objects.filter(personal.q("review_note"))):
        if personal.mentioned_in(referral.review_note):
            Referral.objects.filter(pk=referral.pk).update(
                review_note=personal.scrub(referral.review_note)
            )
