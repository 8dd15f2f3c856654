"""Serving windows: which approved version serves a deployment when, and how a window ends.

A window is recorded with a start and, optionally, an end. An open window
ends when a close record is appended for it (``close``) — nothing is ever
updated — and a handover (``serve(..., handover=True)``) closes the
deployment's open window and opens the next one at the same instant, in one
transaction. A window's end is its ``ends`` or its close's; overlaps are
refused here and by the database (migration 0004). A close is never
backdated (beyond a small clock-skew allowance): what the registry answered
about the past does not change.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from gate.errors import InputError

if TYPE_CHECKING:
    from gate.registry.store import Store

CLOSE_SKEW = timedelta(minutes=5)
"""How far before now a close (or handover) may be dated."""


def _end() -> Any:
    from sqlalchemy import func

    from gate.registry.models import ServingWindow, ServingWindowClose

    return func.coalesce(ServingWindow.ends, ServingWindowClose.ends)


def _windows(*columns: Any) -> Any:
    from sqlalchemy import select

    from gate.registry.models import ServingWindow, ServingWindowClose

    return select(*columns).outerjoin(ServingWindowClose, ServingWindowClose.window_id == ServingWindow.id)


def _open_window(session: Any, deployment: str) -> Any:
    """(window, name, version, checksum) of the deployment's open window, or None."""
    from gate.registry.models import ModelVersion, ServingWindow

    return session.execute(
        _windows(ServingWindow, ModelVersion.name, ModelVersion.version, ModelVersion.checksum)
        .join(ModelVersion, ModelVersion.id == ServingWindow.model_version_id)
        .where(ServingWindow.deployment == deployment, _end().is_(None))
    ).first()


def _close(store: Store, session: Any, deployment: str, at: datetime) -> dict[str, Any]:
    """Append the close of *deployment*'s open window at *at*; its event."""
    from gate.registry.models import ServingWindowClose
    from gate.registry.store import RegistryError, _iso

    found = _open_window(session, deployment)
    if found is None:
        raise RegistryError(f"deployment {deployment!r}: no open serving window to close")
    window, name, version, checksum = found
    now = datetime.now(timezone.utc)
    if at < now - CLOSE_SKEW:
        raise RegistryError(
            f"deployment {deployment!r}: a window cannot be closed in the past ({_iso(at)}): "
            "what the registry answered for that time would change"
        )
    starts = window.starts if window.starts.tzinfo else window.starts.replace(tzinfo=timezone.utc)
    if at <= starts:
        raise RegistryError(
            f"deployment {deployment!r}: the open window of {name}@{version} starts at {_iso(starts)}; "
            f"it cannot close at {_iso(at)}"
        )
    session.add(ServingWindowClose(window_id=window.id, ends=at, recorded_at=now, recorded_by=store.actor))
    session.flush()
    data = {"deployment": deployment, "from": _iso(starts), "to": _iso(at), "checksum": checksum}
    return dict(store._event(session, "close-window", f"{name}@{version}", data))


def serve(
    store: Store,
    name: str,
    version: str,
    deployment: str,
    starts: datetime,
    ends: datetime | None,
    *,
    handover: bool = False,
) -> dict[str, Any]:
    """Record that an approved version serves *deployment* from *starts* (to *ends*).

    With *handover*, the deployment's open window is closed at *starts* first."""
    from sqlalchemy import and_, or_

    from gate.registry.models import ServingWindow
    from gate.registry.store import RegistryError, _iso, utc

    starts, ends = utc(starts), utc(ends) if ends else None
    if ends is not None and ends <= starts:
        raise InputError(f"--to {_iso(ends)} is not after --from {_iso(starts)}")

    def change(session: Any) -> list[dict[str, Any]]:
        found = store._version(session, name, version)
        state, _ = store._state(session, found.id)
        if state != "approved":
            raise RegistryError(
                f"{name}@{version}: is {state}; only an approved version may get a new serving window"
            )
        events = [_close(store, session, deployment, starts)] if handover else []
        end = _end()
        overlap = [ServingWindow.deployment == deployment, or_(end.is_(None), end > starts)]
        if ends is not None:
            overlap.append(ServingWindow.starts < ends)
        clash = session.execute(_windows(ServingWindow.id).where(and_(*overlap))).first()
        if clash:
            hint = "" if handover else " (an open one ends with gate registry close-window, or --handover)"
            raise RegistryError(f"deployment {deployment!r}: the window overlaps a recorded one{hint}")
        session.add(
            ServingWindow(
                model_version_id=found.id,
                deployment=deployment,
                starts=starts,
                ends=ends,
                recorded_at=datetime.now(timezone.utc),
                recorded_by=store.actor,
            )
        )
        session.flush()
        data = {"deployment": deployment, "from": _iso(starts), "to": _iso(ends), "checksum": found.checksum}
        if handover:
            data["handover_from"] = events[0]["subject"]
        events.append(store._event(session, "serve-window", f"{name}@{version}", data))
        return events

    for event in store._write(change):
        store._audit(event, None)
    result = {
        "name": name,
        "version": version,
        "deployment": deployment,
        "from": _iso(starts),
        "to": _iso(ends),
    }
    return result


def close(store: Store, deployment: str, at: datetime | None = None) -> dict[str, Any]:
    """Close *deployment*'s open window at *at* (default now)."""
    from gate.registry.store import utc

    when = utc(at) if at is not None else datetime.now(timezone.utc)
    event = store._write(lambda session: _close(store, session, deployment, when))
    store._audit(event, None)
    return {
        "deployment": deployment,
        "version": event["subject"],
        **{k: event["data"][k] for k in ("from", "to")},
    }


def served(store: Store, deployment: str, at: datetime) -> dict[str, Any] | None:
    """Which version served *deployment* at *at* (None: nothing was recorded)."""
    from sqlalchemy import or_

    from gate.registry.models import ModelVersion, ServingWindow
    from gate.registry.store import _iso, utc

    at = utc(at)
    end = _end()
    with store._tx() as session:
        row = session.execute(
            _windows(
                ModelVersion.name, ModelVersion.version, ModelVersion.checksum, ServingWindow.starts, end
            )
            .join(ModelVersion, ModelVersion.id == ServingWindow.model_version_id)
            .where(
                ServingWindow.deployment == deployment,
                ServingWindow.starts <= at,
                or_(end.is_(None), end > at),
            )
        ).first()
    if row is None:
        return None
    return {
        "deployment": deployment,
        "at": _iso(at),
        "name": row[0],
        "version": row[1],
        "checksum": row[2],
        "from": _iso(row[3]),
        "to": _iso(row[4]),
    }
