package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Profiles are served on the operators' listener only: the public listener
// answers 404 for every /debug/pprof/ path, the operators' one serves the
// index and a heap profile anyone can feed to `go tool pprof`.
func TestProfilesOnlyOnTheOperatorsListener(t *testing.T) {
	s, _ := testServer(t)
	pub, ops := httptest.NewServer(s.Handler()), httptest.NewServer(s.OperatorsHandler())
	defer pub.Close()
	defer ops.Close()
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1", "/debug/pprof/goroutine"} {
		r, err := pub.Client().Get(pub.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("public %s: status %d, want 404", p, r.StatusCode)
		}
	}
	index := getOK(t, ops, "/debug/pprof/")
	for _, want := range []string{"heap", "goroutine", "profile"} {
		if !strings.Contains(string(index), want) {
			t.Errorf("operators' /debug/pprof/ does not list %q", want)
		}
	}
	// A heap profile is a gzipped protocol buffer.
	zr, err := gzip.NewReader(bytes.NewReader(getOK(t, ops, "/debug/pprof/heap")))
	if err != nil {
		t.Fatalf("operators' heap profile is not gzip: %v", err)
	}
	if n, err := io.Copy(io.Discard, zr); err != nil || n == 0 {
		t.Errorf("operators' heap profile: %d bytes, %v", n, err)
	}
}

func getOK(t *testing.T, srv *httptest.Server, path string) []byte {
	t.Helper()
	r, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, %v", path, r.StatusCode, err)
	}
	return body
}
