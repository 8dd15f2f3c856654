package gate.check.sources_allowlist_test

import rego.v1

import data.gate.check.sources_allowlist

test_good_allowlist_passes if {
	doc := {"version": 1, "models": [{"name": "HF", "url_prefix": "https://huggingface.co/"}]}
	count(sources_allowlist.deny_prefix) == 0 with input as doc
	count(sources_allowlist.warn_unnamed) == 0 with input as doc
}

test_loose_prefixes_fail if {
	doc := {"version": 1, "models": [{"name": "HF", "url_prefix": "http://huggingface.co"}, {"url_prefix": "https://a/?x"}]}
	count(sources_allowlist.deny_prefix) == 4 with input as doc
	count(sources_allowlist.warn_unnamed) == 1 with input as doc
}
