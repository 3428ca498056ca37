// The Go peer of examples/tcp_hello.c: a goroutine per connection reads
// up to 1 KiB and writes a fixed "Hello, World!" HTTP response, until EOF.
// Prints "listening on http://HOST:PORT" once ready.
//
//	go build -o /tmp/go-tcp-hello . && GOMAXPROCS=2 /tmp/go-tcp-hello --port 0
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
)

const response = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/plain\r\n" +
	"Content-Length: 13\r\n" +
	"\r\n" +
	"Hello, World!"

func handle(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 1024)
	resp := []byte(response)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8080, "port (0: any free port)")
	flag.Parse()
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, fmt.Sprint(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go handle(c)
	}
}
