package cluster

import (
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/hashicorp/raft"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/store"
)

// A follower's write reaches the leader over the node connection: the
// encoded entry in a length-prefixed frame on a forward stream, and the
// leader's answer after the entry committed and applied there. A stream
// carries one write at a time, one after another (streams.go keeps them
// open between writes).

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
	// Closing: the leader stops and read no frame since its last answer
	// (refuse); the write goes to the next leader.
	Closing bool `json:"closing,omitempty"`
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

// refused tells whether the node asked did not take the write (it does
// not lead, is busy, or stops): the write goes to whoever leads next.
func (a answer) refused() bool { return a.NotLeader || a.Busy || a.Closing }

// result is what the follower's caller gets for a, from the leader id.
func (a answer) result(id string) (store.Result, error) {
	switch {
	case a.refused():
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
	size, err := readPrefix(r)
	if err != nil {
		return nil, err
	}
	return readBody(r, size)
}

// readPrefix reads a frame's length prefix.
func readPrefix(r io.Reader) (uint32, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return 0, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return 0, fmt.Errorf("frame of %d bytes, more than %d", size, maxFrame)
	}
	return size, nil
}

// readBody reads a frame of size bytes after its prefix.
func readBody(r io.Reader, size uint32) ([]byte, error) {
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
	refuse(c, answer{Busy: true})
}

// refuse answers a (busy, closing: a frame not read) on a stream the
// leader ends, then reads what the follower still sends and drops it, for
// up to busyTimeout: a close with unread data resets the connection, and
// the answer with it.
func refuse(c net.Conn, a answer) {
	c.SetDeadline(time.Now().Add(busyTimeout))
	body, _ := json.Marshal(a)
	if writeFrame(c, body) != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, 4+maxFrame))
}

// serveForward applies one follower's writes as the leader, one frame
// after another, until the follower closes the stream, a frame fails, or
// the stream has been quiet for serveIdle. Once done is closed (the node
// stops) it reads no new frame: it says goodbye (refuse) so a frame
// already on its way is known unread, not of unknown outcome.
func (n *Node) serveForward(c net.Conn, done <-chan struct{}) {
	defer c.Close()
	for first := true; ; first = false {
		// The first frame follows the handshake at once; later ones
		// whenever the follower writes next.
		wait := serveIdle
		if first {
			wait = n.apply + handshakeTimeout
		}
		c.SetDeadline(time.Now().Add(wait))
		if closed(done) { // after the deadline: close's wake-up is not overwritten
			refuse(c, answer{Closing: true})
			return
		}
		size, err := readPrefix(c)
		if err != nil {
			if closed(done) {
				refuse(c, answer{Closing: true}) // woken by close: no frame was read whole
				return
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
				n.log.Warn("forwarded write unreadable", slog.String("remote", c.RemoteAddr().String()), slog.Any("error", err))
			}
			return
		}
		// A stream outlives its handshake: a member removed since is
		// served no more writes on it, the first included.
		if !n.peerTrusted(c) {
			return
		}
		c.SetDeadline(time.Now().Add(n.apply + handshakeTimeout))
		data, err := readBody(c, size)
		if err != nil && closed(done) {
			refuse(c, answer{Closing: true}) // woken by close mid-frame: nothing of it applied
			return
		}
		if err != nil {
			n.log.Warn("forwarded write unreadable", slog.String("remote", c.RemoteAddr().String()), slog.Any("error", err))
			return
		}
		body, err := encodeAnswer(n.answerForward(data))
		if err != nil {
			n.log.Error("forwarded write's answer not encoded", slog.Any("error", err))
		}
		if err := writeFrame(c, body); err != nil {
			n.log.Warn("forwarded write's answer not sent", slog.Any("error", err))
			return
		}
	}
}

func closed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// peerTrusted tells whether the member at the other end of c is still
// one (the mux hands serveForward TLS streams only; tests a pipe).
func (n *Node) peerTrusted(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	return !ok || n.members.trusts(PeerID(tc.ConnectionState()))
}

