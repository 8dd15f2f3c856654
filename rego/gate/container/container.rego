# METADATA
# title: Container promotion
# description: >-
#   Decides whether a model-serving container image may be promoted from
#   staging to production, from runtime evidence: signature and signer,
#   tag-to-digest pin, SBOM and model-card referrers, CVE delta against the
#   current production image, and the freshness of that evidence.
package gate.container

import rego.v1

import data.gate.lib

_catalog := data.gate.catalog["gate.container"]

_config := object.get(data.gate.config, "container", {})

_operator := object.get(input, "operator", {})

_evidence := object.get(input, "evidence", {})

_signature := object.get(_evidence, "signature", {})

# Mode is an operator input, compared case-insensitively after trimming.
# Anything but "runtime" is static, and static never promotes.
runtime_mode if lib.normalized(object.get(input.gate, "mode", "static")) == "runtime"

image_ref := object.get(input.subject, "ref", "")

# The digest the registry resolved for image_ref; evidence about "the image"
# (signature, SBOM, scans) must be about this digest.
candidate_digest := _evidence.registry.resolved_digest

# The operator's pin may be given as "sha256:..." or "ref@sha256:...".
pinned_digest := pin if {
	pin := _operator.image_ref_pin
	is_string(pin)
	not contains(pin, "@")
} else := split(_operator.image_ref_pin, "@")[1] if {
	is_string(_operator.image_ref_pin)
}

_pin := pin if {
	pin := pinned_digest
} else := ""

_required_inputs := object.union(
	{
		"image_ref": image_ref,
		"image_ref_pin": object.get(_operator, "image_ref_pin", ""),
		"current_prod_digest": object.get(_operator, "current_prod_digest", ""),
	},
	_signer_inputs,
)

# The expected identity and issuer describe a keyless (Fulcio) signer. A
# signature checked against the operator's cosign public keys has neither,
# so they are required only when the operator gave no key and the recorded
# signature is not key-based; a certificate from the profile's private PKI
# carries an identity but no OIDC issuer.
_signer_inputs := {} if {
	_key_verification
} else := {"expected_signer_identity": _either(_operator, "expected_signer_identity")} if {
	_pki_verification
} else := {
	"expected_signer_identity": _either(_operator, "expected_signer_identity"),
	"expected_oidc_issuer": _either(_operator, "expected_oidc_issuer"),
}

_key_verification if key_signature

# A profile with a private PKI expects certificates that carry no OIDC
# issuer; a Fulcio certificate is still held to the issuer (an empty
# expected issuer never matches, so it blocks as wrong_issuer).
_pki_verification if pki_signature

_pki_verification if count(object.get(_config, ["private_pki", "roots"], [])) > 0

_key_verification if count(object.get(_operator, "cosign_key_sha256", [])) > 0

# An expected identity or issuer is given exactly, or explicitly as a
# regular expression (operator.<name>_regexp); either one is the input.
_either(operator, name) := value if {
	value := object.get(operator, name, "")
	not lib.blank(value)
} else := object.get(operator, concat("", [name, "_regexp"]), "")

# METADATA
# title: Operator inputs incomplete
# description: >-
#   Runtime mode needs the image reference, the expected digest pin, the
#   current production digest and, for keyless signatures, the expected
#   signer identity and OIDC issuer (a key-based signature needs neither, a
#   private-PKI certificate, or a profile with a private PKI, the identity
#   only). Without them no
#   runtime decision can be made, so the gate stops here and asks for a
#   person.
# custom:
#   short_name: inputs_incomplete
#   failure_msg: "Runtime mode needs these operator inputs, missing or empty: %s"
#   solution: >-
#     Supply every required input (subject.ref, operator.image_ref_pin,
#     operator.current_prod_digest and, unless the image is verified with a
#     cosign public key, operator.expected_signer_identity and
#     operator.expected_oidc_issuer) and evaluate again.
#   severity: medium
#   collections: [nim-promotion]
deny contains result if {
	runtime_mode
	missing := sort([name | some name, value in _required_inputs; lib.blank(value)])
	count(missing) > 0
	result := lib.result(_catalog.inputs_incomplete, [concat(", ", missing)])
}

