"""Static proofs over a journey graph: what holds on EVERY path, with a counterexample when not.

The contact-policy guard enforces caps, gaps and hours at send time, one message at a time; these
proofs answer the reviewer's question before anything runs: does the journey as drawn keep the
rules, or will the guard have to defer and suppress what it plans? Time on a path is the least a
step can take (`min_delay`): a wait for 3 days takes at least 3 days, an event can arrive at once,
a day relative to the due date may already be over. The least time is the worst case for every
proof here (more messages fit in a window), so a pass holds for every case.

Proofs, each a `Proof` with its failures (`Counterexample`: the path from the start):
- caps: per channel, at most the jurisdiction's count in any rolling window (US 7 in 7 days);
- gaps: two messages that reach the debtor at once are at least the minimum gap apart;
- hours: a send whose moment a wait fixes (`at_time`, midnight of a due-date day) is inside the
  contact hours (letters are posted, not delivered at that moment: exempt);
- consequences: a message that announces a collection agency, a court order or a credit-bureau
  report has a later step that really does it (rule packs' `[[consequence]]` tables);
- holds: after the debtor opts out, only messages whose purpose a cease-contact hold allows;
- promises: a broken promise leads somewhere other than "paid";
- time: no loop can run without time passing (an event loop that sends on every click).
"""

from __future__ import annotations

import fnmatch
import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import cached_property

from engine.compliance.lint import TemplateContext, plain
from engine.compliance.packs import Consequence, packs_for
from engine.compliance.patterns import Words, search
from engine.contact_policy.policy import ContactPolicy
from engine.contact_policy.profiles import jurisdiction_profiles
from engine.core.jurisdictions import jurisdiction_of
from engine.journey.document import Journey, Node, send_channels, send_templates

ZERO = timedelta(0)
PROOFS = ("caps", "gaps", "hours", "consequences", "holds", "promises", "time")
# Events after which the debtor asked not to be contacted (on a channel), and events that lift it.
STOP_EVENTS = frozenset({"opted_out"})
# Events the journey's own messages cause: a loop through them runs without the debtor doing
# anything (every delivery report could send the next message).
SELF_EVENTS = frozenset(
    {"message_delivered", "message_bounced", "message_opened", "message_clicked", "message_failed"}
)
NEVER = timedelta.max
RESUME_EVENTS = frozenset({"consent_changed", "contact_changed"})
# A path in a counterexample: (node id, port taken out of it; None for the last node).
Path = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Counterexample:
    """A path from the start on which a proof fails, and the values that make it fail."""

    node: str  # the step the failure is reported on
    path: Path
    values: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Proof:
    """One proof over the whole graph: passed when it has no counterexample."""

    name: str
    failures: tuple[Counterexample, ...] = ()
    applies: bool = True  # False: nothing to prove (e.g. no caps without a jurisdiction)

    @property
    def passed(self) -> bool:
        """True when no path breaks it."""
        return not self.failures


def prove_journey(journey: Journey) -> list[Proof]:
    """Every proof of PROOFS over the journey, in that order."""
    graph = JourneyGraph(journey)
    profiles = _profiles(journey)
    return [
        _caps(graph, profiles),
        _gaps(graph, profiles),
        _hours(graph, profiles),
        _consequences(graph, journey),
        _holds(graph, profiles),
        _promises(graph),
        _time(graph),
    ]


def min_delay(node: Node, port: str) -> timedelta:
    """The least time a case can spend in `node` before it leaves by `port`."""
    params = node.params
    if node.type == "wait":
        mode, days = params.get("mode", "duration"), max(0, int(params.get("days", 0) or 0))
        if mode == "duration":
            span = timedelta(days=days, hours=max(0, int(params.get("hours", 0) or 0)))
        elif mode == "business_days":
            span = timedelta(days=days)  # n business days take at least n calendar days
        else:
            return ZERO  # a day relative to the due date may be over when the case arrives
        at = _at_time(node)
        # With a time of day the moment moves to that time on the last day: at the least just
        # after `at` on the day before the span's end.
        return span if at is None else max(ZERO, span + _since_midnight(at) - timedelta(days=1))
    if node.type == "wait_event" and port == "timeout":
        return timedelta(days=float(params.get("timeout_days", 0) or 0))
    return ZERO  # events, promises and every step that does not park can go on at once


