# METADATA
# title: Model lifecycle (registry of record)
# description: >-
#   Whether a model version may move draft -> candidate -> approved ->
#   deprecated -> retired (and candidate -> draft), and, for a scheduled
#   hygiene evaluation, whether an approved or deprecated version must be
#   retired. Evidence comes from the registry (gate registry request /
#   hygiene build the input); profile data sets roles, people, expiry,
#   freshness, thresholds and grace periods. A valid signed exception
#   waives one reason for one digest until a date, and is reported as waived.
package gate.lifecycle

import rego.v1

import data.gate.approval
import data.gate.lib

_catalog := data.gate.catalog["gate.lifecycle"]

_config := c if {
	c := data.gate.config
} else := {}

_cfg := object.get(_config, "lifecycle", {})

_reg := object.get(object.get(input, "evidence", {}), "record", {})

_req := object.get(input, "request", {})

_from := object.get(_req, "from", "")

_to := object.get(_req, "to", "")

_hygiene if _req.kind == "hygiene"

_subject := object.get(object.get(input, "subject", {}), "ref", "")

_digest := object.get(object.get(input, "subject", {}), "digest", "")

_now_ns := lib.timestamp_ns(input.gate.now)

_day_ns := (24 * 60) * 60000000000

_allowed := {
	["draft", "candidate"], ["candidate", "draft"], ["candidate", "approved"],
	["approved", "deprecated"], ["approved", "retired"], ["deprecated", "retired"],
}

_to_approved if {
	not _hygiene
	_to == "approved"
}

# Hygiene re-checks what approval required.
_recheck if _to_approved

_recheck if {
	_hygiene
	_from in {"approved", "deprecated"}
}

_list(key) := [x | some x in object.get(_reg, key, [])]

_latest(items, field) := item if {
	some item in items
	every other in items {
		object.get(other, field, "") <= object.get(item, field, "")
	}
}

# METADATA
# title: Transition not allowed
# description: >-
#   The lifecycle allows draft -> candidate, candidate -> draft, candidate ->
#   approved, approved -> deprecated, approved -> retired and deprecated ->
#   retired. Anything else (skipping a state, leaving retired) is refused.
# custom:
#   short_name: invalid_transition
#   failure_msg: "%s cannot go from %s to %s"
#   solution: Move the version through the lifecycle one allowed step at a time.
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	not _hygiene
	not [_from, _to] in _allowed
	result := lib.result(_catalog.invalid_transition, [_subject, _from, _to])
}

# METADATA
# title: No passing gate decision
# description: >-
#   A candidate must have passed the gate: a verified promote decision (a
#   signed gate attestation) for the artifact's digest, signed by a key the
#   profile lists (lifecycle.gate_signers) and made under a policy digest it
#   allows (lifecycle.gate_policy_digests).
# custom:
#   short_name: gate_decision_missing
#   failure_msg: "No verified promote decision for %s (digest %s)"
#   solution: Run gate eval on the artifact with --attest and attach the attestation.
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	_to_candidate
	not _passing_decision
	count(_promotes) == 0
	result := lib.result(_catalog.gate_decision_missing, [_subject, _digest])
}

# METADATA
# title: Gate decision by an untrusted signer
# description: >-
#   A promote decision for the artifact's digest verified, but only with a key
#   the governance profile does not list under lifecycle.gate_signers (for
#   instance a key the requester supplied with --key). Anyone can sign a
#   decision; only the listed signers' count.
# custom:
#   short_name: gate_decision_untrusted_signer
#   failure_msg: "The promote decision for %s is signed by key %s, which the profile does not list (lifecycle.gate_signers)"
#   solution: Have a gate whose key the profile lists decide the artifact, or add its key to the profile through its review.
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	_to_candidate
	not _passing_decision
	some d in _promotes
	not _trusted_signer(d)
	result := lib.result(_catalog.gate_decision_untrusted_signer, [_subject, object.get(d, "keyid", "")])
}

# METADATA
# title: Gate decision under a policy not allowed
# description: >-
#   A promote decision for the artifact's digest is signed by a listed gate
#   signer but was made under a policy digest the profile does not allow
#   (lifecycle.gate_policy_digests): another or an edited policy or profile.
# custom:
#   short_name: gate_decision_policy_not_allowed
#   failure_msg: "The promote decision for %s by %s was made under policy sha256:%s, which the profile does not allow (lifecycle.gate_policy_digests)"
#   solution: Decide the artifact with the policy and profile the governance profile names, or add that policy digest through the profile's review.
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	_to_candidate
	not _passing_decision
	some d in _promotes
	_trusted_signer(d)
	not _allowed_policy(d)
	result := lib.result(_catalog.gate_decision_policy_not_allowed, [_subject, d.signer, object.get(d, "policy_digest", "")])
}

_to_candidate if {
	not _hygiene
	_to == "candidate"
	_from == "draft"
}

# Verified promote decisions for this digest, by whomever they are signed.
_promotes contains d if {
	some d in _list("gate_decisions")
	d.verified == true
	d.verdict == "promote"
	d.digest == _digest
}