_registry_allowed if {
	some prefix in object.get(_config, "registries", [])
	startswith(image_ref, prefix)
}

# METADATA
# title: Image is not from an allowed registry
# description: >-
#   The image reference does not start with any registry prefix the profile
#   allows. Evidence about an image from an unknown registry is not
#   meaningful, so the digest, signature, SBOM, model-card, CVE and freshness
#   gates do not run.
# custom:
#   short_name: unknown_registry
#   failure_msg: "Image reference %q is not under an allowed registry prefix (%s)"
#   solution: >-
#     Promote images only from the registries the profile allows, or add the
#     registry prefix (ending in "/") to the profile's container.registries.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	not _registry_allowed
	prefixes := concat(", ", object.get(_config, "registries", []))
	result := lib.result(_catalog.unknown_registry, [image_ref, prefixes])
}

# gates_run is false when unknown_registry applies and fires: the remaining
# evidence is then about an image nobody vouches for.
gates_run if _registry_allowed

gates_run if not lib.applies(_catalog.unknown_registry)

# Static mode contacts no registry and runs no scanner. The collector marks
# each section it therefore did not collect (not_collected, with the
# reason); such a section is no evidence either way, so the gates that read
# it do not run. Static mode never promotes, whatever else it shows.
_not_collected(name) if {
	not runtime_mode
	is_string(_evidence[name].not_collected)
}

_not_collected_scan(name) if {
	not runtime_mode
	is_string(_evidence.vulnerabilities[name].not_collected)
}

# METADATA
# title: Tag has drifted from the pinned digest
# description: >-
#   The digest the registry resolves for the image reference differs from
#   the digest the operator pinned, or could not be resolved at all.
# custom:
#   short_name: digest_drift
#   failure_msg: "Registry resolves %s to %s, but the pin is %s"
#   solution: >-
#     Find out why the tag moved. Re-pin to the new digest only after
#     reviewing what changed, or promote by digest instead of by tag.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	not _not_collected("registry")
	resolved := object.get(_evidence, ["registry", "resolved_digest"], "")
	not _same_digest(resolved, _pin)
	result := lib.result(_catalog.digest_drift, [image_ref, _shown(resolved), _shown(_pin)])
}

_same_digest(a, b) if {
	lib.sha256_digest(a)
	a == b
	not _evidence.registry.error
}

_shown(value) := value if {
	is_string(value)
	value != ""
} else := "(nothing)"

# A signature counts when it verified and is over the resolved digest.
# A collector that recorded an error never yields passing evidence, whatever
# else the section says.
signature_verified if {
	_signature.verified == true
	_signature.digest == candidate_digest
	not _signature.error
}

# METADATA
# title: Image is not signed
# description: No signature verifies for the resolved image digest.
# custom:
#   short_name: unsigned
#   failure_msg: "No signature verifies for %s"
#   solution: >-
#     Sign the image digest with cosign (keyless, from the release pipeline)
#     and make sure the signature is stored beside the image.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	not _not_collected("signature")
	not signature_verified
	result := lib.result(_catalog.unsigned, [_shown(object.get(_evidence, ["registry", "resolved_digest"], ""))])
}

# METADATA
# title: Signed by an unexpected identity
# description: >-
#   A signature verifies, but the certificate's subject identity is not the
#   one the operator expects: not equal to expected_signer_identity, and not
#   a full match of expected_signer_identity_regexp when the operator gave
#   one. An empty expected identity never matches. A key-based signature
#   (verified with the operator's cosign public key) has no identity to
#   compare.
# custom:
#   short_name: wrong_identity
#   failure_msg: "Signer identity %q does not match the expected %q"
#   solution: >-
#     Check who signed the image. If the release pipeline legitimately
#     changed, update the expected signer identity after review.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	signature_verified
	not _signer_accepted("identity", "expected_signer_identity")
	expected := _expected_shown("expected_signer_identity")
	result := lib.result(_catalog.wrong_identity, [object.get(_signature, "identity", ""), expected])
}