def _at_time(node: Node) -> time | None:
    try:
        return (
            time.fromisoformat(str(node.params["at_time"])) if node.params.get("at_time") else None
        )
    except ValueError:
        return None


def _since_midnight(at: time) -> timedelta:
    return timedelta(hours=at.hour, minutes=at.minute, seconds=at.second)


def max_delay(node: Node, port: str) -> timedelta:
    """The most time a case can spend in `node` before it leaves by `port` (NEVER: unbounded).

    A day relative to the due date is handled by the caller (`JourneyGraph.latest`), which knows
    when the case arrives.
    """
    params = node.params
    if node.type == "wait":
        mode, days = params.get("mode", "duration"), max(0, int(params.get("days", 0) or 0))
        extra = timedelta(days=1) if params.get("at_time") else ZERO
        if mode == "duration":
            return timedelta(days=days, hours=max(0, int(params.get("hours", 0) or 0))) + extra
        if mode == "business_days":
            # Weekends (2 in 7) and at most a cluster of public holidays (Christmas to New Year).
            return timedelta(days=days * 7 / 5 + 5) + extra
        return ZERO
    if node.type == "wait_event":
        return timedelta(days=float(params.get("timeout_days", 0) or 0))
    if node.type == "promise":
        return NEVER  # the debtor picks the date
    return ZERO


def debtor_port(node: Node, port: str) -> bool:
    """Whether leaving by `port` needs the debtor to act (pay, promise, ask for a call ...)."""
    return node.type == "wait_event" and port != "timeout" and port not in SELF_EVENTS


