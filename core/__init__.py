"""The domain of redgrid: places, people, invites, cases, posts and their rules.

Plain Python only: no chat framework, no database library. Services take a unit of work
(see `core.ports`) and the current time as parameters, so tests drive them directly.
"""
