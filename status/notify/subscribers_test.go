package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// kindTransport is a Transport of one kind that records what it was
// handed; fail answers a permanent failure for the subscriber ids in it.
type kindTransport struct {
	kind store.SubKind
	st   *store.Store
	fail map[string]bool

	mu       sync.Mutex
	batches  [][]string // subscriber ids per Send
	unmarked []string   // deliveries not marked sending when handed over
}

func (k *kindTransport) Kind() store.SubKind { return k.kind }

func (k *kindTransport) Fan(r store.OutboxRow, subs []store.Subscription) store.FannedRow {
	f := store.FannedRow{Body: []byte(`{}`)}
	for _, s := range subs {
		f.Subs = append(f.Subs, s.ID)
	}
	return f
}

// Key is the recipient's domain for email, the URL for a webhook.
func (k *kindTransport) Key(sub store.Subscription) string {
	if _, domain, ok := strings.Cut(sub.Address, "@"); ok {
		return domain
	}
	return sub.URL
}

func (k *kindTransport) Ready(j store.WebhookJob) Readiness {
	if j.Sub.State == store.SubActive {
		return Send
	}
	return Cancel
}

func (k *kindTransport) Send(_ context.Context, jobs []store.WebhookJob) []store.WebhookOutcome {
	var ids []string
	out := make([]store.WebhookOutcome, len(jobs))
	for i, j := range jobs {
		ids = append(ids, j.Sub.ID)
		log, _ := k.st.WebhookLog(j.Sub.ID, 1)
		if len(log) != 1 || log[0].State != store.Sending {
			k.mu.Lock()
			k.unmarked = append(k.unmarked, j.Sub.ID)
			k.mu.Unlock()
		}
		out[i] = store.WebhookOutcome{Seq: j.Delivery.Seq, At: time.Now(), Status: 250}
		if k.fail[j.Sub.ID] {
			out[i].Status, out[i].Error, out[i].Permanent = 550, "550 no such user", true
		}
	}
	k.mu.Lock()
	k.batches = append(k.batches, ids)
	k.mu.Unlock()
	return out
}

func (k *kindTransport) sent() [][]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([][]string(nil), k.batches...)
}

// One loop type, notify.Subscribers, drives both kinds of subscriber from
// one store: each loop fans out its own kind's destination and sends only
// its kind's deliveries; the email one commits a sending mark for a batch
// before handing it over and sends a domain's mails in one batch; the
// outcomes go through the kind's rule.
func TestOneLoopTypeDrivesBothKinds(t *testing.T) {
	st := openStore(t)
	now := time.Now()
	mustApply := func(e store.Entry) {
		t.Helper()
		if _, err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	mustApply(store.Entry{At: now, Subscribe: &store.NewSubscription{
		Sub:    store.Subscription{ID: "wh_1", URL: "https://hooks.example.com/a", State: store.SubActive, Client: "c", CreatedAt: now},
		Verify: store.WebhookDelivery{Type: store.VerifyType, State: store.Sent, CreatedAt: now}}})
	for i, addr := range []string{"a@example.com", "b@example.com", "c@example.org"} {
		id, tok := fmt.Sprintf("em_%d", i), fmt.Sprintf("tok-%d", i)
		mustApply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: store.Subscription{ID: id, Kind: store.KindEmail, Address: addr,
			ConfirmHash: store.HashToken(tok), ConfirmUntil: now.Add(time.Hour), CreatedAt: now}}})
		mustApply(store.Entry{At: now, Confirm: &store.Confirmation{TokenHash: store.HashToken(tok)}})
	}
	ev := status.Event{ID: "evt-1", Type: status.IncidentCreated, At: now, Incident: &status.Incident{ID: "inc-1", Components: []string{"api"}}}
	announce(t, st, ev, []store.Dest{{Name: store.WebhooksDest}, {Name: store.EmailDest}})

	web := &kindTransport{kind: store.KindWebhook, st: st}
	mail := &kindTransport{kind: store.KindEmail, st: st, fail: map[string]bool{"em_2": true}}
	loops := []*Subscribers{
		NewSubscribers(SubscribersOptions{Store: st, Transport: web, Poll: 10 * time.Millisecond}),
		NewSubscribers(SubscribersOptions{Store: st, Transport: mail, Poll: 10 * time.Millisecond, Batch: 10, MarkSending: true,
			Policy: store.WebhookPolicy{EmailSchedule: []time.Duration{time.Minute}}}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(func() { l.Run(ctx) })
	}
	defer func() { cancel(); wg.Wait() }()
	eventually(t, "every delivery recorded", func() bool {
		hooks, err := st.OpenDeliveries(store.KindWebhook, 0, 10)
		mails, err2 := st.OpenDeliveries(store.KindEmail, 0, 10)
		return err == nil && err2 == nil && len(hooks)+len(mails) == 0 && len(web.sent()) > 0 && len(mail.sent()) > 0
	})
	if got := web.sent(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != "wh_1" {
		t.Errorf("webhook transport was handed %v, want [[wh_1]]", got)
	}
	if got := mail.sent(); len(got) != 2 || len(got[0])+len(got[1]) != 3 {
		t.Errorf("email transport was handed %v, want one batch per domain: [em_0 em_1] and [em_2]", got)
	}
	if len(mail.unmarked) != 0 {
		t.Errorf("handed over before their sending mark was committed: %v", mail.unmarked)
	}
	for id, want := range map[string]store.DeliveryState{"wh_1": store.Sent, "em_0": store.Sent, "em_1": store.Sent, "em_2": store.Failed} {
		if log, err := st.WebhookLog(id, 1); err != nil || len(log) != 1 || log[0].State != want || log[0].MessageID != "evt-1" {
			t.Errorf("%s: %+v (%v), want %s", id, log, err, want)
		}
	}
	if sub, _ := st.Subscription("em_2"); sub.PermanentFailures != 1 {
		t.Errorf("em_2 after a 550: %d permanent failures, want 1", sub.PermanentFailures)
	}
}
