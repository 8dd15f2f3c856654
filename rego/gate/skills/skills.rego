# METADATA
# title: Skills quarantine
# description: >-
#   Decides what a skill package may become, following the quarantine's
#   state machine: a static scan (rejected_scan when anything in the package
#   is unsafe, undeclared or unreadable), then policy (rejected_policy when
#   its capability surface or data handling do not fit the tier it is
#   submitted for), then approved_limited or, for the trusted tier with
#   every trusted control and a two-party approval, approved_trusted. A
#   transition request (gate skill scan / evaluate / revoke) is allowed only
#   along the state machine and only to the state the evidence decides. A
#   revoked digest stays revoked until a new intake of it reaches
#   approved_trusted; a revocation counts only as a signed statement by a
#   holder of a revocation role.
package gate.skills

import rego.v1

import data.gate.approval
import data.gate.lib

_catalog := data.gate.catalog["gate.skills"]

_config := c if {
	c := data.gate.config
} else := {}

_cfg := object.get(_config, "skills", {})

_skill := object.get(object.get(input, "evidence", {}), "skill", {})

_manifest := object.get(_skill, "manifest", {})

_declared := object.get(_skill, "declared", {})

_subject := object.get(object.get(input, "subject", {}), "ref", "")

_digest := object.get(object.get(input, "subject", {}), "digest", "")

_req := object.get(input, "request", {})

_tier := t if {
	t := _declared.tier
	is_string(t)
} else := object.get(_cfg, "default_tier", "untrusted")

_trusted_tier if _tier == "trusted"

# _hit is what a rule contributes: the stage it belongs to and its result.
_hit(stage, meta, params) := {"stage": stage, "result": lib.result(meta, params)}

# Finding codes the collector and parsers emit, each judged by the rule of
# that code; anything else is judged by skill_unknown_finding, so a finding
# nobody knows how to judge never passes.
_finding_codes := {
	"archive_unsafe", "skill_limits_exceeded", "skill_unparseable", "skill_hidden_unicode",
	"skill_prompt_injection", "skill_concealment", "skill_exfiltration", "skill_download_execute",
	"skill_secret_access", "skill_obfuscated_exec", "skill_reverse_shell", "skill_persistence",
	"skill_privilege", "skill_write_outside", "skill_binary_payload", "skill_dependency_denied",
	"skill_dependency_untrusted_source", "skill_install_hook", "skill_typosquat",
	"skill_lockfile_mismatch",
}

# Findings that are controls, not scan failures: the trusted tier judges them.
_control_codes := {"skill_dependency_unpinned"}

_findings := object.get(_skill, "findings", [])

# low and info findings do not fail the scan; anything else (a missing or
# unknown severity included) does.
_counts(f) if not object.get(f, "severity", "") in {"low", "info"}

_where(f) := sprintf("%s:%v", [object.get(f, "path", "?"), f.line]) if is_number(f.line)

else := object.get(f, "path", "?")

# A finding's text, located: analyzers that already name the file are not prefixed twice.
_finding_text(f) := f.detail if {
	startswith(object.get(f, "detail", ""), concat("", [object.get(f, "path", "?"), ":"]))
} else := sprintf("%s: %s", [_where(f), object.get(f, "detail", "")])

_finding_texts[code] contains _finding_text(f) if {
	some f in _findings
	code := f.code
	code in _finding_codes
	_counts(f)
}

_finding_texts["skill_limits_exceeded"] contains limit if {
	some limit in object.get(object.get(_skill, "package", {}), "limits", [])
}

_shown(value) := value if {
	is_string(value)
	value != ""
} else := "(nothing)"

# --- stage 1: the static scan ---

# METADATA
# title: SKILL.md missing or invalid
# description: >-
#   A skill is a folder with a SKILL.md whose YAML frontmatter names the
#   skill and describes it. Without it nothing says what the package is.
# custom:
#   short_name: skill_manifest_invalid
#   failure_msg: "%s"
#   solution: Add SKILL.md with frontmatter (name, description, allowed-tools, license).
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some why in _manifest_problems
	h := _hit("scan", _catalog.skill_manifest_invalid, [why])
}

_manifest_problems contains _manifest.error if {
	is_string(_manifest.error)
}

_manifest_problems contains "the package has no SKILL.md at its root" if {
	object.get(_manifest, "present", false) != true
	not is_string(object.get(_manifest, "error", null))
}

_manifest_problems contains sprintf("SKILL.md frontmatter has no %s", [field]) if {
	object.get(_manifest, "present", false) == true
	not is_string(object.get(_manifest, "error", null))
	some field in ["name", "description"]
	lib.blank(object.get(_manifest, field, ""))
}

# METADATA
# title: Unsafe package layout
# description: >-
#   The package holds a symbolic link, a device or FIFO, a member whose name escapes the folder (absolute, .., drive letters), a decompression bomb, bytes outside its members, or a corrupt archive structure.
# custom:
#   short_name: archive_unsafe
#   failure_msg: "%s"
#   solution: Rebuild the package from plain files only.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["archive_unsafe"]
	h := _hit("scan", _catalog.archive_unsafe, [text])
}

# METADATA
# title: Package over gate's bounds
# description: >-
#   A file, the number of files, the depth, or a parser bound was exceeded, so part of the package was not analysed; what is not analysed never passes.
# custom:
#   short_name: skill_limits_exceeded
#   failure_msg: "%s"
#   solution: Split or trim the skill; large data files do not belong in a skill.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_limits_exceeded"]
	h := _hit("scan", _catalog.skill_limits_exceeded, [text])
}

# METADATA
# title: Code or manifest that does not parse
# description: >-
#   A script or dependency manifest could not be parsed, so nothing can be said about what it does.
# custom:
#   short_name: skill_unparseable
#   failure_msg: "%s"
#   solution: Fix the syntax; gate does not admit code it cannot read.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_unparseable"]
	h := _hit("scan", _catalog.skill_unparseable, [text])
}

