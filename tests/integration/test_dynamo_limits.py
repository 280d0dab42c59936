"""
DynamoDB's limits held by sosw before DynamoDB refuses: 400 KB an item, 100 actions and 4 MB a transaction, 25 items
a BatchWriteItem. The tests run on a moto server that refuses what DynamoDB refuses (``sosw.local._moto_limits``),
started in this process over HTTP, so a request cut wrongly fails here as it would on AWS.
"""

import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer

from sosw import constants
from sosw.components.dynamo_db import DynamoDbClient
from sosw.exceptions import InvalidDynamoInput
from sosw.local import _moto_patches
from sosw.local.moto_server import free_port
from sosw.managers.task import TaskManager
from sosw.scavenger import Scavenger
from tests.integration.conftest import scan_all

pytestmark = pytest.mark.integration

TABLE = "autotest_limits"
KB = 1024
TASKS, CLOSED, RETRY = constants.TASKS_TABLE, constants.CLOSED_TASKS_TABLE, constants.RETRY_TASKS_TABLE
DURATION, COOLDOWN = 10, 5


@pytest.fixture(scope="module")
def limited_server():
    """A moto server in this process with the embedded runtime's patches and DynamoDB's size limits."""
    with pytest.MonkeyPatch.context() as patch:
        _moto_patches.apply(patch.setattr)  # DynamoDB's size limits included
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        yield f"http://127.0.0.1:{port}"
        server.stop()


@pytest.fixture
def limited(aws, limited_server, monkeypatch):
    """boto3 reaches the limited server for this test, with sosw's tables and ``autotest_limits``."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", limited_server)
    ddb = boto3.client("dynamodb")
    for table in constants.TABLE_SCHEMAS.values():
        ddb.create_table(**table)
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "hash_col", "KeyType": "HASH"},
                                {"AttributeName": "range_col", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "hash_col", "AttributeType": "S"},
                                           {"AttributeName": "range_col", "AttributeType": "N"}])
    yield ddb
    urllib.request.urlopen(urllib.request.Request(f"{limited_server}/moto-api/reset", method="POST")).read()


@pytest.fixture
def client(limited):
    return DynamoDbClient({"table_name": TABLE, "row_mapper": {"hash_col": "S", "range_col": "N", "payload": "S"}})


def rows(n, payload_bytes, prefix="r"):
    return [{"hash_col": f"{prefix}{i:03}", "range_col": i, "payload": "x" * payload_bytes} for i in range(n)]


def keys_in(table):
    return sorted(item["hash_col"] for item in scan_all(table))


def test_the_server_refuses_a_transaction_over_4_mb(limited):
    actions = [{"Put": {"TableName": TABLE, "Item": {"hash_col": {"S": r["hash_col"]}, "range_col": {"N": "1"},
                                                     "payload": {"S": r["payload"]}}}} for r in rows(25, 200 * KB)]
    with pytest.raises(limited.exceptions.ClientError, match="cannot be larger than 4 MB"):
        limited.transact_write_items(TransactItems=actions)
    assert keys_in(TABLE) == []


def test_the_embedded_runtimes_moto_server_refuses_a_transaction_over_4_mb(aws):
    """The suite's own moto server, started as ``sosw demo`` starts it (``sosw.local._moto_main``)."""
    ddb = boto3.client("dynamodb")
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "hash_col", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "hash_col", "AttributeType": "S"}])
    actions = [{"Put": {"TableName": TABLE, "Item": {"hash_col": {"S": r["hash_col"]}, "payload": {"S": r["payload"]}}}}
               for r in rows(25, 200 * KB)]
    with pytest.raises(ddb.exceptions.ClientError, match="cannot be larger than 4 MB"):
        ddb.transact_write_items(TransactItems=actions)


def test_transact_write_cuts_25_puts_of_200_kb_into_transactions_under_4_mb(client):
    actions = [client.make_put_transaction_item(row) for row in rows(25, 200 * KB)]
    client.transact_write(*actions)
    assert client.get_stats()["dynamo_transact_write_items_calls"] == 2
    assert keys_in(TABLE) == [f"r{i:03}" for i in range(25)]
    assert {len(item["payload"]) for item in scan_all(TABLE)} == {200 * KB}


