package web

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 3, 10, 14, 2, 0, 0, time.UTC)

// fixture builds a realistic snapshot with a fixed clock through the real
// engine: one open incident, one resolved, and 90 days of uptime.
func fixture(t testing.TB) (*status.Snapshot, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "web.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := &status.Model{AutoIncidents: true, ReopenWindow: time.Minute,
		Components: []status.ComponentDef{{ID: "api", Name: "API", Group: "Platform", Description: "Public REST API"},
			{ID: "web", Name: "Website", Group: "Platform"}, {ID: "db", Name: "Database"}},
		Maintenance: []status.MaintenanceDef{{ID: "db-upgrade", Name: "Database upgrade", Components: []string{"db"},
			Message: "Writes pause; reads continue.", Start: t0.Add(48 * time.Hour), End: t0.Add(50 * time.Hour)}},
		Checks: []status.CheckDef{{Name: "api-1", Component: "api", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second},
			{Name: "web-1", Component: "web", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second},
			{Name: "db-1", Component: "db", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second}}}
	e := status.NewEngine(m, nil)
	apply := func(now time.Time, rs ...status.CheckResult) {
		ch := e.Apply(status.Batch{Now: now, Results: rs})
		if _, err := st.Apply(store.Entry{At: now, Step: store.NewStep(ch, e.State(), nil)}); err != nil {
			t.Fatal(err)
		}
	}
	res := func(c string, at time.Time, o probes.Outcome, r probes.Reason) status.CheckResult {
		return status.CheckResult{Check: c, At: at, Result: probes.Result{Outcome: o, Reason: r, Latency: 42 * time.Millisecond}}
	}
	start := t0.Add(-3 * 24 * time.Hour)
	apply(start, res("api-1", start, probes.Up, probes.ReasonOK), res("web-1", start, probes.Up, probes.ReasonOK), res("db-1", start, probes.Up, probes.ReasonOK))
	apply(start.Add(time.Hour), res("db-1", start.Add(time.Hour), probes.Down, probes.ReasonTimeout))
	apply(start.Add(2*time.Hour), res("db-1", start.Add(2*time.Hour), probes.Up, probes.ReasonOK))
	apply(t0.Add(-10*time.Minute), res("api-1", t0.Add(-10*time.Minute), probes.Down, probes.ReasonConnectionRefused))
	apply(t0, res("web-1", t0, probes.Degraded, probes.ReasonSlow), res("db-1", t0, probes.Up, probes.ReasonOK),
		res("api-1", t0, probes.Down, probes.ReasonConnectionRefused))
	snap := e.Snapshot(t0, start)
	closed, _ := st.Incidents(10, func(i *status.Incident) bool { return !i.Open() }, nil)
	snap.History = closed
	snap.Recent, _ = st.Incidents(50, nil, nil)
	snap.Uptime = map[string]status.UptimeView{}
	for i, c := range snap.Components {
		var u status.UptimeView
		for d := range 90 {
			day := t0.Truncate(24*time.Hour).AddDate(0, 0, d-89)
			cell := status.DayView{Date: day, Status: status.Operational, Percent: 1}
			switch {
			case d < 30*i:
				cell.Percent = -1
			case d == 86 && c.ID == "db":
				cell.Status, cell.Percent, cell.Incidents = status.MajorOutage, 0.9583, 1
			}
			u.Days = append(u.Days, cell)
		}
		u.Percent = 0.99953
		u.Windows = map[string]float64{"24h": 1, "7d": 0.9991, "30d": 0.9953, "90d": 0.99953}
		for h := range 24 {
			u.Latency = append(u.Latency, float64(40+h%5))
		}
		snap.Uptime[c.ID] = u
	}
	return snap, st
}