class JourneyGraph:
    """The journey's wires with the least time each takes, and its send steps."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.nodes = journey.nodes_by_id()
        self.out: dict[str, list[tuple[str, str, timedelta]]] = {n: [] for n in self.nodes}
        for edge in journey.edges:
            if edge.source in self.nodes and edge.target in self.nodes:
                delay = min_delay(self.nodes[edge.source], edge.port)
                self.out[edge.source].append((edge.port, edge.target, delay))
        self.start = next((n.id for n in journey.nodes if n.type == "start"), None)
        self.sends = {n.id: n for n in journey.nodes if n.type == "send"}
        self._reach: dict[str, frozenset[str]] = {}

    @cached_property
    def latest(self) -> dict[str, timedelta]:
        """The latest moment after the due date each step can be reached (`_latest`); computed
        when a proof needs it, not for the context rules' reachability."""
        return self._latest()

    def timed(self, node: str) -> list[tuple[str, str, timedelta]]:
        """The wires out of `node` the journey takes on its own (no debtor action needed)."""
        step = self.nodes[node]
        return [w for w in self.out[node] if not debtor_port(step, w[0])]

    def delay(
        self, node: str, port: str, delay: timedelta, since: str, elapsed: timedelta
    ) -> timedelta:
        """The least time of a wire on a path that left send step `since` `elapsed` ago.

        A wait until D+n takes what is left of the n days after the latest moment the case can
        have been at `since` (counted from a case that enters the journey when due, D+0).
        """
        step = self.nodes[node]
        if step.type != "wait" or step.params.get("mode") != "due_date":
            return delay
        latest = self.latest.get(since, NEVER)
        if latest == NEVER:
            return ZERO
        day = timedelta(days=int(step.params.get("days", 0) or 0))
        return max(ZERO, day - latest - elapsed)

    def _latest(self) -> dict[str, timedelta]:
        """The latest moment after the due date each step can be reached (NEVER: unbounded)."""
        latest: dict[str, timedelta] = {} if self.start is None else {self.start: ZERO}
        for _ in range(len(self.nodes) + 1):  # longest paths: more rounds mean a timed loop
            changed = False
            for node, at in list(latest.items()):
                for port, nxt, _ in self.out[node]:
                    step = self.nodes[node]
                    if step.type == "wait" and step.params.get("mode") == "due_date":
                        day = timedelta(days=int(step.params.get("days", 0) or 0))
                        later = max(at, day)  # NEVER stays NEVER
                    else:
                        spent = max_delay(step, port)
                        later = NEVER if NEVER in (at, spent) else at + spent
                    if later > latest.get(nxt, timedelta.min):
                        latest[nxt], changed = later, True
            if not changed:
                return latest
        return {n: NEVER for n in latest}  # a loop keeps adding time: nothing is bounded

    def channels(self, node_id: str) -> frozenset[str]:
        """The channels a send step may use (its own, or one of its fallbacks)."""
        return frozenset(send_channels(self.sends[node_id].params))

    def prefix(self, target: str) -> Path:
        """A shortest path (in steps) from the start to `target`, ending before it."""
        return self.path(self.start, target)[:-1] if self.start is not None else ()

    def path(self, source: str, target: str) -> Path:
        """A shortest path (in steps) from `source` to `target`, both included; () if none."""
        parents: dict[str, tuple[str, str] | None] = {source: None}
        queue = deque([source])
        while queue and target not in parents:
            node = queue.popleft()
            for port, nxt, _ in self.out[node]:
                if nxt not in parents:
                    parents[nxt] = (node, port)
                    queue.append(nxt)
        return _walk_back(parents, target) if target in parents else ()

    def reachable(self, start: str) -> frozenset[str]:
        """Every step reachable from `start` by at least one wire (kept per step)."""
        if start not in self._reach:
            self._reach[start] = frozenset(self._search(start))
        return self._reach[start]

    def _search(self, start: str) -> set[str]:
        seen: set[str] = set()
        stack = [nxt for _, nxt, _ in self.out[start]]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack += [nxt for _, nxt, _ in self.out[node]]
        return seen


def _profiles(journey: Journey) -> tuple[ContactPolicy, ...]:
    found = jurisdiction_of(journey.jurisdiction)
    return jurisdiction_profiles(found) if found is not None else ()


def _counts(graph: JourneyGraph, node: str, channel: str | None) -> bool:
    """Whether a send step counts for a cap on `channel` (None: every message)."""
    if node not in graph.sends:
        return False
    channels = graph.channels(node)
    return channel in channels if channel is not None else bool(channels)


def _caps(graph: JourneyGraph, profiles: tuple[ContactPolicy, ...]) -> Proof:
    caps = [cap for policy in profiles for cap in policy.caps]
    if not caps:
        return Proof("caps", applies=False)
    failures: dict[str, Counterexample] = {}
    for policy in profiles:
        for cap in policy.caps:
            for first in graph.sends:
                if first in failures or not _counts(graph, first, cap.channel):
                    continue
                found = _most_in_window(graph, first, cap.channel, cap.window, cap.max_count)
                if found is not None:
                    segment, count = found
                    failures[first] = Counterexample(
                        first,
                        graph.prefix(first) + segment,
                        {
                            "profile": policy.name,
                            "channel": cap.channel or "any",
                            "count": count,
                            "max_count": cap.max_count,
                            "days": cap.window / timedelta(days=1),
                        },
                    )
    return Proof("caps", tuple(failures.values()))


