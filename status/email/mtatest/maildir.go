package mtatest

import (
	"bytes"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Message is one delivered mail as read from the Maildir.
type Message struct {
	File   string      // its path in the Maildir
	Raw    []byte      // the whole message as delivered, Postfix's headers included
	Header mail.Header // parsed by net/mail
	Body   []byte      // everything after the header, undecoded
}

// Recipient is the envelope recipient Postfix delivered the message to
// (its Delivered-To header), which a Bcc or a wrong To: header can't fake.
func (m Message) Recipient() string { return m.Header.Get("Delivered-To") }

// Messages reads every message delivered so far, in delivery order.
func (s *Server) Messages() ([]Message, error) {
	var files []string
	// virtual(8) writes into tmp/ and renames into new/, so a file in new/
	// is complete; cur/ holds those a reader has marked seen.
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(s.dir, "maildir", maildirName, sub))
		if os.IsNotExist(err) {
			continue // nothing delivered yet: virtual makes the Maildir on first use
		}
		if err != nil {
			return nil, fmt.Errorf("read Maildir: %w", err)
		}
		for _, e := range entries {
			files = append(files, filepath.Join(s.dir, "maildir", maildirName, sub, e.Name()))
		}
	}
	// Maildir names start with the delivery time in seconds, then a
	// unique part; sorting by base name is delivery order to the second.
	slices.SortFunc(files, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	msgs := make([]Message, 0, len(files))
	for _, f := range files {
		m, err := readMessage(f)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func readMessage(file string) (Message, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return Message{}, fmt.Errorf("read message: %w", err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, fmt.Errorf("parse %s: %w", filepath.Base(file), err)
	}
	body, err := io.ReadAll(m.Body)
	if err != nil {
		return Message{}, fmt.Errorf("read body of %s: %w", filepath.Base(file), err)
	}
	return Message{File: file, Raw: raw, Header: m.Header, Body: body}, nil
}

// WaitFor waits until at least n messages are in the Maildir and returns
// them all, or fails the test after timeout saying how many came.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		msgs, err := s.Messages()
		if err != nil {
			t.Fatalf("mtatest: %v", err)
		}
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("mtatest: %d of %d messages delivered within %v", len(msgs), n, timeout)
		}
		<-tick.C
	}
}
