package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every JSON endpoint that takes a body refuses anything but
// application/json with a JSON 415: text/plain (and a form's types, and no
// type at all) make a CORS "simple request", which any page can have its
// visitors' browsers send. Parameters are allowed; a charset only if it is
// utf-8. Bodyless POSTs and heartbeat pings take any type.
func TestJSONBodiesNeedJSONContentType(t *testing.T) {
	s, _ := subscriptionServer(t, 50)
	h := s.Handler()
	bodies := []struct{ method, path, token, body string }{
		{"POST", "/api/v1/subscriptions", "", `{"url":"https://hooks.example.com/a"}`},
		{"POST", "/api/v1/incidents", writeToken, `{"name":"A","message":"x"}`},
		{"POST", "/api/v1/incidents/inc-1/updates", writeToken, `{"message":"x"}`},
		{"PATCH", "/api/v1/incidents/inc-1", writeToken, `{"name":"B"}`},
		{"PATCH", "/api/v1/incidents/inc-1/updates/u-1", writeToken, `{"message":"x"}`},
		{"POST", "/api/v1/incidents/inc-1/postmortem", writeToken, `{"body":"x"}`},
		{"POST", "/api/v1/maintenances", writeToken, `{"name":"x"}`},
		{"PATCH", "/api/v1/maintenances/mnt-1", writeToken, `{"name":"x"}`},
	}
	for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x", "application/json; charset=latin1", "application/jsonx", "application/json-patch+json", "not a type/"} {
		for _, b := range bodies {
			t.Run(b.method+" "+b.path+" "+ct, func(t *testing.T) {
				code, out := send(t, h, "203.0.113.40", b.method, b.path, b.token, ct, b.body)
				if code != http.StatusUnsupportedMediaType || !strings.Contains(out, "application/json") {
					t.Errorf("%d %s, want a JSON 415 naming application/json", code, out)
				}
			})
		}
	}
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8", "application/json;foo=bar"} {
		code, out := send(t, h, "203.0.113.41", "POST", "/api/v1/subscriptions", "", ct, `{"url":"https://hooks.example.com/ok`+string(rune('a'+i))+`"}`)
		if code != http.StatusCreated {
			t.Errorf("%q: %d %s", ct, code, out)
		}
	}
	// Bodyless POSTs and heartbeats are not JSON endpoints.
	if code, out := send(t, h, "203.0.113.42", "POST", "/api/v1/announcements/1/release", writeToken, "application/x-www-form-urlencoded", ""); code == http.StatusUnsupportedMediaType {
		t.Errorf("a bodyless POST: %d %s", code, out)
	}
	beats := everything(t).Handler()
	if code, out := send(t, beats, "203.0.113.42", "POST", "/api/v1/heartbeat/nope", "", "application/x-www-form-urlencoded", ""); code != http.StatusNotFound || !strings.Contains(out, "no such heartbeat") {
		t.Errorf("a heartbeat ping as curl -d '' sends it: %d %s", code, out)
	}
}

// send makes one request from addr with the given Content-Type ("": none) and
// returns the status and body, which must be JSON.
func send(t *testing.T, h http.Handler, addr, method, path, token, ct, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = addr + ":40000"
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s %s: not JSON: %s", method, path, rec.Body)
	}
	return rec.Code, rec.Body.String()
}
