//! keygate-conformance (in progress).
