// Package backendtest holds the one contract suite every backend.Backend must
// pass, plus helpers for backend-specific tests: a deterministic byte
// stream and a heap-growth probe.
//
// It is imported only by tests. It imports package backend of ours and
// nothing else; never meta or the fronts.
package backendtest
