package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/webhook"
)

var fanoutProfile = flag.String("fanout.profile", "", "BenchmarkClusterWebhookFanout: write the leader's CPU profile of each fan-out round into this folder")

// fanoutReceiver is one loopback host of webhook subscribers: a secret
// per path, each delivery's signature verified as docs/webhooks.md says.
type fanoutReceiver struct {
	srv       *httptest.Server
	mu        sync.Mutex
	secrets   map[string]string
	delivered atomic.Int64
	rejected  atomic.Int64
	last      atomic.Int64 // unix nanos of the latest delivery
}

func newFanoutReceiver(b *testing.B) *fanoutReceiver {
	r := &fanoutReceiver{secrets: map[string]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		r.mu.Lock()
		secret := r.secrets[req.URL.Path]
		r.mu.Unlock()
		if _, err := webhook.Verify(secret, req.Header, body, time.Now(), webhook.DefaultTolerance); err != nil {
			r.rejected.Add(1)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.delivered.Add(1)
		r.last.Store(time.Now().UnixNano())
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(r.srv.Close)
	return r
}

// adminPost sends an admin API request with the bench's token through
// client.
func adminPost(b *testing.B, client *http.Client, url, body string) (int, string) {
	b.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+opsToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(out)
}

// clientFrom is an HTTP client whose connections leave from ip (a
// loopback address of 127.0.0.0/8).
func clientFrom(ip net.IP) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 30 * time.Second}
}

// subscribeAll adds hosts×perHost active subscribers through the admin
// API of the member at base, eight at a time. Creating subscriptions is
// limited per client address, admin tokens included (10 at once, then 10
// a minute), so each host's subscribers are added from an address of
// their own (127.0.1.h).
func subscribeAll(b *testing.B, base string, hosts, perHost int) []*fanoutReceiver {
	b.Helper()
	rcvs := make([]*fanoutReceiver, hosts)
	clients := make([]*http.Client, hosts)
	for h := range clients {
		clients[h] = clientFrom(net.IPv4(127, 0, 1, byte(1+h)))
	}
	jobs := make(chan [2]int)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 8 {
		wg.Go(func() {
			for j := range jobs {
				r, path := rcvs[j[0]], fmt.Sprintf("/hooks/%d", j[1])
				code, body := adminPost(b, clients[j[0]], base+"/api/v1/subscriptions", `{"url":"`+r.srv.URL+path+`"}`)
				var c webhook.Created
				if code != http.StatusCreated || json.Unmarshal([]byte(body), &c) != nil {
					failed.Store(fmt.Sprintf("subscribe: %d %s", code, body))
					continue
				}
				r.mu.Lock()
				r.secrets[path] = c.Secret
				r.mu.Unlock()
			}
		})
	}
	for h := range hosts {
		rcvs[h] = newFanoutReceiver(b)
		for i := range perHost {
			jobs <- [2]int{h, i}
		}
	}
	close(jobs)
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		b.Fatal(msg)
	}
	return rcvs
}

// webhookBacklog is the leader's webhook outbox and open deliveries, as
// its /api/v1/health says (-1: unreadable).
func webhookBacklog(ops string) int {
	var h struct {
		Outbox   map[string]struct{ Pending int }
		Webhooks *struct {
			Open int `json:"open_deliveries"`
		}
	}
	_, body := getURL(ops + "/api/v1/health")
	if json.Unmarshal([]byte(body), &h) != nil || h.Webhooks == nil {
		return -1
	}
	return h.Outbox["@webhooks"].Pending + h.Webhooks.Open
}

