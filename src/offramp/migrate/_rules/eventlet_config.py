"""Eventlet named in settings and the environment: ``executor='eventlet'``
(oslo.messaging), ``EVENTLET_NO_GREENDNS``.  They keep a service on
eventlet, or configure it, without any eventlet name in the code."""

import re

from offramp.migrate._registry import DESIGN, Rule, register

_ENV_NAME = re.compile(r"[A-Z0-9_]*(?:EVENTLET|GREENLET)[A-Z0-9_]*")
_VALUE_CONTEXTS = ("keyword", "value", "argument")


@register
class EventletConfig(Rule):
    kind = "eventlet_config"
    code = "OFR117"
    category = DESIGN
    suggestion = "the threading value of the setting"
    message = "{name} selects or configures eventlet"
    lint = False
    needles = (b"eventlet", b"EVENTLET", b"Eventlet", b"GREENLET")

    def check_text(self, text, context):
        if _ENV_NAME.fullmatch(text) and "_" in text:
            if text == "EVENTLET_NO_GREENDNS":
                return "drop it: green DNS exists only under eventlet"
            return "drop it with eventlet, or map it to offramp's mode"
        if text.lower() != "eventlet":
            return None
        if context == ("keyword", "executor"):
            return "executor='threading' (oslo.messaging)"
        if context[0] == "compare":
            return "offramp.current_mode(), where the code branches on the mode"
        if context[0] in _VALUE_CONTEXTS:
            return self.suggestion
        return None
