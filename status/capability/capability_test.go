package capability

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func key(id string, fill byte) Key {
	return Key{ID: id, Secret: bytes.Repeat([]byte{fill}, 32), Created: t0}
}

func sign(t *testing.T, k Key, sub string, p Purpose, exp time.Time) string {
	t.Helper()
	tok, err := Sign(k, sub, p, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	k1, k2 := key("k1", 1), key("k2", 2)
	old := k1
	old.Until = t0.Add(time.Hour)
	forever := sign(t, k1, "sub_a", Unsubscribe, time.Time{})
	day := sign(t, k1, "sub_a", Manage, t0.Add(24*time.Hour))
	byOld := sign(t, old, "sub_b", Unsubscribe, time.Time{})
	raw, _ := base64.RawURLEncoding.DecodeString(forever)
	truncated := base64.RawURLEncoding.EncodeToString(raw[:len(raw)-3]) // whole bytes off the MAC
	tests := []struct {
		name    string
		keys    Keys
		token   string
		purpose Purpose
		now     time.Time
		want    string
		err     error
	}{
		{"no expiry", Keys{k1}, forever, Unsubscribe, t0.Add(10 * 365 * 24 * time.Hour), "sub_a", nil},
		{"before expiry", Keys{k1}, day, Manage, t0.Add(23 * time.Hour), "sub_a", nil},
		{"at expiry", Keys{k1}, day, Manage, t0.Add(24 * time.Hour), "", ErrExpired},
		{"wrong purpose", Keys{k1}, forever, Manage, t0, "", ErrWrongPurpose},
		{"manage as unsubscribe", Keys{k1}, day, Unsubscribe, t0, "", ErrWrongPurpose},
		{"unknown key", Keys{k2}, forever, Unsubscribe, t0, "", ErrBadSignature},
		{"same id, other secret", Keys{{ID: "k1", Secret: k2.Secret}}, forever, Unsubscribe, t0, "", ErrBadSignature},
		{"rotated out, in grace", Keys{old, k2}, byOld, Unsubscribe, t0.Add(59 * time.Minute), "sub_b", nil},
		{"rotated out, grace over", Keys{old, k2}, byOld, Unsubscribe, t0.Add(time.Hour), "", ErrBadSignature},
		{"empty", Keys{k1}, "", Unsubscribe, t0, "", ErrMalformed},
		{"not base64url", Keys{k1}, "a+b/c==", Unsubscribe, t0, "", ErrMalformed},
		{"truncated", Keys{k1}, truncated, Unsubscribe, t0, "", ErrBadSignature},
		{"truncated mid-character", Keys{k1}, forever[:len(forever)-5], Unsubscribe, t0, "", ErrMalformed},
		{"short", Keys{k1}, forever[:20], Unsubscribe, t0, "", ErrMalformed},
		{"huge", Keys{k1}, strings.Repeat("A", 100000), Unsubscribe, t0, "", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(tc.keys, tc.token, tc.purpose, tc.now)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("Verify = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// Changing any bit of a token (key id, purpose, expiry, subscriber, MAC)
// makes it fail, never verify as something else.
func TestTamperedTokensFail(t *testing.T) {
	k := key("k1", 7)
	tok := sign(t, k, "sub_abc", Unsubscribe, t0.Add(time.Hour))
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for i := range raw {
		for _, bit := range []byte{1, 0x80} {
			b := bytes.Clone(raw)
			b[i] ^= bit
			got, err := Verify(Keys{k}, base64.RawURLEncoding.EncodeToString(b), Unsubscribe, t0)
			if err == nil {
				t.Fatalf("byte %d bit %#x flipped: verified as %q", i, bit, got)
			}
		}
	}
	// Another subscriber's id spliced in with the MAC kept.
	other := bytes.Clone(raw)
	copy(other[len(other)-32-3:], "xyz")
	if _, err := Verify(Keys{k}, base64.RawURLEncoding.EncodeToString(other), Unsubscribe, t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("spliced subscriber: %v, want ErrBadSignature", err)
	}
}

func TestTokenIsSafeInAPath(t *testing.T) {
	tok := sign(t, key("k12", 3), "sub_~weird id/../", Manage, t0)
	if url.PathEscape(tok) != tok || strings.ContainsAny(tok, "/.=") {
		t.Fatalf("token %q needs escaping in a path", tok)
	}
}

func TestSignRefusesBadInput(t *testing.T) {
	k := key("k1", 1)
	tests := []struct {
		name string
		key  Key
		sub  string
		p    Purpose
	}{
		{"unknown purpose", k, "s", "confirm"},
		{"empty subscriber", k, "", Manage},
		{"long subscriber", k, strings.Repeat("s", maxID+1), Manage},
		{"short secret", Key{ID: "k1", Secret: []byte("short")}, "s", Manage},
		{"no key id", Key{Secret: k.Secret}, "s", Manage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tok, err := Sign(tc.key, tc.sub, tc.p, time.Time{}); err == nil {
				t.Fatalf("Sign made %q", tok)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	k1 := First(bytes.Repeat([]byte{1}, 32), t0)
	later := t0.Add(time.Hour)
	k2, retired, err := Rotate(Keys{k1}, bytes.Repeat([]byte{2}, 32), later, Grace)
	if err != nil {
		t.Fatal(err)
	}
	if k2.ID != "k2" || len(retired) != 1 || retired[0].ID != "k1" || !retired[0].Until.Equal(later.Add(Grace)) {
		t.Fatalf("rotate = %+v, %+v", k2, retired)
	}
	keys := Keys{retired[0], k2}
	if cur, ok := keys.Current(); !ok || cur.ID != "k2" {
		t.Fatalf("current = %+v, %v", cur, ok)
	}
	oldLink := sign(t, k1, "sub_a", Unsubscribe, time.Time{})
	if got, err := Verify(keys, oldLink, Unsubscribe, later.Add(Grace-time.Second)); err != nil || got != "sub_a" {
		t.Fatalf("old link in grace: %q, %v", got, err)
	}
	if _, err := Verify(keys, oldLink, Unsubscribe, later.Add(Grace)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("old link after grace: %v", err)
	}
	// Grace 0 cuts the current key and k1, still in its grace, alike.
	k3, retired, _ := Rotate(keys, bytes.Repeat([]byte{3}, 32), later, 0)
	if k3.ID != "k3" || len(retired) != 2 || retired[0].ID != "k2" || retired[1].ID != "k1" || !retired[1].Until.Equal(later) {
		t.Fatalf("second rotation = %+v, %+v", k3, retired)
	}
	for _, k := range []Key{k1, k2} {
		if _, err := Verify(Keys{retired[0], retired[1], k3}, sign(t, k, "s", Manage, time.Time{}), Manage, later); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s, retired with no grace, still verifies: %v", k.ID, err)
		}
	}
	if _, _, err := Rotate(keys, []byte("short"), later, Grace); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

// Verify on garbage returns an error and never panics; whatever it
// accepts must be a token Sign would make.
func FuzzVerify(f *testing.F) {
	k := key("k1", 9)
	for _, p := range []Purpose{Manage, Unsubscribe} {
		tok, _ := Sign(k, "sub_1", p, t0.Add(time.Hour))
		f.Add(tok)
	}
	f.Add("")
	f.Add("AQ")
	f.Add(strings.Repeat("_", 80))
	f.Fuzz(func(t *testing.T, tok string) {
		sub, err := Verify(Keys{k}, tok, Unsubscribe, t0)
		if err != nil {
			return
		}
		again, _ := Sign(k, sub, Unsubscribe, t0.Add(time.Hour))
		if again != tok {
			t.Fatalf("accepted %q, which Sign would not make (%q)", tok, again)
		}
	})
}

// A token has one spelling: the unused low bits of its last character are
// zero, so a string with them set is not the same token (the lenient
// decoder ignored them, and two strings verified as one).
func TestTokenHasOneSpelling(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	k := key("k1", 9)
	for _, sub := range []string{"sub_a", "sub_abc"} { // 2 and 4 spare bits
		tok := sign(t, k, sub, Unsubscribe, time.Time{})
		if (len(tok)*6)%8 == 0 {
			t.Fatalf("%q has no spare bits: pick another subscriber id", tok)
		}
		last := strings.IndexByte(alphabet, tok[len(tok)-1])
		other := tok[:len(tok)-1] + string(alphabet[last^1])
		if got, err := Verify(Keys{k}, other, Unsubscribe, t0); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q (from %q) verified as %q, %v; want ErrMalformed", other, tok, got, err)
		}
	}
}
