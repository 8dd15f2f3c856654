"""What the three code analyzers agree is dangerous: paths, programs, SDKs.

Finding codes (severity in brackets):

- ``skill_secret_access`` [critical]: secret material (SSH keys, cloud and
  registry credentials, browser profiles, keychains, /etc/shadow), or the
  whole environment serialised in a file that uses the network;
- ``skill_obfuscated_exec`` [critical, high for a plain computed argument]:
  exec/eval of decoded or computed code;
- ``skill_reverse_shell`` [critical]: a shell wired to a socket;
- ``skill_download_execute`` [critical]: downloaded code run;
- ``skill_persistence`` [high]: cron, shell rc files, services, launch
  agents, git hooks, authorized_keys;
- ``skill_privilege`` [high]: sudo/su/doas/pkexec, setuid bits, uid changes;
- ``skill_write_outside`` [high; critical for deleting / or ~]: writes to a
  literal path outside the working tree and the temporary directories;
- ``skill_unparseable`` / ``skill_limits_exceeded`` [high]: not analysed.
"""

from __future__ import annotations

import re

SECRET_PATH = re.compile(
    r"(?:^|[/~\\])\.ssh/(?:id_[a-z0-9_]+|identity)\b"
    r"|\.aws/(?:credentials|config)\b"
    r"|\.config/gcloud/(?:credentials|application_default_credentials|access_tokens|legacy_credentials)"
    r"|\.azure/(?:accessTokens|msal_token_cache|azureProfile)"
    r"|\.kube/config\b|\.docker/config\.json|(?:^|[/~])\.netrc\b|(?:^|[/~])\.npmrc\b|(?:^|[/~])\.pypirc\b"
    r"|(?:^|[/~])\.gnupg\b|(?:^|[/~])\.git-credentials\b|/etc/shadow\b|/etc/sudoers\b"
    r"|Login Data|logins\.json|key4\.db|cookies\.sqlite|/Cookies\b|Library/Keychains|\.password-store"
    r"|(?:^|[/~])\.vault-token\b|\.config/gh/hosts\.yml",
    re.I,
)

PERSISTENCE_PATH = re.compile(
    r"(?:^|[/~])\.(?:bashrc|bash_profile|bash_login|profile|zshrc|zprofile|zlogin|zshenv|login|cshrc|tcshrc)\b"
    r"|\.config/fish/config\.fish|/etc/cron|/var/spool/cron|/etc/crontab|/etc/rc\.local|/etc/profile"
    r"|/etc/systemd/|\.config/systemd/|/lib/systemd/|Library/LaunchAgents|Library/LaunchDaemons"
    r"|\.git/hooks/|\.ssh/authorized_keys|\.config/autostart/|/etc/init\.d/|/etc/ld\.so\.preload",
    re.I,
)

SAFE_WRITE_PREFIXES = (
    "/tmp/",
    "/var/tmp/",
    "/dev/null",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/fd/",
    "/proc/self/fd/",
)

PRIVILEGE_PROGRAMS = frozenset({"sudo", "su", "doas", "pkexec", "runas"})
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "fish", "csh", "tcsh", "ash", "busybox"})
INTERPRETERS = SHELLS | frozenset(
    {"python", "python3", "python2", "node", "perl", "ruby", "php", "pwsh", "powershell"}
)
NETWORK_PROGRAMS = frozenset(
    {
        "curl",
        "wget",
        "nc",
        "ncat",
        "netcat",
        "socat",
        "ssh",
        "scp",
        "sftp",
        "rsync",
        "ftp",
        "telnet",
        "http",
        "aria2c",
    }
)
GIT_NETWORK = frozenset({"clone", "fetch", "pull", "push", "ls-remote", "submodule"})

