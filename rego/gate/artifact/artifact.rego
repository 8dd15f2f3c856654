# METADATA
# title: Model artifact admission
# description: >-
#   Decides whether a model file or model directory may be admitted, in seven
#   stages that all run and all report: source, format, integrity,
#   provenance, static scan, behaviour and diffusion/directory. The
#   collectors only record what they observed (parsed URL, digests, format
#   findings, signature, scanner output); every stage status and every
#   reason is computed here.
package gate.artifact

import rego.v1

import data.gate.lib

_catalog := data.gate.catalog["gate.artifact"]

_config := object.get(data.gate.config, "artifact", {})

_evidence := object.get(input, "evidence", {})

_artifact := object.get(_evidence, "artifact", {})

_files := object.get(_artifact, "files", [])

_source := object.get(_evidence, "source", {})

_pins := object.get(_evidence, "pins", {})

_provenance := object.get(_evidence, "provenance", {})

_behaviour := object.get(_evidence, "behaviour", {})

_directory := object.get(_artifact, "directory", {})

_operator := object.get(input, "operator", {})

# The stages, in the order they are reported.
stage_names := ["source", "format", "integrity", "provenance", "static_scan", "behaviour", "diffusion"]

subject_ref := object.get(input.subject, "ref", "")

# _hit is what a rule contributes: the stage it belongs to, whether it
# blocks (warnings do not), and the result built from its METADATA.
_hit(stage, blocking, meta, params) := {"stage": stage, "blocking": blocking, "result": lib.result(meta, params)}

_shown(value) := value if {
	is_string(value)
	value != ""
} else := "(nothing)"

# A finding's location: file, archive member, byte offset.
_where(file, finding) := concat("", [object.get(file, "path", "?"), _member(finding), _offset(finding)])

_member(finding) := sprintf(" member %s", [finding.member]) if {
	is_string(finding.member)
	finding.member != ""
} else := ""

_offset(finding) := sprintf(" at byte %v", [finding.offset]) if is_number(finding.offset)

else := ""

# Finding codes the parsers and collectors emit, each judged by the rule of
# that reason code. Any other code counts as invalid_header: a finding
# nobody knows how to judge never passes.
_finding_codes := {
	"unknown_format", "invalid_header", "polyglot_payload", "chat_template_injection",
	"unsafe_pickle", "archive_unsafe", "unsafe_layer", "entropy_anomaly", "weight_anomaly",
}

_reason_of(finding) := finding.code if finding.code in _finding_codes

else := "invalid_header"

# [file, finding, reason] for every finding recorded against a file.
_findings contains [file, finding, _reason_of(finding)] if {
	some file in _files
	some finding in object.get(file, "findings", [])
}

# low and info findings are recorded as warnings; anything else (a missing
# or unknown severity included) blocks.
_blocking_severity(finding) := false if {
	object.get(finding, "severity", "") in {"low", "info"}
} else := true

_finding_text(file, finding) := sprintf("%s: %s", [_where(file, finding), object.get(finding, "detail", "")])

_remote if {
	object.get(_source, "kind", "") != "local-import"
}

_url := object.get(_source, "url", "")

_parsed := object.get(_source, "parsed", {})

# --- stage 1: source ---

# METADATA
# title: Source is not HTTPS
# description: >-
#   The artifact was fetched from a URL whose scheme is not https (or that
#   could not be parsed at all). Anything else can be altered in transit.
# custom:
#   short_name: source_not_https
#   failure_msg: "Source %s is not an https URL"
#   solution: Fetch the artifact over https from an allowlisted source, or import it locally.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	_remote
	object.get(_parsed, "scheme", "") != "https"
	h := _hit("source", true, _catalog.source_not_https, [_shown(_url)])
}

# An allowlist entry matches when scheme, host (IDNA, lower-case) and port
# are equal and the URL's path lies under the entry's path, segment-wise:
# an entry path ending in "/" is a folder prefix; any other entry path
# matches itself and what lies below it.
_entry_matches(entry) if {
	object.get(entry, "error", "") == ""
	entry.scheme == _parsed.scheme
	entry.host == _parsed.host
	entry.port == _parsed.port
	_path_under(_parsed.path, entry.path)
}

_path_under(path, prefix) if {
	endswith(prefix, "/")
	startswith(path, prefix)
}

_path_under(path, prefix) if {
	not endswith(prefix, "/")
	path == prefix
}

_path_under(path, prefix) if {
	not endswith(prefix, "/")
	startswith(path, concat("", [prefix, "/"]))
}

_allowlisted if {
	count(object.get(_parsed, "problems", [])) == 0
	object.get(_source, "error", "") == ""
	some entry in object.get(_source, ["allowlist", "entries"], [])
	_entry_matches(entry)
}

