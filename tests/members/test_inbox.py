from django.urls import reverse

from notifications.models import Message
from notifications.services import message_send
from tests import factories

INBOX = reverse("members:inbox")


def test_the_inbox_lists_my_messages_newest_first_with_the_unread_count(member_client, web_member):
    # given: the welcome and one more
    message_send(web_member, "welcome", dedupe_key="again")

    # when
    response = member_client.get(INBOX)

    # then
    html = response.content.decode()
    messages = list(response.context["page"].object_list)
    assert len(messages) == 2
    assert messages[0].created_at >= messages[1].created_at
    assert html.count('class="inbox-item unread"') == 2
    assert '<span class="badge">2<span class="visually-hidden"> unread messages</span>' in html


def test_opening_a_message_marks_it_read(member_client, web_member):
    # given
    message = Message.objects.get(member=web_member)

    # when
    response = member_client.get(reverse("members:message", args=[message.pk]))

    # then
    assert response.status_code == 200
    assert message.subject in response.content.decode()
    message.refresh_from_db()
    assert message.read_at is not None
    assert 'class="badge"' not in member_client.get(INBOX).content.decode()


def test_mark_all_read_is_a_post(member_client, web_member):
    # given
    message_send(web_member, "welcome", dedupe_key="again")

    # when
    refused = member_client.get(reverse("members:inbox_read_all"))
    response = member_client.post(reverse("members:inbox_read_all"))

    # then
    assert refused.status_code == 405
    assert response.status_code == 302
    assert not Message.objects.filter(member=web_member, read_at__isnull=True).exists()


def test_another_members_message_is_not_found(member_client, tiers):
    # given
    other = factories.make_member(email="other@example.com")
    message = Message.objects.get(member=other)

    # when
    response = member_client.get(reverse("members:message", args=[message.pk]))

    # then
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.read_at is None
