"""``gate watch``: the quarantine watcher service (drop-in for the seed's)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from gate.cli.common import EXIT_CODES_HELP, engine_option
from gate.errors import UsageError

# The seed's variables; set, they win over the command line (as in the seed).
ENV = {
    "quarantine": "QUARANTINE_DIR",
    "registry_dir": "REGISTRY_DIR",
    "registry_url": "REGISTRY_URL",
    "profile": "POLICY_PATH",
    "lock": "MODELS_LOCK_PATH",
    "allowlist": "SOURCES_ALLOWLIST_PATH",
    "audit_log": "AUDIT_LOG_PATH",
    "token_path": "SERVICE_TOKEN_PATH",
    "key": "GATE_WATCH_KEY",
}

WATCH_EPILOG = (
    """\b
examples:
  gate watch /data/quarantine --registry-dir /data/registry --profile appliance --key prov.key
  QUARANTINE_DIR=/data/quarantine REGISTRY_DIR=/data/registry REGISTRY_URL=http://127.0.0.1:8470 \\
    SERVICE_TOKEN_PATH=/run/secrets/registry-token POLICY_PATH=/etc/gate/appliance.yaml \\
    GATE_WATCH_KEY=/etc/gate/keys/provenance.key gate watch
  gate watch /data/quarantine --registry-dir /data/registry --profile standalone --key k.pem --once

\b
what it does:
  An entry dropped into QUARANTINE_DIR (a file or a model folder) is taken once
  it is complete: its marker .<name>.ready exists, or its size and mtime have
  not changed for --settle seconds. It is copied into the private work folder
  under --state-dir (owned by gate, mode 0700, outside QUARANTINE_DIR: else
  gate watch refuses to start) and removed from QUARANTINE_DIR,
  decided exactly as `gate eval --artifact` decides it (the source URL comes
  from .<name>.source, as with the seed's watcher; a companion signature
  <name>.sig or <name>.sigstore.json is verified with it), and then
    promote -> moved atomically into REGISTRY_DIR with <name>.provenance.json
               and <name>.provenance.dsse.json (signed), then announced with
               POST REGISTRY_URL/v1/model/promote (retried until it succeeds)
    anything else -> recorded, then deleted (REJECTED for a format or source
               violation or a refused entry, FAILED otherwise)
  Symlinks, hard-linked files and special files are refused, never followed.
  States persist in --state-dir: after a crash a half-done scan runs again,
  a promoted artifact is never promoted or announced twice. Every decision,
  promotion, rejection and retry is appended to the audit log.

\b
environment (wins over the options): QUARANTINE_DIR REGISTRY_DIR REGISTRY_URL
  POLICY_PATH (a gate profile) MODELS_LOCK_PATH SOURCES_ALLOWLIST_PATH
  AUDIT_LOG_PATH GATE_WATCH_KEY SERVICE_TOKEN SERVICE_TOKEN_PATH (the token is
  read for every announcement and never logged)