def _most_in_window(
    graph: JourneyGraph, first: str, channel: str | None, window: timedelta, limit: int
) -> tuple[Path, int] | None:
    """A path from `first` with more than `limit` counted sends within `window`, or None.

    Label-setting search over (step, least elapsed time, count): a state is dropped when another
    at the same step came no later with no fewer messages, so loops that take time end at the
    window's edge and loops that take none end as soon as they pass the limit.
    """
    frontier: dict[str, list[tuple[timedelta, int]]] = {}
    heap: list[tuple[timedelta, int, int, str, Path]] = [(ZERO, -1, 0, first, ())]
    serial = 1
    while heap:
        elapsed, negative, _, node, path = heapq.heappop(heap)
        count = -negative
        if count > limit:
            return (*path, (node, None)), count
        labels = frontier.setdefault(node, [])
        if any(e <= elapsed and c >= count for e, c in labels):
            continue
        labels.append((elapsed, count))
        for port, nxt, delay in graph.timed(node):
            later = elapsed + graph.delay(node, port, delay, first, elapsed)
            if later >= window:  # counted as `sent_at > now - window`: the edge is outside
                continue
            more = count + (1 if _counts(graph, nxt, channel) else 0)
            heapq.heappush(heap, (later, -more, serial, nxt, (*path, (node, port))))
            serial += 1
    return None


def _gaps(graph: JourneyGraph, profiles: tuple[ContactPolicy, ...]) -> Proof:
    gaps = [(p, p.min_gap) for p in profiles if p.min_gap > ZERO]
    if not gaps:
        return Proof("gaps", applies=False)
    failures = []
    for first in graph.sends:
        for policy, gap in gaps:
            if not graph.channels(first) - policy.posted_channels:
                continue  # a posted letter is no contact moment (pacing)
            found = _next_contact(graph, first, policy.posted_channels, gap)
            if found is not None:
                path, elapsed = found
                failures.append(
                    Counterexample(
                        first,
                        graph.prefix(first) + path,
                        {
                            "profile": policy.name,
                            "hours": elapsed / timedelta(hours=1),
                            "gap_hours": gap / timedelta(hours=1),
                        },
                    )
                )
                break
    return Proof("gaps", tuple(failures))


def _next_contact(
    graph: JourneyGraph, first: str, posted: frozenset[str], gap: timedelta
) -> tuple[Path, timedelta] | None:
    """The quickest path from `first` to another contact sooner than `gap`, or None."""
    best: dict[str, timedelta] = {}
    heap: list[tuple[timedelta, int, str, Path]] = [(ZERO, 0, first, ())]
    serial = 1
    while heap:
        elapsed, _, node, path = heapq.heappop(heap)
        if node in best:
            continue
        best[node] = elapsed
        for port, nxt, delay in graph.timed(node):
            later = elapsed + graph.delay(node, port, delay, first, elapsed)
            if later >= gap:
                continue
            step = (*path, (node, port))
            if nxt in graph.sends and graph.channels(nxt) - posted:
                return (*step, (nxt, None)), later
            heapq.heappush(heap, (later, serial, nxt, step))
            serial += 1
    return None


def _hours(graph: JourneyGraph, profiles: tuple[ContactPolicy, ...]) -> Proof:
    if not profiles:
        return Proof("hours", applies=False)
    failures = []
    for send_id in graph.sends:
        for policy in profiles:
            if not graph.channels(send_id) - policy.posted_channels:
                continue
            for wait_id, at in _fixed_times(graph, send_id):
                windows = [w for w in policy.allowed_hours if w is not None]
                if windows and all(w.start <= at < w.end for w in windows):
                    continue
                hours = ", ".join(sorted({str(w) for w in windows})) or "-"
                failures.append(
                    Counterexample(
                        send_id,
                        graph.prefix(wait_id) + graph.path(wait_id, send_id),
                        {"profile": policy.name, "time": f"{at:%H:%M}", "hours": hours},
                    )
                )
                break
            else:
                continue
            break
    return Proof("hours", tuple(failures))


