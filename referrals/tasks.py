from celery import shared_task

from notifications.outbox import email_send_for

from .models import Invitation


@shared_task(acks_late=True, ignore_result=True)
def invitation_email_task(invitation_id: int) -> None:
    """Sent before the outbox (an invitation still in the broker at the upgrade): the outbox's
    attempt for the invitation."""
    referrer_id = (
        Invitation.objects.filter(pk=invitation_id).values_list("referrer_id", flat=True).first()
    )
    email_send_for(kind="invitation", create=True, object_id=invitation_id, member_id=referrer_id)
