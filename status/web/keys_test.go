package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

func seedSiteKey(t *testing.T, st *store.Store, at time.Time) capability.Key {
	t.Helper()
	k := capability.First(bytes.Repeat([]byte{1}, 32), at)
	settings, err := store.SiteKeySettings(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(store.Entry{At: at, Settings: settings}); err != nil {
		t.Fatal(err)
	}
	return k
}

// An operator rotates the site key through the admin API: a new key signs,
// the old one verifies for the grace asked for, the change is audited, and
// bad input or a read-only token gets a clear JSON error.
func TestRotateSiteKey(t *testing.T) {
	s, st := subscriptionServer(t, 5)
	h := s.Handler()
	k1 := seedSiteKey(t, st, time.Now().Add(-time.Hour))
	old, _ := capability.Sign(k1, "sub_a", capability.Unsubscribe, time.Time{})
	const ip = "198.51.100.20"
	for _, tc := range []struct {
		name, token, body string
		code              int
		field             string
	}{
		{"read-only", readToken, "", http.StatusForbidden, ""},
		{"no token", "", "", http.StatusUnauthorized, ""},
		{"bad grace", writeToken, `{"grace":"soon"}`, http.StatusBadRequest, "grace"},
		{"negative grace", writeToken, `{"grace":"-1h"}`, http.StatusBadRequest, "grace"},
		{"grace too long", writeToken, `{"grace":"9000h"}`, http.StatusBadRequest, "grace"},
		{"unknown field", writeToken, `{"secret":"x"}`, http.StatusBadRequest, "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := call(t, h, http.MethodPost, "/api/v1/keys/rotate", tc.token, tc.body, ip)
			field, msg := errorField(out)
			if code != tc.code || msg == "" || field != tc.field {
				t.Fatalf("%d %v, want %d with a message on %q", code, out, tc.code, tc.field)
			}
		})
	}
	if keys, _ := st.SiteKeys(); len(keys) != 1 {
		t.Fatalf("refused rotations changed the keys: %+v", keys)
	}
	code, out := call(t, h, http.MethodPost, "/api/v1/keys/rotate", writeToken, `{"grace":"1h"}`, ip)
	if code != http.StatusOK || out["key"] != "k2" || out["previous"] != "k1" {
		t.Fatalf("rotate: %d %v", code, out)
	}
	keys, _ := st.SiteKeys()
	cur, _ := keys.Current()
	if cur.ID != "k2" || bytes.Equal(cur.Secret, k1.Secret) {
		t.Fatalf("current key after rotation: %+v", cur)
	}
	if sub, err := capability.Verify(keys, old, capability.Unsubscribe, time.Now().Add(50*time.Minute)); err != nil || sub != "sub_a" {
		t.Fatalf("a link signed before the rotation, within the grace: %q %v", sub, err)
	}
	if _, err := capability.Verify(keys, old, capability.Unsubscribe, time.Now().Add(2*time.Hour)); !errors.Is(err, capability.ErrBadSignature) {
		t.Fatalf("a link signed before the rotation, after the grace: %v", err)
	}
	code, out = call(t, h, http.MethodGet, "/api/v1/audit", writeToken, "", ip)
	if code != http.StatusOK || !bytes.Contains(mustJSON(t, out), []byte("rotate_site_key")) {
		t.Fatalf("no audit entry for the rotation: %v", out)
	}
	if bytes.Contains(mustJSON(t, out), []byte("secret")) {
		t.Fatal("the audit shows a secret")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An operator adds a webhook subscriber through the admin API: active at
// once, no challenge, audited; a read-only or wrong token is refused and
// a bad format names its field.
func TestOperatorAddsSubscriber(t *testing.T) {
	s, st := subscriptionServer(t, 5)
	h := s.Handler()
	const ip = "198.51.100.40"
	body := `{"url":"https://hooks.example.com/sp","format":"statuspage"}`
	for _, tc := range []struct {
		name, token, body string
		code              int
	}{
		{"read-only", readToken, body, http.StatusForbidden},
		{"wrong token", "not-a-token-0123456789", body, http.StatusUnauthorized},
		{"bad format", writeToken, `{"url":"https://hooks.example.com/sp","format":"xml"}`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, out := call(t, h, http.MethodPost, "/api/v1/subscriptions", tc.token, tc.body, ip); code != tc.code {
				t.Fatalf("%d %v, want %d", code, out, tc.code)
			}
		})
	}
	code, out := call(t, h, http.MethodPost, "/api/v1/subscriptions", writeToken, body, ip)
	if code != http.StatusCreated || out["state"] != "active" || out["format"] != "statuspage" {
		t.Fatalf("operator's subscriber: %d %v", code, out)
	}
	id, _ := out["id"].(string)
	sub, err := st.Subscription(id)
	if err != nil || sub.State != store.SubActive || sub.Challenge != "" {
		t.Fatalf("stored %+v (%v)", sub, err)
	}
	// The public form still makes a pending subscriber that must pass the
	// challenge, in either format.
	code, out = call(t, h, http.MethodPost, "/api/v1/subscriptions", "", body, ip)
	if code != http.StatusCreated || out["state"] != "pending" || out["format"] != "statuspage" {
		t.Fatalf("public statuspage subscriber: %d %v", code, out)
	}
	code, out = call(t, h, http.MethodGet, "/api/v1/audit", writeToken, "", ip)
	if code != http.StatusOK || !bytes.Contains(mustJSON(t, out), []byte(id)) {
		t.Fatalf("no audit entry for the operator's subscriber: %v", out)
	}
}