// BenchmarkClusterWebhookFanout: 1,000 webhook subscribers (100 loopback
// hosts, 10 each, added through the admin API) of three members; five
// rounds, each an incident committed through the admin API of the leader
// (created, then four updates): the time from the request to every
// delivery recorded as made on the leader (its outbox and open
// deliveries empty, every receiver served). About 1 min:
//
//	go test ./cmd/outpost -run '^$' -bench ClusterWebhookFanout -benchtime 1x -v
func BenchmarkClusterWebhookFanout(b *testing.B) {
	b.Setenv("OUTPOST_ADMIN_TOKEN", opsToken)
	for range b.N {
		tg := &target{addr: "127.0.0.1:0"}
		tg.start(b)
		defer tg.stop()
		c := startBenchCluster(b, tg.addr, "webhooks: {enabled: true, allow_http: true, allow_private_targets: true}\n"+
			"admin: {tokens: [{name: oncall, token: \"${OUTPOST_ADMIN_TOKEN}\"}]}\n")
		leader := leaderOf(c.nodes)
		start := time.Now()
		rcvs := subscribeAll(b, leader.base, 100, 10)
		b.Logf("1,000 subscribers added in %.1f s (load %s)", time.Since(start).Seconds(), loadAverage())
		var recorded, arrived []time.Duration
		incident := ""
		for round := range 5 {
			r, a := fanoutRound(b, leader, rcvs, round, &incident)
			recorded, arrived = append(recorded, r), append(arrived, a)
			b.Logf("round %d: last delivery arrived %.2f s, all recorded %.2f s (load %s)", round, a.Seconds(), r.Seconds(), loadAverage())
		}
		reportDistribution(b, "arrived", arrived)
		reportDistribution(b, "recorded", recorded)
		for _, r := range rcvs {
			if r.rejected.Load() != 0 {
				b.Fatalf("%d deliveries failed their signature check", r.rejected.Load())
			}
		}
	}
}

// fanoutRound commits one incident event on the leader and waits for its
// 1,000 deliveries: made, then recorded.
func fanoutRound(b *testing.B, leader *clusterProc, rcvs []*fanoutReceiver, round int, incident *string) (recorded, arrived time.Duration) {
	b.Helper()
	stop := profileLeader(b, leader, round)
	defer stop()
	start := time.Now()
	if *incident == "" {
		code, body := adminPost(b, http.DefaultClient, leader.base+"/api/v1/incidents", `{"name":"Fan-out","message":"Looking into it."}`)
		var inc struct{ ID string }
		if code != http.StatusCreated || json.Unmarshal([]byte(body), &inc) != nil {
			b.Fatalf("incident: %d %s", code, body)
		}
		*incident = inc.ID
	} else if code, body := adminPost(b, http.DefaultClient, leader.base+"/api/v1/incidents/"+*incident+"/updates", fmt.Sprintf(`{"message":"Update %d."}`, round)); code != http.StatusCreated {
		b.Fatalf("update: %d %s", code, body)
	}
	// The evidence that "recorded" waits for something: the event is
	// committed and its deliveries not yet all recorded.
	b.Logf("round %d: backlog on the leader as the commit is answered: %d", round, webhookBacklog(leader.ops))
	want := int64(10 * (round + 1))
	waitBenchCond(b, 60*time.Second, "every delivery made", func() bool {
		for _, r := range rcvs {
			if r.delivered.Load() < want {
				return false
			}
		}
		return true
	})
	var last int64
	for _, r := range rcvs {
		last = max(last, r.last.Load())
	}
	arrived = time.Unix(0, last).Sub(start)
	waitBenchCond(b, 60*time.Second, "every delivery recorded on the leader", func() bool { return webhookBacklog(leader.ops) == 0 })
	return time.Since(start), arrived
}

// profileLeader starts a CPU profile of the leader for one round when
// -fanout.profile is set; stop writes it.
func profileLeader(b *testing.B, leader *clusterProc, round int) (stop func()) {
	if *fanoutProfile == "" {
		return func() {}
	}
	done := make(chan []byte, 1)
	go func() {
		resp, err := http.Get(leader.ops + "/debug/pprof/profile?seconds=5")
		if err != nil {
			done <- nil
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		done <- body
	}()
	time.Sleep(100 * time.Millisecond) // let the profile start before the round's request
	return func() {
		if p := <-done; p != nil {
			_ = os.WriteFile(filepath.Join(*fanoutProfile, fmt.Sprintf("leader-round%d.pprof", round)), p, 0o644)
		}
	}
}