# METADATA
# title: Hidden Unicode
# description: >-
#   Invisible characters (Unicode tag characters, zero-width characters, bidirectional overrides, variation selectors) are text the agent reads and a reviewer does not see.
# custom:
#   short_name: skill_hidden_unicode
#   failure_msg: "%s"
#   solution: Remove the invisible characters; write instructions in plain visible text.
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_hidden_unicode"]
	h := _hit("scan", _catalog.skill_hidden_unicode, [text])
}

# METADATA
# title: Prompt injection
# description: >-
#   Instructions outside quoted examples try to override the agent's instructions or impersonate a system role.
# custom:
#   short_name: skill_prompt_injection
#   failure_msg: "%s"
#   solution: Remove the override; a skill adds instructions, it never replaces the agent's.
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_prompt_injection"]
	h := _hit("scan", _catalog.skill_prompt_injection, [text])
}

# METADATA
# title: Concealment or auto-approval
# description: >-
#   Instructions tell the agent to hide actions from the user, act silently, or skip permission and confirmation prompts.
# custom:
#   short_name: skill_concealment
#   failure_msg: "%s"
#   solution: Remove the instruction; a skill's actions must be visible to and approved by the user.
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_concealment"]
	h := _hit("scan", _catalog.skill_concealment, [text])
}

# METADATA
# title: Exfiltration
# description: >-
#   Instructions or code send secrets, credentials, the environment or the conversation elsewhere, or build URLs that carry templated secrets.
# custom:
#   short_name: skill_exfiltration
#   failure_msg: "%s"
#   solution: Remove the transfer; secrets never leave through a skill.
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_exfiltration"]
	h := _hit("scan", _catalog.skill_exfiltration, [text])
}

# METADATA
# title: Download and execute
# description: >-
#   A script or instruction downloads code and runs it (curl | sh, fetch then eval), so what runs is not what was reviewed.
# custom:
#   short_name: skill_download_execute
#   failure_msg: "%s"
#   solution: Ship the code in the package, or pin and verify what is downloaded, and run only reviewed files.
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_download_execute"]
	h := _hit("scan", _catalog.skill_download_execute, [text])
}

# METADATA
# title: Secret material read
# description: >-
#   Code or instructions read SSH keys, cloud credentials, browser profiles, keychains or similar secret stores, or dump the whole environment next to network access.
# custom:
#   short_name: skill_secret_access
#   failure_msg: "%s"
#   solution: Remove the access; a skill receives only the secrets it documents, through the environment.
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_secret_access"]
	h := _hit("scan", _catalog.skill_secret_access, [text])
}

# METADATA
# title: Obfuscated execution
# description: >-
#   exec/eval (or an equivalent) runs decoded or computed code, which hides what the skill does from review.
# custom:
#   short_name: skill_obfuscated_exec
#   failure_msg: "%s"
#   solution: Replace dynamic execution with plain code.
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_obfuscated_exec"]
	h := _hit("scan", _catalog.skill_obfuscated_exec, [text])
}

# METADATA
# title: Reverse shell
# description: >-
#   Code connects a shell to a network socket.
# custom:
#   short_name: skill_reverse_shell
#   failure_msg: "%s"
#   solution: Remove it; this is a backdoor.
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_reverse_shell"]
	h := _hit("scan", _catalog.skill_reverse_shell, [text])
}

# METADATA
# title: Persistence
# description: >-
#   Code installs itself to run later: cron, shell rc files, services, launch agents, git hooks, authorized_keys.
# custom:
#   short_name: skill_persistence
#   failure_msg: "%s"
#   solution: Remove it; a skill runs when the agent calls it and leaves nothing behind.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_persistence"]
	h := _hit("scan", _catalog.skill_persistence, [text])
}

# METADATA
# title: Privilege escalation
# description: >-
#   Code uses sudo/su/doas/pkexec, sets setuid/setgid bits, changes to root or writes into system directories.
# custom:
#   short_name: skill_privilege
#   failure_msg: "%s"
#   solution: Remove it; skills run with the agent's permissions only.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_privilege"]
	h := _hit("scan", _catalog.skill_privilege, [text])
}

# METADATA
# title: Write outside the skill
# description: >-
#   Code writes to a fixed path outside the skill, the working tree and temporary directories (or deletes whole trees such as ~ or /).
# custom:
#   short_name: skill_write_outside
#   failure_msg: "%s"
#   solution: Write only where the user asks or under a temporary directory.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_write_outside"]
	h := _hit("scan", _catalog.skill_write_outside, [text])
}

# METADATA
# title: Binary payload
# description: >-
#   The package ships an executable, a pickle or a nested archive: code that cannot be reviewed as source.
# custom:
#   short_name: skill_binary_payload
#   failure_msg: "%s"
#   solution: Ship source; build binaries in the consumer's pipeline.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_binary_payload"]
	h := _hit("scan", _catalog.skill_binary_payload, [text])
}

# METADATA
# title: Dependency not allowed
# description: >-
#   A dependency is on the profile's deny list, or not on its allow list.
# custom:
#   short_name: skill_dependency_denied
#   failure_msg: "%s"
#   solution: Use an allowed package, or have it added to the allow list after review.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_dependency_denied"]
	h := _hit("scan", _catalog.skill_dependency_denied, [text])
}

# METADATA
# title: Dependency from an untrusted source
# description: >-
#   A dependency comes from a URL, a git repository, a local path outside the skill, or an index or registry the profile does not trust (extra indexes invite dependency confusion).
# custom:
#   short_name: skill_dependency_untrusted_source
#   failure_msg: "%s"
#   solution: Resolve every dependency from a trusted registry, pinned.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_dependency_untrusted_source"]
	h := _hit("scan", _catalog.skill_dependency_untrusted_source, [text])
}

