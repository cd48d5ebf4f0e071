package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
	"github.com/outpost-status/outpost/status/webhook"
)

// everything is a server with every optional surface on, and no snapshot
// yet (reads answer 503 until the first render).
func everything(t *testing.T) *Server {
	t.Helper()
	_, st := fixture(t)
	wh := webhook.New(webhook.Options{Store: st, Logger: slog.New(slog.DiscardHandler), PerClient: 5})
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler), Webhooks: wh,
		Admin:      &Admin{Tokens: []AdminToken{{Name: "ops", Hash: store.HashToken(writeToken)}}},
		Heartbeats: probes.NewBeats(time.Now),
		Peer:       http.NotFoundHandler(),
		Details:    func() any { return map[string]any{} },
		Metrics:    http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// contractOf loads and validates the document the server serves.
func contractOf(t *testing.T, h http.Handler) *openapi3.T {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("/api/openapi.json: %d %v", rec.Code, rec.Header())
	}
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("not valid OpenAPI: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	return doc
}

var echoParam = regexp.MustCompile(`:[a-z]+`)
var docParam = regexp.MustCompile(`\{[a-z]+\}`)

// Every /api route the server registers, with every method, is in the
// document, and everything the document describes is registered: a route
// added later without its contract fails here. (That the answers match is
// cmd/outpost's TestOpenAPIContract, on the real binary.)
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := everything(t)
	doc := contractOf(t, s.Handler())
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+docParam.ReplaceAllString(path, "{}")] = true
		}
	}
	registered := map[string]bool{}
	for _, r := range s.e.Routes() {
		if !strings.HasPrefix(r.Path, "/api/") || !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, r.Method) {
			continue // HEAD and CORS preflights are answered for every GET, as the document says once
		}
		op := r.Method + " " + echoParam.ReplaceAllString(r.Path, "{}")
		registered[op] = true
		if !documented[op] {
			t.Errorf("%s %s is registered but not in static/openapi.yaml", r.Method, r.Path)
		}
	}
	for op := range documented {
		if !registered[op] {
			t.Errorf("%s is documented but not registered", op)
		}
	}
	if len(registered) < 40 {
		t.Fatalf("only %d /api operations registered", len(registered))
	}
}

// Before the first render every read surface answers 503 "starting up",
// as the document says: the one error the read operations have, checked
// here because the real binary renders before it listens.
func TestOpenAPIStartingUp(t *testing.T) {
	s := everything(t)
	h := s.Handler()
	doc := contractOf(t, h)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, item := range doc.Paths.Map() {
		op := item.Get
		if op == nil || op.Responses.Value("503") == nil || op.Responses.Value("503").Ref != "#/components/responses/StartingUp" {
			continue
		}
		req := httptest.NewRequest("GET", path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s before the first render: %d", path, rec.Code)
			continue
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 rec.Code, Header: rec.Header(), Body: io.NopCloser(rec.Body)}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("GET %s: %v", path, err)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d read operations document 503", n)
	}
}

// The served document passes Redocly's strict lint (npm @redocly/cli, with
// testdata/clients/redocly.yaml): a second, independent reader of the
// contract besides kin-openapi.
func TestOpenAPILint(t *testing.T) {
	s := everything(t)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(file, rec.Body.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	npmClients(t)
	cmd := exec.Command("node_modules/.bin/redocly", "lint", file, "--config", "redocly.yaml", "--format", "stylish")
	cmd.Dir = "testdata/clients"
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Your API description is valid") {
		t.Fatalf("redocly lint: %v\n%s", err, out)
	}
}