# METADATA
# title: Signed through an unexpected OIDC issuer
# description: >-
#   A signature verifies, but the certificate's OIDC issuer is not the one
#   the operator expects (exactly, or as a full match of
#   expected_oidc_issuer_regexp when the operator gave one). An empty
#   expected issuer never matches; a key-based signature has no issuer, and
#   a certificate from the profile's private PKI has no OIDC issuer.
# custom:
#   short_name: wrong_issuer
#   failure_msg: "OIDC issuer %q does not match the expected %q"
#   solution: >-
#     Check which identity provider issued the signing certificate and
#     update the expected issuer only after review.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	signature_verified
	not pki_signature
	not _signer_accepted("issuer", "expected_oidc_issuer")
	expected := _expected_shown("expected_oidc_issuer")
	result := lib.result(_catalog.wrong_issuer, [object.get(_signature, "issuer", ""), expected])
}

# Identity and issuer match exactly. A regular expression applies only when
# the operator gave one explicitly, and then the whole value must match it.
# A key-based signature (cosign --key) has no certificate: the operator's
# public key it verified with is the signer, so identity and issuer do not
# apply to it.
_signer_accepted(field, expected_name) if {
	_matches_expected(object.get(_signature, field, ""), object.get(_operator, expected_name, ""))
}

_signer_accepted(field, expected_name) if {
	pattern := object.get(_operator, concat("", [expected_name, "_regexp"]), "")
	_matches_regexp(object.get(_signature, field, ""), pattern)
}

_signer_accepted(_, _) if key_signature

key_signature if {
	_signature.method == "key"
	lib.sha256_digest(_signature.key_sha256)
}

# A cosign certificate that chains to the profile's private PKI
# (container.private_pki): it names a signer identity, but no OIDC issuer.
pki_signature if _signature.method == "pki"

_matches_regexp(actual, pattern) if {
	is_string(actual)
	is_string(pattern)
	pattern != ""
	regex.is_valid(concat("", ["^(?:", pattern, ")$"]))
	regex.match(concat("", ["^(?:", pattern, ")$"]), actual)
}

_expected_shown(name) := value if {
	value := object.get(_operator, name, "")
	not lib.blank(value)
} else := concat("", ["regexp ", _operator[concat("", [name, "_regexp"])]]) if {
	is_string(_operator[concat("", [name, "_regexp"])])
} else := ""

_matches_expected(actual, expected) if {
	is_string(expected)
	expected != ""
	actual == expected
}

# The identity a cosign simple-signing payload claims
# (critical.identity.docker-reference) must fit the image that was asked
# for, as containers-policy.json(5) signedIdentity says. The profile picks
# the requirement (container.signed_identity); matchRepository by default.
_signed_identity_type := object.get(_config, "signed_identity", "matchRepository")

_signed_identity := object.get(_signature, "signed_identity", {})

_requested := object.get(_signed_identity, "requested", {})

_signed := object.get(_signed_identity, "signed", {})

# Only simple-signing payloads (cosign .sig layers) carry a docker-reference;
# a Sigstore bundle (a referrer, by certificate or by managed key) signs the
# digest alone.
_claims_reference if _signature.method in {"keyless", "pki"}

_claims_reference if {
	_signature.method == "key"
	not startswith(object.get(_signature, "source", ""), "referrer ")
}

_name_only(ref) if {
	object.get(ref, "tag", "") == ""
	object.get(ref, "digest", "") == ""
}

_same_reference(a, b) if {
	object.get(a, "name", "") == object.get(b, "name", "")
	object.get(a, "tag", "") == object.get(b, "tag", "")
	object.get(a, "digest", "") == object.get(b, "digest", "")
}

_reference_fits("matchRepository") if _signed.name == _requested.name

_reference_fits("matchExact") if {
	not _name_only(_signed)
	not _name_only(_requested)
	_same_reference(_signed, _requested)
}

_reference_fits("matchRepoDigestOrExact") if {
	not _name_only(_signed)
	object.get(_requested, "tag", "") != ""
	_same_reference(_signed, _requested)
}

_reference_fits("matchRepoDigestOrExact") if {
	not _name_only(_signed)
	object.get(_requested, "tag", "") == ""
	object.get(_requested, "digest", "") != ""
	_signed.name == _requested.name
}