_trusted_signer(d) if {
	signer := object.get(d, "signer", "")
	signer != ""
	signer in object.keys(object.get(_cfg, "gate_signers", {}))
}

_allowed_policy(d) if {
	found := object.get(d, "policy_digest", "")
	found != ""
	some allowed in object.get(_cfg, "gate_policy_digests", [])
	trim_prefix(allowed, "sha256:") == trim_prefix(found, "sha256:")
}

_passing_decision if {
	some d in _promotes
	_trusted_signer(d)
	_allowed_policy(d)
}

# METADATA
# title: SBOM missing
# description: Approval needs an SBOM attached to the version.
# custom:
#   short_name: missing_sbom
#   failure_msg: "%s has no SBOM attached"
#   solution: gate registry attach NAME@VERSION --sbom FILE
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	_to_approved
	count(_list("sbom")) == 0
	result := lib.result(_catalog.missing_sbom, [_subject])
}

# METADATA
# title: Provenance missing
# description: Approval needs a provenance document attached to the version.
# custom:
#   short_name: missing_provenance
#   failure_msg: "%s has no provenance attached"
#   solution: gate registry attach NAME@VERSION --provenance FILE
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	_to_approved
	count(_list("provenance")) == 0
	result := lib.result(_catalog.missing_provenance, [_subject])
}

# METADATA
# title: Unresolved critical CVE
# description: >-
#   The latest vulnerability scan attached to the version reports critical
#   CVEs (or no scan is attached). Hygiene retires an approved version for it.
# custom:
#   short_name: critical_cve_unresolved
#   failure_msg: "%s: %s"
#   solution: Fix and rescan, or record a signed exception for the reason with an end date.
#   severity: critical
#   collections: [registry-governance]
deny contains result if {
	_recheck
	some why in _cve_problem
	result := lib.result(_catalog.critical_cve_unresolved, [_subject, why])
}

_cve_problem contains "no vulnerability scan is attached" if count(_list("scans")) == 0

_cve_problem contains sprintf("the latest scan reports critical %s", [concat(", ", sort(ids))]) if {
	scan := _latest(_list("scans"), "at")
	ids := {id | some id in object.get(scan, "critical", [])}
	count(ids) > 0
}

# METADATA
# title: Evaluation package missing
# description: Approval needs an evaluation package attached to the version.
# custom:
#   short_name: evals_missing
#   failure_msg: "%s has no evaluation package"
#   solution: gate registry attach NAME@VERSION --evals FILE
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	_recheck
	count(_list("evals")) == 0
	result := lib.result(_catalog.evals_missing, [_subject])
}

# METADATA
# title: Evaluation package stale
# description: >-
#   The latest evaluation predates the latest prompt or template change, or
#   is older than the profile's freshness window. Hygiene retires for it.
# custom:
#   short_name: evals_stale
#   failure_msg: "%s: %s"
#   solution: Re-run the evaluations and attach the new package.
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	_recheck
	some why in _stale
	result := lib.result(_catalog.evals_stale, [_subject, why])
}

_latest_eval := _latest(_list("evals"), "evaluated_at")

_stale contains sprintf("evaluated %s, before the prompt/template change of %s", [_latest_eval.evaluated_at, changed]) if {
	changed := object.get(_reg, "prompts_changed_at", "")
	lib.timestamp_ns(changed) > lib.timestamp_ns(_latest_eval.evaluated_at)
}

# A time the policy cannot read is never fresh.
_stale contains sprintf("evaluation time %q is not an RFC 3339 timestamp", [_latest_eval.evaluated_at]) if {
	not lib.timestamp_ns(_latest_eval.evaluated_at)
}

_stale contains sprintf("the prompt/template change time %q is not an RFC 3339 timestamp", [changed]) if {
	changed := object.get(_reg, "prompts_changed_at", null)
	is_string(changed)
	not lib.timestamp_ns(changed)
}

_stale contains sprintf("evaluated %s, more than %d days ago", [_latest_eval.evaluated_at, days]) if {
	days := object.get(_cfg, "eval_max_age_days", 90)
	_now_ns - lib.timestamp_ns(_latest_eval.evaluated_at) > days * _day_ns
}

# METADATA
# title: Evaluation scores below threshold
# description: A score in the latest evaluation package is below the profile's minimum (or missing).
# custom:
#   short_name: evals_below_threshold
#   failure_msg: "%s: %s"
#   solution: Improve the model or change the thresholds through the profile's review.
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	_to_approved
	some name, minimum in object.get(_cfg, "score_minimums", {})
	score := object.get(object.get(_latest_eval, "scores", {}), name, null)
	not _at_least(score, minimum)
	result := lib.result(_catalog.evals_below_threshold, [_subject, sprintf("%s is %v, minimum %v", [name, score, minimum])])
}

_at_least(score, minimum) if {
	is_number(score)
	score >= minimum
}

