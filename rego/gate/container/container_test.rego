package gate.container_test

import rego.v1

_digest := "sha256:1111111111111111111111111111111111111111111111111111111111111111"

_prod := "sha256:2222222222222222222222222222222222222222222222222222222222222222"

_other := "sha256:3333333333333333333333333333333333333333333333333333333333333333"

_card := "sha256:4444444444444444444444444444444444444444444444444444444444444444"

_identity := "https://github.com/nvidia/nim-builder/.github/workflows/release.yml@refs/tags/v1.5.0"

_issuer := "https://token.actions.githubusercontent.com"

config := {
	"profile": {"name": "nim-promotion", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"},
	"policy": "container",
	"collections": ["nim-promotion"],
	"exclude": [],
	"container": {"registries": ["nvcr.io/"], "attestation_ttl_hours": 24},
}

# A runtime input on which every gate passes.
good := {
	"gate": {"version": "1", "mode": "runtime", "now": "2026-11-22T12:00:00Z", "nonce": "0123456789abcdef"},
	"subject": {"kind": "oci-image", "ref": "nvcr.io/nim/meta/llama-3.3-70b:1.5.0"},
	"operator": {
		"image_ref_pin": _digest,
		"current_prod_digest": _prod,
		"expected_signer_identity": _identity,
		"expected_oidc_issuer": _issuer,
	},
	"evidence": {
		"registry": {"resolved_digest": _digest},
		"signature": {
			"verified": true,
			"digest": _digest,
			"identity": _identity,
			"issuer": _issuer,
			"cert_not_before": "2026-11-22T09:50:00Z",
			"cert_not_after": "2026-11-22T10:00:00Z",
			"tlog": {"reachable": true, "log_index": 123456, "integrated_time": "2026-11-22T09:55:00Z"},
		},
		"sbom": {"verified": true, "format": "spdx", "subject_digest": _digest, "sha256": _card},
		"model_card": {"source": "oci-referrer", "digest": _card},
		"vulnerabilities": {
			"candidate": {"digest": _digest, "matches": [
				{"id": "CVE-2024-0001", "severity": "Critical"},
				{"id": "CVE-2024-0002", "severity": "High"},
				{"id": "CVE-2024-0003", "severity": "Low"},
			]},
			"baseline": {"digest": _prod, "matches": [
				{"id": "CVE-2024-0001", "severity": "Critical"},
				{"id": "CVE-2024-0002", "severity": "Medium"},
				{"id": "CVE-2023-9999", "severity": "Critical"},
			]},
		},
		"attestation": {"age_hours": 2},
	},
}

decide(doc) := d if {
	d := data.gate.main.decision with input as doc with data.gate.config as config
}

decide_with(doc, cfg) := d if {
	d := data.gate.main.decision with input as doc with data.gate.config as cfg
}

with_patch(patch) := object.union(good, patch)

without(paths) := json.remove(good, paths)

reasons_of(doc) := decide(doc).reasons

# --- verdict table ---

test_clean_runtime_promotes if {
	d := decide(good)
	d.verdict == "promote"
	d.evidence_level == "live"
	d.reasons == ["all_gates_passed"]
	d.results[0].code == "all_gates_passed"
	d.results[0].severity == "info"
}

test_static_mode_never_promotes if {
	d := decide(with_patch({"gate": {"mode": "static"}}))
	d.verdict == "manual-review"
	d.evidence_level == "documentation-only"
	d.reasons == ["static_mode_no_runtime_evidence"]
}

test_missing_mode_is_static if {
	d := decide(json.remove(good, ["gate/mode"]))
	d.verdict == "manual-review"
	d.reasons == ["static_mode_no_runtime_evidence"]
}

test_static_mode_with_failures_blocks_as_documentation_only if {
	d := decide(object.union(without(["evidence/sbom"]), {"gate": {"mode": "static"}}))
	d.verdict == "block"
	d.evidence_level == "documentation-only"
	d.reasons == ["missing_sbom"]
}

test_mode_is_case_insensitive_and_trimmed if {
	every mode in ["Runtime", " runtime ", "RUNTIME", "\truntime\n"] {
		decide(with_patch({"gate": {"mode": mode}})).verdict == "promote"
	}
}

test_unknown_or_non_string_mode_is_static if {
	every mode in ["runtme", "", "run time", 5, true, null] {
		d := decide(with_patch({"gate": {"mode": mode}}))
		d.verdict == "manual-review"
		d.reasons == ["static_mode_no_runtime_evidence"]
	}
}

test_only_rekor_unreachable_is_manual_review_partial if {
	d := decide(with_patch({"evidence": {"signature": {"tlog": {"reachable": false, "error": "connection refused"}}}}))
	d.verdict == "manual-review"
	d.evidence_level == "partial"
	d.reasons == ["rekor_unreachable"]
	contains(d.results[0].message, "connection refused")
}

test_rekor_unreachable_with_another_reason_blocks_partial if {
	doc := object.union(without(["evidence/model_card"]), {"evidence": {"signature": {"tlog": {"reachable": false}}}})
	d := decide(doc)
	d.verdict == "block"
	d.evidence_level == "partial"
	d.reasons == ["rekor_unreachable", "missing_model_card"]
}

test_block_without_rekor_problem_is_live if {
	d := decide(without(["evidence/sbom"]))
	d.verdict == "block"
	d.evidence_level == "live"
}

test_missing_tlog_evidence_counts_as_unreachable if {
	# Without a log entry nothing anchors the (long expired) certificate either.
	reasons_of(without(["evidence/signature/tlog"])) == ["expired_cert", "rekor_unreachable"]
}

# --- gate 1: inputs_incomplete ---

test_inputs_incomplete_for_each_missing_input if {
	every path in [
		"subject/ref", "operator/image_ref_pin", "operator/current_prod_digest",
		"operator/expected_signer_identity", "operator/expected_oidc_issuer",
	] {
		d := decide(without([path]))
		d.verdict == "manual-review"
		d.evidence_level == "documentation-only"
		d.reasons == ["inputs_incomplete"]
	}
}

test_inputs_incomplete_for_empty_or_blank_input if {
	every value in ["", "   "] {
		reasons_of(with_patch({"operator": {"expected_oidc_issuer": value}})) == ["inputs_incomplete"]
	}
}

test_inputs_incomplete_names_every_missing_input if {
	d := decide(without(["operator/image_ref_pin", "operator/current_prod_digest"]))
	d.results[0].message == "Runtime mode needs these operator inputs, missing or empty: current_prod_digest, image_ref_pin"
}

test_inputs_incomplete_is_terminal if {
	doc := json.remove(good, ["operator/expected_signer_identity", "evidence/sbom", "evidence/signature"])
	d := decide(object.union(doc, {"subject": {"ref": "docker.io/library/evil:1"}}))
	d.reasons == ["inputs_incomplete"]
	count(d.results) == 1
	d.verdict == "manual-review"
}

test_inputs_incomplete_does_not_apply_in_static_mode if {
	doc := object.union(without(["operator/current_prod_digest"]), {"gate": {"mode": "static"}})
	not "inputs_incomplete" in reasons_of(doc)
}

# --- gate 2: unknown_registry ---

test_unknown_registry_blocks if {
	d := decide(with_patch({"subject": {"ref": "docker.io/nim/llama:1"}}))
	d.verdict == "block"
	d.reasons == ["unknown_registry"]
}

test_unknown_registry_suppresses_evidence_gates if {
	doc := json.remove(good, ["evidence/sbom", "evidence/model_card", "evidence/signature/verified", "evidence/registry", "evidence/vulnerabilities", "evidence/attestation"])
	d := decide(object.union(doc, {"subject": {"ref": "ghcr.io/someone/nim:1"}}))
	d.reasons == ["unknown_registry"]
}

test_unknown_registry_does_not_suppress_rekor_unreachable if {
	doc := with_patch({"subject": {"ref": "ghcr.io/x/y:1"}, "evidence": {"signature": {"tlog": {"reachable": false}}}})
	d := decide(doc)
	d.reasons == ["unknown_registry", "rekor_unreachable"]
	d.verdict == "block"
	d.evidence_level == "partial"
}

test_registry_prefix_lookalikes_are_unknown if {
	every ref in ["nvcr.io.evil.example/nim:1", "NVCR.IO/nim:1", "evil.example/nvcr.io/nim:1", "nvcr.io", ""] {
		"unknown_registry" in reasons_of(with_patch({"gate": {"mode": "static"}, "subject": {"ref": ref}}))
	}
}

test_empty_allowlist_allows_nothing if {
	cfg := object.union(config, {"container": {"registries": []}})
	decide_with(good, cfg).reasons == ["unknown_registry"]
}

test_excluding_unknown_registry_lets_gates_run if {
	cfg := object.union(config, {"exclude": ["unknown_registry"]})
	doc := object.union(without(["evidence/sbom"]), {"subject": {"ref": "ghcr.io/x/y:1"}})
	decide_with(doc, cfg).reasons == ["missing_sbom"]
}

# --- gate 3: digest_drift ---

test_digest_drift_blocks if {
	d := decide(with_patch({"evidence": {"registry": {"resolved_digest": _other}}}))
	d.verdict == "block"
	"digest_drift" in d.reasons
}

test_unresolved_digest_is_drift if {
	"digest_drift" in reasons_of(without(["evidence/registry"]))
}

test_pin_with_reference_prefix_matches if {
	pin := concat("@", ["nvcr.io/nim/meta/llama-3.3-70b", _digest])
	reasons_of(with_patch({"operator": {"image_ref_pin": pin}})) == ["all_gates_passed"]
}

test_pin_that_is_not_a_digest_drifts if {
	every pin in ["latest", "sha256:1111", "SHA256:1111111111111111111111111111111111111111111111111111111111111111"] {
		doc := with_patch({"operator": {"image_ref_pin": pin}, "evidence": {"registry": {"resolved_digest": pin}}})
		"digest_drift" in reasons_of(doc)
	}
}

# --- gate 4: signature ---

test_unsigned_blocks if {
	d := decide(with_patch({"evidence": {"signature": {"verified": false}}}))
	d.verdict == "block"
	d.reasons == ["unsigned"]
}

test_missing_signature_evidence_is_unsigned if {
	reasons_of(without(["evidence/signature"])) == ["unsigned", "rekor_unreachable"]
}

test_signature_over_another_digest_is_unsigned if {
	reasons_of(with_patch({"evidence": {"signature": {"digest": _other}}})) == ["unsigned"]
}

test_wrong_identity_blocks if {
	d := decide(with_patch({"evidence": {"signature": {"identity": "https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main"}}}))
	d.verdict == "block"
	d.reasons == ["wrong_identity"]
}

test_wrong_issuer_blocks if {
	d := decide(with_patch({"evidence": {"signature": {"issuer": "https://accounts.google.com"}}}))
	d.verdict == "block"
	d.reasons == ["wrong_issuer"]
}

test_empty_expected_identity_and_issuer_never_match if {
	doc := with_patch({
		"gate": {"mode": "static"},
		"operator": {"expected_signer_identity": "", "expected_oidc_issuer": ""},
		"evidence": {"signature": {"identity": "", "issuer": ""}},
	})
	reasons_of(doc) == ["wrong_identity", "wrong_issuer"]
}

test_identity_checks_need_a_verified_signature if {
	doc := with_patch({"evidence": {"signature": {"verified": false, "identity": "someone", "issuer": "elsewhere"}}})
	reasons_of(doc) == ["unsigned"]
}

_unanchored(not_after) := object.union(
	json.remove(good, ["evidence/signature/tlog/integrated_time"]),
	{"evidence": {"signature": {"cert_not_after": not_after}}},
)

test_expired_cert_without_tlog_anchor_blocks if {
	d := decide(_unanchored("2026-11-22T11:59:59Z"))
	d.verdict == "block"
	d.reasons == ["expired_cert"]
}

test_cert_expiring_exactly_now_is_not_expired if {
	reasons_of(_unanchored("2026-11-22T12:00:00Z")) == ["all_gates_passed"]
}

test_cert_expiry_compares_instants_across_offsets if {
	# 13:00+01:00 is exactly now (12:00Z); 12:59:59+01:00 is a second before.
	reasons_of(_unanchored("2026-11-22T13:00:00+01:00")) == ["all_gates_passed"]
	reasons_of(_unanchored("2026-11-22T12:59:59+01:00")) == ["expired_cert"]
}

test_unparseable_cert_expiry_is_expired if {
	every not_after in ["not a date", "2026-02-30T00:00:00Z", "2027-01-01", "2027-01-01t00:00:00z", 1700000000, null] {
		reasons_of(_unanchored(not_after)) == ["expired_cert"]
	}
}

test_tlog_timestamp_inside_validity_anchors_an_expired_cert if {
	# good: notAfter 10:00 is before now (12:00) but Rekor saw it at 09:55.
	reasons_of(good) == ["all_gates_passed"]
}

test_tlog_timestamp_after_expiry_does_not_anchor if {
	doc := with_patch({"evidence": {"signature": {"tlog": {"integrated_time": "2026-11-22T10:00:01Z"}}}})
	reasons_of(doc) == ["expired_cert"]
}

test_tlog_timestamp_before_validity_does_not_anchor if {
	doc := with_patch({"evidence": {"signature": {"tlog": {"integrated_time": "2026-11-22T09:49:59Z"}}}})
	reasons_of(doc) == ["expired_cert"]
}

test_unparseable_not_before_does_not_anchor if {
	doc := with_patch({"evidence": {"signature": {"cert_not_before": "yesterday"}}})
	reasons_of(doc) == ["expired_cert"]
}

test_unparseable_now_fails_closed if {
	doc := object.union(_unanchored("2026-11-22T12:00:00Z"), {"gate": {"now": "now"}})
	reasons_of(doc) == ["expired_cert"]
}

# --- gates 6 and 7: SBOM and model card ---

test_missing_sbom_blocks if {
	d := decide(without(["evidence/sbom"]))
	d.verdict == "block"
	d.reasons == ["missing_sbom"]
}

test_sbom_must_verify_be_spdx_or_cyclonedx_and_match_the_digest if {
	every patch in [
		{"verified": false},
		{"format": "syft-json"},
		{"format": ""},
		{"subject_digest": _other},
	] {
		reasons_of(with_patch({"evidence": {"sbom": patch}})) == ["missing_sbom"]
	}
}

test_sbom_format_is_case_insensitive if {
	every format in ["CycloneDX", "SPDX", "spdx"] {
		reasons_of(with_patch({"evidence": {"sbom": {"format": format}}})) == ["all_gates_passed"]
	}
}

test_missing_model_card_blocks if {
	d := decide(without(["evidence/model_card"]))
	d.verdict == "block"
	d.reasons == ["missing_model_card"]
}

test_label_only_model_card_is_missing if {
	doc := with_patch({"evidence": {"model_card": {"source": "label", "digest": _card}}})
	d := decide(doc)
	d.reasons == ["missing_model_card"]
	contains(d.results[0].message, "label")
}

test_model_card_needs_a_full_sha256_digest if {
	every digest in ["sha256:4444", "", "SHA256:4444444444444444444444444444444444444444444444444444444444444444", "sha512:4444444444444444444444444444444444444444444444444444444444444444"] {
		reasons_of(with_patch({"evidence": {"model_card": {"digest": digest}}})) == ["missing_model_card"]
	}
}

# --- gate 8: cve_regression ---

_scan(digest, matches) := {"digest": digest, "matches": matches}

test_new_critical_cve_blocks if {
	doc := with_patch({"evidence": {"vulnerabilities": {"candidate": _scan(_digest, [{"id": "CVE-2026-1", "severity": "Critical"}])}}})
	d := decide(doc)
	d.verdict == "block"
	d.reasons == ["cve_regression"]
	d.results[0].message == "CVE regression: 1 new critical and 0 new high CVEs vs current production"
}

test_new_high_cve_blocks if {
	doc := with_patch({"evidence": {"vulnerabilities": {"candidate": _scan(_digest, [{"id": "GHSA-xxxx", "severity": "HIGH"}])}}})
	reasons_of(doc) == ["cve_regression"]
}

test_cves_already_in_production_are_not_new if {
	# CVE-2024-0002 is High in the candidate and Medium in production: not new.
	delta := data.gate.container.cve_delta with input as good with data.gate.config as config
	delta == {"vs_digest": _prod, "new_critical": 0, "new_high": 0, "fixed_critical": 1}
}

test_new_medium_and_low_cves_do_not_block if {
	doc := with_patch({"evidence": {"vulnerabilities": {"candidate": _scan(_digest, [
		{"id": "CVE-2026-2", "severity": "Medium"},
		{"id": "CVE-2026-3", "severity": "low"},
		{"id": "CVE-2026-4", "severity": "Negligible"},
	])}}})
	reasons_of(doc) == ["all_gates_passed"]
}

test_duplicate_matches_count_once if {
	doc := with_patch({"evidence": {"vulnerabilities": {"candidate": _scan(_digest, [
		{"id": "CVE-2026-1", "severity": "Critical"},
		{"id": "CVE-2026-1", "severity": "Critical"},
	])}}})
	delta := data.gate.container.cve_delta with input as doc with data.gate.config as config
	delta.new_critical == 1
}

test_missing_or_failed_scans_fail_closed if {
	every doc in [
		without(["evidence/vulnerabilities"]),
		without(["evidence/vulnerabilities/candidate"]),
		without(["evidence/vulnerabilities/baseline"]),
		with_patch({"evidence": {"vulnerabilities": {"candidate": {"error": "grype: exit status 1"}}}}),
		with_patch({"evidence": {"vulnerabilities": {"baseline": {"digest": _other}}}}),
		with_patch({"evidence": {"vulnerabilities": {"candidate": {"digest": _other}}}}),
	] {
		reasons_of(doc) == ["cve_regression"]
	}
}

# --- gate 9: evidence age ---

test_age_equal_to_ttl_is_fresh if {
	reasons_of(with_patch({"evidence": {"attestation": {"age_hours": 24}}})) == ["all_gates_passed"]
}

test_age_over_ttl_is_stale if {
	d := decide(with_patch({"evidence": {"attestation": {"age_hours": 24.5}}}))
	d.verdict == "block"
	d.reasons == ["stale_attestation"]
	d.results[0].message == "Evidence is 24.5 hours old, older than the 24-hour TTL"
}

test_zero_age_is_fresh if {
	reasons_of(with_patch({"evidence": {"attestation": {"age_hours": 0}}})) == ["all_gates_passed"]
}

test_negative_or_non_numeric_age_is_malformed if {
	every age in [-1, -0.001, "3", "3h", true, null, [], {}] {
		d := decide(with_patch({"evidence": {"attestation": {"age_hours": age}}}))
		d.reasons == ["malformed_attestation_age"]
		d.verdict == "block"
	}
}

test_missing_age_is_malformed if {
	reasons_of(without(["evidence/attestation"])) == ["malformed_attestation_age"]
}

test_operator_ttl_overrides_profile_default if {
	doc := with_patch({"operator": {"attestation_ttl_hours": 48}, "evidence": {"attestation": {"age_hours": 30}}})
	reasons_of(doc) == ["all_gates_passed"]
	doc2 := with_patch({"operator": {"attestation_ttl_hours": 1}, "evidence": {"attestation": {"age_hours": 2}}})
	reasons_of(doc2) == ["stale_attestation"]
}

test_profile_ttl_applies_without_operator_ttl if {
	cfg := object.union(config, {"container": {"attestation_ttl_hours": 1}})
	doc := with_patch({"evidence": {"attestation": {"age_hours": 2}}})
	decide_with(doc, cfg).reasons == ["stale_attestation"]
}

# --- ordering, set semantics, results ---

_many_failures := object.union(
	json.remove(good, ["evidence/sbom", "evidence/model_card", "evidence/vulnerabilities"]),
	{"evidence": {
		"registry": {"resolved_digest": _other},
		"signature": {"tlog": {"reachable": false}},
		"attestation": {"age_hours": 100},
	}},
)

test_reasons_follow_gate_order if {
	reasons_of(_many_failures) == [
		"digest_drift", "unsigned", "rekor_unreachable", "missing_sbom",
		"missing_model_card", "cve_regression", "stale_attestation",
	]
}

test_reasons_are_a_set if {
	r := reasons_of(_many_failures)
	count(r) == count({c | some c in r})
}

test_every_result_carries_its_metadata if {
	d := decide(_many_failures)
	count(d.results) == count(d.reasons)
	every i, result in d.results {
		result.code == d.reasons[i]
		result.title == data.gate.catalog["gate.container"][result.code].title
		result.solution == data.gate.catalog["gate.container"][result.code].solution
		result.severity in {"high", "medium"}
		result.message != ""
	}
}

test_decision_names_the_profile if {
	decide(good).profile == config.profile
}

# --- profile selection ---

test_excluded_rules_do_not_fire if {
	cfg := object.union(config, {"exclude": ["missing_model_card"]})
	decide_with(without(["evidence/model_card"]), cfg).reasons == ["all_gates_passed"]
}

test_rules_outside_the_profile_collections_do_not_fire if {
	cfg := object.union(config, {"collections": ["another-collection"]})
	decide_with(without(["evidence/sbom"]), cfg).reasons == ["all_gates_passed"]
}

test_excluding_inputs_incomplete_lets_gates_run if {
	cfg := object.union(config, {"exclude": ["inputs_incomplete"]})
	decide_with(without(["operator/current_prod_digest"]), cfg).reasons == ["cve_regression"]
}

# --- a recorded collector error never passes ---

test_section_errors_fail_closed if {
	every case in [
		[{"registry": {"error": "registry answered 500"}}, "digest_drift"],
		[{"signature": {"error": "verification timed out"}}, "unsigned"],
		[{"signature": {"tlog": {"error": "inclusion proof did not verify"}}}, "rekor_unreachable"],
		[{"sbom": {"error": "attestation payload truncated"}}, "missing_sbom"],
		[{"model_card": {"error": "referrers listing failed"}}, "missing_model_card"],
	] {
		reasons_of(with_patch({"evidence": case[0]})) == [case[1]]
	}
}

# --- signer matching: exact, explicit regular expressions, key-based ---

_regexp_operator := {
	"image_ref_pin": _digest,
	"current_prod_digest": _prod,
	"expected_signer_identity_regexp": `https://github\.com/nvidia/nim-builder/\.github/workflows/release\.yml@refs/tags/v.*`,
	"expected_oidc_issuer_regexp": `https://token\.actions\.githubusercontent\.com`,
}

# The regexp cases carry no exact expectation: only the pattern can match.
_regexp_good := json.remove(
	object.union(good, {"operator": _regexp_operator}),
	["operator/expected_signer_identity", "operator/expected_oidc_issuer"],
)

test_regexp_identity_and_issuer_accept_a_full_match if {
	reasons_of(_regexp_good) == ["all_gates_passed"]
}

test_regexp_is_anchored_at_both_ends if {
	op := object.union(_regexp_operator, {"expected_signer_identity_regexp": `https://github\.com/nvidia`})
	d := decide(object.union(_regexp_good, {"operator": op}))
	d.reasons == ["wrong_identity"]
	contains(d.results[0].message, "regexp https://github")
}

test_regexp_matching_a_prefix_of_a_longer_identity_is_wrong if {
	sig := object.union(good.evidence.signature, {"identity": concat("", [_identity, "/../../evil"])})
	doc := object.union(_regexp_good, {"evidence": {"signature": sig}})

	# ".*" in the pattern reaches the end, so this one matches: patterns are the operator's responsibility
	reasons_of(doc) == ["all_gates_passed"]
	op := object.union(_regexp_operator, {"expected_signer_identity_regexp": `https://github\.com/nvidia/nim-builder/\.github/workflows/release\.yml@refs/tags/v[0-9.]+`})
	reasons_of(object.union(doc, {"operator": op})) == ["wrong_identity"]
}

test_regexp_issuer_mismatch_is_wrong_issuer if {
	op := object.union(_regexp_operator, {"expected_oidc_issuer_regexp": `https://accounts\.google\.com`})
	reasons_of(object.union(_regexp_good, {"operator": op})) == ["wrong_issuer"]
}

test_invalid_regexp_never_matches if {
	op := object.union(_regexp_operator, {"expected_signer_identity_regexp": "("})
	reasons_of(object.union(_regexp_good, {"operator": op})) == ["wrong_identity"]
}

test_exact_identity_is_not_a_pattern if {
	op := object.union(good.operator, {"expected_signer_identity": "https://github.com/nvidia/nim-builder/.*"})
	reasons_of(object.union(good, {"operator": op})) == ["wrong_identity"]
}

test_regexp_satisfies_the_required_inputs if {
	not "inputs_incomplete" in reasons_of(_regexp_good)
	blank := object.union(_regexp_good, {"operator": {"expected_signer_identity_regexp": " "}})
	"inputs_incomplete" in reasons_of(blank)
}

_key_signature := {
	"verified": true,
	"digest": _digest,
	"method": "key",
	"key_sha256": _card,
	"tlog": {"reachable": true, "log_index": 7, "integrated_time": "2026-11-22T09:55:00Z"},
	"signed_identity": _signed_for("nvcr.io/nim/meta/llama-3.3-70b", {"name": "nvcr.io/nim/meta/llama-3.3-70b"}),
}

_requested_ref := {"name": "nvcr.io/nim/meta/llama-3.3-70b", "tag": "1.5.0"}

_signed_for(raw, parsed) := {"docker_reference": raw, "signed": parsed, "requested": _requested_ref}

test_key_based_signature_has_no_identity_or_certificate_to_check if {
	doc := json.patch(good, [{"op": "replace", "path": "/evidence/signature", "value": _key_signature}])
	reasons_of(doc) == ["all_gates_passed"]
}

test_key_based_signature_without_tlog_is_rekor_unreachable_only if {
	sig := json.remove(_key_signature, ["tlog"])
	doc := json.patch(good, [{"op": "replace", "path": "/evidence/signature", "value": sig}])
	decide(doc).verdict == "manual-review"
	reasons_of(doc) == ["rekor_unreachable"]
}

test_key_method_needs_a_key_digest if {
	sig := json.remove(_key_signature, ["key_sha256"])
	doc := json.patch(good, [{"op": "replace", "path": "/evidence/signature", "value": sig}])
	{"wrong_identity", "wrong_issuer", "expired_cert"} == {r | some r in reasons_of(doc)}
}

# --- a timestamp authority's verified time anchors like the log's integrated time ---

_tsa_signature := object.union(
	json.remove(good.evidence.signature, ["tlog/integrated_time"]),
	{"signed_timestamp": "2026-11-22T09:55:00Z"},
)

test_timestamp_authority_time_anchors_an_expired_certificate if {
	doc := json.patch(good, [{"op": "replace", "path": "/evidence/signature", "value": _tsa_signature}])
	reasons_of(doc) == ["all_gates_passed"]
}

test_timestamp_authority_time_outside_the_validity_does_not_anchor if {
	late := object.union(_tsa_signature, {"signed_timestamp": "2026-11-22T10:30:00Z"})
	early := object.union(_tsa_signature, {"signed_timestamp": "2026-11-22T09:00:00Z"})
	reasons_of(json.patch(good, [{"op": "replace", "path": "/evidence/signature", "value": late}])) == ["expired_cert"]
	reasons_of(json.patch(good, [{"op": "replace", "path": "/evidence/signature", "value": early}])) == ["expired_cert"]
}

test_no_verified_time_leaves_the_expired_certificate_unanchored if {
	sig := json.remove(_tsa_signature, ["signed_timestamp"])
	reasons_of(json.patch(good, [{"op": "replace", "path": "/evidence/signature", "value": sig}])) == ["expired_cert"]
}

# --- key-based verification needs no identity or issuer (item 14) ---

_key_only_operator := json.remove(good.operator, ["expected_signer_identity", "expected_oidc_issuer"])

test_a_key_signed_image_needs_no_identity_or_issuer if {
	doc := json.patch(good, [
		{"op": "replace", "path": "/evidence/signature", "value": _key_signature},
		{"op": "replace", "path": "/operator", "value": _key_only_operator},
	])
	reasons_of(doc) == ["all_gates_passed"]
}

test_operator_keys_waive_identity_and_issuer_but_a_failed_signature_still_blocks if {
	op := object.union(_key_only_operator, {"cosign_key_sha256": [_card]})
	doc := json.patch(good, [
		{"op": "replace", "path": "/evidence/signature", "value": {"verified": false, "error": "does not verify"}},
		{"op": "replace", "path": "/operator", "value": op},
	])
	d := decide(doc)
	d.verdict == "block"
	not "inputs_incomplete" in d.reasons
	"unsigned" in d.reasons
}

test_keyless_still_needs_identity_and_issuer if {
	doc := json.patch(good, [{"op": "replace", "path": "/operator", "value": _key_only_operator}])
	d := decide(doc)
	d.verdict == "manual-review"
	d.reasons == ["inputs_incomplete"]
	contains(d.results[0].message, "expected_oidc_issuer, expected_signer_identity")
}

# --- a certificate from the profile's private PKI (item 13) ---

_pki_signature := object.union(good.evidence.signature, {
	"method": "pki",
	"issuer": "",
	"signed_identity": _signed_for("nvcr.io/nim/meta/llama-3.3-70b", {"name": "nvcr.io/nim/meta/llama-3.3-70b"}),
})

test_private_pki_certificate_needs_an_identity_but_no_issuer if {
	op := json.remove(good.operator, ["expected_oidc_issuer"])
	doc := json.patch(good, [
		{"op": "replace", "path": "/evidence/signature", "value": _pki_signature},
		{"op": "replace", "path": "/operator", "value": op},
	])
	reasons_of(doc) == ["all_gates_passed"]
	no_identity := json.patch(doc, [{"op": "remove", "path": "/operator/expected_signer_identity"}])
	reasons_of(no_identity) == ["inputs_incomplete"]
	other := json.patch(doc, [{"op": "replace", "path": "/evidence/signature/identity", "value": "mallory@example.com"}])
	reasons_of(other) == ["wrong_identity"]
}

# --- signedIdentity: the docker-reference in the signed payload (item 12) ---

_with_signed_identity(identity) := json.patch(good, [
	{"op": "add", "path": "/evidence/signature/method", "value": "keyless"},
	{"op": "add", "path": "/evidence/signature/signed_identity", "value": identity},
])

_with_type(kind) := object.union(config, {"container": {"signed_identity": kind}})

test_match_repository_is_the_default_and_accepts_another_tag if {
	same_repo := _with_signed_identity(_signed_for(
		"nvcr.io/nim/meta/llama-3.3-70b:1.4.0",
		{"name": "nvcr.io/nim/meta/llama-3.3-70b", "tag": "1.4.0"},
	))
	reasons_of(same_repo) == ["all_gates_passed"]
}

test_a_signature_for_another_repository_is_refused if {
	doc := _with_signed_identity(_signed_for("nvcr.io/nim/evil/other", {"name": "nvcr.io/nim/evil/other"}))
	d := decide(doc)
	d.verdict == "block"
	d.reasons == ["signed_identity_mismatch"]
	d.results[0].message == "The signature was made for \"nvcr.io/nim/evil/other\", which does not satisfy matchRepository for \"nvcr.io/nim/meta/llama-3.3-70b:1.5.0\""
}

test_a_missing_or_unparsable_docker_reference_is_refused if {
	reasons_of(_with_signed_identity({"requested": _requested_ref})) == ["signed_identity_mismatch"]
	reasons_of(_with_signed_identity({
		"docker_reference": "NOT A REFERENCE",
		"requested": _requested_ref,
		"error": "invalid",
	})) == ["signed_identity_mismatch"]
	no_section := json.patch(good, [{"op": "add", "path": "/evidence/signature/method", "value": "key"}])
	"signed_identity_mismatch" in reasons_of(no_section)
}

test_match_exact_needs_the_same_tag if {
	tagged := _with_signed_identity(_signed_for(
		"nvcr.io/nim/meta/llama-3.3-70b:1.5.0",
		{"name": "nvcr.io/nim/meta/llama-3.3-70b", "tag": "1.5.0"},
	))
	decide_with(tagged, _with_type("matchExact")).reasons == ["all_gates_passed"]
	other_tag := _with_signed_identity(_signed_for(
		"nvcr.io/nim/meta/llama-3.3-70b:1.4.0",
		{"name": "nvcr.io/nim/meta/llama-3.3-70b", "tag": "1.4.0"},
	))
	decide_with(other_tag, _with_type("matchExact")).reasons == ["signed_identity_mismatch"]
	name_only := _with_signed_identity(_signed_for(
		"nvcr.io/nim/meta/llama-3.3-70b",
		{"name": "nvcr.io/nim/meta/llama-3.3-70b"},
	))
	decide_with(name_only, _with_type("matchExact")).reasons == ["signed_identity_mismatch"]
}

test_match_repo_digest_or_exact if {
	kind := _with_type("matchRepoDigestOrExact")
	by_digest := {"name": "nvcr.io/nim/meta/llama-3.3-70b", "digest": _digest}
	signed_tag := {"name": "nvcr.io/nim/meta/llama-3.3-70b", "tag": "1.4.0"}
	digest_doc := _with_signed_identity({"docker_reference": "x:1.4.0", "signed": signed_tag, "requested": by_digest})
	decide_with(digest_doc, kind).reasons == ["all_gates_passed"]
	tag_doc := _with_signed_identity(_signed_for("x:1.4.0", signed_tag))
	decide_with(tag_doc, kind).reasons == ["signed_identity_mismatch"]
	other_repo := {"name": "nvcr.io/nim/evil/other", "tag": "1.4.0"}
	other_doc := _with_signed_identity({"docker_reference": "o", "signed": other_repo, "requested": by_digest})
	decide_with(other_doc, kind).reasons == ["signed_identity_mismatch"]
}

test_a_bundle_signs_the_digest_only if {
	doc := json.patch(good, [{"op": "add", "path": "/evidence/signature/method", "value": "bundle"}])
	reasons_of(doc) == ["all_gates_passed"]
}

test_a_managed_key_bundle_referrer_signs_the_digest_only if {
	bundle := object.union(json.remove(_key_signature, ["signed_identity"]), {"source": "referrer sha256:abc"})
	reasons_of(json.patch(good, [{"op": "replace", "path": "/evidence/signature", "value": bundle}])) == ["all_gates_passed"]
	sig_tag := object.union(bundle, {"source": "sig-tag sha256:abc layer sha256:def"})
	reasons_of(json.patch(good, [{"op": "replace", "path": "/evidence/signature", "value": sig_tag}])) == ["signed_identity_mismatch"]
}

# --- static mode: what it never collects is no evidence (item 17) ---

_static_collected := json.patch(good, [
	{"op": "replace", "path": "/gate/mode", "value": "static"},
	{"op": "replace", "path": "/evidence/registry", "value": {"not_collected": "static mode"}},
	{"op": "replace", "path": "/evidence/signature", "value": {"verified": false, "not_collected": "static mode"}},
	{"op": "replace", "path": "/evidence/sbom", "value": {"verified": false, "not_collected": "static mode"}},
	{"op": "replace", "path": "/evidence/model_card", "value": {"not_collected": "static mode"}},
])

test_static_mode_without_registry_evidence_is_documentation_only_review if {
	d := decide(_static_collected)
	d.verdict == "manual-review"
	d.evidence_level == "documentation-only"
	d.reasons == ["static_mode_no_runtime_evidence"]
	no_scans := json.patch(_static_collected, [{"op": "replace", "path": "/evidence/vulnerabilities", "value": {
		"candidate": {"not_collected": "static mode runs no scanner"},
		"baseline": {"not_collected": "static mode runs no scanner"},
	}}])
	decide(no_scans).reasons == ["static_mode_no_runtime_evidence"]
}

test_static_mode_supplied_reports_still_count_against_the_pin if {
	regress := json.patch(_static_collected, [{"op": "add", "path": "/evidence/vulnerabilities/candidate/matches/-", "value": {"id": "CVE-2099-0001", "severity": "Critical"}}])
	d := decide(regress)
	d.verdict == "block"
	d.evidence_level == "documentation-only"
	d.reasons == ["cve_regression"]
}

test_not_collected_means_nothing_in_runtime_mode if {
	doc := json.patch(_static_collected, [{"op": "replace", "path": "/gate/mode", "value": "runtime"}])
	d := decide(doc)
	d.verdict == "block"
	{"digest_drift", "unsigned", "missing_sbom", "missing_model_card", "cve_regression"} == {r | some r in d.reasons; r != "rekor_unreachable"}
}

test_a_profile_with_a_private_pki_asks_for_no_issuer if {
	cfg := object.union(config, {"container": {"private_pki": {"roots": ["-----BEGIN CERTIFICATE-----"]}}})
	op := json.remove(good.operator, ["expected_oidc_issuer"])
	unsigned := json.patch(good, [
		{"op": "replace", "path": "/operator", "value": op},
		{"op": "replace", "path": "/evidence/signature", "value": {"verified": false}},
	])
	decide_with(unsigned, cfg).reasons == ["unsigned", "rekor_unreachable"]
	decide(unsigned).reasons == ["inputs_incomplete"]
	keyless := json.patch(good, [{"op": "replace", "path": "/operator", "value": op}])
	decide_with(keyless, cfg).reasons == ["wrong_issuer"]
}
