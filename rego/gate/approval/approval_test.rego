package gate.approval_test

import rego.v1

import data.gate.approval
import data.gate.lib

# The skills pipeline's use: two roles, security and runtime-owner, each needing its own person.

_digest := "sha256:abababababababababababababababababababababababababababababababab"

_other_digest := "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

_people := {
	"sec": {"roles": ["security"]},
	"run": {"roles": ["runtime-owner"]},
	"two-hats": {"roles": ["security", "runtime-owner"]},
	"dev": {"roles": ["security"]},
}

_a(role, who) := {
	"role": role, "approver": who, "digest": _digest, "version": "1.0.0",
	"signed_at": "2026-11-01T00:00:00Z", "verified": true,
}

_ctx(approvals) := {
	"approvals": approvals,
	"required": ["security", "runtime-owner"],
	"submitter": "dev",
	"digest": _digest,
	"version": "1.0.0",
	"people": _people,
	"ttl_days": 90,
	"now_ns": lib.timestamp_ns("2026-11-23T00:00:00Z"),
	"subject": "web-search@1.0.0",
}

_valid := [_a("security", "sec"), _a("runtime-owner", "run")]

codes(ctx) := {r.code | some r in approval.problems(ctx)}

messages(ctx) := {r.message | some r in approval.problems(ctx)}

test_two_distinct_holders_of_the_two_roles_pass if {
	approval.problems(_ctx(_valid)) == set()
	every a in _valid {
		approval.valid(_ctx(_valid), a)
	}
}

test_a_role_without_an_approval_is_missing if {
	messages(_ctx([_a("security", "sec")])) == {"No valid runtime-owner approval for web-search@1.0.0"}
	codes(_ctx([])) == {"approval_missing_role"}
	count(approval.problems(_ctx([]))) == 2
}

test_an_approval_older_than_its_lifetime_expired if {
	old := object.union(_a("runtime-owner", "run"), {"signed_at": "2026-08-01T00:00:00Z"})
	ctx := _ctx([_a("security", "sec"), old])
	not approval.valid(ctx, old)
	messages(ctx) == {
		"The runtime-owner approval by run expired (signed 2026-08-01T00:00:00Z)",
		"No valid runtime-owner approval for web-search@1.0.0",
	}
	# A longer lifetime keeps it.
	approval.problems(object.union(ctx, {"ttl_days": 200})) == set()
}

test_an_approval_signed_after_now_does_not_count if {
	ahead := object.union(_a("runtime-owner", "run"), {"signed_at": "2027-01-01T00:00:00Z"})
	ctx := _ctx([_a("security", "sec"), ahead])
	not approval.valid(ctx, ahead)
	messages(ctx) == {
		"The runtime-owner approval by run is dated 2027-01-01T00:00:00Z, after now",
		"No valid runtime-owner approval for web-search@1.0.0",
	}
	# Six months on it would still be "unexpired" were it counted: it is not valid then either
	# (it is refused until now reaches it, and expires ttl_days after the date it claims).
	later := object.union(ctx, {"now_ns": lib.timestamp_ns("2026-12-31T23:00:00Z")})
	not approval.valid(later, ahead)
	# Within the clock-skew allowance (default 300 s) it counts; a context may set its own.
	near := object.union(_a("runtime-owner", "run"), {"signed_at": "2026-11-23T00:04:59Z"})
	approval.problems(_ctx([_a("security", "sec"), near])) == set()
	tight := object.union(_ctx([_a("security", "sec"), near]), {"skew_seconds": 60})
	codes(tight) == {"approval_signed_in_future", "approval_missing_role"}
	# with_signed_ns gives the same answer
	codes(_ctx(approval.with_signed_ns([_a("security", "sec"), ahead]))) == {"approval_signed_in_future", "approval_missing_role"}
}

test_an_unreadable_signing_time_counts_as_expired if {
	bad := object.union(_a("runtime-owner", "run"), {"signed_at": "last tuesday"})
	ctx := _ctx([_a("security", "sec"), bad])
	not approval.valid(ctx, bad)
	codes(ctx) == {"approval_expired", "approval_missing_role"}
}

test_an_unverified_signature_says_why if {
	forged := object.union(_a("runtime-owner", "run"), {"verified": false, "error": "the signature does not verify with the key listed for run"})
	messages(_ctx([_a("security", "sec"), forged])) == {
		"The runtime-owner approval naming run does not count: the signature does not verify with the key listed for run",
		"No valid runtime-owner approval for web-search@1.0.0",
	}
	silent := object.union(_a("runtime-owner", "run"), {"verified": false})
	messages(_ctx([_a("security", "sec"), silent])) == {
		"The runtime-owner approval naming run does not count: the signature does not verify",
		"No valid runtime-owner approval for web-search@1.0.0",
	}
}

