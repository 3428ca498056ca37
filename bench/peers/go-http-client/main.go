// The Go peer of bench/http_client.c: net/http's client under load, CONNS
// goroutines each a loop of GETs for SECONDS, sharing one client whose
// transport keeps CONNS idle connections to the host (the default, 2,
// would open a connection for most requests).
//
//	go build -o /tmp/go-http-client . && GOMAXPROCS=2 /tmp/go-http-client --url http://127.0.0.1:8080/
//
// Prints `client_req_per_s X req/s` and `client_errors N`.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "the URL to GET")
	conns := flag.Int("connections", 64, "concurrent requests")
	seconds := flag.Float64("seconds", 10, "how long")
	flag.Parse()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = *conns
	tr.MaxIdleConnsPerHost = *conns
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var done, errors int64
	var wg sync.WaitGroup
	start := time.Now()
	until := start.Add(time.Duration(*seconds * float64(time.Second)))
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(until) {
				resp, err := client.Get(*url)
				if err != nil {
					atomic.AddInt64(&errors, 1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					atomic.AddInt64(&errors, 1)
				} else {
					atomic.AddInt64(&done, 1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	fmt.Printf("client_req_per_s %.0f req/s\n", float64(done)/elapsed)
	fmt.Printf("client_errors %d\n", errors)
}