_source_problems := concat("; ", object.get(_parsed, "problems", []))

_not_allowlisted_why := sprintf("its URL is ambiguous (%s)", [_source_problems]) if {
	_source_problems != ""
} else := sprintf("it could not be parsed (%s)", [_source.error]) if {
	object.get(_source, "error", "") != ""
} else := "no allowlist entry covers it" if {
	count(object.get(_source, ["allowlist", "entries"], [])) > 0
} else := "the source allowlist is empty"

# METADATA
# title: Source is not allowlisted
# description: >-
#   The source URL, compared as a parsed URL (scheme, IDNA host, explicit
#   port, path segments), is under no prefix of the source allowlist, or it
#   is ambiguous: user info, dot segments (also percent-encoded),
#   backslashes, encoded slashes or a host that is not plain IDNA. An empty
#   allowlist admits no remote source.
# custom:
#   short_name: source_not_allowlisted
#   failure_msg: "Source %s is not allowlisted: %s"
#   solution: >-
#     Fetch the artifact from an allowlisted source (sources.allowlist.yaml),
#     or add the exact URL prefix to the allowlist after review.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	_remote
	not _allowlisted
	h := _hit("source", true, _catalog.source_not_allowlisted, [_shown(_url), _not_allowlisted_why])
}

# --- stage 2: format ---

_denied_formats := {f | some f in object.get(_config, ["formats", "denied"], [])}

_allowed_formats := {f | some f in object.get(_config, ["formats", "allowed"], [])}

# METADATA
# title: Format denied by the profile
# description: >-
#   A file is, or contains, a format the profile denies (the pickle family
#   by default: plain pickles, PyTorch checkpoints, joblib), decided by
#   content, whatever the file is called.
# custom:
#   short_name: denied_format
#   failure_msg: "%s contains %s, a format the profile denies"
#   solution: >-
#     Convert the model to an allowed format (safetensors or GGUF) with a
#     trusted tool, or use a profile that accepts this format after review.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	some file in _files
	some format in object.get(file, "formats", [object.get(file, "format", "")])
	format in _denied_formats
	h := _hit("format", true, _catalog.denied_format, [object.get(file, "path", "?"), format])
}

_unknown_format_text contains "no artifact evidence was collected" if {
	not _evidence.artifact
}

_unknown_format_text contains sprintf("%s: format %q is not allowed by the profile", [object.get(file, "path", "?"), fmt]) if {
	some file in _files
	fmt := object.get(file, "format", "unknown")
	not fmt in _allowed_formats
	not fmt in _denied_formats
}

_unknown_format_text contains sprintf("not scanned: %s", [text]) if {
	some text in object.get(_artifact, "limits", [])
}

_unknown_format_text contains _finding_text(file, finding) if {
	some t in _findings
	[file, finding, reason] := t
	reason == "unknown_format"
}

# METADATA
# title: Unknown or unallowed format
# description: >-
#   A file's content is not a format the profile allows (formats are
#   decided by magic bytes and structure, never by the extension), or no
#   artifact evidence was collected at all.
# custom:
#   short_name: unknown_format
#   failure_msg: "%s"
#   solution: >-
#     Ship only files in the profile's allowed formats; remove stray files
#     from model directories.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	some text in _unknown_format_text
	h := _hit("format", true, _catalog.unknown_format, [text])
}

# Formats that are a model on their own. The profile's other allowed
# formats (JSON configs, text, tokenizers) are admitted only as members of a
# model directory that holds one of these.
_model_formats := {f | some f in object.get(_config, ["formats", "model"], _default_model_formats)}

_default_model_formats := ["safetensors", "gguf", "onnx", "npy", "npz", "keras", "hdf5"]

# What a file's name says it is, for the names model loaders open by extension.
_extension_formats := {
	".safetensors": "safetensors", ".gguf": "gguf", ".onnx": "onnx", ".npy": "npy",
	".npz": "npz", ".keras": "keras", ".h5": "hdf5", ".hdf5": "hdf5",
}

_file_format(file) := object.get(file, "format", "unknown")

_holds_model if {
	some file in _files
	_file_format(file) in _model_formats
}

_not_a_model_text contains sprintf("%s is %s, not a model file: such files are admitted only inside a model directory", [object.get(file, "path", "?"), _file_format(file)]) if {
	object.get(_artifact, "kind", "") == "file"
	some file in _files
	_member_only(_file_format(file))
}

_not_a_model_text contains sprintf("the directory holds no model file (formats: %s)", [concat(", ", sort({_file_format(f) | some f in _files}))]) if {
	object.get(_artifact, "kind", "") == "dir"
	count(_files) > 0
	not _holds_model
	not _any_denied
}

