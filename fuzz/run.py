"""Run one fuzz target under atheris (libFuzzer): ``python -m fuzz.run TARGET CORPUS [libFuzzer flags]``.

gate's modules that the target reaches are instrumented for coverage: the target runs once on
each seed inside ``atheris.instrument_imports`` so that every lazily imported parser is loaded
(and instrumented) before fuzzing starts.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    import atheris

    if len(argv) < 3:
        raise SystemExit("usage: python -m fuzz.run TARGET CORPUS [libFuzzer flags]")
    name, corpus = argv[1], Path(argv[2])
    with atheris.instrument_imports(include=["gate"]):
        from fuzz.targets import TARGETS

        target = TARGETS[name]
        for seed in sorted(corpus.iterdir()) if corpus.is_dir() else []:
            with contextlib.suppress(Exception):  # a failing seed is found again by the fuzzer
                target.run(seed.read_bytes())

    def one_input(data: bytes) -> None:
        target.run(data)

    atheris.Setup([argv[0], str(corpus), *argv[3:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
