# METADATA
# title: Approvals
# description: >-
#   Who must approve, and which approvals count: an approval counts only when
#   its signature verified against the key the profile lists for that person
#   (gate records the verification; this package decides), the person holds
#   the role, it is bound to this version and artifact digest, it has not
#   expired, it was not signed after now (beyond the context's clock-skew
#   allowance), and its signer is not the submitter. Each required role needs
#   its own approver. Reused by the registry lifecycle and the skills pipeline:
#   callers pass a context object.
package gate.approval

import rego.v1

import data.gate.lib

_catalog := data.gate.catalog["gate.approval"]

# ctx: {approvals: [...], required: [role...], submitter, digest, version,
#       people: {id: {roles: [...]}}, ttl_days, now_ns, skew_seconds (default 300)}

_day_ns := (24 * 60) * 60000000000

# When an approval was signed, in ns. Each approval is judged once per
# required role, so callers pass approvals through with_signed_ns, which
# parses every signing time once (the parse was most of a decision's cost).
_signed(a) := a.signed_ns if {
	is_number(object.get(a, "signed_ns", null))
} else := lib.timestamp_ns(a.signed_at)

# with_signed_ns annotates approvals with their parsed signing time (absent
# when it does not parse, which counts as expired); a signed_ns already in
# the input is dropped, never trusted.
with_signed_ns(approvals) := [object.union(object.remove(a, ["signed_ns"]), _ns(a)) | some a in approvals]

_ns(a) := {"signed_ns": ns} if {
	ns := lib.timestamp_ns(a.signed_at)
} else := {}

_expired(ctx, a) if {
	signed := _signed(a)
	ctx.now_ns - signed > ctx.ttl_days * _day_ns
}

_expired(ctx, a) if not _signed(a)

_skew_ns(ctx) := object.get(ctx, "skew_seconds", 300) * 1000000000

# Signed after now (beyond the clock-skew allowance): it would count before it
# was made and expire only after its lifetime from that future date.
future(ctx, a) if _signed(a) - ctx.now_ns > _skew_ns(ctx)

_holds(ctx, a) if a.role in object.get(object.get(ctx.people, a.approver, {}), "roles", [])

_bound(ctx, a) if {
	a.digest == ctx.digest
	a.version == ctx.version
}

# An approval that counts for its role.
valid(ctx, a) if {
	a.verified == true
	_holds(ctx, a)
	_bound(ctx, a)
	not _expired(ctx, a)
	not future(ctx, a)
	a.approver != ctx.submitter
}

_valid_for(ctx, role) := {a.approver | some a in ctx.approvals; a.role == role; valid(ctx, a)}

# Roles that some valid approval covers, each by whom.
_covered(ctx) := {role: _valid_for(ctx, role) | some role in ctx.required}

# METADATA
# title: Required approval missing
# description: >-
#   A role the profile requires for this risk rating has no approval that
#   counts (verified signature by a listed holder of the role, for this
#   version and digest, unexpired, not by the submitter).
# custom:
#   short_name: approval_missing_role
#   failure_msg: "No valid %s approval for %s"
#   solution: Have a holder of the role sign an approval for this exact version and digest.
#   severity: high
#   collections: [registry-governance, skills-quarantine]
_missing_role(ctx, covered) := {lib.result(_catalog.approval_missing_role, [role, ctx.subject]) |
	some role in ctx.required
	count(covered[role]) == 0
}

missing_role(ctx) := _missing_role(ctx, _covered(ctx))

# METADATA
# title: Approval expired
# description: >-
#   An approval for a required role was signed longer ago than the profile's
#   approval lifetime (default 90 days).
# custom:
#   short_name: approval_expired
#   failure_msg: "The %s approval by %s expired (signed %s)"
#   solution: Re-approve; approvals expire so a standing yes is re-examined.
#   severity: medium
#   collections: [registry-governance, skills-quarantine]
expired(ctx) := {lib.result(_catalog.approval_expired, [a.role, a.approver, a.signed_at]) |
	some a in ctx.approvals
	a.role in ctx.required
	a.verified == true
	_bound(ctx, a)
	_expired(ctx, a)
}