# METADATA
# title: Owner missing
# description: The record names no owner or no backup owner. Hygiene retires unowned versions.
# custom:
#   short_name: owner_missing
#   failure_msg: "%s has no %s"
#   solution: Register a new version (records are immutable) with an owner and a backup owner.
#   severity: high
#   collections: [registry-governance]
deny contains result if {
	_recheck
	some field in ["owner", "backup_owner"]
	lib.blank(object.get(_reg, field, ""))
	result := lib.result(_catalog.owner_missing, [_subject, field])
}

# METADATA
# title: Replacement not named
# description: Deprecation needs a replacement version named (new usage moves to it).
# custom:
#   short_name: replacement_missing
#   failure_msg: "%s cannot be deprecated without a replacement"
#   solution: gate registry request NAME@VERSION --to deprecated --replacement NAME@NEWER
#   severity: medium
#   collections: [registry-governance]
deny contains result if {
	not _hygiene
	_to == "deprecated"
	lib.blank(object.get(_reg, "replacement", ""))
	result := lib.result(_catalog.replacement_missing, [_subject])
}

# METADATA
# title: Deprecation grace period over
# description: A deprecated version past the profile's grace period is retired by hygiene.
# custom:
#   short_name: deprecation_grace_expired
#   failure_msg: "%s was deprecated at %s, more than %d days ago"
#   solution: Move the remaining users to the replacement; retirement is the point of the grace period.
#   severity: medium
#   collections: [registry-governance]
deny contains result if {
	_hygiene
	_from == "deprecated"
	at := object.get(_reg, "deprecated_at", "")
	days := object.get(_cfg, "deprecation_grace_days", 30)
	_now_ns - lib.timestamp_ns(at) > days * _day_ns
	result := lib.result(_catalog.deprecation_grace_expired, [_subject, at, days])
}

# Approvals (gate.approval) for approval, and re-checked by hygiene.
_approval_ctx := {
	"approvals": approval.with_signed_ns(_list("approvals")),
	"required": object.get(object.get(_cfg, "roles", {}), object.get(_reg, "risk_rating", "critical"), ["platform", "product", "security"]),
	"submitter": object.get(_reg, "submitter", ""),
	"digest": _digest,
	"version": object.get(_reg, "version", ""),
	"people": object.get(_cfg, "people", {}),
	"ttl_days": object.get(_cfg, "approval_ttl_days", 90),
	"now_ns": _now_ns,
	"skew_seconds": _skew_seconds,
	"subject": _subject,
}

_skew_seconds := object.get(_cfg, "clock_skew_seconds", 300)

_approval_problems := approval.problems(_approval_ctx) if _recheck

else := set()

# --- exceptions: one reason, one digest, until a date, signed (not after now) by an allowed role ---

_waivable contains e.code if {
	some e in _list("exceptions")
	e.verified == true
	e.digest == _digest
	lib.timestamp_ns(e.until) > _now_ns
	lib.timestamp_ns(e.signed_at) - _now_ns <= _skew_seconds * 1000000000
	e.role in object.get(_cfg, "exception_roles", ["security"])
	e.role in object.get(object.get(object.get(_cfg, "people", {}), e.approver, {}), "roles", [])
}

_all := {r | some r in deny; lib.applies(_catalog[r.code])} | _approval_problems

waived := [r | some r in _all; r.code in _waivable]

_blocking := {r | some r in _all; not r.code in _waivable}

# Approval reasons come after the lifecycle's own, in their file's order.
_approval_order := {code: object.union(entry, {"order": entry.order + 1000}) |
	some code, entry in data.gate.catalog["gate.approval"]
}

_order := object.union(_approval_order, _catalog)

fired := lib.ordered(_order, _blocking)

# Hygiene may always retire; "to" says whether it does.
transition := {"from": _from, "to": _retire_to, "allowed": true, "kind": "hygiene"} if {
	_hygiene
} else := {"from": _from, "to": _to, "allowed": count(fired) == 0, "kind": "transition"}

# Hygiene: anything wrong retires (the transition the decision asks for).
_retire_to := "retired" if count(fired) > 0

else := _from

# METADATA
# title: Transition allowed
# description: >-
#   Every requirement of the transition asked holds (or, for hygiene, the
#   version keeps its state); waived reasons are listed beside the decision.
# custom:
#   short_name: transition_allowed
#   failure_msg: "%s may go from %s to %s"
#   solution: Record the transition (gate registry request records it when allowed).
#   severity: info
#   collections: [registry-governance]
allowed_note contains result if {
	count(fired) == 0
	result := lib.result(_catalog.transition_allowed, [_subject, _from, transition.to])
}

outcome := {
	"verdict": "promote",
	"evidence_level": "live",
	"results": lib.ordered(_catalog, allowed_note),
	"transition": transition,
	"waived": lib.ordered(_order, {r | some r in waived}),
} if {
	count(fired) == 0
} else := {
	"verdict": "block",
	"evidence_level": "live",
	"results": fired,
	"transition": transition,
	"waived": lib.ordered(_order, {r | some r in waived}),
}
