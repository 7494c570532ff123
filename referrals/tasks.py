from celery import shared_task

from .invitations import invitation_send_email


@shared_task(acks_late=True, ignore_result=True)
def invitation_email_task(invitation_id: int) -> None:
    invitation_send_email(invitation_id=invitation_id)
