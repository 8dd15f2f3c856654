# Entry points for newcomers and CI. Everything runs inside .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv demo demo-full test pytest regotest lint bench docs fuzz fuzz-smoke clean

help:
	@echo "make demo   set up .venv and run gate on the bundled examples"
	@echo "make demo-full   as root: install docker-registry, build llama-server, then make demo"
	@echo "make test   every test: pytest (both engines) and gate test"
	@echo "make lint   ruff and mypy --strict"
	@echo "make bench  decision throughput and latency figures"
	@echo "make docs   regenerate docs/reason-codes.md from the Rego METADATA"
	@echo "make fuzz   every parser under atheris, FUZZ_SECONDS (60) each; a table of executions and findings"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The reference OPA engine declares Requires-Python >=3.14 but runs on 3.10+.
	$(BIN)/pip install --quiet --ignore-requires-python opa-golib-python-bindings==0.4.4
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	@for example in clean-runtime-promote unsigned rekor-unreachable-alone; do \
	  echo "== gate eval --input fixtures/container/$$example.input.json --profile nim-promotion"; \
	  $(BIN)/gate eval --input fixtures/container/$$example.input.json --profile nim-promotion; \
	  echo "(exit code $$?)"; echo; \
	done
	@for example in tiny.safetensors payload.bin; do \
	  echo "== gate eval --artifact fixtures/artifact/$$example --profile standalone"; \
	  $(BIN)/gate eval --artifact fixtures/artifact/$$example --profile standalone; \
	  echo "(exit code $$?)"; echo; \
	done
	@demo=$$(mktemp -d) && trap 'rm -rf "$$demo"' EXIT && \
	echo "== gate keygen --out $$demo/demo" && $(BIN)/gate keygen --out $$demo/demo && echo && \
	echo "== gate eval ... --attest $$demo/decision.intoto.jsonl --key $$demo/demo.key --audit-log $$demo/audit.jsonl" && \
	$(BIN)/gate eval --input fixtures/container/clean-runtime-promote.input.json --profile nim-promotion \
	  --attest $$demo/decision.intoto.jsonl --key $$demo/demo.key --audit-log $$demo/audit.jsonl > /dev/null && \
	echo "== gate attest verify $$demo/decision.intoto.jsonl --key $$demo/demo.pub --max-age 1h" && \
	$(BIN)/gate attest verify $$demo/decision.intoto.jsonl --key $$demo/demo.pub --max-age 1h \
	  --digest sha256:7f3b9a4c2e1d0f8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a && echo && \
	$(BIN)/gate eval --input fixtures/container/unsigned.input.json --profile nim-promotion \
	  --audit-log $$demo/audit.jsonl > /dev/null; \
	echo "== gate audit checkpoint $$demo/audit.jsonl --key $$demo/demo.key" && \
	$(BIN)/gate audit checkpoint $$demo/audit.jsonl --key $$demo/demo.key && \
	echo "== gate audit verify $$demo/audit.jsonl --key $$demo/demo.pub" && \
	$(BIN)/gate audit verify $$demo/audit.jsonl --key $$demo/demo.pub && echo && \
	echo "== gate replay --audit-log $$demo/audit.jsonl --profile (nim-promotion with a 1 h TTL)" && \
	sed 's/attestation_ttl_hours: 24/attestation_ttl_hours: 1/' policy-profiles/nim-promotion.yaml > $$demo/strict.yaml && \
	$(BIN)/gate replay --audit-log $$demo/audit.jsonl --profile $$demo/strict.yaml
	@demo=$$(mktemp -d) && trap 'rm -rf "$$demo"' EXIT && mkdir $$demo/quarantine $$demo/registry && \
	echo "== gate watch: a clean model and a pickle dropped into a quarantine folder" && \
	$(BIN)/gate keygen --out $$demo/provenance > /dev/null && \
	cp fixtures/artifact/tiny.safetensors fixtures/artifact/payload.bin $$demo/quarantine/ && \
	$(BIN)/gate watch $$demo/quarantine --registry-dir $$demo/registry --profile standalone \
	  --key $$demo/provenance.key --audit-log $$demo/audit.jsonl --settle 0 --once && \
	echo "registry: $$(ls $$demo/registry | tr '\n' ' ')" && \
	echo "quarantine after the pass: $$(ls $$demo/quarantine | tr '\n' ' ')(empty: the pickle was deleted)" && \
	$(BIN)/gate audit verify $$demo/audit.jsonl
	@demo=$$(mktemp -d) && trap 'rm -rf "$$demo"' EXIT && \
	echo "== gate registry: register a model version, attach its evaluation package, show it" && \
	$(BIN)/gate registry register fixtures/registry/llama-guard-1.2.0.record.json --db $$demo/registry.sqlite && \
	$(BIN)/gate registry attach llama-guard@1.2.0 --evals fixtures/registry/llama-guard-1.2.0.evals.json --db $$demo/registry.sqlite && \
	$(BIN)/gate registry show llama-guard@1.2.0 --db $$demo/registry.sqlite && \
	$(BIN)/gate registry verify --db $$demo/registry.sqlite && echo
	@echo "== gate skill scan: three agent skills (fixtures/skills; see its README)" && \
	$(BIN)/gate skill scan fixtures/skills/pdf-text --source https://github.com/acme/skills@$$(printf '3f1c%.0s' 1 2 3 4 5 6 7 8 9 10) --tier untrusted; \
	$(BIN)/gate skill scan fixtures/skills/github-issues --source https://github.com/acme/skills@$$(printf '3f1c%.0s' 1 2 3 4 5 6 7 8 9 10) --tier semi-trusted; \
	$(BIN)/gate skill scan fixtures/skills/repo-tidy --source https://github.com/acme/skills@$$(printf '3f1c%.0s' 1 2 3 4 5 6 7 8 9 10) --tier untrusted; \
	echo; echo "== the skills quarantine: intake, scan, evaluate, two approvals, publish, startup gates, revoke" && \
	$(BIN)/python scripts/demo_skills.py && echo
	@server=$${LLAMA_SERVER_BIN:-.ci/cache/llama.cpp/bin/llama-server}; \
	if [ -x "$$server" ]; then \
	  echo "== behaviour stage: llama-server ($$server) in a network namespace, on crafted GGUF models"; \
	  LLAMA_SERVER_BIN=$$server $(BIN)/python bench/behaviour.py; \
	else \
	  echo "== behaviour stage: not shown, it needs llama-server. Enable it with: scripts/build_llama_server.sh (about 10 min), or make demo-full"; \
	fi
	@echo; echo "== runtime: gate eval --image against a registry the demo starts and stops (scripts/demo_registry.py)"
	$(BIN)/python scripts/demo_registry.py

# Everything make demo shows, with the parts that need system packages enabled (root, Debian).
demo-full:
	@if [ "$$(id -u)" != 0 ]; then echo "make demo-full installs Debian packages: run it as root"; exit 2; fi
	command -v docker-registry >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry; }
	[ -x .ci/cache/llama.cpp/bin/llama-server ] || scripts/build_llama_server.sh
	$(MAKE) demo

test: regotest pytest

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

regotest: $(STAMP)
	$(BIN)/gate test --coverage
	$(BIN)/gate test --engine opa

lint: $(STAMP)
	$(BIN)/ruff check gate tests bench scripts fuzz
	$(BIN)/ruff format --check gate tests bench scripts fuzz
	$(BIN)/mypy

bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

FUZZ_SECONDS ?= 60

fuzz: $(STAMP)
	$(BIN)/python -m fuzz.all --seconds $(FUZZ_SECONDS)

# CI: a few seconds per target, so the harness never rots.
fuzz-smoke: $(STAMP)
	$(BIN)/python -m fuzz.all --seconds 3

docs: $(STAMP)
	$(BIN)/gate rules -o markdown > docs/reason-codes.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
