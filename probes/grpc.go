package probes

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// GRPC asks a server's standard health service (grpc.health.v1.Health/
// Check) about one service name ("" is the server as a whole), over a
// fresh connection per run, with TLS and metadata as configured.
type GRPC struct {
	target  string
	service string
	md      metadata.MD
	creds   credentials.TransportCredentials
	max     time.Duration
	maxBody int64
	dial    func(context.Context, string) (net.Conn, error)
}

func newGRPC(s Spec, o Options) (Probe, error) {
	if _, _, err := net.SplitHostPort(s.Target); err != nil {
		return nil, fieldErr("target", "must be host:port: %v", err)
	}
	creds := insecure.NewCredentials()
	if s.TLS || s.CAFile != "" || s.SkipTLSVerify || s.ServerName != "" {
		cfg, err := clientTLS(s, o)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	d := o.dialer()
	maxBody := s.bodyLimit(defaultMaxBody)
	return &GRPC{target: s.Target, service: s.Service, md: metadata.New(s.Headers), creds: creds, max: s.expect().MaxLatency,
		maxBody: maxBody, dial: func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }}, nil
}

// Run checks health: SERVING is up; NOT_SERVING and an unknown service are
// down with their own reasons; deadlines and transport errors as for tcp.
func (p *GRPC) Run(ctx context.Context) Result {
	start := time.Now()
	conn, err := grpc.NewClient("passthrough:///"+p.target, grpc.WithTransportCredentials(p.creds), grpc.WithContextDialer(p.dial),
		grpc.WithUserAgent("Outpost"),
		// A health answer is a few bytes: gRPC's defaults would accept a
		// 4 MiB message and 16 MiB of headers from a hostile server.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(int(min(p.maxBody, 1<<30)))),
		grpc.WithMaxHeaderListSize(maxHeaderBytes))
	if err != nil {
		return down(ReasonInternal, elapsed(start), "grpc client: %v", err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(metadata.NewOutgoingContext(ctx, p.md), &healthpb.HealthCheckRequest{Service: p.service},
		grpc.WaitForReady(false))
	lat := elapsed(start)
	if err != nil {
		return grpcError(ctx, err, p.service, lat)
	}
	var r Result
	switch st := resp.GetStatus(); st {
	case healthpb.HealthCheckResponse_SERVING:
		r = slowCheck(up(lat), p.max)
	case healthpb.HealthCheckResponse_SERVICE_UNKNOWN:
		r = down(ReasonServiceUnknown, lat, "service %q is unknown to the server", p.service)
	default:
		r = down(ReasonNotServing, lat, "service %q is %s", p.service, st)
	}
	r.detail("status", resp.GetStatus().String())
	return r
}

// grpcError classifies a failed health call.
func grpcError(ctx context.Context, err error, service string, lat time.Duration) Result {
	st, _ := status.FromError(err)
	switch {
	case st.Code() == codes.NotFound:
		return down(ReasonServiceUnknown, lat, "service %q is unknown to the server", service)
	case st.Code() == codes.Unimplemented:
		return down(ReasonNotServing, lat, "the server has no health service: %s", st.Message())
	case st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "larger than max"): // our limit, not the server's status
		return down(ReasonBodyTooLarge, lat, "the answer is too large: %s", st.Message())
	case st.Code() == codes.DeadlineExceeded || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return down(ReasonTimeout, lat, "no answer before the deadline")
	case st.Code() == codes.Unavailable:
		// The transport's own error says what failed: refused, TLS, DNS.
		if cause := errors.Unwrap(st.Err()); cause != nil {
			return classifyNetErr(ctx, cause, lat)
		}
		return classifyUnavailable(st.Message(), lat)
	case st.Code() == codes.Unauthenticated || st.Code() == codes.PermissionDenied:
		return down(ReasonStatusMismatch, lat, "%s: %s", st.Code(), st.Message())
	}
	return down(ReasonConnectionError, lat, "%s: %s", st.Code(), st.Message())
}

// classifyUnavailable reads gRPC's "connection error" text, which is all
// it keeps of the transport's failure.
func classifyUnavailable(msg string, lat time.Duration) Result {
	for _, c := range []struct {
		sub    string
		reason Reason
	}{{"connection refused", ReasonConnectionRefused}, {"tls:", ReasonTLSError}, {"x509:", ReasonTLSError},
		{"certificate", ReasonTLSError}, {"no such host", ReasonDNSError}} {
		if strings.Contains(strings.ToLower(msg), c.sub) {
			return down(c.reason, lat, "%s", msg)
		}
	}
	return down(ReasonConnectionError, lat, "%s", msg)
}
