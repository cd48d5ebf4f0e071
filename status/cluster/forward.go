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
	// Busy: the leader serves maxForwards writes already; try again.
	Busy bool `json:"busy,omitempty"`
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
	// The buffer grows with what arrives: a prefix alone, from a peer that
	// then sends nothing, costs nothing.
	b, err := io.ReadAll(io.LimitReader(r, int64(size)))
	if err == nil && len(b) < int(size) {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// busyTimeout bounds how long a write answered busy is read: its frame is
// read to its end (discarded) so the answer is not lost to a reset.
const busyTimeout = time.Second

// answerBusy tells a follower the leader serves too many writes now; it
// tries again. Nothing of its frame is kept.
func answerBusy(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(busyTimeout))
	body, _ := json.Marshal(answer{Busy: true})
	if writeFrame(c, body) != nil {
		return
	}
	var n [4]byte
	if _, err := io.ReadFull(c, n[:]); err == nil {
		io.CopyN(io.Discard, c, int64(min(binary.BigEndian.Uint32(n[:]), maxFrame)))
	}
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
	if a.NotLeader || a.Busy {
		return store.Result{}, errTryAgain
	}
	if a.Error != "" {
		return store.Result{}, fmt.Errorf("the leader %s: %s", id, a.Error)
	}
	return store.Result{Changes: &status.Changes{Replies: a.Replies}}, nil
}
