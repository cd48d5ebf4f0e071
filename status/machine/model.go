package machine

import (
	"errors"
	"fmt"
)

// A cluster's members must judge inputs under one model (store/model.go).
// Inputs stamped with another model than the one in force are refused by
// the store, alike on every member, before any engine sees them. A member
// whose own model differs from the one in force applies no inputs: it
// waits (Stalled says why) until a reload gives it the cluster's model,
// and then goes on from where it stopped, so its state never leaves the
// others'.

// ErrClosed: the machine was closed while an applier waited.
var ErrClosed = errors.New("machine closed")

// awaitModel returns once this member's model is the one in force (or
// none is), waiting across reloads while it differs.
func (m *Machine) awaitModel() error {
	for {
		cur, err := m.st.Model()
		if err != nil {
			return err
		}
		m.mu.Lock()
		own, changed := m.own, m.modelSet
		m.mu.Unlock()
		if cur == "" || cur == own {
			if m.stalled.Swap(nil) != nil {
				m.log.Info("this node's model is the cluster's again: applying")
			}
			return nil
		}
		why := fmt.Sprintf("this node's checks or components differ from the cluster's (model %s, the cluster's is %s): it applies nothing until its config matches", own, cur)
		if m.stalled.Swap(&why) == nil {
			m.log.Error(why)
		}
		select {
		case <-changed:
		case <-m.closed:
			return ErrClosed
		}
	}
}

// Stalled says why this member applies no entries ("" while it applies).
func (m *Machine) Stalled() string {
	if p := m.stalled.Load(); p != nil {
		return *p
	}
	return ""
}

// Close ends any wait for a matching model; the machine applies nothing
// more through ApplyEncoded that would wait.
func (m *Machine) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.closed:
	default:
		close(m.closed)
	}
}
