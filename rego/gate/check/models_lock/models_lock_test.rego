package gate.check.models_lock_test

import rego.v1

import data.gate.check.models_lock

_pin(name, digest) := {"name": name, "filename": name, "source": "https://huggingface.co/x", "sha256": digest}

_good := {"version": 1, "models": [_pin("a.gguf", concat("", ["ab", substring(concat("", [
	"0123456789abcdef0123456789abcdef",
	"0123456789abcdef0123456789abcdef",
]), 0, 62)]))]}

test_good_lock_passes if {
	count(models_lock.deny_sha256) == 0 with input as _good
	count(models_lock.deny_duplicate) == 0 with input as _good
	count(models_lock.deny_source_scheme) == 0 with input as _good
	count(models_lock.warn_placeholder) == 0 with input as _good
}

test_bad_digest_fails if {
	count(models_lock.deny_sha256) == 1 with input as {"version": 1, "models": [_pin("a", "ABC")]}
}

test_placeholder_warns if {
	zeros := concat("", [x | some _ in numbers.range(1, 64); x := "0"])
	count(models_lock.warn_placeholder) == 2 with input as {"version": 1, "models": [_pin("a", ""), _pin("b", zeros)]}
}

test_duplicates_and_http_sources_fail if {
	doc := {"version": 1, "models": [_pin("a", ""), object.union(_pin("a", ""), {"source": "http://x/"})]}
	count(models_lock.deny_duplicate) == 1 with input as doc
	count(models_lock.deny_source_scheme) == 1 with input as doc
}