_signed_reference_accepted if {
	is_string(_signed.name)
	_signed.name != ""
	is_string(_requested.name)
	_requested.name != ""
	_reference_fits(_signed_identity_type)
}

# METADATA
# title: Signed for another image reference
# description: >-
#   A cosign signature verifies over the digest, but the docker-reference
#   its signed payload claims does not satisfy the profile's
#   signedIdentity requirement (containers-policy.json(5)) for the image
#   that was asked for. matchRepository (the default) needs the same
#   repository; matchExact the same repository and tag (or digest);
#   matchRepoDigestOrExact the same repository for a digest reference and
#   an exact match for a tagged one. A signature made for registry/a:tag
#   is thus refused for registry/b. A payload without a docker-reference,
#   or one that does not parse, never matches.
# custom:
#   short_name: signed_identity_mismatch
#   failure_msg: "The signature was made for %q, which does not satisfy %s for %q"
#   solution: >-
#     Sign the image under the repository it is promoted from (cosign sign
#     REGISTRY/REPO@DIGEST), or, after review, change the profile's
#     container.signed_identity.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	signature_verified
	_claims_reference
	not _signed_reference_accepted
	signed := object.get(_signed_identity, "docker_reference", "(none)")
	result := lib.result(_catalog.signed_identity_mismatch, [signed, _signed_identity_type, image_ref])
}

_cert_not_after := lib.timestamp_ns(_signature.cert_not_after)

# A verified time anchors the signature when it falls inside the
# certificate's validity window: the transparency log's integrated time
# (recorded only for an entry whose inclusion verified, online or from the
# bundle's signed entry timestamp), or the generation time of a verified
# RFC 3161 timestamp-authority response over the signature (Rekor v2
# bundles carry no integrated time).
_anchor_times contains t if t := lib.timestamp_ns(_signature.tlog.integrated_time)

_anchor_times contains t if t := lib.timestamp_ns(_signature.signed_timestamp)

_cert_not_before_ns := lib.timestamp_ns(_signature.cert_not_before)

tlog_anchored if {
	some t in _anchor_times
	t <= _cert_not_after
	not _before_not_before(t)
}

_before_not_before(t) if t < _cert_not_before_ns

_before_not_before(_) if {
	_signature.cert_not_before
	not _cert_not_before_ns
}

_cert_valid_now if _cert_not_after >= lib.timestamp_ns(input.gate.now)

# METADATA
# title: Signing certificate has expired
# description: >-
#   The signing certificate's notAfter is before now (or cannot be parsed),
#   and no transparency-log timestamp anchors the signature inside the
#   certificate's validity. A valid-looking signature on an expired
#   certificate is a replay artifact. A key-based signature has no
#   certificate.
# custom:
#   short_name: expired_cert
#   failure_msg: "Signing certificate notAfter %s is before %s and no transparency-log entry anchors the signature"
#   solution: >-
#     Re-sign the image so the signature is recorded in the transparency
#     log, or investigate a possible replay.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	signature_verified
	not key_signature
	not tlog_anchored
	not _cert_valid_now
	result := lib.result(_catalog.expired_cert, [
		_shown(object.get(_signature, "cert_not_after", "")),
		_shown(object.get(input.gate, "now", "")),
	])
}

# METADATA
# title: Transparency log unreachable
# description: >-
#   The transparency log (Rekor) could not be consulted. On its own this is
#   not a block: air-gapped sites promote by operator override, never
#   automatically.
# custom:
#   short_name: rekor_unreachable
#   failure_msg: "The transparency log could not be consulted: %s"
#   solution: >-
#     Retry when Rekor is reachable, or have an operator review the evidence
#     and promote by explicit override (air-gapped sites).
#   severity: medium
#   collections: [nim-promotion]
deny contains result if {
	not _not_collected("signature")
	not _tlog_consulted
	detail := object.get(_signature, ["tlog", "error"], "no transparency-log evidence was recorded")
	result := lib.result(_catalog.rekor_unreachable, [_shown(detail)])
}

_tlog_consulted if {
	_signature.tlog.reachable == true
	not _signature.tlog.error
}

_sbom := object.get(_evidence, "sbom", {})

sbom_verified if {
	_sbom.verified == true
	lib.normalized(_sbom.format) in {"spdx", "cyclonedx"}
	_sbom.subject_digest == candidate_digest
	not _sbom.error
}

