package gate.check.lib_test

import rego.v1

import data.gate.check.lib

test_kinds if {
	lib.is_profile with input as {"apiVersion": "gate/v1", "name": "x"}
	lib.is_models_lock with input as {"version": 1, "models": [{"name": "a", "sha256": ""}]}
	lib.is_sources_allowlist with input as {"version": 1, "models": [{"url_prefix": "https://x/"}]}
	lib.is_empty_models_file with input as {"version": 1, "models": []}
	not lib.known with input as {"kind": "Deployment"}
}

test_prefix_problems if {
	lib.prefix_problems("https://huggingface.co/") == set()
	count(lib.prefix_problems("http://huggingface.co")) == 2
	count(lib.prefix_problems("https://user@host/")) == 1
	lib.prefix_problems(3) == {"not a string"}
}
