package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The public read surfaces answer any origin and its preflight; the admin
// API, the write endpoints and the pages do not.
func TestCORS(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	h := s.Handler()
	for path, want := range map[string]string{
		"/api/v2/summary.json": "*", "/api/v1/status": "*", "/feed.atom": "*", "/history.rss": "*", "/maintenance.ics": "*",
		"/badge/api.svg": "*", "/": "", "/api/v1/incidents": "", "/api/v1/subscriptions": "", "/history": "",
	} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Origin", "https://elsewhere.test")
		req.Header.Set("Authorization", "Bearer "+readToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want %q", path, got, want)
		}
		pre := httptest.NewRequest(http.MethodOptions, path, nil)
		pre.Header.Set("Origin", "https://elsewhere.test")
		pre.Header.Set("Access-Control-Request-Method", "GET")
		pre.Header.Set("Access-Control-Request-Headers", "x-requested-with")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, pre)
		allowed := rec.Code == http.StatusNoContent && rec.Header().Get("Access-Control-Allow-Origin") == "*" &&
			rec.Header().Get("Access-Control-Allow-Headers") == "x-requested-with"
		if allowed != (want == "*") {
			t.Errorf("OPTIONS %s: %d %v", path, rec.Code, rec.Header())
		}
	}
}

// A status widget on another site reads the Statuspage API from a real
// browser: a page served from one origin fetches Outpost on another, as
// Atlassian's @statuspage/status-widget does.
func TestWidgetCrossOriginInBrowser(t *testing.T) {
	ctx := browser(t)
	s, _ := testServer(t)
	outpost := httptest.NewServer(s.Handler())
	defer outpost.Close()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>shop</title><p id="w">loading</p><script>
fetch(%q, {headers: {"X-Requested-With": "widget"}}).then(r => r.json())
  .then(j => { document.getElementById("w").textContent = "status: " + j.status.description })
  .catch(e => { document.getElementById("w").textContent = "error: " + e })
</script>`, outpost.URL+"/api/v2/summary.json")
	}))
	defer site.Close()
	if strings.Split(outpost.URL, ":")[2] == strings.Split(site.URL, ":")[2] {
		t.Fatal("the two servers share an origin")
	}
	do(t, ctx, chromedp.Navigate(site.URL+"/"))
	var text string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		text = run(t, ctx, chromedp.Evaluate[string](`document.getElementById("w").textContent`))
		if text != "loading" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if text != "status: Major Service Outage" {
		t.Fatalf("the widget shows %q", text)
	}
}
