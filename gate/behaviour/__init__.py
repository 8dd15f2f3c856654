"""Stage 6 of model admission: a behavioural smoke test in a sandbox.

``suite`` loads the adversarial prompts and danger patterns (versioned YAML,
digest recorded); ``sandbox`` decides what isolation can be applied here
(network namespace, rlimits, private tmp, scrubbed environment); ``inside``
is the program that runs *inside* the sandbox: it starts the inference
server, sends the prompts and prints the answers as JSON; ``runner`` starts
it from gate, bounded in time, and turns the answers into evidence
(``gate.evidence.behaviour``). Nothing here decides: Rego does.
"""
