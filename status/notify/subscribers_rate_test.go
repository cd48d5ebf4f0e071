package notify

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// timedTransport is an email-kind Transport that records when each
// recipient's mail was handed to it (on the bubble's clock).
type timedTransport struct {
	kindTransport
	mu    sync.Mutex
	times map[string][]time.Time // recipient domain → send times
}

func (k *timedTransport) Send(ctx context.Context, jobs []store.WebhookJob) []store.WebhookOutcome {
	k.mu.Lock()
	for _, j := range jobs {
		d := k.Key(*j.Sub)
		k.times[d] = append(k.times[d], time.Now())
	}
	k.mu.Unlock()
	return k.kindTransport.Send(ctx, jobs)
}

func (k *timedTransport) sentTo(domain string) []time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]time.Time(nil), k.times[domain]...)
}

// confirmedEmail subscribes and confirms one email address through the log.
func confirmedEmail(t *testing.T, st *store.Store, id, addr string, now time.Time) {
	t.Helper()
	tok := "tok-" + id
	for _, e := range []store.Entry{
		{At: now, Subscribe: &store.NewSubscription{Sub: store.Subscription{ID: id, Kind: store.KindEmail, Address: addr,
			ConfirmHash: store.HashToken(tok), ConfirmUntil: now.Add(time.Hour), CreatedAt: now}}},
		{At: now, Confirm: &store.Confirmation{TokenHash: store.HashToken(tok)}},
	} {
		if _, err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
}

// The per-key rate (email: per recipient domain): one big domain's mails
// go out at the rate, in chunks of its burst, while the other domains'
// mails, queued behind them, go at once.
func TestKeyRateSpreadsOneDomainAndHoldsNoOther(t *testing.T) {
	const (
		big      = 100 // mails to big.example, queued first
		others   = 4   // other domains …
		perOther = 5   // … with this many mails each
		perSec   = 10.0
		burst    = 10
	)
	synctest.Test(t, func(t *testing.T) {
		st := openStore(t)
		start := time.Now()
		for i := range big {
			confirmedEmail(t, st, fmt.Sprintf("em_0%03d", i), fmt.Sprintf("u%d@big.example", i), start)
		}
		for d := range others {
			for i := range perOther {
				confirmedEmail(t, st, fmt.Sprintf("em_1%d%02d", d, i), fmt.Sprintf("u%d@small%d.example", i, d), start)
			}
		}
		ev := status.Event{ID: "evt-1", Type: status.IncidentCreated, At: start, Incident: &status.Incident{ID: "inc-1", Components: []string{"api"}}}
		announce(t, st, ev, []store.Dest{{Name: store.EmailDest}})

		tr := &timedTransport{kindTransport: kindTransport{kind: store.KindEmail, st: st}, times: map[string][]time.Time{}}
		loop := NewSubscribers(SubscribersOptions{Store: st, Transport: tr, Workers: 2, PerKey: 50, Batch: 50,
			MarkSending: true, KeyRate: perSec, Poll: time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { loop.Run(ctx); close(done) }()
		// Fake time: the whole run takes about (big-burst)/perSec seconds
		// of the bubble's clock and no real waiting.
		deadline := start.Add(time.Minute)
		for len(tr.sentTo("big.example")) < big && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		<-done

		bigTimes := tr.sentTo("big.example")
		if len(bigTimes) != big {
			t.Fatalf("big.example: %d of %d mails sent within a minute", len(bigTimes), big)
		}
		for i, at := range bigTimes {
			// The i-th mail (from 0) may start once the bucket refilled
			// i-burst+1 tokens.
			if earliest := start.Add(time.Duration(float64(i-burst+1) / perSec * float64(time.Second))); i >= burst && at.Before(earliest) {
				t.Fatalf("big.example: mail %d sent %v after the start, want at most %d at once then %v/s (not before %v)",
					i+1, at.Sub(start), burst, perSec, earliest.Sub(start))
			}
		}
		if last := bigTimes[big-1].Sub(start); last > 15*time.Second {
			t.Errorf("big.example: the last mail went %v after the start, want about %v", last, time.Duration((big-burst)/perSec)*time.Second)
		}
		for d := range others {
			domain := fmt.Sprintf("small%d.example", d)
			got := tr.sentTo(domain)
			if len(got) != perOther {
				t.Errorf("%s: %d mails sent, want %d", domain, len(got), perOther)
				continue
			}
			if late := got[len(got)-1].Sub(start); late > 0 {
				t.Errorf("%s: held %v behind big.example's throttle, want sent at once", domain, late)
			}
		}
	})
}
