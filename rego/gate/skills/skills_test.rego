package gate.skills_test

import rego.v1

_digest := "sha256:abababababababababababababababababababababababababababababababab"

_other := "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

_config := {
	"profile": {"name": "skills-quarantine", "sha256": "0000000000000000000000000000000000000000000000000000000000000000"},
	"policy": "skills",
	"collections": ["skills-quarantine"],
	"exclude": [],
	"skills": {
		"default_tier": "untrusted",
		"tiers": {
			"untrusted": {"capabilities": ["process", "filesystem_write"], "secrets": false, "license": "warn"},
			"semi-trusted": {"capabilities": ["process", "filesystem_write", "network", "external_api", "env"], "secrets": true, "license": "warn"},
			"trusted": {"capabilities": ["process", "filesystem_write", "network", "external_api", "env"], "secrets": true, "license": "required"},
		},
		"approval_roles": ["security", "runtime-owner"],
		"approval_ttl_days": 90,
		"revocation_roles": ["incident-commander", "maintainer"],
		"people": {
			"sec": {"roles": ["security"]},
			"run": {"roles": ["runtime-owner"]},
			"both": {"roles": ["security", "runtime-owner"]},
			"ic": {"roles": ["incident-commander"]},
		},
		"denied_licenses": ["AGPL-3.0-only"],
		"scanners": {"run": [], "missing": "warn-and-skip"},
	},
}

_skill := {
	"package": {"kind": "directory", "digest": _digest, "files": 3, "bytes": 900, "limits": []},
	"manifest": {
		"present": true, "name": "pdf-text", "description": "Extract text.", "license": "Apache-2.0",
		"allowed_tools": ["Read", "Write", "Bash(python scripts/x.py:*)"], "metadata": {},
		"tools": [_t("Read"), _t("Write"), _scoped("Bash", "python scripts/x.py:*", ["^python scripts/x\\.py$", "^python scripts/x\\.py .*$"])],
	},
	"declared": {
		"source": {"kind": "source", "valid": true, "repo": "https://github.com/acme/skills", "commit": "3f1c3f1c3f1c3f1c3f1c3f1c3f1c3f1c3f1c3f1c"},
		"maintainers": ["alice"], "deps": [], "network": {"mode": "none", "hosts": []},
		"tier": "untrusted", "submitter": "alice", "owner": "alice", "rollback": "none", "update_cadence": "quarterly",
	},
	"license": {"kind": "spdx", "field": "Apache-2.0", "expression": "Apache-2.0", "ids": ["Apache-2.0"], "file": null, "problem": null},
	"runs": [{"path": "SKILL.md", "line": 9, "command": "python scripts/x.py in.pdf", "target": "scripts/x.py"}],
	"findings": [],
	"capabilities": {"process": ["scripts/x.py: a python script the agent runs"], "filesystem_write": ["open line 9"]},
	"hosts": [], "env_reads": [], "secret_env": [], "documented": [],
	"dependencies": {"items": [{"ecosystem": "pypi", "name": "pypdf", "spec": "==4.2.0", "pinned": true, "source": "registry"}], "all_pinned": true},
	"signature": {"present": true, "verified": true, "signer": "release-bot", "signed_digest": _digest},
	"sbom": {"present": true, "sha256": _other},
}

_t(name) := {"raw": name, "name": name, "scope": null, "patterns": []}

_scoped(name, scope, patterns) := {"raw": sprintf("%s(%s)", [name, scope]), "name": name, "scope": scope, "patterns": patterns}

_approval(role, who) := {"role": role, "approver": who, "digest": _digest, "version": _digest, "signed_at": "2026-11-20T00:00:00Z", "verified": true}

_approvals := [_approval("security", "sec"), _approval("runtime-owner", "run")]

doc(changes) := {
	"gate": {"version": "1", "mode": "static", "now": "2026-11-23T00:00:00Z"},
	"subject": {"kind": "skill", "ref": "pdf-text", "digest": _digest},
	"evidence": {"skill": object.union(_skill, changes), "approvals": []},
}

