package gate.check.kind_test

import rego.v1

import data.gate.check.kind

test_unknown_file_fails if {
	count(kind.deny) == 1 with input as {"apiVersion": "apps/v1", "kind": "Deployment"}
}

test_known_files_pass if {
	count(kind.deny) == 0 with input as {"apiVersion": "gate/v1"}
	count(kind.deny) == 0 with input as {"version": 1, "models": []}
}
