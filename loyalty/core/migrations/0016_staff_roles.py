"""The staff roles (Support, Managers, Marketing, Finance) as groups with the permissions of
loyalty.core.roles. Permissions are normally made after migrate (post_migrate), so
roles_apply makes every app's first; it runs again after every migrate (see roles.py)."""

from django.db import migrations


def apply_roles(apps, schema_editor):
    from loyalty.core.roles import roles_apply

    # (not strict: a model a later migration makes gets its role's permissions at post_migrate)
    roles_apply(apps=apps, using=schema_editor.connection.alias, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0015_adjustment_requests"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0007_erasure"),
        ("rewards", "0005_saving_goal"),
        ("referrals", "0003_invitation_emails_in_outbox"),
        ("feedback", "0002_policies_schedule_managers"),
        ("notifications", "0003_message_params"),
        ("webhooks", "0003_event_member_erased"),
        ("insights", "0005_campaign_not_given"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