def test_small_items_take_as_few_calls_as_before(client):
    client.transact_write(*[client.make_put_transaction_item(row) for row in rows(250, 100)])
    client.batch_put(rows(60, 100, prefix="b"))
    stats = client.get_stats()
    assert stats["dynamo_transact_write_items_calls"] == 3
    assert stats["dynamo_batch_write_item_calls"] == 3
    assert len(keys_in(TABLE)) == 310


def test_batch_put_of_large_items_is_written_whole(client):
    client.batch_put(rows(30, 350 * KB))
    assert client.get_stats()["dynamo_batch_write_item_calls"] == 2
    assert len(keys_in(TABLE)) == 30


@pytest.mark.parametrize("write", [
    lambda c, row: c.put(row),
    lambda c, row: c.batch_put([*rows(3, 10), row]),
    lambda c, row: c.transact_write(*[c.make_put_transaction_item(r) for r in [*rows(3, 10), row]]),
])
def test_an_item_over_400_kb_is_refused_naming_its_key_and_size_before_anything_is_written(client, write):
    too_big = {"hash_col": "big", "range_col": 7, "payload": "x" * (400 * KB)}
    with pytest.raises(InvalidDynamoInput) as err:
        write(client, too_big)
    assert str(err.value) == (f"item: item {{'hash_col': 'big', 'range_col': 7}} of {TABLE} is 409629 bytes, over "
                              "DynamoDB's limit of 400 KB (409600 bytes) an item; nothing of this request was written")
    assert err.value.value == 409629
    assert keys_in(TABLE) == []
    stats = client.get_stats()
    assert stats["dynamo_put_item_calls"] == stats["dynamo_batch_write_item_calls"] == 0
    assert stats["dynamo_transact_write_items_calls"] == 0


# The Scavenger moves tasks with large payloads --------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    clock = {"now": 1_700_000_000}
    monkeypatch.setattr(TaskManager, "now", lambda self: clock["now"])
    return clock


TASK_CONFIG = {
    "labourers": {"w": {"duration": DURATION, "cooldown": COOLDOWN}},
    "read_labourer_timeout": False,
    "meta_handler_config": {"dynamo_db_config": {"table_name": constants.META_TABLE}},
}


def test_scavenger_archives_retries_and_requeues_tasks_with_large_payloads(limited, clock):
    """30 completed and 30 expired tasks of ~200 KB each: 6 MB for each move, which the old cut by count sent as
    transactions of 25 tasks (5 MB) that DynamoDB (and this server) refuse."""
    tm = TaskManager(custom_config=TASK_CONFIG)
    labourer = tm.get_labourer("w")
    payloads = [{"n": i, "blob": "x" * 200_000} for i in range(60)]
    ids = tm.create_tasks(labourer, payloads)
    done, lazy = ids[:30], ids[30:]
    clock["now"] += 1
    for task_id in ids:
        tm.mark_task_invoked(labourer, tm.get_task_by_id(task_id), check_running=False)
    for task_id in done:
        assert tm.mark_task_as_completed(task_id)
    clock["now"] += DURATION + COOLDOWN + 1

    scavenger = Scavenger(custom_config={"task_config": TASK_CONFIG, "min_retry_delay": 2})
    changes = scavenger({})
    assert scavenger.stats["labourer_failures"] == 0
    assert changes == {"tasks_archived": 30, "tasks_moved_to_retry": 30}

    closed, retry = {i["task_id"]: i for i in scan_all(CLOSED)}, {i["task_id"]: i for i in scan_all(RETRY)}
    assert sorted(closed) == sorted(done) and sorted(retry) == sorted(lazy)
    assert scan_all(TASKS) == []
    assert all(len(closed[t]["payload"]) > 200_000 for t in done)

    clock["now"] += 10 * DURATION
    changes = scavenger({})
    assert scavenger.stats["labourer_failures"] == 0
    assert changes == {"tasks_retried": 30}
    tasks = {i["task_id"]: i for i in scan_all(TASKS)}
    assert sorted(tasks) == sorted(lazy) and scan_all(RETRY) == []
    assert all(len(tasks[t]["payload"]) > 200_000 and tasks[t]["attempts"] == 1 for t in lazy)