trusted(changes, approvals) := json.patch(doc(object.union({"declared": object.union(_skill.declared, {"tier": "trusted"})}, changes)), [{"op": "replace", "path": "/evidence/approvals", "value": approvals}])

finding(code, severity) := {"code": code, "check": "t.check", "severity": severity, "detail": "d", "path": "scripts/x.py", "line": 3}

asking(d, from, to) := object.union(d, {"request": {"kind": "transition", "from": from, "to": to, "actor": "ic"}})

_revocation := {"role": "incident-commander", "revoker": "ic", "digest": _digest, "version": _digest, "signed_at": "2026-11-22T12:00:00Z", "reason": "malicious update", "verified": true, "keyid": "k"}

_counted(role, who) := {"role": role, "approver": who, "signed_at": "2026-11-20T00:00:00Z", "keyid": null}

_intake := {"id": 1, "submitted_at": "2026-11-10T00:00:00.000000Z"}

# A revoke request with the (verified) revocation statement, for a submission taken in on 2026-11-10.
revoking(d, from, statement) := json.patch(object.union(d, {"request": {"kind": "transition", "from": from, "to": "revoked"}}), [
	{"op": "add", "path": "/evidence/revocation", "value": statement},
	{"op": "add", "path": "/evidence/submission", "value": _intake},
])

# A re-intake: the digest was revoked before this submission was taken in, and not restored since.
revoked_before(d) := json.patch(d, [
	{"op": "add", "path": "/evidence/submission", "value": _intake},
	{"op": "add", "path": "/evidence/revocations", "value": [{"at": "2026-11-01T00:00:00.000000Z", "reason": "malicious update", "by": "ic"}]},
])

# The digest was revoked after this submission was taken in.
revoked_after(d) := json.patch(d, [
	{"op": "add", "path": "/evidence/submission", "value": _intake},
	{"op": "add", "path": "/evidence/revocations", "value": [{"at": "2026-11-12T00:00:00.000000Z", "reason": "malicious update", "by": "ic"}]},
])

decide(d) := out if {
	out := data.gate.main.decision with input as d with data.gate.config as _config
}

reasons(d) := decide(d).reasons

outcome(d) := decide(d).skill.outcome

test_clean_untrusted_skill_is_approved_limited_and_promotes if {
	d := decide(doc({}))
	d.verdict == "promote"
	d.reasons == ["skill_approved"]
	d.skill == {"outcome": "approved_limited", "tier": "untrusted", "trusted_gaps": [], "approvals_counted": []}
}

test_every_finding_code_fails_the_scan if {
	every code in [
		"archive_unsafe", "skill_limits_exceeded", "skill_unparseable", "skill_hidden_unicode", "skill_prompt_injection",
		"skill_concealment", "skill_exfiltration", "skill_download_execute", "skill_secret_access",
		"skill_obfuscated_exec", "skill_reverse_shell", "skill_persistence", "skill_privilege", "skill_write_outside",
		"skill_binary_payload", "skill_dependency_denied", "skill_dependency_untrusted_source", "skill_install_hook",
		"skill_typosquat", "skill_lockfile_mismatch",
	] {
		d := decide(doc({"findings": [finding(code, "high")]}))
		d.reasons == [code]
		d.verdict == "block"
		d.skill.outcome == "rejected_scan"
	}
}

test_unknown_finding_codes_and_missing_severity_never_pass if {
	reasons(doc({"findings": [finding("brand_new_check", "high")]})) == ["skill_unknown_finding"]
	reasons(doc({"findings": [{"code": "skill_persistence", "path": "x"}]})) == ["skill_persistence"]
	decide(doc({"findings": [finding("skill_persistence", "low")]})).verdict == "promote"
}

test_package_limits_fail_the_scan if {
	reasons(doc({"package": object.union(_skill.package, {"limits": ["3000 files, more than the limit"]})})) == ["skill_limits_exceeded"]
}