# METADATA
# title: Install-time hook
# description: >-
#   Installing a dependency or the skill runs code (npm pre/postinstall, a setup.py with custom commands or module-level code, an in-tree build backend).
# custom:
#   short_name: skill_install_hook
#   failure_msg: "%s"
#   solution: Remove install hooks; a skill's dependencies install without running code.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_install_hook"]
	h := _hit("scan", _catalog.skill_install_hook, [text])
}

# METADATA
# title: Possible typosquat
# description: >-
#   A dependency's name is a small edit away from a popular package.
# custom:
#   short_name: skill_typosquat
#   failure_msg: "%s"
#   solution: Check the name; depend on the real package.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_typosquat"]
	h := _hit("scan", _catalog.skill_typosquat, [text])
}

# METADATA
# title: Lockfile inconsistent
# description: >-
#   The lockfile disagrees with the manifests or the declared dependencies (missing entries, versions outside the declared range, entries without integrity hashes, dependencies nobody declared).
# custom:
#   short_name: skill_lockfile_mismatch
#   failure_msg: "%s"
#   solution: Regenerate the lockfile from the declared dependencies and declare what the skill needs.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _finding_texts["skill_lockfile_mismatch"]
	h := _hit("scan", _catalog.skill_lockfile_mismatch, [text])
}

# METADATA
# title: Unrecognised scan finding
# description: >-
#   A parser or collector reported a finding whose code this policy does not
#   know. A finding nobody knows how to judge never passes.
# custom:
#   short_name: skill_unknown_finding
#   failure_msg: "%s: %s (%s)"
#   solution: Update gate's policy to judge the finding, or remove its cause.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some f in _findings
	not object.get(f, "code", "") in _finding_codes
	not object.get(f, "code", "") in _control_codes
	_counts(f)
	h := _hit("scan", _catalog.skill_unknown_finding, [_where(f), object.get(f, "detail", ""), _shown(f.code)])
}

# METADATA
# title: Package digest does not match
# description: >-
#   The artifact digest declared at intake, or the digest a signature
#   covers, is not the digest of the package that was scanned.
# custom:
#   short_name: skill_digest_mismatch
#   failure_msg: "%s"
#   solution: Submit the package the declaration (or signature) is about, or correct the declared digest.
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	some why in _digest_problems
	h := _hit("scan", _catalog.skill_digest_mismatch, [why])
}

_source := object.get(_declared, "source", {})

_digest_problems contains sprintf("declared artifact digest %s, package digest %s", [_source.artifact_digest, _digest]) if {
	_source.kind == "artifact"
	_source.valid == true
	object.get(_source, "matches", null) != true
}

_digest_problems contains sprintf("the package changed since intake: intake recorded %s, it is now %s", [_declared.intake_digest, _digest]) if {
	is_string(_declared.intake_digest)
	object.get(_declared, "intake_digest", null) != _digest
}

_signature := object.get(_skill, "signature", {})

_digest_problems contains sprintf("the signature covers %s, the package is %s", [_signature.signed_digest, _digest]) if {
	is_string(_signature.signed_digest)
	object.get(_signature, "signed_digest", null) != _digest
}

# METADATA
# title: Signature does not verify
# description: >-
#   A signature was supplied and does not verify against any signer key the
#   profile approves (or is malformed). A bad signature is never ignored.
# custom:
#   short_name: skill_signature_invalid
#   failure_msg: "Signature of %s: %s"
#   solution: Sign the exact package with an approved signer's key (gate skill sign).
#   severity: critical
#   collections: [skills-quarantine]
hit contains h if {
	_signature.present == true
	object.get(_signature, "verified", null) != true
	h := _hit("scan", _catalog.skill_signature_invalid, [_subject, object.get(_signature, "error", "it does not verify")])
}

_license := object.get(_skill, "license", {})

_license_kind := object.get(_license, "kind", "none")

_license_identified if _license_kind in {"spdx", "file"}

_license_ids := {upper(id) | some id in object.get(_license, "ids", [])}

_license_said := sprintf("%s (%s)", [_license.expression, _license_from]) if is_string(_license.expression)

else := "(none)"

_license_from := sprintf("identified from the text of %s", [_license.file]) if _license_kind == "file"

else := "SKILL.md license field"

# How a tier treats a licence: "required" (identified and allowed, else
# rejected_policy) or "warn" (a missing or unidentified licence is a
# warning). A profile that says nothing requires one.
_license_mode := object.get(_tier_cfg, "license", "required")

# METADATA
# title: License denied
# description: >-
#   The licence, from the SKILL.md license field or identified from the text
#   of the package's licence file, includes one the profile denies
#   (skills.denied_licenses), in every tier.
# custom:
#   short_name: skill_license_denied
#   failure_msg: "%s: %s includes %s, which the profile denies"
#   solution: Relicense the skill under a licence the profile allows, or do not use it.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	_license_identified
	some denied in object.get(_cfg, "denied_licenses", [])
	upper(denied) in _license_ids
	h := _hit("scan", _catalog.skill_license_denied, [_subject, _license_said, denied])
}

# METADATA
# title: License not identified or not allowed
# description: >-
#   The tier requires an identified licence the profile allows (tiers.TIER.license
#   required): a valid SPDX expression in SKILL.md's license field, or a
#   licence file whose text identifies a known licence, within
#   skills.allowed_licenses when the profile lists any.
# custom:
#   short_name: skill_license_invalid
#   failure_msg: "%s: %s"
#   solution: Set license in SKILL.md to an SPDX expression the profile allows (or ship the licence's text as LICENSE), or submit the skill for a tier that only warns.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	_tier_known
	_license_mode == "required"
	some why in _license_problems
	h := _hit("policy", _catalog.skill_license_invalid, [_subject, why])
}

