# METADATA
# title: Decision entry point
# description: >-
#   data.gate.main.decision is what every caller asks for: the verdict,
#   the evidence level, the reasons in gate order, one result per fired rule
#   with its title and solution, and the profile that was applied.
package gate.main

import rego.v1

import data.gate.container
import data.gate.lib

_catalog := data.gate.catalog["gate.main"]

# The profile names the policy; each policy covers the subject kinds it
# knows how to judge.
_policies := {"container": {"oci-image"}}

_policy := object.get(data.gate.config, "policy", "")

outcome := container.outcome if {
	_policy == "container"
	input.subject.kind in _policies.container
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

_outcome := outcome if _supported

else := {
	"verdict": "block",
	"evidence_level": "documentation-only",
	"results": lib.ordered(_catalog, unsupported),
}

decision := {
	"verdict": _outcome.verdict,
	"evidence_level": _outcome.evidence_level,
	"reasons": lib.codes(_outcome.results),
	"results": _outcome.results,
	"profile": {
		"name": data.gate.config.profile.name,
		"sha256": data.gate.config.profile.sha256,
	},
}
