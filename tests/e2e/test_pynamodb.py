"""An object mapper against tandem: PynamoDB (pinned in requirements.txt) creates
a table, saves, gets, queries with a range-key condition, saves conditionally,
updates with actions, scans with a filter, counts and deletes — the calls an
application written for DynamoDB makes through it, unchanged.

PynamoDB 4 and later send expressions; the last releases that sent the legacy
parameters (3.x) do not import on Python 3.11, so those parameters are covered
call by call with boto3 in test_dynamo_legacy.py."""

import pytest

pynamodb = pytest.importorskip("pynamodb")

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute  # noqa: E402
from pynamodb.exceptions import DeleteError, PutError  # noqa: E402
from pynamodb.models import Model  # noqa: E402

from dynamo_helpers import unique_table  # noqa: E402
from e2e_helpers import KEYS, SIGNING_REGION  # noqa: E402


@pytest.fixture(scope="module")
def Order(node):
    key = KEYS["admin"]

    class Order(Model):
        class Meta:
            table_name = unique_table("pynamodb-orders")
            host = node.endpoint
            region = SIGNING_REGION
            aws_access_key_id = key.access_key_id
            aws_secret_access_key = key.secret_access_key
            max_retry_attempts = 0

        customer = UnicodeAttribute(hash_key=True)
        number = NumberAttribute(range_key=True)
        status = UnicodeAttribute(default="new")
        total = NumberAttribute(default=0)
        tags = UnicodeSetAttribute(null=True)

    Order.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    for n in range(1, 8):
        Order("alice", n, status="paid" if n % 2 else "new", total=n * 10).save()
    Order("bob", 1, total=99).save()
    return Order


def test_model_get_returns_the_saved_attributes(Order):
    o = Order.get("alice", 3)
    assert (o.customer, o.number, o.status, o.total) == ("alice", 3, "paid", 30)
    with pytest.raises(Order.DoesNotExist):
        Order.get("alice", 99)


def test_query_with_a_range_key_condition_and_a_filter(Order):
    got = [o.number for o in Order.query("alice", Order.number.between(2, 6))]
    assert got == [2, 3, 4, 5, 6]
    got = [o.number for o in Order.query("alice", Order.number > 4, scan_index_forward=False)]
    assert got == [7, 6, 5]
    paid = [o.number for o in Order.query("alice", filter_condition=Order.status == "paid")]
    assert paid == [1, 3, 5, 7]
    assert Order.count("alice", Order.number <= 3) == 3


def test_query_pages_through_limits(Order):
    result = Order.query("alice", page_size=2)
    assert [o.number for o in result] == list(range(1, 8))


def test_conditional_save_and_delete(Order):
    o = Order("carol", 1, total=5)
    o.save(condition=Order.customer.does_not_exist())
    with pytest.raises(PutError) as e:
        Order("carol", 1, total=6).save(condition=Order.customer.does_not_exist())
    assert "ConditionalCheckFailed" in str(e.value.cause_response_code)
    assert Order.get("carol", 1).total == 5
    with pytest.raises(DeleteError):
        o.delete(condition=Order.total > 100)
    o.delete(condition=Order.total == 5)
    assert Order.count("carol") == 0


def test_update_actions(Order):
    o = Order.get("bob", 1)
    o.update(actions=[Order.total.add(1), Order.status.set("shipped"), Order.tags.add({"gift"})])
    fresh = Order.get("bob", 1, consistent_read=True)
    assert (fresh.total, fresh.status, fresh.tags) == (100, "shipped", {"gift"})


def test_scan_with_a_filter(Order):
    big = sorted((o.customer, o.number) for o in Order.scan(Order.total >= 60))
    assert big == [("alice", 6), ("alice", 7), ("bob", 1)]
    projected = [o.total for o in Order.scan(Order.customer == "alice", attributes_to_get=["total"])]
    assert sorted(projected) == [10, 20, 30, 40, 50, 60, 70]
