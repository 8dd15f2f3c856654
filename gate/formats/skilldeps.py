"""Dependency manifests and lockfiles of a skill, read as data (never installed, never run).

Python: requirements files (``-r``/``-c`` includes resolved among the given
files, hashes, index options), ``pyproject.toml`` (PEP 621, Poetry and uv
sources, in-tree build backends), ``setup.py`` (through :mod:`ast`: custom
install commands and module-level code), ``Pipfile``, ``poetry.lock``,
``uv.lock``, ``pip.conf``. JavaScript: ``package.json`` (dependencies,
install-time lifecycle scripts, registries), ``package-lock.json`` /
``npm-shrinkwrap.json`` (v2/v3), ``yarn.lock`` (v1), ``pnpm-lock.yaml``,
``.npmrc``.

Finding codes: ``skill_dependency_denied``, ``skill_dependency_untrusted_source``,
``skill_install_hook``, ``skill_typosquat``, ``skill_lockfile_mismatch``
(high); ``skill_dependency_unpinned`` (medium: a control the trusted tier
judges); ``skill_unparseable`` and ``skill_limits_exceeded`` (high).
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import tomllib

from gate.formats.interface import Finding

MAX_MANIFEST = 4 * 1024 * 1024
MAX_DEPENDENCIES = 10_000
MAX_JSON_DEPTH = 64

_NAMES = re.compile(
    r"(?:^|/)(?:requirements[^/]*\.txt|requirements/[^/]+\.txt|constraints[^/]*\.txt|pyproject\.toml|setup\.py|setup\.cfg"
    r"|Pipfile|Pipfile\.lock|poetry\.lock|uv\.lock|pip\.conf|package\.json|package-lock\.json|npm-shrinkwrap\.json"
    r"|yarn\.lock|pnpm-lock\.yaml|\.npmrc)$"
)
NPM_INSTALL_HOOKS = ("preinstall", "install", "postinstall", "prepare", "preprepare", "postprepare")

POPULAR_PYPI = frozenset(
    [
        "requests",
        "numpy",
        "pandas",
        "urllib3",
        "boto3",
        "botocore",
        "setuptools",
        "six",
        "python-dateutil",
        "pyyaml",
        "certifi",
        "idna",
        "charset-normalizer",
        "typing-extensions",
        "packaging",
        "s3transfer",
        "cryptography",
        "pip",
        "wheel",
        "attrs",
        "jmespath",
        "pyasn1",
        "rsa",
        "google-api-core",
        "protobuf",
        "click",
        "jinja2",
        "markupsafe",
        "pydantic",
        "pytz",
        "cffi",
        "pycparser",
        "platformdirs",
        "pyjwt",
        "filelock",
        "importlib-metadata",
        "zipp",
        "colorama",
        "tomli",
        "wrapt",
        "decorator",
        "pillow",
        "scipy",
        "matplotlib",
        "scikit-learn",
        "tqdm",
        "beautifulsoup4",
        "soupsieve",
        "lxml",
        "sqlalchemy",
        "flask",
        "django",
        "werkzeug",
        "itsdangerous",
        "aiohttp",
        "multidict",
        "yarl",
        "frozenlist",
        "aiosignal",
        "async-timeout",
        "httpx",
        "httpcore",
        "h11",
        "anyio",
        "sniffio",
        "openai",
        "anthropic",
        "tiktoken",
        "regex",
        "psutil",
        "pytest",
        "pluggy",
        "iniconfig",
        "coverage",
        "mock",
        "docutils",
        "pygments",
        "rich",
        "markdown-it-py",
        "mdurl",
        "grpcio",
        "greenlet",
        "fastapi",
        "starlette",
        "uvicorn",
        "gunicorn",
        "redis",
        "psycopg2",
        "psycopg2-binary",
        "pymysql",
        "paramiko",
        "bcrypt",
        "pynacl",
        "tensorflow",
        "torch",
        "transformers",
        "tokenizers",
        "huggingface-hub",
        "safetensors",
        "datasets",
        "pyarrow",
        "openpyxl",
        "xlrd",
        "python-docx",
        "pypdf",
        "pdfminer-six",
        "reportlab",
        "markdown",
        "selenium",
        "playwright",
        "websocket-client",
        "websockets",
        "simplejson",
        "ujson",
        "orjson",
        "toml",
        "tomlkit",
        "pyopenssl",
        "requests-oauthlib",
        "oauthlib",
        "google-auth",
        "cachetools",
        "jsonschema",
        "networkx",
        "sympy",
        "nltk",
        "spacy",
        "opencv-python",
        "imageio",
        "keras",
        "h5py",
        "termcolor",
        "tabulate",
        "prompt-toolkit",
    ]
)
POPULAR_NPM = frozenset(
    [
        "lodash",
        "react",
        "react-dom",
        "express",
        "axios",
        "chalk",
        "commander",
        "debug",
        "moment",
        "request",
        "async",
        "underscore",
        "uuid",
        "bluebird",
        "yargs",
        "glob",
        "mkdirp",
        "minimist",
        "semver",
        "colors",
        "fs-extra",
        "body-parser",
        "webpack",
        "typescript",
        "vue",
        "jquery",
        "prop-types",
        "classnames",
        "dotenv",
        "rxjs",
        "inquirer",
        "node-fetch",
        "cheerio",
        "ws",
        "socket.io",
        "mongoose",
        "redis",
        "pg",
        "mysql",
        "jsonwebtoken",
        "bcrypt",
        "cors",
        "morgan",
        "winston",
        "eslint",
        "prettier",
        "jest",
        "mocha",
        "chai",
        "sinon",
        "babel-core",
        "next",
        "nuxt",
        "electron",
        "puppeteer",
        "playwright",
        "undici",
        "got",
        "superagent",
        "qs",
        "cookie-parser",
        "helmet",
        "passport",
        "nodemon",
        "rimraf",
        "cross-env",
        "cross-spawn",
        "execa",
        "ora",
        "boxen",
        "zod",
        "yup",
        "ajv",
        "marked",
        "markdown-it",
        "handlebars",
        "ejs",
        "pug",
        "dayjs",
        "date-fns",
        "luxon",
        "sharp",
        "jimp",
        "pdfkit",
        "pdf-lib",
        "xlsx",
        "csv-parse",
        "papaparse",
        "openai",
        "graphql",
        "apollo-server",
    ]
)


@dataclass(frozen=True)
class DepsPolicy:
    """What the profile (and the intake) say about dependencies."""

    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    trusted_indexes: frozenset[str] = frozenset({"https://pypi.org/simple", "https://registry.npmjs.org"})
    popular: frozenset[str] = frozenset(
        {f"pypi:{n}" for n in POPULAR_PYPI} | {f"npm:{n}" for n in POPULAR_NPM}
    )
    declared: frozenset[str] = frozenset()


@dataclass
class Dependency:
    ecosystem: str
    name: str
    spec: str
    pinned: bool
    source: str
    manifest: str
    hashes: list[str] = field(default_factory=list)


@dataclass
class DependencyReport:
    dependencies: list[Dependency] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    install_hooks: list[str] = field(default_factory=list)
    lockfiles: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def add(self, code: str, check: str, severity: str, detail: str, path: str) -> None:
        if len(self.findings) < 1000:
            self.findings.append(Finding(code, f"deps.{check}", severity, detail, member=path))


def is_manifest(path: str) -> bool:
    """True for the dependency manifests and lockfiles gate reads."""
    return bool(_NAMES.search(path))


def pep503(name: str) -> str:
    """A Python package name normalised (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- the popular-name check ---


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, cut off above *limit*."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _squat_of(ecosystem: str, name: str, popular: frozenset[str]) -> str | None:
    key = f"{ecosystem}:{name}"
    if key in popular:
        return None
    squashed = re.sub(r"[-_.]", "", name)
    for entry in popular:
        eco, _, target = entry.partition(":")
        if eco != ecosystem or abs(len(target) - len(name)) > 2:
            continue
        if squashed == re.sub(r"[-_.]", "", target) or sorted(name.split("-")) == sorted(target.split("-")):
            return target
        limit = 2 if len(target) >= 8 else 1
        if _distance(name, target, limit) <= limit:
            return target
    return None


# --- reading ---


def _json(data: bytes, path: str, report: DependencyReport) -> Any:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        report.add("skill_unparseable", "json", "high", f"{path}: not JSON ({str(exc)[:120]})", path)
        return None
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            report.add(
                "skill_limits_exceeded",
                "json_depth",
                "high",
                f"{path}: nested deeper than {MAX_JSON_DEPTH}",
                path,
            )
            return None
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return value


def _toml(data: bytes, path: str, report: DependencyReport) -> dict[str, Any] | None:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        report.add("skill_unparseable", "toml", "high", f"{path}: not TOML ({str(exc)[:120]})", path)
        return None


def _pep508(
    text: str, path: str, report: DependencyReport, hashes: list[str] | None = None
) -> Dependency | None:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        report.add(
            "skill_unparseable",
            "requirement",
            "high",
            f"{path}: {text[:120]!r} is not a requirement ({str(exc)[:100]})",
            path,
        )
        return None
    spec = str(req.specifier)
    pinned = (
        len(req.specifier) == 1 and next(iter(req.specifier)).operator in ("==", "===") and "*" not in spec
    )
    source = "registry"
    if req.url:
        source = "git" if req.url.startswith("git+") else ("path" if req.url.startswith("file:") else "url")
        spec = req.url
        pinned = source == "git" and bool(re.search(r"@[0-9a-f]{40}$", req.url))
    return Dependency("pypi", pep503(req.name), spec, pinned, source, path, list(hashes or []))


def _requirements(files: dict[str, bytes], path: str, report: DependencyReport, seen: set[str]) -> None:
    if path in seen or len(seen) > 64:
        return
    seen.add(path)
    text = files[path].decode("utf-8", "replace").replace("\\\n", " ")
    base = posixpath.dirname(path)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement", "-c ", "--constraint")):
            target = posixpath.normpath(
                posixpath.join(base, line.split(None, 1)[-1].split("=", 1)[-1].strip())
            )
            if target in files:
                _requirements(files, target, report, seen)
            else:
                report.add(
                    "skill_lockfile_mismatch",
                    "missing_include",
                    "high",
                    f"{path}:{number}: includes {target}, which the package does not have",
                    path,
                )
            continue
        options = re.findall(
            r"(--(?:index-url|extra-index-url|find-links|trusted-host)|-i|-f)[=\s]+(\S+)", line
        )
        if options and line.startswith("-"):
            for option, value in options:
                _index(report, option, value, path)
            continue
        if line.startswith("-e ") or line.startswith("--editable"):
            report.add(
                "skill_dependency_untrusted_source",
                "editable",
                "high",
                f"{path}:{number}: editable install {line[:120]!r}",
                path,
            )
            continue
        hashes = re.findall(r"--hash[=\s]+(\S+)", line)
        requirement = re.sub(r"\s--\S+(?:[=\s]+\S+)?", "", " " + line).strip()
        if re.match(r"^(?:https?|git\+\S+|file):", requirement) or requirement.startswith(("./", "../", "/")):
            source = "git" if requirement.startswith("git+") else ("url" if "://" in requirement else "path")
            report.dependencies.append(
                Dependency("pypi", requirement[:200], requirement[:256], False, source, path)
            )
            continue
        dep = _pep508(requirement, f"{path}", report, hashes)
        if dep is not None:
            report.dependencies.append(dep)


def _index(report: DependencyReport, option: str, value: str, path: str) -> None:
    value = value.rstrip("/")
    report.indexes.append(f"{option} {value}")
    if option in ("--extra-index-url",):
        report.add(
            "skill_dependency_untrusted_source",
            "extra_index",
            "high",
            f"{path}: --extra-index-url {value} lets a second index supply any package "
            "(dependency confusion)",
            path,
        )
    elif option == "--trusted-host":
        report.add(
            "skill_dependency_untrusted_source",
            "trusted_host",
            "high",
            f"{path}: --trusted-host {value} turns off TLS verification",
            path,
        )


def _table(value: Any, key: str) -> dict[str, Any]:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def _pyproject(data: dict[str, Any], path: str, report: DependencyReport) -> None:
    project = _table(data, "project")
    for text in list(project.get("dependencies", []) or [])[:MAX_DEPENDENCIES]:
        if isinstance(text, str):
            dep = _pep508(text, path, report)
            if dep:
                report.dependencies.append(dep)
    build = _table(data, "build-system")
    if build.get("backend-path"):
        report.install_hooks.append(f"{path}: in-tree build backend {build.get('build-backend')}")
        report.add(
            "skill_install_hook",
            "backend_path",
            "high",
            f"{path}: build-backend {build.get('build-backend')!r} runs code from the package itself",
            path,
        )
    tool = _table(data, "tool")
    uv = _table(tool, "uv")
    for index in uv.get("index", []) or []:
        if isinstance(index, dict) and isinstance(index.get("url"), str):
            _index(report, "--index-url", index["url"], path)
    poetry = _table(tool, "poetry")
    for source in poetry.get("source", []) or []:
        if isinstance(source, dict) and isinstance(source.get("url"), str):
            _index(report, "--index-url", source["url"], path)
    deps = _table(poetry, "dependencies")
    for name, spec in list(deps.items())[:MAX_DEPENDENCIES]:
        if name == "python":
            continue
        if isinstance(spec, dict):
            source = (
                "git"
                if "git" in spec
                else ("url" if "url" in spec else ("path" if "path" in spec else "registry"))
            )
            version = str(spec.get("version", spec.get("git", spec.get("url", spec.get("path", "")))))
        else:
            source, version = "registry", str(spec)
        pinned = source == "registry" and bool(re.fullmatch(r"==?\s*[0-9][^,*<>~^|]*", version.strip()))
        report.dependencies.append(Dependency("pypi", pep503(name), version, pinned, source, path))


def _setup_py(data: bytes, path: str, report: DependencyReport) -> None:
    try:
        tree = ast.parse(data.decode("utf-8", "replace"), filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        report.add("skill_unparseable", "setup_py", "high", f"{path}: does not parse as Python", path)
        return
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef)) or (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ):
            continue
        if isinstance(node, ast.ClassDef):
            bases = {ast.unparse(b) for b in node.bases}
            if any(
                b.split(".")[-1]
                in ("install", "develop", "egg_info", "build_py", "sdist", "bdist_wheel", "build_ext")
                for b in bases
            ):
                report.install_hooks.append(f"{path}: command class {node.name}")
                report.add(
                    "skill_install_hook",
                    "setup_cmdclass",
                    "high",
                    f"{path}:{node.lineno}: class {node.name} overrides a setuptools command",
                    path,
                )
            continue
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func).endswith("setup")
        ):
            for kw in node.value.keywords:
                if kw.arg == "cmdclass":
                    report.install_hooks.append(f"{path}: cmdclass")
                    report.add(
                        "skill_install_hook",
                        "setup_cmdclass",
                        "high",
                        f"{path}:{node.lineno}: setup(cmdclass=...) runs custom code at install",
                        path,
                    )
                if kw.arg == "install_requires" and isinstance(kw.value, (ast.List, ast.Tuple)):
                    for element in kw.value.elts[:MAX_DEPENDENCIES]:
                        if isinstance(element, ast.Constant) and isinstance(element.value, str):
                            dep = _pep508(element.value, path, report)
                            if dep:
                                report.dependencies.append(dep)
            continue
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Assign) and all(
            isinstance(n, (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Name, ast.Load))
            for n in ast.walk(node.value)
        ):
            continue
        report.install_hooks.append(f"{path}:{node.lineno}: module-level code")
        report.add(
            "skill_install_hook",
            "setup_module_code",
            "high",
            f"{path}:{node.lineno}: runs code at install time: {ast.unparse(node)[:100]!r}",
            path,
        )


