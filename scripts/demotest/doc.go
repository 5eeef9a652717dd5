// Package demotest runs make demo's quick version end to end (TestDemoQuick)
// with a freshly built gtl: the demo script, its source cache in GTL_HOME,
// and the pinned glyph sets' manifests, byte for byte. It is a package of
// its own so that go test runs it beside cmd/gtl's tests instead of after
// them; it holds no code.
package demotest