def _fixed_times(graph: JourneyGraph, send_id: str) -> Iterator[tuple[str, time]]:
    """Waits that fix the local time a send happens at: nothing between them takes time."""
    into: dict[str, list[tuple[str, timedelta]]] = {}
    for source, wires in graph.out.items():
        for _, target, delay in wires:
            into.setdefault(target, []).append((source, delay))
    seen, stack = {send_id}, [send_id]
    while stack:
        node = stack.pop()
        for source, delay in into.get(node, []):
            if source in seen:
                continue
            seen.add(source)
            step = graph.nodes[source]
            moment = _wait_time(step)
            if moment is not None:
                yield source, moment
            elif delay == ZERO and step.type not in ("wait", "wait_event", "promise"):
                stack.append(source)  # a step that takes no time: look further back


def _wait_time(node: Node) -> time | None:
    """The local time of day a wait moves on at, when the wait fixes one."""
    if node.type != "wait":
        return None
    if node.params.get("at_time"):
        return _at_time(node)
    if node.params.get("mode") == "due_date":
        return time(0, 0)  # D+n without a time moves on at midnight, the debtor's time
    return None


def _consequences(graph: JourneyGraph, journey: Journey) -> Proof:
    failures = []
    for send_id, node in graph.sends.items():
        for consequence, excerpt, template in _announced(journey, node):
            if carries_out(graph, send_id, consequence):
                continue
            failures.append(
                Counterexample(
                    send_id,
                    (*graph.prefix(send_id), (send_id, None)),
                    {"consequence": consequence.id, "excerpt": excerpt, "template": template},
                )
            )
    return Proof("consequences", tuple(failures))


def carries_out(graph: JourneyGraph, send_id: str, consequence: Consequence) -> bool:
    """Whether a step reachable after send step `send_id` does the consequence."""
    return any(_does(graph.nodes[n], consequence) for n in graph.reachable(send_id))


def template_contexts(journey: Journey) -> dict[str, TemplateContext]:
    """Template key -> its context; a template no step sends has none (nothing carried out)."""
    graph = JourneyGraph(journey)
    senders: dict[str, list[str]] = {}
    for send_id, node in graph.sends.items():
        for key in {node.params.get("template"), node.params.get("fallback_template")} - {None}:
            senders.setdefault(str(key), []).append(send_id)
    languages = {
        v.locale.split("-")[0].split("_")[0].lower()
        for t in journey.templates.values()
        for v in t.variants
    }
    consequences = [
        c
        for language in sorted(languages)
        for pack in packs_for(language, journey.jurisdiction)
        for c in pack.consequences
    ]
    out = {}
    for key, sends in senders.items():
        carried = frozenset(
            c.id for c in consequences if all(carries_out(graph, s, c) for s in sends)
        )
        final = not any(graph.reachable(s) & graph.sends.keys() for s in sends)
        out[key] = TemplateContext(carried, final)
    return out


def _announced(journey: Journey, node: Node) -> Iterator[tuple[Consequence, str, str]]:
    """Each consequence a send step's templates announce, once, with the words that do."""
    seen: set[str] = set()
    for key in send_templates(node.params):
        template = journey.templates.get(key or "")
        if template is None:
            continue
        for variant in template.variants:
            language = variant.locale.split("-")[0].split("_")[0].lower()
            words = Words(plain(f"{variant.subject}\n{variant.body}"))
            for pack in packs_for(language, journey.jurisdiction):
                for consequence in pack.consequences:
                    if consequence.id in seen:
                        continue
                    hit = next((s for p in consequence.patterns if (s := search(p, words))), None)
                    if hit is None or any(search(p, words) for p in consequence.unless):
                        continue
                    seen.add(consequence.id)
                    yield consequence, " ".join(words.words[hit[0] : hit[1] + 1]), template.key


def _does(node: Node, consequence: Consequence) -> bool:
    """Whether a step carries a consequence out (an outcome, or a webhook that asks for it)."""
    if node.type == "end":
        return node.params.get("outcome") in consequence.outcomes
    if node.type == "webhook":
        event = str(node.params.get("event", ""))
        return any(fnmatch.fnmatchcase(event, p) for p in consequence.webhook_events)
    return False