# METADATA
# title: No verified SBOM attestation
# description: >-
#   No SPDX or CycloneDX SBOM attestation verifies for the resolved image
#   digest.
# custom:
#   short_name: missing_sbom
#   failure_msg: "No verified SPDX or CycloneDX SBOM attestation for %s"
#   solution: >-
#     Generate an SBOM (syft, trivy) in the release pipeline and attach it
#     as a signed attestation: cosign attest --type spdxjson (or cyclonedx).
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	not _not_collected("sbom")
	not sbom_verified
	result := lib.result(_catalog.missing_sbom, [_shown(object.get(_evidence, ["registry", "resolved_digest"], ""))])
}

_model_card := object.get(_evidence, "model_card", {})

model_card_pinned if {
	_model_card.source == "oci-referrer"
	lib.sha256_digest(_model_card.digest)
	not _model_card.error
}

# METADATA
# title: No pinned model card
# description: >-
#   No model card is attached to the image as an OCI referrer with a
#   sha256 digest. A label or URL alone does not count: it can change
#   without the image changing.
# custom:
#   short_name: missing_model_card
#   failure_msg: "No model card attached as an OCI referrer with a sha256 digest (found: %s)"
#   solution: >-
#     Attach the model card to the image digest as an OCI referrer artifact
#     (oras attach --artifact-type ...) so it is pinned by digest.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	not _not_collected("model_card")
	not model_card_pinned
	found := _shown(object.get(_model_card, "source", ""))
	result := lib.result(_catalog.missing_model_card, [found])
}

_vulns := object.get(_evidence, "vulnerabilities", {})

_candidate_scan := object.get(_vulns, "candidate", {})

_baseline_scan := object.get(_vulns, "baseline", {})

# Every argument below is defined (object.get defaults): OPA evaluates a
# function argument before a surrounding "not", so an undefined argument
# would make "not f(x)" fail instead of succeed, and the gate fail open.
_usable_report(report, digest) if {
	lib.sha256_digest(digest)
	report.digest == digest
	is_array(report.matches)
	not report.error
}

_candidate_usable if _usable_report(_candidate_scan, _scanned_digest)

# The candidate scan must be about the resolved digest; in static mode,
# where nothing was resolved, about the digest the operator pinned.
_scanned_digest := object.get(_evidence, ["registry", "resolved_digest"], "") if {
	not _not_collected("registry")
} else := _pin

_baseline_usable if _usable_report(_baseline_scan, object.get(_operator, "current_prod_digest", ""))

_severe_ids(report, severity) := {m.id |
	some m in report.matches
	lib.normalized(m.severity) == severity
}

_all_ids(report) := {m.id | some m in report.matches}

# cve_delta summarises the candidate against current production. A CVE is
# new when its id does not appear in the production report at all.
_baseline_ids := _all_ids(_baseline_scan)

_candidate_ids := _all_ids(_candidate_scan)

_candidate_severe := [[m.id, s] |
	some m in _candidate_scan.matches
	not m.id in _baseline_ids
	s := lib.normalized(m.severity)
	s in {"critical", "high"}
]

cve_delta := {
	"vs_digest": _baseline_scan.digest,
	"new_critical": count({id | some [id, "critical"] in _candidate_severe}),
	"new_high": count({id | some [id, "high"] in _candidate_severe}),
	"fixed_critical": count(_severe_ids(_baseline_scan, "critical") - _candidate_ids),
} if {
	_candidate_usable
	_baseline_usable
}

_cve_problem := "no usable CVE scan of the candidate digest" if {
	not _candidate_usable
} else := "no usable CVE scan of the current production digest" if {
	not _baseline_usable
} else := sprintf("%d new critical and %d new high CVEs vs current production", [cve_delta.new_critical, cve_delta.new_high]) if {
	cve_delta.new_critical + cve_delta.new_high > 0
}

