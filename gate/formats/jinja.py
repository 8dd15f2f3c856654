"""Chat templates: parse with Jinja2's parser and look for sandbox escapes in the AST.

A template is only ever *parsed* (``Environment.parse`` builds an AST; it
compiles and runs nothing). Bounds: templates longer than
``Limits.max_string_bytes`` are refused, the AST walk stops after
``MAX_NODES`` nodes, and string folding is capped in depth, fan-out and
length. Any parser exception is caught and reported.

Findings (code ``chat_template_injection``, severity critical unless noted):

- ``jinja.dunder_attribute``: ``x.__class__``, ``x._private`` and any
  attribute starting with ``_`` (Jinja's own sandbox refuses those too);
- ``jinja.dunder_name``: a name such as ``x["__globals__"]``,
  ``x|attr("__class__")``, ``map(attribute="__class__")``, ``dict(__class__=1)``,
  including names built from constants (``"__cl" ~ "ass__"``, ``"_" * 2``,
  ``"%sclass%s"|format(...)``, ``[...]|join``, ``|reverse``, ``.format(...)``,
  ``{% set %}`` variables and loop variables over constant lists);
- ``jinja.computed_name`` (high): an item or ``attr`` name built at render time
  by string operations that cannot be folded (e.g. characters cut out of
  ``lipsum|string``): ordinary templates index with constants and variables;
- ``jinja.format_attribute``: ``"{0.__class__}".format(x)``-style field access;
- ``jinja.gadget_global``: any attribute or item access on ``cycler``,
  ``joiner``, ``namespace``, ``lipsum``, ``range``, ``dict``, ``self``,
  ``request``, ``config``, ``session``, ``g``, ``url_for``,
  ``get_flashed_messages`` themselves (a namespace *object* created with
  ``namespace(...)`` and stored in a variable is used normally and not flagged);
- ``jinja.dangerous_name``: ``os``, ``sys``, ``subprocess``, ``eval``,
  ``exec``, ``getattr``, ``globals``, ``open``, ... as free names, and
  attributes such as ``.mro``, ``.popen``, ``.system()``, ``f_globals``;
- ``jinja.import_statement`` (high): ``import``, ``from``, ``include``, ``extends``.

A template that does not parse is ``invalid_header`` / ``jinja.parse_error``
when the caller says the value is meant to be a template.
"""

from __future__ import annotations

import re
import string
import warnings
from collections.abc import Iterator
from typing import Any

from gate.formats.interface import DEFAULT_LIMITS, Blob, Finding, Limits, Report

FORMAT = "jinja"
CODE = "chat_template_injection"
MAX_NODES = 200_000
_FOLD_DEPTH = 24
_FOLD_FANOUT = 16
_FOLD_CHARS = 512

GADGETS = frozenset(
    {
        "cycler",
        "joiner",
        "namespace",
        "lipsum",
        "range",
        "dict",
        "self",
        "request",
        "config",
        "session",
        "g",
        "url_for",
        "get_flashed_messages",
    }
)
DANGEROUS_NAMES = frozenset(
    {
        "os",
        "sys",
        "subprocess",
        "builtins",
        "importlib",
        "eval",
        "exec",
        "compile",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "open",
        "input",
        "breakpoint",
        "type",
        "object",
        "popen",
        "system",
    }
)
DANGEROUS_ATTRS = frozenset(
    {
        "mro",
        "popen",
        "eval",
        "exec",
        "import_module",
        "load_module",
        "check_output",
        "getoutput",
        "spawnv",
        "spawnl",
        "execv",
        "execl",
        "func_globals",
        "func_code",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "cr_code",
        "ag_frame",
        "tb_frame",
        "tb_next",
        "co_code",
        "im_func",
        "im_class",
    }
)
_CALLED_DANGEROUS_ATTRS = frozenset({"system", "spawn", "fork", "kill", "remove", "unlink", "rmtree"})
_STRING_METHODS = frozenset(
    {
        "format",
        "format_map",
        "join",
        "replace",
        "lower",
        "upper",
        "strip",
        "lstrip",
        "rstrip",
        "title",
        "capitalize",
        "swapcase",
        "center",
        "ljust",
        "rjust",
        "zfill",
        "translate",
        "encode",
        "decode",
        "removeprefix",
        "removesuffix",
        "casefold",
        "expandtabs",
        "__add__",
        "__mul__",
    }
)
_NUMERIC_FILTERS = frozenset({"length", "count", "int", "float", "abs", "round", "sum"})
_ATTRIBUTE_POSITION = {"groupby": 0, "sum": 0, "unique": 1, "min": 1, "max": 1, "sort": 2}
_ATTRIBUTE_FILTERS = frozenset(
    {"map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique", "min", "max", "dictsort"}
)
_DUNDER = re.compile(r"__\w+__")
_WIDE_PERCENT = re.compile(r"%[^%a-zA-Z]*[0-9*.]")
"""A printf width or precision: folding it could build a huge string, so it is not folded."""