_not_a_model_text contains sprintf("%s is named like %s but its content is %s", [file.path, want, _file_format(file)]) if {
	some file in _files
	is_string(file.path)
	some suffix, want in _extension_formats
	endswith(lower(file.path), suffix)
	_member_only(_file_format(file))
}

# A format the profile allows that is not a model format: a config, text or
# tokenizer (any other format is judged by unknown_format or denied_format).
_member_only(format) if {
	format in _allowed_formats
	not format in _model_formats
}

_any_denied if {
	some file in _files
	some format in object.get(file, "formats", [_file_format(file)])
	format in _denied_formats
}

# METADATA
# title: Not a model
# description: >-
#   The artifact holds no model: a lone file whose content is not a model
#   format of the profile (a JSON config, a text file, a tokenizer), a
#   directory with no model file in it, or a file named like a model format
#   (x.safetensors) whose content is something else. Configs and tokenizers
#   are admitted only as members of a model directory. Files of a denied
#   format are reported by denied_format instead.
# custom:
#   short_name: not_a_model
#   failure_msg: "%s"
#   solution: >-
#     Admit the model file or the whole model directory (weights with their
#     configs and tokenizer), not a config or text file on its own.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	some text in _not_a_model_text
	h := _hit("format", true, _catalog.not_a_model, [text])
}

# METADATA
# title: Invalid header or structure
# description: >-
#   A parser found a header or structural field that is malformed, out of
#   range or inconsistent (safetensors offsets, GGUF counts, ONNX protobuf,
#   a truncated file), or could not parse the file at all. A parse failure
#   is never a pass.
# custom:
#   short_name: invalid_header
#   failure_msg: "%s"
#   solution: Re-export the model with its reference tooling; do not admit files the parser rejects.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	some t in _findings
	[file, finding, reason] := t
	reason == "invalid_header"
	h := _hit("format", _blocking_severity(finding), _catalog.invalid_header, [_finding_text(file, finding)])
}

# METADATA
# title: Polyglot payload
# description: >-
#   A second format (a pickle, an archive) is appended to or embedded in
#   the file, where the format's own loader or another loader could reach it.
# custom:
#   short_name: polyglot_payload
#   failure_msg: "%s"
#   solution: Do not admit the file; obtain a clean copy from the publisher and compare digests.
#   severity: critical
#   collections: [appliance, standalone]
hit contains h if {
	some t in _findings
	[file, finding, reason] := t
	reason == "polyglot_payload"
	h := _hit("format", _blocking_severity(finding), _catalog.polyglot_payload, [_finding_text(file, finding)])
}

# METADATA
# title: Chat template injection
# description: >-
#   A Jinja template stored in the model (GGUF tokenizer.chat_template and
#   other template-valued keys, tokenizer_config.json) reaches Python
#   internals or known sandbox-escape gadgets, judged on its parsed AST.
# custom:
#   short_name: chat_template_injection
#   failure_msg: "%s"
#   solution: Do not admit the model; replace the chat template with a reviewed one and re-sign.
#   severity: critical
#   collections: [appliance, standalone]
hit contains h if {
	some t in _findings
	[file, finding, reason] := t
	reason == "chat_template_injection"
	h := _hit("format", _blocking_severity(finding), _catalog.chat_template_injection, [_finding_text(file, finding)])
}

# --- stage 3: integrity ---

_digest := object.get(_artifact, "digest", "")

_pin_entries := object.get(_pins, "entries", [])

_pinned if count(_pin_entries) > 0

_pin_matches(entry) if {
	is_string(entry.sha256)
	concat("", ["sha256:", lower(entry.sha256)]) == _digest
	_size_matches(entry)
}

_size_matches(entry) if object.get(entry, "size_bytes", 0) == 0

_size_matches(entry) if entry.size_bytes == object.get(_artifact, "size", -1)

_pin_ok if {
	lib.sha256_digest(_digest)
	some entry in _pin_entries
	_pin_matches(entry)
}

_pinned_digests := concat(", ", sort([e.sha256 | some e in _pin_entries; is_string(e.sha256)]))

# METADATA
# title: Digest does not match the pin
# description: >-
#   models.lock.yaml pins this artifact (by file or directory name), and
#   neither the sha256 (of the file, or the directory digest) nor the size
#   matches any pin; or no digest could be computed.
# custom:
#   short_name: hash_mismatch
#   failure_msg: "%s has digest %s, but the pins say %s"
#   solution: >-
#     Do not admit the artifact: obtain it again from its source and compare.
#     Update the pin only after reviewing why the bytes changed.
#   severity: critical
#   collections: [appliance, standalone]
hit contains h if {
	_integrity_broken
	h := _hit("integrity", true, _catalog.hash_mismatch, [subject_ref, _shown(_digest), _shown(_pinned_digests)])
}

