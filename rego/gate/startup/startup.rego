# METADATA
# title: Skill startup gates
# description: >-
#   Whether a trusted run may start with the skills its manifest lists: four
#   gates in order (pre-resolution, artifact verification, dependency graph,
#   runtime activation), each failing closed. gate enforce observes a gate
#   only after every skill passed the gates before it; a gate not reached
#   never counts as passed. The first failure is the policy error startup
#   stops with.
package gate.startup

import rego.v1

import data.gate.lib

_catalog := data.gate.catalog["gate.startup"]

_startup := object.get(object.get(input, "evidence", {}), "startup", {})

_skills := object.get(_startup, "skills", [])

_reached := object.get(_startup, "gates_reached", [])

_gate(seen, name) := object.get(object.get(seen, "gates", {}), name, {})

# METADATA
# title: Pre-resolution gate failed
# description: >-
#   Before anything is fetched: every skill must be pinned by digest, come
#   from a registry the profile trusts, be on the trusted allowlist and not
#   revoked, and the run must not allow runtime fetches.
# custom:
#   short_name: startup_pre_resolution
#   failure_msg: "skill %s (%s) failed the pre-resolution gate: %s"
#   solution: Resolve skills only from the trusted registry, pinned to an allowlisted digest, with allowRuntimeFetch false.
#   severity: critical
#   collections: [skills-quarantine]
deny contains lib.result(_catalog.startup_pre_resolution, [seen.name, seen.digest, why]) if {
	some seen in _skills
	some why in _pre(_gate(seen, "pre_resolution"))
}

_pre(g) := {why |
	some check, why in {
		"pinned": "no sha256 digest pin",
		"trusted_registry": sprintf("registry %q is not a trusted registry", [object.get(g, "registry", "")]),
		"allowlisted": "the digest is not on the trusted allowlist",
	}
	object.get(g, check, false) != true
} | {why |
	some check, why in {
		"revoked": "the digest is revoked",
		"runtime_fetch": "runtime fetch is allowed (allowRuntimeFetch must be false)",
	}
	object.get(g, check, true) != false
}

# METADATA
# title: Artifact verification gate failed
# description: >-
#   After fetch, before unpack: the fetched package's digest must equal the
#   pin, its signature must verify with an approved signer (the one recorded
#   when it was published), and its source tuple must equal the registry's.
# custom:
#   short_name: startup_artifact_verification
#   failure_msg: "skill %s (%s) failed the artifact verification gate: %s"
#   solution: Fetch the exact published package with its signature, and declare the registry's source tuple.
#   severity: critical
#   collections: [skills-quarantine]
deny contains lib.result(_catalog.startup_artifact_verification, [seen.name, seen.digest, why]) if {
	"artifact_verification" in _reached
	some seen in _skills
	some why in _artifact(seen, _gate(seen, "artifact_verification"))
}

_artifact(seen, g) := {object.get(g, "error", "the package is missing") | object.get(g, "package_present", null) != true} | {sprintf("the fetched package is %v, not the pinned digest", [object.get(g, "package_digest", null)]) |
	g.package_present == true
	object.get(g, "package_digest", null) != seen.digest
} | {sprintf("signature: %s", [object.get(object.get(g, "signature", {}), "error", "no signature")]) |
	g.package_present == true
	object.get(object.get(g, "signature", {}), "verified", false) != true
} | {sprintf("signed by %v, published with signer %v", [object.get(g.signature, "signer", null), object.get(g, "expected_signer", null)]) |
	g.signature.verified == true
	object.get(g.signature, "signer", null) != object.get(g, "expected_signer", null)
} | {sprintf("source %v does not match the registry's %v", [object.get(g, "source_declared", null), object.get(g, "source_expected", null)]) |
	g.package_present == true
	object.get(g, "source_matches", null) != true
}

