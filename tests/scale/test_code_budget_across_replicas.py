"""At most five codes an hour go to one phone (AUTH-4), however the requests are spread over
the replicas: the counter is one moving window in Redis."""

from __future__ import annotations

import pytest

from emulators.host import EmulatorHost
from tests.scale.fleet import Fleet, replica_settings
from tests.scale.test_identity_across_replicas import REQUEST_CODE, codes, register
from tests.support import graphql, message_count

pytestmark = pytest.mark.scale


@pytest.fixture
def fleet_settings(emulators: EmulatorHost, database_url: str, redis_url: str) -> dict[str, str]:
    """No resend cooldown, so that only the hourly limit can refuse."""
    return replica_settings(emulators, database_url, redis_url, code_resend_cooldown_seconds=0)


async def test_the_sixth_code_in_an_hour_is_refused_whichever_replica_gets_it(
    fleet: Fleet, emulators: EmulatorHost
) -> None:
    rr = fleet.round_robin()
    headers = await register(rr.next())
    variables = {"channel": "PHONE", "value": "+79123456782"}

    answers = [
        codes(
            (await graphql(rr.next(), REQUEST_CODE, variables, headers=headers))["data"][
                "requestContactCode"
            ]
        )
        for _ in range(5)
    ]
    sixth = [
        codes(
            (await graphql(fleet.client(n), REQUEST_CODE, variables, headers=headers))["data"][
                "requestContactCode"
            ]
        )
        for n in range(3)
    ]

    assert answers == [[]] * 5
    assert sixth == [["CODE_HOURLY_LIMIT"]] * 3
    sms = f"{emulators.config.sms_url}/sms/messages"
    assert await message_count(sms, {"phone": "79123456782"}) == 5