_integrity_broken if {
	_pinned
	not _pin_ok
}

_integrity_broken if not lib.sha256_digest(_digest)

# METADATA
# title: Remote artifact is not pinned
# description: >-
#   The artifact comes from a remote source and models.lock.yaml has no pin
#   for it. Remote artifacts are admitted only against a pinned digest.
# custom:
#   short_name: unpinned_remote
#   failure_msg: "%s from %s has no pin in the lock file (digest %s)"
#   solution: Review the artifact, then pin its sha256 and size in models.lock.yaml.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	_remote
	not _pinned
	h := _hit("integrity", true, _catalog.unpinned_remote, [subject_ref, _shown(_url), _shown(_digest)])
}

# METADATA
# title: Local import trusted on first use
# description: >-
#   A local import with no pin is admitted on trust-on-first-use, with this
#   warning: pin it before it is promoted again. It does not block.
# custom:
#   short_name: tofu_unpinned
#   failure_msg: "%s is a local import with no pin; trusted on first use (digest %s)"
#   solution: Pin the digest and size in models.lock.yaml before the next promotion.
#   severity: low
#   collections: [appliance, standalone]
hit contains h if {
	not _remote
	not _pinned
	lib.sha256_digest(_digest)
	h := _hit("integrity", false, _catalog.tofu_unpinned, [subject_ref, _digest])
}

# --- stage 4: provenance ---

_signed if object.get(_provenance, "method", "none") != "none"

_signature_valid if {
	_signed
	_provenance.verified == true
	object.get(_provenance, "error", "") == ""
}

_require_signature := object.get(_config, ["provenance", "require_signature"], true)

# Accepted signers: the profile's lists plus the operator's expectation.
_identities := {i | some i in object.get(_config, ["provenance", "identities"], [])} | {i |
	i := object.get(_operator, "expected_signer_identity", "")
	i != ""
}

_issuers := {i | some i in object.get(_config, ["provenance", "issuers"], [])} | {i |
	i := object.get(_operator, "expected_oidc_issuer", "")
	i != ""
}

_keys := {lower(k) | some k in object.get(_config, ["provenance", "keys"], [])}

_key_signed if object.get(_provenance, "mode", "") == "key"

# METADATA
# title: Signature does not verify
# description: >-
#   A signature (OpenSSF model signing or a Sigstore bundle) was supplied
#   but does not verify over the artifact's bytes, or verification failed.
# custom:
#   short_name: signature_invalid
#   failure_msg: "The %s signature over %s does not verify: %s"
#   solution: >-
#     Do not admit the artifact: the bytes or the signature were altered.
#     Obtain both again from the publisher.
#   severity: critical
#   collections: [appliance, standalone]
hit contains h if {
	_signed
	not _signature_valid
	why := _shown(object.get(_provenance, "error", ""))
	h := _hit("provenance", true, _catalog.signature_invalid, [_provenance.method, subject_ref, why])
}

# METADATA
# title: Artifact is not signed
# description: The profile requires a signature and none was supplied.
# custom:
#   short_name: unsigned
#   failure_msg: "No signature was supplied for %s and the profile requires one"
#   solution: >-
#     Sign the model with OpenSSF model signing (model_signing sign) or a
#     Sigstore bundle and pass it with --signature.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	not _signed
	_require_signature == true
	h := _hit("provenance", true, _catalog.unsigned, [subject_ref])
}

_identity_ok if {
	_key_signed
	count(_keys) == 0
}

_identity_ok if {
	_key_signed
	lower(object.get(_provenance, "key_sha256", "")) in _keys
}

_identity_ok if {
	not _key_signed
	object.get(_provenance, "identity", "") in _identities
}

# METADATA
# title: Signed by an unexpected identity
# description: >-
#   The signature verifies, but its signer (certificate identity, or the
#   public key's sha256 for key signatures) is not one the profile or the
#   operator accepts. An empty identity list accepts no certificate signer.
# custom:
#   short_name: wrong_identity
#   failure_msg: "Signer %s is not an accepted identity (accepted: %s)"
#   solution: Check who signed the model; add the signer to the profile only after review.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	_signature_valid
	not _identity_ok
	signer := _shown(object.get(_provenance, "identity", object.get(_provenance, "key_sha256", "")))
	accepted := concat(", ", sort([x | some x in _identities | _keys]))
	h := _hit("provenance", true, _catalog.wrong_identity, [signer, _shown(accepted)])
}

