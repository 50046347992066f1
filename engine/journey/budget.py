"""Budgets for rendering a template: time, steps, output and the size of what it builds.

Jinja2's sandbox stops attribute escapes, not work: `range(10**5)` nested twice loops 10**10
times, `'x'|center(10**9)` allocates gigabytes in one call. `BoundedEnvironment` is the sandbox
with its own hooks used to bound both, in process and cheaply enough for the dispatcher:

- steps: every loop iteration (charged when the loop starts, for anything with a length) and
  every call (functions, methods, macros) costs one step; at most `Limits.steps` per render;
- time: each step, call and output checks the rendering thread's CPU time against
  `Limits.seconds` (CPU, not wall time, so a busy machine does not fail good templates);
- size: no operation may build a text longer than `Limits.output` characters, or a list, tuple
  or dict holding more than that (its strings' characters plus one per item): `*`, `+`, `%`,
  `**` (by the result's digits), `~`, list and dict literals, the string methods and filters
  that pad, repeat, replace or join, checked before the work where the result's size can be
  computed up front (padding, repetition, joins), right after it otherwise (one step's growth);
- output: every `{{ ... }}` and every loop's literal text per iteration is charged against
  `Limits.built` (output built anywhere, also inside macros and `{% set %}` blocks), and each
  rendered part may be at most `Limits.output` characters.

Exceeding any of them raises `BudgetExceeded` with words for the manager. A process that must
not trust in-process bounds (the designer's preview) renders in a child process with resource
limits as well (`engine.delivery.isolation`).
"""

from __future__ import annotations

import math
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes, pass_context, pass_eval_context
from jinja2.filters import make_attrgetter
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.core.messages import Message, msg


@dataclass(frozen=True)
class Limits:
    """What one render (subject, body and html together) may cost."""

    seconds: float = 0.5  # CPU time of the rendering thread; a typical message takes 50 µs
    steps: int = 20_000  # loop iterations and calls
    output: int = 200_000  # characters of one rendered part, and of any one text it builds

    @property
    def built(self) -> int:
        """Characters of output built in all (macros and set blocks included)."""
        return 4 * self.output


DEFAULT_LIMITS = Limits()

TOO_SLOW = msg("it took longer than {seconds} s to render")
TOO_MANY_STEPS = msg("it needs more than {steps} loop steps and calls")
TOO_LONG = msg("its text would be longer than {chars} characters")
TOO_BIG = msg("it builds a text or list larger than {chars} characters")
NOT_ALLOWED = msg("'{name}' is not available in templates")
TOO_DEEP = msg("its macros call each other more than {depth} deep")
MACRO_DEPTH = 50


class BudgetExceeded(Exception):
    """A render went over one of its limits; `words` says which."""

    def __init__(self, words: Message) -> None:
        super().__init__(words.text())
        self.words = words


class Budget:
    """What is left of one render's limits."""

    __slots__ = ("built", "deadline", "depth", "limits", "steps")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.thread_time() + limits.seconds
        self.steps = limits.steps
        self.built = limits.built
        self.depth = 0

    def step(self, n: int = 1) -> None:
        """Charge n steps and check the clock."""
        self.steps -= n
        if self.steps < 0:
            raise BudgetExceeded(TOO_MANY_STEPS.with_params(steps=self.limits.steps))
        self.check_time()

    def check_time(self) -> None:
        if time.thread_time() > self.deadline:
            raise BudgetExceeded(TOO_SLOW.with_params(seconds=self.limits.seconds))

    def build(self, chars: int) -> None:
        """Charge output built somewhere (a `{{ }}` or a loop's literal text)."""
        self.built -= chars
        if self.built < 0:
            raise BudgetExceeded(TOO_LONG.with_params(chars=self.limits.output))


_CURRENT: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def current() -> Budget:
    """The running render's budget (outside a render, e.g. constant folding: a fresh one)."""
    return _CURRENT.get() or Budget(DEFAULT_LIMITS)


class budgeted:
    """Run a render under a fresh budget."""

    def __init__(self, limits: Limits) -> None:
        self.budget = Budget(limits)

    def __enter__(self) -> Budget:
        self._token = _CURRENT.set(self.budget)
        return self.budget

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self._token)