test_manifest_must_exist if {
	reasons(doc({"manifest": {"present": false}})) == ["skill_manifest_invalid"]
}

test_manifest_must_parse if {
	reasons(doc({"manifest": {"present": true, "error": "SKILL.md frontmatter: anchors and aliases are not allowed"}})) == ["skill_manifest_invalid"]
}

test_manifest_must_describe_the_skill if {
	reasons(doc({"manifest": object.union(_skill.manifest, {"description": " "})})) == ["skill_manifest_invalid"]
}

test_digest_mismatches if {
	declared := object.union(_skill.declared, {"source": {"kind": "artifact", "valid": true, "artifact_digest": _other, "matches": false}})
	reasons(doc({"declared": declared})) == ["skill_digest_mismatch"]
	drifted := object.union(_skill.declared, {"intake_digest": _other})
	reasons(doc({"declared": drifted})) == ["skill_digest_mismatch"]
	resigned := object.union(_skill.signature, {"signed_digest": _other, "verified": false, "error": "for another digest"})
	reasons(doc({"signature": resigned})) == ["skill_digest_mismatch", "skill_signature_invalid"]
}

test_bad_signature_fails_even_untrusted if {
	reasons(doc({"signature": {"present": true, "verified": false, "error": "does not verify"}})) == ["skill_signature_invalid"]
	decide(doc({"signature": {"present": false, "verified": false}})).verdict == "promote"
}

test_license_and_provenance if {
	none := {"kind": "none", "field": null, "expression": null, "ids": [], "file": null, "problem": "no licence"}
	d := decide(doc({"license": none}))
	d.verdict == "promote"
	[w.code | some w in d.warnings] == ["skill_license_unidentified"]
	agpl := {"kind": "spdx", "field": "MIT OR AGPL-3.0-only", "expression": "MIT OR AGPL-3.0-only", "ids": ["AGPL-3.0-only", "MIT"], "file": null, "problem": null}
	reasons(doc({"license": agpl})) == ["skill_license_denied"]
	file_agpl := {"kind": "file", "field": null, "expression": "AGPL-3.0-only", "ids": ["AGPL-3.0-only"], "file": "LICENSE", "problem": null}
	reasons(doc({"license": file_agpl})) == ["skill_license_denied"]
	no_source := object.union(_skill.declared, {"source": {"kind": "none", "valid": false, "problem": "nothing declared"}})
	reasons(doc({"declared": no_source})) == ["skill_provenance_missing"]
}

test_trusted_tier_requires_an_identified_licence if {
	none := {"kind": "unidentified", "field": "Proprietary", "expression": null, "ids": [], "file": null, "problem": "not SPDX"}
	d := decide(trusted({"license": none}, _approvals))
	d.verdict == "block"
	d.reasons == ["skill_license_invalid"]
	d.skill.outcome == "rejected_policy"
	file_mit := {"kind": "file", "field": "See LICENSE.txt", "expression": "MIT", "ids": ["MIT"], "file": "LICENSE.txt", "problem": null}
	decide(trusted({"license": file_mit}, _approvals)).skill.outcome == "approved_trusted"
	only_apache := object.union(_config, {"skills": object.union(_config.skills, {"allowed_licenses": ["Apache-2.0"]})})
	out := data.gate.main.decision with input as trusted({"license": file_mit}, _approvals) with data.gate.config as only_apache
	[r.code | some r in out.results] == ["skill_license_invalid"]
}

test_scoped_bash_must_cover_the_commands_that_run_package_files if {
	decide(doc({})).verdict == "promote"
	other := [{"path": "SKILL.md", "line": 12, "command": "bash scripts/collect.sh", "target": "scripts/collect.sh"}]
	d := decide(doc({"runs": other}))
	d.reasons == ["skill_undeclared_capability"]
	contains(d.results[0].message, "SKILL.md:12 runs `bash scripts/collect.sh`")
	any := object.union(_skill.manifest, {"tools": [_t("Read"), _t("Bash")]})
	decide(doc({"runs": other, "manifest": any})).verdict == "promote"
}

