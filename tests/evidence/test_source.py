"""gate/evidence/source.py: URLs parsed so that look-alikes never match an allowlist prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.errors import InputError
from gate.evidence.source import allowlist_entry, collect_source, load_allowlist, parse_url


@pytest.mark.parametrize(
    ("url", "host", "problem"),
    [
        ("https://huggingface.co@evil.example/", "evil.example", "user info"),
        ("https://user:pw@huggingface.co/x", "huggingface.co", "user info"),
        ("https://huggingface.co/org/../../evil/x", "huggingface.co", "dot segment"),
        ("https://huggingface.co/org/%2e%2e/evil", "huggingface.co", "dot segment"),
        ("https://huggingface.co/org/%2E./evil", "huggingface.co", "dot segment"),
        ("https://huggingface.co/org%2fevil", "huggingface.co", "percent-encoded slash"),
        ("https://huggingface.co\\@evil.example/", "evil.example", "backslash"),
        ("https://h\u0585ggingface.co/org", "xn--hggingface-", "mixes Unicode scripts"),
        ("https://huggingface.co/a b", "huggingface.co", "control character or space"),
    ],
)
def test_ambiguous_urls_are_flagged(url: str, host: str, problem: str) -> None:
    parsed = parse_url(url)
    assert parsed["host"].startswith(host)
    assert any(problem in p for p in parsed["problems"]), parsed


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://HuggingFace.CO/org/m", ("https", "huggingface.co", 443, "/org/m")),
        ("https://huggingface.co./org", ("https", "huggingface.co", 443, "/org")),
        ("https://huggingface.co:8443/org", ("https", "huggingface.co", 8443, "/org")),
        ("https://huggingface.co", ("https", "huggingface.co", 443, "/")),
        ("https://huggingface.co/%6Frg", ("https", "huggingface.co", 443, "/org")),
        ("http://huggingface.co/org", ("http", "huggingface.co", 80, "/org")),
        ("https://b\u00fccher.example/x", ("https", "xn--bcher-kva.example", 443, "/x")),
    ],
)
def test_canonical_parts(url: str, expected: tuple[str, str, int, str]) -> None:
    parsed = parse_url(url)
    assert (parsed["scheme"], parsed["host"], parsed["port"], parsed["path"]) == expected
    assert parsed["problems"] == []


def test_lookalike_suffix_host_is_another_host() -> None:
    assert parse_url("https://huggingface.co.evil.example/org")["host"] == "huggingface.co.evil.example"


def test_unparseable_port() -> None:
    assert parse_url("https://huggingface.co:99999/")["problems"]


def test_allowlist_entry_must_be_https_and_plain() -> None:
    assert "error" not in allowlist_entry("HF", "https://huggingface.co/")
    assert "not https" in allowlist_entry("x", "http://huggingface.co/")["error"]
    assert "query" in allowlist_entry("x", "https://huggingface.co/?a=1")["error"]


def test_local_import_is_recorded() -> None:
    section = collect_source(None, None, [], "profile p")
    assert section["kind"] == "local-import"
    assert "url" not in section


def test_allowlist_file(tmp_path: Path) -> None:
    path = tmp_path / "sources.allowlist.yaml"
    path.write_text('version: 1\nmodels:\n  - name: "HF"\n    url_prefix: "https://huggingface.co/"\n')
    entries, digest = load_allowlist(str(path))
    assert entries == [{"name": "HF", "url_prefix": "https://huggingface.co/"}]
    assert len(digest) == 64
    path.write_text("models: [{name: x}]\n")
    with pytest.raises(InputError, match="url_prefix"):
        load_allowlist(str(path))
