"""Mahnwerk's engine: the public API the designer, the API and the CLI use.

Import from here, not from the submodules, outside the engine package.
"""

from __future__ import annotations

from engine.cases import CaseSchema, open_case
from engine.clock import VirtualClock, as_utc, naive_utc, utcnow
from engine.db import Database
from engine.dispatch import SandboxDispatcher
from engine.dispatcher import Dispatcher, DispatchReport
from engine.document import SCHEMA_VERSION, Journey, dump_journey, load_journey
from engine.events import UnknownCase, record_event
from engine.journeys import InvalidJourney, VersionCache, published_version, save_version
from engine.nodes import NODE_TYPES
from engine.nodes.base import Problem
from engine.rendering import RenderError, case_context, render_message
from engine.rules.compiler import CompiledJourney, compile_journey
from engine.rules.sentences import journey_sentences, policy_sentences
from engine.runtime import Runtime, TickReport
from engine.settings import Settings, load_settings
from engine.simulation import SimulationResult, simulate
from engine.users import ROLES, UserError, add_user, authenticate
from engine.validation import validate_document, validate_journey

__all__ = [
    "NODE_TYPES",
    "ROLES",
    "SCHEMA_VERSION",
    "CaseSchema",
    "CompiledJourney",
    "Database",
    "DispatchReport",
    "Dispatcher",
    "InvalidJourney",
    "Journey",
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
    "journey_sentences",
    "load_journey",
    "load_settings",
    "naive_utc",
    "open_case",
    "policy_sentences",
    "published_version",
    "record_event",
    "render_message",
    "save_version",
    "simulate",
    "utcnow",
    "validate_document",
    "validate_journey",
]
