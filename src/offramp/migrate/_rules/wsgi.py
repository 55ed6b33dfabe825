"""``eventlet.wsgi``: the green HTTP server itself."""

from offramp.migrate._registry import DESIGN, Rule, register


@register
class Wsgi(Rule):
    kind = "wsgi"
    code = "OFR110"
    category = DESIGN
    suggestion = "needs design: a threaded WSGI server (uwsgi, mod_wsgi, cheroot)"
    message = "{name} is a green WSGI server"
    lint = False
    names = ("eventlet.wsgi", "eventlet.listen", "eventlet.serve", "eventlet.StopServe",
             "eventlet.websocket", "eventlet.posthooks", "eventlet.input")

    def advise_ref(self, qualname, shape):
        if qualname == "eventlet.posthooks":
            return ("needs design: WSGI middleware, or the response iterable's close()",
                    "{name}: hooks that only eventlet.wsgi runs after a response")
        return None
