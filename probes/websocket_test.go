package probes

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gorilla/websocket"
)

// wsServer answers /echo (subprotocol chat.v1; "ping" gets "pong" after a
// greeting), /silent (never writes), /bye (closes at once) and /forbidden
// (403 instead of the upgrade).
func wsHandler(t testing.TB) http.Handler {
	up := websocket.Upgrader{Subprotocols: []string{"chat.v1"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte("hello"))
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if string(msg) == "ping" {
				_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
			}
		}
	})
	mux.HandleFunc("/silent", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_, _, _ = c.ReadMessage()
		<-r.Context().Done()
	})
	mux.HandleFunc("/bye", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
		c.Close()
	})
	mux.HandleFunc("/forbidden", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	return mux
}

func TestWebSocket(t *testing.T) {
	srv := httptest.NewServer(wsHandler(t))
	defer srv.Close()
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	ca := newCA(t)
	tsrv := httptest.NewUnstartedServer(wsHandler(t))
	tsrv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, time.Now().Add(24*time.Hour))}}
	tsrv.StartTLS()
	defer tsrv.Close()
	wss := "wss" + strings.TrimPrefix(tsrv.URL, "https")

	for _, tc := range []struct {
		name    string
		spec    Spec
		outcome Outcome
		reason  Reason
	}{
		{"handshake", Spec{Target: ws + "/echo"}, Up, ReasonOK},
		{"subprotocol", Spec{Target: ws + "/echo", Subprotocol: "chat.v1"}, Up, ReasonOK},
		{"exchange", Spec{Target: ws + "/echo", Send: "ping", Expect: &Expect{Message: `"pong"`}}, Up, ReasonOK},
		{"wrong subprotocol", Spec{Target: ws + "/echo", Subprotocol: "chat.v2"}, Down, ReasonStatusMismatch},
		{"forbidden", Spec{Target: ws + "/forbidden"}, Down, ReasonStatusMismatch},
		{"no reply", Spec{Target: ws + "/silent", Send: "ping", Expect: &Expect{Message: "pong"}}, Down, ReasonTimeout},
		{"closed", Spec{Target: ws + "/bye", Expect: &Expect{Message: "pong"}}, Down, ReasonBodyMismatch},
		{"refused", Spec{Target: "ws://" + closedPort(t) + "/"}, Down, ReasonConnectionRefused},
		{"slow", Spec{Target: ws + "/echo", Expect: &Expect{MaxLatency: time.Nanosecond}}, Degraded, ReasonSlow},
		{"wss", Spec{Target: wss + "/echo", CAFile: ca.file(t), Send: "ping", Expect: &Expect{Message: "pong"}}, Up, ReasonOK},
		{"wss, unknown CA", Spec{Target: wss + "/echo"}, Down, ReasonTLSError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Kind = "websocket"
			p, err := New(tc.spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if r := p.Run(ctx); r.Outcome != tc.outcome || r.Reason != tc.reason {
				t.Fatalf("%+v, want %s %s", r, tc.outcome, tc.reason)
			}
		})
	}
	for _, bad := range []string{"http://example.com/", "ws://", "example.com:80"} {
		if _, err := New(Spec{Kind: "websocket", Target: bad}, Options{}); err == nil {
			t.Errorf("target %q accepted", bad)
		}
	}
}

// A message is scanned in chunks: the expected text is found across a
// chunk boundary, and a message without it leaves only its start in seen.
func TestScanForAcrossChunks(t *testing.T) {
	want := []byte("pong")
	for _, tc := range []struct {
		msg   string
		found bool
	}{{"xxxxxpo" + "ngxxx", true}, {strings.Repeat("x", 100) + "pong", true}, {strings.Repeat("x", 100) + "pon", false}} {
		var seen []byte
		found, err := scanFor(iotest.OneByteReader(strings.NewReader(tc.msg)), want, make([]byte, 8), &seen)
		if err != nil || found != tc.found {
			t.Errorf("%q: found %v (%v), want %v", tc.msg, found, err, tc.found)
		}
		if !found && len(seen) == 0 {
			t.Errorf("%q: nothing kept for the operator", tc.msg)
		}
	}
}
