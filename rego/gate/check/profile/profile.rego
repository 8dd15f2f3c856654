# METADATA
# title: Checks for gate policy profiles
# description: >-
#   What the profile schema cannot see: collections and exclusions that
#   match no rule of the profile's policy (data.gate.catalog, which gate
#   check provides), registry prefixes that admit more than meant, long
#   evidence lifetimes, and allowlist prefixes that are not exact.
package gate.check.profile

import rego.v1

import data.gate.check.lib

_catalog := catalog if {
	catalog := data.gate.catalog
} else := {}

_rules := object.get(_catalog, sprintf("gate.%s", [object.get(input, "policy", "")]), {})

_known_collections := {c | some meta in _rules; some c in meta.collections}

deny_unknown_collection contains msg if {
	lib.is_profile
	count(_catalog) > 0
	some collection in object.get(input, "collections", [])
	not collection in _known_collections
	msg := sprintf("collection %q selects no rule of policy %q", [collection, object.get(input, "policy", "")])
}

deny_unknown_exclude contains msg if {
	lib.is_profile
	count(_catalog) > 0
	some code in object.get(input, "exclude", [])
	not code in object.keys(_rules)
	msg := sprintf("exclude names unknown reason code %q", [code])
}

deny_registry_prefix contains msg if {
	lib.is_profile
	some prefix in object.get(input, ["container", "registries"], [])
	is_string(prefix)
	not endswith(prefix, "/")
	msg := sprintf("registry prefix %q must end with '/': it also admits %q", [prefix, concat("", [prefix, "-evil.example/x"])])
}

deny_allowlist_prefix contains msg if {
	lib.is_profile
	some entry in object.get(input, ["artifact", "source", "allowlist"], [])
	some problem in lib.prefix_problems(object.get(entry, "url_prefix", null))
	msg := sprintf("artifact.source.allowlist prefix %v %s", [object.get(entry, "url_prefix", null), problem])
}

warn_long_ttl contains msg if {
	lib.is_profile
	ttl := object.get(input, ["container", "attestation_ttl_hours"], 0)
	ttl > 168
	msg := sprintf("container.attestation_ttl_hours is %v: evidence older than a week still promotes", [ttl])
}
