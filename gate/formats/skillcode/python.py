"""Python skill code through :mod:`ast` (parsed, never compiled to run).

Names are resolved through the file's imports (``import subprocess as sp``,
``from os import system``), string arguments are folded where they are
built from constants (``"ev" + "al"``, ``Path.home() / ".ssh" / "id_rsa"``,
``os.path.join(...)``, f-strings with constant parts), and literal command
strings handed to a shell are analysed by the shell analyzer too.
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import Any

from gate.formats.skillcode import CodeReport, rules

MAX_NODES = 400_000
MAX_FOLD_DEPTH = 24
MAX_FOLDED = 4096

_PROCESS_CALLS = {
    "os.system",
    "os.popen",
    "os.execv",
    "os.execve",
    "os.execl",
    "os.execlp",
    "os.execvp",
    "os.execvpe",
    "os.execle",
    "os.execlpe",
    "os.spawnl",
    "os.spawnv",
    "os.spawnlp",
    "os.spawnvp",
    "os.posix_spawn",
    "os.posix_spawnp",
    "os.startfile",
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.Popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "pty.spawn",
    "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell",
    "commands.getoutput",
}
_SHELL_STRING_CALLS = {
    "os.system",
    "os.popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell",
    "commands.getoutput",
}
_EXEC_NAMES = {"exec", "eval", "compile", "__import__", "execfile"}
_EXEC_CALLS = {
    "builtins.exec",
    "builtins.eval",
    "builtins.compile",
    "importlib.import_module",
    "marshal.loads",
    "pickle.loads",
    "dill.loads",
    "cloudpickle.loads",
    "types.FunctionType",
    "types.CodeType",
}
_DECODERS = {
    "b64decode",
    "b32decode",
    "b16decode",
    "a85decode",
    "b85decode",
    "urlsafe_b64decode",
    "fromhex",
    "decompress",
    "unhexlify",
    "a2b_base64",
    "a2b_hex",
    "loads",
    "decode",
    "rot13",
    "chr",
    "join",
    "bytes",
    "bytearray",
    "reversed",
}
_DOWNLOADS = {
    "urllib.request.urlopen",
    "urllib.request.urlretrieve",
    "requests.get",
    "requests.post",
    "requests.request",
    "httpx.get",
    "httpx.post",
    "httpx.stream",
    "urllib3.request",
    "urlopen",
    "urlretrieve",
    "wget.download",
}
_WRITE_METHODS = {
    "write_text",
    "write_bytes",
    "touch",
    "mkdir",
    "unlink",
    "rmdir",
    "rename",
    "replace",
    "symlink_to",
    "hardlink_to",
    "chmod",
}
_READ_METHODS = {"read_text", "read_bytes"}
_FS_WRITE_CALLS = {
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "shutil.copytree",
    "shutil.move",
    "shutil.rmtree",
    "os.remove",
    "os.unlink",
    "os.rmdir",
    "os.removedirs",
    "os.rename",
    "os.replace",
    "os.makedirs",
    "os.mkdir",
    "os.symlink",
    "os.link",
    "os.chmod",
    "os.chown",
    "os.truncate",
}
_FS_TARGET_LAST = {
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "shutil.copytree",
    "shutil.move",
    "os.rename",
    "os.replace",
    "os.symlink",
    "os.link",
}
_PRIVILEGE_CALLS = {
    "os.setuid",
    "os.setgid",
    "os.seteuid",
    "os.setegid",
    "os.setreuid",
    "os.setregid",
    "os.setresuid",
    "os.setresgid",
    "os.initgroups",
    "os.setgroups",
}
_HOME = "~"


class _Analyser:
    def __init__(self, text: str, path: str, report: CodeReport) -> None:
        self.text = text
        self.path = path
        self.report = report
        self.aliases: dict[str, str] = {}
        self.hosts: set[str] = set()
        self.env: set[str] = set()
        self.modules: set[str] = set()
        self.strings: list[tuple[int, str]] = []
        self.exec_nodes: list[tuple[int, ast.Call, bool]] = []
        self.flags: set[str] = set()
        self.assigned: dict[str, ast.AST] = {}

    # --- names ---

    def dotted(self, node: ast.AST) -> str:
        parts: list[str] = []
        while isinstance(node, ast.Attribute) and len(parts) < 16:
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            base = self.aliases.get(node.id, node.id)
            return ".".join([base, *reversed(parts)])
        if isinstance(node, ast.Call):
            inner = self.dotted(node.func)
            return ".".join([inner + "()", *reversed(parts)]) if inner else ""
        return ""

    # --- constant folding (bounded) ---

    def fold(self, node: ast.AST | None, depth: int = 0) -> str | None:
        if node is None or depth > MAX_FOLD_DEPTH:
            return None
        value = self._fold(node, depth)
        return value[:MAX_FOLDED] if value is not None else None

    def _fold(self, node: ast.AST, depth: int) -> str | None:
        if isinstance(node, ast.Name) and node.id in self.assigned:
            return self.fold(self.assigned[node.id], depth + 1)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return node.value
            if isinstance(node.value, bytes):
                return node.value.decode("latin-1")
            return None
        if isinstance(node, ast.JoinedStr):
            out = []
            for part in node.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    out.append(part.value)
                else:
                    out.append("{}")
            return "".join(out)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Div)):
            left, right = self.fold(node.left, depth + 1), self.fold(node.right, depth + 1)
            if left is None or right is None:
                return None
            return (
                left + right if isinstance(node.op, ast.Add) else left.rstrip("/") + "/" + right.lstrip("/")
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            text = self.fold(node.left, depth + 1)
            if (
                text is not None
                and isinstance(node.right, ast.Constant)
                and isinstance(node.right.value, int)
            ):
                return text * max(0, min(node.right.value, 64))
            return None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            text = self.fold(node.value, depth + 1)
            step = node.slice.step
            if text is not None and isinstance(step, ast.UnaryOp) and isinstance(step.op, ast.USub):
                return text[::-1]
            return None
        if isinstance(node, ast.Call):
            name = self.dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if name in ("pathlib.Path.home", "Path.home", "os.path.expanduser") and not node.args:
                return _HOME
            if name in (
                "os.path.expanduser",
                "pathlib.Path",
                "Path",
                "os.path.abspath",
                "str",
                "os.fspath",
                "pathlib.PurePath",
                "pathlib.PosixPath",
            ):
                return self.fold(node.args[0], depth + 1) if node.args else ""
            if name in ("os.path.join", "posixpath.join"):
                parts = [self.fold(a, depth + 1) for a in node.args]
                if any(p is None for p in parts):
                    return None
                return "/".join(p.rstrip("/") for p in parts if p is not None)
            if (
                name in ("os.getenv", "os.environ.get")
                and node.args
                and self.fold(node.args[0], depth + 1) == "HOME"
            ):
                return _HOME
            if last == "join" and isinstance(node.func, ast.Attribute) and node.args:
                sep = self.fold(node.func.value, depth + 1)
                arg = node.args[0]
                if sep is not None and isinstance(arg, (ast.List, ast.Tuple)):
                    parts = [self.fold(a, depth + 1) for a in arg.elts[:256]]
                    if all(p is not None for p in parts):
                        return sep.join(p for p in parts if p is not None)
            if last in ("expanduser", "resolve", "absolute", "lower", "strip") and isinstance(
                node.func, ast.Attribute
            ):
                return self.fold(node.func.value, depth + 1)
            return None
        if isinstance(node, ast.Subscript) and self.dotted(node.value) == "os.environ":
            key = self.fold(node.slice, depth + 1)
            return _HOME if key == "HOME" else None
        return None

    # --- the walk ---

    def run(self, tree: ast.AST) -> None:
        docstrings = self._docstrings(tree)
        for count, node in enumerate(ast.walk(tree), start=1):
            if count > MAX_NODES:
                self.report.add(
                    "skill_limits_exceeded",
                    "python.too_many_nodes",
                    "high",
                    f"{self.path}: more than {MAX_NODES} syntax nodes; not fully analysed.",
                    self.path,
                    0,
                )
                break
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        first = alias.name.split(".")[0]
                        self.aliases[first] = first
                    self._module(alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                    self._module(f"{node.module}.{alias.name}", node.lineno)
                self._module(node.module, node.lineno)
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                # One binding per name: a name bound twice is not folded (its value depends on the path).
                name = node.targets[0].id
                self.assigned[name] = ast.Constant(None) if name in self.assigned else node.value
            elif (
                isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            ):
                self.strings.append((node.lineno, node.value[:4096]))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node)
            elif isinstance(node, ast.Subscript) and self.dotted(node.value) == "os.environ":
                key = self.fold(node.slice)
                self.env.add(key if key else "*")
                self.report.uses("env", f"os.environ line {node.lineno}")
        self._strings()
        self._combinations()

    def _docstrings(self, tree: ast.AST) -> set[int]:
        found: set[int] = set()
        for node in ast.walk(tree):
            if (
                isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and node.body
            ):
                first = node.body[0]
                if (
                    isinstance(first, ast.Expr)
                    and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)
                ):
                    found.add(id(first.value))
                    self.report.comment(first.value.lineno, first.value.value)
        return found

    def _module(self, name: str, line: int) -> None:
        self.modules.add(name)
        if any(name == m or name.startswith(m + ".") for m in rules.PYTHON_NETWORK_MODULES):
            self.report.uses("network", f"imports {name} line {line}")
            self.flags.add("network")
        if any(name == m or name.startswith(m + ".") for m in rules.PYTHON_SDKS):
            self.report.uses("external_api", f"imports {name} line {line}")
        if name in ("subprocess", "pty") or name.startswith(("subprocess.", "pty.")):
            self.report.uses("process", f"imports {name} line {line}")

    def _add(self, code: str, check: str, severity: str, detail: str, line: int) -> None:
        self.report.add(code, f"python.{check}", severity, f"{self.path}:{line}: {detail}", self.path, line)

    def _call(self, node: ast.Call) -> None:
        name = self.dotted(node.func)
        last = node.func.attr if isinstance(node.func, ast.Attribute) else name.rsplit(".", 1)[-1]
        line = node.lineno
        if name in _PROCESS_CALLS or (name.startswith("subprocess.") and last[:1].islower()):
            self.report.uses("process", f"{name} line {line}")
            self.flags.add("process")
            self._command(node, name, line)
        if name in _DOWNLOADS or last in ("urlopen", "urlretrieve"):
            self.flags.update(("download", "network"))
            self.report.uses("network", f"{name} line {line}")
            if last == "urlretrieve":
                self.flags.add("download_to_file")
        if last in ("connect", "create_connection") and ("socket" in name or "socket" in self.modules):
            self.flags.add("socket_connect")
        if name in ("os.dup2", "pty.spawn"):
            self.flags.add("dup_or_pty")
        if name in _PRIVILEGE_CALLS:
            self._add(
                "skill_privilege", "uid_change", "high", f"{name}() changes the process's user or group", line
            )
        if name == "os.chmod" and len(node.args) > 1:
            mode = node.args[1]
            if isinstance(mode, ast.Constant) and isinstance(mode.value, int):
                if mode.value & 0o6000:
                    self._add(
                        "skill_privilege",
                        "setuid",
                        "high",
                        f"os.chmod sets setuid/setgid bits ({oct(mode.value)})",
                        line,
                    )
                if mode.value & 0o111:
                    self.flags.add("chmod_exec")
        if last in ("getenv",) or name in (
            "os.environ.get",
            "os.getenv",
            "os.environ.setdefault",
            "os.environ.pop",
        ):
            key = self.fold(node.args[0]) if node.args else None
            self.env.add(key if key else "*")
            self.report.uses("env", f"{name} line {line}")
        if (
            name in ("json.dumps", "str", "dict", "repr", "pickle.dumps")
            and node.args
            and self.dotted(node.args[0])
            in (
                "os.environ",
                "os.environ.copy",
                "os.environ.items",
            )
        ):
            self.flags.add("env_dump")
        if (
            (isinstance(node.func, ast.Name) and node.func.id in _EXEC_NAMES)
            or name in _EXEC_CALLS
            or name.endswith(("builtins.exec", "builtins.eval"))
        ):
            self._exec(node, name or "exec", line)
        if last == "getattr" and len(node.args) > 1:
            target = self.dotted(node.args[0])
            attr = self.fold(node.args[1])
            if target in ("__builtins__", "builtins") or (attr in _EXEC_NAMES):
                self._add(
                    "skill_obfuscated_exec",
                    "getattr_builtin",
                    "critical",
                    f"getattr reaches {attr or 'a computed builtin'} indirectly",
                    line,
                )
        self._files(node, name, last, line)

    def _exec(self, node: ast.Call, name: str, line: int) -> None:
        arg = node.args[0] if node.args else None
        if arg is not None and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if name in ("__import__", "importlib.import_module"):
                return
            self._add(
                "skill_obfuscated_exec", "exec_literal", "medium", f"{name}() of a constant string", line
            )
            return
        decoded = arg is not None and any(
            isinstance(n, ast.Call) and self.dotted(n.func).rsplit(".", 1)[-1] in _DECODERS
            for n in ast.walk(arg)
        )
        folded = self.fold(arg) if arg is not None else None
        if name in ("__import__", "importlib.import_module") and folded and not decoded:
            return
        if name in (
            "marshal.loads",
            "pickle.loads",
            "dill.loads",
            "cloudpickle.loads",
            "types.CodeType",
            "types.FunctionType",
        ):
            self._add(
                "skill_obfuscated_exec", "code_object", "critical", f"{name}() builds code from data", line
            )
            return
        severity = "critical" if decoded or folded is not None else "high"
        how = (
            "decoded data"
            if decoded
            else ("a string built from pieces" if folded is not None else "a computed value")
        )
        self._add("skill_obfuscated_exec", "dynamic_exec", severity, f"{name}() runs {how}", line)
        self.flags.add("dynamic_exec")

    def _command(self, node: ast.Call, name: str, line: int) -> None:
        """Literal commands: the program (argv[0]) and shell strings."""
        arg = node.args[0] if node.args else None
        shell = name in _SHELL_STRING_CALLS or any(
            kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value is True
            for kw in node.keywords
        )
        if isinstance(arg, (ast.List, ast.Tuple)) and arg.elts:
            words = [self.fold(e) for e in arg.elts[:64]]
            program = (words[0] or "").rsplit("/", 1)[-1]
            if program in rules.PRIVILEGE_PROGRAMS:
                self._add("skill_privilege", "privileged_program", "high", f"runs {program}", line)
            if program in rules.NETWORK_PROGRAMS or (
                program == "git" and len(words) > 1 and words[1] in rules.GIT_NETWORK
            ):
                self.report.uses("network", f"runs {program} line {line}")
                for w in words:
                    if w:
                        self.hosts |= rules.hosts_in(w)
            if program in rules.SHELLS:
                self.flags.add("spawn_shell")
                if len(words) > 2 and words[1] == "-c" and words[2]:
                    self._shell(words[2], line)
            if program == "crontab" and "-l" not in words:
                self._add("skill_persistence", "crontab", "high", "installs a crontab", line)
            if program == "systemctl" and "enable" in words:
                self._add("skill_persistence", "systemd_enable", "high", "enables a systemd service", line)
            if program == "chmod" and len(words) > 1 and words[1] and rules.chmod_is_privileged(words[1]):
                self._add("skill_privilege", "setuid", "high", f"chmod {words[1]}", line)
        elif arg is not None:
            text = self.fold(arg)
            if text and shell:
                self._shell(text, line)
            elif text and not shell and text.rsplit("/", 1)[-1] in rules.SHELLS:
                self.flags.add("spawn_shell")

    def _shell(self, command: str, line: int) -> None:
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
        self.hosts |= set(inner.hosts)
        self.env |= set(inner.env_reads)

    def _files(self, node: ast.Call, name: str, last: str, line: int) -> None:
        target: ast.AST | None = None
        write = False
        if name in ("open", "io.open", "builtins.open", "codecs.open") or (
            last == "open" and isinstance(node.func, ast.Attribute)
        ):
            mode_node = (
                node.args[1]
                if len(node.args) > 1
                else next((k.value for k in node.keywords if k.arg == "mode"), None)
            )
            mode = self.fold(mode_node) if mode_node is not None else "r"
            write = mode is None or any(c in mode for c in "wax+")
            if name in ("open", "io.open", "builtins.open", "codecs.open"):
                target = node.args[0] if node.args else None
            else:
                target = node.func.value if isinstance(node.func, ast.Attribute) else None
        elif name in _FS_WRITE_CALLS:
            write = True
            if node.args:
                target = node.args[-1] if name in _FS_TARGET_LAST else node.args[0]
        elif last in _WRITE_METHODS and isinstance(node.func, ast.Attribute) and name not in _FS_WRITE_CALLS:
            write = True
            target = node.func.value
        elif last in _READ_METHODS and isinstance(node.func, ast.Attribute):
            target = node.func.value
        else:
            return
        self.report.uses("filesystem_write" if write else "filesystem_read", f"{name or last} line {line}")
        path = self.fold(target) if target is not None else None
        if path is None:
            return
        if rules.SECRET_PATH.search(path):
            self._add(
                "skill_secret_access",
                "secret_path",
                "critical",
                f"{'writes' if write else 'reads'} {path!r}",
                line,
            )
        if write:
            problem = rules.write_target_problem(path)
            if problem:
                code, severity, why = problem
                self._add(code, "write_target", severity, why, line)

    def _strings(self) -> None:
        reported: set[str] = set()
        for line, value in self.strings:
            self.hosts |= rules.hosts_in(value) if "://" in value else set()
            match = rules.SECRET_PATH.search(value)
            if match and match.group(0) not in reported and len(reported) < 20:
                reported.add(match.group(0))
                self._add(
                    "skill_secret_access",
                    "secret_literal",
                    "critical",
                    f"names secret material {value[:120]!r}",
                    line,
                )
            if "/dev/tcp/" in value or "/dev/udp/" in value:
                self._add("skill_reverse_shell", "dev_tcp", "critical", f"string uses {value[:120]!r}", line)

    def _combinations(self) -> None:
        if "socket_connect" in self.flags and ("dup_or_pty" in self.flags or "spawn_shell" in self.flags):
            self._add(
                "skill_reverse_shell",
                "socket_shell",
                "critical",
                "connects a socket and hands it a shell (dup2 / pty / sh)",
                0,
            )
        if "download" in self.flags and "dynamic_exec" in self.flags:
            self._add(
                "skill_download_execute",
                "download_exec",
                "critical",
                "downloads data and executes computed code",
                0,
            )
        if "download_to_file" in self.flags and ("chmod_exec" in self.flags or "process" in self.flags):
            self._add(
                "skill_download_execute",
                "download_run",
                "critical",
                "downloads a file and makes it executable or runs a program",
                0,
            )
        if "env_dump" in self.flags and "network" in self.flags:
            self._add(
                "skill_secret_access",
                "env_dump",
                "critical",
                "serialises the whole environment in a file that uses the network",
                0,
            )
        if self.report.capabilities.get("network") is None:
            self.hosts = set()


def _comments(text: str, report: CodeReport) -> None:
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                report.comment(token.start[0], token.string.lstrip("#").strip())
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return


def analyse(text: str, path: str, report: CodeReport) -> CodeReport:
    """Analyse Python source *text*."""
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", 0) or 0
        report.parse_error = f"{type(exc).__name__}: {getattr(exc, 'msg', str(exc))}"[:300]
        report.add(
            "skill_unparseable",
            "python.syntax_error",
            "high",
            f"{path}:{line}: does not parse as Python ({report.parse_error})",
            path,
            line,
        )
        return report
    analyser = _Analyser(text, path, report)
    analyser.run(tree)
    _comments(text, report)
    hosts: set[Any] = analyser.hosts
    return report.finish(hosts, analyser.env)
