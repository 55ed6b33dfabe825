"""``eventlet.green.*``: green copies of modules; the plain module is the
replacement (the stdlib's, or the package's for ``green.OpenSSL``,
``green.zmq``)."""

import sys

from offramp.migrate._registry import STDLIB, Rule, register


@register
class GreenModules(Rule):
    kind = "green_modules"
    code = "OFR113"
    category = STDLIB
    suggestion = "the stdlib module of the same name"
    message = "{name} is a green copy of a stdlib module; import the stdlib one"
    names = ("eventlet.green",)

    def advise_ref(self, qualname, shape):
        parts = qualname.split(".")
        if len(parts) > 2 and parts[2] not in sys.stdlib_module_names:
            return (f"the {parts[2]} package itself",
                    "{name} is a green copy of a package; import the package itself")
        return None
