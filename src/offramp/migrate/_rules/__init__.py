"""One module per Eventlet primitive; each registers a single rule.

Modules here are imported by walking the package (see ``_registry``), so a
new primitive is a new file and nothing else.
"""
