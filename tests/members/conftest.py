import pytest

from tests import factories

PASSWORD = "a-long-Secret-42"


@pytest.fixture
def web_member(db, tiers):
    """A member who joined on the web, reads English and can log in with PASSWORD."""
    return factories.make_member(
        email="ieva@example.com", first_name="Ieva", language="en", password=PASSWORD
    )


@pytest.fixture
def member_client(client, web_member):
    client.force_login(web_member.user)
    return client


@pytest.fixture
def shop(db):
    return factories.make_partner("Corner Shop")


@pytest.fixture
def rules(db):
    return {
        "base": factories.make_rule(name="One point per euro"),
        "coffee": factories.make_rule(
            name="Two points per euro on coffee", points_per_unit=2, category="coffee"
        ),
    }
