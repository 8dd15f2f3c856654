# METADATA
# title: Is this a gate configuration file?
# description: >-
#   gate check with gate's own checks expects policy profiles,
#   models.lock.yaml or sources.allowlist.yaml; anything else fails here
#   rather than passing every other namespace by default.
package gate.check.kind

import rego.v1

import data.gate.check.lib

deny contains msg if {
	not lib.known
	msg := "not a gate configuration file: expected a profile (apiVersion: gate/v1), models.lock.yaml or sources.allowlist.yaml"
}