# METADATA
# title: Approval dated in the future
# description: >-
#   An approval for a required role says it was signed after now, beyond the
#   profile's clock-skew allowance (lifecycle.clock_skew_seconds, default 300).
#   It does not count: a future date would make it outlive its lifetime.
# custom:
#   short_name: approval_signed_in_future
#   failure_msg: "The %s approval by %s is dated %s, after now"
#   solution: Re-sign the approval with the signer's clock set right.
#   severity: high
#   collections: [registry-governance, skills-quarantine]
signed_in_future(ctx) := {lib.result(_catalog.approval_signed_in_future, [a.role, a.approver, a.signed_at]) |
	some a in ctx.approvals
	a.role in ctx.required
	a.verified == true
	_bound(ctx, a)
	future(ctx, a)
}

# METADATA
# title: Approval does not verify
# description: >-
#   An approval's signature did not verify against the key the profile lists
#   for the person it names, or the person does not hold the role it claims,
#   or it is for another version or digest, and no valid approval covers its
#   role. "Who approved" is cryptographic.
# custom:
#   short_name: approval_unverified
#   failure_msg: "The %s approval naming %s does not count: %s"
#   solution: Sign the approval with the key the profile lists for that person, for this version and digest.
#   severity: high
#   collections: [registry-governance, skills-quarantine]
_unverified(ctx, covered) := {lib.result(_catalog.approval_unverified, [a.role, a.approver, why]) |
	some a in ctx.approvals
	_uncovered(covered, a.role)
	some why in _unverified_why(ctx, a)
}

unverified(ctx) := _unverified(ctx, _covered(ctx))

# A statement that does not count explains a missing role; once the role is covered by
# a valid approval it is only noise (and must not let anyone block a version by
# recording a forged statement).
# (covered has a key for each required role, so a role not required is never uncovered.)
_uncovered(covered, role) if count(covered[role]) == 0

_unverified_why(ctx, a) := {why |
	a.verified != true
	why := object.get(a, "error", "the signature does not verify")
} | {"the person does not hold the role in the profile" |
	a.verified == true
	not _holds(ctx, a)
} | {"it is for another version or artifact digest" |
	a.verified == true
	not _bound(ctx, a)
}

# METADATA
# title: Self-approval
# description: >-
#   The submitter of the version signed the only approval of a required role;
#   it does not count.
# custom:
#   short_name: self_approval
#   failure_msg: "%s approved their own submission as %s"
#   solution: Approvals must come from people other than the submitter.
#   severity: high
#   collections: [registry-governance, skills-quarantine]
_self_approval(ctx, covered) := {lib.result(_catalog.self_approval, [a.approver, a.role]) |
	some a in ctx.approvals
	a.verified == true
	a.approver == ctx.submitter
	_uncovered(covered, a.role)
}

self_approval(ctx) := _self_approval(ctx, _covered(ctx))

# METADATA
# title: Approvers not distinct
# description: >-
#   The same person is the only valid approver for two required roles: each
#   required role needs its own person.
# custom:
#   short_name: approvers_not_distinct
#   failure_msg: "%s is the only approver for %s"
#   solution: Have a different holder sign for one of the roles.
#   severity: high
#   collections: [registry-governance, skills-quarantine]
_not_distinct(ctx, covered) := {lib.result(_catalog.approvers_not_distinct, [person, concat(" and ", sort(roles))]) |
	some person in {p | some role in ctx.required; some p in covered[role]}
	roles := {role | some role in ctx.required; covered[role] == {person}}
	count(roles) > 1
}

not_distinct(ctx) := _not_distinct(ctx, _covered(ctx))

# Every approval problem for ctx (each role's valid approvers derived once).
problems(ctx) := _problems(ctx, _covered(ctx))

_problems(ctx, covered) := ((((_missing_role(ctx, covered) | expired(ctx)) | signed_in_future(ctx)) | _unverified(ctx, covered)) | _self_approval(ctx, covered)) | _not_distinct(ctx, covered)
