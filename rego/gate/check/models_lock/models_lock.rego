# METADATA
# title: Checks for models.lock.yaml
# description: >-
#   Every pin must be usable: a 64-hex sha256, an https source, one entry
#   per file name. Entries without a real digest pin nothing and warn.
package gate.check.models_lock

import rego.v1

import data.gate.check.lib

_entries := [entry | some entry in input.models; is_object(entry)] if lib.is_models_lock

else := []

_label(entry) := object.get(entry, "filename", object.get(entry, "name", "(unnamed)"))

_placeholder(digest) if digest == ""

_placeholder(digest) if regex.match(`^0{64}$`, digest)

deny_sha256 contains msg if {
	some entry in _entries
	digest := object.get(entry, "sha256", "")
	not _placeholder(digest)
	not regex.match(`^[0-9a-f]{64}$`, digest)
	msg := sprintf("pin %q: sha256 must be 64 lower-case hex digits, got %v", [_label(entry), digest])
}

warn_placeholder contains msg if {
	some entry in _entries
	_placeholder(object.get(entry, "sha256", ""))
	msg := sprintf("pin %q has no real sha256: it pins nothing", [_label(entry)])
}

deny_source_scheme contains msg if {
	some entry in _entries
	source := object.get(entry, "source", "https://")
	not startswith(source, "https://")
	msg := sprintf("pin %q: source %v must use https://", [_label(entry), source])
}

deny_duplicate contains msg if {
	some i, a in _entries
	some j, b in _entries
	i < j
	_label(a) == _label(b)
	msg := sprintf("file %q is pinned twice (entries %d and %d)", [_label(a), i, j])
}
