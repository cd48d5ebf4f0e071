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

// answer is the leader's reply to a forwarded write: what applying it
// gave on the leader, so a follower's caller sees what it would have seen
// there (the subscriber written, a refusal as a *store.Refusal with its
// sentinel).
type answer struct {
	Result *store.Result `json:"result,omitempty"`
	// Unwiped is Result.Unwiped's message (an error does not encode).
	Unwiped string   `json:"unwiped,omitempty"`
	Refused *refused `json:"refused,omitempty"`
	Error   string   `json:"error,omitempty"`
	// NotLeader: the node asked does not lead; try whoever does.
	NotLeader bool `json:"not_leader,omitempty"`
	// Busy: the leader serves maxForwards writes already; try again.
	Busy bool `json:"busy,omitempty"`
	// Unknown: the leader appended the entry and lost its leadership
	// before it committed (ErrOutcomeUnknown).
	Unknown bool `json:"unknown,omitempty"`
	// Index is the entry's index in the log: the follower answers its
	// caller once it has applied it too.
	Index uint64 `json:"index,omitempty"`
}

// refused names a refusal's part and the sentinel it is (errors.Is).
type refused struct {
	Part     string `json:"part"`
	Sentinel int    `json:"sentinel"` // 1 + its position in refusalSentinels; 0: none
}

// refusalSentinels are the errors callers of a Log test a refusal for
// (404, 409, 429 rather than 500); their positions are the wire's.
func refusalSentinels() []error {
	return []error{store.ErrNotFound, store.ErrNotWaiting, store.ErrSettingExists,
		store.ErrTokenExpired, store.ErrSubState, store.ErrTooManySubscriptions, store.ErrOtherModel, store.ErrDeposed}
}

// leaderError is an error the leader gave, with the sentinel it wraps.
type leaderError struct {
	msg      string
	sentinel error
}

func (e *leaderError) Error() string { return e.msg }
func (e *leaderError) Unwrap() error { return e.sentinel }

// answerOf is the answer for what applying a forwarded entry gave.
func answerOf(res store.Result, err error) answer {
	var a answer
	var r *store.Refusal
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		a.NotLeader = true
	case errors.Is(err, raft.ErrLeadershipLost): // appended: it may commit yet
		a.Error, a.Unknown = err.Error(), true
	case errors.As(err, &r):
		a.Error, a.Refused = err.Error(), &refused{Part: r.Part}
		for i, s := range refusalSentinels() {
			if errors.Is(err, s) {
				a.Refused.Sentinel = i + 1
				break
			}
		}
	case err != nil:
		a.Error = err.Error()
	default:
		if res.Unwiped != nil {
			a.Unwiped, res.Unwiped = res.Unwiped.Error(), nil
		}
		a.Result = &res
	}
	return a
}

// result is what the follower's caller gets for a, from the leader id.
func (a answer) result(id string) (store.Result, error) {
	switch {
	case a.NotLeader || a.Busy:
		return store.Result{}, errTryAgain
	case a.Unknown:
		return store.Result{}, fmt.Errorf("%w (the leader %s: %s)", ErrOutcomeUnknown, id, a.Error)
	case a.Refused != nil:
		e := &leaderError{msg: fmt.Sprintf("the leader %s: %s", id, a.Error)}
		if s := refusalSentinels(); a.Refused.Sentinel > 0 && a.Refused.Sentinel <= len(s) {
			e.sentinel = s[a.Refused.Sentinel-1]
		}
		return store.Result{}, &store.Refusal{Part: a.Refused.Part, Err: e}
	case a.Error != "" || a.Result == nil:
		return store.Result{}, fmt.Errorf("the leader %s: %s", id, a.Error)
	}
	res := *a.Result
	if a.Unwiped != "" {
		res.Unwiped = &leaderError{msg: fmt.Sprintf("the leader %s: %s", id, a.Unwiped), sentinel: store.ErrNotWiped}
	}
	return res, nil
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
	if !n.up.Load() || n.r.State() != raft.Leader { // raft not started yet: it leads nothing
		a.NotLeader = true
	} else if _, err := store.DecodeEntry(data); err != nil {
		a.Error = err.Error() // never appended: no node could apply it
	} else {
		res, index, err := n.applyLocal(data)
		a = answerOf(res, err)
		a.Index = index
	}
	body, err := encodeAnswer(a)
	if err != nil {
		n.log.Error("forwarded write's answer not encoded", slog.Any("error", err))
	}
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
		return store.Result{}, fmt.Errorf("%w (forwarded write to %s: no answer: %w)", ErrOutcomeUnknown, id, err)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return store.Result{}, fmt.Errorf("forwarded write to %s: %w", id, err)
	}
	res, err := a.result(id)
	if a.Index > 0 {
		n.appliedHere(a.Index, wait)
	}
	return res, err
}

// appliedHere waits, up to wait, until this node has applied the entry at
// index (read-your-writes: the leader answered once it applied it there).
// A node slower than that answers all the same: the write is made.
func (n *Node) appliedHere(index uint64, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for {
		if n.mach.Stalled() != "" {
			// It applies nothing until its config matches (and says so):
			// waiting would only hold the writer back.
			return
		}
		if got, err := n.st.AppliedIndex(); err != nil || got >= index {
			n.behind.Store(0)
			return
		}
		if time.Now().After(deadline) {
			if n.behind.CompareAndSwap(0, time.Now().UnixNano()) {
				n.log.Warn("a forwarded write is not applied here yet: this member is behind the cluster", slog.Uint64("index", index))
			}
			return
		}
		time.Sleep(appliedPoll)
	}
}

// appliedPoll is how often a follower looks whether it applied a write it
// forwarded: a follower learns of a commit with the leader's next message.
const appliedPoll = 2 * time.Millisecond

// encodeAnswer encodes a within maxFrame: a step's changes over a batch
// of thousands of results can outgrow it, and then the follower learns
// the replies and that the step changed something, not every result.
func encodeAnswer(a answer) ([]byte, error) {
	body, err := json.Marshal(a)
	if err != nil || len(body) <= maxFrame || a.Result == nil || a.Result.Changes == nil {
		return body, err
	}
	ch := *a.Result.Changes
	slim := status.Changes{Seq: ch.Seq, Replies: ch.Replies, Meta: !ch.Empty(), Visible: ch.Visible}
	res := *a.Result
	res.Changes = &slim
	a.Result = &res
	return json.Marshal(a)
}
