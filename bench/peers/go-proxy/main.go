// The Go peer of examples/http_proxy.c: net/http/httputil.ReverseProxy in
// front of one backend, standard library only.
//
//	go build -o /tmp/go-proxy . && GOMAXPROCS=2 /tmp/go-proxy --backend http://127.0.0.1:8080 --port 0
//
// Flags: --host 127.0.0.1, --port 8081 (0: any free port), --backend (the
// backend's base URL). Prints "listening on http://HOST:PORT" once ready;
// SIGINT/SIGTERM stop it. The transport keeps up to 256 idle connections
// to the backend (http_proxy's pool keeps as many), as the default of 2
// would make most requests open a new one.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8081, "port (0: any free port)")
	backend := flag.String("backend", "", "backend base URL, http://HOST:PORT")
	flag.Parse()
	target, err := url.Parse(*backend)
	if err != nil || target.Scheme != "http" || target.Host == "" {
		log.Fatalf("go-proxy: --backend http://HOST:PORT")
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 256
	proxy.Transport = transport
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, fmt.Sprint(*port)))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
		<-stop
		ln.Close()
		os.Exit(0)
	}()
	http.Serve(ln, proxy)
}