def _npm_pinned(spec: str) -> bool:
    return bool(re.fullmatch(r"=?v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?", spec.strip()))


def _npm_source(spec: str) -> str:
    if re.match(r"^(?:git\+|git:|github:|gitlab:|bitbucket:)", spec) or re.match(
        r"^[\w.-]+/[\w.-]+(?:#.*)?$", spec
    ):
        return "git"
    if spec.startswith(("http://", "https://")):
        return "url"
    if spec.startswith(("file:", "link:", "./", "../", "/")):
        return "path"
    return "registry"


NPM_BUILD_HOOKS = ("prepare", "preprepare", "postprepare")
"""Lifecycle scripts that also run on a plain install, but whose usual job is the package's own build."""
BUILD_TOOLS = frozenset(
    {"tsc", "esbuild", "rollup", "webpack", "vite", "babel", "swc", "tsup", "rimraf", "husky", "parcel"}
)
"""Build tools that compile or bundle the package's sources (none downloads and runs code)."""
_NPM_RUN = re.compile(r"^(?:npm\s+run(?:-script)?|yarn(?:\s+run)?|pnpm(?:\s+run)?)\s+([\w:.-]+)$")


def _builds_only(command: str, scripts: dict[str, Any], depth: int) -> bool:
    """Whether every step of *command* is a build tool or another script that builds only."""
    if depth > 4:
        return False
    for step in re.split(r"\s*(?:&&|;)\s*", command.strip()):
        if not step or re.search(r"[|`$<>()]", step):
            return False
        words = step.split()
        run = _NPM_RUN.match(step)
        if run:
            inner = scripts.get(run.group(1))
            if run.group(1) in NPM_INSTALL_HOOKS or not isinstance(inner, str):
                return False
            if not _builds_only(inner, scripts, depth + 1):
                return False
        elif words[0] not in BUILD_TOOLS:
            return False
    return True