# -- sizes -----------------------------------------------------------------------------------


def size_of(value: Any, limit: int) -> int:
    """Characters of the strings in a value plus one per item, counted up to just past limit.

    Stops as soon as the count passes `limit`, so a list that shares one big list many times
    costs at most `limit` visits, not its full (possibly exponential) unfolding.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1 + len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 1 + len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 1
        if total > limit:
            return total
    return total


def _refuse_size(chars: int) -> None:
    limit = current().limits.output
    if chars > limit:
        raise BudgetExceeded(TOO_BIG.with_params(chars=limit))


def sized(value: Any) -> Any:
    """Let a built value through if it is within the size limit, and charge what it holds.

    The charge (against `Limits.built`, like output) bounds what a render allocates in all:
    twenty thousand texts just under the size limit would be gigabytes.
    """
    budget = current()
    limit = budget.limits.output
    if isinstance(value, str):
        if len(value) > limit:
            raise BudgetExceeded(TOO_BIG.with_params(chars=limit))
        budget.build(len(value))
    elif isinstance(value, list | tuple | dict | set | frozenset):
        size = size_of(value, limit)
        _refuse_size(size)
        budget.build(size)
    return value


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


# -- % and str.format specs ------------------------------------------------------------------

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_NUMBERS = re.compile(r"\d+")


def _check_percent(fmt: str) -> None:
    limit = current().limits.output
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for number in (width, precision):
            if number == "*" or (number and int(number) > limit):
                raise BudgetExceeded(TOO_BIG.with_params(chars=limit))


def _check_format(fmt: str) -> None:
    limit = current().limits.output
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec or any(int(n) > limit for n in _FORMAT_NUMBERS.findall(spec)):
            raise BudgetExceeded(TOO_BIG.with_params(chars=limit))


# -- string methods ----------------------------------------------------------------------------


def _joined_size(items: Iterable[Any], separator: str) -> tuple[list[Any], int]:
    found = list(items)
    limit = current().limits.output
    total = len(separator) * max(len(found) - 1, 0)
    for item in found:
        total += len(item) if isinstance(item, str) else size_of(item, limit)
        if total > limit:
            break
    return found, total


def _check_str_method(
    text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Refuse a string method whose result would be too big, before it runs; its args.

    `join` gets its items as a list (an iterator would be used up by counting them).
    """
    if name in ("center", "ljust", "rjust", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        _refuse_size(_int(width))
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        _refuse_size(len(text) + text.count("\t") * max(_int(tabsize, 8), 0))
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = text.count(old) if old else len(text) + 1
        if len(args) > 2 and _int(args[2], -1) >= 0:
            count = min(count, _int(args[2]))
        _refuse_size(len(text) + count * max(len(new) - len(old), 0))
    elif name == "join" and args:
        items, total = _joined_size(args[0], text)
        _refuse_size(total)
        return (items, *args[1:])
    elif name in ("format", "format_map"):
        _check_format(text)
    elif name in ("translate", "maketrans"):  # a table can map each character to a long text
        raise BudgetExceeded(NOT_ALLOWED.with_params(name=name))
    return args


# -- operators ---------------------------------------------------------------------------------


def _repeat_size(sequence: Any, times: Any) -> int:
    limit = current().limits.output
    return size_of(sequence, limit) * max(_int(times), 0)


def _mul(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, str | list | tuple):
        left, right = right, left
    if isinstance(left, str | list | tuple) and isinstance(right, int):
        _refuse_size(_repeat_size(left, right))
        return sized(left * right)
    return left * right


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        limit = current().limits.output
        _refuse_size(size_of(left, limit) + size_of(right, limit))
        return sized(left + right)
    return left + right


def _pow(base: Any, exponent: Any) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
        digits = exponent * math.log10(abs(base))
        _refuse_size(int(digits))
    return base**exponent


def _mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        _check_percent(left)
        return sized(left % right)
    return left % right


# -- filters -----------------------------------------------------------------------------------


def _guard_filter(
    original: Callable[..., Any], check: Callable[..., None] | None = None
) -> Callable[..., Any]:
    """A filter that runs `check` on its arguments first and limits the size of its result.

    `check` sees the filter's own arguments (value first), without the context, eval context
    or environment Jinja passes to some filters.
    """
    pass_arg = getattr(original, "jinja_pass_arg", None)
    skip = 1 if pass_arg is not None else 0

    def guarded(*args: Any, **kwargs: Any) -> Any:
        current().step()
        if check is not None:
            check(*args[skip:], **kwargs)
        return sized(original(*args, **kwargs))

    guarded.__name__ = getattr(original, "__name__", "filter")
    if pass_arg is not None:
        guarded.jinja_pass_arg = pass_arg  # type: ignore[attr-defined]
    return guarded


def _check_center(*args: Any, **kwargs: Any) -> None:
    values = args
    _refuse_size(_int(values[1] if len(values) > 1 else kwargs.get("width", 80)))


def _check_indent(*args: Any, **kwargs: Any) -> None:
    values = args
    text = str(values[0]) if values else ""
    width = values[1] if len(values) > 1 else kwargs.get("width", 4)
    pad = len(width) if isinstance(width, str) else _int(width)
    _refuse_size(len(text) + (text.count("\n") + 1) * max(pad, 0))


def _check_wordwrap(*args: Any, **kwargs: Any) -> None:
    values = args
    text = str(values[0]) if values else ""
    width = max(_int(values[1] if len(values) > 1 else kwargs.get("width", 79), 79), 1)
    wrap = values[3] if len(values) > 3 else kwargs.get("wrapstring")
    lines = len(text) // width + text.count("\n") + 1
    _refuse_size(len(text) + lines * len(str(wrap or "\n")))


def _check_format_filter(*args: Any, **kwargs: Any) -> None:
    values = args
    _check_percent(str(values[0]) if values else "")


def _check_replace(*args: Any, **kwargs: Any) -> None:
    values = args
    if len(values) >= 3:
        _check_str_method(str(values[0]), "replace", tuple(values[1:]), {})


def _join_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    """`join` on a list of its items, counted before they are joined."""

    @pass_eval_context
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        current().step()
        items = list(value)
        if attribute is not None:
            items = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
        _, total = _joined_size(items, str(d))
        _refuse_size(total)
        return sized(original(eval_ctx, items, d))

    return join


def _check_count(position: int, name: str) -> Callable[..., None]:
    def check(*args: Any, **kwargs: Any) -> None:
        values = args
        count = values[position] if len(values) > position else kwargs.get(name, 0)
        _refuse_size(_int(count))
        current().step(max(_int(count), 0))

    return check


def _check_tojson(*args: Any, **kwargs: Any) -> None:
    values = args
    indent = values[1] if len(values) > 1 else kwargs.get("indent")
    if indent is not None and (not isinstance(indent, int) or indent > 16):
        raise BudgetExceeded(TOO_BIG.with_params(chars=current().limits.output))


def _check_sum(*args: Any, **kwargs: Any) -> None:
    values = args
    start = values[2] if len(values) > 2 else kwargs.get("start", 0)
    if not isinstance(start, int | float) and values:
        _refuse_size(size_of(values[0], current().limits.output) + size_of(start, 1))


_FILTER_CHECKS: dict[str, Callable[..., None] | None] = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "format": _check_format_filter,
    "replace": _check_replace,
    "batch": _check_count(1, "linecount"),
    "slice": _check_count(1, "slices"),
    "tojson": _check_tojson,
    "sum": _check_sum,
    "string": None,
    "pprint": None,
    "list": None,
    "urlize": None,
    "xmlattr": None,
    "truncate": None,
}


