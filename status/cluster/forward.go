package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// A follower's write reaches the leader over the node connection: one
// stream per write, the encoded entry in a length-prefixed frame, and the
// leader's answer after the entry committed and applied there.

// maxFrame bounds a forwarded entry or answer: a hostile or broken peer
// never makes the other side read without limit. A batch of 5,000 results
// encodes to about 1 MiB.
const maxFrame = 16 << 20

// errTryAgain: the node asked is not (or no longer) the leader; the write
// goes to whoever leads next.
var errTryAgain = errors.New("not the leader")

// answer is the leader's reply to a forwarded write.
type answer struct {
	Replies   []status.Reply `json:"replies,omitempty"`
	Error     string         `json:"error,omitempty"`
	NotLeader bool           `json:"not_leader,omitempty"`
	// Refused names the refusal's part and sentinel (refusals below):
	// the follower's caller tells a refusal from a failure as the
	// leader's would.
	Refused  string `json:"refused,omitempty"`
	Sentinel string `json:"sentinel,omitempty"`
}

// refusals are the store's refusal reasons a caller tells apart, by name.
var refusals = map[string]error{
	"other_model": store.ErrOtherModel, "not_waiting": store.ErrNotWaiting, "not_found": store.ErrNotFound,
	"token_expired": store.ErrTokenExpired, "sub_state": store.ErrSubState, "setting_exists": store.ErrSettingExists,
	"too_many_subscriptions": store.ErrTooManySubscriptions,
}

// refusalOf names err's refusal for the answer ("", "" when it is none).
func refusalOf(err error) (part, sentinel string) {
	var r *store.Refusal
	if !errors.As(err, &r) {
		return "", ""
	}
	for name, s := range refusals {
		if errors.Is(err, s) {
			return r.Part, name
		}
	}
	return r.Part, "other"
}

func writeFrame(w io.Writer, b []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes, more than %d", size, maxFrame)
	}
	b := make([]byte, size)
	_, err := io.ReadFull(r, b)
	return b, err
}

// serveForward applies one follower's write as the leader.
func (n *Node) serveForward(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(n.apply + handshakeTimeout))
	data, err := readFrame(c)
	if err != nil {
		n.log.Warn("forwarded write unreadable", slog.String("remote", c.RemoteAddr().String()), slog.Any("error", err))
		return
	}
	var a answer
	if n.r.State() != raft.Leader {
		a.NotLeader = true
	} else if _, err := store.DecodeEntry(data); err != nil {
		a.Error = err.Error() // never appended: no node could apply it
	} else {
		res, err := n.applyLocal(data)
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
			a.NotLeader = true
		case err != nil:
			a.Error = err.Error()
			a.Refused, a.Sentinel = refusalOf(err)
		case res.Changes != nil:
			a.Replies = res.Changes.Replies
		}
	}
	body, _ := json.Marshal(a)
	if err := writeFrame(c, body); err != nil {
		n.log.Warn("forwarded write's answer not sent", slog.Any("error", err))
	}
}

// forwardTo sends data to the leader id at addr and waits for its answer.
func (n *Node) forwardTo(id, addr string, data []byte, wait time.Duration) (store.Result, error) {
	c, err := dialNode(n.dial, id, addr, streamForward, handshakeTimeout)
	if err != nil {
		return store.Result{}, errTryAgain
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(max(wait, time.Second) + handshakeTimeout))
	if err := writeFrame(c, data); err != nil {
		return store.Result{}, errTryAgain
	}
	body, err := readFrame(c)
	if err != nil {
		// The write may have been made: the leader died or the answer
		// was lost. Saying so is all a follower can do.
		return store.Result{}, fmt.Errorf("forwarded write to %s: no answer: %w", id, err)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return store.Result{}, fmt.Errorf("forwarded write to %s: %w", id, err)
	}
	if a.NotLeader {
		return store.Result{}, errTryAgain
	}
	if a.Error != "" {
		err := fmt.Errorf("the leader %s: %s", id, a.Error)
		if a.Refused != "" { // the leader's refusal, as the leader's caller sees it
			if s, ok := refusals[a.Sentinel]; ok {
				err = fmt.Errorf("the leader %s: %s: %w", id, a.Error, s)
			}
			return store.Result{}, &store.Refusal{Part: a.Refused, Err: err}
		}
		return store.Result{}, err
	}
	return store.Result{Changes: &status.Changes{Replies: a.Replies}}, nil
}
