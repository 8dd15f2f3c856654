package gate.lifecycle_test

import rego.v1

_digest := "sha256:abababababababababababababababababababababababababababababababab"

_config := {
	"profile": {"name": "registry-governance", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"},
	"policy": "lifecycle",
	"collections": ["registry-governance"],
	"exclude": [],
	"lifecycle": {
		"roles": {"high": ["platform", "product", "security"], "low": ["platform", "product"]},
		"approval_ttl_days": 90,
		"eval_max_age_days": 90,
		"score_minimums": {"quality": 0.8, "safety": 0.9},
		"deprecation_grace_days": 30,
		"exception_roles": ["security"],
		"gate_signers": {"ci-gate": {"public_key": "-----BEGIN PUBLIC KEY-----..."}},
		"gate_policy_digests": ["sha256:1111111111111111111111111111111111111111111111111111111111111111"],
		"people": {
			"pat": {"roles": ["platform"]},
			"pia": {"roles": ["product"]},
			"sam": {"roles": ["security"]},
			"two-hats": {"roles": ["platform", "product"]},
		},
	},
}

_approval(role, who) := {
	"role": role, "approver": who, "digest": _digest, "version": "1.2.0",
	"signed_at": "2026-11-01T00:00:00Z", "verified": true,
}

_approvals := [_approval("platform", "pat"), _approval("product", "pia"), _approval("security", "sam")]

_registry := {
	"version": "1.2.0",
	"risk_rating": "high",
	"owner": "alice@example.org",
	"backup_owner": "bob@example.org",
	"submitter": "ci-bot",
	"prompts_changed_at": "2026-10-01T00:00:00Z",
	"sbom": [{"sha256": _digest, "at": "2026-11-02T00:00:00Z"}],
	"provenance": [{"sha256": _digest, "at": "2026-11-02T00:00:00Z"}],
	"scans": [{"sha256": _digest, "at": "2026-11-02T00:00:00Z", "critical": []}],
	"evals": [{"sha256": _digest, "evaluated_at": "2026-11-10T00:00:00Z", "scores": {"quality": 0.91, "safety": 0.97}}],
	"gate_decisions": [_decision],
	"approvals": _approvals,
	"exceptions": [],
}

_policy := "1111111111111111111111111111111111111111111111111111111111111111"

_decision := {"digest": _digest, "verdict": "promote", "verified": true, "signer": "ci-gate", "keyid": "aa11", "policy_digest": _policy}

doc(from, to, changes) := {
	"gate": {"version": "1", "mode": "runtime", "now": "2026-11-23T00:00:00Z"},
	"subject": {"kind": "model-version", "ref": "llama-guard@1.2.0", "digest": _digest},
	"request": {"kind": "transition", "from": from, "to": to},
	"evidence": {"record": object.union(_registry, changes)},
}

hygiene(from, changes) := json.patch(doc(from, from, changes), [{"op": "replace", "path": "/request", "value": {"kind": "hygiene", "from": from}}])

decide(doc) := d if {
	d := data.gate.main.decision with input as doc with data.gate.config as _config
}

reasons(d) := decide(d).reasons

test_a_complete_version_is_approved if {
	d := decide(doc("candidate", "approved", {}))
	d.verdict == "promote"
	d.reasons == ["transition_allowed"]
	d.transition == {"from": "candidate", "to": "approved", "allowed": true, "kind": "transition"}
	d.waived == []
}

test_allowed_and_refused_transitions if {
	decide(doc("draft", "candidate", {})).verdict == "promote"
	decide(doc("candidate", "draft", {})).verdict == "promote"
	decide(doc("approved", "deprecated", {"replacement": "llama-guard@1.3.0"})).verdict == "promote"
	decide(doc("approved", "retired", {})).verdict == "promote"
	decide(doc("deprecated", "retired", {})).verdict == "promote"
	reasons(doc("draft", "approved", {})) == ["invalid_transition"]
	reasons(doc("retired", "approved", {})) == ["invalid_transition"]
	reasons(doc("deprecated", "approved", {})) == ["invalid_transition"]
	decide(doc("draft", "approved", {})).transition.allowed == false
}

test_candidate_needs_a_verified_promote_decision_for_the_digest if {
	reasons(doc("draft", "candidate", {"gate_decisions": []})) == ["gate_decision_missing"]
	other := [object.union(_decision, {"digest": "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"})]
	reasons(doc("draft", "candidate", {"gate_decisions": other})) == ["gate_decision_missing"]
	unsigned := [object.union(_decision, {"verified": false})]
	reasons(doc("draft", "candidate", {"gate_decisions": unsigned})) == ["gate_decision_missing"]
	blocked := [object.union(_decision, {"verdict": "block"})]
	reasons(doc("draft", "candidate", {"gate_decisions": blocked})) == ["gate_decision_missing"]
}

test_a_decision_signed_by_a_key_the_profile_does_not_list_is_refused if {
	# verified with the requester's own --key: no profile signer named
	own := [object.union(_decision, {"signer": "", "keyid": "bb22"})]
	d := decide(doc("draft", "candidate", {"gate_decisions": own}))
	d.reasons == ["gate_decision_untrusted_signer"]
	d.results[0].message == "The promote decision for llama-guard@1.2.0 is signed by key bb22, which the profile does not list (lifecycle.gate_signers)"
	unknown := [object.union(_decision, {"signer": "someone-else"})]
	reasons(doc("draft", "candidate", {"gate_decisions": unknown})) == ["gate_decision_untrusted_signer"]
	# a profile that lists no signers accepts none
	bare := json.patch(_config, [{"op": "remove", "path": "/lifecycle/gate_signers"}])
	r := data.gate.main.decision with input as doc("draft", "candidate", {}) with data.gate.config as bare
	r.reasons == ["gate_decision_untrusted_signer"]
	# one passing decision is enough: an untrusted one beside it is not reported
	decide(doc("draft", "candidate", {"gate_decisions": array.concat(own, [_decision])})).verdict == "promote"
}

test_a_decision_under_a_policy_the_profile_does_not_allow_is_refused if {
	edited := [object.union(_decision, {"policy_digest": "2222222222222222222222222222222222222222222222222222222222222222"})]
	d := decide(doc("draft", "candidate", {"gate_decisions": edited}))
	d.reasons == ["gate_decision_policy_not_allowed"]
	contains(d.results[0].message, "by ci-gate was made under policy sha256:2222")
	none := [object.remove(_decision, ["policy_digest"])]
	reasons(doc("draft", "candidate", {"gate_decisions": none})) == ["gate_decision_policy_not_allowed"]
	bare := json.patch(_config, [{"op": "remove", "path": "/lifecycle/gate_policy_digests"}])
	r := data.gate.main.decision with input as doc("draft", "candidate", {}) with data.gate.config as bare
	r.reasons == ["gate_decision_policy_not_allowed"]
	# the digest may be written with or without its sha256: prefix
	prefixed := [object.union(_decision, {"policy_digest": concat("", ["sha256:", _policy])})]
	decide(doc("draft", "candidate", {"gate_decisions": prefixed})).verdict == "promote"
}

test_approval_needs_sbom_provenance_scan_evals_and_owners if {
	reasons(doc("candidate", "approved", {"sbom": []})) == ["missing_sbom"]
	reasons(doc("candidate", "approved", {"provenance": []})) == ["missing_provenance"]
	reasons(doc("candidate", "approved", {"scans": []})) == ["critical_cve_unresolved"]
	reasons(doc("candidate", "approved", {"scans": [{"at": "2026-11-02T00:00:00Z", "critical": ["CVE-2026-1"]}]})) == ["critical_cve_unresolved"]
	reasons(doc("candidate", "approved", {"evals": []})) == ["evals_missing"]
	reasons(doc("candidate", "approved", {"owner": ""})) == ["owner_missing"]
	reasons(doc("candidate", "approved", {"backup_owner": " "})) == ["owner_missing"]
}

test_only_the_latest_scan_counts if {
	scans := [
		{"at": "2026-10-01T00:00:00Z", "critical": ["CVE-2026-1"]},
		{"at": "2026-11-02T00:00:00Z", "critical": []},
	]
	decide(doc("candidate", "approved", {"scans": scans})).verdict == "promote"
}

test_evals_stale_after_a_prompt_change_or_too_old if {
	reasons(doc("candidate", "approved", {"prompts_changed_at": "2026-11-15T00:00:00Z"})) == ["evals_stale"]
	old := [{"evaluated_at": "2026-07-01T00:00:00Z", "scores": {"quality": 0.91, "safety": 0.97}}]
	reasons(doc("candidate", "approved", {"evals": old, "prompts_changed_at": "2026-06-01T00:00:00Z"})) == ["evals_stale"]
}

test_unreadable_evaluation_times_are_stale if {
	dated := [{"evaluated_at": "2026-11-10", "scores": {"quality": 0.91, "safety": 0.97}}]
	reasons(doc("candidate", "approved", {"evals": dated})) == ["evals_stale"]
	reasons(doc("candidate", "approved", {"prompts_changed_at": "last week"})) == ["evals_stale"]
}

test_evals_below_threshold if {
	low := [{"evaluated_at": "2026-11-10T00:00:00Z", "scores": {"quality": 0.5, "safety": 0.97}}]
	reasons(doc("candidate", "approved", {"evals": low})) == ["evals_below_threshold"]
	missing := [{"evaluated_at": "2026-11-10T00:00:00Z", "scores": {"quality": 0.91}}]
	reasons(doc("candidate", "approved", {"evals": missing})) == ["evals_below_threshold"]
}

test_required_roles_follow_the_risk_rating if {
	two := [_approval("platform", "pat"), _approval("product", "pia")]
	reasons(doc("candidate", "approved", {"approvals": two})) == ["approval_missing_role"]
	decide(doc("candidate", "approved", {"approvals": two, "risk_rating": "low"})).verdict == "promote"
}

test_self_approval_does_not_count if {
	mine := [_approval("platform", "pat"), _approval("product", "pia"), _approval("security", "ci-bot")]
	cfg := json.patch(_config, [{"op": "add", "path": "/lifecycle/people/ci-bot", "value": {"roles": ["security"]}}])
	d := data.gate.main.decision with input as doc("candidate", "approved", {"approvals": mine}) with data.gate.config as cfg
	d.reasons == ["approval_missing_role", "self_approval"]
}

test_same_person_in_two_roles if {
	hats := [_approval("platform", "two-hats"), _approval("product", "two-hats"), _approval("security", "sam")]
	reasons(doc("candidate", "approved", {"approvals": hats})) == ["approvers_not_distinct"]
}

test_expired_and_forged_approvals if {
	old := object.union(_approval("security", "sam"), {"signed_at": "2026-07-01T00:00:00Z"})
	reasons(doc("candidate", "approved", {"approvals": [_approval("platform", "pat"), _approval("product", "pia"), old]})) == ["approval_missing_role", "approval_expired"]
	forged := object.union(_approval("security", "sam"), {"verified": false, "error": "the signature does not verify with sam's key"})
	d := decide(doc("candidate", "approved", {"approvals": [_approval("platform", "pat"), _approval("product", "pia"), forged]}))
	d.reasons == ["approval_missing_role", "approval_unverified"]
	some r in d.results
	r.code == "approval_unverified"
	contains(r.message, "sam's key")
	role_claim := _approval("security", "pat")
	reasons(doc("candidate", "approved", {"approvals": [_approval("platform", "pat"), _approval("product", "pia"), role_claim]})) == ["approval_missing_role", "approval_unverified"]
}

test_a_new_version_or_digest_starts_over if {
	d := doc("candidate", "approved", {"version": "1.3.0"})
	reasons(d) == ["approval_missing_role", "approval_unverified"]
	other := json.patch(doc("candidate", "approved", {}), [{"op": "replace", "path": "/subject/digest", "value": "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}])
	"approval_missing_role" in reasons(other)
}

test_replacement_needed_to_deprecate if {
	reasons(doc("approved", "deprecated", {})) == ["replacement_missing"]
}

_waiver(code, until, who, role) := {"code": code, "digest": _digest, "until": until, "approver": who, "role": role, "signed_at": "2026-11-20T00:00:00Z", "verified": true}

test_a_valid_exception_waives_and_is_reported if {
	critical := [{"at": "2026-11-02T00:00:00Z", "critical": ["CVE-2026-1"]}]
	d := decide(doc("candidate", "approved", {"scans": critical, "exceptions": [_waiver("critical_cve_unresolved", "2026-12-31T00:00:00Z", "sam", "security")]}))
	d.verdict == "promote"
	[w.code | some w in d.waived] == ["critical_cve_unresolved"]
}

test_expired_forged_or_unauthorised_exceptions_do_not_waive if {
	critical := [{"at": "2026-11-02T00:00:00Z", "critical": ["CVE-2026-1"]}]
	expired := _waiver("critical_cve_unresolved", "2026-11-01T00:00:00Z", "sam", "security")
	reasons(doc("candidate", "approved", {"scans": critical, "exceptions": [expired]})) == ["critical_cve_unresolved"]
	forged := object.union(_waiver("critical_cve_unresolved", "2026-12-31T00:00:00Z", "sam", "security"), {"verified": false})
	reasons(doc("candidate", "approved", {"scans": critical, "exceptions": [forged]})) == ["critical_cve_unresolved"]
	product := _waiver("critical_cve_unresolved", "2026-12-31T00:00:00Z", "pia", "product")
	reasons(doc("candidate", "approved", {"scans": critical, "exceptions": [product]})) == ["critical_cve_unresolved"]
	impostor := _waiver("critical_cve_unresolved", "2026-12-31T00:00:00Z", "pat", "security")
	reasons(doc("candidate", "approved", {"scans": critical, "exceptions": [impostor]})) == ["critical_cve_unresolved"]
}

test_an_exception_dated_in_the_future_does_not_waive if {
	critical := [{"at": "2026-11-02T00:00:00Z", "critical": ["CVE-2026-1"]}]
	ahead := object.union(_waiver("critical_cve_unresolved", "2026-12-31T00:00:00Z", "sam", "security"), {"signed_at": "2026-11-23T00:10:00Z"})
	reasons(doc("candidate", "approved", {"scans": critical, "exceptions": [ahead]})) == ["critical_cve_unresolved"]
	undated := object.remove(_waiver("critical_cve_unresolved", "2026-12-31T00:00:00Z", "sam", "security"), ["signed_at"])
	reasons(doc("candidate", "approved", {"scans": critical, "exceptions": [undated]})) == ["critical_cve_unresolved"]
	# within the clock-skew allowance (300 s by default) it waives
	skewed := object.union(ahead, {"signed_at": "2026-11-23T00:04:00Z"})
	decide(doc("candidate", "approved", {"scans": critical, "exceptions": [skewed]})).verdict == "promote"
}

test_an_approval_dated_in_the_future_does_not_count if {
	ahead := object.union(_approval("security", "sam"), {"signed_at": "2027-06-01T00:00:00Z"})
	approvals := [_approval("platform", "pat"), _approval("product", "pia"), ahead]
	reasons(doc("candidate", "approved", {"approvals": approvals})) == ["approval_missing_role", "approval_signed_in_future"]
	# hygiene does not keep a version on it either
	decide(hygiene("approved", {"approvals": approvals})).transition.to == "retired"
	# the profile's clock-skew allowance
	near := object.union(_approval("security", "sam"), {"signed_at": "2026-11-23T00:01:30Z"})
	near_approvals := [_approval("platform", "pat"), _approval("product", "pia"), near]
	decide(doc("candidate", "approved", {"approvals": near_approvals})).verdict == "promote"
	strict := json.patch(_config, [{"op": "add", "path": "/lifecycle/clock_skew_seconds", "value": 60}])
	d := data.gate.main.decision with input as doc("candidate", "approved", {"approvals": near_approvals}) with data.gate.config as strict
	d.reasons == ["approval_missing_role", "approval_signed_in_future"]
}

test_hygiene_keeps_a_healthy_version if {
	d := decide(hygiene("approved", {}))
	d.verdict == "promote"
	d.transition == {"from": "approved", "to": "approved", "allowed": true, "kind": "hygiene"}
}

test_hygiene_retires_stale_vulnerable_unowned_expired if {
	decide(hygiene("approved", {"prompts_changed_at": "2026-11-20T00:00:00Z"})).transition.to == "retired"
	reasons(hygiene("approved", {"prompts_changed_at": "2026-11-20T00:00:00Z"})) == ["evals_stale"]
	reasons(hygiene("approved", {"scans": [{"at": "2026-11-22T00:00:00Z", "critical": ["CVE-2026-9"]}]})) == ["critical_cve_unresolved"]
	reasons(hygiene("approved", {"owner": ""})) == ["owner_missing"]
	old := [object.union(a, {"signed_at": "2026-07-01T00:00:00Z"}) | some a in _approvals]
	"approval_expired" in reasons(hygiene("approved", {"approvals": old}))
}

test_hygiene_retires_deprecated_past_grace if {
	reasons(hygiene("deprecated", {"deprecated_at": "2026-10-01T00:00:00Z"})) == ["deprecation_grace_expired"]
	decide(hygiene("deprecated", {"deprecated_at": "2026-11-20T00:00:00Z"})).verdict == "promote"
}

test_lifecycle_policy_judges_model_versions_only if {
	d := data.gate.main.decision with input as {"subject": {"kind": "oci-image"}} with data.gate.config as _config
	d.reasons == ["unsupported_subject"]
}