_license_problems contains sprintf("the %s tier requires an identified licence: %s", [_tier, object.get(_license, "problem", "no licence")]) if {
	not _license_identified
}

_license_problems contains sprintf("%s is not among the licences the profile allows (%s)", [id, concat(", ", _allowed)]) if {
	_license_identified
	count(_allowed) > 0
	some id in _license_ids
	not id in {upper(a) | some a in _allowed}
}

_allowed := object.get(_cfg, "allowed_licenses", [])

# METADATA
# title: License missing or unidentified
# description: >-
#   The skill has no licence, or one nobody can identify (prose that is not
#   an SPDX expression, a licence file whose text matches no known licence).
#   Tiers whose licence mode is warn (tiers.TIER.license warn) admit it with
#   this warning.
# custom:
#   short_name: skill_license_unidentified
#   failure_msg: "%s: %s"
#   solution: Add license to SKILL.md as an SPDX expression, or ship the licence text as LICENSE.
#   severity: low
#   collections: [skills-quarantine]
warning contains lib.result(_catalog.skill_license_unidentified, [_subject, object.get(_license, "problem", "no licence")]) if {
	_tier_known
	_license_mode == "warn"
	not _license_identified
}

# METADATA
# title: Provenance missing
# description: >-
#   Every skill version maps to a declared source: an https repository with
#   a full commit SHA, or a release artifact digest.
# custom:
#   short_name: skill_provenance_missing
#   failure_msg: "%s: %s"
#   solution: Declare --source https://REPO@COMMIT_SHA or --artifact-digest sha256:... at intake.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	object.get(_source, "valid", null) != true
	h := _hit("scan", _catalog.skill_provenance_missing, [_subject, object.get(_source, "problem", "no source declared")])
}

# --- the capability surface against what the skill declares ---

# allowed-tools as the collector parsed it: {name, scope, patterns} per tool.
_tools := t if {
	t := _manifest.tools
	is_array(t)
} else := []

_tool(name) if {
	some t in _tools
	t.name == name
}

# Bash without a scope grants any command.
_any_command if {
	some t in _tools
	t.name == "Bash"
	object.get(t, "scope", null) == null
}

_command_granted(command) if _any_command

_command_granted(command) if {
	some t in _tools
	t.name == "Bash"
	some pattern in object.get(t, "patterns", [])
	regex.match(pattern, command)
}

_scopes := concat(", ", [t.raw | some t in _tools; t.name == "Bash"])

_capabilities := object.get(_skill, "capabilities", {})

_network := object.get(_declared, "network", {"mode": "unspecified", "hosts": []})

_host_declared(host) if {
	some d in _network.hosts
	d == host
}

_host_declared(host) if {
	some d in _network.hosts
	startswith(d, "*.")
	endswith(host, substring(d, 1, -1))
}

_first(list) := list[0] if count(list) > 0

else := "(no location recorded)"

_undeclared contains sprintf("process spawn (%s) but allowed-tools grants no Bash", [_first(_capabilities.process)]) if {
	count(object.get(_capabilities, "process", [])) > 0
	not _tool("Bash")
}

_undeclared contains sprintf("%s:%v runs `%s` (the package's %s), which none of allowed-tools' %s covers", [r.path, r.line, r.command, r.target, _scopes]) if {
	_tool("Bash")
	some r in object.get(_skill, "runs", [])
	not _command_granted(r.command)
}

_undeclared contains sprintf("file writes (%s) but allowed-tools grants none of Write, Edit, Bash", [_first(_capabilities.filesystem_write)]) if {
	count(object.get(_capabilities, "filesystem_write", [])) > 0
	not _tool("Write")
	not _tool("Edit")
	not _tool("MultiEdit")
	not _tool("Bash")
}

_undeclared contains sprintf("%s access (%s) but the declared network is %s", [kind, _first(_capabilities[kind]), _network.mode]) if {
	some kind in ["network", "external_api"]
	count(object.get(_capabilities, kind, [])) > 0
	_network.mode != "hosts"
}

_undeclared contains sprintf("network access to %s, which is not among the declared hosts", [host]) if {
	_network.mode == "hosts"
	some host in object.get(_skill, "hosts", [])
	not _host_declared(host)
}

_undeclared contains sprintf("reads the secret %s from the environment but SKILL.md does not document it", [name]) if {
	some name in object.get(_skill, "secret_env", [])
	not name in object.get(_skill, "documented", [])
}

# METADATA
# title: Undeclared capability
# description: >-
#   The capability surface derived from what the code and instructions do
#   (process spawn, file writes, network hosts, external APIs, secrets read
#   from the environment) exceeds what the skill declares: allowed-tools in
#   its frontmatter, the network needs declared at intake (or in its
#   metadata), the environment variables its documentation names.
# custom:
#   short_name: skill_undeclared_capability
#   failure_msg: "%s: %s"
#   solution: Declare the capability (allowed-tools, --network hosts, document the variable), or remove what uses it.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some why in _undeclared
	h := _hit("scan", _catalog.skill_undeclared_capability, [_subject, why])
}

# --- second-opinion scanners ---

_scanners := object.get(object.get(input, "evidence", {}), "scanners", [])

_scanner_texts contains sprintf("%s failed: %s", [s.name, s.error]) if {
	some s in _scanners
	object.get(s, "installed", false) == true
	object.get(s, "error", "") != ""
}

_scanner_texts contains sprintf("%s timed out", [s.name]) if {
	some s in _scanners
	object.get(s, "installed", false) == true
	object.get(s, "timed_out", false) == true
}

_scanner_texts contains sprintf("%s reports a %s issue in %s: %s", [s.name, issue.severity, _shown(object.get(issue, "path", "")), object.get(issue, "detail", "")]) if {
	some s in _scanners
	object.get(s, "installed", false) == true
	some issue in object.get(s, "issues", [])
	lower(object.get(issue, "severity", "")) in {"critical", "high"}
}

