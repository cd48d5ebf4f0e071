package web

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the writes on the connections it accepts.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return countingConn{c, l.writes}, err
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// A small site's page, summary and badge (20 components with 90 days of
// history each) fit net/http's 4 KiB write buffer with their headers and
// go out in one write (one syscall, one TCP segment on loopback), over a
// real connection: the page is 2,982 bytes on the wire. With a cell and a
// title per day it was 4,982: two writes.
func TestSmallResponsesGoOutInOneWrite(t *testing.T) {
	s, _ := testServer(t)
	if err := s.Update(sizedSnapshot(4, 5)); err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Listener = countingListener{srv.Listener, &writes}
	srv.Start()
	defer srv.Close()
	for _, path := range []string{"/", "/api/v2/summary.json", "/badge/c-0-0.svg"} {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.URL, "http://"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		before := writes.Load()
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: status.acme.test\r\nAccept-Encoding: gzip\r\n\r\n", path)
		var raw strings.Builder
		resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(conn, &raw)), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("%s: %d, %d bytes", path, resp.StatusCode, len(body))
		}
		if raw.Len() > 4096 {
			t.Fatalf("%s: %d bytes on the wire do not fit one 4 KiB write; shrink the fixture or the headers", path, raw.Len())
		}
		t.Logf("%s: %d bytes with headers", path, raw.Len())
		if n := writes.Load() - before; n != 1 {
			t.Errorf("%s (%d bytes with headers) took %d writes", path, raw.Len(), n)
		}
	}
}