def _is_private(name: str) -> bool:
    return name.startswith("_")


def _is_dunderish(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith("__") or bool(_DUNDER.search(value)))


def looks_like(blob: Blob) -> bool:
    """True for a small UTF-8 text blob containing Jinja delimiters."""
    head = blob.read_at(0, 64 * 1024)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text and ("{%" in text or "{{" in text)


def parse(blob: Blob, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Inspect a standalone template file (e.g. ``chat_template.jinja``)."""
    report = Report(FORMAT)
    if blob.size > limits.max_string_bytes:
        report.add(
            "invalid_header",
            "jinja.too_large",
            "high",
            f"template of {blob.size} bytes exceeds the {limits.max_string_bytes}-byte limit",
        )
        return report
    text = blob.read_at(0, blob.size).decode("utf-8", "replace")
    report.header["template_bytes"] = blob.size
    report.findings.extend(inspect(text, source="", offset=None, report_parse_errors=True, limits=limits))
    return report


def inspect(
    text: str,
    *,
    source: str = "",
    offset: int | None = None,
    report_parse_errors: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    member: str = "",
) -> list[Finding]:
    """Findings for one template string; never renders it.

    *source* names where the template came from (a GGUF key, a JSON field) and
    *offset* is the byte offset of the value in its blob. When
    *report_parse_errors* is false (a string that merely contains ``{{``), a
    template Jinja cannot parse is not reported: it could never be rendered.
    """
    try:
        return _Inspector(text, source, offset, report_parse_errors, limits, member).run()
    except Exception as exc:  # a bug here must still be evidence
        return [
            Finding(
                "invalid_header",
                "jinja.inspector_error",
                "high",
                f"template inspection failed: {type(exc).__name__}: {str(exc)[:200]}",
                member,
                offset,
                {"source": source[:200]},
            )
        ]


def _environment() -> Any:
    from jinja2 import nodes
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(Extension):
        """``{% generation %}`` from Hugging Face training templates, parsed as a plain scope."""

        tags = {"generation"}  # noqa: RUF012 - Jinja's own class attribute

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    return ImmutableSandboxedEnvironment(
        extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", GenerationTag]
    )


class _Inspector:
    def __init__(
        self,
        text: str,
        source: str,
        offset: int | None,
        report_parse_errors: bool,
        limits: Limits,
        member: str,
    ) -> None:
        self.text = text
        self.source = source
        self.offset = offset
        self.report_parse_errors = report_parse_errors
        self.limits = limits
        self.member = member
        self.findings: list[Finding] = []
        self.bound: set[str] = set()
        self.symbols: dict[str, list[Any]] = {}
        self.macros: dict[str, list[list[str]]] = {}
        # macro parameter -> the argument expressions of every call site
        self.call_args: dict[str, list[Any]] = {}
        self.seen: set[tuple[str, int, str]] = set()

    def add(self, check: str, severity: str, detail: str, node: Any = None, code: str = CODE) -> None:
        line = getattr(node, "lineno", 0) or 0
        key = (check, line, detail)
        if key in self.seen or len(self.findings) >= 64:
            return
        self.seen.add(key)
        data: dict[str, Any] = {"source": self.source[:200]}
        if line:
            data["line"] = line
        self.findings.append(Finding(code, check, severity, detail, self.member, self.offset, data))

    def run(self) -> list[Finding]:
        from jinja2 import nodes

        if len(self.text.encode("utf-8", "replace")) > self.limits.max_string_bytes:
            self.add(
                "jinja.too_large", "high", "template exceeds the string size limit", code="invalid_header"
            )
            return self.findings
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the lexer warns about odd escapes in literals
                tree = _environment().parse(self.text)
        except Exception as exc:  # TemplateSyntaxError, RecursionError, ...
            if self.report_parse_errors:
                line = getattr(exc, "lineno", None)
                where = f" (line {line})" if line else ""
                self.add(
                    "jinja.parse_error",
                    "high",
                    f"template does not parse{where}: {type(exc).__name__}: {str(exc)[:160]}",
                    code="invalid_header",
                )
            return self.findings
        all_nodes = []
        for count, node in enumerate(self._walk(tree)):
            if count >= MAX_NODES:
                self.add(
                    "jinja.too_complex",
                    "high",
                    f"template has more than {MAX_NODES} syntax nodes",
                    code="invalid_header",
                )
                return self.findings
            all_nodes.append(node)
        for node in all_nodes:
            if isinstance(node, nodes.Macro):
                self.macros.setdefault(node.name, []).append([arg.name for arg in node.args])
        for node in all_nodes:
            self._collect(node, nodes)
        for node in all_nodes:
            self._check(node, nodes)
        return self.findings

    @staticmethod
    def _walk(tree: Any) -> Iterator[Any]:
        stack = [tree]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.iter_child_nodes())))

    # -- symbol table -------------------------------------------------------------------------

    def _collect(self, node: Any, nodes: Any) -> None:
        if isinstance(node, nodes.Name) and node.ctx in ("store", "param"):
            self.bound.add(node.name)
        if isinstance(node, nodes.Assign):
            self._bind(node.target, node.node, nodes, iterate=False)
        elif isinstance(node, nodes.AssignBlock):
            self._bind(node.target, node, nodes, iterate=False)
        elif isinstance(node, nodes.For):
            self._bind(node.target, node.iter, nodes, iterate=True)
        elif isinstance(node, (nodes.Macro, nodes.CallBlock)):
            for arg, default in zip(reversed(node.args), reversed(node.defaults), strict=False):
                self.symbols.setdefault(arg.name, []).append(default)
        if (
            isinstance(node, nodes.Call)
            and isinstance(node.node, nodes.Name)
            and node.node.name in self.macros
        ):
            # A macro's parameters take the values of every call site's arguments: a name
            # passed in (``{{ g(cycler, "__in" ~ "it__") }}``) is folded where it is used.
            for params in self.macros[node.node.name]:
                for param, value in zip(params, node.args, strict=False):
                    self.call_args.setdefault(param, []).append(value)
                for kw in node.kwargs:
                    if kw.key in params:
                        self.call_args.setdefault(kw.key, []).append(kw.value)

    def _bind(self, target: Any, value: Any, nodes: Any, iterate: bool) -> None:
        if isinstance(target, nodes.Name):
            key = target.name
        elif isinstance(target, nodes.NSRef):
            key = f"{target.name}.{target.attr}"
        else:  # tuple unpacking: values unknown, but names are bound
            for item in getattr(target, "items", []):
                if isinstance(item, nodes.Name):
                    self.symbols.setdefault(item.name, []).append(("iter", value) if iterate else value)
            return
        self.symbols.setdefault(key, []).append(("iter", value) if iterate else value)

    def _lookup(self, node: Any, nodes: Any, calls: bool = True) -> list[Any] | None:
        if isinstance(node, nodes.Name) and node.ctx == "load":
            bound = self.symbols.get(node.name)
            passed = self.call_args.get(node.name) if calls else None
            if bound is not None and passed is not None:
                return bound + passed
            return passed if bound is None else bound
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            return self.symbols.get(f"{node.node.name}.{node.attr}")
        return None

    # -- constant folding ---------------------------------------------------------------------

    def fold(self, node: Any, nodes: Any, depth: int = 0) -> list[Any]:
        """Possible constant values of *node*; empty when unknown."""
        if depth > _FOLD_DEPTH:
            return []
        out = self._fold(node, nodes, depth + 1)
        return [v for v in out if not isinstance(v, str) or len(v) <= _FOLD_CHARS][:_FOLD_FANOUT]

    def _fold(self, node: Any, nodes: Any, depth: int) -> list[Any]:
        if isinstance(node, nodes.AssignBlock):
            if node.filter is not None or not all(isinstance(b, nodes.Output) for b in node.body):
                return []
            return self.fold(nodes.Concat([n for b in node.body for n in b.nodes]), nodes, depth)
        if isinstance(node, nodes.TemplateData):
            return [node.data]
        if isinstance(node, nodes.Const):
            return [node.value] if isinstance(node.value, (str, int)) else []
        if isinstance(node, (nodes.List, nodes.Tuple)):
            parts = [self.fold(item, nodes, depth) for item in node.items]
            if all(len(p) == 1 for p in parts):
                return [tuple(p[0] for p in parts)]
            return []
        bound = self._lookup(node, nodes)
        if bound is not None:
            values: list[Any] = []
            for value in bound:
                if isinstance(value, tuple) and value[:1] == ("iter",):
                    for seq in self.fold(value[1], nodes, depth):
                        if isinstance(seq, (tuple, str)):
                            values.extend(seq)
                else:
                    values.extend(self.fold(value, nodes, depth))
            return values
        if isinstance(node, nodes.Concat):
            results = [""]
            for part in node.nodes:
                vals = self.fold(part, nodes, depth)
                if not vals:
                    return []
                results = [a + str(b) for a in results for b in vals][:_FOLD_FANOUT]
            return results
        if isinstance(node, (nodes.Add, nodes.Mul, nodes.Mod)):
            left, right = self.fold(node.left, nodes, depth), self.fold(node.right, nodes, depth)
            return [v for a in left for b in right for v in _binop(type(node).__name__, a, b)]
        if isinstance(node, nodes.CondExpr):
            return self.fold(node.expr1, nodes, depth) + (
                self.fold(node.expr2, nodes, depth) if node.expr2 is not None else []
            )
        if isinstance(node, nodes.Getitem):
            bases = self.fold(node.node, nodes, depth)
            if isinstance(node.arg, nodes.Slice):
                bounds = [node.arg.start, node.arg.stop, node.arg.step]
                idx = [self.fold(b, nodes, depth) if b is not None else [None] for b in bounds]
                if not all(len(i) == 1 for i in idx):
                    return []
                return [v for b in bases for v in _slice(b, idx[0][0], idx[1][0], idx[2][0])]
            keys = self.fold(node.arg, nodes, depth)
            return [v for b in bases for k in keys for v in _index(b, k)]
        if isinstance(node, nodes.Filter):
            if node.node is None:
                return []
            base = self.fold(node.node, nodes, depth)
            args = [self.fold(a, nodes, depth) for a in node.args]
            if not all(len(a) == 1 for a in args):
                return []
            return [v for b in base for v in _filter(node.name, b, [a[0] for a in args])]
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            base = self.fold(node.node.node, nodes, depth)
            args = [self.fold(a, nodes, depth) for a in node.args]
            if not all(len(a) == 1 for a in args):
                return []
            return [v for b in base for v in _method(node.node.attr, b, [a[0] for a in args])]
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name == "dict":
            return [tuple(kw.key for kw in node.kwargs)]
        return []

    # -- computed names -----------------------------------------------------------------------

    def computed(self, node: Any, nodes: Any, depth: int = 0, through_attr: bool = False) -> bool:
        """Whether *node* builds a string at render time (concatenation, filters, slicing, ...).

        A macro parameter counts as what its call sites pass, except as the object of an
        attribute read (``spec.type`` of a ``spec`` passed as ``x|items``): that reads data.
        """
        if depth > _FOLD_DEPTH:
            return True
        depth += 1
        bound = self._lookup(node, nodes, calls=not through_attr)
        if bound is not None:
            return any(
                self.computed(v[1] if isinstance(v, tuple) else v, nodes, depth)
                for v in bound
                if v is not None
            )
        if isinstance(node, (nodes.Const, nodes.Name)):
            return False
        if isinstance(node, (nodes.Concat, nodes.Mod, nodes.AssignBlock)):
            return True
        if isinstance(node, (nodes.Add, nodes.Mul)):
            return any(
                (isinstance(n, nodes.Const) and isinstance(n.value, str)) or self.computed(n, nodes, depth)
                for n in (node.left, node.right)
            )
        if isinstance(node, (nodes.Sub, nodes.Div, nodes.FloorDiv, nodes.Neg, nodes.Pos)):
            return False
        if isinstance(node, nodes.Getattr):
            return self.computed(node.node, nodes, depth, through_attr=True)
        if isinstance(node, nodes.Getitem):
            if isinstance(node.node, nodes.Const) and isinstance(node.node.value, str):
                return True
            return self.computed(node.node, nodes, depth) or self.computed(node.arg, nodes, depth)
        if isinstance(node, nodes.Filter):
            if node.name in _NUMERIC_FILTERS or node.name in ("first", "last"):
                return node.node is not None and self.computed(node.node, nodes, depth)
            return True
        if isinstance(node, nodes.Call):
            func = node.node
            return not (isinstance(func, nodes.Getattr) and func.attr not in _STRING_METHODS)
        if isinstance(node, nodes.CondExpr):
            return self.computed(node.expr1, nodes, depth) or (
                node.expr2 is not None and self.computed(node.expr2, nodes, depth)
            )
        return False

    # -- checks -------------------------------------------------------------------------------

    def _name_check(
        self,
        node: Any,
        expr: Any,
        nodes: Any,
        what: str,
        strict_private: bool,
        dynamic_is_suspect: bool = False,
    ) -> None:
        values = self.fold(expr, nodes)
        for value in values:
            if _is_dunderish(value) or (strict_private and isinstance(value, str) and _is_private(value)):
                self.add(
                    "jinja.dunder_name",
                    "critical",
                    f"{what} {str(value)[:60]!r} reaches Python internals",
                    node,
                )
                return
            if isinstance(value, tuple) and any(_is_dunderish(v) for v in value):
                self.add(
                    "jinja.dunder_name", "critical", f"{what} built from {value!r:.60} names internals", node
                )
                return
        if not values and (dynamic_is_suspect or self.computed(expr, nodes)):
            self.add(
                "jinja.computed_name",
                "high",
                f"{what} is chosen at render time, not written in the template",
                node,
            )
        elif not values and strict_private and not isinstance(expr, nodes.Const):
            # An attribute name (|attr, map(attribute=...)) that is not a constant comes
            # from the render context, a macro argument or the conversation itself;
            # chat templates name the attributes they read.
            self.add(
                "jinja.computed_name",
                "high",
                f"{what} is not a constant: the attribute read is chosen at render time",
                node,
            )

    def _check(self, node: Any, nodes: Any) -> None:
        if isinstance(node, nodes.Getattr):
            self._check_attr(node, node.attr, nodes)
            self._check_gadget(node, node.node, nodes, f".{node.attr}")
        elif isinstance(node, nodes.Getitem):
            if not isinstance(node.arg, nodes.Slice):
                self._name_check(node, node.arg, nodes, "item name", strict_private=False)
            self._check_gadget(node, node.node, nodes, "[...]")
        elif isinstance(node, nodes.Filter):
            if node.name == "attr" and node.args:
                self._name_check(node, node.args[0], nodes, "|attr name", True, dynamic_is_suspect=True)
            if node.name == "map" and len(node.args) >= 2 and self.fold(node.args[0], nodes) == ["attr"]:
                self._name_check(
                    node, node.args[1], nodes, "|map('attr') name", True, dynamic_is_suspect=True
                )
            if node.name in _ATTRIBUTE_FILTERS:
                for kw in node.kwargs:
                    if kw.key == "attribute":
                        self._name_check(
                            node, kw.value, nodes, f"|{node.name} attribute", True, dynamic_is_suspect=True
                        )
                if node.name in ("selectattr", "rejectattr") and node.args:
                    self._name_check(
                        node, node.args[0], nodes, f"|{node.name} attribute", True, dynamic_is_suspect=True
                    )
                # the attribute given by position: groupby(attribute), sum(attribute, start),
                # unique/min/max(case_sensitive, attribute), sort(reverse, case_sensitive, attribute)
                position = _ATTRIBUTE_POSITION.get(node.name)
                if position is not None and len(node.args) > position:
                    self._name_check(
                        node,
                        node.args[position],
                        nodes,
                        f"|{node.name} attribute",
                        True,
                        dynamic_is_suspect=True,
                    )
            if node.dyn_args is not None or node.dyn_kwargs is not None:
                # |attr(*names), |map(**{"attribute": ...}): arguments unpacked at render time
                # hide the name from every check above; chat templates never unpack filter arguments.
                self.add(
                    "jinja.computed_name",
                    "high",
                    f"|{node.name} takes unpacked (*args / **kwargs) arguments chosen at render time",
                    node,
                )
            if node.name in ("format", "string", "join") and node.node is not None:
                self._check_format(node, node.node, nodes)
        elif isinstance(node, nodes.Pair):
            if any(_is_dunderish(v) for v in self.fold(node.key, nodes)):
                self.add("jinja.dunder_name", "critical", "dict key names Python internals", node)
        elif isinstance(node, nodes.Keyword):
            if _is_private(node.key):
                self.add("jinja.dunder_name", "critical", f"keyword {node.key[:60]!r} names internals", node)
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            if node.name.startswith("__"):
                self.add(
                    "jinja.dunder_name", "critical", f"name {node.name[:60]!r} reaches Python internals", node
                )
            elif node.name in DANGEROUS_NAMES and node.name not in self.bound:
                self.add(
                    "jinja.dangerous_name",
                    "critical",
                    f"free name {node.name!r} is not part of any chat template context",
                    node,
                )
        elif isinstance(node, nodes.Call):
            func = node.node
            if isinstance(func, nodes.Getattr):
                if func.attr in ("format", "format_map"):
                    self._check_format(node, func.node, nodes)
                if func.attr in _CALLED_DANGEROUS_ATTRS:
                    self.add("jinja.dangerous_name", "critical", f"call of .{func.attr}()", node)
            if node.dyn_kwargs is not None or node.dyn_args is not None:
                for dyn in (node.dyn_kwargs, node.dyn_args):
                    if dyn is not None:
                        self._name_check(node, dyn, nodes, "unpacked argument", strict_private=False)
        elif isinstance(node, (nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends)):
            kind = type(node).__name__.lower()
            self.add(
                "jinja.import_statement", "high", f"template uses {kind}, which loads other templates", node
            )

    def _check_attr(self, node: Any, attr: str, nodes: Any) -> None:
        if _is_private(attr):
            self.add(
                "jinja.dunder_attribute",
                "critical",
                f"attribute {attr[:60]!r} reaches Python internals",
                node,
            )
        elif attr in DANGEROUS_ATTRS:
            self.add("jinja.dangerous_name", "critical", f"attribute {attr!r} reaches Python internals", node)

    def _check_gadget(self, node: Any, base: Any, nodes: Any, access: str) -> None:
        if (
            isinstance(base, nodes.Name)
            and base.ctx == "load"
            and base.name in GADGETS
            and base.name not in self.bound
        ):
            self.add(
                "jinja.gadget_global",
                "critical",
                f"{base.name}{access[:60]}: attribute access on the global {base.name!r}",
                node,
            )

    def _check_format(self, node: Any, fmt_node: Any, nodes: Any) -> None:
        for fmt in self.fold(fmt_node, nodes):
            if not isinstance(fmt, str) or "{" not in fmt:
                continue
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(fmt) if f]
            except ValueError:
                continue
            for name in fields:
                if "." in name or "[" in name:
                    self.add(
                        "jinja.format_attribute",
                        "critical",
                        f"format field {{{name[:60]}}} reads attributes of its argument",
                        node,
                    )
                    return


def _binop(op: str, a: Any, b: Any) -> list[Any]:
    try:
        if op == "Add" and type(a) is type(b) and isinstance(a, (str, int)):
            return [a + b]
        if op == "Mul" and isinstance(a, str) and isinstance(b, int) and 0 <= b <= _FOLD_CHARS:
            return [a * b]
        if op == "Mul" and isinstance(b, str) and isinstance(a, int) and 0 <= a <= _FOLD_CHARS:
            return [b * a]
        if op == "Mod" and isinstance(a, str) and not _WIDE_PERCENT.search(a):
            return [a % b]
    except (TypeError, ValueError, KeyError):
        return []
    return []


def _slice(base: Any, start: Any, stop: Any, step: Any) -> list[Any]:
    if not isinstance(base, (str, tuple)):
        return []
    if not all(v is None or isinstance(v, int) for v in (start, stop, step)) or step == 0:
        return []
    return [base[start:stop:step]]


def _index(base: Any, key: Any) -> list[Any]:
    if isinstance(base, (str, tuple)) and isinstance(key, int) and -len(base) <= key < len(base):
        return [base[key]]
    return []


def _filter(name: str, base: Any, args: list[Any]) -> list[Any]:
    try:
        if name == "join" and isinstance(base, (tuple, str)):
            sep = args[0] if args and isinstance(args[0], str) else ""
            return [sep.join(str(x) for x in base)]
        if name == "format" and isinstance(base, str) and not _WIDE_PERCENT.search(base):
            return [base % tuple(args)]
        if name == "reverse" and isinstance(base, (str, tuple)):
            return [base[::-1]]
        if name in ("lower", "upper", "title", "capitalize") and isinstance(base, str):
            return [getattr(base, name)()]
        if name == "trim" and isinstance(base, str):
            return [base.strip()]
        if name in ("string", "e", "safe", "escape") and isinstance(base, (str, int)):
            return [str(base)]
        if name == "replace" and isinstance(base, str) and len(args) >= 2:
            return [base.replace(str(args[0]), str(args[1]))]
        if name in ("first", "last") and isinstance(base, (str, tuple)) and base:
            return [base[0] if name == "first" else base[-1]]
        if name == "list" and isinstance(base, (str, tuple)):
            return [tuple(base)]
    except (TypeError, ValueError, KeyError, IndexError):
        return []
    return []


def _method(name: str, base: Any, args: list[Any]) -> list[Any]:
    try:
        if name == "join" and isinstance(base, str) and args and isinstance(args[0], (tuple, str)):
            return [base.join(str(x) for x in args[0])]
        if name == "format" and isinstance(base, str):
            parsed = [(f, spec) for _, f, spec, _ in string.Formatter().parse(base) if f is not None]
            if any("." in f or "[" in f or spec for f, spec in parsed):
                return []
            return [base.format(*[a for a in args if isinstance(a, (str, int))])]
        if name == "replace" and isinstance(base, str) and len(args) >= 2:
            return [base.replace(str(args[0]), str(args[1]))]
        if name in ("lower", "upper", "strip", "title", "capitalize", "swapcase") and isinstance(base, str):
            return [getattr(base, name)()]
    except (TypeError, ValueError, KeyError, IndexError):
        return []
    return []
