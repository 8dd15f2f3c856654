"""Conftest-style policies and Kubernetes manifests written for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

MAIN = """\
package main

import rego.v1

import data.k8s

deny contains msg if {
	k8s.is_deployment
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Deployment %s must set runAsNonRoot", [input.metadata.name])
}

deny_latest_tag contains msg if {
	k8s.is_deployment
	some container in input.spec.template.spec.containers
	endswith(container.image, ":latest")
	msg := sprintf("container %s uses a :latest image", [container.name])
}

violation contains {"msg": msg, "details": {"kind": input.kind}} if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	msg := sprintf("Service %s is a LoadBalancer", [input.metadata.name])
}

warn contains msg if {
	k8s.is_deployment
	not input.metadata.labels.team
	msg := sprintf("Deployment %s has no team label", [input.metadata.name])
}

exception contains rules if {
	input.metadata.name == "legacy"
	rules := ["latest_tag"]
}
"""

K8S = """\
package k8s

import rego.v1

is_deployment if input.kind == "Deployment"
"""

OTHER = """\
package other

import rego.v1

warn_replicas contains msg if {
	input.kind == "Deployment"
	input.spec.replicas < data.limits.min_replicas
	msg := sprintf("only %d replicas", [input.spec.replicas])
}
"""

GOOD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {team: ml}
spec:
  replicas: 3
  template:
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - {name: web, image: "nginx:1.27"}
"""

BAD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  template:
    spec:
      containers:
        - {name: api, image: "api:latest"}
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  type: LoadBalancer
"""

LEGACY = """\
{"apiVersion": "apps/v1", "kind": "Deployment",
 "metadata": {"name": "legacy", "labels": {"team": "old"}},
 "spec": {"replicas": 2, "template": {"spec": {"securityContext": {"runAsNonRoot": true},
   "containers": [{"name": "legacy", "image": "legacy:latest"}]}}}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder laid out like a conftest user's repository, as the working directory."""
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "main.rego").write_text(MAIN)
    (policy / "k8s.rego").write_text(K8S)
    (policy / "other.rego").write_text(OTHER)
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "legacy.json").write_text(LEGACY)
    (tmp_path / "limits.yaml").write_text("limits:\n  min_replicas: 2\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path
