package web

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// JSON bodies are one object with unique keys: trailing data and duplicate
// keys are refused with a message naming the problem.
func TestJSONBodiesAreStrict(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	h := s.Handler()
	for _, tc := range []struct{ body, want string }{
		{`{"url":"https://hooks.example.com/a"}GARBAGE`, "unexpected data after the JSON object"},
		{`{"url":"https://hooks.example.com/a"} {"url":"x"}`, "unexpected data after the JSON object"},
		{`{"url":"https://hooks.example.com/a","url":"https://evil.example/"}`, `duplicate key \"url\"`},
		{`{"url":"https://hooks.example.com/a","events":["incident.created"],"components":["api","api"],"x":{"a":1,"a":2}}`, `unknown field \"x\"`},
	} {
		code, out := call(t, h, "POST", "/api/v1/subscriptions", "", tc.body, "203.0.113.20")
		if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out), strings.ReplaceAll(tc.want, `\"`, `"`)) {
			t.Errorf("%s: %d %v, want 400 saying %s", tc.body, code, out, tc.want)
		}
	}
	for body, want := range map[string]string{
		`{"name":"A","name":"B","status":"investigating","message":"x"}`:                     `duplicate key "name"`,
		`{"name":"A","message":"x","components":{"api":"major_outage","api":"operational"}}`: `duplicate key "components.api"`,
	} {
		code, out := call(t, h, "POST", "/api/v1/incidents", writeToken, body, "203.0.113.21")
		if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out), want) {
			t.Errorf("admin API %s: %d %v, want %s", body, code, out, want)
		}
	}
}

// A time that is not RFC 3339 is refused naming the field, in the user's
// words rather than Go's layout ("2006-01-02T15:04:05Z07:00").
func TestBadTimeNamesTheField(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	h := s.Handler()
	for _, tc := range []struct{ method, path, body, field string }{
		{"POST", "/api/v1/maintenances", `{"name":"x","components":["db"],"start":"soon","end":"2026-12-01T02:00:00Z"}`, "start"},
		{"POST", "/api/v1/maintenances", `{"name":"x","components":["db"],"start":"2026-12-01T02:00:00Z","end":42}`, "end"},
		{"PATCH", "/api/v1/maintenances/mnt-1", `{"end":"tomorrow"}`, "end"},
	} {
		code, out := call(t, h, tc.method, tc.path, writeToken, tc.body, "203.0.113.22")
		field, msg := errorField(out)
		if code != http.StatusBadRequest || field != tc.field || !strings.Contains(msg, "RFC 3339") || strings.Contains(msg, "2006") {
			t.Errorf("%s: %d field %q %q", tc.body, code, field, msg)
		}
	}
}

// A 2 MiB body gets the JSON 400 over a real connection, not a reset: the
// server reads the rest before answering.
func TestHugeBodyGetsAnAnswerNotAReset(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	body := `{"url":"https://hooks.example.com/` + strings.Repeat("a", 2<<20) + `"}`
	fmt.Fprintf(conn, "POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("sending the body: %v (the server hung up early)", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "at most 8 KiB") {
		t.Fatalf("answer %d %s", resp.StatusCode, b)
	}
}

// Field names match exactly: encoding/json would take "NAME" for "name"
// (and, with both, keep whichever came last), so a key that differs only
// in case is an unknown field, on public and admin bodies, nested or not.
func TestJSONKeysMatchExactCase(t *testing.T) {
	s, _ := subscriptionServer(t, 5)
	h := s.Handler()
	for _, tc := range []struct{ path, body, field string }{
		{"/api/v1/subscriptions", `{"url":"https://hooks.example.com/a","URL":"https://evil.example/"}`, "URL"},
		{"/api/v1/subscriptions", `{"Url":"https://hooks.example.com/a"}`, "Url"},
		{"/api/v1/subscriptions", `{"url":"https://hooks.example.com/a","Events":["incident.created"]}`, "Events"},
		{"/api/v1/incidents", `{"name":"a","NAME":"b","status":"investigating","message":"x"}`, "NAME"},
		{"/api/v1/incidents", `{"Name":"a","status":"investigating","message":"x"}`, "Name"},
		{"/api/v1/maintenances", `{"name":"x","components":["db"],"Start":"2026-12-01T01:00:00Z","end":"2026-12-01T02:00:00Z"}`, "Start"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			code, out := call(t, h, "POST", tc.path, writeToken, tc.body, "203.0.113.23")
			field, msg := errorField(out)
			if code != http.StatusBadRequest || field != tc.field || !strings.Contains(msg, `unknown field "`+tc.field+`"`) {
				t.Errorf("%d field %q %q, want 400 unknown field %q", code, field, msg, tc.field)
			}
		})
	}
}
