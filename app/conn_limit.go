package main

import (
	"net"
	"sync"

	"golang.org/x/net/netutil"
)

// limitConnections caps the connections served at once at max, and sheds
// idle keep-alive connections when the cap is reached.
//
// The cap is netutil.LimitListener: past it the server stops accepting, so
// new connections wait in the kernel's accept queue at no cost to the
// process (and are refused by the kernel once that queue is full). Alone,
// it would let idle keep-alive clients hold every slot until IDLE_TIMEOUT,
// while new clients and the kubelet's probes wait. So when the count reaches
// the cap, keep-alive is switched off (http.Server.SetKeepAlivesEnabled(false)
// also closes the idle connections), freeing their slots for the waiting
// ones; it is switched back on once the count is a tenth below the cap.
// nginx does the same when it runs out of connections: it closes its idle
// keep-alive ones first (ngx_drain_connections).
func limitConnections(ln net.Listener, max int, setKeepAlives func(bool)) net.Listener {
	return &sheddingListener{
		Listener:      netutil.LimitListener(ln, max),
		high:          max,
		low:           max - (max+9)/10,
		setKeepAlives: setKeepAlives,
	}
}

type sheddingListener struct {
	net.Listener
	high, low     int
	setKeepAlives func(bool)

	mu       sync.Mutex
	open     int
	shedding bool

	// applying serialises calls to setKeepAlives, each of which applies
	// the state as it is then, so the last call always leaves it right.
	applying sync.Mutex
}

func (l *sheddingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	changed := !l.shedding && l.open >= l.high
	if changed {
		l.shedding = true
	}
	l.mu.Unlock()
	if changed {
		// In a goroutine: closing the idle connections calls their Close,
		// which takes l.mu and may itself start an apply.
		go l.apply()
	}
	return &countedConn{Conn: c, closed: l.closed}, nil
}

func (l *sheddingListener) closed() {
	l.mu.Lock()
	l.open--
	changed := l.shedding && l.open <= l.low
	if changed {
		l.shedding = false
	}
	l.mu.Unlock()
	if changed {
		go l.apply()
	}
}

func (l *sheddingListener) apply() {
	l.applying.Lock()
	defer l.applying.Unlock()
	l.mu.Lock()
	keepAlives := !l.shedding
	l.mu.Unlock()
	l.setKeepAlives(keepAlives)
}

// countedConn reports its first Close to the listener (net/http may close a
// connection more than once).
type countedConn struct {
	net.Conn
	once   sync.Once
	closed func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.closed)
	return err
}