test_capabilities_must_be_declared if {
	no_bash := object.union(_skill.manifest, {"allowed_tools": ["Read", "Write"], "tools": [_t("Read"), _t("Write")]})
	reasons(doc({"manifest": no_bash})) == ["skill_undeclared_capability"]
	no_tools := object.union(_skill.manifest, {"allowed_tools": null, "tools": null})
	reasons(doc({"manifest": no_tools})) == ["skill_undeclared_capability"]
	net := object.union(_skill.capabilities, {"network": ["urlopen line 3"]})
	semi := object.union(_skill.declared, {"tier": "semi-trusted"})
	reasons(doc({"capabilities": net, "declared": semi, "hosts": ["api.example.com"]})) == ["skill_undeclared_capability"]
	hosts := object.union(semi, {"network": {"mode": "hosts", "hosts": ["*.example.com"]}})
	decide(doc({"capabilities": net, "declared": hosts, "hosts": ["api.example.com"]})).verdict == "promote"
	reasons(doc({"capabilities": net, "declared": hosts, "hosts": ["evil.test"]})) == ["skill_undeclared_capability"]
}

test_secret_env_must_be_documented_and_allowed_by_the_tier if {
	semi := object.union(_skill.declared, {"tier": "semi-trusted"})
	env := object.union(_skill.capabilities, {"env": ["os.environ line 4"]})
	decide(doc({"declared": semi, "capabilities": env, "secret_env": ["GITHUB_TOKEN"], "documented": ["GITHUB_TOKEN"]})).verdict == "promote"
	reasons(doc({"declared": semi, "capabilities": env, "secret_env": ["GITHUB_TOKEN"], "documented": []})) == ["skill_undeclared_capability"]
	d := decide(doc({"capabilities": env, "secret_env": ["GITHUB_TOKEN"], "documented": ["GITHUB_TOKEN"]}))
	d.reasons == ["skill_capability_not_allowed", "skill_secrets_not_allowed"]
	d.skill.outcome == "rejected_policy"
}

test_tier_must_be_defined if {
	odd := object.union(_skill.declared, {"tier": "root"})
	reasons(doc({"declared": odd})) == ["skill_tier_unknown"]
}

test_scan_failures_come_before_policy if {
	env := object.union(_skill.capabilities, {"network": ["x"]})
	d := decide(doc({"capabilities": env, "findings": [finding("skill_persistence", "high")]}))
	d.skill.outcome == "rejected_scan"
	not "skill_capability_not_allowed" in d.reasons
}

test_trusted_with_every_control_and_two_approvals_is_approved_trusted if {
	d := decide(trusted({}, _approvals))
	d.verdict == "promote"
	d.skill == {"outcome": "approved_trusted", "tier": "trusted", "trusted_gaps": [], "approvals_counted": [_counted("security", "sec"), _counted("runtime-owner", "run")]}
}

test_trusted_controls_are_required if {
	reasons(trusted({"signature": {"present": false, "verified": false}}, _approvals)) == ["skill_unsigned"]
	reasons(trusted({"sbom": {"present": false}}, _approvals)) == ["skill_sbom_missing"]
	unpinned := {"items": [{"ecosystem": "npm", "name": "undici", "spec": "^6", "pinned": false, "source": "registry"}], "all_pinned": false}
	reasons(trusted({"dependencies": unpinned}, _approvals)) == ["skill_deps_unpinned"]
	reasons(trusted({"findings": [finding("skill_dependency_unpinned", "medium")]}, _approvals)) == ["skill_deps_unpinned"]
	orphan := object.union(_skill.declared, {"tier": "trusted", "maintainers": [], "owner": null})
	reasons(trusted({"declared": orphan}, _approvals)) == ["skill_owner_missing"]
	no_rollback := object.union(_skill.declared, {"tier": "trusted", "rollback": null})
	reasons(trusted({"declared": no_rollback}, _approvals)) == ["skill_rollback_missing"]
	d := decide(trusted({"sbom": {"present": false}}, _approvals))
	d.verdict == "manual-review"
	d.skill.outcome == "approved_limited"
	d.skill.trusted_gaps == ["skill_sbom_missing"]
}