def _package_json(value: Any, path: str, report: DependencyReport) -> None:
    if not isinstance(value, dict):
        report.add("skill_unparseable", "package_json", "high", f"{path}: not an object", path)
        return
    for section in ("dependencies", "optionalDependencies", "peerDependencies"):
        deps = value.get(section)
        if isinstance(deps, dict):
            for name, spec in list(deps.items())[:MAX_DEPENDENCIES]:
                spec = str(spec)
                source = _npm_source(spec)
                report.dependencies.append(
                    Dependency(
                        "npm", name.lower(), spec, source == "registry" and _npm_pinned(spec), source, path
                    )
                )
    scripts = value.get("scripts")
    if isinstance(scripts, dict):
        for hook in NPM_INSTALL_HOOKS:
            if isinstance(scripts.get(hook), str):
                if hook in NPM_BUILD_HOOKS and _builds_only(scripts[hook], scripts, 0):
                    continue  # prepare running the package's own build (tsc, esbuild, npm run build)
                report.install_hooks.append(f"{path} scripts.{hook}: {scripts[hook][:200]}")
                report.add(
                    "skill_install_hook",
                    "npm_lifecycle",
                    "high",
                    f"{path}: scripts.{hook} runs {scripts[hook][:120]!r} at install",
                    path,
                )
    publish = value.get("publishConfig")
    if isinstance(publish, dict) and isinstance(publish.get("registry"), str):
        report.indexes.append(f"publishConfig {publish['registry']}")