# METADATA
# title: CVE regression against production
# description: >-
#   The candidate has critical or high CVEs that the current production
#   image does not have, or the comparison could not be made (a scan is
#   missing, failed, or is about another digest).
# custom:
#   short_name: cve_regression
#   failure_msg: "CVE regression: %s"
#   solution: >-
#     Fix or upgrade the affected packages, or rebuild on a patched base
#     image. If a scan is missing, rescan both digests with the same scanner
#     and database.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	not _not_collected_scan("candidate")
	not _not_collected_scan("baseline")
	result := lib.result(_catalog.cve_regression, [_cve_problem])
}

_age := object.get(_evidence, ["attestation", "age_hours"], null)

_age_valid if {
	is_number(_age)
	_age >= 0
}

ttl_hours := ttl if {
	ttl := _operator.attestation_ttl_hours
	is_number(ttl)
	ttl >= 0
} else := object.get(_config, "attestation_ttl_hours", 24)

# METADATA
# title: Evidence age is malformed
# description: The evidence's age is missing, not a number, or negative.
# custom:
#   short_name: malformed_attestation_age
#   failure_msg: "Evidence age %s is not a non-negative number of hours"
#   solution: Re-collect the evidence; the collector must record its age in hours.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	not _age_valid
	result := lib.result(_catalog.malformed_attestation_age, [json.marshal(_age)])
}

# METADATA
# title: Evidence is stale
# description: The evidence is older than the attestation TTL.
# custom:
#   short_name: stale_attestation
#   failure_msg: "Evidence is %s hours old, older than the %s-hour TTL"
#   solution: Re-collect the evidence and evaluate again.
#   severity: high
#   collections: [nim-promotion]
deny contains result if {
	gates_run
	_age_valid
	_age > ttl_hours
	result := lib.result(_catalog.stale_attestation, [json.marshal(_age), json.marshal(ttl_hours)])
}

# METADATA
# title: All gates passed
# description: Runtime mode, and no gate fired.
# custom:
#   short_name: all_gates_passed
#   failure_msg: "All gates passed for %s"
#   solution: "Record the signed decision and promote: gate eval ... --attest decision.intoto.jsonl --key gate.key, then gate attest verify decision.intoto.jsonl --key gate.pub"
#   severity: info
#   collections: [nim-promotion]
verdict_note contains result if {
	count(fired) == 0
	runtime_mode
	result := lib.result(_catalog.all_gates_passed, [image_ref])
}

# METADATA
# title: Static mode has no runtime evidence
# description: >-
#   No gate fired, but the evidence was supplied rather than observed
#   (static, dry-run mode). Static mode never promotes.
# custom:
#   short_name: static_mode_no_runtime_evidence
#   failure_msg: "Static mode: the evidence for %s was supplied, not observed; static mode never promotes"
#   solution: Evaluate again with mode runtime, or have an operator decide.
#   severity: info
#   collections: [nim-promotion]
verdict_note contains result if {
	count(fired) == 0
	not runtime_mode
	result := lib.result(_catalog.static_mode_no_runtime_evidence, [image_ref])
}

# fired holds the results of the gates the profile selects, in gate order.
fired := lib.ordered(_catalog, {r | some r in deny; lib.applies(_catalog[r.code])})

fired_codes := {r.code | some r in fired}

_incomplete := [r | some r in fired; r.code == "inputs_incomplete"]

# outcome applies the verdict table of the decision contract.
outcome := {
	"verdict": "manual-review",
	"evidence_level": "documentation-only",
	"results": _incomplete,
} if {
	count(_incomplete) > 0
} else := {
	"verdict": "promote",
	"evidence_level": "live",
	"results": lib.ordered(_catalog, verdict_note),
} if {
	count(fired) == 0
	runtime_mode
} else := {
	"verdict": "manual-review",
	"evidence_level": "documentation-only",
	"results": lib.ordered(_catalog, verdict_note),
} if {
	count(fired) == 0
} else := {
	"verdict": "manual-review",
	"evidence_level": _evidence_level,
	"results": fired,
} if {
	fired_codes == {"rekor_unreachable"}
} else := {
	"verdict": "block",
	"evidence_level": _evidence_level,
	"results": fired,
}

# Supplied (static) evidence is documentation only, whatever it says.
_evidence_level := "documentation-only" if {
	not runtime_mode
} else := "partial" if {
	"rekor_unreachable" in fired_codes
} else := "live"
