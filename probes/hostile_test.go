package probes

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
)

// Hostile peers run in a child process (this test binary, re-run with this
// variable naming the behaviour), so that what they allocate to flood the
// probe is not counted as the probe's own allocation.
const hostilePeerEnv = "OUTPOST_HOSTILE_PEER"

// Every writer loop of a hostile peer stops after this much, whatever the
// probe does, so a broken probe cannot make the test run away.
const (
	hostileMaxBytes = 1 << 30
	hostileMaxTime  = 20 * time.Second
)

// hostilePeer starts a peer with the named behaviour on loopback and
// returns its address (TCP, and UDP on the same port for dns-udp-flood).
func hostilePeer(t *testing.T, behaviour string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hostilePeerEnv+"="+behaviour)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("hostile peer %s: %v", behaviour, err)
	}
	return strings.TrimSpace(addr)
}

// measureRun runs p once and returns its result, the heap bytes the
// process allocated meanwhile (runtime/metrics, cumulative, so a flood
// that is allocated and dropped counts too) and the wall time.
func measureRun(p Probe, timeout time.Duration) (Result, uint64, time.Duration) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	start := time.Now()
	r := runWithin(p, timeout)
	wall := time.Since(start)
	metrics.Read(s)
	return r, s[0].Value.Uint64() - before, wall
}

// serveHostile is the child's side: listen, print the address, misbehave.
func serveHostile(behaviour string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if behaviour == "dns-udp-flood" {
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr().String())
		floodDNS(pc)
		return
	}
	if behaviour == "grpc-big-message" {
		fmt.Println(ln.Addr().String())
		serveBigGRPC(ln)
		return
	}
	fmt.Println(ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			misbehave(c, behaviour)
		}()
	}
}

func misbehave(c net.Conn, behaviour string) {
	_ = c.SetDeadline(time.Now().Add(hostileMaxTime))
	br := bufio.NewReader(c)
	switch behaviour {
	case "drip":
		for i := 0; i < int(hostileMaxTime/(10*time.Millisecond)); i++ {
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond) // the point of this peer is to be slow
		}
	case "tcp-flood":
		flood(c, nil, []byte(strings.Repeat("x", 64<<10)))
	case "http-flood-body":
		readHead(br)
		flood(c, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"), []byte(strings.Repeat("x", 64<<10)))
	case "http-flood-headers":
		readHead(br)
		flood(c, []byte("HTTP/1.1 200 OK\r\n"), []byte(strings.Repeat("X-Pad: "+strings.Repeat("x", 1000)+"\r\n", 64)))
	case "ws-flood-headers":
		readHead(br)
		flood(c, []byte("HTTP/1.1 101 Switching Protocols\r\n"), []byte(strings.Repeat("X-Pad: "+strings.Repeat("x", 1000)+"\r\n", 64)))
	case "ws-flood-frames":
		flood(c, wsAccept(readHead(br)), wsFrames(1000, 64))
	case "ws-big-frame":
		head := append(wsAccept(readHead(br)), 0x81, 127)
		head = binary.BigEndian.AppendUint64(head, 256<<20)
		flood(c, head, []byte(strings.Repeat("x", 64<<10)))
	case "ws-bad-accept":
		readHead(br)
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n")
		_, _ = io.Copy(io.Discard, br)
	case "tls-big-handshake":
		// A ServerHello record claiming a 16 MiB handshake message.
		flood(c, []byte{0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0xff, 0xff, 0xff}, []byte(strings.Repeat("x", 16<<10)))
	case "http-drip": // the request is read first, or the drip is an unsolicited answer
		readHead(br)
		misbehave(c, "drip")
	case "dns-tcp-drip":
		_, _ = c.Write([]byte{0xff, 0xff})
		misbehave(c, "drip")
	default:
		misbehaveAsPage(c, br, behaviour)
	}
}