def _npm_lock(value: Any, path: str, report: DependencyReport, policy: DepsPolicy) -> dict[str, str]:
    """{name: version} of a package-lock v2/v3, with its integrity and registry checked."""
    locked: dict[str, str] = {}
    if not isinstance(value, dict) or not isinstance(value.get("packages"), dict):
        report.add(
            "skill_lockfile_mismatch",
            "npm_lock_version",
            "high",
            f"{path}: not a lockfileVersion 2/3 package-lock (no packages map)",
            path,
        )
        return locked
    for key, entry in list(value["packages"].items())[:MAX_DEPENDENCIES]:
        if not key or not isinstance(entry, dict) or entry.get("link"):
            continue
        name = key.rsplit("node_modules/", 1)[-1].lower()
        locked[name] = str(entry.get("version", ""))
        resolved = str(entry.get("resolved", ""))
        if not entry.get("integrity"):
            report.add(
                "skill_lockfile_mismatch",
                "no_integrity",
                "high",
                f"{path}: {name} has no integrity hash",
                path,
            )
        if resolved and not any(resolved.startswith(i.rstrip("/") + "/") for i in policy.trusted_indexes):
            report.add(
                "skill_dependency_untrusted_source",
                "resolved",
                "high",
                f"{path}: {name} resolves to {resolved[:160]}",
                path,
            )
        if entry.get("hasInstallScript"):
            report.install_hooks.append(f"{path}: {name} has an install script")
            report.add(
                "skill_install_hook",
                "dependency_install_script",
                "high",
                f"{path}: dependency {name} runs an install script",
                path,
            )
    return locked


