package gate.startup_test

import rego.v1

_digest := "sha256:abababababababababababababababababababababababababababababababab"

_config := {
	"profile": {"name": "skills-quarantine", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"},
	"policy": "skills",
	"collections": ["skills-quarantine"],
	"exclude": [],
	"skills": {},
}

_gates := {
	"pre_resolution": {"pinned": true, "registry": "https://skills.example/trusted", "trusted_registry": true, "allowlisted": true, "revoked": false, "runtime_fetch": false},
	"artifact_verification": {
		"package_present": true, "package_digest": _digest, "expected_signer": "release-bot",
		"signature": {"present": true, "verified": true, "signer": "release-bot"},
		"source_declared": "https://github.com/acme/skills@3f1c", "source_expected": "https://github.com/acme/skills@3f1c", "source_matches": true,
	},
	"dependency_graph": {"sbom_present": true, "dependencies": [], "unpinned": [], "untrusted": [], "drift": []},
	"runtime_activation": {"allowlisted": true, "revoked": false, "state": "approved_trusted", "outcome_now": "approved_trusted"},
}

_all := ["pre_resolution", "artifact_verification", "dependency_graph", "runtime_activation"]

doc(gate, changes, reached) := {
	"gate": {"version": "1", "mode": "static", "now": "2026-11-23T00:00:00Z"},
	"subject": {"kind": "skill-startup", "ref": "release-bot", "digest": _digest},
	"evidence": {"startup": {"gates_reached": reached, "skills": [{"name": "pdf-text", "digest": _digest, "gates": object.union(_gates, {gate: object.union(_gates[gate], changes)})}]}},
}

decide(d) := out if {
	out := data.gate.main.decision with input as d with data.gate.config as _config
}

reasons(d) := decide(d).reasons

test_every_gate_passes if {
	d := decide(doc("pre_resolution", {}, _all))
	d.verdict == "promote"
	d.reasons == ["startup_allowed"]
}

test_pre_resolution_failures if {
	every change in [{"pinned": false}, {"trusted_registry": false}, {"allowlisted": false}, {"revoked": true}, {"runtime_fetch": true}, {"revoked": null}] {
		reasons(doc("pre_resolution", change, ["pre_resolution"])) == ["startup_pre_resolution", "startup_gate_not_reached"]
	}
}

test_artifact_verification_failures if {
	every change in [
		{"package_present": false, "error": "no such file"},
		{"package_digest": "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"},
		{"signature": {"present": false, "verified": false}},
		{"signature": {"present": true, "verified": true, "signer": "someone-else"}},
		{"source_matches": false},
	] {
		d := decide(doc("artifact_verification", change, ["pre_resolution", "artifact_verification"]))
		d.reasons == ["startup_artifact_verification", "startup_gate_not_reached"]
		startswith(d.results[0].message, "skill pdf-text (sha256:abab")
	}
}

test_dependency_graph_failures if {
	every change in [{"sbom_present": false}, {"unpinned": ["npm:undici"]}, {"untrusted": ["pypi:x (git)"]}, {"drift": ["x"]}] {
		reasons(doc("dependency_graph", change, ["pre_resolution", "artifact_verification", "dependency_graph"])) == ["startup_dependency_graph", "startup_gate_not_reached"]
	}
}

test_runtime_activation_failures if {
	every change in [{"allowlisted": false}, {"revoked": true}, {"outcome_now": "approved_limited", "reasons_now": ["approval_expired"]}, {"outcome_now": null}] {
		reasons(doc("runtime_activation", change, _all)) == ["startup_runtime_activation"]
	}
}

test_unreached_gates_never_pass if {
	reasons(doc("pre_resolution", {}, ["pre_resolution"])) == ["startup_gate_not_reached"]
	decide(doc("pre_resolution", {}, [])).verdict == "block"
}

test_an_empty_manifest_is_refused if {
	d := {"gate": {"version": "1", "mode": "static", "now": "2026-11-23T00:00:00Z"}, "subject": {"kind": "skill-startup", "ref": "x"}, "evidence": {"startup": {"gates_reached": _all, "skills": []}}}
	reasons(d) == ["startup_manifest_empty"]
}
