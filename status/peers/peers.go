// Package peers lets Outposts watch each other: each serves a signed health
// summary and polls its peers', so two Outposts on different providers
// notice when the other dies, stalls or is impersonated.
package peers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
)

// SignatureHeader carries the hex HMAC-SHA256 of the body.
const SignatureHeader = "X-Outpost-Signature"

// MaxSkew is how old (or early) a summary may be: older is a replay.
const MaxSkew = 2 * time.Minute

// Summary is what an Outpost says about itself.
type Summary struct {
	Site    string    `json:"site"`
	For     string    `json:"for"` // the peer that asked: a summary cannot be replayed to another
	At      time.Time `json:"at"`
	Healthy bool      `json:"healthy"`
	Reason  string    `json:"reason,omitempty"`
}

// Sign is the hex HMAC-SHA256 of body under key.
func Sign(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Handler serves /api/v1/peer?from=SITE_ID to configured peers.
func Handler(self string, ps []config.Peer, health func() (bool, string), now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from := r.URL.Query().Get("from")
		var key string
		for _, p := range ps {
			if p.Name == from {
				key = p.Key
			}
		}
		if key == "" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":404,"message":"not a peer"}}`)
			return
		}
		ok, why := health()
		body, _ := json.Marshal(Summary{Site: self, For: from, At: now().UTC(), Healthy: ok, Reason: why})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set(SignatureHeader, Sign(key, body))
		_, _ = w.Write(body)
	})
}

// Poller polls peers and reports monitor.peer_down / peer_up.
type Poller struct {
	Self     string
	Peers    []config.Peer
	Interval time.Duration
	Failures int // consecutive bad polls before peer_down
	Client   *http.Client
	Now      func() time.Time
	Log      *slog.Logger
	// Events takes each transition (an operators-only event), in order;
	// the poller waits until it is taken or its context ends. The poller
	// calls no one: whoever records events (the node) reads them.
	Events chan<- status.Event

	bad  map[string]int
	down map[string]bool
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	p.bad, p.down = map[string]int{}, map[string]bool{}
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		for _, peer := range p.Peers {
			p.observe(ctx, peer, p.check(ctx, peer))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check asks one peer; nil means it answered, signed, fresh and healthy.
func (p *Poller) check(ctx context.Context, peer config.Peer) error {
	ctx, cancel := context.WithTimeout(ctx, min(p.Interval, 10*time.Second))
	defer cancel()
	u := strings.TrimRight(peer.URL, "/") + "/api/v1/peer?from=" + url.QueryEscape(p.Self)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s", resp.Status)
	}
	if !hmac.Equal([]byte(resp.Header.Get(SignatureHeader)), []byte(Sign(peer.Key, body))) {
		return errors.New("bad signature: not our peer, or the shared key differs")
	}
	var s Summary
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("unreadable summary: %w", err)
	}
	switch now := p.Now(); {
	case s.Site != peer.Name || s.For != p.Self:
		return fmt.Errorf("summary is for %s→%s, not %s→%s", s.Site, s.For, peer.Name, p.Self)
	case now.Sub(s.At) > MaxSkew || s.At.Sub(now) > MaxSkew:
		return fmt.Errorf("stale summary from %s (a replay, or clocks differ)", s.At.Format(time.RFC3339))
	case !s.Healthy:
		return fmt.Errorf("unhealthy: %s", s.Reason)
	}
	return nil
}

func (p *Poller) observe(ctx context.Context, peer config.Peer, err error) {
	now := p.Now().UTC()
	if err == nil {
		p.bad[peer.Name] = 0
		if p.down[peer.Name] {
			p.down[peer.Name] = false
			p.Log.Info("peer up", "peer", peer.Name)
			p.report(ctx, status.Event{ID: fmt.Sprintf("peer-%s-up-%d", peer.Name, now.Unix()), Type: status.MonitorPeerUp, At: now,
				Text: fmt.Sprintf("Peer Outpost %s (%s) answers again.", peer.Name, peer.URL)})
		}
		return
	}
	p.bad[peer.Name]++
	if p.bad[peer.Name] >= max(p.Failures, 1) && !p.down[peer.Name] {
		p.down[peer.Name] = true
		p.Log.Warn("peer down", "peer", peer.Name, "error", err)
		p.report(ctx, status.Event{ID: fmt.Sprintf("peer-%s-down-%d", peer.Name, now.Unix()), Type: status.MonitorPeerDown, At: now,
			Text: fmt.Sprintf("Peer Outpost %s (%s) is down: %v", peer.Name, peer.URL, err)})
	}
}

// report hands ev to whoever reads Events, unless ctx ends first.
func (p *Poller) report(ctx context.Context, ev status.Event) {
	select {
	case p.Events <- ev:
	case <-ctx.Done():
	}
}