def _py_lock(data: dict[str, Any], path: str, report: DependencyReport, policy: DepsPolicy) -> dict[str, str]:
    locked: dict[str, str] = {}
    for entry in list(data.get("package", []) or [])[:MAX_DEPENDENCIES]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        name = pep503(entry["name"])
        locked[name] = str(entry.get("version", ""))
        source = _table(entry, "source")
        registry = source.get("registry") or source.get("url")
        if source.get("git") or (source.get("url") and not source.get("registry")):
            report.add(
                "skill_dependency_untrusted_source",
                "lock_source",
                "high",
                f"{path}: {name} comes from {source}",
                path,
            )
        elif (
            isinstance(registry, str)
            and registry.rstrip("/") not in policy.trusted_indexes
            and not source.get("virtual")
            and not source.get("editable")
        ):
            report.add(
                "skill_dependency_untrusted_source",
                "lock_registry",
                "high",
                f"{path}: {name} comes from {registry}",
                path,
            )
        has_hash = bool(entry.get("files") or entry.get("wheels") or entry.get("sdist") or entry.get("hash"))
        if not has_hash and not source.get("virtual") and not source.get("editable"):
            report.add("skill_lockfile_mismatch", "no_hash", "high", f"{path}: {name} has no hashes", path)
    return locked


