"""``eventlet.spawn`` and friends: start a green thread.

``spawn`` becomes ``offramp.spawn``, whose Future offers ``result()`` for
``GreenThread.wait()``, and nothing for ``kill()``, ``link()`` or
``cancel()`` semantics.  A green thread nobody waits for still gets its
exception printed by eventlet; an unread Future keeps it silently, so a
spawn whose result is never read is left alone.  ``spawn_n`` (returns
None, prints its exceptions) and ``spawn_after`` (a timer) have no
equivalent in offramp's API.
"""

from offramp.migrate._registry import EXECUTOR, Ctor, Method, Refusal, Rule, register, rule_for

_MODULES = ("eventlet", "eventlet.greenthread")
_FUTURE_CANNOT = frozenset({"kill", "link", "unlink", "switch", "throw"})
_KILL = ("needs design: a thread cannot be killed; make it check an Event, or "
         "Future.cancel() it before it starts")


@register
class Spawn(Rule):
    kind = "spawn"
    code = "OFR102"
    category = EXECUTOR
    suggestion = "offramp.spawn, when the result is waited for (spawn_n/spawn_after: needs design)"
    message = "{name}() starts a green thread; use offramp.spawn() or an offramp executor"
    names = tuple(f"{m}.{f}" for m in _MODULES
                  for f in ("spawn", "spawn_n", "spawn_after", "spawn_after_local"))
    constructors = {f"{m}.spawn": Ctor("offramp.spawn", ("offramp",)) for m in _MODULES}
    methods = {"wait": Method("result")}
    harmless = frozenset({"is"})
    blocked = {
        "kill": ".kill() has no equivalent: a thread cannot be killed",
        "link": ".link() has no equivalent (Future.add_done_callback passes the Future)",
        "unlink": ".unlink() has no equivalent",
        "cancel": "GreenThread.cancel() and Future.cancel() differ once it runs",
        "dead": ".dead has no equivalent attribute",
        "switch": ".switch() is greenlet-only",
        "throw": ".throw() is greenlet-only",
    }
    must_be_read = ("its result is never waited for: eventlet prints an exception of the "
                    "green thread, an unread Future keeps it silently")

    use_advice = {
        "wait": "offramp.spawn(...) and .result() for .wait() (a Future has no .wait())",
        "link": "needs design: Future.add_done_callback passes the Future, not the result",
        "unlink": "needs design: a Future's callbacks cannot be removed",
        "cancel": "Future.cancel(), which only works before the function starts",
        "dead": "Future.done()",
        "switch": "needs design: greenlet-only",
        "throw": "needs design: greenlet-only",
    }

    def advise_use(self, shape):
        if shape[0] in ("method", "attr") and shape[1] == "kill":
            return rule_for("eventlet.greenthread.kill"), _KILL
        return super().advise_use(shape)

    def advise_creation(self, qualname, shapes):
        used = {s[1] for s in shapes if s[0] in ("method", "attr")}
        cannot = used & _FUTURE_CANNOT
        if cannot:
            return ("needs design: the green thread is "
                    + "/".join(sorted(f".{m}()" for m in cannot)) + "ed, which a Future cannot do")
        if "wait" in used:
            return "offramp.spawn(...), with .result() where it is .wait()ed"
        if any(s[0] == "discard" for s in shapes):
            return ("an offramp executor's submit(), logging the Future's exception "
                    "(nobody reads the result; eventlet printed its exception)")
        return None

    def advise_ref(self, qualname, shape):
        name = qualname.rsplit(".", 1)[-1]
        if name == "spawn_n":
            return ("an offramp executor's submit(), logging the Future's exception "
                    "(spawn_n returns nothing; eventlet printed its exception)",
                    "{name}() starts a green thread; submit to an offramp executor")
        if name in ("spawn_after", "spawn_after_local"):
            return ("needs design: a delayed start (threading.Timer, or a scheduled submit)",
                    "{name}() starts a green thread later; offramp has no delayed spawn")
        return None

    def fix_ref(self, ref, file):
        name = ref.qualname.rsplit(".", 1)[-1]
        if ref.shape[0] != "call" or name not in ("spawn_n", "spawn_after", "spawn_after_local"):
            return None
        why = ("spawn_n returns None and eventlet prints its exceptions; offramp.spawn returns "
               "a Future that keeps them" if name == "spawn_n"
               else f"{name} is a timer; offramp has no delayed spawn in its public API")
        return Refusal(ref.qualname, why, file, ref.span[0])