func testServer(t testing.TB) (*Server, *status.Snapshot) {
	t.Helper()
	snap, st := fixture(t)
	s, err := New(Options{Site: config.Site{Title: "Acme Status", URL: "https://status.acme.test", TimeZone: "UTC", Location: time.UTC,
		Description: "Acme's services"}, SiteID: "acme", Store: st, Refresh: 60,
		Health: func() (bool, string) { return true, "" }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	return s, snap
}

func get(t testing.TB, h http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t testing.TB, r *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./status/web -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./status/web -update and review the diff", name)
	}
}

func TestGoldenPages(t *testing.T) {
	s, snap := testServer(t)
	h := s.Handler()
	golden(t, "index.html", body(t, get(t, h, "/")))
	golden(t, "status.json", body(t, get(t, h, "/api/v1/status")))
	golden(t, "incident.html", body(t, get(t, h, "/incidents/"+snap.Incidents[0].ID)))
	golden(t, "history.html", body(t, get(t, h, "/history")))
	golden(t, "notfound.html", body(t, get(t, h, "/incidents/nope")))
}

func TestIndexContent(t *testing.T) {
	s, snap := testServer(t)
	page := body(t, get(t, s.Handler(), "/"))
	for _, want := range []string{
		`<div class="banner critical" role="status">Major Service Outage</div>`,
		`Last checked <time datetime="2026-03-10T14:02:00Z" data-relative>14:02:00 UTC</time>`,
		"API is unavailable", "We are investigating connection failures affecting API since 13:52 UTC.",
		`✕ Major outage`, `▲ Degraded performance`, `✓ Operational`,
		"99.95% uptime", `<path d="M0 17h359" class="o"><title>Dec 11 – Mar 10: 100% uptime</title></path>`,
		`<path d="M0 17h119" class="nd"><title>Dec 11 – Jan 9: no data</title></path>`,
		`<path d="M344 17h3" class="mo"><title>Mar 7: 95.83% uptime, 1 incident</title></path>`,
		"Mar 7: 95.83% uptime, 1 incident", `<polyline points=`,
		`<body data-refresh="60">`, `<meta property="og:title" content="Acme Status">`,
		"Database is unavailable", // yesterday's resolved incident in the 14-day history
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// No inline styles or scripts: the CSP forbids them.
	for _, bad := range []string{"style=", "<style", "<script>", "onclick", "api-1", "db-1"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	_ = snap
}

func TestPreparedResponses(t *testing.T) {
	s, _ := testServer(t)
	h := s.Handler()
	r := get(t, h, "/")
	plain := body(t, r)
	etag := r.Header.Get("ETag")
	for k, want := range map[string]string{
		"Content-Type": "text/html; charset=utf-8", "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff",
		"Cache-Control": "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400",
	} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if !strings.Contains(plain, `<meta name="referrer" content="strict-origin-when-cross-origin">`) {
		t.Error("the page sets no referrer policy")
	}
	if n := len(r.Header); n > 8 {
		t.Errorf("%d header fields; more than 8 makes every request convert a map (see securityHeaders)", n)
	}
	if !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		t.Fatalf("ETag %q is not strong", etag)
	}
	if r := get(t, h, "/", "If-None-Match", etag); r.StatusCode != http.StatusNotModified || body(t, r) != "" {
		t.Fatalf("If-None-Match: %d", r.StatusCode)
	}
	gz := get(t, h, "/", "Accept-Encoding", "br, gzip;q=0.8")
	if gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("ETag") == etag {
		t.Fatalf("gzip: encoding %q etag %q", gz.Header.Get("Content-Encoding"), gz.Header.Get("ETag"))
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	unz, _ := io.ReadAll(zr)
	if string(unz) != plain {
		t.Fatal("the gzip body is not the page")
	}
	if r := get(t, h, "/", "Accept-Encoding", "gzip", "If-None-Match", gz.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match with the gzip ETag: %d", r.StatusCode)
	}
	if r := get(t, h, "/", "Accept-Encoding", "gzip;q=0"); r.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 got gzip")
	}
}

// Serving picks prepared bytes: a thousand requests between two snapshots
// render nothing and see one ETag.
func TestNoPerRequestRendering(t *testing.T) {
	s, snap := testServer(t)
	h := s.Handler()
	before := s.Renders()
	etag := get(t, h, "/").Header.Get("ETag")
	for i := range 1000 {
		enc := ""
		if i%2 == 0 {
			enc = "gzip"
		}
		r := get(t, h, "/", "Accept-Encoding", enc)
		if r.StatusCode != 200 || (enc == "" && r.Header.Get("ETag") != etag) {
			t.Fatalf("request %d: %d %s", i, r.StatusCode, r.Header.Get("ETag"))
		}
	}
	if s.Renders() != before {
		t.Fatalf("%d renders during 1000 GETs", s.Renders()-before)
	}
	snap.GeneratedAt = snap.GeneratedAt.Add(time.Minute)
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	if s.Renders() != before+1 || get(t, h, "/").Header.Get("ETag") == etag {
		t.Fatal("a new snapshot did not produce a new page")
	}
}

func TestErrors(t *testing.T) {
	s, _ := testServer(t)
	s.e.GET("/boom", func(echo.Context) error { panic("kaboom") })
	h := s.Handler()
	tests := []struct {
		path, accept string
		code         int
		json         bool
		contains     string
	}{
		{"/incidents/inc-424242", "text/html", 404, false, `There is no incident &#34;inc-424242&#34;.`},
		{"/no/such/page", "text/html", 404, false, "There is nothing at this address."},
		{"/api/v1/nope", "", 404, true, `"code":404`},
		{"/history?page=abc", "text/html", 400, false, "page must be a whole number from 1 to 1000"},
		{"/history?page=0", "application/json", 400, true, "page must be a whole number"},
		{"/boom", "text/html", 500, false, "Something went wrong on our side."},
		{"/boom", "application/json", 500, true, `"message":"Something went wrong on our side."`},
	}
	for _, tc := range tests {
		r := get(t, h, tc.path, "Accept", tc.accept)
		b := body(t, r)
		if r.StatusCode != tc.code || !strings.Contains(b, tc.contains) {
			t.Errorf("%s: %d %q", tc.path, r.StatusCode, b)
		}
		if isJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"); isJSON != tc.json {
			t.Errorf("%s: content type %q", tc.path, r.Header.Get("Content-Type"))
		}
		if tc.json {
			var v map[string]map[string]any
			if err := json.Unmarshal([]byte(b), &v); err != nil || v["error"]["message"] == nil {
				t.Errorf("%s: not a JSON error: %s", tc.path, b)
			}
		}
	}
}

func TestStaticAssetsAndHealth(t *testing.T) {
	s, _ := testServer(t)
	h := s.Handler()
	page := body(t, get(t, h, "/"))
	i := strings.Index(page, `href="/static/style.`)
	if i < 0 {
		t.Fatal("no hashed stylesheet link")
	}
	href := page[i+6 : i+6+strings.Index(page[i+6:], `"`)]
	r := get(t, h, href)
	if r.StatusCode != 200 || r.Header.Get("Cache-Control") != CacheAsset || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("%s: %d %q %q", href, r.StatusCode, r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"))
	}
	if r := get(t, h, "/static/style.css"); r.StatusCode != 404 {
		t.Errorf("unhashed asset served: %d", r.StatusCode)
	}
	if r := get(t, h, "/healthz"); r.StatusCode != 200 || !strings.Contains(body(t, r), `"status":"ok"`) {
		t.Errorf("healthz %d", r.StatusCode)
	}
	s.o.Health = func() (bool, string) { return false, "scheduler has not fired since 14:00" }
	// Public: a bare verdict. The operators' listener says why.
	if r := get(t, h, "/healthz"); r.StatusCode != 503 || body(t, r) != `{"status":"unhealthy"}`+"\n" {
		t.Errorf("unhealthy public healthz %d", r.StatusCode)
	}
	if r := get(t, s.OperatorsHandler(), "/healthz"); r.StatusCode != 503 || !strings.Contains(body(t, r), "scheduler has not fired") {
		t.Errorf("unhealthy operators' healthz %d", r.StatusCode)
	}
}

func TestIPExtractor(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "203.0.113.9:4000"
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	if ip := ipExtractor(nil)(req); ip != "203.0.113.9" {
		t.Errorf("without trusted proxies: %s", ip)
	}
	_, n, _ := net.ParseCIDR("203.0.113.0/24")
	proxy := []*net.IPNet{n}
	if ip := ipExtractor(proxy)(req); ip != "198.51.100.1" {
		t.Errorf("behind a trusted proxy: %s", ip)
	}
	req.RemoteAddr = "192.0.2.1:4000" // not a trusted proxy: its header is ignored
	if ip := ipExtractor(proxy)(req); ip != "192.0.2.1" {
		t.Errorf("untrusted peer's XFF believed: %s", ip)
	}
}

// Postmortems are Markdown rendered safely: formatting survives, scripts
// and dangerous links do not.
func TestPostmortemMarkdownIsSafe(t *testing.T) {
	got := string(markdown("# What happened\n\nA **bad** deploy. <script>alert(1)</script>\n\n[click](javascript:alert(1)) <img src=x onerror=alert(1)>"))
	for _, want := range []string{"<h1>What happened</h1>", "<strong>bad</strong>"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q: %s", want, got)
		}
	}
	for _, bad := range []string{"<script", "javascript:", "onerror"} {
		if strings.Contains(got, bad) {
			t.Errorf("contains %q: %s", bad, got)
		}
	}
}