# METADATA
# title: Signed through an unexpected OIDC issuer
# description: >-
#   The certificate signature verifies, but its OIDC issuer is not one the
#   profile or the operator accepts. An empty issuer list accepts none.
# custom:
#   short_name: wrong_issuer
#   failure_msg: "OIDC issuer %s is not accepted (accepted: %s)"
#   solution: Check which identity provider issued the signing certificate.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	_signature_valid
	not _key_signed
	not object.get(_provenance, "issuer", "") in _issuers
	accepted := concat(", ", sort([x | some x in _issuers]))
	h := _hit("provenance", true, _catalog.wrong_issuer, [_shown(object.get(_provenance, "issuer", "")), _shown(accepted)])
}

# The quarantine watcher's own evidence (gate watch): absent for gate eval --artifact.
_watch := object.get(_evidence, "watch", null)

# Whether the watcher's provenance manifests must be signed (gate watch asks
# this once at start-up and refuses to start without a signing key when true).
default signed_manifest_required := true

signed_manifest_required := false if object.get(_config, ["provenance", "require_signed_manifest"], true) == false

# METADATA
# title: Provenance manifest would be unsigned
# description: >-
#   The quarantine watcher has no key to sign the provenance manifest it
#   writes beside a promoted artifact, and the profile requires signed
#   manifests (artifact.provenance.require_signed_manifest).
# custom:
#   short_name: unsigned_manifest
#   failure_msg: "%s would be promoted with an unsigned provenance manifest and the profile requires a signed one"
#   solution: >-
#     Give gate watch a signing key (--key, GATE_WATCH_KEY or the seed's key
#     path), or use a profile that allows unsigned manifests.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	_watch != null
	object.get(_watch, "manifest_signing_key", false) != true
	signed_manifest_required
	h := _hit("provenance", true, _catalog.unsigned_manifest, [subject_ref])
}

# --- stage 5: static scan ---

_suspicious_blocks if object.get(_config, ["pickle", "suspicious"], "block") != "warn"

_pickle_blocks(finding) if object.get(finding, "severity", "") in {"critical", "high"}

_pickle_blocks(finding) if {
	_blocking_severity(finding) == true
	_suspicious_blocks
}

_pickle_blocking(finding) := true if _pickle_blocks(finding)

else := false

# METADATA
# title: Unsafe pickle
# description: >-
#   A pickle stream (plain, inside a PyTorch checkpoint, a NumPy object
#   array, joblib) imports or calls something outside the reviewed list of
#   ML reconstruction globals. Dangerous globals always block; merely
#   suspicious ones block unless the profile sets pickle.suspicious to warn.
# custom:
#   short_name: unsafe_pickle
#   failure_msg: "%s"
#   solution: >-
#     Do not load the file. Obtain the weights in safetensors, or review the
#     named global and the stream with a disassembler before going further.
#   severity: critical
#   collections: [appliance, standalone]
hit contains h if {
	some t in _findings
	[file, finding, reason] := t
	reason == "unsafe_pickle"
	h := _hit("static_scan", _pickle_blocking(finding), _catalog.unsafe_pickle, [_finding_text(file, finding)])
}

# METADATA
# title: Unsafe archive
# description: >-
#   An archive (zip, tar, 7z, a PyTorch zip) has path traversal or absolute
#   member names, symlink or hardlink members, headers that disagree, bad
#   flags or CRCs, a bomb ratio, or too many members or levels.
# custom:
#   short_name: archive_unsafe
#   failure_msg: "%s"
#   solution: Do not extract or load the archive; obtain a clean copy from the publisher.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	some t in _findings
	[file, finding, reason] := t
	reason == "archive_unsafe"
	h := _hit("static_scan", _blocking_severity(finding), _catalog.archive_unsafe, [_finding_text(file, finding)])
}

# METADATA
# title: Unsafe layer or custom code
# description: >-
#   A model graph or config carries code: a Keras Lambda layer, a module
#   outside Keras, a custom ONNX operator domain or external data that
#   points outside the model directory.
# custom:
#   short_name: unsafe_layer
#   failure_msg: "%s"
#   solution: Rebuild the model without custom code, or review the code and use a profile that accepts it.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	some t in _findings
	[file, finding, reason] := t
	reason == "unsafe_layer"
	h := _hit("static_scan", _blocking_severity(finding), _catalog.unsafe_layer, [_finding_text(file, finding)])
}

_scanners := object.get(_evidence, "scanners", [])

