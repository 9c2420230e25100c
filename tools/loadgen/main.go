// faultline-load drives an experiment's load with vegeta's attack library: a weighted mix of
// named requests, a share of cache-busting ones, and a rate that follows stages (linear ramps
// and holds). vegeta's command line paces at one constant rate only; its library takes any
// Pacer, which is what stages need, in one process with one connection pool.
//
// The plan comes as JSON on stdin; each result goes to stdout as one JSON line. SIGINT stops
// sending; requests in flight still report, then the process exits.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Plan is what the TypeScript driver sends (src/steady-state/vegeta.ts, loadgenPlan).
type Plan struct {
	Stages         []Stage   `json:"stages"`
	MaxDurationMs  int64     `json:"maxDurationMs"`
	TimeoutMs      int64     `json:"timeoutMs"`
	KeepAlive      bool      `json:"keepAlive"`
	MaxConnections int       `json:"maxConnections"`
	HTTP2          bool      `json:"http2"`
	CAFile         string    `json:"caFile"`
	MaxWorkers     uint64    `json:"maxWorkers"`
	Requests       []Request `json:"requests"`
	CacheBust      float64   `json:"cacheBust"`
	Seed           int64     `json:"seed"`
}

// Result is one request's outcome, in the fields the driver reads.
type Result struct {
	Timestamp time.Time `json:"timestamp"`
	Latency   int64     `json:"latency"`
	Code      uint16    `json:"code"`
	Error     string    `json:"error"`
	Edge      string    `json:"edge,omitempty"`
	Cache     string    `json:"cache,omitempty"`
	Request   string    `json:"request"`
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println("faultline-load on vegeta", vegetaVersion())
		return
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "faultline-load:", err)
		os.Exit(2)
	}
}

// vegetaVersion is the version of vegeta's library this binary was built with (go.mod pins it).
func vegetaVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/tsenart/vegeta/v12" {
				return dep.Version
			}
		}
	}
	return "unknown"
}

func run(in io.Reader, out io.Writer) error {
	var plan Plan
	if err := json.NewDecoder(in).Decode(&plan); err != nil {
		return fmt.Errorf("reading the plan: %w", err)
	}
	mix, err := newMix(plan.Requests, plan.CacheBust, plan.Seed)
	if err != nil {
		return err
	}
	attacker, err := newAttacker(plan)
	if err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		attacker.Stop()
	}()
	maxDuration := time.Duration(plan.MaxDurationMs) * time.Millisecond
	pacer := newStagePacer(plan.Stages, maxDuration)
	results := attacker.Attack(mix.next, pacer, maxDuration, "")
	return write(results, mix, out)
}

func write(results <-chan *vegeta.Result, mix *mix, out io.Writer) error {
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	for res := range results {
		r := Result{
			Timestamp: res.Timestamp,
			Latency:   res.Latency.Nanoseconds(),
			Code:      res.Code,
			Error:     res.Error,
			Edge:      res.Headers.Get("X-Edge"),
			Cache:     res.Headers.Get("X-Cache"),
			Request:   mix.nameOf(res.Method, res.URL),
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
		// Results stream to the run as they come: the run judges windows while the load goes on.
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return w.Flush()
}
