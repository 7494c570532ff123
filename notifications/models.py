"""Messages the program sends a member: the one way it speaks to them (inbox and e-mail)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Message(models.Model):
    member = models.ForeignKey("accounts.Member", on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("kind"), max_length=40)
    # Makes "at most once" a database rule: one message per (member, kind, key).
    dedupe_key = models.CharField(max_length=100, blank=True)
    language = models.CharField(_("language"), max_length=8)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    email_wanted = models.BooleanField(_("send by e-mail"), default=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="message_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return self.subject