_scanner_problem(s) := sprintf("%s crashed or returned unusable output: %s", [s.name, s.error]) if {
	object.get(s, "error", "") != ""
} else := sprintf("%s timed out", [s.name]) if {
	object.get(s, "timed_out", false) == true
}

_scanner_texts contains sprintf("%s reports a %s issue in %s: %s", [s.name, issue.severity, _shown(object.get(issue, "path", "")), object.get(issue, "detail", "")]) if {
	some s in _scanners
	object.get(s, "installed", false) == true
	some issue in object.get(s, "issues", [])
	lower(object.get(issue, "severity", "")) in {"critical", "high"}
}

# METADATA
# title: An external scanner objects
# description: >-
#   A second-opinion scanner (modelscan, fickling, modelaudit) reported a
#   high or critical issue in a file it supports. Its finding blocks
#   whatever gate's own analysis says.
# custom:
#   short_name: scanner_finding
#   failure_msg: "%s"
#   solution: Review the scanner's report; do not admit the artifact until the issue is understood.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	some text in _scanner_texts
	h := _hit("static_scan", true, _catalog.scanner_finding, [text])
}

# A scanner that failed is never a clean result; whether it blocks is the
# profile's choice (scanners.error), fail-closed unless it says warn.
_scanner_error_blocks := false if {
	object.get(_config, ["scanners", "error"], "fail-closed") == "warn"
} else := true

# METADATA
# title: An external scanner failed
# description: >-
#   A second-opinion scanner crashed, lacked an extra it needs, timed out,
#   exited with an unexpected status or printed output gate could not
#   parse, on a file in a format it supports. It is never a clean result:
#   under scanners.error fail-closed this blocks, under warn it is a warning
#   and gate's own analysis decides alone.
# custom:
#   short_name: scanner_error
#   failure_msg: "%s"
#   solution: >-
#     Read the scanner's error; fix its installation (extras, versions) or
#     review the file by other means. gate's own findings are reported beside it.
#   severity: medium
#   collections: [appliance, standalone]
hit contains h if {
	some s in _scanners
	object.get(s, "installed", false) == true
	text := _scanner_problem(s)
	h := _hit("static_scan", _scanner_error_blocks, _catalog.scanner_error, [text])
}

_missing_blocks := false if {
	object.get(_config, ["scanners", "missing"], "fail-closed") == "warn-and-skip"
} else := true

# [name, blocking]: gate's own scanner missing always blocks; an external
# scanner the profile runs blocks unless the profile says warn-and-skip.
_missing_scanners contains ["gate (built-in format scanner)", true] if {
	object.get(_artifact, ["scanner", "available"], false) != true
}

_missing_scanners contains [name, _missing_blocks] if {
	some name in object.get(_config, ["scanners", "run"], [])
	not _scanner_installed(name)
}

_scanner_installed(name) if {
	some s in _scanners
	s.name == name
	s.installed == true
}

# METADATA
# title: A required scanner is missing
# description: >-
#   A scanner the profile runs is not installed (or gate's own format
#   scanner could not run). Under scanner_missing fail-closed this blocks;
#   under warn-and-skip it is a warning. gate's own scanner always blocks.
# custom:
#   short_name: scanner_missing
#   failure_msg: "Scanner %s is not available"
#   solution: Install the scanner (pip install modelscan fickling modelaudit), or use a warn-and-skip profile.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	some missing in _missing_scanners
	h := _hit("static_scan", missing[1], _catalog.scanner_missing, [missing[0]])
}

# METADATA
# title: Entropy anomaly
# description: >-
#   Sampled byte entropy of tensor data is outside the profile's thresholds
#   (near-random data where weights belong can hide a payload).
# custom:
#   short_name: entropy_anomaly
#   failure_msg: "%s"
#   solution: Compare the file with the publisher's digest; investigate the named tensor.
#   severity: medium
#   collections: [appliance, standalone]
hit contains h if {
	some t in _findings
	[file, finding, reason] := t
	reason == "entropy_anomaly"
	h := _hit("static_scan", _blocking_severity(finding), _catalog.entropy_anomaly, [_finding_text(file, finding)])
}

# METADATA
# title: Weight distribution anomaly
# description: >-
#   Sampled weight statistics (mean, variance, kurtosis, zero fraction,
#   NaN/Inf counts, values that are not numbers) are outside the profile's
#   thresholds.
# custom:
#   short_name: weight_anomaly
#   failure_msg: "%s"
#   solution: Investigate the named tensor; a trojaned or corrupted model often shows here.
#   severity: medium
#   collections: [appliance, standalone]
hit contains h if {
	some t in _findings
	[file, finding, reason] := t
	reason == "weight_anomaly"
	h := _hit("static_scan", _blocking_severity(finding), _catalog.weight_anomaly, [_finding_text(file, finding)])
}

