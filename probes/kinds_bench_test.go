package probes

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// BenchmarkKinds runs one check of each kind against an in-process local
// server, in the same run: the cost of a run (client and server together,
// a fresh connection each time) next to http's.
//
//	go test ./probes -run '^$' -bench Kinds -benchmem -count 3
func BenchmarkKinds(b *testing.B) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ok"}`)) }))
	defer web.Close()
	ws := httptest.NewServer(wsHandler(b))
	defer ws.Close()
	hs, grpcAddr := grpcServer(b)
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"http", Spec{Kind: "http", Target: web.URL + "/health", Expect: &Expect{BodyContains: "ok"}}},
		{"grpc", Spec{Kind: "grpc", Target: grpcAddr, Service: "orders"}},
		{"websocket", Spec{Kind: "websocket", Target: "ws" + strings.TrimPrefix(ws.URL, "http") + "/echo", Send: "ping", Expect: &Expect{Message: "pong"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := New(tc.spec, Options{Version: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				r := p.Run(ctx)
				cancel()
				if r.Outcome != Up {
					b.Fatalf("%+v", r)
				}
			}
		})
	}
}