# METADATA
# title: Dependency graph gate failed
# description: >-
#   Before the sandbox boots: the publication's SBOM is present, every
#   dependency is pinned and resolved from a trusted registry, and the
#   package's manifests resolve to exactly the dependencies that were
#   published (no drift).
# custom:
#   short_name: startup_dependency_graph
#   failure_msg: "skill %s (%s) failed the dependency graph gate: %s"
#   solution: Publish the skill with its SBOM and pinned dependencies; load exactly what was published.
#   severity: critical
#   collections: [skills-quarantine]
deny contains lib.result(_catalog.startup_dependency_graph, [seen.name, seen.digest, why]) if {
	"dependency_graph" in _reached
	some seen in _skills
	some why in _deps(_gate(seen, "dependency_graph"))
}

_deps(g) := {"no SBOM was published" | object.get(g, "sbom_present", null) != true} | {sprintf("%s is not pinned", [d]) |
	some d in object.get(g, "unpinned", [])
} | {sprintf("%s does not come from a trusted registry", [d]) |
	some d in object.get(g, "untrusted", [])
} | {"the dependencies differ from the published ones" | count(object.get(g, "drift", [])) > 0}

# METADATA
# title: Runtime activation gate failed
# description: >-
#   Immediately before execution: the final digest is still on the
#   allowlist, not revoked, and the policy still decides approved_trusted
#   now (approvals present and unexpired, nothing downgraded).
# custom:
#   short_name: startup_runtime_activation
#   failure_msg: "skill %s (%s) failed the runtime activation gate: %s"
#   solution: Re-approve (gate skill approve, evaluate, publish) or remove the skill from the run.
#   severity: critical
#   collections: [skills-quarantine]
deny contains lib.result(_catalog.startup_runtime_activation, [seen.name, seen.digest, why]) if {
	"runtime_activation" in _reached
	some seen in _skills
	some why in _activation(_gate(seen, "runtime_activation"))
}

_activation(g) := {"no longer on the allowlist" | object.get(g, "allowlisted", null) != true} | {"revoked" | object.get(g, "revoked", null) != false} | {sprintf("the policy now decides %v (%s)", [object.get(g, "outcome_now", null), concat(", ", object.get(g, "reasons_now", []))]) |
	object.get(g, "outcome_now", null) != "approved_trusted"
}

# METADATA
# title: Startup gate not reached
# description: >-
#   A gate was not observed (gate enforce stops observing after the first
#   failing gate, and evidence may be incomplete). A gate not reached never
#   counts as passed.
# custom:
#   short_name: startup_gate_not_reached
#   failure_msg: "the %s gate was not reached"
#   solution: Fix the gate that failed first; the later gates run once it passes.
#   severity: high
#   collections: [skills-quarantine]
deny contains lib.result(_catalog.startup_gate_not_reached, [replace(g, "_", " ")]) if {
	some g in _unreached
	count(_skills) > 0
}

# METADATA
# title: Manifest lists no skills
# description: >-
#   A startup manifest with no skills proves nothing; an empty list is
#   refused rather than read as "all gates passed".
# custom:
#   short_name: startup_manifest_empty
#   failure_msg: "the manifest of %s lists no skills"
#   solution: List the skills the run loads, or do not run gate enforce for a run without skills.
#   severity: high
#   collections: [skills-quarantine]
deny contains lib.result(_catalog.startup_manifest_empty, [object.get(input.subject, "ref", "")]) if {
	count(_skills) == 0
}

# METADATA
# title: Every startup gate passed
# description: >-
#   Every skill passed the four gates; the run may start, and gate signs the
#   startup attestation.
# custom:
#   short_name: startup_allowed
#   failure_msg: "%d skills passed the four startup gates"
#   solution: Start the run; keep the startup attestation with its logs.
#   severity: info
#   collections: [skills-quarantine]
note contains lib.result(_catalog.startup_allowed, [count(_skills)]) if {
	count(_applied) == 0
	"runtime_activation" in _reached
}

_applied := {r | some r in deny; lib.applies(_catalog[r.code])}

# Every gate not reached stands as a failure of its own until observed.
_unreached := {g | some g in ["pre_resolution", "artifact_verification", "dependency_graph", "runtime_activation"]; not g in _reached}

outcome := {
	"verdict": "promote",
	"evidence_level": "live",
	"results": lib.ordered(_catalog, note),
} if {
	count(_applied) == 0
	count(_unreached) == 0
} else := {
	"verdict": "block",
	"evidence_level": "live",
	"results": lib.ordered(_catalog, _applied),
}