# -- the environment -----------------------------------------------------------------------

LOOP_FILTER = "_budget_loop"
SIZED_FILTER = "_budget_sized"


@pass_context
def _loop(context: Any, iterable: Any, literal_chars: int) -> Any:
    """The iterable of a `for` loop, charged: one step and its literal text per iteration."""
    budget = current()
    try:
        n = len(iterable)
    except TypeError:
        return _counted(iterable, budget, literal_chars)
    budget.step(n)
    budget.build(n * literal_chars)
    return iterable


def _counted(iterable: Iterable[Any], budget: Budget, literal_chars: int) -> Iterator[Any]:
    for item in iterable:
        budget.step()
        budget.build(literal_chars)
        yield item


def _literal_chars(body: list[nodes.Node]) -> int:
    """Characters of literal text in a loop body, not counting nested loops (they charge theirs)."""
    total = 0
    todo: list[nodes.Node] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif isinstance(node, nodes.For | nodes.Macro | nodes.CallBlock):
            continue
        else:
            todo.extend(node.iter_child_nodes())
    return total


def _sized_node(node: nodes.Expr) -> nodes.Expr:
    return nodes.Filter(node, SIZED_FILTER, [], [], None, None, lineno=node.lineno)


def _bound(tree: nodes.Template) -> nodes.Template:
    """Charge every loop and check the size of every `~` and list, tuple or dict literal."""
    for loop in tree.find_all(nodes.For):
        chars = nodes.Const(_literal_chars([*loop.body, *loop.else_]), lineno=loop.lineno)
        loop.iter = nodes.Filter(loop.iter, LOOP_FILTER, [chars], [], None, None)
        loop.iter.set_lineno(loop.lineno)
    _wrap_builders(tree)
    return tree