def analyse_manifests(files: dict[str, bytes], policy: DepsPolicy) -> DependencyReport:
    """Read every manifest of one skill together."""
    report = DependencyReport()
    for path, data in files.items():
        if len(data) > MAX_MANIFEST:
            report.add(
                "skill_limits_exceeded",
                "manifest_size",
                "high",
                f"{path}: larger than {MAX_MANIFEST} bytes",
                path,
            )
    sized = {p: d for p, d in files.items() if len(d) <= MAX_MANIFEST}
    locks: list[tuple[str, str, dict[str, str]]] = []
    included: set[str] = set()
    for path in sorted(sized):
        name = posixpath.basename(path)
        data = sized[path]
        if name.endswith(".txt") and path not in included:
            _requirements(sized, path, report, included)
        elif name == "pyproject.toml":
            parsed = _toml(data, path, report)
            if parsed is not None:
                _pyproject(parsed, path, report)
        elif name == "setup.py":
            _setup_py(data, path, report)
        elif name == "Pipfile":
            parsed = _toml(data, path, report)
            if parsed is not None:
                for source in parsed.get("source", []) or []:
                    if isinstance(source, dict) and isinstance(source.get("url"), str):
                        _index(report, "--index-url", source["url"], path)
                for pname, spec in list((parsed.get("packages") or {}).items())[:MAX_DEPENDENCIES]:
                    text = (
                        spec
                        if isinstance(spec, str)
                        else str(spec.get("version", "*"))
                        if isinstance(spec, dict)
                        else "*"
                    )
                    pinned = bool(re.fullmatch(r"==[0-9][^,*]*", text))
                    src = "git" if isinstance(spec, dict) and "git" in spec else "registry"
                    report.dependencies.append(Dependency("pypi", pep503(pname), text, pinned, src, path))
        elif name in ("poetry.lock", "uv.lock"):
            parsed = _toml(data, path, report)
            if parsed is not None:
                report.lockfiles.append(path)
                locks.append(("pypi", path, _py_lock(parsed, path, report, policy)))
        elif name == "package.json":
            _package_json(_json(data, path, report), path, report)
        elif name in ("package-lock.json", "npm-shrinkwrap.json"):
            value = _json(data, path, report)
            if value is not None:
                report.lockfiles.append(path)
                locks.append(("npm", path, _npm_lock(value, path, report, policy)))
        elif name == "yarn.lock":
            report.lockfiles.append(path)
            locks.append(("npm", path, _yarn(data.decode("utf-8", "replace"), path, report, policy)))
        elif name == "pnpm-lock.yaml":
            report.lockfiles.append(path)
            locks.append(("npm", path, _pnpm(data, path, report)))
        elif name in (".npmrc", "pip.conf"):
            for match in re.finditer(
                r"(?m)^\s*(?:@[\w-]+:)?(registry|index-url|extra-index-url)\s*=\s*(\S+)",
                data.decode("utf-8", "replace"),
            ):
                key, url = match.group(1), match.group(2).rstrip("/")
                option = "--extra-index-url" if key == "extra-index-url" else "--index-url"
                _index(report, option, url, path)
        elif name == "Pipfile.lock":
            report.lockfiles.append(path)
            _json(data, path, report)
    if len(report.dependencies) > MAX_DEPENDENCIES:
        report.add(
            "skill_limits_exceeded", "dependencies", "high", f"more than {MAX_DEPENDENCIES} dependencies", ""
        )
        del report.dependencies[MAX_DEPENDENCIES:]
    _judge(report, policy, locks)
    return report


