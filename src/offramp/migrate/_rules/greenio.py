"""``eventlet.greenio``: green file and socket objects.

There is no stdlib ``greenio``: a ``GreenPipe`` becomes a plain file
object over a pipe, a ``GreenSocket`` a plain socket.
"""

from offramp.migrate._registry import STDLIB, Rule, register


@register
class GreenIO(Rule):
    kind = "greenio"
    code = "OFR116"
    category = STDLIB
    suggestion = "a plain file object (os.pipe() + open()/os.fdopen()) or socket"
    message = "{name} is a green file or socket; use a plain file object or socket"
    names = ("eventlet.greenio",)

    def advise_ref(self, qualname, shape):
        name = qualname.rsplit(".", 1)[-1]
        if name == "GreenPipe":
            return ("open(fd, mode) / os.fdopen() on an os.pipe() end (io file objects)", None)
        if name == "GreenSocket":
            return ("socket.socket", None)
        return None
