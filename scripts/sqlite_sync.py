"""The cost of SQLite's synchronous=FULL against NORMAL, for the bench.

One writer commits a create's three inserts (payment, event, outbox row) per transaction into a database Settle
migrated (WAL mode, the same schema and indexes), for a fixed time at each setting, and prints the commits per
second of both: `FULL <tx/s> NORMAL <tx/s>`. Usage: sqlite_sync.py DB_FILE SECONDS
"""

import sqlite3
import sys
import time
import uuid

PAYMENT = (
    "INSERT INTO payments (payment_id, merchant_id, order_id, rail, amount, currency, chain_id, token_address,"
    " recipient_address, status, version, created_at, updated_at, recon_attempts)"
    " VALUES (?, 'mch_demo', ?, 'CHAIN', '1500', 'USDC', 31337, '0x5fbdb2315678afecb367f032d93f642f64180aa3',"
    " '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', 'PENDING', 1, 0, 0, 0)"
)
EVENT = "INSERT INTO payment_events (payment_id, event_type, to_status, version, created_at) VALUES (?, 'CREATED', 'PENDING', 1, 0)"
OUTBOX = (
    "INSERT INTO outbox (merchant_id, topic, aggregate_id, payload, created_at)"
    " VALUES ('mch_demo_sqlite_sync', 'payment.created', ?, '{\"type\":\"payment.created\"}', 0)"
)


def commits_per_second(path: str, synchronous: str, seconds: float) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    n, end = 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < end:
        pid = "0x" + uuid.uuid4().hex + uuid.uuid4().hex
        db.execute("BEGIN IMMEDIATE")
        db.execute(PAYMENT, (pid, "sync-" + pid))
        db.execute(EVENT, (pid,))
        db.execute(OUTBOX, (pid,))
        db.execute("COMMIT")
        n += 1
    rate = n / (time.monotonic() - start)
    db.execute("DELETE FROM outbox WHERE merchant_id = 'mch_demo_sqlite_sync'")
    db.close()
    return rate


if __name__ == "__main__":
    path, seconds = sys.argv[1], float(sys.argv[2])
    full = commits_per_second(path, "FULL", seconds)
    normal = commits_per_second(path, "NORMAL", seconds)
    print(f"FULL {full:.0f} NORMAL {normal:.0f}")
