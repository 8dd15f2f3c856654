"""Shell skill code through the tree-sitter bash grammar.

Commands are read from the syntax tree: the program (after ``sudo``/``env``
prefixes), its literal words, the redirections, the pipeline it sits in and
the command substitutions inside it. A file counts as unparseable only when
error nodes cover more than a twentieth of it (tree-sitter recovers from
small errors, and a few odd lines should not hide the rest from analysis).
"""

from __future__ import annotations

import re
from typing import Any

from gate.formats.skillcode import CodeReport, error_share, rules

MAX_NODES = 400_000
MAX_DEPTH = 400
ERROR_SHARE = 0.05
_DECODE = re.compile(
    r"\bbase64\s+(?:-d|--decode|-D)\b|\bxxd\s+-r\b|\bopenssl\s+(?:enc|base64)\b.*-d\b|\brev\b|\bgunzip\b|\bzcat\b"
)
_parser: Any = None


def _get_parser() -> Any:
    global _parser
    if _parser is None:
        import tree_sitter
        import tree_sitter_bash

        _parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
    return _parser


def _word(node: Any) -> str:
    text: str = node.text.decode("utf-8", "replace")
    if node.type in ("string", "raw_string") and len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


class _Analyser:
    def __init__(self, text: str, path: str, report: CodeReport) -> None:
        self.text = text
        self.path = path
        self.report = report
        self.hosts: set[str] = set()
        self.env: set[str] = set()
        self.assigned: set[str] = set()

    def add(self, code: str, check: str, severity: str, detail: str, line: int) -> None:
        self.report.add(code, f"shell.{check}", severity, f"{self.path}:{line}: {detail}", self.path, line)

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
                line = node.start_point[0] + 1
                text = node.text.decode("utf-8", "replace")
                if not (line == 1 and text.startswith("#!")):
                    self.report.comment(line, text.lstrip("#").strip())
            elif kind == "command":
                self.command(node)
            elif kind == "pipeline":
                self.pipeline(node)
            elif kind == "variable_assignment":
                name = node.child_by_field_name("name")
                if name is not None:
                    self.assigned.add(name.text.decode("utf-8", "replace"))
            elif kind in ("simple_expansion", "expansion"):
                for child in node.children:
                    if child.type == "variable_name":
                        self.env.add(child.text.decode("utf-8", "replace"))
            elif kind == "file_redirect":
                self.redirect(node)
            elif kind == "process_substitution":
                inner = node.text.decode("utf-8", "replace")
                if re.search(r"\b(?:curl|wget)\b", inner):
                    parent = node.parent
                    program = (
                        self.program(parent)[0] if parent is not None and parent.type == "command" else ""
                    )
                    if program in rules.INTERPRETERS or program in ("source", "."):
                        self.add(
                            "skill_download_execute",
                            "process_substitution",
                            "critical",
                            f"{program} runs downloaded code: "
                            f"{parent.text.decode('utf-8', 'replace')[:120]!r}",
                            node.start_point[0] + 1,
                        )
            for child in node.children:
                stack.append((child, depth + 1))
        if "/dev/tcp/" in self.text or "/dev/udp/" in self.text:
            line = self.text[: max(self.text.find("/dev/tcp/"), self.text.find("/dev/udp/"))].count("\n") + 1
            self.add(
                "skill_reverse_shell",
                "dev_tcp",
                "critical",
                "opens a raw socket through /dev/tcp or /dev/udp",
                line,
            )
        if re.search(r"\bmkfifo\b", self.text) and re.search(r"\b(?:nc|ncat|netcat|socat)\b", self.text):
            self.add(
                "skill_reverse_shell",
                "fifo_netcat",
                "critical",
                "a FIFO wired to netcat (a classic reverse shell)",
                1,
            )
        match = rules.SECRET_PATH.search(self.text)
        if match:
            line = self.text[: match.start()].count("\n") + 1
            self.add(
                "skill_secret_access",
                "secret_path",
                "critical",
                f"names secret material {match.group(0)!r}",
                line,
            )
        for env in (
            "security find-generic-password",
            "security find-internet-password",
            "security dump-keychain",
        ):
            if env in self.text:
                self.add("skill_secret_access", "keychain", "critical", f"reads the keychain ({env})", 1)
        if "network" in self.report.capabilities:
            self.hosts |= rules.hosts_in(self.text)

    def program(self, node: Any) -> tuple[str, list[str]]:
        """(program, literal words) of a command, past sudo/env/command/exec/nohup prefixes."""
        name = node.child_by_field_name("name")
        words = [
            _word(c)
            for c in node.children
            if c.type in ("word", "string", "raw_string", "concatenation", "number")
        ]
        program = _word(name).rsplit("/", 1)[-1] if name is not None else ""
        args = words
        line = node.start_point[0] + 1
        while (
            program in ("sudo", "doas", "env", "command", "exec", "nohup", "nice", "time", "xargs", "timeout")
            and args
        ):
            if program in rules.PRIVILEGE_PROGRAMS:
                self.add(
                    "skill_privilege",
                    "privileged_program",
                    "high",
                    f"runs {program} {' '.join(args)[:80]}",
                    line,
                )
            rest = [a for a in args if not a.startswith("-") and "=" not in a]
            if program == "timeout" and rest:
                rest = rest[1:]
            if not rest:
                break
            program = rest[0].rsplit("/", 1)[-1]
            args = args[args.index(rest[0]) + 1 :]
        return program, args

    def command(self, node: Any) -> None:
        line = node.start_point[0] + 1
        raw_name = node.child_by_field_name("name")
        first = _word(raw_name).rsplit("/", 1)[-1] if raw_name is not None else ""
        program, args = self.program(node)
        text = node.text.decode("utf-8", "replace")
        if first in rules.PRIVILEGE_PROGRAMS and first not in ("sudo", "doas"):
            self.add("skill_privilege", "privileged_program", "high", f"runs {first}", line)
        if first in ("sudo", "doas") and not args:
            self.add("skill_privilege", "privileged_program", "high", f"runs {first}", line)
        if program in rules.NETWORK_PROGRAMS or (program == "git" and args and args[0] in rules.GIT_NETWORK):
            self.report.uses("network", f"{program} line {line}")
        if program in ("nc", "ncat", "netcat") and any(
            a in ("-e", "-c") or a.startswith(("-e", "-c")) for a in args
        ):
            self.add(
                "skill_reverse_shell",
                "netcat_exec",
                "critical",
                f"{program} hands a program to a socket",
                line,
            )
        if program == "socat" and re.search(r"\bexec:", text, re.I):
            self.add(
                "skill_reverse_shell", "socat_exec", "critical", "socat hands a program to a socket", line
            )
        if program in ("eval", "exec", "nohup", "xargs", "sh", "bash", "zsh", "source", "."):
            self.report.uses("process", f"{program} line {line}")
        if program == "eval" or (program in rules.SHELLS and "-c" in args):
            if _DECODE.search(text):
                self.add(
                    "skill_obfuscated_exec",
                    "decoded_eval",
                    "critical",
                    f"runs decoded code: {text[:120]!r}",
                    line,
                )
            elif re.search(r"\$\(\s*(?:curl|wget)\b|`\s*(?:curl|wget)\b", text):
                self.add(
                    "skill_download_execute",
                    "eval_download",
                    "critical",
                    f"runs downloaded code: {text[:120]!r}",
                    line,
                )
        if program == "chmod" and args and rules.chmod_is_privileged(args[0]):
            self.add("skill_privilege", "setuid", "high", f"chmod {args[0]} sets setuid/setgid bits", line)
        if program == "chown" and args and args[0].split(":")[0] == "root":
            self.add("skill_privilege", "chown_root", "high", "hands files to root", line)
        if program == "crontab" and "-l" not in args and args:
            self.add("skill_persistence", "crontab", "high", f"installs a crontab ({text[:80]!r})", line)
        if program == "systemctl" and "enable" in args:
            self.add("skill_persistence", "systemd_enable", "high", "enables a systemd service", line)
        if program in ("launchctl",) and "load" in args:
            self.add("skill_persistence", "launchd", "high", "loads a launch agent", line)
        if program in (
            "cp",
            "mv",
            "tee",
            "install",
            "ln",
            "dd",
            "rm",
            "mkdir",
            "touch",
            "rsync",
            "truncate",
        ) or (program == "sed" and any(a.startswith("-i") for a in args)):
            self.report.uses("filesystem_write", f"{program} line {line}")
            targets = [a for a in args if not a.startswith("-")]
            if program in ("cp", "mv", "install", "ln") and targets:
                targets = targets[-1:]
            if program == "dd":
                targets = [a[3:] for a in args if a.startswith("of=")]
            for target in targets[:32]:
                problem = rules.write_target_problem(target)
                if problem and not (program == "tee" and target in ("-a",)):
                    code, severity, why = problem
                    if program == "rm" and severity != "critical" and code == "skill_write_outside":
                        why = why.replace("writes", "deletes")
                    self.add(code, "write_target", severity, why, line)

    def pipeline(self, node: Any) -> None:
        commands = [c for c in node.children if c.type == "command"]
        programs = [self.program(c)[0] for c in commands]
        line = node.start_point[0] + 1
        text = node.text.decode("utf-8", "replace")
        for i, program in enumerate(programs[:-1]):
            later = programs[i + 1 :]
            if program in ("curl", "wget", "fetch") and any(p in rules.INTERPRETERS for p in later):
                self.add(
                    "skill_download_execute",
                    "pipe_to_interpreter",
                    "critical",
                    f"pipes a download into an interpreter: {text[:120]!r}",
                    line,
                )
                break
            if _DECODE.search(commands[i].text.decode("utf-8", "replace")) and any(
                p in rules.INTERPRETERS for p in later
            ):
                self.add(
                    "skill_obfuscated_exec",
                    "decode_to_interpreter",
                    "critical",
                    f"pipes decoded data into an interpreter: {text[:120]!r}",
                    line,
                )
                break
            if program in ("env", "printenv", "set", "export") and any(
                p in rules.NETWORK_PROGRAMS for p in later
            ):
                self.add(
                    "skill_secret_access",
                    "env_to_network",
                    "critical",
                    f"sends the environment over the network: {text[:120]!r}",
                    line,
                )
                break

    def redirect(self, node: Any) -> None:
        targets = [c for c in node.children if c.type in ("word", "string", "raw_string", "concatenation")]
        if not targets:
            return
        operator = node.children[0].text.decode("utf-8", "replace") if node.children else ""
        if operator.startswith("<") and operator not in ("<>",):
            return
        target = _word(targets[0])
        if target.startswith("&") or target.isdigit():
            return
        line = node.start_point[0] + 1
        if not target.startswith("/dev/"):
            self.report.uses("filesystem_write", f"redirect to {target[:80]} line {line}")
        problem = rules.write_target_problem(target)
        if problem:
            code, severity, why = problem
            self.add(code, "redirect_target", severity, why, line)


def analyse(text: str, path: str, report: CodeReport) -> CodeReport:
    """Analyse shell source *text*."""
    tree = _get_parser().parse(text.encode("utf-8"))
    share = error_share(tree.root_node, MAX_NODES)
    if share > ERROR_SHARE:
        report.parse_error = f"{share:.0%} of the file does not parse as shell"
        report.add(
            "skill_unparseable", "shell.syntax_error", "high", f"{path}: {report.parse_error}", path, 0
        )
    analyser = _Analyser(text, path, report)
    analyser.run(tree.root_node)
    env = {
        v
        for v in analyser.env
        if v not in rules.STANDARD_ENV and v not in analyser.assigned and not v.isdigit()
    }
    for name in sorted(env)[:20]:
        report.uses("env", f"${name}")
    return report.finish(analyser.hosts, env)
