package probes

import "testing"

// FuzzJSONPath: any body and any path either match or say why not; never
// a panic (paths index arrays with numbers, bodies nest arbitrarily).
func FuzzJSONPath(f *testing.F) {
	f.Add(`{"checks":[{"status":"ok"}]}`, "checks.0.status", "ok")
	f.Add(`[1,2,3]`, "5", "x")
	f.Add(`{"a":{"b":null}}`, "a.b.c", "null")
	f.Add(`{"":1}`, ".", "1")
	f.Add(`{"a":[[{"b":-0.0}]]}`, "a.0.0.b", "-0")
	f.Fuzz(func(t *testing.T, body, path, equals string) {
		if path == "" || equals == "" {
			return
		}
		m, err := newJSONMatcher(JSONExpect{Path: path, Equals: equals})
		if err != nil {
			t.Fatalf("a valid matcher refused: %v", err)
		}
		_ = m.check([]byte(body))
	})
}
