package main

import (
	"encoding/base64"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Request is one named entry of the mix.
type Request struct {
	Name    string              `json:"name"`
	Method  string              `json:"method"`
	URL     string              `json:"url"`
	Headers map[string][]string `json:"headers"`
	// Body is base64, so that any bytes pass through JSON.
	Body   string  `json:"body"`
	Weight float64 `json:"weight"`
}

// BustParam is the query parameter that makes a cache-busting request's URL unique.
const BustParam = "faultline-bust"

type entry struct {
	name   string
	method string
	url    string
	header http.Header
	body   []byte
	// cumulative weight up to and including this entry
	upTo float64
}

// mix picks each request by weight, and a share of them with a unique query (a cache miss).
type mix struct {
	mu      sync.Mutex
	rng     *rand.Rand
	entries []entry
	total   float64
	bust    float64
	busted  uint64
	// names by method and URL as written; a busted request's URL is unique, kept until its result.
	names    map[string]string
	inFlight sync.Map
}

func newMix(requests []Request, bust float64, seed int64) (*mix, error) {
	m := &mix{rng: rand.New(rand.NewSource(seed)), bust: bust, names: map[string]string{}}
	for _, r := range requests {
		body, err := base64.StdEncoding.DecodeString(r.Body)
		if err != nil {
			return nil, fmt.Errorf("request %s: body is not base64: %w", r.Name, err)
		}
		if _, err := url.Parse(r.URL); err != nil {
			return nil, fmt.Errorf("request %s: %w", r.Name, err)
		}
		m.total += r.Weight
		m.entries = append(m.entries, entry{r.Name, r.Method, r.URL, http.Header(r.Headers), body, m.total})
		m.names[r.Method+" "+r.URL] = r.Name
	}
	if len(m.entries) == 0 || m.total <= 0 {
		return nil, fmt.Errorf("the mix has no request with a weight above 0")
	}
	return m, nil
}

// next is the attack's Targeter: called once for every request sent.
func (m *mix) next(t *vegeta.Target) error {
	m.mu.Lock()
	pick := m.rng.Float64() * m.total
	busted := m.bust > 0 && m.rng.Float64() < m.bust
	if busted {
		m.busted++
	}
	n := m.busted
	m.mu.Unlock()
	e := m.entries[len(m.entries)-1]
	for _, candidate := range m.entries {
		if pick < candidate.upTo {
			e = candidate
			break
		}
	}
	t.Method, t.URL, t.Header, t.Body = e.method, e.url, e.header.Clone(), e.body
	if busted {
		t.URL = withBust(e.url, n)
		m.inFlight.Store(t.Method+" "+t.URL, e.name)
	}
	return nil
}

// withBust appends the bust parameter to the URL as written (parsing and re-encoding the query
// would reorder it, and drop pairs Go's parser refuses).
func withBust(raw string, n uint64) string {
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + BustParam + "=" + strconv.FormatUint(n, 10)
}

// nameOf finds the request a result is for from its method and URL: an entry's URL as written
// (the schema refuses two entries with the same method and path), or a busted URL, unique.
func (m *mix) nameOf(method, raw string) string {
	if name, ok := m.names[method+" "+raw]; ok {
		return name
	}
	if name, ok := m.inFlight.LoadAndDelete(method + " " + raw); ok {
		return name.(string)
	}
	return ""
}
