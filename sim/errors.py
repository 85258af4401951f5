"""One error hierarchy for the whole project.

Every class also subclasses the matching builtin, so callers that only know the builtin
(``except ValueError``) still work. Messages name the owner, the parameter, the
constraint and the offending value. Only the CLI catches :class:`SimError`.
"""

from __future__ import annotations


class SimError(Exception):
    """Base class of every error this project raises on purpose."""


class InvalidGameError(SimError, ValueError):
    """A :class:`~sim.game.SecurityGame` (or a report) violates the model of Section 2."""


class InvalidParameterError(SimError, ValueError):
    """A function, generator, mechanism or behaviour got a parameter outside its domain."""


class UnknownNameError(SimError, ValueError):
    """A registry was asked for a name it does not hold; the message lists the valid ones."""


class DuplicateNameError(SimError, ValueError):
    """A plug-in tried to register a name that is already taken."""


class InvalidConfigError(SimError, ValueError):
    """A study configuration has a bad field; the message names the field and the value."""


class SolverFailedError(SimError, RuntimeError):
    """A solver or mechanism produced no (verified) result for an instance; studies
    record the instance as failed and carry on."""


class StudyStateError(SimError, RuntimeError):
    """A study directory is in use by another run, holds another study, or is damaged;
    the message says which and what to do."""


class StudyIOError(SimError, OSError):
    """A study's files cannot be written or read safely (a file where a directory
    belongs, a symbolic link, no permission, a full disk)."""
