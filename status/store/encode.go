package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/outpost-status/outpost/probes"
)

// Raw results are stored compactly: outcome, reason code, latency in µs
// (uvarint) and, for failures only, the operator message. Successful runs
// are a few bytes.

var reasonCodes = []probes.Reason{probes.ReasonOK, probes.ReasonTimeout, probes.ReasonConnectionRefused,
	probes.ReasonConnectionError, probes.ReasonDNSError, probes.ReasonTLSError, probes.ReasonCertExpiring,
	probes.ReasonCertExpired, probes.ReasonStatusMismatch, probes.ReasonBodyMismatch, probes.ReasonSlow,
	probes.ReasonBannerMismatch, probes.ReasonRcodeMismatch, probes.ReasonAnswerMismatch,
	probes.ReasonMissedHeartbeat, probes.ReasonReportedFailure, probes.ReasonInternal,
	// Stored codes are positions: new reasons are appended, never inserted.
	probes.ReasonPacketLoss, probes.ReasonNotServing, probes.ReasonServiceUnknown, probes.ReasonDomainExpiring,
	probes.ReasonDomainExpired, probes.ReasonBodyTooLarge}

// internalCode is internal_error's code, for reasons this version does not
// know.
const internalCode = 16

func reasonCode(r probes.Reason) byte {
	for i, x := range reasonCodes {
		if x == r {
			return byte(i)
		}
	}
	return internalCode
}

func encodeResult(r probes.Result) []byte {
	b := make([]byte, 2, 2+binary.MaxVarintLen64+len(r.Message))
	b[0], b[1] = byte(r.Outcome), reasonCode(r.Reason)
	b = binary.AppendUvarint(b, uint64(max(r.Latency.Microseconds(), 0)))
	if r.Outcome != probes.Up {
		b = append(b, r.Message...)
	}
	return b
}

func decodeResult(b []byte) (probes.Result, error) {
	if len(b) < 3 || int(b[1]) >= len(reasonCodes) {
		return probes.Result{}, fmt.Errorf("corrupt result record (%d bytes)", len(b))
	}
	lat, n := binary.Uvarint(b[2:])
	if n <= 0 {
		return probes.Result{}, fmt.Errorf("corrupt result latency")
	}
	return probes.Result{Outcome: probes.Outcome(b[0]), Reason: reasonCodes[b[1]],
		Latency: time.Duration(lat) * time.Microsecond, Message: string(b[2+n:])}, nil
}

// histBuckets are log2 latency buckets: <1ms, <2ms, <4ms … ≥16.4s.
const histBuckets = 16

// CheckRollup aggregates a check's runs over an hour or a day.
type CheckRollup struct {
	Start    time.Time
	Runs     uint32
	Down     uint32
	Degraded uint32
	LatSum   uint64 // µs
	LatMin   uint32 // µs
	LatMax   uint32 // µs
	Hist     [histBuckets]uint32
}

const checkRollupSize = 4*3 + 8 + 4*2 + 4*histBuckets

func (r *CheckRollup) add(res probes.Result) {
	us := uint32(min(max(res.Latency.Microseconds(), 0), math.MaxUint32))
	if r.Runs == 0 || us < r.LatMin {
		r.LatMin = us
	}
	r.LatMax = max(r.LatMax, us)
	r.Runs++
	switch res.Outcome {
	case probes.Down:
		r.Down++
	case probes.Degraded:
		r.Degraded++
	}
	r.LatSum += uint64(us)
	r.Hist[histBucket(us)]++
}

// merge adds o's runs to r, as adding each of them would.
func (r *CheckRollup) merge(o CheckRollup) {
	if o.Runs == 0 {
		return
	}
	if r.Runs == 0 || o.LatMin < r.LatMin {
		r.LatMin = o.LatMin
	}
	r.LatMax = max(r.LatMax, o.LatMax)
	r.Runs += o.Runs
	r.Down += o.Down
	r.Degraded += o.Degraded
	r.LatSum += o.LatSum
	for i, n := range o.Hist {
		r.Hist[i] += n
	}
}

func histBucket(us uint32) int {
	ms := us / 1000
	if ms == 0 {
		return 0
	}
	return min(bits.Len32(ms), histBuckets-1)
}

// Avg is the mean latency.
func (r CheckRollup) Avg() time.Duration {
	if r.Runs == 0 {
		return 0
	}
	return time.Duration(r.LatSum/uint64(r.Runs)) * time.Microsecond
}

// P95 estimates the 95th percentile latency as the upper edge of the
// histogram bucket holding it, capped by the maximum seen.
func (r CheckRollup) P95() time.Duration {
	if r.Runs == 0 {
		return 0
	}
	need := uint32(math.Ceil(float64(r.Runs) * 0.95))
	var acc uint32
	for i, n := range r.Hist {
		acc += n
		if acc >= need {
			edge := uint32(1) << i * 1000 // upper edge in µs
			return time.Duration(min(edge, r.LatMax)) * time.Microsecond
		}
	}
	return time.Duration(r.LatMax) * time.Microsecond
}

// Uptime is the share of runs that were not down.
func (r CheckRollup) Uptime() float64 {
	if r.Runs == 0 {
		return -1
	}
	return 1 - float64(r.Down)/float64(r.Runs)
}

func (r *CheckRollup) encode() []byte {
	b := make([]byte, 0, checkRollupSize)
	b = binary.BigEndian.AppendUint32(b, r.Runs)
	b = binary.BigEndian.AppendUint32(b, r.Down)
	b = binary.BigEndian.AppendUint32(b, r.Degraded)
	b = binary.BigEndian.AppendUint64(b, r.LatSum)
	b = binary.BigEndian.AppendUint32(b, r.LatMin)
	b = binary.BigEndian.AppendUint32(b, r.LatMax)
	for _, h := range r.Hist {
		b = binary.BigEndian.AppendUint32(b, h)
	}
	return b
}

func decodeCheckRollup(start time.Time, b []byte) (CheckRollup, error) {
	if len(b) != checkRollupSize {
		return CheckRollup{}, fmt.Errorf("corrupt check roll-up (%d bytes)", len(b))
	}
	u32 := func(i int) uint32 { return binary.BigEndian.Uint32(b[i:]) }
	r := CheckRollup{Start: start, Runs: u32(0), Down: u32(4), Degraded: u32(8),
		LatSum: binary.BigEndian.Uint64(b[12:]), LatMin: u32(20), LatMax: u32(24)}
	for i := range r.Hist {
		r.Hist[i] = u32(28 + 4*i)
	}
	return r, nil
}