// misbehaveAsPage serves a browser: "/" is the page, any other path a
// subresource (and the favicon Chromium asks for).
func misbehaveAsPage(c net.Conn, br *bufio.Reader, behaviour string) {
	line, _ := br.ReadString('\n')
	readHead(br)
	page := strings.HasPrefix(line, "GET / ")
	const html = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
	para := []byte(strings.Repeat("<p>"+strings.Repeat("x", 60)+"</p>\n", 1000))
	switch {
	case behaviour == "browser-huge-page" && page: // 8 MiB of paragraphs, then the end
		body := bytes.Repeat(para, 8<<20/len(para))
		_, _ = fmt.Fprintf(c, "%sContent-Length: %d\r\n\r\n", html, len(body))
		_, _ = c.Write(body)
	case behaviour == "browser-endless-page" && page:
		flood(c, []byte(html+"\r\n<!doctype html>"), para)
	case behaviour == "browser-huge-subresource" && page:
		_, _ = io.WriteString(c, html+"\r\n<!doctype html><p>needle</p><script src=\"/big.js\"></script>")
	case behaviour == "browser-huge-subresource": // a script holds the load event until it ends
		flood(c, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/javascript\r\nConnection: close\r\n\r\n"), []byte(strings.Repeat("// "+strings.Repeat("x", 60)+"\n", 1000)))
	case behaviour == "browser-console-flood" && page: // 1 MiB messages, as fast as the page can
		_, _ = io.WriteString(c, html+"\r\n<!doctype html><p>needle</p><script>const m = \"x\".repeat(1<<20); setInterval(() => { console.log(m); console.error(m); throw new Error(m); }, 1)</script>")
	case behaviour == "browser-url-flood" && page: // requests for 1 MiB URLs, one after another
		_, _ = io.WriteString(c, html+"\r\n<!doctype html><p>needle</p><script>const u = \"/\" + \"x\".repeat(1<<20); (async () => { for (;;) await fetch(u).catch(() => {}); })()</script>")
	case behaviour == "browser-drip-page" && page:
		_, _ = io.WriteString(c, html+"\r\n<!doctype html><p>needle</p>")
		misbehave(c, "drip")
	default:
		_, _ = io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	}
}

// readHead reads an HTTP request's head and returns its Sec-WebSocket-Key.
func readHead(br *bufio.Reader) string {
	key := ""
	for range 100 {
		line, err := br.ReadString('\n')
		if err != nil || strings.TrimSpace(line) == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Sec-WebSocket-Key") {
			key = strings.TrimSpace(v)
		}
	}
	return key
}

func wsAccept(key string) []byte {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n")
}

// wsFrames is n unmasked text frames of size bytes each (size < 65536).
func wsFrames(size, n int) []byte {
	var b []byte
	for range n {
		b = append(b, 0x81, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(size))
		b = append(b, strings.Repeat("x", size)...)
	}
	return b
}

// flood writes head, then chunk again and again, within the peer's bounds.
func flood(c net.Conn, head, chunk []byte) {
	if _, err := c.Write(head); err != nil {
		return
	}
	for sent := 0; sent < hostileMaxBytes; sent += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// floodDNS answers each query with a burst of replies that are not for it
// (another ID), then stays silent.
func floodDNS(pc net.PacketConn) {
	buf := make([]byte, 512)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		reply := append([]byte{}, buf[:n]...)
		reply[0] ^= 0xff // not the query's ID
		reply[2] |= 0x80 // a response
		deadline := time.Now().Add(2 * time.Second)
		for i := 0; i < 1_000_000 && time.Now().Before(deadline); i++ {
			if _, err := pc.WriteTo(reply, from); err != nil {
				break
			}
		}
	}
}

// rawCodec passes messages as they are, so the peer can send the health
// client a reply far bigger than any HealthCheckResponse.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte{}, b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// serveBigGRPC answers every call with a message just under gRPC's default
// 4 MiB receive limit.
func serveBigGRPC(ln net.Listener) {
	big := make([]byte, 4<<20-64)
	srv := grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var req []byte
		if err := stream.RecvMsg(&req); err != nil {
			return err
		}
		return stream.SendMsg(&big)
	}))
	_ = srv.Serve(ln)
}