test_a_person_not_holding_the_role_does_not_count if {
	# sec holds security only; nobody listed as "mallory" at all.
	for_sec := _a("runtime-owner", "sec")
	messages(_ctx([_a("security", "sec"), for_sec])) == {
		"The runtime-owner approval naming sec does not count: the person does not hold the role in the profile",
		"No valid runtime-owner approval for web-search@1.0.0",
	}
	stranger := _a("runtime-owner", "mallory")
	not approval.valid(_ctx([stranger]), stranger)
	codes(_ctx([_a("security", "sec"), stranger])) == {"approval_unverified", "approval_missing_role"}
}

test_a_new_version_or_digest_voids_the_approvals if {
	why := "it is for another version or artifact digest"
	new_version := object.union(_ctx(_valid), {"version": "1.0.1", "subject": "web-search@1.0.1"})
	messages(new_version) == {
		sprintf("The security approval naming sec does not count: %s", [why]),
		sprintf("The runtime-owner approval naming run does not count: %s", [why]),
		"No valid security approval for web-search@1.0.1",
		"No valid runtime-owner approval for web-search@1.0.1",
	}
	new_digest := object.union(_ctx(_valid), {"digest": _other_digest})
	codes(new_digest) == {"approval_unverified", "approval_missing_role"}
	count(approval.problems(new_digest)) == 4
}

test_a_statement_that_does_not_count_is_ignored_once_its_role_is_covered if {
	forged := object.union(_a("runtime-owner", "mallory"), {"verified": false})
	approval.problems(_ctx(array.concat(_valid, [forged]))) == set()
}

test_the_submitter_cannot_approve_their_own_version if {
	own := _a("security", "dev")
	ctx := _ctx([own, _a("runtime-owner", "run")])
	not approval.valid(ctx, own)
	messages(ctx) == {
		"dev approved their own submission as security",
		"No valid security approval for web-search@1.0.0",
	}
	# Another holder's approval covers the role: the self-approval is then not reported.
	approval.problems(_ctx([own, _a("security", "sec"), _a("runtime-owner", "run")])) == set()
}

test_one_person_cannot_cover_two_roles if {
	both := [_a("security", "two-hats"), _a("runtime-owner", "two-hats")]
	messages(_ctx(both)) == {"two-hats is the only approver for runtime-owner and security"}
	# With a second holder of one of the roles, each role has its own person.
	approval.problems(_ctx(array.concat(both, [_a("security", "sec")]))) == set()
}

test_only_required_roles_are_checked if {
	ctx := object.union(_ctx([_a("security", "sec")]), {"required": ["security"]})
	approval.problems(ctx) == set()
	extra := _a("auditor", "sec")
	approval.problems(_ctx(array.concat(_valid, [extra]))) == set()
}

test_each_rule_alone_agrees_with_problems if {
	both := [_a("security", "two-hats"), _a("runtime-owner", "two-hats")]
	own := _a("security", "dev")
	forged := object.union(_a("runtime-owner", "run"), {"verified": false})
	old := object.union(_a("security", "sec"), {"signed_at": "2026-01-01T00:00:00Z"})
	ahead := object.union(_a("runtime-owner", "run"), {"signed_at": "2027-01-01T00:00:00Z"})
	every approvals in [_valid, both, [own, forged], [old], [ahead], []] {
		ctx := _ctx(approvals)
		all := ((((approval.missing_role(ctx) | approval.expired(ctx)) | approval.signed_in_future(ctx)) | approval.unverified(ctx)) | approval.self_approval(ctx)) | approval.not_distinct(ctx)
		all == approval.problems(ctx)
	}
	{r.code | some r in approval.not_distinct(_ctx(both))} == {"approvers_not_distinct"}
	{r.code | some r in approval.self_approval(_ctx([own, forged]))} == {"self_approval"}
	{r.code | some r in approval.unverified(_ctx([own, forged]))} == {"approval_unverified"}
	count(approval.missing_role(_ctx([own, forged]))) == 2
}

test_with_signed_ns_parses_once_and_never_trusts_the_input if {
	annotated := approval.with_signed_ns([_a("security", "sec")])
	annotated[0].signed_ns == lib.timestamp_ns("2026-11-01T00:00:00Z")
	unreadable := approval.with_signed_ns([object.union(_a("security", "sec"), {"signed_at": "yesterday"})])
	not "signed_ns" in object.keys(unreadable[0])
	old := object.union(_a("security", "sec"), {"signed_at": "2026-01-01T00:00:00Z", "signed_ns": lib.timestamp_ns("2026-11-20T00:00:00Z")})
	"approval_expired" in codes(_ctx(approval.with_signed_ns([old, _a("runtime-owner", "run")])))
	approval.problems(_ctx(approval.with_signed_ns(_valid))) == set()
}
