# METADATA
# title: Checks for sources.allowlist.yaml
# description: >-
#   Allowlist prefixes are compared as parsed URLs: each must be https, end
#   with '/', and carry no credentials, query or fragment.
package gate.check.sources_allowlist

import rego.v1

import data.gate.check.lib

deny_prefix contains msg if {
	lib.is_sources_allowlist
	some entry in input.models
	is_object(entry)
	some problem in lib.prefix_problems(object.get(entry, "url_prefix", null))
	msg := sprintf("source %q: url_prefix %v %s", [object.get(entry, "name", "(unnamed)"), object.get(entry, "url_prefix", null), problem])
}

warn_unnamed contains msg if {
	lib.is_sources_allowlist
	some entry in input.models
	is_object(entry)
	not is_string(object.get(entry, "name", null))
	msg := sprintf("source with url_prefix %v has no name", [object.get(entry, "url_prefix", null)])
}