def _holds(graph: JourneyGraph, profiles: tuple[ContactPolicy, ...]) -> Proof:
    allowed = (
        frozenset.intersection(
            *(
                p.holds["cease_contact"].allowed_during_hold
                for p in profiles
                if "cease_contact" in p.holds
            ),
        )
        if any("cease_contact" in p.holds for p in profiles)
        else frozenset()
    )
    failures = []
    reported: set[str] = set()
    for node_id, node in graph.nodes.items():
        if node.type != "wait_event":
            continue
        for port, target, _ in graph.out[node_id]:
            if port not in STOP_EVENTS:
                continue
            for send_id, path in _sends_until_resumed(graph, target):
                purpose = graph.sends[send_id].params.get("purpose", "reminder")
                if purpose in allowed or send_id in reported:
                    continue
                reported.add(send_id)
                failures.append(
                    Counterexample(
                        send_id,
                        (*graph.prefix(node_id), (node_id, port), *path),
                        {"event": port, "purpose": purpose},
                    )
                )
    return Proof("holds", tuple(failures))


def _sends_until_resumed(graph: JourneyGraph, start: str) -> Iterator[tuple[str, Path]]:
    """Send steps reachable from `start` without passing a port that lifts the stop."""
    parents: dict[str, tuple[str, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node in graph.sends:
            yield node, _walk_back(parents, node)
        for port, nxt, _ in graph.out[node]:
            if port in RESUME_EVENTS or nxt in parents:
                continue
            parents[nxt] = (node, port)
            queue.append(nxt)


def _walk_back(parents: dict[str, tuple[str, str] | None], node: str) -> Path:
    steps: list[tuple[str, str | None]] = [(node, None)]
    at = parents[node]
    while at is not None:
        steps.append(at)
        at = parents[at[0]]
    return tuple(reversed(steps))


def _promises(graph: JourneyGraph) -> Proof:
    failures = []
    for node_id, node in graph.nodes.items():
        if node.type != "promise":
            continue
        broken = [t for port, t, _ in graph.out[node_id] if port == "broken"]
        target = graph.nodes.get(broken[0]) if broken else None
        if target is None:
            problem = "unwired"
        elif target.type == "end" and target.params.get("outcome") == "paid":
            problem = "paid"
        else:
            continue
        failures.append(
            Counterexample(
                node_id, (*graph.prefix(node_id), (node_id, "broken")), {"problem": problem}
            )
        )
    return Proof("promises", tuple(failures))


def _time(graph: JourneyGraph) -> Proof:
    """Loops whose every wire can be taken without time passing or the debtor acting."""
    instant = {n: [(p, t) for p, t, d in graph.timed(n) if d == ZERO] for n in graph.out}
    failures, reported = [], set()
    for node_id in graph.nodes:
        if node_id in reported:
            continue
        cycle = _cycle_through(instant, node_id)
        if cycle is None:
            continue
        members = {n for n, _ in cycle}
        reported |= members
        sends = sorted(members & set(graph.sends))
        failures.append(
            Counterexample(
                node_id,
                graph.prefix(node_id) + cycle + ((node_id, None),),
                {"sends": len(sends)},
            )
        )
    return Proof("time", tuple(failures))


def _cycle_through(instant: dict[str, list[tuple[str, str]]], start: str) -> Path | None:
    """A path of instant wires from `start` back to itself, or None."""
    parents: dict[str, tuple[str, str] | None] = {}
    queue = deque([(start, port, nxt) for port, nxt in instant[start]])
    for _, port, nxt in queue:
        parents.setdefault(nxt, (start, port))
    while queue:
        _, _, node = queue.popleft()
        if node == start:
            steps: list[tuple[str, str | None]] = []
            at = parents[start]
            while at is not None:
                steps.append(at)
                at = parents.get(at[0]) if at[0] != start else None
            return tuple(reversed(steps))
        for port, nxt in instant[node]:
            if nxt not in parents:
                parents[nxt] = (node, port)
                queue.append((node, port, nxt))
    return None
