package metrics

import (
	"bufio"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// A family written straight to the text exposition from its numbers.
// Gathered, each series of the per-check and per-component families was a
// constant metric, its protobuf copy and label pairs: 13 allocations and
// about 850 bytes a series, all alive until the last byte went out (8.6 MiB
// a scrape at 5,000 checks, the process's peak RSS every minute a
// Prometheus scraped it). Streamed, a scrape holds a copy of the numbers.
type streamed struct {
	name string
	// write writes the family (HELP, TYPE and its lines in the order
	// client_golang sorts them) or nothing when it has no series.
	write func(*bufio.Writer)
}

// textPath is what Handler needs beside the full registry: the registry
// without the streamed families, and gzip writers kept between scrapes (a
// compressor is 800 KB to make).
type textPath struct {
	rest *prometheus.Registry
	gz   sync.Pool
}

// register adds collectors to the registry and to the one the text
// exposition gathers beside its streamed families.
func (m *Metrics) register(cs ...prometheus.Collector) {
	m.Registry.MustRegister(cs...)
	m.expo.rest.MustRegister(cs...)
}

// streamed are the families the text exposition writes itself, by name.
// The checks' two families are written from one copy of their numbers.
func (m *Metrics) streamed() []streamed {
	var runs []namedRun
	copied := func() []namedRun {
		if runs == nil {
			runs = m.runs.copied()
		}
		return runs
	}
	return []streamed{
		{"outpost_component_status", m.component.writeText},
		{"outpost_probe_last_duration_seconds", func(w *bufio.Writer) { m.runs.writeLast(w, copied()) }},
		{"outpost_probe_runs_total", func(w *bufio.Writer) { m.runs.writeRuns(w, copied()) }},
	}
}

// Handler serves /metrics. The text format (Prometheus's default, and
// curl's) is written family by family in name order, the streamed ones
// among the gathered, byte for byte what promhttp writes over the whole
// registry (TestStreamedExpositionIsPromhttps). Another format, or a
// collector's error, is promhttp's over the whole registry, as it was.
func (m *Metrics) Handler(errorLog promhttp.Logger) http.Handler {
	full := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorLog: errorLog})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.Negotiate(r.Header)
		if format.FormatType() != expfmt.TypeTextPlain {
			full.ServeHTTP(w, r)
			return
		}
		coding := negotiateCoding(r)
		if coding == "" {
			full.ServeHTTP(w, r) // promhttp's answer to a refusal of every coding it offers
			return
		}
		mfs, err := m.expo.rest.Gather()
		if err != nil {
			full.ServeHTTP(w, r) // its error answer and log line
			return
		}
		w.Header().Set("Content-Type", string(format))
		out := io.Writer(w)
		if coding == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			gz, _ := m.expo.gz.Get().(*gzip.Writer)
			if gz == nil {
				gz = gzip.NewWriter(w)
			}
			gz.Reset(w)
			defer func() { _ = gz.Close(); m.expo.gz.Put(gz) }()
			out = gz
		}
		bw := bufio.NewWriterSize(out, 16<<10)
		enc := expfmt.NewEncoder(bw, format)
		rest := m.streamed()
		for _, mf := range mfs {
			for ; len(rest) > 0 && rest[0].name < mf.GetName(); rest = rest[1:] {
				rest[0].write(bw)
			}
			if err := enc.Encode(mf); err != nil {
				return // the peer went away
			}
		}
		for _, s := range rest {
			s.write(bw)
		}
		_ = bw.Flush()
	})
}

// textFamily writes one family's lines in the text format, its HELP and
// TYPE before the first.
type textFamily struct {
	w          *bufio.Writer
	name, help string
	kind       string // counter, gauge
	started    bool
}

// line writes one series: labels are name, value pairs in name order.
func (f *textFamily) line(v float64, labels ...string) {
	if !f.started {
		f.started = true
		for _, s := range []string{"# HELP ", f.name, " "} {
			f.w.WriteString(s)
		}
		escaper.WriteString(f.w, f.help)
		for _, s := range []string{"\n# TYPE ", f.name, " ", f.kind, "\n"} {
			f.w.WriteString(s)
		}
	}
	f.w.WriteString(f.name)
	for i := 0; i+1 < len(labels); i += 2 {
		if i == 0 {
			f.w.WriteByte('{')
		} else {
			f.w.WriteByte(',')
		}
		f.w.WriteString(labels[i])
		f.w.WriteString(`="`)
		quotedEscaper.WriteString(f.w, labels[i+1])
		f.w.WriteByte('"')
	}
	if len(labels) > 0 {
		f.w.WriteByte('}')
	}
	f.w.WriteByte(' ')
	writeFloat(f.w, v)
	f.w.WriteByte('\n')
}

// The text format's escaping of HELP and of label values.
var (
	escaper       = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	quotedEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// writeFloat writes v as the text format does.
func writeFloat(w *bufio.Writer, v float64) {
	switch {
	case v == 1:
		w.WriteByte('1')
	case v == 0:
		w.WriteByte('0')
	case v == -1:
		w.WriteString("-1")
	case math.IsNaN(v):
		w.WriteString("NaN")
	case math.IsInf(v, +1):
		w.WriteString("+Inf")
	case math.IsInf(v, -1):
		w.WriteString("-Inf")
	default:
		w.Write(strconv.AppendFloat(w.AvailableBuffer(), v, 'g', -1, 64))
	}
}
