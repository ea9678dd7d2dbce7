"""The shared store: take is atomic (one winner), values expire, Redis behaves the same."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session

from lti_tool.db import make_engine
from lti_tool.store import DatabaseStore, RedisStore

pytestmark = pytest.mark.postgres


def test_database_store_put_get_take_expire(database_url: str) -> None:
    engine = make_engine(database_url)
    now = [1_000_000.0]
    with Session(engine) as s:
        store = DatabaseStore(s, clock=lambda: now[0])
        store.put("t:a", {"x": 1}, ttl=10)
        store.put("t:a", {"x": 2}, ttl=10)  # overwrite
        s.commit()
        assert store.get("t:a") == {"x": 2}
        now[0] += 11
        assert store.get("t:a") is None
        assert store.take("t:a") is None
        store.put("t:b", [1, 2], ttl=10)
        assert store.take("t:b") == [1, 2]
        assert store.take("t:b") is None
        s.commit()
    engine.dispose()


def test_database_take_has_one_winner_across_connections(database_url: str) -> None:
    engine = make_engine(database_url)
    with Session(engine) as s:
        DatabaseStore(s).put("t:race", "v", ttl=60)
        s.commit()
    results: list[object] = []
    barrier = threading.Barrier(4)

    def taker() -> None:
        with Session(engine) as s:
            barrier.wait()
            results.append(DatabaseStore(s).take("t:race"))
            s.commit()

    threads = [threading.Thread(target=taker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)) == ["None", "None", "None", "v"]
    engine.dispose()


def test_redis_store(redis_space) -> None:
    store = RedisStore(redis_space.client, redis_space.prefix + ":")
    store.put("t:a", {"x": 1}, ttl=10)
    assert store.get("t:a") == {"x": 1}
    assert 0 < redis_space.client.ttl(f"{redis_space.prefix}:t:a") <= 10
    assert store.take("t:a") == {"x": 1}
    assert store.take("t:a") is None


def test_add_is_a_lock_with_expiry(database_url: str, redis_space) -> None:
    engine = make_engine(database_url)
    now = [2_000_000.0]
    with Session(engine) as s:
        stores = [
            DatabaseStore(s, clock=lambda: now[0]),
            RedisStore(redis_space.client, redis_space.prefix + ":"),
        ]
        for store in stores:
            assert store.add("t:lock", 1, ttl=10) is True
            assert store.add("t:lock", 2, ttl=10) is False
            if store is stores[1]:
                assert store.get("t:lock") == 1
        now[0] += 11  # the database lock expired: it may be taken again
        assert stores[0].add("t:lock", 3, ttl=10) is True
        s.commit()
    engine.dispose()


def test_a_write_sweeps_expired_rows_a_bounded_number_at_a_time(database_url: str) -> None:
    from sqlalchemy import func, select

    from lti_tool.models.store import StoreEntry
    from lti_tool.store import SWEEP_ON_WRITE

    engine = make_engine(database_url)
    now = [3_000_000.0]
    with Session(engine) as s:
        s.execute(StoreEntry.__table__.delete())
        store = DatabaseStore(s, clock=lambda: now[0])
        for i in range(SWEEP_ON_WRITE + 5):
            store.put(f"old:{i}", i, ttl=10)
        store.put("live", 1, ttl=1000)
        now[0] += 11
        store.put("new:1", 1, ttl=10)  # sweeps at most SWEEP_ON_WRITE of the expired rows
        assert s.scalar(select(func.count()).select_from(StoreEntry)) == 5 + 2
        store.put("new:2", 1, ttl=10)  # and the rest
        assert sorted(s.scalars(select(StoreEntry.key))) == ["live", "new:1", "new:2"]
        now[0] += 11
        # an add (each launch's spent state) sweeps too
        assert store.add("spent:1", 1, ttl=10) is True
        assert sorted(s.scalars(select(StoreEntry.key))) == ["live", "spent:1"]
        now[0] += 11
        assert store.sweep() == 1
        assert list(s.scalars(select(StoreEntry.key))) == ["live"]
        s.rollback()
    engine.dispose()