# METADATA
# title: An external skill scanner objects
# description: >-
#   The second-opinion scanner (cisco-ai-skill-scanner, static analyzers)
#   reported a high or critical issue, or failed. A scanner that failed is
#   never a clean result.
# custom:
#   short_name: skill_scanner_finding
#   failure_msg: "%s"
#   solution: Review the scanner's report; do not admit the skill until the issue is understood.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some text in _scanner_texts
	h := _hit("scan", _catalog.skill_scanner_finding, [text])
}

# METADATA
# title: A required skill scanner is missing
# description: >-
#   The profile runs an external skill scanner that is not installed. Under
#   scanners.missing fail-closed this fails the scan; under warn-and-skip it
#   is a warning.
# custom:
#   short_name: skill_scanner_missing
#   failure_msg: "%s is not installed"
#   solution: Install the scanner (pip install cisco-ai-skill-scanner), or use a warn-and-skip profile.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	some name in object.get(object.get(_cfg, "scanners", {}), "run", [])
	not _scanner_installed(name)
	object.get(object.get(_cfg, "scanners", {}), "missing", "fail-closed") != "warn-and-skip"
	h := _hit("scan", _catalog.skill_scanner_missing, [name])
}

warning contains lib.result(_catalog.skill_scanner_missing, [name]) if {
	some name in object.get(object.get(_cfg, "scanners", {}), "run", [])
	not _scanner_installed(name)
	object.get(object.get(_cfg, "scanners", {}), "missing", "fail-closed") == "warn-and-skip"
}

_scanner_installed(name) if {
	some s in _scanners
	s.name == name
	s.installed == true
}

# --- stage 2: policy (capability surface, data handling, tier) ---

_tier_cfg := object.get(object.get(_cfg, "tiers", {}), _tier, {})

_tier_known if _tier in object.keys(object.get(_cfg, "tiers", {}))

# METADATA
# title: Tier not known
# description: >-
#   The tier the skill is submitted for is not one the profile defines
#   (untrusted, semi-trusted, trusted).
# custom:
#   short_name: skill_tier_unknown
#   failure_msg: "%s: tier %q is not defined by the profile"
#   solution: Submit the skill for a tier the profile defines.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	not _tier_known
	h := _hit("policy", _catalog.skill_tier_unknown, [_subject, _tier])
}

# METADATA
# title: Capability not allowed in this tier
# description: >-
#   The skill uses a capability (process spawn, file writes, network,
#   external APIs, secrets from the environment) the profile does not allow
#   for the tier it is submitted for.
# custom:
#   short_name: skill_capability_not_allowed
#   failure_msg: "%s: %s is not allowed in the %s tier (%s)"
#   solution: Submit the skill for a tier that allows the capability, or remove its use.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	_tier_known
	some kind, evidence in _capabilities
	count(evidence) > 0
	kind != "filesystem_read"
	not kind in object.get(_tier_cfg, "capabilities", [])
	h := _hit("policy", _catalog.skill_capability_not_allowed, [_subject, kind, _tier, _first(evidence)])
}

# METADATA
# title: Secrets not allowed in this tier
# description: >-
#   Data handling: the skill reads secrets from the environment, and the
#   profile does not hand secrets to skills of its tier.
# custom:
#   short_name: skill_secrets_not_allowed
#   failure_msg: "%s reads %s; the %s tier receives no secrets"
#   solution: Run the skill in a tier that provides the secret, or remove the need for it.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	_tier_known
	count(object.get(_skill, "secret_env", [])) > 0
	object.get(_tier_cfg, "secrets", false) != true
	h := _hit("policy", _catalog.skill_secrets_not_allowed, [_subject, concat(", ", _skill.secret_env), _tier])
}

# --- trusted tier: stricter controls (without them: approved_limited at most) ---

# METADATA
# title: Not signed by an approved identity
# description: >-
#   Trusted skills carry a valid signature from a signer the profile
#   approves (skills.signers).
# custom:
#   short_name: skill_unsigned
#   failure_msg: "%s has no verified signature from an approved signer"
#   solution: Sign the package with an approved signer's key (gate skill sign) and submit the signature.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	_trusted_tier
	object.get(_signature, "verified", null) != true
	h := _hit("trusted", _catalog.skill_unsigned, [_subject])
}

# METADATA
# title: SBOM missing
# description: Trusted skills need an SBOM of their dependency graph.
# custom:
#   short_name: skill_sbom_missing
#   failure_msg: "%s has no SBOM"
#   solution: Generate an SPDX or CycloneDX SBOM and submit it with --sbom.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	_trusted_tier
	object.get(object.get(_skill, "sbom", {}), "present", false) != true
	h := _hit("trusted", _catalog.skill_sbom_missing, [_subject])
}

# METADATA
# title: Dependencies not pinned
# description: >-
#   Trusted skills pin every dependency to an exact version (with integrity
#   hashes in lockfiles).
# custom:
#   short_name: skill_deps_unpinned
#   failure_msg: "%s: %s"
#   solution: Pin every dependency exactly and commit a lockfile with hashes.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	_trusted_tier
	some text in _unpinned
	h := _hit("trusted", _catalog.skill_deps_unpinned, [_subject, text])
}

_unpinned contains sprintf("%s:%s %s is not pinned", [d.ecosystem, d.name, _shown(d.spec)]) if {
	some d in object.get(object.get(_skill, "dependencies", {}), "items", [])
	object.get(d, "pinned", null) != true
}

_unpinned contains sprintf("%s: %s", [_where(f), object.get(f, "detail", "")]) if {
	some f in _findings
	f.code == "skill_dependency_unpinned"
}

