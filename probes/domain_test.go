package probes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rdapServer answers /domain/NAME like a registry: real-shaped RDAP JSON
// (RFC 9083) with the expiration the test gives the name, 404 for others.
func rdapRegistry(t *testing.T, expiries map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/rdap/domain/")
		exp, ok := expiries[name]
		if !ok {
			w.Header().Set("Content-Type", "application/rdap+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errorCode":404,"title":"Not Found"}`)
			return
		}
		events := `{"eventAction":"registration","eventDate":"2011-03-01T10:00:00Z"},{"eventAction":"last changed","eventDate":"2025-02-01T10:00:00Z"}`
		if exp != "" {
			events += `,{"eventAction":"expiration","eventDate":"` + exp + `"}`
		}
		w.Header().Set("Content-Type", "application/rdap+json")
		fmt.Fprintf(w, `{"objectClassName":"domain","handle":"D123-TEST","ldhName":%q,"rdapConformance":["rdap_level_0"],
			"status":["client transfer prohibited"],"events":[%s],
			"entities":[{"objectClassName":"entity","roles":["registrar"],"vcardArray":["vcard",[["fn",{},"text","Example Registrar"]]]}]}`, name, events)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDomain(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	in := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	srv := rdapRegistry(t, map[string]string{"far.test": in(400 * 24 * time.Hour), "soon.test": in(20 * 24 * time.Hour),
		"urgent.test": in(3 * 24 * time.Hour), "gone.test": in(-time.Hour), "undated.test": ""})
	boot := filepath.Join(t.TempDir(), "dns.json")
	os.WriteFile(boot, []byte(`{"version":"1.0","publication":"2026-11-01T00:00:00Z","services":[[["test","example"],["`+srv.URL+`/rdap/"]]]}`), 0o600)
	for _, tc := range []struct {
		name    string
		outcome Outcome
		reason  Reason
	}{
		{"far.test", Up, ReasonOK},
		{"soon.test", Degraded, ReasonDomainExpiring},
		{"urgent.test", Down, ReasonDomainExpiring},
		{"gone.test", Down, ReasonDomainExpired},
		{"undated.test", Down, ReasonBodyMismatch},
		{"unknown.test", Down, ReasonStatusMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Spec{Kind: "domain", Target: tc.name, BootstrapFile: boot}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			p.(*Domain).now = func() time.Time { return now }
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			r := p.Run(ctx)
			if r.Outcome != tc.outcome || r.Reason != tc.reason {
				t.Fatalf("%+v, want %s %s", r, tc.outcome, tc.reason)
			}
			if tc.outcome == Up && (r.Details["days_left"] != 400 || r.Details["expires_at"] != in(400*24*time.Hour)) {
				t.Errorf("details %+v", r.Details)
			}
		})
	}
	// rdap_url instead of a bootstrap file; a registry that is down.
	p, _ := New(Spec{Kind: "domain", Target: "far.test", RDAPURL: srv.URL + "/rdap"}, Options{})
	p.(*Domain).now = func() time.Time { return now }
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if r := p.Run(ctx); r.Outcome != Up {
		t.Errorf("rdap_url: %+v", r)
	}
	p, _ = New(Spec{Kind: "domain", Target: "far.test", RDAPURL: "http://" + closedPort(t) + "/"}, Options{})
	if r := p.Run(ctx); r.Reason != ReasonConnectionRefused {
		t.Errorf("registry down: %+v", r)
	}
}

// The embedded bootstrap file knows the registries of common top-level
// domains (no request is made here), and a name it does not know is a
// config error that says what to set.
func TestDomainBootstrap(t *testing.T) {
	for name, want := range map[string]string{"example.com": "https://rdap.verisign.com/com/v1/", "www.example.net": "https://rdap.verisign.com/net/v1/",
		"example.org": "https://rdap.publicinterestregistry.org/rdap/"} {
		p, err := New(Spec{Kind: "domain", Target: name}, Options{})
		if err != nil || p.(*Domain).base != want {
			t.Errorf("%s: %v %v", name, p, err)
		}
	}
	for _, tc := range []struct {
		spec  Spec
		field string
	}{
		{Spec{Kind: "domain", Target: "example.nosuchtld"}, "target"},
		{Spec{Kind: "domain", Target: "https://example.com/"}, "target"},
		{Spec{Kind: "domain", Target: "localhost"}, "target"},
		{Spec{Kind: "domain", Target: "example.com", RDAPURL: "ftp://x"}, "rdap_url"},
		{Spec{Kind: "domain", Target: "example.com", BootstrapFile: "/nonexistent.json"}, "bootstrap_file"},
		{Spec{Kind: "domain", Target: "example.com", WarnDays: 5, CriticalDays: 9}, "critical_days"},
	} {
		_, err := New(tc.spec, Options{})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want an error on %s", tc.spec, err, tc.field)
		}
	}
}