// Pages that do not carry a generation time say nothing about it, instead
// of "Page generated 00:00 UTC" (a zero time.Time is true in a template).
func TestFooterNeverShowsAZeroTime(t *testing.T) {
	s, snap := testServer(t)
	h := s.Handler()
	for _, path := range []string{"/history", "/incidents/" + snap.Incidents[0].ID, "/no/such/page", "/"} {
		page := body(t, get(t, h, path, "Accept", "text/html"))
		if strings.Contains(page, "Page generated <time datetime=\"0001-01-01") {
			t.Errorf("%s: the footer shows a zero generation time", path)
		}
	}
	if page := body(t, get(t, h, "/")); !strings.Contains(page, `Page generated <time datetime="2026-03-10T14:02:00Z">`) {
		t.Error("the status page lost its generation time")
	}
}

// Old pages are rendered once while the incidents they show stay the
// same, however many snapshots pass and however many ask at once; a commit
// that writes an incident renders them anew.
func TestLazyPagesRenderOnce(t *testing.T) {
	s, snap := testServer(t)
	h := s.Handler()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); get(t, h, "/history/2") }()
	}
	wg.Wait()
	for range 3 {
		if err := s.Update(snap); err != nil {
			t.Fatal(err)
		}
		get(t, h, "/history/2")
	}
	if n := s.lazy.renders.Load(); n != 1 {
		t.Fatalf("/history/2 rendered %d times over 8 concurrent and 3 later requests, want 1", n)
	}
	// A new incident is committed: the next snapshot's pages are rebuilt.
	e := status.NewEngine(&status.Model{AutoIncidents: true, Components: []status.ComponentDef{{ID: "db", Name: "Database"}},
		Checks: []status.CheckDef{{Name: "db-1", Component: "db", FailureThreshold: 1, SuccessThreshold: 1, Every: time.Minute}}}, nil)
	ch := e.Apply(status.Batch{Now: t0, Results: []status.CheckResult{{Check: "db-1", At: t0, Result: probes.Result{Outcome: probes.Down}}}})
	if _, err := s.o.Store.Apply(store.Entry{At: t0, Step: store.NewStep(ch, e.State(), nil)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	get(t, h, "/history/2")
	if n := s.lazy.renders.Load(); n != 2 {
		t.Fatalf("after a commit with an incident: %d renders, want 2", n)
	}
}