// Each probe kind against peers that flood it or stall it: what one run
// allocates stays within the bound on what it reads (plus 1 MiB for the
// run's own work), and the run ends by its deadline with a true reason.
func TestProbesBoundedAgainstHostilePeers(t *testing.T) {
	const timeout = time.Second
	const limit = 256 << 10 // max_body_bytes where the kind reads it
	for _, tc := range []struct {
		name, peer string
		spec       func(addr string) Spec
		bound      int64 // what the probe may read, configured or built in
		reasons    []Reason
	}{
		{"http body flood", "http-flood-body", func(a string) Spec {
			return Spec{Kind: "http", Target: "http://" + a + "/", MaxBodyBytes: limit, Expect: &Expect{BodyContains: "needle"}}
		}, limit, []Reason{ReasonBodyTooLarge}},
		{"http body flood, default max_body_bytes", "http-flood-body", func(a string) Spec {
			return Spec{Kind: "http", Target: "http://" + a + "/", Expect: &Expect{BodyContains: "needle"}}
		}, defaultMaxBody, []Reason{ReasonBodyTooLarge}},
		{"http header flood", "http-flood-headers", func(a string) Spec {
			return Spec{Kind: "http", Target: "http://" + a + "/", MaxBodyBytes: limit}
		}, limit, []Reason{ReasonBodyTooLarge}},
		{"http drip", "http-drip", func(a string) Spec { return Spec{Kind: "http", Target: "http://" + a + "/"} }, limit, []Reason{ReasonTimeout}},
		{"api body flood", "http-flood-body", func(a string) Spec {
			return Spec{Kind: "api", MaxBodyBytes: limit, Steps: []Step{{Name: "one", URL: "http://" + a + "/", Expect: Expect{BodyContains: "needle"}}}}
		}, limit, []Reason{ReasonBodyTooLarge}},
		{"domain RDAP flood", "http-flood-body", func(a string) Spec {
			return Spec{Kind: "domain", Target: "example.com", RDAPURL: "http://" + a + "/", MaxBodyBytes: limit}
		}, limit, []Reason{ReasonBodyTooLarge}},
		{"tcp flood", "tcp-flood", func(a string) Spec {
			return Spec{Kind: "tcp", Target: a, Expect: &Expect{Banner: "SSH-"}}
		}, bannerLimit, []Reason{ReasonBannerMismatch}},
		{"tcp drip", "drip", func(a string) Spec { return Spec{Kind: "tcp", Target: a, Expect: &Expect{Banner: "SSH-"}} }, bannerLimit, []Reason{ReasonBannerMismatch}},
		{"tls huge handshake", "tls-big-handshake", func(a string) Spec { return Spec{Kind: "tls", Target: a} }, 64 << 10, []Reason{ReasonTLSError}},
		{"tls drip", "drip", func(a string) Spec { return Spec{Kind: "tls", Target: a} }, 64 << 10, []Reason{ReasonTimeout, ReasonTLSError}},
		{"dns udp stray replies", "dns-udp-flood", func(a string) Spec {
			return Spec{Kind: "dns", Target: "example.com", Resolver: a}
		}, 64 << 10, []Reason{ReasonTimeout}},
		{"dns tcp drip", "dns-tcp-drip", func(a string) Spec {
			return Spec{Kind: "dns", Target: "example.com", Resolver: a, Protocol: "tcp"}
		}, 64 << 10, []Reason{ReasonTimeout}},
		{"grpc big message", "grpc-big-message", func(a string) Spec { return Spec{Kind: "grpc", Target: a, MaxBodyBytes: limit} }, limit, []Reason{ReasonBodyTooLarge}},
		{"websocket frame flood", "ws-flood-frames", func(a string) Spec {
			return Spec{Kind: "websocket", Target: "ws://" + a + "/", MaxBodyBytes: limit, Expect: &Expect{Message: "pong"}}
		}, limit, []Reason{ReasonBodyTooLarge}},
		{"websocket 256 MiB frame", "ws-big-frame", func(a string) Spec {
			return Spec{Kind: "websocket", Target: "ws://" + a + "/", MaxBodyBytes: limit, Expect: &Expect{Message: "pong"}}
		}, limit, []Reason{ReasonBodyTooLarge}},
		{"websocket header flood", "ws-flood-headers", func(a string) Spec {
			return Spec{Kind: "websocket", Target: "ws://" + a + "/", MaxBodyBytes: limit}
		}, limit, []Reason{ReasonBodyTooLarge}},
		{"websocket drip", "drip", func(a string) Spec {
			return Spec{Kind: "websocket", Target: "ws://" + a + "/", Expect: &Expect{Message: "pong"}}
		}, limit, []Reason{ReasonTimeout, ReasonConnectionError}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustProbe(t, tc.spec(hostilePeer(t, tc.peer)), Options{})
			r, alloc, wall := measureRun(p, timeout)
			t.Logf("%s %s in %s, %d KiB allocated: %s", r.Outcome, r.Reason, wall.Round(time.Millisecond), alloc>>10, truncate([]byte(r.Message), 160))
			if max := uint64(tc.bound) + 1<<20; alloc > max {
				t.Errorf("one run allocated %d KiB, more than the %d KiB bound + 1 MiB", alloc>>10, tc.bound>>10)
			}
			if wall > timeout+250*time.Millisecond {
				t.Errorf("one run took %s against a %s timeout", wall.Round(time.Millisecond), timeout)
			}
			if r.Latency > wall {
				t.Errorf("latency %s reported, the run took %s", r.Latency, wall)
			}
			if r.Outcome != Down || !containsReason(tc.reasons, r.Reason) {
				t.Errorf("%s %s, want down with one of %v", r.Outcome, r.Reason, tc.reasons)
			}
		})
	}
}