"""
    + EXIT_CODES_HELP
)


def default_state_dir() -> Path:
    """/var/lib/gate/watch for root, else the XDG state folder (never inside the drop folder)."""
    if os.geteuid() == 0:
        return Path("/var/lib/gate/watch")
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "gate" / "watch"


def _from_env(values: dict[str, Any]) -> dict[str, Any]:
    merged = dict(values)
    for key, var in ENV.items():
        if os.environ.get(var):
            merged[key] = os.environ[var]
    return merged


@click.command(
    "watch",
    epilog=WATCH_EPILOG,
    short_help="watch a quarantine folder: promote with signed provenance, or delete",
)
@click.argument("quarantine", metavar="QUARANTINE_DIR", required=False)
@click.option("--registry-dir", metavar="DIR", help="where promoted artifacts go (REGISTRY_DIR)")
@click.option("--registry-url", metavar="URL", help="registry API announced to (REGISTRY_URL)")
@click.option("--profile", metavar="NAME|FILE", help="artifact profile, e.g. appliance (POLICY_PATH)")
@click.option("--lock", metavar="FILE", help="models.lock.yaml hash pins (MODELS_LOCK_PATH)")
@click.option("--allowlist", metavar="FILE", help="sources.allowlist.yaml (SOURCES_ALLOWLIST_PATH)")
@click.option(
    "--audit-log", metavar="FILE", help="audit log (default: STATE_DIR/audit.jsonl; AUDIT_LOG_PATH)"
)
@click.option(
    "--key",
    metavar="KEY",
    help="signing key for provenance manifests: PEM file or env://VAR "
    "(default: /etc/secure-ai/keys/cosign.key when it exists)",
)
@click.option(
    "--public-key", metavar="FILE", help="PEM public key that verifies key-signed companion signatures"
)
@click.option(
    "--trusted-root", metavar="FILE", help="Sigstore trusted_root.json (default: the bundled production root)"
)
@click.option("--key-passphrase-env", metavar="VAR", help="environment variable holding the key's passphrase")
@click.option("--token-path", metavar="FILE", help="file holding the registry API token (SERVICE_TOKEN_PATH)")
@click.option(
    "--state-dir",
    metavar="DIR",
    help="states, lock and the private work folder, owned by gate, mode 0700, outside QUARANTINE_DIR "
    "(default: /var/lib/gate/watch as root, else $XDG_STATE_HOME/gate/watch or ~/.local/state/gate/watch)",
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="seconds unchanged = complete",
)
@click.option(
    "--poll", type=click.FloatRange(min=0.05), default=2.0, show_default=True, help="seconds between passes"
)
@click.option(
    "--fs-verity", is_flag=True, help="enable fs-verity on promoted files (where the filesystem supports it)"
)
@click.option("--once", is_flag=True, help="one pass over what is complete now, then exit (cron, tests)")
@engine_option
def watch(**options: Any) -> int:
    """Watch a quarantine folder and promote or delete what is dropped into it."""
    from gate.cli.record import load_key
    from gate.profile import load_profile
    from gate.watch.announce import TokenSource
    from gate.watch.service import WatchConfig, run_service

    values = _from_env(options)
    missing = [
        flag
        for flag, key in (
            ("QUARANTINE_DIR", "quarantine"),
            ("--registry-dir", "registry_dir"),
            ("--profile", "profile"),
        )
        if not values.get(key)
    ]
    if missing:
        raise UsageError(f"gate watch needs {', '.join(missing)} (or its environment variable)")
    from gate.watch.service import SEED_KEY_PATH

    key_spec = values.get("key") or (SEED_KEY_PATH if os.path.exists(SEED_KEY_PATH) else None)
    if values.get("registry_url") and not key_spec:
        raise UsageError(
            "--registry-url needs a signing key (--key or GATE_WATCH_KEY): "
            "the registry API records only promotions whose provenance manifest is signed"
        )
    quarantine = Path(values["quarantine"])
    state_dir = Path(values["state_dir"]) if values.get("state_dir") else default_state_dir()
    config = WatchConfig(
        quarantine=quarantine,
        registry=Path(values["registry_dir"]),
        profile=load_profile(values["profile"]),
        key=load_key(key_spec, values.get("key_passphrase_env")) if key_spec else None,
        audit_log=Path(values["audit_log"]) if values.get("audit_log") else state_dir / "audit.jsonl",
        state_dir=state_dir,
        registry_url=values.get("registry_url"),
        tokens=TokenSource(path=values.get("token_path")),
        lock=values.get("lock"),
        allowlist=values.get("allowlist"),
        settle_s=float(values["settle"]),
        poll_s=float(values["poll"]),
        engine=str(values.get("engine") or "regorus"),
        fsverity=bool(values.get("fs_verity")),
        public_key=values.get("public_key"),
        trusted_root=values.get("trusted_root"),
    )
    return run_service(config, once=bool(values.get("once")))