def _wrap_builders(node: nodes.Node) -> None:
    for name in node.fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for i, child in enumerate(value):
                if isinstance(child, nodes.Node):
                    _wrap_builders(child)
                    if _builds(child):
                        value[i] = _sized_node(child)
        elif isinstance(value, nodes.Node):
            _wrap_builders(value)
            if _builds(value):
                setattr(node, name, _sized_node(value))


def _builds(node: nodes.Node) -> bool:
    """Whether a node builds a text or container from values (not only from constants)."""
    if isinstance(node, nodes.Concat):
        return True
    if isinstance(node, nodes.List) or (isinstance(node, nodes.Tuple) and node.ctx == "load"):
        return not all(isinstance(i, nodes.Const) for i in node.items)
    if isinstance(node, nodes.Dict):
        return not all(isinstance(p.value, nodes.Const) for p in node.items)
    return False


@pass_context
def _sized_filter(context: Any, value: Any) -> Any:
    """`sized` as a filter Jinja cannot fold at compile time (it takes the context)."""
    return sized(value)


def _finalize(value: Any) -> Any:
    budget = current()
    if isinstance(value, str):
        budget.build(len(value))
    elif isinstance(value, list | tuple | dict | set | frozenset):
        budget.build(size_of(value, budget.built + 1))
    return value  # the clock is read at steps: without loops or calls a template is quick


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with budgets on steps, time and sizes (see the module's doc)."""

    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(finalize=_finalize, **kwargs)
        self.binop_table = {**self.binop_table, "*": _mul, "+": _add, "**": _pow, "%": _mod}
        self.globals.pop("lipsum", None)  # lipsum(10**9): gigabytes of Latin, no use in a letter
        for name, check in _FILTER_CHECKS.items():
            self.filters[name] = _guard_filter(self.filters[name], check)
        self.filters["join"] = _join_filter(self.filters["join"])
        self.filters[LOOP_FILTER] = _loop
        self.filters[SIZED_FILTER] = _sized_filter
        self.globals["range"] = _range

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _bound(super()._parse(source, name, filename))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Every call costs a step; string methods that could build a huge text are checked."""
        budget = current()
        budget.step()
        if isinstance(__obj, Macro):  # recursion: a clear error long before Python's limit
            if budget.depth >= MACRO_DEPTH:
                raise BudgetExceeded(TOO_DEEP.with_params(depth=MACRO_DEPTH))
            budget.depth += 1
            try:
                return super().call(__context, __obj, *args, **kwargs)
            finally:
                budget.depth -= 1
        target = getattr(__obj, "__wrapped__", __obj)  # str.format arrives wrapped by the sandbox
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str):
            args = _check_str_method(owner, getattr(target, "__name__", ""), args, kwargs)
            return sized(super().call(__context, __obj, *args, **kwargs))
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return self.binop_table[operator](left, right)


def _range(*args: int) -> range:
    """range() whose length is charged as steps at once (a loop over it charges them again)."""
    found = range(*args)
    limit = current().limits.steps
    if len(found) > limit:
        raise BudgetExceeded(TOO_MANY_STEPS.with_params(steps=limit))
    return found
