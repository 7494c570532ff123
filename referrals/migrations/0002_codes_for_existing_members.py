"""Every member has a referral code and a sign-up fingerprint (the canonical e-mail address the
"friend must be new" rule looks up); give them to the members enrolled before referrals."""

from django.db import migrations

BATCH = 1000


def forwards(apps, schema_editor):
    from referrals.emails import canonical_email
    from referrals.services import new_code

    Member = apps.get_model("accounts", "Member")
    ReferralCode = apps.get_model("referrals", "ReferralCode")
    SignupFingerprint = apps.get_model("referrals", "SignupFingerprint")

    taken = set(ReferralCode.objects.values_list("code", flat=True))
    members = (
        Member.objects.filter(referral_code__isnull=True)
        .values_list("pk", flat=True)
        .order_by("pk")
    )
    codes = []
    for member_id in members.iterator():
        code = new_code()
        while code in taken:
            code = new_code()
        taken.add(code)
        codes.append(ReferralCode(member_id=member_id, code=code))
    ReferralCode.objects.bulk_create(codes, batch_size=BATCH)

    rows = (
        Member.objects.filter(signup_fingerprint__isnull=True)
        .values_list("pk", "user__email")
        .order_by("pk")
    )
    SignupFingerprint.objects.bulk_create(
        (
            SignupFingerprint(member_id=member_id, email_canonical=canonical_email(email))
            for member_id, email in rows.iterator()
        ),
        batch_size=BATCH,
    )


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
