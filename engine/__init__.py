"""Mahnwerk's engine: the public API the designer, the API, the portal and the CLI use.

Import from here, not from the submodules, outside the engine package. Names load lazily
(PEP 562), so `import engine.rules.compiler` or `import engine.contact_policy` does not pull in
SQLAlchemy, the dispatcher or werkzeug: the package's import costs nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "ROLES": "engine.access.users",
    "UserError": "engine.access.users",
    "add_user": "engine.access.users",
    "authenticate": "engine.access.users",
    "validate_document": "engine.authoring.validation",
    "validate_journey": "engine.authoring.validation",
    "InvalidJourney": "engine.authoring.versions",
    "VersionCache": "engine.authoring.versions",
    "published_version": "engine.authoring.versions",
    "save_version": "engine.authoring.versions",
    "CHANNELS": "engine.core.channels",
    "Channel": "engine.core.channels",
    "register_channel": "engine.core.channels",
    "VirtualClock": "engine.core.clock",
    "as_utc": "engine.core.clock",
    "naive_utc": "engine.core.clock",
    "utcnow": "engine.core.clock",
    "COUNTRIES": "engine.core.jurisdictions",
    "JURISDICTIONS": "engine.core.jurisdictions",
    "Country": "engine.core.jurisdictions",
    "Jurisdiction": "engine.core.jurisdictions",
    "register_country": "engine.core.jurisdictions",
    "register_jurisdiction": "engine.core.jurisdictions",
    "Settings": "engine.core.settings",
    "load_settings": "engine.core.settings",
    "DispatchReport": "engine.delivery.dispatcher",
    "Dispatcher": "engine.delivery.dispatcher",
    "RenderError": "engine.delivery.rendering",
    "case_context": "engine.delivery.rendering",
    "render_message": "engine.delivery.rendering",
    "SandboxDispatcher": "engine.delivery.sandbox",
    "CaseSchema": "engine.intake.cases",
    "open_case": "engine.intake.cases",
    "UnknownCase": "engine.intake.events",
    "record_event": "engine.intake.events",
    "Journey": "engine.journey.document",
    "SCHEMA_VERSION": "engine.journey.document",
    "dump_journey": "engine.journey.document",
    "load_journey": "engine.journey.document",
    "NODE_TYPES": "engine.nodes",
    "Problem": "engine.nodes.base",
    "CompiledJourney": "engine.rules.compiler",
    "compile_journey": "engine.rules.compiler",
    "journey_sentences": "engine.rules.sentences",
    "policy_sentences": "engine.rules.sentences",
    "Runtime": "engine.run.runtime",
    "TickReport": "engine.run.runtime",
    "SimulationResult": "engine.simulation",
    "simulate": "engine.simulation",
    "Database": "engine.storage.db",
}

# Modules offered whole, for callers that use many of their functions.
_MODULES: dict[str, str] = {
    "event_types": "engine.core.event_types",
    "jobs": "engine.ops.jobs",
    "queries": "engine.storage.queries",
}


def __getattr__(name: str) -> Any:
    """Load a public name on first use and keep it in the module's namespace."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    else:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, for completion and `from engine import *`."""
    return sorted([*globals(), *_EXPORTS, *_MODULES])


if TYPE_CHECKING:  # the same names, eagerly, for type checkers and editors
    from engine.access.users import ROLES, UserError, add_user, authenticate
    from engine.authoring.validation import validate_document, validate_journey
    from engine.authoring.versions import (
        InvalidJourney,
        VersionCache,
        published_version,
        save_version,
    )
    from engine.core import event_types
    from engine.core.channels import CHANNELS, Channel, register_channel
    from engine.core.clock import VirtualClock, as_utc, naive_utc, utcnow
    from engine.core.jurisdictions import (
        COUNTRIES,
        JURISDICTIONS,
        Country,
        Jurisdiction,
        register_country,
        register_jurisdiction,
    )
    from engine.core.settings import Settings, load_settings
    from engine.delivery.dispatcher import Dispatcher, DispatchReport
    from engine.delivery.rendering import RenderError, case_context, render_message
    from engine.delivery.sandbox import SandboxDispatcher
    from engine.intake.cases import CaseSchema, open_case
    from engine.intake.events import UnknownCase, record_event
    from engine.journey.document import SCHEMA_VERSION, Journey, dump_journey, load_journey
    from engine.nodes import NODE_TYPES
    from engine.nodes.base import Problem
    from engine.ops import jobs
    from engine.rules.compiler import CompiledJourney, compile_journey
    from engine.rules.sentences import journey_sentences, policy_sentences
    from engine.run.runtime import Runtime, TickReport
    from engine.simulation import SimulationResult, simulate
    from engine.storage import queries
    from engine.storage.db import Database

__all__ = [
    "CHANNELS",
    "COUNTRIES",
    "JURISDICTIONS",
    "NODE_TYPES",
    "ROLES",
    "SCHEMA_VERSION",
    "CaseSchema",
    "Channel",
    "CompiledJourney",
    "Country",
    "Database",
    "DispatchReport",
    "Dispatcher",
    "InvalidJourney",
    "Journey",
    "Jurisdiction",
    "Problem",
    "RenderError",
    "Runtime",
    "SandboxDispatcher",
    "Settings",
    "SimulationResult",
    "TickReport",
    "UnknownCase",
    "UserError",
    "VersionCache",
    "VirtualClock",
    "add_user",
    "as_utc",
    "authenticate",
    "case_context",
    "compile_journey",
    "dump_journey",
    "event_types",
    "jobs",
    "journey_sentences",
    "load_journey",
    "load_settings",
    "naive_utc",
    "open_case",
    "policy_sentences",
    "published_version",
    "queries",
    "record_event",
    "register_channel",
    "register_country",
    "register_jurisdiction",
    "render_message",
    "save_version",
    "simulate",
    "utcnow",
    "validate_document",
    "validate_journey",
]
