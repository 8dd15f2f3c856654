"""JavaScript skill code through the tree-sitter JavaScript grammar.

Modules are tracked by ``require`` and ``import`` (bindings and destructured
names), so ``cp.exec``, ``exec`` from ``child_process`` and
``require("child_process").spawn`` all count as process spawns. String
arguments are folded from literals, template strings (their constant parts),
``+`` concatenations and ``path.join(os.homedir(), ...)``.
"""

from __future__ import annotations

import re
from typing import Any

from gate.formats.skillcode import CodeReport, error_share, rules

MAX_NODES = 400_000
MAX_DEPTH = 600
MAX_FOLD_DEPTH = 24
ERROR_SHARE = 0.05
_PROCESS = {"exec", "execSync", "spawn", "spawnSync", "execFile", "execFileSync", "fork"}
_FS_WRITE = {
    "writeFile",
    "writeFileSync",
    "appendFile",
    "appendFileSync",
    "createWriteStream",
    "rm",
    "rmSync",
    "unlink",
    "unlinkSync",
    "rename",
    "renameSync",
    "copyFile",
    "copyFileSync",
    "mkdir",
    "mkdirSync",
    "rmdir",
    "rmdirSync",
    "symlink",
    "symlinkSync",
    "chmod",
    "chmodSync",
    "cp",
    "cpSync",
    "truncate",
    "truncateSync",
}
_FS_READ = {"readFile", "readFileSync", "createReadStream", "readdir", "readdirSync", "open", "openSync"}
_DECODERS = re.compile(
    r"\batob\b|base64|fromCharCode|unescape|decodeURIComponent|\.reverse\(\)|\bBuffer\.from\b"
)
_parser: Any = None


def _get_parser() -> Any:
    global _parser
    if _parser is None:
        import tree_sitter
        import tree_sitter_javascript

        _parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language()))
    return _parser


def _text(node: Any) -> str:
    return str(node.text.decode("utf-8", "replace"))


