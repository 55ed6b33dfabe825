"""Migration tooling: find, count, lint and rewrite Eventlet usage.

Everything here reads source as bytes or syntax trees; the scanned code is
never imported or executed, and nothing from the offramp runtime core (or
eventlet itself) is imported, so the tools run on any tree, in any mode.
"""