PYTHON_NETWORK_MODULES = frozenset(
    {
        "socket",
        "urllib.request",
        "urllib3",
        "http.client",
        "requests",
        "httpx",
        "aiohttp",
        "ftplib",
        "smtplib",
        "paramiko",
        "websocket",
        "websockets",
        "pycurl",
        "telnetlib",
        "xmlrpc.client",
    }
)
PYTHON_SDKS = frozenset(
    {
        "boto3",
        "botocore",
        "openai",
        "anthropic",
        "google.cloud",
        "google.genai",
        "googleapiclient",
        "azure",
        "stripe",
        "slack_sdk",
        "slack",
        "github",
        "gitlab",
        "twilio",
        "sendgrid",
        "notion_client",
        "jira",
        "atlassian",
        "dropbox",
        "hubspot",
        "salesforce",
        "simple_salesforce",
        "firebase_admin",
        "supabase",
        "pinecone",
        "cohere",
        "mistralai",
        "huggingface_hub",
        "linear",
    }
)
JS_NETWORK_MODULES = frozenset(
    {
        "net",
        "tls",
        "dgram",
        "http",
        "https",
        "http2",
        "ws",
        "axios",
        "node-fetch",
        "undici",
        "got",
        "request",
        "superagent",
        "socket.io-client",
        "node:net",
        "node:tls",
        "node:http",
        "node:https",
        "node:dgram",
        "node:http2",
    }
)
JS_SDKS = frozenset(
    {
        "@aws-sdk",
        "aws-sdk",
        "openai",
        "@anthropic-ai/sdk",
        "@google-cloud",
        "@azure",
        "stripe",
        "@slack/web-api",
        "@octokit/rest",
        "octokit",
        "@octokit/core",
        "twilio",
        "@sendgrid/mail",
        "@notionhq/client",
        "firebase-admin",
        "@supabase/supabase-js",
        "@pinecone-database/pinecone",
        "cohere-ai",
        "@huggingface/inference",
    }
)
STANDARD_ENV = frozenset(
    {
        "HOME",
        "PATH",
        "PWD",
        "OLDPWD",
        "USER",
        "LOGNAME",
        "SHELL",
        "TMPDIR",
        "TMP",
        "TEMP",
        "LANG",
        "LC_ALL",
        "TERM",
        "HOSTNAME",
        "IFS",
        "PS1",
        "PS4",
        "RANDOM",
        "SECONDS",
        "LINENO",
        "BASH_SOURCE",
        "FUNCNAME",
        "BASH_VERSION",
        "OSTYPE",
        "UID",
        "EUID",
        "PPID",
        "REPLY",
        "OPTARG",
        "OPTIND",
        "PIPESTATUS",
        "EDITOR",
        "PAGER",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_RUNTIME_DIR",
        "NODE_ENV",
        "CI",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "COLUMNS",
        "LINES",
        "DEBUG",
        "VERBOSE",
        "NO_COLOR",
    }
)

URL = re.compile(r"\b(?:https?|wss?|ftp)://([A-Za-z0-9.-]{1,253})(?::\d+)?(?:[/?#\"'\s`]|$)")


def hosts_in(text: str) -> set[str]:
    """Literal hostnames of the URLs in *text* (lower-case)."""
    return {m.group(1).lower().rstrip(".") for m in URL.finditer(text[:65536]) if "." in m.group(1)}


def write_target_problem(path: str) -> tuple[str, str, str] | None:
    """(code, severity, why) when writing to the literal *path* is a finding; None when it is not."""
    if not path:
        return None
    if PERSISTENCE_PATH.search(path):
        return "skill_persistence", "high", f"writes {path!r}, a file that runs later (persistence)"
    stripped = path.rstrip("/")
    if stripped in ("", "~", "$HOME", "/root", "/home", "/*", "~/*", "/usr", "/etc", "/var", "/opt"):
        return "skill_write_outside", "critical", f"writes or deletes {path!r}, a whole system or home tree"
    if path.startswith(SAFE_WRITE_PREFIXES) or path in ("/tmp", "/var/tmp"):
        return None
    if path.startswith(("/", "~", "$HOME")):
        return "skill_write_outside", "high", f"writes {path!r}, outside the skill and the working tree"
    if path.startswith("../") or "/../" in path:
        return "skill_write_outside", "high", f"writes {path!r}, which escapes the working tree"
    return None


def chmod_is_privileged(mode: str) -> bool:
    """True for chmod modes that set setuid or setgid bits (u+s, g+s, +s, 4755, 2755, 6755)."""
    mode = mode.strip()
    if re.fullmatch(r"0?[2467][0-7]{3}", mode):
        return True
    return bool(re.search(r"[ugoa]*[+=][rwxXt]*s", mode))
