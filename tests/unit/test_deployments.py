"""The schedule behind `eagergraph serve`: exactly one of cron, interval or RRule, checked by Prefect's own models."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eagergraph.orchestration.deployments import schedule


def test_each_kind_of_schedule_becomes_flow_serve_arguments() -> None:
    assert schedule(cron="0 6 * * *") == {"cron": "0 6 * * *"}
    assert schedule(interval=90) == {"interval": timedelta(seconds=90)}
    assert schedule(rrule="FREQ=WEEKLY;BYDAY=MO;BYHOUR=6") == {"rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=6"}


@pytest.mark.parametrize(("given", "message"), [
    ({}, "give exactly one of --cron EXPR, --interval SECONDS, --rrule RULE"),
    ({"cron": "0 6 * * *", "rrule": "FREQ=DAILY"}, "give exactly one of"),
    ({"interval": 0}, "--interval must be a positive number of seconds, got 0"),
    ({"cron": "61 * * * *"}, "--cron '61 * * * *' is not a valid cron expression"),
    ({"cron": "H * * * *"}, "is not a valid cron expression"),  # croniter's hashed form, which Prefect refuses
    ({"rrule": "FREQ=SOMETIMES"}, "--rrule 'FREQ=SOMETIMES' is not a valid RRule"),
])
def test_a_bad_schedule_is_one_line_naming_the_option(given: dict, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        schedule(**given)
    assert message in str(refused.value) and "\n" not in str(refused.value)
