"""Instructions an agent reads: SKILL.md, reference documents, code comments.

A skill's text is a prompt the agent follows with its own permissions, so it
is scanned like code. Each pattern is a regular expression over one
normalised line (Unicode NFKC, case-folded, whitespace collapsed, invisible
characters removed so ``ig\u200bnore`` still reads ``ignore``); lines are
bounded in length and count.

What a security skill legitimately quotes sits in closed fenced blocks, and
the prose rules skip those; hidden Unicode is reported wherever it is, since
the agent reads fenced text too. HTML comments (invisible when rendered) are
prose.

Finding codes (severity in brackets):

- ``skill_hidden_unicode``: Unicode tag characters U+E0000..E007F [critical],
  zero-width characters, bidi embeddings/overrides/isolates and variation
  selectors supplement [high];
- ``skill_prompt_injection``: instruction-override phrasing ("ignore previous
  instructions", "you are now ...", fake system/role markers) [high];
- ``skill_concealment``: "do not tell the user", "silently run", auto-approve
  and permission-bypass phrasing [high];
- ``skill_exfiltration``: sending secrets, credentials, environment or the
  conversation somewhere, and URLs carrying templated secrets [critical];
- ``skill_download_execute``: a downloaded script piped into an interpreter
  [critical];
- ``skill_secret_access``: reading secret files named in the text (``cat
  ~/.ssh/id_rsa``) [high].
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from gate.formats.interface import Finding

MAX_LINES = 200_000
MAX_LINE = 8192
MAX_FINDINGS = 200

_TAGS = re.compile("[\U000e0000-\U000e007f]")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u180e]|(?<!^)\ufeff")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_VS_SUPPLEMENT = re.compile("[\U000e0100-\U000e01ef]")
_INVISIBLE = re.compile(
    "[\u200b-\u200f\u2060-\u2064\u202a-\u202e\u2066-\u2069\ufeff\u00ad\U000e0000-\U000e01ef]"
)

_SECRETS = (
    r"(?:[a-z0-9]+_(?:token|key|secret|password|pat)s?|credentials?|secrets?"
    r"|(?:api|access|auth|bearer|session)[ _-]?(?:keys?|tokens?)|tokens?|passwords?"
    r"|private[ _-]keys?|ssh[ _-]keys?|\.env\b|env(?:ironment)?(?: variables| vars)?|cookies?"
    r"|conversation(?: history)?|chat history|system prompt|keychain|wallet)"
)
_SEND = r"(?:send|upload|post|forward|exfiltrate|transmit|leak|beacon|report back|email|pipe|curl)"

_URL = re.compile(r"https?://[^\s\"'<>()`\]]{1,2048}")
_TEMPLATED = re.compile(
    r"(?:\{\{[^}]{0,80}\}\}|\$\{[^}]{1,80}\}|\$[A-Z_][A-Z0-9_]{2,}|%[A-Z_][A-Z0-9_]{2,}%|<[A-Z_]{3,}>)"
)
_SECRET_NAME = re.compile(r"(?:token|secret|key|passw|cred|cookie|session|auth|env|ssh)", re.I)

_RULES: list[tuple[str, str, str, re.Pattern[str]]] = [
    (
        "skill_prompt_injection",
        "instructions.override",
        "high",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass)\b(?:\s+\w+){0,3}?\s+"
            r"(?:previous|prior|above|earlier|preceding|system|original|safety|all)\s+"
            r"(?:instructions?|prompts?|rules|directions|guidelines|guardrails|policies|messages)"
        ),
    ),
    (
        "skill_prompt_injection",
        "instructions.role_hijack",
        "high",
        re.compile(
            r"\byou are (?:now|no longer)\b.{0,40}\b(?:dan|unrestricted|jailbroken|developer mode|"
            r"without (?:any )?(?:restrictions|limits|rules|filters)|not bound)"
            r"|\b(?:enter|enable|activate)\s+(?:dan|developer|god|jailbreak)\s+mode\b"
            r"|\bnew (?:system )?instructions?\s*:"
            r"|\bsystem\s+override\b"
        ),
    ),
    (
        "skill_prompt_injection",
        "instructions.fake_role_marker",
        "high",
        re.compile(
            r"<\|im_start\|>\s*system|<\|system\|>|\[/?inst\]|<<sys>>|^\s*#{0,3}\s*system\s*(?:prompt|message)?\s*:"
            r"|</?system(?:_prompt)?>|\bbegin (?:new )?system prompt\b"
        ),
    ),
    (
        "skill_concealment",
        "instructions.hide_from_user",
        "high",
        re.compile(
            r"\b(?:do not|don'?t|never|without)\s+"
            r"(?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|notify(?:ing)?|"
            r"alert(?:ing)?|show(?:ing)?|reveal(?:ing)?|ask(?:ing)?|disclos(?:e|ing)|let(?:ting)?)\s+"
            r"(?:\w+\s+){0,2}(?:the\s+)?(?:user|human|operator|developer|owner)s?\b"
            r"|\bhide\s+(?:this|these|it|the\s+\w+)\s+(?:\w+\s+){0,2}from\s+(?:the\s+)?(?:user|human|operator)"
            r"|\b(?:silently|secretly|covertly|quietly|stealthily)\s+(?:run|execute|send|upload|install|download|"
            r"delete|remove|modify|copy|add|post|call|invoke|exfiltrate)\b"
        ),
    ),
    (
        "skill_concealment",
        "instructions.auto_approve",
        "high",
        re.compile(
            r"\bauto[- ]?approve\b|--dangerously-skip-permissions|--yolo\b|\bskip\s+(?:all\s+)?"
            r"(?:permission|confirmation|approval)s?(?:\s+(?:checks?|prompts?|dialogs?))?\b"
            r"|\bbypass\s+(?:the\s+)?(?:permission|approval|confirmation|sandbox)"
            r"|\b(?:without|no need (?:to|for))\s+(?:asking\s+(?:for\s+)?)?"
            r"(?:permission|confirmation|approval)\b"
            r"|\balways (?:approve|allow|accept) (?:all|every|any)\b"
        ),
    ),
    (
        "skill_exfiltration",
        "instructions.send_secrets",
        "critical",
        re.compile(
            r"\b"
            + _SEND
            + r"\b(?:\s+\S+){0,6}?\s+(?:the\s+|all\s+|any\s+|your\s+|their\s+|user'?s?\s+)*"
            + _SECRETS
            + r"\b.{0,120}?(?:\bto\b|https?://|@|webhook)"
        ),
    ),
    (
        "skill_download_execute",
        "instructions.pipe_to_shell",
        "critical",
        re.compile(
            r"\b(?:curl|wget|fetch|iwr|invoke-webrequest)\b[^|\n]{0,300}\|\s*(?:sudo\s+)?"
            r"(?:ba|z|da|k)?sh\b|\b(?:curl|wget)\b[^|\n]{0,300}\|\s*(?:sudo\s+)?(?:python3?|node|perl|ruby)\b"
            r"|\biex\s*\(\s*(?:new-object\s+net\.webclient|iwr|invoke-webrequest)"
            r"|downloadstring\s*\(|\bbash\s+<\(\s*(?:curl|wget)|\bsh\s+-c\s+\"?\$\((?:curl|wget)"
        ),
    ),
    (
        "skill_secret_access",
        "instructions.read_secret_file",
        "high",
        re.compile(
            r"\b(?:cat|read|open|copy|cp|print|include|attach|paste|base64|upload|send|dump|grep)\b[^\n]{0,80}"
            r"(?:~|\$home|/home/\w+|/root)/\.(?:ssh/(?:id_|authorized_keys|known_hosts)|aws/credentials|netrc|"
            r"npmrc|pypirc|docker/config\.json|kube/config|gnupg|config/gcloud|azure)"
            r"|\b(?:cat|read|open|copy|dump)\b[^\n]{0,40}/etc/shadow"
            r"|\b(?:login data|logins\.json|key4\.db|cookies\.sqlite)\b"
            r"|\bsecurity\s+find-(?:generic|internet)-password\b"
        ),
    ),
]


@dataclass
class TextReport:
    """What the instruction scan of one text found."""

    findings: list[Finding] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    """URLs mentioned in prose (bounded)."""
    names: set[str] = field(default_factory=set)
    """Upper-case identifiers mentioned (``GITHUB_TOKEN``): what the text documents."""
    commands: list[tuple[int, str]] = field(default_factory=list)
    """(line, text) of inline code spans and fenced shell lines: what the instructions may run."""


def normalise(line: str) -> str:
    """NFKC, invisible characters removed, case-folded, whitespace collapsed."""
    line = _INVISIBLE.sub("", unicodedata.normalize("NFKC", line))
    return " ".join(line.casefold().split())


_EMOJI = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf"
    "\u2934\u2935\u2b05-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)
_MODIFIERS = "\ufe0f\U0001f3fb-\U0001f3ff"
# An emoji ZWJ sequence (👨‍👩‍👧, 🏳️‍🌈) joins pictographs: the joiner hides nothing.
_EMOJI_ZWJ = re.compile(f"(?<=[{_EMOJI}{_MODIFIERS}])\u200d(?=[{_EMOJI}])")
# A subdivision flag (🏴 + tag letters + cancel tag, e.g. Scotland): tags spelling a region code.
_TAG_FLAG = re.compile("\U0001f3f4[\U000e0061-\U000e007a\U000e0030-\U000e0039]{2,6}\U000e007f")


def _ordinary_emoji(line: str) -> str:
    """*line* without the invisible characters ordinary emoji are made of."""
    if "\u200d" in line:
        line = _EMOJI_ZWJ.sub("", line)
    if "\U0001f3f4" in line:
        line = _TAG_FLAG.sub("\U0001f3f4", line)
    return line


def hidden_unicode(path: str, lines: list[tuple[int, str]], report: TextReport) -> None:
    """Report invisible or direction-changing characters (everywhere, fenced or not).

    Emoji ZWJ sequences and subdivision flags are ordinary emoji, not hidden
    text; a joiner anywhere else, or tag characters that are not a flag, are.
    """
    for number, line in lines:
        line = _ordinary_emoji(line)
        for pattern, check, severity, what in (
            (_TAGS, "unicode.tag_characters", "critical", "Unicode tag characters (invisible text)"),
            (_BIDI, "unicode.bidi_control", "high", "bidirectional control characters"),
            (_ZERO_WIDTH, "unicode.zero_width", "high", "zero-width characters"),
            (
                _VS_SUPPLEMENT,
                "unicode.variation_selectors",
                "high",
                "variation selectors supplement characters",
            ),
        ):
            hits = pattern.findall(line)
            if hits:
                hidden = ""
                if pattern is _TAGS:
                    hidden = "".join(chr(ord(c) - 0xE0000) for c in hits if 0x20 <= ord(c) - 0xE0000 < 0x7F)
                detail = f"{len(hits)} {what} on line {number}"
                if hidden:
                    detail += f", spelling {hidden[:120]!r}"
                _add(report, "skill_hidden_unicode", check, severity, detail, path, number)


def _add(report: TextReport, code: str, check: str, severity: str, detail: str, path: str, line: int) -> None:
    if len(report.findings) >= MAX_FINDINGS:
        return
    report.findings.append(Finding(code, check, severity, detail, member=path, data={"line": line}))


# Words that mark text as an example of an attack (what a security skill quotes), not an instruction.
_ATTACK_CONTEXT = re.compile(
    r"\b(?:attack(?:er|ers|s)?|malicious|payloads?|red flags?|suspicious|injections?|exploits?|threats?"
    r"|backdoors?|malware|phishing|exfiltrat\w*|obfuscat\w*|anti-?patterns?|insecure|unsafe|dangerous"
    r"|vulnerab\w*|never (?:run|execute|use|follow|obey)|do not (?:run|execute|use|follow|obey)"
    r"|don'?t (?:run|execute|use|follow|obey)|what to (?:flag|look for|report)|red-team\w*)\b|\u274c"
)
_EXAMPLE = re.compile(r"\b(?:e\.g\.|for example|for instance|such as|phrases? like|text like|lines? like)")
# A sentence that describes code or text under review, or forbids something, instructs nothing.
_DESCRIBING = re.compile(
    r"\b(?:whether|if (?:the |any |a )?(?:code|script|skill|file|project|package|change|diff|function)"
    r"|(?:code|scripts?|skills?|functions?|calls?|lines?|commands?|packages?|dependenc\w+|anything|nothing)"
    r" (?:that|which)|flag(?:s|ging)?|detect(?:s|ing)?|look(?:s|ing)? for|search(?:es|ing)? for"
    r"|watch(?:es|ing)? for|report(?:s|ing)? (?:any|every|each|it|them|the)|never|do not|don'?t|must not"
    r"|should not|must never|refuse to|warn(?:s|ing)? (?:about|if|when)|such as|e\.g\.)\b"
)
_DESCRIBED_CODES = frozenset({"skill_exfiltration", "skill_secret_access", "skill_download_execute"})
_QUOTES = re.compile(r"\"[^\"]{3,}\"|\u201c[^\u201d]{3,}\u201d|`[^`]{3,}`|'[^']{6,}'")


def _quoted_example(line: str, match: re.Match[str]) -> bool:
    """The match sits in quotes on a line that presents them as an example or an attack."""
    attack = bool(_ATTACK_CONTEXT.search(line))
    if not (attack or _EXAMPLE.search(line)):
        return False
    return any(
        q.start() <= match.start() and match.end() <= q.end() and (attack or q.group(0)[0] in '"\u201c')
        for q in _QUOTES.finditer(line)
    )


def _described(code: str, line: str, start: int) -> bool:
    """A secret or download named in a sentence that describes or forbids, not instructs."""
    if code not in _DESCRIBED_CODES:
        return False
    sentence = re.split(r"[.!?;]\s", line[:start])[-1]
    return bool(_DESCRIBING.search(sentence))


def example_context(lines: list[str]) -> bool:
    """Whether the prose before a fenced block (its lead-in and section heading) presents it as an attack."""
    return any(_ATTACK_CONTEXT.search(normalise(line)) for line in lines)


def scan_prose(path: str, lines: list[tuple[int, str]], report: TextReport, where: str = "") -> None:
    """Run the instruction rules over prose lines (not fenced examples)."""
    for number, raw in lines[:MAX_LINES]:
        line = normalise(raw[:MAX_LINE])
        if not line:
            continue
        for code, check, severity, pattern in _RULES:
            match = pattern.search(line)
            if match and not _quoted_example(line, match) and not _described(code, line, match.start()):
                quoted = match.group(0)[:120]
                _add(report, code, check, severity, f"{where}{quoted!r}", path, number)
        for url in _URL.findall(raw[:MAX_LINE]):
            if len(report.urls) < 1000:
                report.urls.append(url)
            if _TEMPLATED.search(url) and _SECRET_NAME.search(url.split("?", 1)[-1] + url):
                _add(
                    report,
                    "skill_exfiltration",
                    "instructions.templated_secret_url",
                    "critical",
                    f"{where}URL carries a templated value {url[:160]!r}",
                    path,
                    number,
                )
        report.names.update(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", raw[:MAX_LINE]))


_BLOCKQUOTE = re.compile(r"^ {0,3}>")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s")


def _lead_in(prose: dict[int, str], fence_line: int) -> list[str]:
    """The prose introducing the fence opening at *fence_line*: the paragraph before it and its heading."""
    out: list[str] = []
    number = fence_line - 1
    while number > 0 and number in prose and not prose[number].strip():
        number -= 1  # blank lines between the lead-in and the fence
    while number > 0 and number in prose and prose[number].strip() and len(out) < 3:
        out.append(prose[number])
        if _HEADING.match(prose[number]):
            return out
        number -= 1
    while number > 0 and number in prose and fence_line - number < 40:
        if _HEADING.match(prose[number]):
            out.append(prose[number])
            break
        number -= 1
    return out


def scan_text(path: str, text: str, markdown: bool) -> tuple[TextReport, list[tuple[str, int, str]]]:
    """Scan a document; return the report and its runnable fenced blocks (language, line, text).

    For Markdown, closed fences are quotes as far as the prose rules go;
    the fences whose info string names a shell, Python or JavaScript are
    returned so the caller analyses them as the code an agent would run.
    """
    report = TextReport()
    all_lines = list(enumerate(text.split("\n")[:MAX_LINES], start=1))
    hidden_unicode(path, all_lines, report)
    runnable: list[tuple[str, int, str]] = []
    if markdown:
        from gate.formats.skillmd import split_markdown
        from gate.formats.skilltools import inline_commands, shell_lines

        doc = split_markdown(text)
        # Blockquotes are quotations, like fenced blocks: the prose rules skip them.
        prose = [(n, line) for n, line in doc.prose if not _BLOCKQUOTE.match(line)]
        scan_prose(path, prose, report)
        report.commands.extend(inline_commands(prose))
        by_line = dict(doc.prose)
        for fence in doc.fences:
            language = FENCE_LANGUAGES.get(fence.info)
            if language and not example_context(_lead_in(by_line, fence.start - 1)):
                runnable.append((language, fence.start, fence.text))
            if language == "shell" or fence.info in ("console", "shell-session"):
                report.commands.extend(shell_lines(fence.text, fence.start))
            report.names.update(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", fence.text[: 64 * 1024]))
    else:
        scan_prose(path, all_lines, report)
    return report, runnable


FENCE_LANGUAGES = {
    "bash": "shell",
    "sh": "shell",
    "shell": "shell",
    "zsh": "shell",
    "python": "python",
    "py": "python",
    "python3": "python",
    "javascript": "javascript",
    "js": "javascript",
    "node": "javascript",
}
"""Fence info strings whose content is code an agent runs; anything else (``text``,
``console``, ``example``, no info string) is quoted material."""
