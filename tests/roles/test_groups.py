"""The roles' groups hold exactly the permissions of the table in loyalty.core.roles."""

import pytest
from django.contrib.auth.models import Group, Permission

from loyalty.core import roles

pytestmark = pytest.mark.django_db


def _codes(permissions) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions}


@pytest.mark.parametrize("role", list(roles.ROLES))
def test_each_group_has_exactly_its_roles_permissions(role):
    # given: the migrations have run (and post_migrate with them)
    group = Group.objects.get(name=role)
    # then
    expected = _codes(roles.role_permissions(role).select_related("content_type"))
    assert _codes(group.permissions.select_related("content_type")) == expected
    listed = {item for item in roles.ROLES[role] if "*" not in item and item[0] != "-"}
    assert listed <= expected


def test_the_roles_in_plain_words():
    # then: what the issue asks of each role
    support = _codes(roles.role_permissions(roles.SUPPORT).select_related("content_type"))
    manager = _codes(roles.role_permissions(roles.MANAGERS).select_related("content_type"))
    marketing = _codes(roles.role_permissions(roles.MARKETING).select_related("content_type"))
    finance = _codes(roles.role_permissions(roles.FINANCE).select_related("content_type"))
    assert "loyalty.adjust_points_above_limit" in manager
    assert "accounts.erase_member" in manager
    assert "loyalty.change_adjustmentpolicy" in manager
    assert "imports.add_importjob" in manager  # importing is the managers' alone
    assert not {"accounts.change_user", "accounts.add_user"} & manager
    for others in (support, marketing, finance):
        assert "loyalty.adjust_points_above_limit" not in others
        assert "accounts.erase_member" not in others
        assert not {code for code in others if code.startswith("imports.")}
    assert "feedback.add_feedbackanswer" in support
    assert {"rewards.add_reward", "loyalty.change_earningrule", "insights.add_campaign"} <= (
        marketing
    )
    assert "insights.view_snapshot" in finance
    # rule drafts: marketing and managers draft; finance reads the simulations
    assert {"insights.add_ruledraft", "insights.change_ruledraft"} <= marketing & manager
    assert "insights.view_ruledraft" in finance
    assert "insights.view_ruledraft" not in support
    assert all(code.split(".")[1].startswith("view_") for code in finance)


def test_applying_the_roles_again_changes_nothing_and_undoes_edits():
    # given: someone added a permission to Finance in the admin
    finance = Group.objects.get(name=roles.FINANCE)
    before = set(finance.permissions.values_list("pk", flat=True))
    finance.permissions.add(Permission.objects.get(codename="erase_member"))
    # when
    roles.roles_apply()
    roles.roles_apply()
    # then
    assert set(finance.permissions.values_list("pk", flat=True)) == before
    assert Group.objects.filter(name__in=roles.ROLES).count() == len(roles.ROLES)


def test_a_role_naming_a_permission_that_does_not_exist_is_an_error(monkeypatch):
    monkeypatch.setitem(roles.ROLES, roles.FINANCE, ["loyalty.view_nothing"])
    with pytest.raises(LookupError):
        roles.role_permissions(roles.FINANCE)