# --- stage 6: behaviour ---

_behaviour_ran if _behaviour.ran == true

_behaviour_blocks := false if {
	object.get(_config, ["behaviour", "required"], true) == false
} else := true

# METADATA
# title: Behavioural smoke test failed
# description: >-
#   The smoke test ran and the model's answers crossed the profile's
#   thresholds, or the test itself failed.
# custom:
#   short_name: smoke_test_failed
#   failure_msg: "Smoke test failed for %s: %s"
#   solution: Do not admit the model; review the flagged prompts and answers.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	_behaviour_ran
	_behaviour_bad
	why := _shown(_behaviour_why)
	h := _hit("behaviour", true, _catalog.smoke_test_failed, [subject_ref, why])
}

_block_severities := {s | some s in object.get(_config, ["behaviour", "block_severities"], ["critical", "high"])}

# Each prompt whose answer matched a pattern of a blocking severity, with the patterns named.
_behaviour_flagged contains sprintf("prompt %s matched %s", [r.id, concat(", ", sort(ids))]) if {
	some r in object.get(_behaviour, "results", [])
	ids := {sprintf("%s (%s)", [m.pattern, m.severity]) | some m in r.matches; m.severity in _block_severities}
	count(ids) > 0
}

_behaviour_bad if count(_behaviour_flagged) > 0

# A runner that judged the run itself (passed: false) or recorded an error is never a pass.
_behaviour_bad if object.get(_behaviour, "passed", true) == false

# A run that claims to have happened but carries no per-prompt results (and no explicit
# pass) is not evidence of anything: it never passes.
_behaviour_bad if {
	count(object.get(_behaviour, "results", [])) == 0
	object.get(_behaviour, "passed", false) != true
}

_behaviour_bad if object.get(_behaviour, "error", "") != ""

_behaviour_why := concat("; ", sort(_behaviour_flagged)) if {
	count(_behaviour_flagged) > 0
} else := object.get(_behaviour, "error", object.get(_behaviour, "detail", ""))

# METADATA
# title: Behavioural smoke test unavailable
# description: >-
#   The behaviour stage could not run (no sandboxed runtime for this
#   artifact). Profiles that require behaviour tests block; others record
#   this warning.
# custom:
#   short_name: smoke_test_unavailable
#   failure_msg: "No behavioural smoke test ran for %s: %s"
#   solution: >-
#     Run the artifact through a profile with a smoke-test runtime, or accept
#     the risk with a profile that does not require behaviour tests.
#   severity: medium
#   collections: [appliance, standalone]
hit contains h if {
	not _behaviour_ran
	object.get(_behaviour, "applicable", true) != false
	why := _shown(object.get(_behaviour, "detail", "no behaviour evidence"))
	h := _hit("behaviour", _behaviour_blocks, _catalog.smoke_test_unavailable, [subject_ref, why])
}

# --- stage 7: diffusion / directory ---

_is_dir if object.get(_artifact, "kind", "") == "dir"

_components := object.get(_directory, ["model_index", "components"], [])

_component_names := {c.name | some c in _components}

_extra_dirs := {d | some d in object.get(_config, ["diffusion", "extra_dirs"], [])}

_missing_component_text contains sprintf("model_index.json names component %q but there is no %s/ folder", [c.name, c.name]) if {
	some c in _components
	c.present != true
}

_missing_component_text contains sprintf("component folder %s/ holds no weights file", [c.name]) if {
	some c in _components
	c.present == true
	c.requires_weights == true
	object.get(c, "weight_files", 0) == 0
}

_missing_component_text contains sprintf("model_index.json cannot be used: %s", [_directory.model_index.error]) if {
	object.get(_directory, ["model_index", "error"], "") != ""
}

# METADATA
# title: Component missing
# description: >-
#   A diffusers-style model_index.json names a component whose folder is
#   absent or holds no weights, or model_index.json itself is unreadable.
# custom:
#   short_name: component_missing
#   failure_msg: "%s"
#   solution: Obtain the complete model directory from its publisher.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	_is_dir
	some text in _missing_component_text
	h := _hit("diffusion", true, _catalog.component_missing, [text])
}

_pickle_formats := {f | some f in object.get(_config, ["formats", "denied"], [])}

_unexpected_text contains sprintf("folder %s/ is not a component of model_index.json", [d]) if {
	object.get(_directory, ["model_index", "present"], false) == true
	some d in object.get(_directory, "subdirs", [])
	not d in _component_names
	not d in _extra_dirs
}

_unexpected_text contains sprintf("%s is executable", [file.path]) if {
	some file in _files
	file.executable == true
}

