"""`uhnw bench chaos`, short: every fault of the bench once (kill -9 a hot-path instance, kill -9 an API replica, restart
the broker, restart PostgreSQL, pause an instance past its session timeout) during a steady stream, on a stack of its
own (so its restarts never touch the session's broker, database or Spark catalog). Asserts only what the RMs' sockets
lost or got twice: recovery times stay in the bench (BENCHMARKS.md), where the machine is quiet."""
import dataclasses

import pytest

from uhnw.bench.chaos import FAULTS, bench_chaos
from uhnw.bench.harness import free_port
from uhnw.ops import stack as local_stack

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def own_stack(stack, model_home, tmp_path):
    "A second local stack (own ports, own folders) whose lake is the promoted model's: faults here stay here."
    home = tmp_path / "chaos-home"
    home.mkdir()
    (home / "lake").symlink_to(model_home / "lake")
    settings = dataclasses.replace(stack, home=home, kafka_port=free_port(), kafka_controller_port=free_port(),
                                   postgres_port=free_port(), spark_connect_port=0)
    try:
        yield settings
    finally:
        local_stack.down(settings, purge=True)


def test_a_short_chaos_run_loses_and_duplicates_no_alert_an_rm_should_see(own_stack):
    lines: list[str] = []
    figures = bench_chaos(own_stack, rate=20, gap=12, rms=4, api_replicas=2, instances=2, warmup=5, out=lines.append)
    report = "\n".join(lines)
    assert [f["fault"] for f in figures["faults"]] == list(FAULTS), report
    assert figures["accepted"] == figures["articles"] > 0, report
    assert figures["expected"] > 50, "enough alerts to have something to lose"
    assert figures["reconnects"] >= 1, "the killed replica's sockets reconnected elsewhere with their last_alert_id"
    assert figures["lost"] == 0 and figures["duplicated"] == 0, report
    assert figures["unexpected"] == 0, report
    assert lines[-1].startswith('{"bench": "chaos"'), "the JSON line comes last"
