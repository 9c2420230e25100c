package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func newAttacker(plan Plan) (*vegeta.Attacker, error) {
	tlsConfig := &tls.Config{}
	if plan.CAFile != "" {
		pem, err := os.ReadFile(plan.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in the CA file %s", plan.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	options := []func(*vegeta.Attacker){
		vegeta.Timeout(time.Duration(plan.TimeoutMs) * time.Millisecond),
		vegeta.TLSConfig(tlsConfig),
		vegeta.MaxWorkers(plan.MaxWorkers),
		vegeta.KeepAlive(plan.KeepAlive),
		vegeta.MaxBody(0),
		// The load stays on the entry point: a redirect is a result, never followed elsewhere.
		vegeta.Redirects(vegeta.NoFollow),
	}
	if plan.MaxConnections > 0 {
		options = append(options, vegeta.MaxConnections(plan.MaxConnections), vegeta.Connections(plan.MaxConnections))
	}
	// Last: HTTP/2 is configured on the transport as the options above left it (its TLS config).
	options = append(options, vegeta.HTTP2(plan.HTTP2))
	return vegeta.NewAttacker(options...), nil
}
