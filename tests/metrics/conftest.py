"""Builders shared by the write-back tests: configs and stored responses without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.models import SurveyResponse
from sync.core.config import Config
from sync.state import StoredResponse

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "salesforce": {"instance_url": "https://acme.my.salesforce.com"},
        "zendesk": {"subdomain": "acme"},
        "rules": "rules.yaml",
    }
    data.update(overrides)
    return Config.model_validate(data)


def stored(
    rid: str,
    *,
    contact: str | None,
    account: str | None,
    score: int,
    days_ago: float,
    comment: str = "",
    user: int | None = None,
    org: int | None = None,
    arr: float = 0.0,
    renewal: str | None = None,
    tier: str = "SMB",
    source: str = "delighted",
    email: str | None = None,
) -> StoredResponse:
    at = NOW - timedelta(days=days_ago)
    response = SurveyResponse(
        source=source,
        response_id=rid,
        email=email or f"{contact or rid}@example.com",
        score=score,
        comment=comment,
        created_at=at,
        updated_at=at,
        survey_type="relationship",
        channel="email",
        permalink=f"https://survey.example/r/{rid}",
    )
    match = {
        "contact": {"id": contact, "name": f"Person {contact}"} if contact else None,
        "account": (
            {
                "id": account,
                "name": f"Account {account}",
                "arr": arr,
                "renewal_date": renewal,
                "tier": tier,
            }
            if account
            else None
        ),
    }
    return StoredResponse(
        response=response,
        version="v1",
        routed_version="v1",
        contact_id=contact,
        account_id=account,
        zendesk_user_id=user,
        zendesk_org_id=org,
        match=match,
        decision={},
    )
