package probes

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcServer serves the standard health service on loopback; opts add TLS
// or interceptors.
func grpcServer(t testing.TB, opts ...grpc.ServerOption) (*health.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(opts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return hs, ln.Addr().String()
}

// Every reason the grpc kind reports, against real servers whose health
// the test flips.
func TestGRPC(t *testing.T) {
	hs, addr := grpcServer(t)
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("billing", healthpb.HealthCheckResponse_NOT_SERVING)

	ca := newCA(t)
	cert := ca.leaf(t, time.Now().Add(30*24*time.Hour))
	tlsHS, tlsAddr := grpcServer(t, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	tlsHS.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)

	// A server that wants a token in the metadata.
	authed := grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("authorization")) == 0 || md.Get("authorization")[0] != "Bearer s3cret" {
			return nil, status.Error(codes.Unauthenticated, "no token")
		}
		return h(ctx, req)
	})
	_, authAddr := grpcServer(t, authed)

	// A server that never answers the handshake in time.
	stall, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()

	for _, tc := range []struct {
		name    string
		spec    Spec
		outcome Outcome
		reason  Reason
	}{
		{"serving", Spec{Target: addr, Service: "orders"}, Up, ReasonOK},
		{"whole server", Spec{Target: addr}, Up, ReasonOK},
		{"not serving", Spec{Target: addr, Service: "billing"}, Down, ReasonNotServing},
		{"unknown service", Spec{Target: addr, Service: "nope"}, Down, ReasonServiceUnknown},
		{"slow", Spec{Target: addr, Service: "orders", Expect: &Expect{MaxLatency: time.Nanosecond}}, Degraded, ReasonSlow},
		{"refused", Spec{Target: closedPort(t)}, Down, ReasonConnectionRefused},
		{"no answer", Spec{Target: stall.Addr().String()}, Down, ReasonTimeout},
		{"tls", Spec{Target: tlsAddr, Service: "orders", TLS: true, CAFile: ca.file(t)}, Up, ReasonOK},
		{"tls, unknown CA", Spec{Target: tlsAddr, Service: "orders", TLS: true}, Down, ReasonTLSError},
		{"plaintext to tls", Spec{Target: tlsAddr, Service: "orders"}, Down, ReasonConnectionError},
		{"metadata", Spec{Target: authAddr, Headers: map[string]string{"authorization": "Bearer s3cret"}}, Up, ReasonOK},
		{"no metadata", Spec{Target: authAddr}, Down, ReasonStatusMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Kind = "grpc"
			p, err := New(tc.spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			r := p.Run(ctx)
			if r.Outcome != tc.outcome || r.Reason != tc.reason {
				t.Fatalf("%+v, want %s %s", r, tc.outcome, tc.reason)
			}
		})
	}
	// The health flips and the next run sees it.
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_NOT_SERVING)
	p, _ := New(Spec{Kind: "grpc", Target: addr, Service: "orders"}, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if r := p.Run(ctx); r.Reason != ReasonNotServing || r.Details["status"] != "NOT_SERVING" {
		t.Fatalf("after the flip: %+v", r)
	}
	if _, err := New(Spec{Kind: "grpc", Target: "no-port"}, Options{}); err == nil {
		t.Error("a target without a port was accepted")
	}
}
