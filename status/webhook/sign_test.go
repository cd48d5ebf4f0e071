package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The reference vector published with the Standard Webhooks specification:
// a receiver using any conforming library accepts our signatures.
func TestSignMatchesSpecificationVector(t *testing.T) {
	got, err := Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`),
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestNewSecretShape(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	k, err := key(a)
	if !strings.HasPrefix(a, SecretPrefix) || err != nil || len(k) != 32 || a == b {
		t.Fatalf("secret %q (key %d bytes, err %v) or not fresh (%q)", a, len(k), err, b)
	}
}

func TestVerify(t *testing.T) {
	old, _ := NewSecret()
	cur, _ := NewSecret()
	other, _ := NewSecret()
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"incident.created","timestamp":"2026-11-25T12:00:00Z","data":{}}`)
	signed := func(secrets ...string) http.Header {
		h := http.Header{}
		if err := SetHeaders(h, "evt_1", at, body, secrets...); err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		secret string
		h      http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", cur, signed(cur), body, at, nil},
		{"within tolerance", cur, signed(cur), body, at.Add(4 * time.Minute), nil},
		{"rotation: old secret accepted during overlap", old, signed(cur, old), body, at, nil},
		{"rotation: new secret accepted during overlap", cur, signed(cur, old), body, at, nil},
		{"tampered body", cur, signed(cur), []byte(strings.Replace(string(body), "created", "resolved", 1)), at, ErrNoMatch},
		{"wrong secret", other, signed(cur), body, at, ErrNoMatch},
		{"stale", cur, signed(cur), body, at.Add(6 * time.Minute), ErrStale},
		{"from the future", cur, signed(cur), body, at.Add(-6 * time.Minute), ErrStale},
		{"missing signature", cur, func() http.Header { h := signed(cur); h.Del(HeaderSignature); return h }(), body, at, ErrMissingHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Verify(tc.secret, tc.h, tc.body, tc.now, DefaultTolerance)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil && id != "evt_1" {
				t.Fatalf("id %q", id)
			}
		})
	}
}

// A retry is signed with its own timestamp; changing the timestamp without
// re-signing must fail, or a captured delivery could be replayed late.
func TestRetimedDeliveryFails(t *testing.T) {
	s, _ := NewSecret()
	at := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	if err := SetHeaders(h, "evt_2", at, []byte("x"), s); err != nil {
		t.Fatal(err)
	}
	later := at.Add(time.Hour)
	h.Set(HeaderTimestamp, "1800003600")
	if _, err := Verify(s, h, []byte("x"), later, DefaultTolerance); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("retimed delivery: err %v, want ErrNoMatch", err)
	}
}

func TestBadSecret(t *testing.T) {
	if _, err := Sign("id", time.Now(), nil, "whsec_not base64!"); err == nil || !strings.Contains(err.Error(), "base64") {
		t.Fatalf("err %v", err)
	}
}
