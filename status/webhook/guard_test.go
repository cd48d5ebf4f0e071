package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		ip      string
		refused bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"10.1.2.3", true}, {"172.16.0.1", true},
		{"192.168.1.1", true}, {"169.254.169.254", true}, {"100.64.0.1", true},
		{"0.0.0.0", true}, {"::", true}, {"224.0.0.1", true}, {"ff02::1", true},
		{"fe80::1", true}, {"fc00::1", true}, {"fd00:ec2::254", true}, {"::ffff:10.0.0.1", true},
		{"64:ff9b::a00:1", true}, {"255.255.255.255", true}, {"198.18.0.1", true},
		{"::a00:1", true}, {"2002:a00:1::1", true}, {"2002:808:808::1", true}, {"64:ff9b:1::a00:1", true},
		{"203.0.114.1", false}, {"8.8.8.8", false}, {"2606:4700::1111", false}, {"::ffff:8.8.8.8", false},
	} {
		if got := Refused(netip.MustParseAddr(tc.ip)); got != tc.refused {
			t.Errorf("Refused(%s) = %v, want %v", tc.ip, got, tc.refused)
		}
	}
}

type dials struct {
	mu  sync.Mutex
	log []string
	err []error
}

func (d *dials) observe(address string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log, d.err = append(d.log, address), append(d.err, err)
}

func TestClientRefusesLoopbackUnlessAllowed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()

	var d dials
	_, err := NewClient(ClientOptions{control: d.observe}).Post(srv.URL, "application/json", nil)
	if !errors.Is(err, ErrRefusedAddress) || hits.Load() != 0 {
		t.Fatalf("loopback not refused: err %v, receiver hits %d", err, hits.Load())
	}
	if len(d.err) == 0 || !errors.Is(d.err[0], ErrRefusedAddress) {
		t.Fatalf("Control did not refuse: %v %v", d.log, d.err)
	}

	resp, err := NewClient(ClientOptions{AllowPrivate: true}).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("allowed delivery: status %d, hits %d", resp.StatusCode, hits.Load())
	}
}

// A public-looking name that resolves to a private address is refused in the
// dialer's Control hook, which runs before connect(2): no packet leaves.
func TestClientRefusesNameResolvingToPrivateAddress(t *testing.T) {
	var d dials
	resolver := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host != "hooks.customer.test" {
			t.Errorf("resolved %q", host)
		}
		return []netip.Addr{netip.MustParseAddr("10.20.30.40"), netip.MustParseAddr("169.254.169.254")}, nil
	}
	_, err := NewClient(ClientOptions{Resolver: resolver, control: d.observe}).Post("http://hooks.customer.test:8080/hook", "application/json", nil)
	if !errors.Is(err, ErrRefusedAddress) {
		t.Fatalf("err %v, want ErrRefusedAddress", err)
	}
	want := []string{"10.20.30.40:8080", "169.254.169.254:8080"}
	if len(d.log) != len(want) {
		t.Fatalf("dials %v, want %v", d.log, want)
	}
	for i := range want {
		if d.log[i] != want[i] || !errors.Is(d.err[i], ErrRefusedAddress) {
			t.Fatalf("dial %d: %s %v, want %s refused", i, d.log[i], d.err[i], want[i])
		}
	}
}

func TestClientFollowsNoRedirect(t *testing.T) {
	var moved atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { moved.Add(1) }))
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer srv.Close()

	resp, err := NewClient(ClientOptions{AllowPrivate: true}).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || moved.Load() != 0 {
		t.Fatalf("status %d, redirect target hit %d times", resp.StatusCode, moved.Load())
	}
}

// The host's own public addresses reach its own services: a subscriber URL
// that resolves to one is refused before connect, like a private one.
func TestClientRefusesTheHostsOwnAddresses(t *testing.T) {
	own := netip.MustParseAddr("2001:db8:1:2::1")
	var d dials
	resolver := func(context.Context, string) ([]netip.Addr, error) { return []netip.Addr{own}, nil }
	local := func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("127.0.0.1"), own}, nil }
	_, err := NewClient(ClientOptions{Resolver: resolver, LocalAddrs: local, control: d.observe}).Post("http://hooks.customer.test/h", "application/json", nil)
	if !errors.Is(err, ErrRefusedAddress) || len(d.err) != 1 || !errors.Is(d.err[0], ErrRefusedAddress) {
		t.Fatalf("own address: err %v, dials %v %v", err, d.log, d.err)
	}
	// Unreadable interface addresses refuse rather than risk it.
	d = dials{}
	broken := func() ([]netip.Addr, error) { return nil, errors.New("netlink: no") }
	pub := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("203.0.113.10")}, nil
	}
	if _, err := NewClient(ClientOptions{Resolver: pub, LocalAddrs: broken, control: d.observe}).Post("http://hooks.customer.test/h", "application/json", nil); !errors.Is(err, ErrRefusedAddress) {
		t.Fatalf("unknown own addresses: err %v", err)
	}
}
