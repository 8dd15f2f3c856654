package gate.main_test

import rego.v1

import data.gate.container_test

test_unsupported_subject_kind_blocks if {
	doc := object.union(container_test.good, {"subject": {"kind": "skill"}})
	d := data.gate.main.decision with input as doc with data.gate.config as container_test.config
	d.verdict == "block"
	d.reasons == ["unsupported_subject"]
	d.evidence_level == "documentation-only"
}

test_unknown_policy_blocks if {
	cfg := object.union(container_test.config, {"policy": "no-such-policy"})
	d := data.gate.main.decision with input as container_test.good with data.gate.config as cfg
	d.verdict == "block"
	d.reasons == ["unsupported_subject"]
	d.results[0].message == `Profile policy "no-such-policy" does not judge subjects of kind "oci-image"`
}

test_decision_has_every_field if {
	d := data.gate.main.decision with input as container_test.good with data.gate.config as container_test.config
	object.keys(d) == {"verdict", "evidence_level", "reasons", "results", "profile"}
}

test_no_profile_blocks if {
	every cfg in [{}, object.union(container_test.config, {"collections": []}), json.remove(container_test.config, ["profile"])] {
		d := data.gate.main.decision with input as container_test.good with data.gate.config as cfg
		d.verdict == "block"
		d.reasons == ["profile_missing"]
	}
}

# Without any data.gate.config the decision blocks. An OPA bundle built by
# `gate bundle build --profile` carries its profile as data.gate.config, and
# no `with` can make loaded data undefined, so under a bundle (`opa test
# bundle.tar.gz`) the case cannot arise and the test holds by the else.
test_no_config_at_all_blocks := true if {
	not data.gate.config
	d := data.gate.main.decision with input as container_test.good
	d.verdict == "block"
	d.reasons == ["profile_missing"]
} else := true if {
	data.gate.config.profile.name
}

test_artifact_policy_judges_model_subjects_only if {
	d := data.gate.main.decision with input as container_test.good with data.gate.config as data.gate.artifact_test._standalone
	d.reasons == ["unsupported_subject"]
	not d.stages
	a := data.gate.main.decision with input as data.gate.artifact_test.good with data.gate.config as data.gate.artifact_test._standalone
	a.verdict == "promote"
	count(a.stages) == 7
}
