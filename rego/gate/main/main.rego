# METADATA
# title: Decision entry point
# description: >-
#   data.gate.main.decision is what every caller asks for: the verdict,
#   the evidence level, the reasons in gate order, one result per fired rule
#   with its title and solution, and the profile that was applied.
package gate.main

import rego.v1

import data.gate.artifact
import data.gate.container
import data.gate.lifecycle
import data.gate.skills
import data.gate.startup
import data.gate.lib

_catalog := data.gate.catalog["gate.main"]

# The profile names the policy; each policy covers the subject kinds it
# knows how to judge.
_policies := {
	"container": {"oci-image"},
	"artifact": {"model-file", "model-dir"},
	"lifecycle": {"model-version"},
	"skills": {"skill", "skill-startup"},
}

_config := config if {
	config := data.gate.config
} else := {}

_policy := object.get(_config, "policy", "")

outcome := container.outcome if {
	_policy == "container"
	input.subject.kind in _policies.container
}

outcome := artifact.outcome if {
	_policy == "artifact"
	input.subject.kind in _policies.artifact
}

outcome := lifecycle.outcome if {
	_policy == "lifecycle"
	input.subject.kind in _policies.lifecycle
}

outcome := skills.outcome if {
	_policy == "skills"
	input.subject.kind == "skill"
}

outcome := startup.outcome if {
	_policy == "skills"
	input.subject.kind == "skill-startup"
}

# METADATA
# title: No policy for this subject
# description: >-
#   The profile's policy does not judge subjects of this kind (or the
#   profile names no known policy), so nothing vouches for the subject.
# custom:
#   short_name: unsupported_subject
#   failure_msg: "Profile policy %q does not judge subjects of kind %q"
#   solution: Evaluate the subject with a profile whose policy covers its kind.
#   severity: high
#   collections: [nim-promotion]
unsupported contains result if {
	not _supported
	result := lib.result(_catalog.unsupported_subject, [_policy, object.get(input.subject, "kind", "")])
}

_supported if input.subject.kind in _policies[_policy]

# Without a profile no rule would be selected, and an empty set of reasons
# must never read as "all gates passed".
_configured if {
	is_string(_config.profile.name)
	is_string(_config.profile.sha256)
	count(_config.collections) > 0
}

# METADATA
# title: No profile loaded
# description: >-
#   data.gate.config is missing or names no collection, so no rule is
#   selected. Nothing is decided without a profile.
# custom:
#   short_name: profile_missing
#   failure_msg: "No profile is loaded (data.gate.config%s)"
#   solution: >-
#     Evaluate with gate eval --profile, or load the profile into the OPA
#     sidecar's data at gate.config (gate bundles carry it).
#   severity: high
#   collections: [nim-promotion]
unconfigured contains result if {
	not _configured
	result := lib.result(_catalog.profile_missing, [" has no profile name, sha256 or collections"])
}

_outcome := {
	"verdict": "block",
	"evidence_level": "documentation-only",
	"results": lib.ordered(_catalog, unconfigured),
} if {
	not _configured
} else := outcome if {
	_supported
} else := {
	"verdict": "block",
	"evidence_level": "documentation-only",
	"results": lib.ordered(_catalog, unsupported),
}

# Policies with stages (artifact) add a per-stage summary and the warnings
# that did not block; other decisions keep exactly the five fields.
_staged := {"stages": _outcome.stages, "warnings": _outcome.warnings} if {
	_outcome.stages
} else := {}

# Lifecycle decisions add the transition (asked, or applied by hygiene) and the waived reasons.
_lifecycle := {"transition": _outcome.transition, "waived": _outcome.waived} if {
	_outcome.transition
} else := {}

# Skill decisions add the quarantine outcome (and their warnings).
_skill := {"skill": _outcome.skill, "warnings": _outcome.warnings} if {
	_outcome.skill
} else := {}

decision := {key: value | some key, value in object.union(object.union(object.union(_decision, _staged), _lifecycle), _skill)}

_decision := {
	"verdict": _outcome.verdict,
	"evidence_level": _outcome.evidence_level,
	"reasons": lib.codes(_outcome.results),
	"results": _outcome.results,
	"profile": {
		"name": object.get(_config, ["profile", "name"], ""),
		"sha256": object.get(_config, ["profile", "sha256"], ""),
	},
}
