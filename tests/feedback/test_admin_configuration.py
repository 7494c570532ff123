"""Configuring the feedback book in the admin: answer templates, response policies, surveys."""

from django.urls import reverse

from feedback import surveys as feedback_surveys
from feedback.models import AnswerTemplate, ResponsePolicy, SurveyResponse


def _template_form(**texts) -> dict:
    data = {"name": "Late delivery", "kind": "", "is_active": "on"}
    data.update({f"done_{code}": f"Done ({code})" for code in ("en", "lt", "bg", "da", "ru", "pl")})
    data.update(texts)
    return data


def test_a_template_needs_what_changes_in_all_languages_or_none(web):
    url = reverse("admin:feedback_answertemplate_add")

    # when: only in English
    partial = web.post(url, _template_form(changes_en="We add a van."))

    # then
    assert partial.status_code == 200
    errors = partial.context["adminform"].form.errors
    assert sorted(errors) == ["changes_bg", "changes_da", "changes_lt", "changes_pl", "changes_ru"]
    assert not AnswerTemplate.objects.exists()

    # when: in none, or in all six
    none = web.post(url, _template_form())
    every = web.post(
        url,
        _template_form(
            name="Late delivery 2",
            **{f"changes_{code}": "More vans." for code in ("en", "lt", "bg", "da", "ru", "pl")},
        ),
    )

    # then
    assert (none.status_code, every.status_code) == (302, 302)
    assert AnswerTemplate.objects.count() == 2


def test_a_template_needs_what_was_done_in_all_six_languages(web):
    # when
    response = web.post(reverse("admin:feedback_answertemplate_add"), _template_form(done_pl=""))

    # then
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["done_pl"]


def test_response_policies_are_edited_on_the_list_and_stay_in_order(web):
    # given: the migration's four policies
    policies = list(ResponsePolicy.objects.order_by("pk"))
    data = {"form-TOTAL_FORMS": len(policies), "form-INITIAL_FORMS": len(policies), "_save": "1"}
    shown = web.get(reverse("admin:feedback_responsepolicy_changelist"))
    order = [policy.pk for policy in shown.context["cl"].result_list]
    for index, pk in enumerate(order):
        policy = ResponsePolicy.objects.get(pk=pk)
        data[f"form-{index}-id"] = pk
        data[f"form-{index}-first_answer_hours"] = policy.first_answer_hours
        data[f"form-{index}-resolution_hours"] = policy.resolution_hours
    normal = order.index(ResponsePolicy.objects.get(severity="normal").pk)

    # when: the resolution would come before the first answer
    bad = web.post(
        reverse("admin:feedback_responsepolicy_changelist"),
        {**data, f"form-{normal}-first_answer_hours": 10, f"form-{normal}-resolution_hours": 5},
    )
    good = web.post(
        reverse("admin:feedback_responsepolicy_changelist"),
        {**data, f"form-{normal}-first_answer_hours": 8, f"form-{normal}-resolution_hours": 40},
    )

    # then
    assert bad.status_code == 200
    assert good.status_code == 302
    normal_policy = ResponsePolicy.objects.get(severity="normal")
    assert (normal_policy.first_answer_hours, normal_policy.resolution_hours) == (8, 40)


def test_surveys_are_read_only(web, member):
    # given
    survey = feedback_surveys.survey_invite(member=member, trigger="purchase")

    # when
    listing = web.get(reverse("admin:feedback_surveyresponse_changelist"))
    page = web.get(reverse("admin:feedback_surveyresponse_change", args=[survey.pk]))
    add = web.get(reverse("admin:feedback_surveyresponse_add"))

    # then
    assert (listing.status_code, page.status_code, add.status_code) == (200, 200, 403)
    assert reverse("admin:feedback_feedbackitem_figures") in listing.content.decode()
    assert SurveyResponse.objects.count() == 1
