package gate.lib_test

import rego.v1

import data.gate.lib

test_timestamps_parse if {
	lib.timestamp_ns("1970-01-01T00:00:00Z") == 0
	lib.timestamp_ns("1970-01-01T00:00:01.5Z") == 1500000000
	lib.timestamp_ns("1970-01-01T01:00:00+01:00") == 0
	lib.timestamp_ns("2024-02-29T00:00:00Z") > 0
	lib.timestamp_ns("2000-02-29T00:00:00Z") > 0
	lib.timestamp_ns("2261-12-31T23:59:59.999999999Z") > 0
	lib.timestamp_ns("1678-01-01T00:00:00Z") < 0
}

test_bad_timestamps_are_undefined_not_errors if {
	every value in [
		"2026-02-30T00:00:00Z", "2100-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
		"2026-00-10T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z",
		"2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00",
		"2026-01-01 00:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567890Z",
		"2026-01-01T00:00:00+24:00", "9999-12-31T23:59:59Z", "1677-12-31T23:59:59Z",
		"", "   ", 0, null, true, [], {},
	] {
		not lib.timestamp_ns(value)
	}
}

test_normalized if {
	lib.normalized("  RunTime\t") == "runtime"
	lib.normalized(7) == ""
	lib.blank("  ")
	lib.blank(null)
	not lib.blank("x")
}

test_sha256_digest if {
	lib.sha256_digest("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	not lib.sha256_digest("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef")
	not lib.sha256_digest("sha256:0123")
	not lib.sha256_digest(5)
}

_catalog := {"a": {"order": 1}, "b": {"order": 0}}

test_ordered_sorts_by_order_then_message if {
	results := {{"code": "a", "message": "y"}, {"code": "a", "message": "x"}, {"code": "b", "message": "z"}}
	lib.ordered(_catalog, results) == [
		{"code": "b", "message": "z"},
		{"code": "a", "message": "x"},
		{"code": "a", "message": "y"},
	]
}

test_codes_are_distinct_and_ordered if {
	lib.codes([{"code": "b"}, {"code": "a"}, {"code": "a"}]) == ["b", "a"]
	lib.codes([]) == []
}

test_applies_follows_collections_and_exclude if {
	meta := {"short_name": "x", "collections": ["c1"]}
	lib.applies(meta) with data.gate.config as {"collections": ["c1"]}
	not lib.applies(meta) with data.gate.config as {"collections": ["c2"]}
	not lib.applies(meta) with data.gate.config as {"collections": ["c1"], "exclude": ["x"]}
}
