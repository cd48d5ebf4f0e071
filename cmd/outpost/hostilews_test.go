package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wsPeer is a hostile WebSocket server on loopback: it accepts the
// handshake, then sends frames without end (or one 256 MiB frame), and
// records how long each connection lasted.
type wsPeer struct {
	ln    net.Listener
	mu    sync.Mutex
	lives []time.Duration
}

func startWSPeer(t *testing.T, bigFrame bool) *wsPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wsPeer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, bigFrame)
		}
	}()
	return p
}

func (p *wsPeer) serve(c net.Conn, bigFrame bool) {
	defer c.Close()
	began := time.Now()
	defer func() { p.mu.Lock(); p.lives = append(p.lives, time.Since(began)); p.mu.Unlock() }()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // every flood ends, whatever the client does
	br := bufio.NewReader(c)
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
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	head := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
	var chunk []byte
	if bigFrame {
		head = binary.BigEndian.AppendUint64(append(head, 0x81, 127), 256<<20)
		chunk = []byte(strings.Repeat("x", 64<<10))
	} else {
		for range 64 { // 64 text frames of 1000 bytes
			chunk = binary.BigEndian.AppendUint16(append(chunk, 0x81, 126), 1000)
			chunk = append(chunk, strings.Repeat("x", 1000)...)
		}
	}
	if _, err := c.Write(head); err != nil {
		return
	}
	for sent := 0; sent < 256<<20; sent += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

func (p *wsPeer) connections() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.lives...)
}

// procKB reads one kB field (VmRSS, VmHWM) of /proc/PID/status, in bytes.
func procKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// The real binary under serve, with two websocket checks against servers
// that flood frames or send one 256 MiB frame: its RSS stays within 50 MiB
// of its start, each run ends by its deadline, and a 1 s http check beside
// them still runs at least 20 times in 25 s.
func TestWebSocketFloodUnderServe(t *testing.T) {
	flood, big := startWSPeer(t, false), startWSPeer(t, true)
	var hits atomic.Int64
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write([]byte("ok")) })}
	wln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go web.Serve(wln)
	t.Cleanup(func() { web.Close() })

	listen := closedAddr(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
site: {title: Flood}
listen: %s
components: [{id: shop, name: Shop}, {id: feed, name: Feed}]
checks:
  - {name: shop-home, component: shop, kind: http, target: "http://%s/", interval: 1s, timeout: 1s}
  - {name: feed-flood, component: feed, kind: websocket, target: "ws://%s/", interval: 1s, timeout: 1s, expect: {message: pong}}
  - {name: feed-big, component: feed, kind: websocket, target: "ws://%s/", interval: 1s, timeout: 1s, expect: {message: pong}}
%s`, listen, wln.Addr(), flood.ln.Addr(), big.ln.Addr(), opsLine(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startOutpost(t, outpostBinary(t), cfg, listen)
	pid := p.cmd.Process.Pid
	startRSS, startHits := procKB(pid, "VmRSS"), hits.Load()
	const window, slack = 25 * time.Second, 50 << 20
	deadline := time.Now().Add(window)
	for time.Now().Before(deadline) {
		// Sampled often, so a leak fails fast instead of eating the machine.
		if rss := procKB(pid, "VmRSS"); rss > startRSS+slack {
			t.Fatalf("RSS %d MiB, started at %d MiB (+%d MiB allowed)", rss>>20, startRSS>>20, slack>>20)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if hwm := procKB(pid, "VmHWM"); hwm > startRSS+slack {
		t.Errorf("peak RSS %d MiB, started at %d MiB", hwm>>20, startRSS>>20)
	}
	if n := hits.Load() - startHits; n < 20 {
		t.Errorf("the 1 s http check ran %d times in %s, want at least 20", n, window)
	}
	for name, peer := range map[string]*wsPeer{"flood": flood, "256 MiB frame": big} {
		lives := peer.connections()
		if len(lives) < 10 {
			t.Errorf("%s: %d runs ended in %s", name, len(lives), window)
		}
		for _, d := range lives {
			if d > time.Second+250*time.Millisecond {
				t.Errorf("%s: a run held its connection %s against a 1 s timeout", name, d.Round(time.Millisecond))
			}
		}
	}
	t.Logf("RSS %d → peak %d MiB; http runs %d; flood runs %d, big-frame runs %d", startRSS>>20, procKB(pid, "VmHWM")>>20,
		hits.Load()-startHits, len(flood.connections()), len(big.connections()))
}
