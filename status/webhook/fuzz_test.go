package webhook

import (
	"net/http"
	"testing"
	"time"
)

// FuzzVerify: arbitrary headers and bodies are refused with an error and
// never verify without the secret, and never panic.
func FuzzVerify(f *testing.F) {
	secret, _ := NewSecret()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	h := http.Header{}
	_ = SetHeaders(h, "evt-1", now, []byte(`{"type":"x"}`), secret)
	f.Add(h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature), []byte(`{"type":"x"}`))
	f.Add("evt-1", "99999999999999999999", "v1,", []byte{})
	f.Add("", "-1", "v1,AAAA v2,bbb", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		hh := http.Header{}
		hh.Set(HeaderID, id)
		hh.Set(HeaderTimestamp, ts)
		hh.Set(HeaderSignature, sig)
		other, _ := NewSecret()
		if _, err := Verify(other, hh, body, now, DefaultTolerance); err == nil {
			t.Fatalf("verified without the secret: %q %q %q", id, ts, sig)
		}
	})
}

// FuzzValidate: any subscription request is accepted or refused with a
// field; never a panic.
func FuzzValidate(f *testing.F) {
	f.Add("https://hooks.example.com/status", "api", "incident.created")
	f.Add("http://[::1]:80/x#frag", "", "nope")
	f.Add("https://user:pw@example.com/", "api", "")
	f.Add("https://%zz", "x", "maintenance.cancelled")
	s := New(Options{Components: func(id string) bool { return id == "api" }})
	f.Fuzz(func(t *testing.T, url, component, event string) {
		r := Request{URL: url}
		if component != "" {
			r.Components = []string{component}
		}
		if event != "" {
			r.Events = []string{event}
		}
		_ = s.Validate(r)
	})
}
