"""Fixtures of the reliability suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from commands.postgres.database_url import DatabaseUrl
from tests.support.reliability.crash_targets import (
    REPLICA_ENV,
    CrashWorld,
    crash_targets,
    slow_parts,
)
from tests.support.reliability.fault_targets import FaultWorld, fault_targets
from tests.support.reliability.http_relay import HttpRelay, Rule, forward
from tests.support.reliability.observe import Bucket
from tests.support.reliability.socket_relay import PostgresRelay
from tests.support.reliability.world import (
    BIG_MIB,
    Templates,
    World,
    aws_environment,
    drop_databases,
    make_template,
)


@pytest.fixture(scope="session")
def templates(pg_server: DatabaseUrl) -> Iterator[Templates]:
    made = Templates(
        small=make_template(pg_server, "rel_small_tpl"),
        big=make_template(pg_server, "rel_big_tpl", megabytes=BIG_MIB),
    )
    yield made
    drop_databases(pg_server, [made.small, made.big])


@pytest.fixture(scope="module")
def crash_world(
    pg_server: DatabaseUrl,
    s3_server: str,
    templates: Templates,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CrashWorld]:
    root = tmp_path_factory.mktemp("crash")
    bucket = Bucket.create(s3_server, f"crash-{root.name.lower()}")
    with HttpRelay(s3_server) as relay, PostgresRelay(pg_server, root / "replica") as replica:
        relay.rule = slow_parts
        targets = crash_targets(pg_server, templates, bucket=bucket.name, s3_endpoint=relay.url)
        replica_url = replica.url("postgres").text()
        environ = {**aws_environment(), REPLICA_ENV: replica_url}
        world = World(root, pg_server, targets, environ=environ)
        with world.running():
            yield CrashWorld(world, bucket, relay, replica)
    drop_databases(pg_server, [t.database.database for t in targets])


@pytest.fixture(scope="module")
def faults(
    pg_server: DatabaseUrl,
    s3_server: str,
    templates: Templates,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FaultWorld]:
    root = tmp_path_factory.mktemp("faults")
    bucket = Bucket.create(s3_server, f"faults-{root.name.lower()}")
    with HttpRelay(s3_server) as relay:
        targets = fault_targets(pg_server, templates, bucket=bucket.name, s3_endpoint=relay.url)
        world = World(root, pg_server, targets, environ=aws_environment())
        with world.running():
            yield FaultWorld(world, bucket, relay)
    drop_databases(pg_server, [t.database.database for t in targets])


@pytest.fixture
def relay_rule(faults: FaultWorld) -> Iterator[Callable[[Rule], None]]:
    """Set the S3 relay's rule for one test; every request goes through again after it."""

    def use(rule: Rule) -> None:
        faults.relay.rule = rule

    yield use
    faults.relay.rule = forward