// answerForward applies a forwarded entry as the leader and says what it
// gave.
func (n *Node) answerForward(data []byte) answer {
	if !n.up.Load() || n.r.State() != raft.Leader { // raft not started yet: it leads nothing
		return answer{NotLeader: true}
	}
	e, err := store.DecodeEntry(data)
	if err != nil {
		return answer{Error: err.Error()} // never appended: no node could apply it
	}
	if int(data[0]) > n.stampCodec(e) {
		// The follower's codec gate is open where the leader's is not (a
		// reload that added a member on an older Outpost reached the
		// leader first, or the leader has just been elected): what the
		// log holds is in the codec the leader knows every member reads.
		if data, err = n.encode(e); err != nil {
			return answer{Error: err.Error()}
		}
	}
	res, index, err := n.applyLocal(data)
	if index > 0 && (readsBack(e) || news(res)) {
		n.tellCommit() // before the answer: the follower may wait for its apply
	}
	a := answerOf(res, err)
	a.Index = index
	return a
}

// dialForward opens a new forward stream to the leader id at addr.
func (n *Node) dialForward(id, addr string) (net.Conn, error) {
	return dialNode(n.dial, id, addr, streamForward, handshakeTimeout)
}

// forwardTo sends data to the leader id at addr and waits for its answer,
// and when readBack for this member's own apply of it (readback.go).
// The stream goes back to the pool once it answered, but not when it
// refused the write: a node that no longer leads, or is busy (it closes
// the stream then).
func (n *Node) forwardTo(id, addr string, data []byte, readBack bool, wait time.Duration) (store.Result, error) {
	c, err := n.fwd.take(id, addr)
	if err != nil {
		return store.Result{}, errTryAgain
	}
	a, err := exchange(c, id, data, wait)
	if err != nil {
		c.Close()
		return store.Result{}, err
	}
	if a.refused() {
		c.Close()
	} else {
		n.fwd.put(id, addr, c)
	}
	res, err := a.result(id)
	switch {
	case a.Index > 0 && readBack:
		n.appliedHere(a.Index, wait)
	case a.Index > 0:
		n.owe(a.Index, wait)
	}
	return res, err
}

// exchange sends one write on c and reads its answer.
func exchange(c net.Conn, id string, data []byte, wait time.Duration) (answer, error) {
	c.SetDeadline(time.Now().Add(max(wait, time.Second) + handshakeTimeout))
	if err := writeFrame(c, data); err != nil {
		// Not sent whole: the leader cannot have read a frame from it.
		return answer{}, errTryAgain
	}
	body, err := readFrame(c)
	if err != nil {
		// The write may have been made: the leader died or the answer
		// was lost. Saying so is all a follower can do.
		return answer{}, fmt.Errorf("%w (forwarded write to %s: no answer: %w)", ErrOutcomeUnknown, id, err)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return answer{}, fmt.Errorf("forwarded write to %s: %w", id, err)
	}
	c.SetDeadline(time.Time{})
	return a, nil
}

// appliedHere waits, up to wait, until this node has applied the entry at
// index (read-your-writes: the leader answered once it applied it there).
// A node slower than that answers all the same: the write is made. It
// wakes with this node's own applies (appliedMark), not by reading the
// file.
func (n *Node) appliedHere(index uint64, wait time.Duration) {
	began := time.Now()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	// A member stalls inside an apply (its model is not the cluster's),
	// so no apply tells: it is looked for now and then.
	stall := time.NewTicker(stallCheck)
	defer stall.Stop()
	for {
		if n.mach.Stalled() != "" {
			// It applies nothing until its config matches (and says so):
			// waiting would only hold the writer back.
			return
		}
		got, moved := n.applied.at()
		if got >= index {
			n.behind.Store(0)
			return
		}
		select {
		case <-moved:
		case <-stall.C:
		case <-deadline.C:
			// Owed from now on like a write not waited for: the mark
			// stays until this one is applied (owe, keepLevel).
			n.oweReadBack(index, began)
			return
		}
	}
}

// stallCheck is how often a wait for an apply looks whether this member
// stalled meanwhile.
const stallCheck = 50 * time.Millisecond

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