class _Analyser:
    def __init__(self, text: str, path: str, report: CodeReport) -> None:
        self.text = text
        self.path = path
        self.report = report
        self.bindings: dict[str, str] = {}
        self.modules: set[str] = set()
        self.hosts: set[str] = set()
        self.env: set[str] = set()
        self.flags: set[str] = set()
        self.calls: list[Any] = []

    def add(self, code: str, check: str, severity: str, detail: str, line: int) -> None:
        self.report.add(
            code, f"javascript.{check}", severity, f"{self.path}:{line}: {detail}", self.path, line
        )

    def fold(self, node: Any, depth: int = 0) -> str | None:
        """The string value of *node* when it is built from constants ({} for substitutions)."""
        if node is None or depth > MAX_FOLD_DEPTH:
            return None
        kind = node.type
        if kind == "string":
            return "".join(
                _text(c) for c in node.children if c.type in ("string_fragment", "escape_sequence")
            )
        if kind == "template_string":
            parts = []
            for c in node.children:
                if c.type == "string_fragment":
                    parts.append(_text(c))
                elif c.type == "template_substitution":
                    parts.append("{}")
            return "".join(parts)
        operator = node.child_by_field_name("operator") if kind == "binary_expression" else None
        if operator is not None and _text(operator) == "+":
            left = self.fold(node.child_by_field_name("left"), depth + 1)
            right = self.fold(node.child_by_field_name("right"), depth + 1)
            return left + right if left is not None and right is not None else None
        if kind == "parenthesized_expression" and node.named_child_count == 1:
            return self.fold(node.named_children[0], depth + 1)
        if kind == "call_expression":
            callee = _text(node.child_by_field_name("function") or node)
            args = node.child_by_field_name("arguments")
            values = [self.fold(a, depth + 1) for a in (args.named_children if args is not None else [])]
            if callee.endswith("homedir") and not values:
                return "~"
            if (
                callee.endswith(("path.join", "path.resolve", "path.posix.join"))
                and values
                and all(v is not None for v in values)
            ):
                return "/".join(v.rstrip("/") for v in values if v is not None)
        if kind == "member_expression" and _text(node) in ("process.env.HOME", "os.homedir"):
            return "~"
        return None

    def run(self, root: Any) -> None:
        stack: list[tuple[Any, int]] = [(root, 0)]
        count = 0
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > MAX_NODES or depth > MAX_DEPTH:
                self.add(
                    "skill_limits_exceeded",
                    "too_large",
                    "high",
                    "syntax tree over gate's bounds; not fully analysed",
                    0,
                )
                break
            kind = node.type
            if kind == "comment":
                body = _text(node)
                self.report.comment(node.start_point[0] + 1, body.strip("/*! \n"))
            elif kind == "import_statement":
                source = node.child_by_field_name("source")
                module = self.fold(source) if source is not None else None
                if module:
                    self.module(module, node.start_point[0] + 1)
                    for ident in self.identifiers(node):
                        self.bindings[ident] = module
            elif kind == "variable_declarator":
                value = node.child_by_field_name("value")
                module = self.required(value)
                if module:
                    self.module(module, node.start_point[0] + 1)
                    name = node.child_by_field_name("name")
                    if name is not None:
                        for ident in self.identifiers(name) if name.type != "identifier" else [_text(name)]:
                            self.bindings[ident] = module
            elif kind in ("call_expression", "new_expression"):
                self.calls.append(node)
                module = self.required(node)
                if module:
                    self.module(module, node.start_point[0] + 1)
            elif kind == "member_expression":
                self.env_read(node)
            elif kind == "subscript_expression":
                obj = node.child_by_field_name("object")
                if obj is not None and _text(obj) == "process.env":
                    key = self.fold(node.child_by_field_name("index"))
                    self.env.add(key or "*")
                    self.report.uses("env", f"process.env line {node.start_point[0] + 1}")
            elif kind in ("string", "template_string"):
                value = self.fold(node)
                if value:
                    self.literal(value, node.start_point[0] + 1)
            for child in node.children:
                stack.append((child, depth + 1))
        for call in self.calls:
            self.call(call)
        self.combinations()

    def identifiers(self, node: Any) -> list[str]:
        out: list[str] = []
        stack = [node]
        while stack and len(out) < 64:
            n = stack.pop()
            if n.type in ("identifier", "shorthand_property_identifier_pattern", "property_identifier"):
                out.append(_text(n))
            stack.extend(n.children)
        return out

    def required(self, node: Any) -> str | None:
        """The module of ``require("m")``, ``await import("m")`` or ``require("m").x``."""
        while node is not None and node.type in ("member_expression", "await_expression"):
            node = node.child_by_field_name("object") or (
                node.named_children[0] if node.named_child_count else None
            )
        if node is None or node.type != "call_expression":
            return None
        function = node.child_by_field_name("function")
        if function is None or _text(function) not in ("require", "import"):
            return None
        args = node.child_by_field_name("arguments")
        if args is None or not args.named_children:
            return None
        return self.fold(args.named_children[0])

    def module(self, name: str, line: int) -> None:
        self.modules.add(name)
        base = name.removeprefix("node:")
        if name in rules.JS_NETWORK_MODULES or base in rules.JS_NETWORK_MODULES:
            self.report.uses("network", f"requires {name} line {line}")
            self.flags.add("network")
            if base in ("net", "tls", "dgram"):
                self.flags.add("socket")
        if any(name == s or name.startswith(s + "/") for s in rules.JS_SDKS):
            self.report.uses("external_api", f"requires {name} line {line}")
        if base == "child_process":
            self.report.uses("process", f"requires {name} line {line}")

    def env_read(self, node: Any) -> None:
        obj = node.child_by_field_name("object")
        prop = node.child_by_field_name("property")
        if obj is not None and prop is not None and _text(obj) == "process.env":
            self.env.add(_text(prop))
            self.report.uses("env", f"process.env.{_text(prop)} line {node.start_point[0] + 1}")

    def literal(self, value: str, line: int) -> None:
        if "://" in value:
            self.hosts |= rules.hosts_in(value)
        match = rules.SECRET_PATH.search(value)
        if match:
            self.add(
                "skill_secret_access",
                "secret_literal",
                "critical",
                f"names secret material {value[:120]!r}",
                line,
            )
        if "/dev/tcp/" in value or "/dev/udp/" in value:
            self.add("skill_reverse_shell", "dev_tcp", "critical", f"string uses {value[:120]!r}", line)

    def callee(self, node: Any) -> tuple[str, str, str]:
        """(full callee text, last name, module the callee's root binding came from)."""
        function = node.child_by_field_name("function") or node.child_by_field_name("constructor")
        if function is None:
            return "", "", ""
        full = _text(function)
        last = full.rsplit(".", 1)[-1]
        root = full.split(".", 1)[0].split("(", 1)[0]
        module = self.bindings.get(root, "")
        if not module and function.type == "member_expression":
            module = self.required(function.child_by_field_name("object")) or ""
        return full, last, module

    def call(self, node: Any) -> None:
        full, last, module = self.callee(node)
        line = node.start_point[0] + 1
        args = node.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and args.named_children else None
        base = module.removeprefix("node:")
        if (
            (node.type == "new_expression" and last == "Function")
            or (
                node.type == "call_expression"
                and full in ("eval", "Function", "window.eval", "globalThis.eval")
            )
            or (base == "vm" and last.startswith(("runIn", "compileFunction", "Script")))
            or (
                full in ("setTimeout", "setInterval")
                and first is not None
                and first.type in ("string", "template_string", "binary_expression")
            )
        ):
            self.exec(full, first, line)
        if base == "child_process" and last in _PROCESS:
            self.report.uses("process", f"{full} line {line}")
            self.flags.add("process")
            command = self.fold(first) if first is not None else None
            if command:
                program = command.split()[0].rsplit("/", 1)[-1] if command.split() else ""
                if program in rules.SHELLS or program in ("cmd", "cmd.exe", "powershell"):
                    self.flags.add("spawn_shell")
                argv = self.argv(args)
                if last.startswith("exec") and not last.startswith("execFile"):
                    self.shell(command, line)
                elif argv is not None and program in rules.SHELLS and "-c" in argv[:-1]:
                    self.shell(argv[argv.index("-c") + 1], line)  # execFile("sh", ["-c", SCRIPT])
                elif argv is not None:
                    import shlex

                    self.shell(" ".join(shlex.quote(w) for w in [command, *argv]), line)
                elif program in rules.PRIVILEGE_PROGRAMS:
                    self.add("skill_privilege", "privileged_program", "high", f"runs {program}", line)
            elif first is not None:
                self.flags.add("computed_command")
        if full in ("fetch",) or (
            base in ("http", "https", "axios", "node-fetch", "undici", "got")
            and last
            in (
                "get",
                "request",
                "fetch",
                "post",
                "default",
                "axios",
                "got",
                "undici",
            )
        ):
            self.report.uses("network", f"{full} line {line}")
            self.flags.update(("network", "download"))
        if base in ("net", "tls") and last in ("connect", "createConnection", "Socket"):
            self.flags.add("socket")
        if full in ("JSON.stringify",) and first is not None and _text(first) == "process.env":
            self.flags.add("env_dump")
        if full.endswith(("process.setuid", "process.setgid", "process.seteuid", "process.setegid")):
            self.add("skill_privilege", "uid_change", "high", f"{full}() changes the process's user", line)
        if base in ("fs", "fs/promises") or full.startswith(("fs.", "fsp.", "fs.promises.")):
            if last in _FS_WRITE:
                self.report.uses("filesystem_write", f"{full} line {line}")
                target = self.fold(
                    args.named_children[-1]
                    if last
                    in (
                        "rename",
                        "renameSync",
                        "copyFile",
                        "copyFileSync",
                        "symlink",
                        "symlinkSync",
                        "cp",
                        "cpSync",
                    )
                    and args is not None
                    and args.named_children
                    else first
                )
                if target:
                    problem = rules.write_target_problem(target)
                    if problem:
                        code, severity, why = problem
                        self.add(code, "write_target", severity, why, line)
                    if last.startswith("chmod") and args is not None and len(args.named_children) > 1:
                        mode = _text(args.named_children[1])
                        if re.fullmatch(r"0o?[2467][0-7]{3}", mode):
                            self.add(
                                "skill_privilege",
                                "setuid",
                                "high",
                                f"chmod {mode} sets setuid/setgid bits",
                                line,
                            )
            elif last in _FS_READ:
                self.report.uses("filesystem_read", f"{full} line {line}")

    def exec(self, name: str, arg: Any, line: int) -> None:
        if arg is None:
            return
        if arg.type == "string":
            self.add(
                "skill_obfuscated_exec", "exec_literal", "medium", f"{name}() of a constant string", line
            )
            return
        text = _text(arg)
        decoded = bool(_DECODERS.search(text))
        severity = "critical" if decoded or arg.type in ("binary_expression", "template_string") else "high"
        how = "decoded data" if decoded else "a computed value"
        self.add("skill_obfuscated_exec", "dynamic_exec", severity, f"{name}() runs {how}", line)
        self.flags.add("dynamic_exec")

    def argv(self, args: Any) -> list[str] | None:
        """The literal argument array of execFile/spawn (``["rev-parse", "HEAD"]``), or None."""
        if args is None or len(args.named_children) < 2 or args.named_children[1].type != "array":
            return [] if args is not None and len(args.named_children) == 1 else None
        words = [self.fold(c) for c in args.named_children[1].named_children[:200]]
        return None if any(w is None for w in words) else [str(w) for w in words]

    def shell(self, command: str, line: int) -> None:
        from gate.formats.skillcode import shell

        inner = shell.analyse(command, self.path, CodeReport("shell"))
        for finding in inner.findings:
            if finding.code in ("skill_unparseable", "skill_limits_exceeded"):
                continue
            self.report.add(
                finding.code,
                finding.check,
                finding.severity,
                f"{self.path}:{line}: shell command {command[:120]!r}: {finding.detail.split(': ', 1)[-1]}",
                self.path,
                line,
            )
        for kind, evidence in inner.capabilities.items():
            for item in evidence:
                self.report.uses(kind, f"line {line}: {item}")

    def combinations(self) -> None:
        if "socket" in self.flags and "spawn_shell" in self.flags:
            self.add(
                "skill_reverse_shell", "socket_shell", "critical", "opens a socket and spawns a shell", 0
            )
        if "download" in self.flags and ("dynamic_exec" in self.flags or "computed_command" in self.flags):
            self.add(
                "skill_download_execute",
                "download_exec",
                "critical",
                "fetches data and executes computed code",
                0,
            )
        if "env_dump" in self.flags and "network" in self.flags:
            self.add(
                "skill_secret_access",
                "env_dump",
                "critical",
                "serialises the whole environment in a file that uses the network",
                0,
            )
        if "network" not in self.report.capabilities:
            self.hosts = set()


def analyse(text: str, path: str, report: CodeReport) -> CodeReport:
    """Analyse JavaScript source *text*."""
    source = text.encode("utf-8")
    if source.startswith(b"#!"):
        source = b"//" + source[2:]
    tree = _get_parser().parse(source)
    share = error_share(tree.root_node, MAX_NODES)
    if share > ERROR_SHARE:
        report.parse_error = f"{share:.0%} of the file does not parse as JavaScript"
        report.add(
            "skill_unparseable", "javascript.syntax_error", "high", f"{path}: {report.parse_error}", path, 0
        )
    analyser = _Analyser(text, path, report)
    analyser.run(tree.root_node)
    return report.finish(analyser.hosts, analyser.env)
