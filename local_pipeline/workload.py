"""The workload: N items inserted, then a share modified and a share removed.

Every item has a ``version`` attribute (1 when inserted, 2 after its modification), so a
change is identified by ``(id, eventName, version)`` (REMOVE carries the removed version).
Every item has a ``kind`` ("order" for an even item number, "refund" for an odd one), a field to route on
(docs/fanout.md, "Routing on item fields"). ``poison`` items carry ``"poison": true``; the local run makes the subscribers' business
logic reject every change of such an item. Poison items are inserted only (never modified
or removed), so each poison item is exactly one rejected change per subscriber.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from .ledger import Ledger


@dataclass(frozen=True)
class Workload:
    items: int = 100
    poison: int = 0
    modify_share: float = 0.3
    remove_share: float = 0.1
    seed: int = 7

    def __post_init__(self) -> None:
        if self.items < 0 or self.poison < 0:
            raise ValueError("items and poison must be >= 0")
        if self.poison > self.items:
            raise ValueError(f"--poison {self.poison} exceeds --items {self.items}: poison items are among the items")
        for name in ("modify_share", "remove_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")

    def plan(self) -> list[tuple[str, str, int, bool]]:
        """The writes in order: (eventName, key, version, poison)."""
        keys = [f"item-{i:06d}" for i in range(self.items)]
        rng = random.Random(self.seed)
        poison = set(rng.sample(keys, self.poison)) if self.poison else set()
        healthy = [k for k in keys if k not in poison]
        modified = rng.sample(healthy, int(round(len(healthy) * self.modify_share)))
        removed = rng.sample(healthy, int(round(len(healthy) * self.remove_share)))
        writes = [("INSERT", k, 1, k in poison) for k in keys]
        writes += [("MODIFY", k, 2, False) for k in modified]
        modified_set = set(modified)
        writes += [("REMOVE", k, 2 if k in modified_set else 1, False) for k in removed]
        return writes

    @property
    def changes(self) -> int:
        return len(self.plan())


#: Items per BatchWriteItem request (the DynamoDB maximum). Each item is still its own change.
WRITE_BATCH = 25


def item_kind(key: str) -> str:
    """The item's ``kind``: "order" for an even item number, "refund" for an odd one."""
    return "order" if int(key.rsplit("-", 1)[1]) % 2 == 0 else "refund"


def _item(key: str, version: int, poison: bool) -> dict:
    item = {
        "id": {"S": key},
        "version": {"N": str(version)},
        "payload": {"S": f"value of {key}" if version == 1 else f"changed {key}"},
        "amount": {"N": str(len(key) * version)},
        "kind": {"S": item_kind(key)},
    }
    if poison:
        item["poison"] = {"BOOL": True}
    return item


def write(workload: Workload, table: str, ddb, ledger: Ledger, stop) -> None:
    """Write the plan in BatchWriteItem requests (INSERT and MODIFY as puts, REMOVE as deletes).

    Batches never mix phases, so a key appears at most once per request; the emulator is
    pure Python, and batching keeps the writer from using up its request budget.
    """
    plan = workload.plan()
    with ledger.lock:
        ledger.poison.update(k for _, k, _, p in plan if p)
    chunks = []
    for phase in ("INSERT", "MODIFY", "REMOVE"):
        writes = [w for w in plan if w[0] == phase]
        chunks += [writes[i : i + WRITE_BATCH] for i in range(0, len(writes), WRITE_BATCH)]
    for chunk in chunks:
        if stop.is_set():
            return
        requests = []
        for event_name, key, version, poison in chunk:
            if event_name == "REMOVE":
                requests.append({"DeleteRequest": {"Key": {"id": {"S": key}}}})
            else:
                requests.append({"PutRequest": {"Item": _item(key, version, poison)}})
        started = time.monotonic()
        pending = {table: requests}
        for attempt in range(10):
            response = ddb.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            stop.wait(0.05 * (attempt + 1))
        else:
            raise RuntimeError(f"BatchWriteItem left {len(pending.get(table, []))} items unprocessed")
        for event_name, key, version, _poison in chunk:
            ledger.written((key, event_name, version), started)