_owners := {o | some o in object.get(_declared, "maintainers", []); not lib.blank(o)} | {o | o := _declared.owner; not lib.blank(o)}

# METADATA
# title: Owner missing
# description: >-
#   Operational control: trusted skills have an owner (maintainers declared
#   at intake) who answers for them.
# custom:
#   short_name: skill_owner_missing
#   failure_msg: "%s has no owner or maintainer"
#   solution: Declare --maintainer (and --owner) at intake.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	_trusted_tier
	count(_owners) == 0
	h := _hit("trusted", _catalog.skill_owner_missing, [_subject])
}

# METADATA
# title: Rollback not ready
# description: >-
#   Operational control: trusted skills name what to roll back to (the
#   previous approved digest, or "none" for a first version) and an update
#   cadence.
# custom:
#   short_name: skill_rollback_missing
#   failure_msg: "%s has no %s"
#   solution: Declare --rollback (previous digest or none) and --update-cadence at intake.
#   severity: medium
#   collections: [skills-quarantine]
hit contains h if {
	_trusted_tier
	some field in ["rollback", "update_cadence"]
	lib.blank(object.get(_declared, field, ""))
	h := _hit("trusted", _catalog.skill_rollback_missing, [_subject, replace(field, "_", " ")])
}

# --- two-party approval (the registry's approval package) ---

_approval_ctx := {
	"approvals": approval.with_signed_ns([a | some a in object.get(object.get(input, "evidence", {}), "approvals", [])]),
	"required": object.get(_cfg, "approval_roles", ["security", "runtime-owner"]),
	"submitter": object.get(_declared, "submitter", ""),
	"digest": _digest,
	"version": _digest,
	"people": object.get(_cfg, "people", {}),
	"ttl_days": object.get(_cfg, "approval_ttl_days", 90),
	"now_ns": lib.timestamp_ns(input.gate.now),
	"subject": _subject,
}

_approval_problems := approval.problems(_approval_ctx) if _trusted_tier

else := set()

_required_roles := sort({r | some r in _approval_ctx.required})

_valid_approvals := [a |
	some a in _approval_ctx.approvals
	a.role in _required_roles
	approval.valid(_approval_ctx, a)
]

_valid_people := {role: {a.approver | some a in _valid_approvals; a.role == role} | some role in _required_roles}

# A valid approval counts when every other required role can still have its
# own person besides this approver: for each subset of the other roles, their
# valid approvers other than this one are at least as many as the roles
# (Hall's condition; the profile lists at most 8 roles).
_approval_counts(a) if not _blocks_others(a)

_blocks_others(a) if {
	others := [r | some r in _required_roles; r != a.role]
	subsets := numbers.range(1, bits.lsh(1, count(others)) - 1)
	some k in subsets
	not _coverable(others, k, a.approver)
}

_coverable(others, k, person) if {
	chosen := [r | some i, r in others; bits.and(k, bits.lsh(1, i)) != 0]
	people := {p | some r in chosen; some p in _valid_people[r]; p != person}
	count(people) >= count(chosen)
}

# The approvals that count (what gate skill publish records as approvalRecord):
# not a self-approval, not an unverified or expired one, not a person's
# approval for a second role when each role needs its own person.
approvals_counted := [{"role": a.role, "approver": a.approver, "signed_at": a.signed_at, "keyid": object.get(a, "keyid", null)} |
	some a in _valid_approvals
	_approval_counts(a)
] if _trusted_tier

else := []

_counted_roles := {a.role | some a in approvals_counted}

# METADATA
# title: Approval roles need distinct people
# description: >-
#   Every required approval role has a valid approval, but they cannot be
#   given one distinct person each (for example three roles signed only by
#   two people who each hold all three). Each role needs its own person.
# custom:
#   short_name: skill_approvers_overlap
#   failure_msg: "%s: no approver of its own is left for the %s role"
#   solution: Have another holder of the role sign an approval for this digest.
#   severity: high
#   collections: [skills-quarantine]
hit contains h if {
	_trusted_tier
	count(_approval_problems) == 0
	some role in _required_roles
	not role in _counted_roles
	h := _hit("trusted", _catalog.skill_approvers_overlap, [_subject, role])
}

# --- revocations on record (the registry's, for this digest) ---

_evidence := object.get(input, "evidence", {})

# Revocations of this digest not followed by a restoration (a new intake that
# reached approved_trusted); the registry records them, this package decides.
_standing := [r | some r in object.get(_evidence, "revocations", []); is_object(r)]

_submitted_ns := lib.timestamp_ns(object.get(object.get(_evidence, "submission", {}), "submitted_at", null))

_before_intake(r) if lib.timestamp_ns(r.at) < _submitted_ns

# This submission (or one taken in before it) was revoked: a standing
# revocation not before its intake (an unreadable time counts as after).
_revoked_here if {
	some r in _standing
	not _before_intake(r)
}

# A new intake of a digest whose revocation still stands: it returns only
# as approved_trusted.
_held if {
	count(_standing) > 0
	not _revoked_here
}

_last_revocation := _standing[count(_standing) - 1]

# METADATA
# title: Revoked digest not restored yet
# description: >-
#   This is a new intake of a revoked digest. A revoked digest returns only
#   as approved_trusted: the trusted tier, every trusted control and a
#   two-party approval of this digest. Until then it stays in
#   pending_policy, revoked and off the allowlist; approved_limited is not a
#   way back.
# custom:
#   short_name: skill_restore_incomplete
#   failure_msg: "%s (%s) was revoked at %s (%s); it returns only as approved_trusted"
#   solution: >-
#     Submit it for the trusted tier, resolve the trusted gaps listed, and
#     have each approval role sign for this digest; then gate skill evaluate.
#   severity: high
#   collections: [skills-quarantine]
restore_hit contains lib.result(_catalog.skill_restore_incomplete, [_subject, _digest, _shown(object.get(_last_revocation, "at", "")), _shown(object.get(_last_revocation, "reason", ""))]) if {
	decided == "pending_policy"
}

