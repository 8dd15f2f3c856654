# METADATA
# title: Helpers for gate's configuration-file checks
# description: >-
#   Which kind of gate configuration file the input is, and URL prefix
#   checks shared by profiles and sources.allowlist.yaml. Used by the
#   conftest-style namespaces under gate.check (gate check FILES).
package gate.check.lib

import rego.v1

# A policy profile (policy-profiles/*.yaml).
is_profile if input.apiVersion == "gate/v1"

_models := object.get(input, "models", null)

# models.lock.yaml: version and models entries that pin digests.
is_models_lock if {
	not is_profile
	is_array(_models)
	some entry in _models
	is_object(entry)
	_pin_fields & object.keys(entry) != set()
}

_pin_fields := {"sha256", "filename", "size_bytes"}

# sources.allowlist.yaml: version and models entries with URL prefixes.
is_sources_allowlist if {
	not is_profile
	is_array(_models)
	some entry in _models
	is_object(entry)
	"url_prefix" in object.keys(entry)
}

# A file with a version and an empty models list is either; nothing to check.
is_empty_models_file if {
	not is_profile
	is_array(_models)
	count(_models) == 0
}

known if is_profile

known if is_models_lock

known if is_sources_allowlist

known if is_empty_models_file

# prefix_problems lists what is wrong with an allowlist URL prefix.
prefix_problems(prefix) := {"not a string"} if not is_string(prefix)

else := {message |
	some check, message in _prefix_messages
	_prefix_fails(check, prefix)
}

_prefix_messages := {
	"https": "must use https://",
	"slash": "must end with '/' (otherwise it also admits hosts and paths that merely start the same)",
	"extras": "must not carry credentials, a query or a fragment",
}

_prefix_fails("https", prefix) if not startswith(prefix, "https://")

_prefix_fails("slash", prefix) if not endswith(prefix, "/")

_prefix_fails("extras", prefix) if regex.match(`[@?#]`, prefix)
