"""A course compiled once: indexes, score calculators, rule programs and the dependency graph.

Building a model checks every reference and refuses cycles; after that, evaluating a class or
one new score never parses, validates or searches again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from .catalog import Catalog, CompetencySpec, LineItem, Module
from .columns import Index, ModuleProgram, compile_rule
from .errors import ConfigError, RuleError
from .evidence import Series
from .graph import find_cycle
from .methods import Calculator
from .rollup import Combiner, combiner
from .rule_parse import check_no_cycle, parse_rule, rule_to_json
from .rules import (
    AllOf,
    AnyOf,
    AtLeastOf,
    CompetencyAtLeast,
    InGroup,
    LineItemAtLeast,
    ModuleCompleted,
    ModuleMastered,
    Not,
    OnOrAfter,
    Rule,
    leaves,
)
from .scales import EPSILON, NO_SCORE


def score_function(comp: CompetencySpec) -> Callable[[Series], float]:
    """Series -> rounded score, or NO_SCORE when there is too little evidence."""
    calc: Calculator = comp.method.calculator(comp.scale)
    min_evidence = comp.min_evidence
    rounded = comp.scale.rounder()

    def score(series: Series) -> float:
        scores = series.scores
        if len(scores) < min_evidence:
            return NO_SCORE
        value = calc(scores)
        return NO_SCORE if value is None else rounded(value)

    return score


@dataclass(frozen=True, eq=False)
class CourseModel:
    """The compiled course; build it with `build_course` and reuse it for every evaluation."""

    catalog: Catalog
    competencies: tuple[CompetencySpec, ...]
    comp_index: Mapping[str, int]
    children: tuple[tuple[int, ...], ...]
    leaf_order: tuple[int, ...]
    parent_order: tuple[int, ...]
    score_fns: tuple[Callable[[Series], float] | None, ...]
    combiners: tuple[Combiner | None, ...]
    line_items: tuple[LineItem, ...]
    line_item_index: Mapping[str, int]
    groups: tuple[str, ...]
    group_index: Mapping[str, int]
    modules: tuple[Module, ...]
    module_index: Mapping[str, int]
    topo_order: tuple[int, ...]
    programs: tuple[ModuleProgram, ...]
    #: A rule names a date: the passing of time alone can open a module.
    uses_dates: bool
    #: The line items a rule or a module's completion reads: a class's scores on the others
    #: are never looked at, so a caller loading a course's facts may leave them out.
    line_items_read: frozenset[str]
    #: What explanations read that depends on the course alone (each rule's plain form, a
    #: condition's words to the student), kept at first use: every student's page reads the
    #: same ones. Entries are added, never changed, so sharing the model between threads holds.
    memo: dict[object, object] = field(default_factory=dict, repr=False)


def build_course(
    competencies: Iterable[CompetencySpec],
    modules: Iterable[Module],
    line_items: Iterable[LineItem] = (),
    groups: Mapping[str, str] | None = None,
) -> CourseModel:
    """Check and compile a course. Raises ConfigError or RuleError (cycles name the modules)."""
    comps = tuple(competencies)
    mods = tuple(modules)
    items = tuple(line_items)
    catalog = Catalog.of(comps, mods, items, groups)
    comp_index = {c.code: i for i, c in enumerate(comps)}

    # Competency tree: parents, roll-up order, ancestors.
    children: list[list[int]] = [[] for _ in comps]
    for i, c in enumerate(comps):
        if c.parent is not None:
            if c.parent not in comp_index:
                raise ConfigError(f"competency {c.code!r}: no parent competency {c.parent!r}")
            children[comp_index[c.parent]].append(i)
    parent_of = {c.code: [c.parent] if c.parent else [] for c in comps}
    cycle = find_cycle(parent_of)
    if cycle:
        raise ConfigError("competencies are their own ancestors: " + " → ".join(cycle))
    depth: list[int] = []
    for c in comps:
        d, p = 0, c.parent
        while p is not None:
            d, p = d + 1, comps[comp_index[p]].parent
        depth.append(d)
    leaf_order = tuple(i for i in range(len(comps)) if not children[i])
    parent_order = tuple(
        sorted((i for i in range(len(comps)) if children[i]), key=lambda i: -depth[i])
    )
    score_fns = tuple(None if children[i] else score_function(c) for i, c in enumerate(comps))
    combiners = tuple(
        combiner(
            c.rollup,
            [comps[k].code for k in children[i]],
            [comps[k].scale for k in children[i]],
            c.scale,
        )
        if children[i]
        else None
        for i, c in enumerate(comps)
    )

    # Modules: re-check every rule against the catalog (rules built in code skip `parse`).
    module_index = {m.id: i for i, m in enumerate(mods)}
    needs: dict[str, list[str]] = {}
    for m in mods:
        for code in m.competencies:
            if code not in comp_index:
                raise ConfigError(f"module {m.id!r}: no competency {code!r}")
        if m.line_item is not None and m.line_item not in catalog.line_items:
            raise ConfigError(f"module {m.id!r}: no line item {m.line_item!r}")
        for option in m.choice_of:
            if option not in module_index:
                raise ConfigError(f"module {m.id!r}: no module {option!r} to choose")
        rule = m.unlock.rule
        if rule is not None:
            try:
                parse_rule(rule_to_json(rule), catalog, module=m.id)
            except RuleError as exc:
                raise RuleError(f"modules[{m.id!r}].{exc.path}", exc.message) from None
        for path, leaf in _leaves_with_paths(rule, "rule"):
            if isinstance(leaf, ModuleMastered) and not _can_master(leaf.module, mods):
                raise RuleError(
                    f"modules[{m.id!r}].{path}.module_mastered",
                    f'module "{leaf.module}" lists no competencies, so it can be completed but '
                    "not mastered (use module_completed)",
                )
        refs = [
            leaf.module
            for leaf in leaves(rule)
            if isinstance(leaf, ModuleCompleted | ModuleMastered)
        ]
        needs[m.id] = list(dict.fromkeys([*refs, *m.choice_of]))
    check_no_cycle(needs)
    order: list[str] = []
    done: set[str] = set()

    def visit(mid: str) -> None:
        # Depth is bounded by the (acyclic) module count; iterative would not read better.
        if mid in done:
            return
        done.add(mid)
        for dep in needs[mid]:
            visit(dep)
        order.append(mid)

    for m in mods:
        visit(m.id)
    topo_order = tuple(module_index[mid] for mid in order)

    group_ids = sorted(
        {leaf.group for m in mods for leaf in leaves(m.unlock.rule) if isinstance(leaf, InGroup)}
    )
    group_index = {g: i for i, g in enumerate(group_ids)}
    line_item_index = {li.id: i for i, li in enumerate(items)}

    def threshold(leaf: CompetencyAtLeast) -> float:
        comp = comps[comp_index[leaf.competency]]
        if leaf.level is not None:
            level = comp.scale.level_named(leaf.level)
            if level is None:  # pragma: no cover - parse_rule refused it above
                raise ConfigError(f"no level {leaf.level!r}")
            return level.points
        return float(leaf.score or 0.0)

    ix = Index(
        comp_index,
        threshold,
        line_item_index,
        [li.max_points for li in items],
        group_index,
        module_index,
    )
    programs = []
    for i, m in enumerate(mods):
        li = line_item_index.get(m.line_item) if m.line_item is not None else None
        complete_at = -EPSILON
        if li is not None and m.complete_at_percent is not None:
            complete_at = m.complete_at_percent / 100.0 * items[li].max_points - EPSILON
        programs.append(
            ModuleProgram(
                index=i,
                rule=compile_rule(m.unlock.rule, ix) if m.unlock.rule is not None else None,
                sticky=m.unlock.mode.value == "sticky",
                options=tuple(module_index[o] for o in m.choice_of),
                line_item=li,
                complete_at=complete_at,
                mastery=tuple(
                    (comp_index[c], comps[comp_index[c]].scale.mastery_points - EPSILON)
                    for c in m.competencies
                ),
            )
        )

    return CourseModel(
        catalog=catalog,
        competencies=comps,
        comp_index=comp_index,
        children=tuple(tuple(ch) for ch in children),
        leaf_order=leaf_order,
        parent_order=parent_order,
        score_fns=score_fns,
        combiners=combiners,
        line_items=items,
        line_item_index=line_item_index,
        groups=tuple(group_ids),
        group_index=group_index,
        modules=mods,
        module_index=module_index,
        topo_order=topo_order,
        programs=tuple(programs),
        uses_dates=any(isinstance(leaf, OnOrAfter) for m in mods for leaf in leaves(m.unlock.rule)),
        line_items_read=frozenset(
            {m.line_item for m in mods if m.line_item is not None}
            | {
                leaf.line_item
                for m in mods
                for leaf in leaves(m.unlock.rule)
                if isinstance(leaf, LineItemAtLeast)
            }
        ),
    )


def _can_master(module: str, mods: tuple[Module, ...]) -> bool:
    """A module can be mastered if it lists competencies, or is a choice with such an option."""
    by_id = {m.id: m for m in mods}
    seen: set[str] = set()
    stack = [module]
    while stack:
        mid = stack.pop()
        if mid in seen or mid not in by_id:
            continue
        seen.add(mid)
        m = by_id[mid]
        if m.competencies:
            return True
        stack.extend(m.choice_of)
    return False


def _leaves_with_paths(rule: Rule | None, path: str) -> Iterator[tuple[str, Rule]]:
    """Leaves with the JSON paths `parse_rule` would report for them."""
    if rule is None:
        return
    if isinstance(rule, Not):
        yield from _leaves_with_paths(rule.condition, f"{path}.not")
    elif isinstance(rule, AllOf | AnyOf | AtLeastOf):
        key = (
            "all"
            if isinstance(rule, AllOf)
            else "any"
            if isinstance(rule, AnyOf)
            else "at_least.of"
        )
        for i, c in enumerate(rule.conditions):
            yield from _leaves_with_paths(c, f"{path}.{key}[{i}]")
    else:
        yield path, rule
