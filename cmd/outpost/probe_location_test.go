package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// `outpost probe` on a cluster's node says which location it probes from
// (a check fine from one location may fail from another), in the table
// and in every -json row; on a single node it says nothing of locations.
func TestProbeSaysItsLocation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	cfg := clusterConfig(t)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "checks:\n  - {name: a-home, component: a, kind: http, target: %q}\n", srv.URL+"/")
	f.Close()
	code, out, errs := runBinary(t, nil, "probe", "-config", cfg, "-node", "nyc")
	if code != exitOK || !strings.Contains(out, "Probing from us-east (node nyc)") || !strings.Contains(out, "a-home") {
		t.Errorf("table: exit %d:\n%s%s", code, out, errs)
	}
	code, out, errs = runBinary(t, nil, "probe", "-config", cfg, "-node", "sgp", "-json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || code != exitOK || len(rows) != 1 {
		t.Fatalf("-json: exit %d, %v:\n%s%s", code, err, out, errs)
	}
	if rows[0]["location"] != "ap-southeast" {
		t.Errorf("-json row: %v, want location ap-southeast", rows[0])
	}
}
