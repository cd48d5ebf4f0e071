package notify

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func xMessage(text, reply string) Message {
	m := testMessage(false)
	m.Text, m.ReplyTo, m.Seq = text+" "+m.URL, reply, 12
	return m
}

func TestX(t *testing.T) {
	f := newFakeX(t, "consumer-secret", "token-secret")
	creds := XCredentials{ConsumerKey: "ck", ConsumerSecret: "consumer-secret", AccessToken: "at", AccessSecret: "token-secret"}
	x := NewX("2", f.srv.URL, creds, nil)
	ctx := context.Background()
	id, err := x.Send(ctx, xMessage("API is unavailable (investigating, Mar 10 14:02 UTC): We are investigating.", ""))
	if err != nil || id == "" {
		t.Fatalf("post: %q %v", id, err)
	}
	// A reply threads under the first post.
	if _, err := x.Send(ctx, xMessage("API is unavailable (resolved, Mar 10 14:20 UTC): Resolved.", id)); err != nil {
		t.Fatal(err)
	}
	if reply := f.posts[1]["reply"].(map[string]any)["in_reply_to_tweet_id"]; reply != id {
		t.Errorf("reply to %v, want %s", reply, id)
	}
	// After a crash the same row is sent again: X refuses the duplicate,
	// which is delivery, not failure.
	if got, err := x.Send(ctx, xMessage("API is unavailable (investigating, Mar 10 14:02 UTC): We are investigating.", "")); err != nil || got != "" {
		t.Fatalf("duplicate: %q %v, want delivered without a new post", got, err)
	}
	if len(f.posts) != 2 {
		t.Fatalf("%d posts, want 2", len(f.posts))
	}
	// The fake really checks signatures.
	bad := NewX("2", f.srv.URL, XCredentials{ConsumerKey: "ck", ConsumerSecret: "wrong", AccessToken: "at", AccessSecret: "token-secret"}, nil)
	if _, err := bad.Send(ctx, xMessage("hello", "")); !IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong secret: %v", err)
	}
	// api: "1.1" posts with go-twitter through a host-rewriting transport.
	v1 := NewX("1.1", f.srv.URL, creds, nil)
	id1, err := v1.Send(ctx, xMessage("Via 1.1", id))
	if err != nil || id1 == "" || f.posts[2]["in_reply_to_status_id"] != id {
		t.Fatalf("1.1: %q %v %v", id1, err, f.posts)
	}
	if got, err := v1.Send(ctx, xMessage("Via 1.1", id)); err != nil || got != "" {
		t.Errorf("1.1 duplicate: %q %v", got, err)
	}
}

func TestXLength(t *testing.T) {
	link := "https://status.example.com/incidents/inc-42-with-a-long-tail"
	if n := XLength("héllo " + link); n != 6+23 {
		t.Errorf("latin: %d", n)
	}
	if n := XLength("障害"); n != 4 {
		t.Errorf("CJK counts double: %d", n)
	}
	long := strings.Repeat("障害が発生しています。", 40)
	got := Fit(long, link, XLimit, XLength)
	if XLength(got) > XLimit || !strings.HasSuffix(got, link) {
		t.Errorf("fit: %d %q", XLength(got), got)
	}
}

func TestBluesky(t *testing.T) {
	pds := newFakePDS(t, "app-pass-word")
	sessions := memSessions{}
	b := NewBluesky(pds.srv.URL, "status.example.com", "app-pass-word", http.DefaultClient, sessions)
	ctx := context.Background()
	m := xMessage("API is unavailable (investigating): Déjà vu — we are investigating 🚧.", "")
	m.Event.At = time.Date(2026, 3, 10, 14, 2, 0, 0, time.UTC)
	root, err := b.Send(ctx, m)
	if err != nil || !strings.HasPrefix(root, "at://did:plc:outposttest/app.bsky.feed.post/") {
		t.Fatalf("post: %q %v", root, err)
	}
	// The same row again (after a crash) writes the same record.
	if again, err := b.Send(ctx, m); err != nil || again != root {
		t.Fatalf("re-send: %q %v, want %q", again, err, root)
	}
	// The access token expires: the session is refreshed (rotating the
	// refresh token, kept in Sessions), not created again.
	pds.expire()
	u := xMessage("API is unavailable (resolved): Resolved.", root)
	u.Seq, u.Event.At = 13, m.Event.At.Add(10*time.Minute)
	if _, err := b.Send(ctx, u); err != nil {
		t.Fatal(err)
	}
	posts := pds.posts()
	if len(posts) != 2 || pds.creates != 1 || sessions["bluesky/status.example.com/refresh"] != pds.refresh {
		t.Fatalf("%d posts, %d sessions created, stored refresh %q (current %q)", len(posts), pds.creates, sessions["bluesky/status.example.com/refresh"], pds.refresh)
	}
	reply := posts[1]["reply"].(map[string]any)
	if reply["root"].(map[string]any)["uri"] != strings.Fields(root)[0] {
		t.Errorf("reply root %v", reply["root"])
	}
	// A new process with the stored refresh token refreshes instead of
	// creating a session (creation is rate-limited).
	b2 := NewBluesky(pds.srv.URL, "status.example.com", "app-pass-word", http.DefaultClient, sessions)
	u.Seq = 14
	if _, err := b2.Send(ctx, u); err != nil || pds.creates != 1 {
		t.Fatalf("restart: %v, %d sessions created", err, pds.creates)
	}
	wrong := NewBluesky(pds.srv.URL, "status.example.com", "nope", http.DefaultClient, memSessions{})
	if _, err := wrong.Send(ctx, m); !IsPermanent(err) {
		t.Errorf("a wrong app password: %v", err)
	}
}

func TestTIDAndGraphemes(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 2, 0, 0, time.UTC)
	a, b := TID(at, 1), TID(at, 2)
	if len(a) != 13 || a == b || TID(at, 1) != a || !(a < b) || !(TID(at.Add(time.Second), 0) > b) {
		t.Errorf("TIDs %s %s not stable, distinct and sortable", a, b)
	}
	for s, want := range map[string]int{"abc": 3, "é": 1, "e\u0301": 1, "👩‍💻": 1, "🚧": 1, "❤️": 1} {
		if got := BlueskyLength(s); got != want {
			t.Errorf("BlueskyLength(%q) = %d, want %d", s, got, want)
		}
	}
}