_unexpected_text contains sprintf("%s is %s beside safetensors weights", [file.path, file.format]) if {
	some other in _files
	other.format == "safetensors"
	some file in _files
	file.format in _pickle_formats
}

# METADATA
# title: Unexpected component
# description: >-
#   The directory holds something its layout does not call for: a folder
#   model_index.json does not name, an executable file, or a pickle-family
#   file beside safetensors weights.
# custom:
#   short_name: unexpected_component
#   failure_msg: "%s"
#   solution: Remove what does not belong to the model, or obtain a clean copy.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	_is_dir
	some text in _unexpected_text
	h := _hit("diffusion", true, _catalog.unexpected_component, [text])
}

_allowed_hosts := {lower(host) | some host in object.get(_config, ["diffusion", "allowed_url_hosts"], [])}

_host_allowed(host) if lower(host) in _allowed_hosts

_host_allowed(host) if {
	some allowed in _allowed_hosts
	endswith(lower(host), concat("", [".", allowed]))
}

# METADATA
# title: Untrusted URL in a config
# description: >-
#   A JSON config in the model directory names a URL whose host is not an
#   allowed host (a loader may fetch code or weights from it).
# custom:
#   short_name: untrusted_url
#   failure_msg: "%s names %s, outside the allowed hosts"
#   solution: Remove the URL or point it at an allowed host.
#   severity: medium
#   collections: [appliance, standalone]
hit contains h if {
	some u in object.get(_directory, "urls", [])
	not _host_allowed(object.get(u, "host", ""))
	h := _hit("diffusion", true, _catalog.untrusted_url, [object.get(u, "file", "?"), object.get(u, "url", "")])
}

# METADATA
# title: Symlink present
# description: >-
#   The artifact (a file or anything inside a directory) is a symbolic
#   link. gate never follows links; a loader would, out of the directory.
# custom:
#   short_name: symlink_present
#   failure_msg: "%s is a symlink to %s"
#   solution: Replace links with the files themselves, or obtain a clean copy.
#   severity: high
#   collections: [appliance, standalone]
hit contains h if {
	some link in object.get(_artifact, "symlinks", [])
	h := _hit("diffusion", true, _catalog.symlink_present, [object.get(link, "path", "?"), _shown(object.get(link, "target", ""))])
}

# --- verdict ---

# METADATA
# title: All stages passed
# description: >-
#   Every stage ran or was not required, and nothing blocks. Warnings
#   (tofu_unpinned, smoke_test_unavailable under standalone,
#   scanner_missing under warn-and-skip) are listed beside the verdict.
# custom:
#   short_name: all_stages_passed
#   failure_msg: "All stages passed for %s (digest %s)"
#   solution: Record the decision, pin the digest, and promote the artifact.
#   severity: info
#   collections: [appliance, standalone]
verdict_note contains result if {
	count(fired) == 0
	result := lib.result(_catalog.all_stages_passed, [subject_ref, _shown(_digest)])
}

_applied contains h if {
	some h in hit
	lib.applies(_catalog[h.result.code])
}

fired := lib.ordered(_catalog, {h.result | some h in _applied; h.blocking})

warnings := lib.ordered(_catalog, {h.result | some h in _applied; not h.blocking})

# A stage that did not run reports SKIPPED (a blocking reason of its own
# still blocks the verdict); one that ran reports FAIL if a blocking reason
# belongs to it, PASS otherwise.
_skipped contains "provenance" if not _signed

_skipped contains "behaviour" if not _behaviour_ran

_skipped contains "diffusion" if {
	not _is_dir
	count(object.get(_artifact, "symlinks", [])) == 0
}

_stage_status(name) := "SKIPPED" if {
	name in _skipped
} else := "FAIL" if {
	some h in _applied
	h.stage == name
	h.blocking
} else := "PASS"

_stage_reasons(name) := sorted if {
	sorted := sort({h.result.code | some h in _applied; h.stage == name})
}

stages := {name: {"status": _stage_status(name), "reasons": _stage_reasons(name)} | some name in stage_names}

# Evidence is partial when a stage that applies did not run (provenance,
# behaviour); the directory stage does not apply to a single file.
_evidence_level := "partial" if {
	some name in _skipped
	name in {"provenance", "behaviour"}
} else := "live"

outcome := {
	"verdict": "promote",
	"evidence_level": _evidence_level,
	"results": lib.ordered(_catalog, verdict_note),
	"stages": stages,
	"warnings": warnings,
} if {
	count(fired) == 0
} else := {
	"verdict": "block",
	"evidence_level": _evidence_level,
	"results": fired,
	"stages": stages,
	"warnings": warnings,
}