def _yarn(text: str, path: str, report: DependencyReport, policy: DepsPolicy) -> dict[str, str]:
    locked: dict[str, str] = {}
    current: list[str] = []
    entry: dict[str, str] = {}

    def close() -> None:
        for spec in current:
            name = (
                spec.strip('"').rsplit("@", 1)[0].lower()
                if spec.count("@") > (1 if spec.strip('"').startswith("@") else 0)
                else spec.lower()
            )
            locked[name] = entry.get("version", "")
            if not entry.get("integrity"):
                report.add(
                    "skill_lockfile_mismatch",
                    "no_integrity",
                    "high",
                    f"{path}: {name} has no integrity hash",
                    path,
                )
            resolved = entry.get("resolved", "")
            if (
                resolved
                and not any(resolved.startswith(i) for i in policy.trusted_indexes)
                and "registry.yarnpkg.com" not in resolved
            ):
                report.add(
                    "skill_dependency_untrusted_source",
                    "resolved",
                    "high",
                    f"{path}: {name} resolves to {resolved[:160]}",
                    path,
                )

    for line in text.splitlines()[:200_000]:
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            if current:
                close()
            current = [s.strip() for s in line.rstrip(":").split(",")]
            entry = {}
        else:
            match = re.match(r'\s+(\w+)\s+"?([^"]*)"?$', line)
            if match:
                entry[match.group(1)] = match.group(2)
    if current:
        close()
    return locked


def _pnpm(data: bytes, path: str, report: DependencyReport) -> dict[str, str]:
    import yaml

    try:
        value = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        report.add("skill_unparseable", "pnpm", "high", f"{path}: not YAML ({str(exc)[:120]})", path)
        return {}
    locked: dict[str, str] = {}
    packages = value.get("packages") if isinstance(value, dict) else None
    if isinstance(packages, dict):
        for key, entry in list(packages.items())[:MAX_DEPENDENCIES]:
            key = str(key).lstrip("/")
            name, _, version = key.rpartition("@")
            locked[name.lower()] = version.split("(")[0]
            resolution = entry.get("resolution") if isinstance(entry, dict) else None
            if not (isinstance(resolution, dict) and resolution.get("integrity")):
                report.add(
                    "skill_lockfile_mismatch",
                    "no_integrity",
                    "high",
                    f"{path}: {name} has no integrity hash",
                    path,
                )
    return locked


