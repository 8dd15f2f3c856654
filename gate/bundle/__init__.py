"""OPA bundles: build (deterministic tarballs), sign and verify (``.signatures.json``)."""

from gate.bundle.build import BundleSpec, build_bundle, write_bundle
from gate.bundle.verify import BundleContents, read_bundle, verify_bundle

__all__ = ["BundleContents", "BundleSpec", "build_bundle", "read_bundle", "verify_bundle", "write_bundle"]
