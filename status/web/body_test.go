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
		{`{"url":"https://hooks.example.com/a","events":["incident.created"],"components":["api","api"],"x":{"a":1,"a":2}}`, `duplicate key \"x.a\"`},
	} {
		code, out := call(t, h, "POST", "/api/v1/subscriptions", "", tc.body, "203.0.113.20")
		if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out), strings.ReplaceAll(tc.want, `\"`, `"`)) {
			t.Errorf("%s: %d %v, want 400 saying %s", tc.body, code, out, tc.want)
		}
	}
	code, out := call(t, h, "POST", "/api/v1/incidents", writeToken, `{"name":"A","name":"B","status":"investigating","message":"x"}`, "203.0.113.21")
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out), `duplicate key "name"`) {
		t.Errorf("admin API duplicate key: %d %v", code, out)
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
