//go:build linux

package main

import (
	"net/http"
	"strings"
	"testing"
)

// Three nodes, each in its own namespace with a cluster link and an
// internet link, form one cluster and serve the same page.
func TestLocationsFormAClusterInNamespaces(t *testing.T) {
	w := newLocWorld(t, locOptions{})
	w.ready()
	for _, nd := range w.nodes {
		code, page := nd.get("/")
		if code != http.StatusOK || !strings.Contains(page, "Shop") || !strings.Contains(page, "All Systems Operational") {
			t.Fatalf("%s serves %d:\n%.2000s", nd.id, code, page)
		}
		_, health := nd.ops("/api/v1/health")
		if !strings.Contains(health, `"location":"`+nd.location+`"`) {
			t.Fatalf("%s does not say it is %s: %s", nd.id, nd.location, health)
		}
	}
	if posts, _, _ := w.said(); posts != 0 {
		t.Fatalf("a healthy start posted %d times", posts)
	}
}