test_two_party_approval if {
	reasons(trusted({}, [])) == ["approval_missing_role"]
	reasons(trusted({}, [_approval("security", "sec")])) == ["approval_missing_role"]
	reasons(trusted({}, [_approval("security", "both"), _approval("runtime-owner", "both")])) == ["approvers_not_distinct"]
	self := [_approval("security", "alice"), _approval("runtime-owner", "run")]
	"approval_missing_role" in reasons(trusted({}, self))
	forged := [object.union(_approval("security", "sec"), {"verified": false, "error": "does not verify"}), _approval("runtime-owner", "run")]
	reasons(trusted({}, forged)) == ["approval_missing_role", "approval_unverified"]
	old := [object.union(_approval("security", "sec"), {"signed_at": "2026-01-01T00:00:00Z"}), _approval("runtime-owner", "run")]
	reasons(trusted({}, old)) == ["approval_missing_role", "approval_expired"]
}

test_a_new_digest_voids_the_approvals if {
	moved := [object.union(a, {"digest": _other, "version": _other}) | some a in _approvals]
	d := decide(trusted({}, moved))
	d.skill.outcome == "approved_limited"
	"approval_missing_role" in d.reasons
}

test_allowed_transitions if {
	reasons(asking(doc({}), "pending_scan", "pending_policy")) == ["skill_transition_allowed"]
	decide(asking(doc({}), "pending_scan", "pending_policy")).transition == {"from": "pending_scan", "to": "pending_policy", "allowed": true, "kind": "transition", "decided": "pending_policy"}
	decide(asking(doc({"findings": [finding("skill_persistence", "high")]}), "pending_scan", "rejected_scan")).verdict == "promote"
	decide(asking(doc({}), "pending_policy", "approved_limited")).verdict == "promote"
	decide(asking(trusted({}, _approvals), "pending_policy", "approved_trusted")).verdict == "promote"
	decide(asking(trusted({}, _approvals), "approved_limited", "approved_trusted")).verdict == "promote"
	decide(asking(trusted({}, []), "approved_trusted", "approved_limited")).verdict == "promote"
	env := object.union(_skill.capabilities, {"network": ["x"]})
	hosts := object.union(_skill.declared, {"network": {"mode": "hosts", "hosts": ["api.example.com"]}})
	decide(asking(doc({"capabilities": env, "declared": hosts}), "pending_policy", "rejected_policy")).verdict == "promote"
	decide(revoking(doc({}), "approved_limited", _revocation)).verdict == "promote"
	decide(revoking(doc({}), "approved_trusted", _revocation)).verdict == "promote"
	decide(revoking(doc({}), "pending_scan", _revocation)).verdict == "promote"
	decide(revoking(doc({}), "rejected_policy", _revocation)).verdict == "promote"
}

test_no_jump_from_pending_scan_to_approved_trusted if {
	d := decide(asking(trusted({}, _approvals), "pending_scan", "approved_trusted"))
	d.verdict == "block"
	d.reasons == ["skill_invalid_transition"]
	d.transition.allowed == false
	reasons(asking(doc({}), "rejected_scan", "pending_policy")) == ["skill_invalid_transition"]
	reasons(asking(doc({}), "rejected_policy", "approved_limited")) == ["skill_invalid_transition"]
	reasons(asking(doc({}), "pending_policy", "pending_scan")) == ["skill_invalid_transition"]
}

test_revoked_returns_only_through_re_intake if {
	reasons(asking(doc({}), "revoked", "approved_trusted")) == ["skill_revoked"]
	reasons(asking(doc({}), "revoked", "pending_scan")) == ["skill_revoked"]
}

