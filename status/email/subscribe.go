package email

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/outpost-status/outpost/status/store"
)

// Double opt-in: a valid subscribe form becomes a pending subscriber and a
// confirmation mail. The mail is sent here, at once, not through the
// delivery loop: the person is waiting for it, and if Outpost stops
// between the entry and the send the mail is lost and the person
// subscribes again (the entry is harmless: unconfirmed subscribers are
// forgotten after 7 days).

// MaxConfirmations is how many confirmation mails one address gets in
// ConfirmWindow; further requests are answered alike and send nothing.
const (
	MaxConfirmations = 3
	ConfirmWindow    = 24 * time.Hour
)

// maxTracked bounds the addresses the confirmation limit remembers, so a
// flood of made-up addresses cannot grow memory without end.
const maxTracked = 50_000

// SubscriberReads is the read the service needs (store.Store).
type SubscriberReads interface {
	EmailSubscriber(address string) (store.Subscription, error)
}

// SubscribeOptions configure a Subscribe service.
type SubscribeOptions struct {
	Log       store.Log // the one way in
	Store     SubscriberReads
	Composer  *Composer
	Transport *Transport
	SiteURL   string
	Now       func() time.Time
	Logger    *slog.Logger
}

// Request is a valid subscribe form.
type Request struct {
	Address     string
	Components  []string // nil: all
	Maintenance bool
}

// Subscribe takes subscribe requests: a pending subscriber and its
// confirmation mail.
type Subscribe struct {
	o    SubscribeOptions
	base string
	sent *sentLog
}

// NewSubscribe builds the service.
func NewSubscribe(o SubscribeOptions) *Subscribe {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Subscribe{o: o, base: strings.TrimRight(o.SiteURL, "/"), sent: &sentLog{at: map[string][]time.Time{}}}
}

// Request stores r's address as a pending subscriber and mails it the
// confirmation link. It answers nil alike for a new address, one pending,
// one already confirmed (which gets no mail) and one over its limit, so
// the answer tells nobody who subscribes; an error means a new request
// could not be stored or its mail not handed over: try again.
func (s *Subscribe) Request(ctx context.Context, r Request) error {
	now := s.o.Now()
	addr := strings.ToLower(r.Address)
	if old, err := s.o.Store.EmailSubscriber(addr); err == nil && old.State != store.SubPending {
		return nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read subscriber: %w", err)
	}
	if !s.sent.allow(addr, now) {
		s.o.Logger.Info("confirmation mail not sent: the address had its 3 in 24 h")
		return nil
	}
	token := base64.RawURLEncoding.EncodeToString(random(32)) // drawn here, never inside an apply
	sub := store.Subscription{ID: "em_" + hex.EncodeToString(random(10)), Kind: store.KindEmail, Address: r.Address,
		Components: r.Components, Maintenance: r.Maintenance, ConfirmHash: store.HashToken(token),
		ConfirmUntil: now.Add(ConfirmValidity), CreatedAt: now, StateAt: now}
	res, err := s.o.Log.Apply(store.Entry{At: now, Subscribe: &store.NewSubscription{Sub: sub}})
	if err != nil {
		return fmt.Errorf("store subscriber: %w", err)
	}
	if res.Subscription.State != store.SubPending { // confirmed meanwhile
		return nil
	}
	return s.mail(ctx, res.Subscription, token, now)
}

// mail sends the confirmation straight to the SMTP server.
func (s *Subscribe) mail(ctx context.Context, sub store.Subscription, token string, now time.Time) error {
	m, err := s.o.Composer.Confirm(Confirmation{ID: "confirm." + store.HashToken(token)[:16], At: now,
		To: Subscriber{ID: sub.ID, Address: sub.Address}, Link: s.base + "/confirm/" + token})
	if err != nil {
		return err
	}
	out := s.o.Transport.Send(ctx, []Message{m})
	if len(out) != 1 || out[0].Err != nil {
		var cause error = errors.New("no outcome")
		if len(out) == 1 {
			cause = out[0].Err
		}
		return fmt.Errorf("confirmation mail for %s: %w", sub.ID, addressFree{cause})
	}
	s.o.Logger.Info("confirmation mail sent", slog.String("subscription", sub.ID))
	return nil
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// sentLog remembers, per address, when its confirmation mails went, for
// MaxConfirmations per ConfirmWindow. It is kept in memory, not in the
// subscriber's record: the limit protects a mailbox from being flooded,
// not the state (the mail itself is sent outside the log), so a restart
// that forgets it allows at most 3 more mails, and a stored count would
// cost a log entry per refused request.
type sentLog struct {
	mu    sync.Mutex
	at    map[string][]time.Time
	swept time.Time // the last sweep of a full log: at most one a minute
}

// allow records a mail to addr at now if addr had fewer than
// MaxConfirmations within the window; when the log is full even after
// dropping what is past the window, it refuses (no mail; same answer).
func (l *sentLog) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.recent(addr, now)
	if len(recent) >= MaxConfirmations {
		return false
	}
	if _, known := l.at[addr]; !known && len(l.at) >= maxTracked {
		// A flood of made-up addresses fills the log: sweeping it on
		// every request would make each one walk 50,000 entries.
		if now.Sub(l.swept) >= time.Minute {
			l.swept = now
			for a := range l.at {
				l.recent(a, now)
			}
		}
		if len(l.at) >= maxTracked {
			return false
		}
	}
	l.at[addr] = append(recent, now)
	return true
}

// recent keeps and returns addr's mails within the window before now.
func (l *sentLog) recent(addr string, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range l.at[addr] {
		if now.Sub(t) < ConfirmWindow {
			keep = append(keep, t)
		}
	}
	if keep == nil {
		delete(l.at, addr)
	} else {
		l.at[addr] = keep
	}
	return keep
}
