package gate.check.profile_test

import rego.v1

import data.gate.check.profile

_catalog := {"gate.container": {"unsigned": {"collections": ["nim-promotion"]}}}

_good := {
	"apiVersion": "gate/v1",
	"name": "p",
	"policy": "container",
	"collections": ["nim-promotion"],
	"exclude": ["unsigned"],
	"container": {"registries": ["nvcr.io/"], "attestation_ttl_hours": 24},
}

test_good_profile_passes if {
	count(profile.deny_unknown_collection) == 0 with input as _good with data.gate.catalog as _catalog
	count(profile.deny_unknown_exclude) == 0 with input as _good with data.gate.catalog as _catalog
	count(profile.deny_registry_prefix) == 0 with input as _good
	count(profile.warn_long_ttl) == 0 with input as _good
}

test_unknown_collection_and_exclude_fail if {
	bad := object.union(_good, {"collections": ["nim-promoton"], "exclude": ["unsigend"]})
	profile.deny_unknown_collection == {`collection "nim-promoton" selects no rule of policy "container"`} with input as bad
		with data.gate.catalog as _catalog
	profile.deny_unknown_exclude == {`exclude names unknown reason code "unsigend"`} with input as bad
		with data.gate.catalog as _catalog
}

test_registry_prefix_without_slash_fails if {
	bad := object.union(_good, {"container": {"registries": ["nvcr.io"]}})
	count(profile.deny_registry_prefix) == 1 with input as bad
}

test_allowlist_prefix_checked if {
	bad := object.union(_good, {"artifact": {"source": {"allowlist": [{"url_prefix": "http://x.example"}]}}})
	count(profile.deny_allowlist_prefix) == 2 with input as bad
}

test_long_ttl_warns if {
	bad := object.union(_good, {"container": {"attestation_ttl_hours": 500}})
	count(profile.warn_long_ttl) == 1 with input as bad
}

test_other_files_are_not_profiles if {
	count(profile.deny_registry_prefix) == 0 with input as {"container": {"registries": ["x"]}}
}