test_the_evidence_decides_the_target if {
	d := decide(asking(trusted({}, []), "pending_policy", "approved_trusted"))
	d.reasons == ["skill_transition_refused", "approval_missing_role"]
	d.transition.decided == "approved_limited"
	reasons(asking(doc({"findings": [finding("skill_persistence", "high")]}), "pending_scan", "pending_policy")) == ["skill_persistence", "skill_transition_refused"]
}

test_revocation_needs_a_revocation_role if {
	d := doc({})
	# a name alone (the request's actor) is not a revocation
	reasons(object.union(d, {"request": {"kind": "transition", "from": "approved_trusted", "to": "revoked", "actor": "ic"}})) == ["skill_revocation_unauthorised"]
	reasons(object.union(d, {"request": {"kind": "transition", "from": "approved_trusted", "to": "revoked"}})) == ["skill_revocation_unauthorised"]
	decide(revoking(d, "approved_trusted", _revocation)).transition.allowed == true
}

test_a_revocation_counts_only_signed_by_a_holder_of_a_revocation_role if {
	d := doc({})
	every changes in [
		{"verified": false, "error": "the signature does not verify with the key listed for ic"},
		{"revoker": "run", "role": "incident-commander"},
		{"revoker": "run", "role": "runtime-owner"},
		{"role": "security"},
		{"digest": _other, "version": _other},
		{"signed_at": "2026-11-01T00:00:00Z"},
		{"signed_at": "2026-11-23T01:00:00Z"},
		{"signed_at": "yesterday"},
	] {
		r := decide(revoking(d, "approved_trusted", object.union(_revocation, changes)))
		r.reasons == ["skill_revocation_unauthorised"]
		r.transition.allowed == false
		r.verdict == "block"
	}
	msg := decide(revoking(d, "approved_trusted", object.union(_revocation, {"signed_at": "2026-11-01T00:00:00Z"}))).results[0].message
	contains(msg, "a replayed revocation")
	# within the clock-skew allowance
	decide(revoking(d, "approved_trusted", object.union(_revocation, {"signed_at": "2026-11-23T00:04:00Z"}))).verdict == "promote"
	# a revocation signed in the same second the submission was taken in counts
	late := json.patch(d, [{"op": "add", "path": "/evidence/submission", "value": {"id": 1, "submitted_at": "2026-11-22T00:00:00.900000Z"}}])
	decide(revoking(late, "approved_trusted", object.union(_revocation, {"signed_at": "2026-11-22T00:00:00Z"}))).verdict == "promote"
}

test_a_re_intake_of_a_revoked_digest_is_held_until_approved_trusted if {
	# untrusted tier: never approved_limited again
	held := decide(revoked_before(doc({})))
	held.skill.outcome == "pending_policy"
	held.reasons == ["skill_restore_incomplete"]
	held.verdict == "block"
	# trusted tier without approvals: held, and says what is missing
	waiting := decide(revoked_before(trusted({}, [])))
	waiting.skill.outcome == "pending_policy"
	waiting.reasons == ["skill_restore_incomplete", "approval_missing_role"]
	waiting.verdict == "manual-review"
	reasons(asking(revoked_before(trusted({}, [])), "pending_policy", "approved_limited")) == ["skill_restore_incomplete", "skill_transition_refused", "approval_missing_role"]
	# one person in both roles restores nothing
	reasons(revoked_before(trusted({}, [_approval("security", "both"), _approval("runtime-owner", "both")]))) == ["skill_restore_incomplete", "approvers_not_distinct"]
	# two-party approval: approved_trusted, the way back
	back := decide(revoked_before(trusted({}, _approvals)))
	back.skill.outcome == "approved_trusted"
	back.verdict == "promote"
	decide(asking(revoked_before(trusted({}, _approvals)), "pending_policy", "approved_trusted")).verdict == "promote"
}

