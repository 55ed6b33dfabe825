"""The registry: one rule per file, shared by every subcommand."""

import pkgutil

from offramp.migrate import _rules
from offramp.migrate._registry import CATEGORIES, constructor_rule, rule_for, rules


def test_every_rule_module_registers_exactly_one_rule():
    modules = {m.name for m in pkgutil.iter_modules(_rules.__path__) if not m.name.startswith("_")}
    kinds = [r.kind for r in rules()]
    assert sorted(kinds) == sorted(modules)


def test_codes_are_unique_and_categories_known():
    codes = [r.code for r in rules()]
    assert len(codes) == len(set(codes))
    assert all(c.startswith("OFR") and len(c) == 6 for c in codes)
    assert {r.category for r in rules()} <= set(CATEGORIES)


def test_longest_prefix_wins():
    assert rule_for("eventlet.greenthread.sleep").kind == "sleep"
    assert rule_for("eventlet.greenthread.spawn_n").kind == "spawn"
    assert rule_for("eventlet.greenthread.kill").kind == "kill"
    assert rule_for("eventlet.greenthread.GreenThread").kind == "other"
    assert rule_for("eventlet.queue.Empty").kind == "queue"
    assert rule_for("eventlet.green.threading.Thread").kind == "green_modules"
    assert rule_for("eventlet.hubs.get_hub").kind == "hubs"
    assert rule_for("time.sleep") is None
    assert rule_for("eventlettish") is None


def test_constructors_belong_to_their_own_rule():
    for rule in rules():
        for name in rule.constructors:
            assert rule_for(name) is rule and constructor_rule(name) is rule, name