func containsReason(rs []Reason, r Reason) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// A 101 whose Sec-WebSocket-Accept does not answer our key is named as
// such, not as a status that is not 101.
func TestWebSocketBadAccept(t *testing.T) {
	p := mustProbe(t, Spec{Kind: "websocket", Target: "ws://" + hostilePeer(t, "ws-bad-accept") + "/"}, Options{})
	r := runWithin(p, time.Second)
	if r.Reason != ReasonStatusMismatch || !strings.Contains(r.Message, "Sec-WebSocket-Accept") || strings.Contains(r.Message, "not 101") {
		t.Fatalf("%s %q, want status_mismatch naming Sec-WebSocket-Accept", r.Reason, r.Message)
	}
}

// A browser check against pages that flood or stall it: the page's weight
// is bounded (max_body_bytes, every request of the page together), what
// one run allocates in Outpost stays within that bound plus 1 MiB, and the
// run ends by its deadline with a true reason and latency. Chromium's own
// memory is another process's: the Go heap metric sees only what the
// DevTools connection brings into Outpost.
func TestBrowserBoundedAgainstHostilePages(t *testing.T) {
	b := NewBrowser(chromium(t), "", 2)
	defer b.Close()
	warm := mustProbe(t, Spec{Kind: "browser", Steps: []Step{{Goto: loginApp(t).URL + "/login"}}}, Options{Browser: b})
	if r := runWithin(warm, 20*time.Second); r.Outcome != Up { // starts the browser, not measured
		t.Fatalf("a small page: %+v", r)
	}
	const timeout = 5 * time.Second // a new tab's renderer can take seconds to start on a busy machine
	const limit = 256 << 10
	for _, tc := range []struct {
		name, peer string
		reasons    []Reason
		perByte    uint64 // allowed beyond limit + 1 MiB, per byte the run read (page_bytes)
	}{
		{"8 MiB page", "browser-huge-page", []Reason{ReasonBodyTooLarge}, 0},
		{"endless page", "browser-endless-page", []Reason{ReasonBodyTooLarge}, 0},
		{"endless script", "browser-huge-subresource", []Reason{ReasonBodyTooLarge}, 0},
		{"dripping page", "browser-drip-page", []Reason{ReasonTimeout}, 0},
		{"console flood", "browser-console-flood", []Reason{ReasonTimeout}, 0},
		// A request's URL (Chromium takes up to 2 MiB) comes whole in the
		// events that announce it, and reading one costs chromedp about 8
		// times its size (measured with and without the race detector)
		// before the budget can count it. How many come after the one that ends the
		// run is Chromium's doing: those it sent before it turned its
		// network events off are read all the same (none to three under
		// load). So the bound is per byte read, which still fails a run
		// that does not count URLs (16 MiB in 5 s, a few hundred bytes
		// counted).
		{"URL flood", "browser-url-flood", []Reason{ReasonBodyTooLarge}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustProbe(t, Spec{Kind: "browser", MaxBodyBytes: limit, Steps: []Step{
				{Name: "open", Goto: "http://" + hostilePeer(t, tc.peer) + "/"}, {ExpectText: "needle"}, {WaitFor: "#never"}}}, Options{Browser: b})
			r, alloc, wall := measureRun(p, timeout)
			read, _ := r.Details["page_bytes"].(int64)
			t.Logf("%s %s in %s (latency %s), %d KiB allocated, %d KiB read: %s", r.Outcome, r.Reason, wall.Round(time.Millisecond),
				r.Latency.Round(time.Millisecond), alloc>>10, read>>10, truncate([]byte(r.Message), 160))
			if max := uint64(limit) + 1<<20 + tc.perByte*uint64(read); alloc > max {
				t.Errorf("one run allocated %d KiB, more than the %d KiB bound + 1 MiB + %d per byte of the %d KiB read", alloc>>10, limit>>10, tc.perByte, read>>10)
			}
			if wall > timeout+250*time.Millisecond {
				t.Errorf("one run took %s against a %s timeout", wall.Round(time.Millisecond), timeout)
			}
			if r.Latency > wall || (r.Reason == ReasonTimeout && r.Latency < timeout-250*time.Millisecond) {
				t.Errorf("latency %s reported, the run took %s", r.Latency, wall)
			}
			if r.Outcome != Down || !containsReason(tc.reasons, r.Reason) {
				t.Errorf("%s %s, want down with one of %v", r.Outcome, r.Reason, tc.reasons)
			}
		})
	}
}
