package main

import (
	"math"
	"time"
)

// Stage is one leg of the load: over DurationMs the rate goes linearly from From to To
// requests per second. A hold has From == To.
type Stage struct {
	DurationMs int64   `json:"durationMs"`
	From       float64 `json:"from"`
	To         float64 `json:"to"`
}

// stagePacer is a vegeta Pacer whose rate follows the stages; after the last stage it holds
// the last stage's To. vegeta's attack loop sends a hit after every wait Pace returns, so Pace
// returns the exact time to the next hit, and stops the attack when no hit is due before the
// limit (the attack's duration) or ever (a rate that stays at 0).
type stagePacer struct {
	stages []Stage
	limit  time.Duration
	// starts[i] is when stage i begins, and before[i] the hits due by then.
	starts []time.Duration
	before []float64
}

func newStagePacer(stages []Stage, limit time.Duration) *stagePacer {
	p := &stagePacer{stages: stages, limit: limit}
	var at time.Duration
	var due float64
	for _, s := range stages {
		p.starts = append(p.starts, at)
		p.before = append(p.before, due)
		d := time.Duration(s.DurationMs) * time.Millisecond
		due += (s.From + s.To) / 2 * d.Seconds()
		at += d
	}
	p.starts = append(p.starts, at)
	p.before = append(p.before, due)
	return p
}

// locate returns the stage that holds t, or len(stages) after the last one.
func (p *stagePacer) locate(t time.Duration) int {
	for i, s := range p.stages {
		if t < p.starts[i]+time.Duration(s.DurationMs)*time.Millisecond {
			return i
		}
	}
	return len(p.stages)
}

// Rate is the rate in requests per second at t.
func (p *stagePacer) Rate(t time.Duration) float64 {
	i := p.locate(t)
	if i == len(p.stages) {
		return p.holdRate()
	}
	s := p.stages[i]
	frac := float64(t-p.starts[i]) / float64(time.Duration(s.DurationMs)*time.Millisecond)
	return s.From + (s.To-s.From)*frac
}

func (p *stagePacer) holdRate() float64 {
	if len(p.stages) == 0 {
		return 0
	}
	return p.stages[len(p.stages)-1].To
}

// due is the number of hits the stages ask for by t: the integral of the rate.
func (p *stagePacer) due(t time.Duration) float64 {
	i := p.locate(t)
	into := (t - p.starts[i]).Seconds()
	from := p.holdRate()
	if i < len(p.stages) {
		from = p.stages[i].From
	}
	return p.before[i] + (from+p.Rate(t))/2*into
}

// timeOf is when the rate's integral reaches want; false when it never does.
func (p *stagePacer) timeOf(want float64) (time.Duration, bool) {
	for i, s := range p.stages {
		if p.before[i+1] < want {
			continue
		}
		lo, hi := p.starts[i], p.starts[i]+time.Duration(s.DurationMs)*time.Millisecond
		for hi-lo > time.Microsecond {
			mid := lo + (hi-lo)/2
			if p.due(mid) >= want {
				hi = mid
			} else {
				lo = mid
			}
		}
		return hi, true
	}
	n := len(p.stages)
	if p.holdRate() <= 0 {
		return 0, false
	}
	seconds := (want - p.before[n]) / p.holdRate()
	return p.starts[n] + time.Duration(seconds*float64(time.Second)), true
}

// Pace tells the attack how long to wait before its next hit: none while it is behind, else
// until the rate's integral reaches one more hit; it stops the attack when that is never, or
// after the limit.
func (p *stagePacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	want := float64(hits) + 1
	if p.due(elapsed) >= want {
		return 0, false
	}
	at, ok := p.timeOf(want)
	if !ok || (p.limit > 0 && at > p.limit) {
		return 0, true
	}
	return time.Duration(math.Max(float64(at-elapsed), 0)), false
}
