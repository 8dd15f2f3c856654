"""The quarantine watcher: take complete artifacts, decide, promote or delete, announce.

One watcher per quarantine folder (a lock file refuses a second one). Each
loop: recover killed scans, take complete entries out of the drop folder,
scan and decide every PENDING artifact with the same pipeline as
``gate eval --artifact``, promote what passed, delete what did not, and
announce owed promotions to the registry API (with backoff while it is
down). One artifact's failure is recorded and the loop goes on. Filesystem
events (watchdog) wake the loop early; without them it polls.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.attest.keys import SigningKey
from gate.audit.events import record_event
from gate.audit.log import AuditLog
from gate.errors import GateError, UsageError
from gate.profile import Profile
from gate.watch import intake, private, state
from gate.watch.announce import AnnounceError, TokenSource, announce, payload
from gate.watch.promote import MANIFEST_SUFFIX, PromotionError, manifest, promote

# A decision failing only on these is an immediate format or policy violation: REJECTED.
REJECT_REASONS = frozenset(
    {
        "source_not_https",
        "source_not_allowlisted",
        "denied_format",
        "unknown_format",
        "invalid_header",
        "polyglot_payload",
    }
)
MAX_BACKOFF_S = 300.0
# The seed's signing key: used when present and no other key is given.
SEED_KEY_PATH = "/etc/secure-ai/keys/cosign.key"
SIGNED_MANIFEST_REF = "data.gate.artifact.signed_manifest_required"
INCOMING = b".incoming"
SIGNATURE_NAME = b".signature"


def _key_signed(path: bytes) -> bool:
    """Whether a Sigstore bundle carries a public key (a key signature) rather than a certificate."""
    try:
        with open(path, "rb") as handle:
            bundle = json.loads(handle.read(16 * 1024 * 1024))
    except (OSError, ValueError):
        return False
    material = bundle.get("verificationMaterial", {}) if isinstance(bundle, dict) else {}
    return isinstance(material, dict) and "publicKey" in material


@dataclass
class WatchConfig:
    """Everything the watcher needs (the CLI builds it from options and the environment)."""

    quarantine: Path
    registry: Path
    profile: Profile
    key: SigningKey | None
    audit_log: Path
    state_dir: Path
    registry_url: str | None = None
    tokens: TokenSource = field(default_factory=TokenSource)
    lock: str | None = None
    allowlist: str | None = None
    settle_s: float = 5.0
    poll_s: float = 2.0
    engine: str = "regorus"
    fsverity: bool = False
    public_key: str | None = None
    trusted_root: str | None = None


Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(f"gate watch: {line}", file=sys.stderr, flush=True)


class Watcher:
    """The service; ``run_once`` for one pass, ``run`` until stopped."""

    def __init__(self, config: WatchConfig, log: Log = _stderr) -> None:
        from gate.attest.statement import policy_digest
        from gate.decide import Decider

        self.config = config
        self.say = log
        for folder in (config.quarantine, config.registry):
            if not folder.is_dir():
                raise UsageError(f"{folder}: not a folder")
        # Checked before anything is opened under them: private to gate, outside the drop folder.
        self.state_fd = private.check(config.state_dir, "state folder", inside=config.quarantine)
        try:
            self.work_fd = private.subdir(self.state_fd, "work", f"work folder of {config.state_dir}:")
        except Exception:
            os.close(self.state_fd)
            raise
        self.work = config.state_dir / "work"
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        self._lock_fd = os.open("watch.lock", flags, 0o600, dir_fd=self.state_fd)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._close_fds()
            raise UsageError(f"{config.state_dir}: another gate watch is running on it") from None
        self.decider = Decider(config.profile, config.engine)
        if config.key is None and self._signed_manifest_required():
            self._close_fds()
            raise UsageError(
                f"profile {config.profile.name} requires signed provenance manifests "
                "(artifact.provenance.require_signed_manifest) and no signing key was found: "
                f"give --key or GATE_WATCH_KEY, or install {SEED_KEY_PATH}"
            )
        self.store = state.StateStore(config.state_dir / "state.sqlite")
        self.audit = AuditLog(config.audit_log)
        self.policy_digest = "sha256:" + policy_digest(self.decider.policies, config.profile).sha256
        self.settler = intake.Settler(config.settle_s)
        self.wake = threading.Event()
        self.stop = threading.Event()
        self._finishing: dict[int, _Finisher] = {}
        self._inflight_names: set[bytes] = set()
        self._recover()

    def _signed_manifest_required(self) -> bool:
        """The profile's answer (Rego), asked once at start-up."""
        return self.decider.engine.evaluate(SIGNED_MANIFEST_REF, None) is not False

    def _close_fds(self) -> None:
        for fd in (getattr(self, "_lock_fd", None), self.work_fd, self.state_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _recover(self) -> None:
        """After a crash: killed scans run again; deletions that were owed are finished."""
        restarted = self.store.recover()
        if restarted:
            self.say(f"{len(restarted)} scan(s) interrupted by a crash will run again")
            for row in restarted:
                record_event(
                    self.audit, "scan_restarted", None, name=intake.display(row.name), attempts=row.attempts
                )
        # A take interrupted before its copy was durable and its drop removed: taken again.
        for row in self.store.in_state(state.PENDING):
            if row.kind == "unknown":
                self._reject(row, state.REJECTED, "the take was interrupted by a crash", None, [])
        # Every work folder belongs to a row still owed a scan or a promotion; any other is deleted.
        owed = {str(row.id) for row in self.store.in_state(state.PENDING, state.SCANNING, state.PASSED)}
        for entry in os.listdir(self.work_fd):
            if entry not in owed:
                private.remove(self.work_fd, os.fsencode(entry))
                self.say(f"finished the deletion of work folder {entry} left by a crash")

    def close(self) -> None:
        for row_id in list(self._finishing):
            with contextlib.suppress(Exception):
                self._finish_take(row_id)
        self.store.close()
        self._close_fds()

    # --- paths ---

    def _q(self) -> bytes:
        return os.fsencode(self.config.quarantine)

    @staticmethod
    def _work_name(name: bytes) -> bytes:
        """A taken artifact's name in its work folder: a UTF-8, one-line form of its name, so the
        input document can name it; the registry gets the original bytes back."""
        return intake.display(name).encode("utf-8")

    def _work_path(self, row_id: int, name: bytes) -> bytes:
        """Where a taken artifact waits (the private copy)."""
        return os.path.join(os.fsencode(self.work), str(row_id).encode(), self._work_name(name))

    # --- one pass ---

    def run_once(self) -> None:
        """Take what is complete, then process everything that is owed."""
        for name in self.settler.ready(self._q()):
            if name in self._inflight_names:
                continue
            try:
                self._take(name)
            except Exception as exc:  # one entry that cannot be taken never stops the watcher
                detail = f"{type(exc).__name__}: {str(exc)[:300]}"
                self.say(f"{intake.display(name)}: cannot be taken: {detail}")
                record_event(self.audit, "watch_error", None, name=intake.display(name), detail=detail)
        for row in self.store.in_state(state.PENDING):
            self._guard(row, self._scan)
        for row in self.store.in_state(state.PASSED):
            self._guard(row, self._promote)
        if self.config.registry_url:
            now = time.time()
            for row in self.store.in_state(state.PROMOTED):
                if row.next_announce <= now:
                    self._guard(row, self._announce)

    def run(self) -> None:
        """Loop until ``stop`` is set; filesystem events wake it early."""
        observer = self._observe()
        try:
            while not self.stop.is_set():
                try:
                    self.run_once()
                except Exception as exc:  # e.g. the audit log's disk is full: say so, go on
                    self.say(f"pass failed: {type(exc).__name__}: {str(exc)[:300]}")
                self.wake.wait(self.config.poll_s)
                self.wake.clear()
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)

    def _observe(self) -> Any:
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            self.say("watchdog is not installed: polling only")
            return None
        wake = self.wake

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                wake.set()

        observer = Observer()
        try:
            observer.schedule(Handler(), str(self.config.quarantine), recursive=False)
            observer.start()
        except OSError as exc:
            self.say(f"filesystem events unavailable ({exc.strerror}): polling only")
            return None
        return observer

    def _guard(self, row: state.Row, step: Callable[[state.Row], None]) -> None:
        """One artifact's unexpected failure is recorded; the watcher goes on."""
        try:
            step(row)
        except Exception as exc:  # the service must survive any one artifact
            detail = f"{type(exc).__name__}: {str(exc)[:300]}"
            self.say(f"{intake.display(row.name)}: {detail}")
            record_event(self.audit, "watch_error", row.sha256, name=intake.display(row.name), detail=detail)
            if row.state in (state.PENDING, state.SCANNING):
                self._reject(row, state.FAILED, f"the pipeline failed: {detail}", None, [])

    # --- steps ---

    def _take(self, name: bytes) -> None:
        """Copy the drop into a private work folder (what is scanned is what no uploader can write),
        then remove it and its companions from the drop folder."""
        source_url = intake.read_source(self._q(), name)
        signature = intake.read_signature(self._q(), name)
        row_id = self.store.add(name, "unknown", source_url)
        folder = str(row_id).encode()
        private.remove(self.work_fd, folder)  # a folder left by a crash before this row was committed
        os.mkdir(folder, 0o700, dir_fd=self.work_fd)
        row_fd = private.subdir(self.work_fd, folder.decode(), "work folder")
        self.settler.forget(name)
        try:
            q_fd = os.open(self._q(), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                kind, why = private.copy_in(q_fd, name, row_fd, INCOMING)
                if why:
                    # Refused: the drop leaves quarantine now (a link is removed, never its target).
                    with contextlib.suppress(FileNotFoundError):
                        private.remove(q_fd, name)
                    intake.remove_companions(self._q(), name)
                elif signature is not None:
                    private.write_file(row_fd, SIGNATURE_NAME, signature[1])
            finally:
                os.close(q_fd)
            if why is None:
                os.rename(INCOMING, self._work_name(name), src_dir_fd=row_fd, dst_dir_fd=row_fd)
        except BaseException:
            os.close(row_fd)
            raise
        if why:
            os.close(row_fd)
            self.store.set(row_id, state.PENDING, kind=kind)
            reasons = [] if "vanished" in why else ["refused_entry"]
            self._reject(self.store.get(row_id), state.REJECTED, why, None, reasons)
            return
        # While the scan runs (it reads the copy, never the drop): the copy is made durable, the
        # row's kind is committed, and only then the drop is removed. A row still of kind
        # "unknown" at start-up was interrupted before its drop was touched: taken again.
        finishing = _Finisher(row_fd, self._q(), name, self._work_name(name), self.store, row_id, kind)
        self._inflight_names.add(name)
        self._finishing[row_id] = finishing
        finishing.start()
        signed = f", signature {signature[0].decode()}" if signature else ""
        self.say(f"took {intake.display(name)} ({kind}{signed})")

    def _finish_take(self, row_id: int) -> None:
        """Wait until the copy is durable, its kind committed and the drop removed."""
        finishing = self._finishing.pop(row_id, None)
        if finishing is None:
            return
        finishing.join()
        self._inflight_names.discard(finishing.drop_name)
        if finishing.error is not None:
            raise finishing.error

    def _scan(self, row: state.Row) -> None:
        from gate import schemas
        from gate.document import parse_json
        from gate.evidence.admission import Request, collect_document

        path = self._work_path(row.id, row.name)
        if not os.path.lexists(path):
            self._reject(row, state.REJECTED, "the taken artifact is missing from the work folder", None, [])
            return
        self.store.start_scan(row.id)
        signature = os.path.join(os.path.dirname(path), SIGNATURE_NAME)
        has_signature = os.path.lexists(signature)
        request = Request(
            path=os.fsdecode(path),
            source_url=row.source_url,
            lock=self.config.lock,
            allowlist=self.config.allowlist,
            signature=os.fsdecode(signature) if has_signature else None,
            public_key=self.config.public_key if has_signature and _key_signed(signature) else None,
            trusted_root=self.config.trusted_root,
        )
        collected = collect_document(request, self.config.profile)
        collected["evidence"]["watch"] = {"manifest_signing_key": self.config.key is not None}
        self._finish_take(row.id)
        shown = os.path.join(str(self.config.quarantine), intake.display(row.name))
        collected["subject"]["ref"] = shown.encode("utf-8", "backslashreplace").decode("utf-8")[:2048]
        document = parse_json(
            "collected input document", json.dumps(collected, ensure_ascii=False).encode("utf-8")
        )
        problems = schemas.problems("input", document.value)
        if problems:
            raise GateError(
                f"collected input document does not match the input schema (a gate bug): {problems[0]}"
            )
        decision = self.decider.decide(document)
        sha = str(collected["subject"].get("digest", "")).removeprefix("sha256:") or None
        size = sum(int(f.get("size", 0)) for f in collected["evidence"]["artifact"].get("files", []))
        stored = self.audit.store_input(document.text.encode("utf-8"))
        entry = record_event(
            self.audit,
            "decision",
            f"sha256:{sha}" if sha else None,
            verdict=decision["verdict"],
            reasons=decision["reasons"],
            policy_digest=self.policy_digest,
            input_digest=f"sha256:{stored}",
            name=intake.display(row.name),
            stages={k: v.get("status") for k, v in decision.get("stages", {}).items()},
        )
        if decision["verdict"] == "promote":
            doc = manifest(
                name=row.name,
                document=collected,
                decision=decision,
                policy_digest=self.policy_digest,
                input_digest=f"sha256:{stored}",
                decision_entry=entry.entry_hash,
            )
            self.store.set(
                row.id,
                state.PASSED,
                sha256=sha,
                size=size,
                verdict="promote",
                reasons=json.dumps(decision["reasons"]),
                detail=json.dumps(doc),
            )
            self.say(f"{intake.display(row.name)}: passed")
            return
        reasons = list(decision["reasons"])
        final = state.REJECTED if reasons and set(reasons) <= REJECT_REASONS else state.FAILED
        self._reject(self.store.get(row.id), final, f"decided {decision['verdict']}", sha, reasons, size=size)

    def _reject(
        self,
        row: state.Row,
        final: str,
        detail: str,
        sha: str | None,
        reasons: list[str],
        size: int | None = None,
    ) -> None:
        """Record the rejection, then delete the artifact: nothing of it is kept."""
        with contextlib.suppress(Exception):  # the drop is removed whatever became of the copy
            self._finish_take(row.id)
        record_event(
            self.audit,
            "rejection",
            f"sha256:{sha}" if sha else None,
            verdict="block",
            reasons=reasons,
            policy_digest=self.policy_digest,
            name=intake.display(row.name),
            state=final,
            detail=detail,
        )
        self.store.set(
            row.id, final, sha256=sha, size=size, verdict="block", reasons=json.dumps(reasons), detail=detail
        )
        private.remove(self.work_fd, str(row.id).encode())
        self.say(f"{intake.display(row.name)}: {final.lower()} ({', '.join(reasons) or detail}); deleted")

    def _promote(self, row: state.Row) -> None:
        doc = json.loads(row.detail or "{}")
        source = self._work_path(row.id, row.name)
        registry = os.fsencode(self.config.registry)
        target = os.path.join(registry, row.name)
        if not os.path.lexists(source):
            # A crash after the move and before the state was written: the move happened.
            if self._already_promoted(target, row):
                self._promoted(row, doc, recovered=True)
                return
            self._reject(row, state.FAILED, "the passed artifact vanished before promotion", row.sha256, [])
            return
        try:
            doc = promote(
                source, registry, row.name, doc, self.config.key, enable_fsverity=self.config.fsverity
            )
        except PromotionError as exc:
            self._reject(row, state.FAILED, f"promotion refused: {exc}", row.sha256, ["promotion_refused"])
            return
        private.remove(self.work_fd, str(row.id).encode())
        self._promoted(row, doc, recovered=False)

    def _already_promoted(self, target: bytes, row: state.Row) -> bool:
        try:
            data = json.loads(Path(os.fsdecode(target + MANIFEST_SUFFIX)).read_bytes())
        except (OSError, ValueError):
            return False
        return os.path.lexists(target) and data.get("artifact", {}).get("sha256") == row.sha256

    def _promoted(self, row: state.Row, doc: dict[str, Any], recovered: bool) -> None:
        manifest_bytes = Path(
            os.fsdecode(os.path.join(os.fsencode(self.config.registry), row.name) + MANIFEST_SUFFIX)
        ).read_bytes()
        manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
        record_event(
            self.audit,
            "promotion",
            f"sha256:{row.sha256}",
            verdict="promote",
            policy_digest=self.policy_digest,
            name=intake.display(row.name),
            manifest_sha256=f"sha256:{manifest_sha}",
            fsverity_digest=json.loads(manifest_bytes).get("integrity", {}).get("fsverity_digest"),
            recovered=recovered,
        )
        final = state.PROMOTED if self.config.registry_url else state.ANNOUNCED
        self.store.set(row.id, final, detail=manifest_bytes.decode("utf-8"))
        self.say(f"{intake.display(row.name)}: promoted to {self.config.registry}")
        if self.config.registry_url:
            self._announce(self.store.get(row.id))

    def _announce(self, row: state.Row) -> None:
        assert self.config.registry_url
        text = row.detail or "{}"
        doc = json.loads(text)
        body = payload(doc, hashlib.sha256(text.encode("utf-8")).hexdigest())
        try:
            status = announce(self.config.registry_url, body, self.config.tokens)
        except AnnounceError as exc:
            delay = min(MAX_BACKOFF_S, self.config.poll_s * (2 ** min(row.announce_attempts, 10)))
            self.store.announce_failed(row.id, time.time() + delay, str(exc))
            record_event(
                self.audit,
                "announce_retry",
                f"sha256:{row.sha256}",
                name=intake.display(row.name),
                attempt=row.announce_attempts + 1,
                detail=str(exc),
                retry_in_s=delay,
            )
            self.say(f"{intake.display(row.name)}: registry API unavailable ({exc}); retry in {delay:g} s")
            return
        self.store.set(row.id, state.ANNOUNCED)
        record_event(
            self.audit, "announced", f"sha256:{row.sha256}", name=intake.display(row.name), status=status
        )
        self.say(f"{intake.display(row.name)}: announced to the registry API ({status})")


class _Finisher(threading.Thread):
    """fsync a taken copy, commit the row's kind, then remove the drop and its companions.

    Owns *row_fd*. The state store is SQLite in serialized threading mode, so
    this thread's one statement and the scan's never interleave inside SQLite.
    """

    def __init__(
        self,
        row_fd: int,
        quarantine: bytes,
        name: bytes,
        work_name: bytes,
        store: state.StateStore,
        row_id: int,
        kind: str,
    ) -> None:
        super().__init__(name="gate-watch-take", daemon=True)
        self.row_fd, self.quarantine, self.drop_name, self.work_name = row_fd, quarantine, name, work_name
        self.store, self.row_id, self.kind = store, row_id, kind
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            private.sync_tree(self.row_fd, self.work_name)  # the signature copy is fsynced when written
            self.store.set_kind(self.row_id, self.kind)
            q_fd = os.open(self.quarantine, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                with contextlib.suppress(FileNotFoundError):
                    private.remove(q_fd, self.drop_name)
            finally:
                os.close(q_fd)
            intake.remove_companions(self.quarantine, self.drop_name)
        except BaseException as exc:  # reported to the scan that waits for it
            self.error = exc
        finally:
            os.close(self.row_fd)


def run_service(config: WatchConfig, once: bool = False) -> int:
    """Run the watcher; SIGTERM/SIGINT finish the artifact in hand and stop."""
    import signal

    watcher = Watcher(config)
    try:
        if once:
            watcher.run_once()
            return 0

        def stop(signum: int, _frame: Any) -> None:
            watcher.stop.set()
            watcher.wake.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        watcher.run()
        return 0
    except GateError:
        raise
    finally:
        watcher.close()