test_a_submission_taken_in_before_the_revocation_is_revoked if {
	d := revoked_after(trusted({}, _approvals))
	r := decide(d)
	r.skill.outcome == "revoked"
	r.reasons == ["skill_revoked"]
	r.verdict == "block"
	reasons(asking(d, "approved_trusted", "approved_limited")) == ["skill_revoked"]
	reasons(asking(d, "pending_scan", "pending_policy")) == ["skill_revoked"]
	# an unreadable revocation time counts as after the intake
	odd := json.patch(d, [{"op": "replace", "path": "/evidence/revocations/0/at", "value": "soon"}])
	decide(odd).skill.outcome == "revoked"
}

test_only_the_approvals_that_counted_are_listed if {
	self := [_approval("security", "alice"), _approval("security", "sec"), _approval("runtime-owner", "run")]
	decide(trusted({}, self)).skill.approvals_counted == [_counted("security", "sec"), _counted("runtime-owner", "run")]
	# both is the only security approver: their runtime-owner approval did not count
	shared := [_approval("security", "both"), _approval("runtime-owner", "both"), _approval("runtime-owner", "run")]
	s := decide(trusted({}, shared)).skill
	s.outcome == "approved_trusted"
	s.approvals_counted == [_counted("security", "both"), _counted("runtime-owner", "run")]
	forged := [object.union(_approval("security", "sec"), {"verified": false}), _approval("security", "both"), _approval("runtime-owner", "run")]
	decide(trusted({}, forged)).skill.approvals_counted == [_counted("security", "both"), _counted("runtime-owner", "run")]
	decide(doc({"approvals": _approvals})).skill.approvals_counted == []
}

test_three_roles_signed_by_two_people_are_not_enough if {
	three := json.patch(_config, [
		{"op": "replace", "path": "/skills/approval_roles", "value": ["security", "runtime-owner", "legal"]},
		{"op": "replace", "path": "/skills/people/sec/roles", "value": ["security", "runtime-owner", "legal"]},
		{"op": "replace", "path": "/skills/people/run/roles", "value": ["security", "runtime-owner", "legal"]},
	])
	approvals := [_approval(role, who) | some role in ["security", "runtime-owner", "legal"]; some who in ["sec", "run"]]
	d := data.gate.main.decision with input as trusted({}, approvals) with data.gate.config as three
	d.skill.outcome == "approved_limited"
	d.reasons == ["skill_approvers_overlap"]
}

test_scanner_findings_and_missing_scanners if {
	failed := {"skill": _skill, "scanners": [{"name": "skill-scanner", "installed": true, "error": "exited 2"}]}
	reasons(object.union(doc({}), {"evidence": object.union(failed, {"approvals": []})})) == ["skill_scanner_finding"]
	issue := {"skill": _skill, "approvals": [], "scanners": [{"name": "skill-scanner", "installed": true, "issues": [{"severity": "HIGH", "detail": "exfil", "path": "SKILL.md"}]}]}
	reasons(object.union(doc({}), {"evidence": issue})) == ["skill_scanner_finding"]
	quiet := {"skill": _skill, "approvals": [], "scanners": [{"name": "skill-scanner", "installed": true, "issues": [{"severity": "LOW", "detail": "style"}]}]}
	decide(object.union(doc({}), {"evidence": quiet})).verdict == "promote"
	closed := json.patch(_config, [{"op": "replace", "path": "/skills/scanners", "value": {"run": ["skill-scanner"], "missing": "fail-closed"}}])
	d := data.gate.main.decision with input as doc({}) with data.gate.config as closed
	d.reasons == ["skill_scanner_missing"]
	open := json.patch(_config, [{"op": "replace", "path": "/skills/scanners", "value": {"run": ["skill-scanner"], "missing": "warn-and-skip"}}])
	w := data.gate.main.decision with input as doc({}) with data.gate.config as open
	w.verdict == "promote"
	[x.code | some x in w.warnings] == ["skill_scanner_missing"]
}
