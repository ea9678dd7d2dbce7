"""Cycles in a graph of names: modules that need each other, competencies inside themselves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def find_cycle(needs: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """A cycle in "module → modules it needs", as (M2, M5, M2), or None; deterministic."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in needs:
        if state.get(start):
            continue
        path: list[str] = [start]
        iters: list[Iterable[str]] = [iter(needs.get(start, ()))]
        state[start] = 1
        while iters:
            nxt = next(iters[-1], None)  # type: ignore[call-overload]
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            seen = state.get(nxt)
            if seen == 1:
                return (*path[path.index(nxt) :], nxt)
            if not seen:
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(needs.get(nxt, ())))
    return None


def parent_cycle(code: str, parent_of: Mapping[str, str | None]) -> tuple[str, ...] | None:
    """The circle of parents that leads from `code` back to it, as (A, B, A), or None when
    following the parents never comes back to `code` (a circle higher up is another's)."""
    needs = {c: [p] if p is not None else [] for c, p in parent_of.items()}
    cycle = find_cycle({code: needs.get(code, []), **needs})  # walked from `code` first
    if cycle is None or code not in cycle:
        return None
    ring = cycle[:-1]
    at = ring.index(code)
    return (*ring[at:], *ring[:at], code)
