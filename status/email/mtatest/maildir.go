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
	files, err := s.files()
	if err != nil {
		return nil, err
	}
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

// Count is how many messages have been delivered so far, without
// reading them: cheap enough to poll while thousands arrive.
func (s *Server) Count() (int, error) {
	files, err := s.files()
	return len(files), err
}

// files lists the delivered messages' files in delivery order.
func (s *Server) files() ([]string, error) {
	var files []string
	// virtual(8) writes into tmp/ and renames into new/, so a file in new/
	// is complete; cur/ holds those a reader has marked seen.
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(s.dir, "maildir", maildirName, sub)
		entries, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			continue // nothing delivered yet: virtual makes the Maildir on first use
		}
		if err != nil {
			return nil, fmt.Errorf("read Maildir: %w", err)
		}
		for _, e := range entries {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	// Maildir names start with the delivery time in seconds, then a
	// unique part; sorting by base name is delivery order to the second.
	slices.SortFunc(files, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	return files, nil
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
		got, err := s.Count()
		if err != nil {
			t.Fatalf("mtatest: %v", err)
		}
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mtatest: %d of %d messages delivered within %v", got, n, timeout)
		}
		<-tick.C
	}
	msgs, err := s.Messages()
	if err != nil {
		t.Fatalf("mtatest: %v", err)
	}
	return msgs
}
