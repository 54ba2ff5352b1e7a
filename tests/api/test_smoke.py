"""The API answers a dashboard's first query for a new merchant."""

from tests.conftest import Tenant

VIEWER = "{ viewer { account { id name } clientId scopes } }"


async def test_viewer_names_the_tenant_of_the_token(tenant: Tenant) -> None:
    # when
    body = await tenant.gql(VIEWER, scopes=["customers:read"])
    # then
    assert body["data"]["viewer"]["account"]["id"] == tenant.id
    assert body["data"]["viewer"]["scopes"] == ["customers:read"]
