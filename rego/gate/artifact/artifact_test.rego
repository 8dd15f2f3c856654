package gate.artifact_test

import rego.v1

_hex := "1111111111111111111111111111111111111111111111111111111111111111"

_digest := concat("", ["sha256:", _hex])

_identity := "release@example.org"

_issuer := "https://oauth2.example.org"

_standalone := {
	"profile": {"name": "standalone", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"},
	"policy": "artifact",
	"collections": ["standalone"],
	"exclude": [],
	"artifact": {
		"formats": {"allowed": ["safetensors", "gguf", "json", "text"], "denied": ["pickle", "pytorch-zip"]},
		"pickle": {"suspicious": "block"},
		"provenance": {"require_signature": false, "identities": [_identity], "issuers": [_issuer], "keys": []},
		"scanners": {"run": ["modelscan"], "missing": "warn-and-skip"},
		"behaviour": {"required": false},
		"diffusion": {"allowed_url_hosts": ["huggingface.co"], "extra_dirs": ["tokenizer"]},
	},
}

_appliance := object.union(_standalone, {
	"profile": {"name": "appliance"},
	"collections": ["appliance"],
	"artifact": {
		"provenance": {"require_signature": true},
		"scanners": {"missing": "fail-closed"},
		"behaviour": {"required": true},
	},
})

_url := "https://huggingface.co/org/model/resolve/abc/model.safetensors"

_entry := {"name": "HF", "url_prefix": "https://huggingface.co/", "scheme": "https", "host": "huggingface.co", "port": 443, "path": "/"}

_file := {"path": "model.safetensors", "sha256": _hex, "size": 100, "format": "safetensors", "formats": ["safetensors"], "findings": []}

# A remote, pinned, signed, scanned single file on which every stage passes
# (behaviour is not required under standalone).
good := {
	"gate": {"version": "1", "now": "2026-11-22T12:00:00Z"},
	"subject": {"kind": "model-file", "ref": "model.safetensors", "digest": _digest},
	"evidence": {
		"source": {
			"kind": "remote", "url": _url,
			"parsed": {"scheme": "https", "host": "huggingface.co", "port": 443, "path": "/org/model/resolve/abc/model.safetensors", "problems": []},
			"allowlist": {"origin": "profile", "entries": [_entry]},
		},
		"pins": {"origin": "models.lock.yaml", "name": "model.safetensors", "entries": [{"filename": "model.safetensors", "sha256": _hex, "size_bytes": 100}]},
		"artifact": {
			"root": "model.safetensors", "kind": "file", "digest": _digest, "size": 100, "file_count": 1,
			"scanner": {"name": "gate", "available": true},
			"files": [_file], "symlinks": [],
		},
		"provenance": {"method": "model-signing", "mode": "sigstore", "verified": true, "identity": _identity, "issuer": _issuer},
		"behaviour": {"ran": false, "detail": "no smoke-test runtime"},
		"scanners": [{"name": "modelscan", "installed": true, "version": "0.8", "exit_code": 0, "issues": []}],
	},
}

decide(doc) := d if {
	d := data.gate.main.decision with input as doc with data.gate.config as _standalone
}

decide_appliance(doc) := d if {
	d := data.gate.main.decision with input as doc with data.gate.config as _appliance
}

patched(patch) := object.union(good, patch)

with_file(file) := patched({"evidence": {"artifact": {"files": [object.union(_file, file)]}}})

with_finding(finding) := with_file({"findings": [finding]})

reasons_of(doc) := decide(doc).reasons

warning_codes(doc) := [w.code | some w in decide(doc).warnings]

# --- verdict table ---

test_good_promotes_with_every_stage_reported if {
	d := decide(good)
	d.verdict == "promote"
	d.reasons == ["all_stages_passed"]
	d.warnings == [{"code": "smoke_test_unavailable", "title": "Behavioural smoke test unavailable", "message": "No behavioural smoke test ran for model.safetensors: no smoke-test runtime", "solution": d.warnings[0].solution, "severity": "medium"}]
	d.stages.source == {"status": "PASS", "reasons": []}
	d.stages.format.status == "PASS"
	d.stages.integrity.status == "PASS"
	d.stages.provenance.status == "PASS"
	d.stages.static_scan.status == "PASS"
	d.stages.behaviour == {"status": "SKIPPED", "reasons": ["smoke_test_unavailable"]}
	d.stages.diffusion == {"status": "SKIPPED", "reasons": []}
	d.evidence_level == "partial"
}

test_appliance_blocks_on_missing_smoke_test_only if {
	d := decide_appliance(good)
	d.verdict == "block"
	d.reasons == ["smoke_test_unavailable"]
	d.warnings == []
}

test_behaviour_that_ran_and_passed_promotes_under_appliance if {
	d := decide_appliance(patched({"evidence": {"behaviour": {"ran": true, "passed": true}}}))
	d.verdict == "promote"
	d.stages.behaviour == {"status": "PASS", "reasons": []}
	d.evidence_level == "live"
}

test_every_stage_runs_and_reports if {
	doc := patched({
		"evidence": {
			"source": {"parsed": {"scheme": "http"}},
			"pins": {"entries": [{"sha256": "2222222222222222222222222222222222222222222222222222222222222222"}]},
			"provenance": {"verified": false, "error": "bad signature"},
			"artifact": {"files": [object.union(_file, {"findings": [{"code": "unsafe_pickle", "severity": "critical", "detail": "os.system"}]})], "symlinks": [{"path": "x", "target": "/etc/passwd"}]},
		},
	})
	d := decide(doc)
	d.verdict == "block"
	d.reasons == ["source_not_https", "source_not_allowlisted", "hash_mismatch", "signature_invalid", "unsafe_pickle", "symlink_present"]
	d.stages.source.status == "FAIL"
	d.stages.integrity.status == "FAIL"
	d.stages.provenance.status == "FAIL"
	d.stages.static_scan.status == "FAIL"
	d.stages.diffusion.status == "FAIL"
	d.stages.format.status == "PASS"
}

test_decision_fields if {
	d := decide(good)
	object.keys(d) == {"verdict", "evidence_level", "reasons", "results", "profile", "stages", "warnings"}
	count(d.stages) == 7
}

test_excluded_reason_does_not_fire if {
	cfg := object.union(_standalone, {"exclude": ["symlink_present"]})
	d := data.gate.main.decision with input as patched({"evidence": {"artifact": {"symlinks": [{"path": "a"}]}}}) with data.gate.config as cfg
	d.verdict == "promote"
}

# --- stage 1: source ---

test_local_import_passes_source if {
	doc := json.remove(patched({"evidence": {"source": {"kind": "local-import"}}}), ["evidence/source/url", "evidence/source/parsed"])
	d := decide(doc)
	d.stages.source == {"status": "PASS", "reasons": []}
}

test_http_source if {
	reasons_of(patched({"evidence": {"source": {"parsed": {"scheme": "http", "port": 80}}}})) == ["source_not_https", "source_not_allowlisted"]
}

test_missing_source_evidence_fails_closed if {
	r := reasons_of(json.remove(good, ["evidence/source"]))
	"source_not_https" in r
	"source_not_allowlisted" in r
}

test_lookalike_host_not_allowlisted if {
	every host in ["huggingface.co.evil.example", "evil.example", "xn--hggingface-w9b.co"] {
		reasons_of(patched({"evidence": {"source": {"parsed": {"host": host}}}})) == ["source_not_allowlisted"]
	}
}

test_ambiguous_url_not_allowlisted if {
	d := decide(patched({"evidence": {"source": {"parsed": {"problems": ["user info in URL"]}}}}))
	d.reasons == ["source_not_allowlisted"]
	contains(d.results[0].message, "ambiguous (user info in URL)")
}

test_port_and_path_compared_exactly if {
	reasons_of(patched({"evidence": {"source": {"parsed": {"port": 8443}}}})) == ["source_not_allowlisted"]
	entry := object.union(_entry, {"path": "/org"})
	reasons_of(patched({"evidence": {"source": {"parsed": {"path": "/organisation/x"}, "allowlist": {"entries": [entry]}}}})) == ["source_not_allowlisted"]
	r := reasons_of(patched({"evidence": {"source": {"parsed": {"path": "/org/x"}, "allowlist": {"entries": [entry]}}}}))
	r == ["all_stages_passed"]
}

test_empty_allowlist_rejects_remote if {
	d := decide(patched({"evidence": {"source": {"allowlist": {"entries": []}}}}))
	d.reasons == ["source_not_allowlisted"]
	contains(d.results[0].message, "allowlist is empty")
}

test_broken_allowlist_entry_never_matches if {
	entry := object.union(_entry, {"error": "not https"})
	reasons_of(patched({"evidence": {"source": {"allowlist": {"entries": [entry]}}}})) == ["source_not_allowlisted"]
}

# --- stage 2: format ---

test_denied_format_even_nested if {
	d := decide(with_file({"format": "zip", "formats": ["zip", "pickle"]}))
	"denied_format" in d.reasons
	"unknown_format" in d.reasons
	d.stages.format.status == "FAIL"
}

test_unknown_format if {
	reasons_of(with_file({"format": "unknown", "formats": ["unknown"]})) == ["unknown_format"]
}

# A lone config or text file (/etc/hostname, a JSON or YAML file) is not a model.
test_lone_config_or_text_file_is_not_a_model if {
	every fmt in ["json", "text"] {
		d := decide(with_file({"path": "hostname", "format": fmt, "formats": [fmt]}))
		d.verdict == "block"
		d.reasons == ["not_a_model"]
		d.stages.format == {"status": "FAIL", "reasons": ["not_a_model"]}
		contains(d.results[0].message, sprintf("hostname is %s, not a model file", [fmt]))
	}
}

# Text named like safetensors is reported once, both for its name and for being alone.
test_text_named_like_a_model_format_is_not_a_model if {
	d := decide(with_file({"path": "x.safetensors", "format": "text", "formats": ["text"]}))
	d.reasons == ["not_a_model"]
	messages := {r.message | some r in d.results}
	"x.safetensors is named like safetensors but its content is text" in messages
	inside := patched({"subject": {"kind": "model-dir"}, "evidence": {"artifact": {"kind": "dir", "files": [_file, object.union(_file, {"path": "extra/Model.SafeTensors", "format": "json"})]}}})
	[r.message | some r in decide(inside).results] == ["extra/Model.SafeTensors is named like safetensors but its content is json"]
}

test_directory_without_model_file_is_not_a_model if {
	files := [object.union(_file, {"path": "config.json", "format": "json"}), object.union(_file, {"path": "notes.txt", "format": "text"})]
	d := decide(patched({"subject": {"kind": "model-dir"}, "evidence": {"artifact": {"kind": "dir", "files": files}}}))
	d.reasons == ["not_a_model"]
	d.results[0].message == "the directory holds no model file (formats: json, text)"
}

# Configs and tokenizers beside the weights of a model directory are admitted.
test_configs_inside_a_model_directory_are_admitted if {
	files := [_file, object.union(_file, {"path": "config.json", "format": "json"}), object.union(_file, {"path": "tokenizer.json", "format": "json"}), object.union(_file, {"path": "README.md", "format": "text"})]
	d := decide(patched({"subject": {"kind": "model-dir"}, "evidence": {"artifact": {"kind": "dir", "files": files}}}))
	d.verdict == "promote"
}

# The profile names its model formats; a format the profile denies is denied_format only.
test_profile_names_its_model_formats if {
	cfg := json.patch(_standalone, [{"op": "add", "path": "/artifact/formats/model", "value": ["gguf"]}])
	d := data.gate.main.decision with input as good with data.gate.config as cfg
	d.reasons == ["not_a_model"]
	reasons_of(with_file({"path": "x.safetensors", "format": "pickle", "formats": ["pickle"]})) == ["denied_format"]
}

test_missing_artifact_evidence_fails_closed if {
	d := decide(json.remove(good, ["evidence/artifact"]))
	d.verdict == "block"
	"unknown_format" in d.reasons
	"scanner_missing" in d.reasons
	"hash_mismatch" in d.reasons
}

test_invalid_header if {
	reasons_of(with_finding({"code": "invalid_header", "severity": "high", "detail": "offsets overlap", "offset": 8})) == ["invalid_header"]
}

test_unknown_finding_code_counts_as_invalid_header if {
	reasons_of(with_finding({"code": "something_new", "severity": "high", "detail": "?"})) == ["invalid_header"]
}

test_low_severity_finding_is_a_warning if {
	d := decide(with_finding({"code": "invalid_header", "severity": "low", "detail": "odd padding"}))
	d.verdict == "promote"
	"invalid_header" in warning_codes(with_finding({"code": "invalid_header", "severity": "low", "detail": "odd padding"}))
}

test_polyglot_payload if {
	d := decide(with_finding({"code": "polyglot_payload", "severity": "critical", "detail": "pickle appended", "offset": 4096}))
	d.reasons == ["polyglot_payload"]
	d.results[0].message == "model.safetensors at byte 4096: pickle appended"
}

test_chat_template_injection if {
	reasons_of(with_finding({"code": "chat_template_injection", "severity": "critical", "detail": "__globals__"})) == ["chat_template_injection"]
}

# --- stage 3: integrity ---

test_hash_mismatch if {
	reasons_of(patched({"evidence": {"pins": {"entries": [{"sha256": "ab"}]}}})) == ["hash_mismatch"]
}

test_size_mismatch_is_hash_mismatch if {
	reasons_of(patched({"evidence": {"pins": {"entries": [{"sha256": _hex, "size_bytes": 99}]}}})) == ["hash_mismatch"]
}

test_upper_case_pin_matches if {
	reasons_of(patched({"evidence": {"pins": {"entries": [{"sha256": upper(_hex)}]}}})) == ["all_stages_passed"]
}

test_unpinned_remote if {
	reasons_of(patched({"evidence": {"pins": {"entries": []}}})) == ["unpinned_remote"]
}

test_tofu_local_is_a_warning if {
	doc := patched({"evidence": {"pins": {"entries": []}, "source": {"kind": "local-import"}}})
	d := decide(doc)
	d.verdict == "promote"
	"tofu_unpinned" in warning_codes(doc)
	d.stages.integrity == {"status": "PASS", "reasons": ["tofu_unpinned"]}
}

test_missing_digest_never_passes if {
	doc := json.remove(patched({"evidence": {"pins": {"entries": []}, "source": {"kind": "local-import"}}}), ["evidence/artifact/digest"])
	reasons_of(doc) == ["hash_mismatch"]
}

# --- stage 4: provenance ---

test_unsigned_passes_standalone_blocks_appliance if {
	doc := patched({"evidence": {"provenance": {"method": "none", "verified": false}, "behaviour": {"ran": true, "passed": true}}})
	decide(doc).verdict == "promote"
	decide(doc).stages.provenance == {"status": "SKIPPED", "reasons": []}
	decide_appliance(doc).reasons == ["unsigned"]
}

test_unsigned_manifest_under_the_watcher if {
	keyless := patched({"evidence": {"watch": {"manifest_signing_key": false}}})
	reasons_of(keyless) == ["unsigned_manifest"]
	decide(patched({"evidence": {"watch": {"manifest_signing_key": true}}})).verdict == "promote"
	allowed := json.patch(_standalone, [{"op": "add", "path": "artifact/provenance/require_signed_manifest", "value": false}])
	d := data.gate.main.decision with input as keyless with data.gate.config as allowed
	d.verdict == "promote"
	# gate eval --artifact has no watcher evidence: never this reason.
	decide(good).verdict == "promote"
}

test_signed_manifest_required_follows_the_profile if {
	data.gate.artifact.signed_manifest_required with data.gate.config as _standalone
	allowed := json.patch(_standalone, [{"op": "add", "path": "artifact/provenance/require_signed_manifest", "value": false}])
	not data.gate.artifact.signed_manifest_required with data.gate.config as allowed
}

test_signature_invalid if {
	reasons_of(patched({"evidence": {"provenance": {"verified": false, "error": "digest mismatch"}}})) == ["signature_invalid"]
}

test_wrong_identity if {
	reasons_of(patched({"evidence": {"provenance": {"identity": "mallory@example.org"}}})) == ["wrong_identity"]
}

test_operator_identity_is_accepted if {
	cfg := json.remove(_standalone, ["artifact/provenance/identities", "artifact/provenance/issuers"])
	doc := patched({"operator": {"expected_signer_identity": _identity, "expected_oidc_issuer": _issuer}})
	d := data.gate.main.decision with input as doc with data.gate.config as cfg
	d.verdict == "promote"
	d2 := data.gate.main.decision with input as good with data.gate.config as cfg
	d2.reasons == ["wrong_identity", "wrong_issuer"]
}

test_wrong_issuer if {
	reasons_of(patched({"evidence": {"provenance": {"issuer": "https://accounts.evil.example"}}})) == ["wrong_issuer"]
}

test_key_signature_checked_against_profile_keys if {
	doc := patched({"evidence": {"provenance": {"mode": "key", "identity": "", "issuer": "", "key_sha256": "ab"}}})
	reasons_of(doc) == ["all_stages_passed"]
	cfg := object.union(_standalone, {"artifact": {"provenance": {"keys": ["cd"]}}})
	d := data.gate.main.decision with input as doc with data.gate.config as cfg
	d.reasons == ["wrong_identity"]
}

# --- stage 5: static scan ---

test_unsafe_pickle_dangerous_always_blocks if {
	f := {"code": "unsafe_pickle", "severity": "critical", "detail": "posix.system", "member": "archive/data.pkl", "offset": 2}
	d := decide(with_finding(f))
	d.reasons == ["unsafe_pickle"]
	d.results[0].message == "model.safetensors member archive/data.pkl at byte 2: posix.system"
}

test_suspicious_pickle_blocks_or_warns_per_profile if {
	doc := with_finding({"code": "unsafe_pickle", "severity": "medium", "detail": "mymodule.Thing"})
	reasons_of(doc) == ["unsafe_pickle"]
	cfg := object.union(_standalone, {"artifact": {"pickle": {"suspicious": "warn"}}})
	d := data.gate.main.decision with input as doc with data.gate.config as cfg
	d.verdict == "promote"
	[w.code | some w in d.warnings] == ["unsafe_pickle", "smoke_test_unavailable"]
}

test_archive_unsafe if {
	reasons_of(with_finding({"code": "archive_unsafe", "severity": "high", "detail": "../x"})) == ["archive_unsafe"]
}

test_unsafe_layer if {
	reasons_of(with_finding({"code": "unsafe_layer", "severity": "high", "detail": "Lambda"})) == ["unsafe_layer"]
}

test_entropy_anomaly if {
	reasons_of(with_finding({"code": "entropy_anomaly", "severity": "medium", "detail": "7.999 bits"})) == ["entropy_anomaly"]
}

test_weight_anomaly if {
	reasons_of(with_finding({"code": "weight_anomaly", "severity": "medium", "detail": "kurtosis"})) == ["weight_anomaly"]
}

test_scanner_finding if {
	s := {"name": "modelscan", "installed": true, "issues": [{"severity": "HIGH", "detail": "os.system", "path": "m.pkl"}]}
	reasons_of(patched({"evidence": {"scanners": [s]}})) == ["scanner_finding"]
	low := {"name": "modelscan", "installed": true, "issues": [{"severity": "LOW", "detail": "meh"}]}
	reasons_of(patched({"evidence": {"scanners": [low]}})) == ["all_stages_passed"]
}

test_scanner_crash_or_timeout_is_a_scanner_error if {
	every s in [
		{"name": "modelscan", "installed": true, "error": "output is not JSON"},
		{"name": "modelscan", "installed": true, "timed_out": true},
	] {
		reasons_of(patched({"evidence": {"scanners": [s]}})) == ["scanner_error"]
	}
}

_scanner_errors_warn := object.union(_standalone, {"artifact": {"scanners": {"error": "warn"}}})

test_scanner_error_warns_when_the_profile_says_warn if {
	s := {"name": "modelscan", "installed": true, "error": "please install modelscan with tensorflow extras"}
	doc := patched({"evidence": {"scanners": [s]}})
	d := data.gate.main.decision with input as doc with data.gate.config as _scanner_errors_warn
	d.verdict == "promote"
	some w in d.warnings
	w.code == "scanner_error"
	contains(w.message, "tensorflow extras")
	d.stages.static_scan.status == "PASS"
	decide(doc).reasons == ["scanner_error"]
}

test_scanner_finding_blocks_when_errors_warn if {
	s := {"name": "modelscan", "installed": true, "error": "x.npy: crashed", "issues": [{"severity": "critical", "detail": "os.system", "path": "m.pkl"}]}
	d := data.gate.main.decision with input as patched({"evidence": {"scanners": [s]}}) with data.gate.config as _scanner_errors_warn
	d.reasons == ["scanner_finding"]
	"scanner_error" in {w.code | some w in d.warnings}
}

test_scanner_missing_warns_or_blocks if {
	doc := patched({"evidence": {"scanners": [{"name": "modelscan", "installed": false}], "behaviour": {"ran": true, "passed": true}}})
	d := decide(doc)
	d.verdict == "promote"
	[w.code | some w in d.warnings] == ["scanner_missing"]
	decide_appliance(doc).reasons == ["scanner_missing"]
}

test_scanner_absent_from_evidence_is_missing if {
	decide_appliance(patched({"evidence": {"scanners": [], "behaviour": {"ran": true, "passed": true}}})).reasons == ["scanner_missing"]
}

test_builtin_scanner_missing_always_blocks if {
	d := decide(patched({"evidence": {"artifact": {"scanner": {"available": false, "error": "no module"}}}}))
	d.reasons == ["scanner_missing"]
	d.results[0].message == "Scanner gate (built-in format scanner) is not available"
}

# --- stage 6: behaviour ---

test_smoke_test_failed if {
	reasons_of(patched({"evidence": {"behaviour": {"ran": true, "passed": false, "detail": "15/41 flagged"}}})) == ["smoke_test_failed"]
	reasons_of(patched({"evidence": {"behaviour": {"ran": true, "passed": true, "error": "crashed"}}})) == ["smoke_test_failed"]
}

_answered(matches) := {
	"ran": true,
	"results": [
		{"id": "ctrl-hello", "outcome": "answered", "matches": []},
		{"id": "sh-install-script", "outcome": "flagged", "matches": matches},
	],
}

test_smoke_test_failed_on_a_blocking_pattern_names_prompt_and_pattern if {
	d := decide_appliance(patched({"evidence": {"behaviour": _answered([{"pattern": "curl-pipe-shell", "severity": "critical"}])}}))
	d.reasons == ["smoke_test_failed"]
	contains(d.results[0].message, "prompt sh-install-script matched curl-pipe-shell (critical)")
}

test_smoke_test_patterns_below_the_blocking_severities_pass if {
	d := decide_appliance(patched({"evidence": {"behaviour": _answered([{"pattern": "history-wipe", "severity": "medium"}])}}))
	d.verdict == "promote"
	d.stages.behaviour.status == "PASS"
}

test_smoke_test_blocking_severities_come_from_the_profile if {
	doc := patched({"evidence": {"behaviour": _answered([{"pattern": "history-wipe", "severity": "medium"}])}})
	cfg := object.union(_appliance, {"artifact": {"behaviour": {"block_severities": ["critical", "high", "medium"]}}})
	d := data.gate.main.decision with input as doc with data.gate.config as cfg
	d.reasons == ["smoke_test_failed"]
}

test_a_run_without_results_never_passes if {
	reasons_of(patched({"evidence": {"behaviour": {"ran": true}}})) == ["smoke_test_failed"]
	reasons_of(patched({"evidence": {"behaviour": {"ran": true, "results": []}}})) == ["smoke_test_failed"]
}

test_smoke_test_not_applicable_is_skipped_without_a_reason if {
	d := decide_appliance(patched({"evidence": {"behaviour": {"ran": false, "applicable": false, "detail": "GGUF only"}}}))
	d.verdict == "promote"
	d.stages.behaviour == {"status": "SKIPPED", "reasons": []}
}

test_smoke_test_unavailable if {
	decide_appliance(good).reasons == ["smoke_test_unavailable"]
	decide_appliance(json.remove(good, ["evidence/behaviour"])).reasons == ["smoke_test_unavailable"]
}

# --- stage 7: diffusion ---

_dir_files := [
	object.union(_file, {"path": "unet/diffusion_pytorch_model.safetensors"}),
	object.union(_file, {"path": "model_index.json", "format": "json", "formats": ["json"]}),
]

dir_doc(directory) := patched({
	"subject": {"kind": "model-dir"},
	"evidence": {"artifact": {"kind": "dir", "files": _dir_files, "directory": directory}},
})

_index := {"present": true, "components": [{"name": "unet", "library": "diffusers", "class": "UNet2DConditionModel", "present": true, "weight_files": 1, "requires_weights": true}]}

test_clean_directory_passes if {
	d := decide(dir_doc({"model_index": _index, "subdirs": ["unet", "tokenizer"], "urls": [{"file": "a.json", "url": "https://huggingface.co/x", "host": "huggingface.co"}]}))
	d.verdict == "promote"
	d.stages.diffusion == {"status": "PASS", "reasons": []}
}

test_component_missing if {
	gone := {"present": true, "components": [{"name": "vae", "present": false}]}
	reasons_of(dir_doc({"model_index": gone, "subdirs": []})) == ["component_missing"]
	empty := {"present": true, "components": [{"name": "unet", "present": true, "weight_files": 0, "requires_weights": true}]}
	reasons_of(dir_doc({"model_index": empty, "subdirs": ["unet"]})) == ["component_missing"]
	reasons_of(dir_doc({"model_index": {"present": true, "error": "not JSON"}})) == ["component_missing"]
}

test_unexpected_component if {
	reasons_of(dir_doc({"model_index": _index, "subdirs": ["unet", "payload"]})) == ["unexpected_component"]
	doc := patched({"subject": {"kind": "model-dir"}, "evidence": {"artifact": {"kind": "dir", "files": [_file, object.union(_file, {"path": "run.sh", "format": "text", "executable": true})]}}})
	reasons_of(doc) == ["unexpected_component"]
}

test_pickle_beside_safetensors_is_unexpected if {
	files := array.concat(_dir_files, [object.union(_file, {"path": "unet/x.bin", "format": "pickle", "formats": ["pickle"]})])
	doc := patched({"subject": {"kind": "model-dir"}, "evidence": {"artifact": {"kind": "dir", "files": files}}})
	r := reasons_of(doc)
	"denied_format" in r
	"unexpected_component" in r
}

test_untrusted_url if {
	urls := [
		{"file": "unet/config.json", "url": "https://evil.example/x.py", "host": "evil.example"},
		{"file": "unet/config.json", "url": "https://huggingface.co.evil.example/x", "host": "huggingface.co.evil.example"},
	]
	d := decide(dir_doc({"model_index": _index, "subdirs": ["unet"], "urls": urls}))
	d.reasons == ["untrusted_url"]
	count(d.results) == 2
}

test_subdomain_of_allowed_host_is_trusted if {
	urls := [{"file": "a.json", "url": "https://cdn-lfs.huggingface.co/x", "host": "cdn-lfs.huggingface.co"}]
	decide(dir_doc({"model_index": _index, "subdirs": ["unet"], "urls": urls})).verdict == "promote"
}

test_symlink_present if {
	d := decide(patched({"evidence": {"artifact": {"symlinks": [{"path": "model.safetensors", "target": "/etc/shadow"}]}}}))
	d.reasons == ["symlink_present"]
	d.stages.diffusion.status == "FAIL"
}

test_walk_limits_never_pass if {
	d := decide(patched({"evidence": {"artifact": {"limits": ["20000 files, more than the limit of 10000"]}}}))
	d.reasons == ["unknown_format"]
	d.results[0].message == "not scanned: 20000 files, more than the limit of 10000"
}
