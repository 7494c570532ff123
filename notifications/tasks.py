from celery import shared_task

from .services import message_send_email


@shared_task(acks_late=True, ignore_result=True)
def message_email_task(message_id: int) -> None:
    message_send_email(message_id=message_id)