def _satisfies(ecosystem: str, spec: str, version: str) -> bool:
    if not version:
        return False
    if ecosystem == "pypi":
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            return SpecifierSet(spec).contains(version, prereleases=True)
        except InvalidSpecifier:
            return False
    spec = spec.strip()
    if _npm_pinned(spec):
        return spec.lstrip("=v") == version
    if spec in ("", "*", "latest", "x"):
        return True
    match = re.fullmatch(r"([\^~])(\d+)\.(\d+)\.(\d+)", spec)
    parts = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if match and parts:
        want = tuple(int(x) for x in match.groups()[1:])
        have = tuple(int(x) for x in parts.groups())
        if have < want:
            return False
        return have[0] == want[0] and (match.group(1) == "^" or have[1] == want[1])
    return True  # ranges gate does not evaluate are judged by pinning, not here


def _judge(
    report: DependencyReport, policy: DepsPolicy, locks: list[tuple[str, str, dict[str, str]]]
) -> None:
    declared = {d.split("==")[0].split(":", 1)[-1].strip().lower() for d in policy.declared if d.strip()}
    for ecosystem, path, locked in locks:
        for dep in report.dependencies:
            if dep.ecosystem != ecosystem or dep.source != "registry":
                continue
            if dep.name not in locked:
                report.add(
                    "skill_lockfile_mismatch",
                    "missing_from_lock",
                    "high",
                    f"{path}: {dep.name} ({dep.manifest}) is not in the lockfile",
                    path,
                )
            elif not _satisfies(ecosystem, dep.spec, locked[dep.name]):
                report.add(
                    "skill_lockfile_mismatch",
                    "version_outside_spec",
                    "high",
                    f"{path}: {dep.name} {locked[dep.name]} does not satisfy {dep.spec!r} ({dep.manifest})",
                    path,
                )
            else:
                dep.pinned = True  # the lockfile resolves it to one version with an integrity hash
    for dep in report.dependencies:
        key = f"{dep.ecosystem}:{dep.name}"
        where = dep.manifest
        if key in policy.deny or dep.name in policy.deny:
            report.add(
                "skill_dependency_denied",
                "deny_list",
                "high",
                f"{where}: {key} is on the profile's deny list",
                where,
            )
        elif policy.allow and key not in policy.allow and dep.name not in policy.allow:
            report.add(
                "skill_dependency_denied",
                "allow_list",
                "high",
                f"{where}: {key} is not on the profile's allow list",
                where,
            )
        if dep.source != "registry":
            report.add(
                "skill_dependency_untrusted_source",
                f"{dep.source}_dependency",
                "high",
                f"{where}: {dep.name} comes from a {dep.source} ({dep.spec[:160]})",
                where,
            )
        elif not dep.pinned:
            report.add(
                "skill_dependency_unpinned",
                "unpinned",
                "medium",
                f"{where}: {key} {dep.spec or '(any version)'} is not pinned",
                where,
            )
        squat = _squat_of(dep.ecosystem, dep.name, policy.popular) if dep.source == "registry" else None
        if squat:
            report.add(
                "skill_typosquat",
                "near_popular",
                "high",
                f"{where}: {dep.name!r} is one small edit from the popular {squat!r}",
                where,
            )
    for index in report.indexes:
        url = index.split(" ", 1)[-1].rstrip("/")
        if (
            url not in policy.trusted_indexes
            and not index.startswith("--extra-index-url")
            and not index.startswith("--trusted-host")
        ):
            parts = urlsplit(url)
            report.add(
                "skill_dependency_untrusted_source",
                "index",
                "high",
                f"index {parts.scheme}://{parts.netloc}{parts.path} is not trusted",
                "",
            )
    if declared:
        present = {d.name for d in report.dependencies} | {d.name.split("/")[-1] for d in report.dependencies}
        for name in sorted(declared - present):
            report.add(
                "skill_lockfile_mismatch",
                "declared_missing",
                "high",
                f"the intake declares {name}, which no manifest lists",
                "",
            )
        for name in sorted({d.name for d in report.dependencies} - declared):
            report.add(
                "skill_lockfile_mismatch",
                "undeclared",
                "high",
                f"{name} is in the manifests but the intake did not declare it",
                "",
            )
