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
//
// The form and the JSON API do not wait for any of it: they hand the
// request to Submit, which checks only the address's spelling and queues
// it, and answer. Run stores it and sends the mail afterwards. An answer
// that waited would tell who subscribes: an address already confirmed
// costs one read and no mail, a new one an fsync and an SMTP exchange
// (seconds on a slow server), and a mail server's refusal (a 503) would
// only ever reach new addresses.

// MaxConfirmations is how many confirmation mails one mailbox (every
// ann+tag@ spelling of ann@) gets in ConfirmWindow; further requests are
// answered alike and send nothing. The count is kept by the Subscribe
// entry (store.MaxConfirmations), so a restart or an erasure does not
// reset it.
const (
	MaxConfirmations = store.MaxConfirmations
	ConfirmWindow    = store.ConfirmWindow
)

// Requests waiting for Run: DefaultQueue at most (more are refused with
// ErrBusy, whatever their address), taken by subscribeWorkers at once,
// each given requestTimeout for its entry and its mail.
const (
	DefaultQueue     = 256
	subscribeWorkers = 2
	requestTimeout   = 2 * time.Minute
)

// ErrBusy is a request refused because DefaultQueue requests are waiting
// already: try again later.
var ErrBusy = errors.New("too many subscribe requests waiting")

// SubscriberReads is the read the service needs (store.Store).
type SubscriberReads interface {
	EmailSubscriber(address string) (store.Subscription, error)
	ConfirmationsSent(address string, now time.Time) (int, error)
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
	o     SubscribeOptions
	base  string
	queue chan Request
}

// NewSubscribe builds the service.
func NewSubscribe(o SubscribeOptions) *Subscribe {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Subscribe{o: o, base: strings.TrimRight(o.SiteURL, "/"), queue: make(chan Request, DefaultQueue)}
}

// Submit checks r's address and queues r for Run. It reads nothing and
// sends nothing, so it answers alike, and as fast, for every address
// CheckAddress takes: nil, or ErrBusy when the queue is full.
func (s *Subscribe) Submit(r Request) error {
	var err error
	if r.Address, err = CheckAddress(r.Address); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	select {
	case s.queue <- r:
		return nil
	default:
		return ErrBusy
	}
}

// Run takes the submitted requests (Request for each) until ctx ends;
// requests still queued then are dropped (the person gets no mail and
// subscribes again, as when Outpost stops before a mail goes).
func (s *Subscribe) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range subscribeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(ctx)
		}()
	}
	wg.Wait()
}

func (s *Subscribe) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-s.queue:
			rctx, cancel := context.WithTimeout(ctx, requestTimeout)
			if err := s.Request(rctx, r); err != nil {
				// The address is the subscriber's business: not logged.
				s.o.Logger.Error("email subscription failed", slog.String("error", err.Error()))
			}
			cancel()
		}
	}
}

// Request stores r's address as a pending subscriber and mails it the
// confirmation link, returning once the mail is handed over (Run's work;
// the form and the API call Submit). It answers nil alike for a new
// address, one pending, one already confirmed (which gets no mail) and
// one over its limit; an error means a new request could not be stored
// or its mail not handed over (or, wrapping ErrAddress, that the address
// is not one CheckAddress takes).
func (s *Subscribe) Request(ctx context.Context, r Request) error {
	var err error
	if r.Address, err = CheckAddress(r.Address); err != nil {
		return fmt.Errorf("subscribe: %w", err) // the form and the API checked it already
	}
	now := s.o.Now()
	old, err := s.o.Store.EmailSubscriber(r.Address) // without case, as the store keys it
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("read subscriber: %w", err)
	case err == nil && old.State != store.SubPending:
		return nil
	}
	switch sent, err := s.o.Store.ConfirmationsSent(r.Address, now); {
	case err != nil:
		return fmt.Errorf("read confirmation count: %w", err)
	case sent >= MaxConfirmations:
		// Decided from the read, so a flood of requests costs no write;
		// the entry checks again.
		s.limited(old)
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
	if res.Limited {
		s.limited(res.Subscription)
		return nil
	}
	if res.Subscription.State != store.SubPending { // confirmed meanwhile
		return nil
	}
	return s.mail(ctx, res.Subscription, token, now)
}

func (s *Subscribe) limited(sub store.Subscription) {
	s.o.Logger.Info("confirmation mail not sent: the address had its confirmation mails for the day",
		slog.String("subscription", sub.ID), slog.Int("limit", MaxConfirmations))
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