_restore_results := {r | some r in restore_hit; lib.applies(_catalog[r.code])}

# --- the outcome ---

_applied contains h if {
	some h in hit
	lib.applies(_catalog[h.result.code])
}

_stage_results(stage) := {h.result | some h in _applied; h.stage == stage}

_approval_results := {r |
	some r in _approval_problems
	lib.applies(data.gate.catalog["gate.approval"][r.code])
}

_scan_failures := _stage_results("scan")

_policy_failures := _stage_results("policy")

_trusted_gaps := _stage_results("trusted") | _approval_results

# What the evidence decides: a revocation since intake first, then the first
# stage that fails; a re-intake of a revoked digest is approved_trusted or
# waits in pending_policy.
decided := "revoked" if {
	_revoked_here
} else := "rejected_scan" if {
	count(_scan_failures) > 0
} else := "rejected_policy" if {
	count(_policy_failures) > 0
} else := "approved_trusted" if {
	_trusted_tier
	count(_trusted_gaps) == 0
} else := "pending_policy" if {
	_held
} else := "approved_limited"

# --- the state machine ---

_states := {"pending_scan", "pending_policy", "rejected_scan", "approved_limited", "approved_trusted", "rejected_policy", "revoked"}

_edges := {
	["pending_scan", "rejected_scan"], ["pending_scan", "pending_policy"],
	["pending_policy", "approved_limited"], ["pending_policy", "approved_trusted"],
	["pending_policy", "rejected_policy"], ["approved_limited", "approved_trusted"],
	["approved_trusted", "approved_limited"], ["approved_limited", "revoked"],
	["approved_trusted", "revoked"],
}

_requested if _req.kind == "transition"

_from := object.get(_req, "from", "")

_to := object.get(_req, "to", "")

# Where the evidence sends a skill from each state.
_next := "rejected_scan" if {
	_from == "pending_scan"
	count(_scan_failures) > 0
} else := "pending_policy" if {
	_from == "pending_scan"
} else := decided

_is_revoked if {
	_requested
	_from == "revoked"
}

_is_revoked if {
	_revoked_here
	_to != "revoked"
}

# METADATA
# title: Revoked skills return only through re-intake
# description: >-
#   A revoked skill digest never moves again (and a submission taken in
#   before its digest was revoked is revoked too): restoring it takes a new
#   intake, scan, evaluation and two-party approval.
# custom:
#   short_name: skill_revoked
#   failure_msg: "%s (%s) is revoked; it returns only through a full re-intake"
#   solution: Submit the skill again with gate skill intake.
#   severity: critical
#   collections: [skills-quarantine]
revoked_hit contains lib.result(_catalog.skill_revoked, [_subject, _digest]) if {
	_is_revoked
}

# METADATA
# title: Transition not in the state machine
# description: >-
#   Skills move pending_scan -> rejected_scan | pending_policy ->
#   approved_limited | approved_trusted | rejected_policy; approved_limited
#   -> approved_trusted (approvals complete) and back (approvals lapsed);
#   any state but revoked -> revoked (emergency revocation). No other move
#   exists (no jump from pending_scan to approved_trusted, nothing out of a
#   rejected state).
# custom:
#   short_name: skill_invalid_transition
#   failure_msg: "%s cannot go from %s to %s"
#   solution: Move the skill through the quarantine one allowed step at a time.
#   severity: high
#   collections: [skills-quarantine]
transition_hit contains lib.result(_catalog.skill_invalid_transition, [_subject, _from, _to]) if {
	_requested
	not _is_revoked
	_to != "revoked"
	not [_from, _to] in _edges
}

# METADATA
# title: The evidence decides another state
# description: >-
#   The move exists, but the scan and policy evidence send the skill
#   elsewhere (for example approved_trusted asked while approvals are
#   missing). The reasons of the decided state are listed.
# custom:
#   short_name: skill_transition_refused
#   failure_msg: "%s: asked %s -> %s, the evidence decides %s"
#   solution: Resolve the reasons listed, then ask again.
#   severity: high
#   collections: [skills-quarantine]
transition_hit contains lib.result(_catalog.skill_transition_refused, [_subject, _from, _to, _next]) if {
	_requested
	not _is_revoked
	[_from, _to] in _edges
	_to != "revoked"
	_to != _next
}

_revocation := object.get(_evidence, "revocation", {})

_revocation_roles := object.get(_cfg, "revocation_roles", ["incident-commander", "maintainer"])

_revoker := object.get(_revocation, "revoker", "")

_revocation_role := object.get(_revocation, "role", "")

_revocation_verified if object.get(_revocation, "verified", null) == true

_revocation_signed_ns := lib.timestamp_ns(object.get(_revocation, "signed_at", null))

_skew_ns := object.get(_cfg, "clock_skew_seconds", 300) * 1000000000

# Why a revocation statement does not count (none of this when it does).
_revocation_problems contains object.get(_revocation, "error", "no signed revocation statement was given") if {
	not _revocation_verified
}

_revocation_problems contains sprintf("%s is not a revocation role (skills.revocation_roles)", [_shown(_revocation_role)]) if {
	_revocation_verified
	not _revocation_role in _revocation_roles
}

_revocation_problems contains sprintf("the profile does not list %s as holding the %s role", [_shown(_revoker), _shown(_revocation_role)]) if {
	_revocation_verified
	not _revocation_role in object.get(object.get(object.get(_cfg, "people", {}), _revoker, {}), "roles", [])
}

_revocation_problems contains "it is for another digest" if {
	_revocation_verified
	not _revocation_bound
}

_revocation_bound if {
	_revocation.digest == _digest
	_revocation.version == _digest
}

