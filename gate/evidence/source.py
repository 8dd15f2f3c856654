"""Where a model artifact came from: the source URL and the allowlist, parsed alike.

The collector never decides whether a source is allowed. It parses the
source URL and every allowlist prefix into the same canonical parts (scheme,
IDNA host, explicit port, path) and lists anything that makes a URL
ambiguous; the policy compares the parts. Canonical form:

- scheme lower-cased; host IDNA-encoded (UTS 46), lower-cased, one trailing
  dot removed; the port explicit (443 for https, 80 for http);
- path percent-decoded for unreserved characters only; an empty path is "/".

Problems recorded (any one makes the URL unusable for a match): user info
(``https://huggingface.co@evil.example/``), a backslash, dot segments
(``..``, ``.``, also percent-encoded), an encoded ``/`` or ``\\``, a host that
is not valid IDNA or mixes scripts, control characters or spaces, a query
or fragment on an allowlist prefix.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from gate.document import load_config
from gate.errors import InputError

MAX_URL = 4096
MAX_ALLOWLIST_BYTES = 1024 * 1024
MAX_ENTRIES = 1000
DEFAULT_PORTS = {"https": 443, "http": 80}

_UNRESERVED = re.compile(r"%([0-9A-Fa-f]{2})")
_HOST_LABEL = re.compile(r"^[a-z0-9-]{1,63}$")


def _decode_unreserved(path: str, problems: list[str]) -> str:
    def repl(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        if char in "/\\":
            problems.append("percent-encoded slash or backslash in the path")
            return match.group(0).upper()
        if char.isalnum() or char in "-._~":
            return char
        return match.group(0).upper()

    return _UNRESERVED.sub(repl, path)


def _scripts(text: str) -> set[str]:
    """Unicode script families (by character name) of the letters in *text*."""
    found = set()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "UNKNOWN")
            found.add(name.split(" ")[0])
    return found


def _host(raw: str, problems: list[str]) -> str:
    host = raw
    if host.endswith("."):
        host = host[:-1]
    if not host:
        problems.append("no host")
        return ""
    if any(ord(c) < 0x21 or c in "\\%" for c in host):
        problems.append("control character, space, backslash or % in the host")
        return host.lower()
    if not host.isascii():
        if len(_scripts(host)) > 1:
            problems.append("host mixes Unicode scripts")
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            problems.append("host is not valid IDNA")
            return host.lower()
    host = host.lower()
    labels = host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels) and not re.fullmatch(r"\[[0-9a-f:.]+\]", host):
        problems.append("host is not a valid DNS name")
    for label in labels:
        if label.startswith("xn--"):
            try:
                decoded = label.encode("ascii").decode("idna")
            except UnicodeError:
                problems.append(f"label {label} is not valid punycode")
                continue
            if len(_scripts(decoded)) > 1:
                problems.append(f"label {label} ({decoded}) mixes Unicode scripts")
    return host


def parse_url(url: str, *, prefix: bool = False) -> dict[str, Any]:
    """The canonical parts of *url* and the problems that make it ambiguous."""
    problems: list[str] = []
    if len(url) > MAX_URL:
        return {
            "scheme": "",
            "host": "",
            "port": 0,
            "path": "",
            "problems": ["URL longer than 4096 characters"],
        }
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        problems.append("control character or space in the URL")
    if "\\" in url:
        problems.append("backslash in the URL")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        return {"scheme": "", "host": "", "port": 0, "path": "", "problems": [f"unparseable URL: {exc}"]}
    scheme = parts.scheme.lower()
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        problems.append("user info in the URL")
    host = _host(parts.hostname or "", problems)
    if port is None:
        port = DEFAULT_PORTS.get(scheme, 0)
    path = _decode_unreserved(parts.path or "/", problems)
    segments = path.split("/")
    if any(seg in (".", "..") for seg in segments):
        problems.append("dot segment in the path")
    if "//" in path:
        problems.append("empty path segment")
    if prefix and (parts.query or parts.fragment):
        problems.append("an allowlist prefix has a query or fragment")
    return {"scheme": scheme, "host": host, "port": port, "path": path, "problems": problems}


def _read_yaml(path: str) -> Any:
    value, data = load_config(path, MAX_ALLOWLIST_BYTES)
    return value, hashlib.sha256(data).hexdigest()


def load_allowlist(path: str) -> tuple[list[dict[str, Any]], str]:
    """Entries of a ``sources.allowlist.yaml`` (``models: [{name, url_prefix}]``) and its sha256."""
    data, digest = _read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict) or not isinstance(data.get("models", []), list):
        raise InputError(f"{path}: expected a mapping with a models: list")
    entries = data.get("models") or []
    if len(entries) > MAX_ENTRIES:
        raise InputError(f"{path}: more than {MAX_ENTRIES} entries")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("url_prefix"), str):
            raise InputError(f"{path}: models[{i}] needs a url_prefix string")
        out.append({"name": str(entry.get("name", ""))[:256], "url_prefix": entry["url_prefix"]})
    return out, digest


def allowlist_entry(name: str, url_prefix: str) -> dict[str, Any]:
    """One allowlist entry, parsed; an unusable prefix carries an error and never matches."""
    parsed = parse_url(url_prefix, prefix=True)
    entry: dict[str, Any] = {
        "name": name[:256],
        "url_prefix": url_prefix[:MAX_URL],
        "scheme": parsed["scheme"],
        "host": parsed["host"],
        "port": parsed["port"],
        "path": parsed["path"],
    }
    problems = list(parsed["problems"])
    if parsed["scheme"] != "https":
        problems.append("prefix is not https")
    if problems:
        entry["error"] = "; ".join(problems)[:512]
    return entry


def collect_source(
    source_url: str | None,
    revision: str | None,
    allowlist: list[dict[str, Any]],
    origin: str,
    allowlist_sha256: str = "",
) -> dict[str, Any]:
    """The ``evidence.source`` section."""
    section: dict[str, Any]
    if not source_url:
        section = {"kind": "local-import"}
    else:
        parsed = parse_url(source_url)
        parsed["problems"] = [p[:512] for p in parsed["problems"]][:32]
        section = {"kind": "remote", "url": source_url[:MAX_URL], "parsed": parsed}
    if revision:
        section["revision"] = revision[:256]
    listing: dict[str, Any] = {
        "origin": origin[:4096],
        "entries": [allowlist_entry(e.get("name", ""), e["url_prefix"]) for e in allowlist[:MAX_ENTRIES]],
    }
    if allowlist_sha256:
        listing["sha256"] = allowlist_sha256
    section["allowlist"] = listing
    return section