_revocation_problems contains "its signing time is not an RFC 3339 time" if {
	_revocation_verified
	not _revocation_signed_ns
}

# Signed before this submission was taken in (to the second): a revocation
# replayed against a later intake of the digest.
_revocation_problems contains "it was signed before this submission was taken in (a replayed revocation)" if {
	_revocation_verified
	_revocation_signed_ns
	not _signed_since_intake
}

_signed_since_intake if _revocation_signed_ns >= _submitted_ns - (_submitted_ns % 1000000000)

_revocation_problems contains sprintf("it is signed in the future (%s)", [object.get(_revocation, "signed_at", "")]) if {
	_revocation_verified
	_revocation_signed_ns > lib.timestamp_ns(input.gate.now) + _skew_ns
}

# METADATA
# title: Not authorised to revoke
# description: >-
#   Emergency revocation is a signed statement by a holder of a revocation
#   role the profile lists (a security incident commander, a
#   maintainers-group admin): the signature verifies against the key the
#   profile lists for the revoker, the revoker holds the role, it names this
#   digest, and it was signed since this submission was taken in and not in
#   the future. This one does not count.
# custom:
#   short_name: skill_revocation_unauthorised
#   failure_msg: "%s may not revoke %s: %s"
#   solution: >-
#     Have a holder of a revocation role (skills.revocation_roles, listed
#     with a key in skills.people) sign the revocation: gate skill revoke
#     --role --key --as.
#   severity: high
#   collections: [skills-quarantine]
transition_hit contains lib.result(_catalog.skill_revocation_unauthorised, [_shown(_revoker), _subject, why]) if {
	_requested
	_to == "revoked"
	some why in _revocation_problems
}

_transition_failures := {r | some r in transition_hit | revoked_hit; lib.applies(_catalog[r.code])}

# Why the skill is not where it asks to go: for a refused move, the reasons of the decided state.
_explain := _scan_failures if {
	_next == "rejected_scan"
} else := _policy_failures if {
	_next == "rejected_policy"
} else := _trusted_gaps if {
	_next == "approved_limited"
	_to == "approved_trusted"
} else := _restore_results | _trusted_gaps if {
	_next == "pending_policy"
	_from != "pending_scan"
} else := set()

# METADATA
# title: Skill approved
# description: >-
#   The scan and policy pass for the tier asked: approved_trusted (trusted
#   tier, every trusted control and both approvals) or approved_limited
#   (non-trusted contexts only). A transition request is allowed.
# custom:
#   short_name: skill_approved
#   failure_msg: "%s (%s): %s"
#   solution: Publish approved_trusted skills to the trusted registry (gate skill publish).
#   severity: info
#   collections: [skills-quarantine]
note contains lib.result(_catalog.skill_approved, [_subject, _digest, _state_said]) if {
	not _requested
	decided in {"approved_trusted", "approved_limited"}
}

# METADATA
# title: Transition allowed
# description: >-
#   The move is in the state machine and the evidence decides the state
#   asked; it is recorded (with the reasons that sent the skill there, for a
#   rejected or limited state).
# custom:
#   short_name: skill_transition_allowed
#   failure_msg: "%s (%s) may go from %s to %s"
#   solution: Record the transition (gate skill scan / evaluate / revoke record it when allowed).
#   severity: info
#   collections: [skills-quarantine]
note contains lib.result(_catalog.skill_transition_allowed, [_subject, _digest, _from, _to]) if {
	_requested
	count(_transition_failures) == 0
}

_state_said := "approved_trusted" if decided == "approved_trusted"

else := "approved_limited: allowed in non-trusted contexts only"

_order := object.union({code: object.union(entry, {"order": entry.order + 1000}) |
	some code, entry in data.gate.catalog["gate.approval"]
}, _catalog)

_failures := _transition_failures | _explain if {
	_requested
} else := {r | some r in revoked_hit; lib.applies(_catalog[r.code])} if {
	decided == "revoked"
} else := _restore_results | _trusted_gaps if {
	decided == "pending_policy"
} else := _scan_failures if {
	decided == "rejected_scan"
} else := _policy_failures if {
	decided == "rejected_policy"
} else := _trusted_gaps

# Verdicts: a rejected skill blocks; a trusted-tier skill that is only
# approved_limited needs review (controls or approvals missing); an approved
# skill promotes. A transition promotes when it is allowed.
_verdict := "block" if {
	_requested
	count(_transition_failures) > 0
} else := "promote" if {
	_requested
} else := "block" if {
	decided in {"rejected_scan", "rejected_policy", "revoked"}
} else := "manual-review" if {
	_trusted_tier
	decided in {"approved_limited", "pending_policy"}
} else := "block" if {
	decided == "pending_policy"
} else := "promote"

# An allowed move into a rejected (or limited) state carries the reasons that put it there.
_why_target := _scan_failures if {
	_requested
	_to == "rejected_scan"
} else := _policy_failures if {
	_requested
	_to == "rejected_policy"
} else := _trusted_gaps if {
	_requested
	_to == "approved_limited"
	_trusted_tier
} else := set()

_results := lib.ordered(_order, note | _why_target) if _verdict == "promote"

else := lib.ordered(_order, _failures)

_trusted_shown := lib.ordered(_order, _trusted_gaps) if _trusted_tier

else := []

outcome := object.union(
	{
		"verdict": _verdict,
		"evidence_level": "live",
		"results": _results,
		"warnings": lib.ordered(_catalog, warning),
		"skill": {
			"outcome": decided,
			"tier": _tier,
			"trusted_gaps": lib.codes(_trusted_shown),
			"approvals_counted": approvals_counted,
		},
	},
	_transition_part,
)

_transition_part := {"transition": {"from": _from, "to": _to, "allowed": count(_transition_failures) == 0, "kind": "transition", "decided": _next}, "waived": []} if {
	_requested
} else := {}
